"""Perceptual path length (Karras et al., 2019, "A Style-Based Generator Architecture for
Generative Adversarial Networks", §3.2), in W or Z with end-point sampling, and the same measure
along a morph.

PPL in W: for seed pair i, z_a = ``seed_to_z(2i)``, z_b = ``seed_to_z(2i + 1)``, w = mapping(z)
at ψ = 1; the images at t = 0 and t = ε = 1e-4 along lerp(w_a, w_b, t) (every W+ layer,
rendered without noise inputs as the app renders, ``session.RENDER_NOISE_MODE``) give
LPIPS(G(w(0)), G(w(ε))) / ε². PPL in Z is the same along slerp(z_a, z_b, t) through the whole
generator, so it also applies to generators without W (DCGAN). Images stay in float
at the generator's resolution (no uint8 quantization: ε-sized changes would vanish). Samples
below the 1st or above the 99th percentile are discarded before averaging, as in the reference
implementation. LPIPS: VGG16 v0.1, the network StyleGAN uses.

Along a morph: consecutive frames of the morph's W+ path at evenly spaced times give
LPIPS / Δt² with Δt = 1 / (F − 1).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from explorer.errors import UserError
from explorer.latent import broadcast, lerp, seed_to_z, slerp
from explorer.metrics.lpips import load_lpips
from explorer.metrics.sources import GeneratedImages, ImageSource, LatentImages
from explorer.nets.lpips import LPIPS
from explorer.nets.stylegan import Generator
from explorer.session import RENDER_NOISE_MODE

EPSILON = 1e-4
NET = "vgg"


def path_lengths(G: nn.Module, lpips: LPIPS, num: int, space: str = "w", epsilon: float = EPSILON,
                 batch: int = 16) -> np.ndarray:
    """Unfiltered PPL samples LPIPS(G(0), G(ε)) / ε² for seed pairs 0..num−1 → float64 [num].

    Args:
        G: a StyleGAN2 ``Generator`` (space "w" or "z"), or any z [N, z_dim] → image [N, 3, R, R]
            module with ``cfg.z_dim`` and the same call (space "z" only), on ``lpips``'s device.
        space: "w" (lerp of w) or "z" (slerp of z).

    Raises:
        ValueError: an unknown space, or "w" for a generator without a mapping network.
    """
    if space not in ("w", "z") or (space == "w" and not isinstance(G, Generator)):
        raise ValueError(f"PPL in {space!r} needs a StyleGAN2 generator and space 'w' or 'z'")
    device = next(G.parameters()).device
    out = []
    with torch.inference_mode():
        for start in range(0, num, batch):
            pairs = range(start, min(num, start + batch))
            z = torch.cat([seed_to_z(s, G.cfg.z_dim) for i in pairs for s in (2 * i, 2 * i + 1)]).to(device)
            if space == "w":
                w = G.mapping(z)
                w0, w1 = w[0::2], w[1::2]
                ws = broadcast(torch.cat([w0, lerp(w0, w1, epsilon)]), G.num_ws)
                images = G.synthesis(ws, noise_mode=RENDER_NOISE_MODE)
            else:
                z0, z1 = z[0::2], z[1::2]
                images = G(torch.cat([z0, slerp(z0, z1, epsilon)]), noise_mode=RENDER_NOISE_MODE)
            n = len(pairs)
            out.append((lpips(images[:n], images[n:]) / epsilon ** 2).double().cpu())
    return torch.cat(out).numpy()


def filtered_mean(samples: np.ndarray) -> float:
    """Mean of the samples between the 1st ('lower') and 99th ('higher') percentile, inclusive."""
    lo = np.percentile(samples, 1, method="lower")
    hi = np.percentile(samples, 99, method="higher")
    return float(samples[(samples >= lo) & (samples <= hi)].mean())


def morph_path_lengths(G: Generator, lpips: LPIPS, path: torch.Tensor, batch: int = 16) -> np.ndarray:
    """LPIPS / Δt² between consecutive frames of a morph, Δt = 1 / (F − 1).

    Args:
        path: the morph's W+ per frame [F, num_ws, w_dim], F ≥ 2, at evenly spaced times
            (``explorer.morph.path_ws``).

    Returns:
        float64 [F − 1]; their mean is the morph's PPL, their spread shows where it jumps.

    Raises:
        ValueError: fewer than 2 frames.
    """
    frames = len(path)
    if frames < 2:
        raise ValueError(f"a morph needs at least 2 frames, got {frames}")
    device = next(G.parameters()).device
    steps = []
    with torch.inference_mode():
        images = torch.cat([G.synthesis(path[i:i + batch].to(device), noise_mode=RENDER_NOISE_MODE)
                            for i in range(0, frames, batch)])
        for i in range(0, frames - 1, batch):
            j = min(i + batch, frames - 1)
            steps.append(lpips(images[i:j], images[i + 1:j + 1]) * (frames - 1) ** 2)
    return torch.cat(steps).double().cpu().numpy()


def ppl_metric(real: ImageSource | None, fake: ImageSource, num: int, resolution: int, device,
               space: str | None = None) -> list[dict]:
    """PPL of the --fake generator, end-point sampling → [{"metric": "ppl", "value", "space", ...}]
    (``real`` and ``resolution`` are not used: PPL measures the generator alone, at its resolution).

    ``space``: "w" or "z"; by default W for a StyleGAN2 weights folder, Z for a generator without W.

    Raises:
        UserError: --fake is not a generator, W asked of a generator without it, or the VGG16
            LPIPS weights are missing.
    """
    if isinstance(fake, GeneratedImages):
        G, space = fake.bundle.generator, space or "w"
    elif isinstance(fake, LatentImages):
        G, space = fake.generator, space or "z"
        if space == "w":
            raise UserError(f"{fake.path}: this generator has no W space; PPL in Z only")
    else:
        raise UserError(f"{fake.path}: ppl measures a generator; give a weights folder as --fake")
    lpips = load_lpips(NET, next(G.parameters()).device)
    samples = path_lengths(G, lpips, num, space)
    res = fake.native_resolution
    path = "lerp of w" if space == "w" else "slerp of z"
    return [{"metric": "ppl", "value": filtered_mean(samples), "num": num, "space": space,
             "reference": f"{fake.path.name}: {space.upper()} ({path}), end-point sampling, eps={EPSILON:g}, seed pairs "
                          f"(2i, 2i+1) for i < {num}, psi=1, {res}x{res} float images, LPIPS v0.1 VGG16, "
                          f"1st-99th percentile kept"}]


def morph_ppl(G: Generator, lpips: LPIPS, path: torch.Tensor) -> dict:
    """The PPL record of a morph: its frames' W+ [F, num_ws, w_dim] (evenly spaced in the video's time),
    measured with ``lpips`` (``load_lpips(NET)``, loaded by the caller before it renders anything) →
    {"metric": "morph_ppl", "value": mean LPIPS / Δt², "max_over_mean": the largest step over the
    mean (1 for an evenly paced morph; a jump shows as a large ratio), "frames": F, "reference"}.

    Raises:
        ValueError: fewer than 2 frames.
    """
    steps = morph_path_lengths(G, lpips, path)
    mean = float(steps.mean())
    return {"metric": "morph_ppl", "value": mean, "max_over_mean": float(steps.max() / mean) if mean > 0 else 1.0,
            "frames": len(path), "reference": f"consecutive frames, LPIPS v0.1 VGG16 / dt^2, dt = 1/{len(path) - 1}"}
