"""Perceptual path length (Karras et al., 2019, "A Style-Based Generator Architecture for
Generative Adversarial Networks", §3.2), in W with end-point sampling, and the same measure
along a morph.

PPL in W: for seed pair i, z_a = ``seed_to_z(2i)``, z_b = ``seed_to_z(2i + 1)``, w = mapping(z)
at ψ = 1; the images at t = 0 and t = ε = 1e-4 along lerp(w_a, w_b, t) (every W+ layer, constant
noise) give LPIPS(G(w(0)), G(w(ε))) / ε². Images stay in float at the generator's resolution
(no uint8 quantization: ε-sized changes would vanish). Samples below the 1st or above the 99th
percentile are discarded before averaging, as in the reference implementation. LPIPS: VGG16
v0.1, the network StyleGAN uses.

Along a morph: the frames of lerp(ws_a, ws_b, t) at F evenly spaced t; consecutive frames
give LPIPS / Δt² with Δt = 1 / (F − 1).
"""

from __future__ import annotations

import numpy as np
import torch

from explorer.errors import UserError
from explorer.latent import broadcast, lerp, seed_to_z
from explorer.metrics.lpips import load_lpips
from explorer.metrics.sources import GeneratedImages, ImageSource
from explorer.nets.lpips import LPIPS
from explorer.nets.stylegan import Generator
from explorer.session import RENDER_NOISE_MODE

EPSILON = 1e-4
NET = "vgg"


def path_lengths(G: Generator, lpips: LPIPS, num: int, epsilon: float = EPSILON, batch: int = 16) -> np.ndarray:
    """Unfiltered PPL samples LPIPS(G(w(0)), G(w(ε))) / ε² for seed pairs 0..num−1 → float64 [num].

    ``G`` and ``lpips`` must be on one device.
    """
    device = next(G.parameters()).device
    out = []
    with torch.inference_mode():
        for start in range(0, num, batch):
            pairs = range(start, min(num, start + batch))
            z = torch.cat([seed_to_z(s, G.cfg.z_dim) for i in pairs for s in (2 * i, 2 * i + 1)]).to(device)
            w = G.mapping(z)
            w0, w1 = w[0::2], w[1::2]
            ws = broadcast(torch.cat([w0, lerp(w0, w1, epsilon)]), G.num_ws)
            images = G.synthesis(ws, noise_mode=RENDER_NOISE_MODE)
            n = len(pairs)
            out.append((lpips(images[:n], images[n:]) / epsilon ** 2).double().cpu())
    return torch.cat(out).numpy()


def filtered_mean(samples: np.ndarray) -> float:
    """Mean of the samples between the 1st ('lower') and 99th ('higher') percentile, inclusive."""
    lo = np.percentile(samples, 1, method="lower")
    hi = np.percentile(samples, 99, method="higher")
    return float(samples[(samples >= lo) & (samples <= hi)].mean())


def morph_path_lengths(G: Generator, lpips: LPIPS, ws_a: torch.Tensor, ws_b: torch.Tensor, frames: int) -> np.ndarray:
    """LPIPS / Δt² between consecutive frames of the W+ lerp from ``ws_a`` to ``ws_b``.

    Args:
        ws_a, ws_b: W+ [1, num_ws, w_dim] (or [num_ws, w_dim]).
        frames: F ≥ 2 frames at t = 0, 1/(F−1), …, 1.

    Returns:
        float64 [F − 1]; their mean is the morph's PPL, their spread shows where it jumps.

    Raises:
        ValueError: fewer than 2 frames.
    """
    if frames < 2:
        raise ValueError(f"a morph needs at least 2 frames, got {frames}")
    device = next(G.parameters()).device
    a, b = (w.reshape(1, *w.shape[-2:]).to(device) for w in (ws_a, ws_b))
    t = torch.linspace(0, 1, frames, device=device).view(-1, 1, 1)
    with torch.inference_mode():
        images = G.synthesis(a.lerp(b, t), noise_mode=RENDER_NOISE_MODE)
        steps = lpips(images[:-1], images[1:]) * (frames - 1) ** 2
    return steps.double().cpu().numpy()


def ppl_metric(real: ImageSource | None, fake: ImageSource, num: int, resolution: int, device) -> list[dict]:
    """PPL of the --fake generator in W, end-point sampling → [{"metric": "ppl", "value", ...}]
    (``real`` and ``resolution`` are not used: PPL measures the generator alone, at its resolution).

    Raises:
        UserError: --fake is not a weights folder, or the VGG16 LPIPS weights are missing.
    """
    if not isinstance(fake, GeneratedImages):
        raise UserError(f"{fake.path}: ppl measures a generator; give a weights folder as --fake")
    lpips = load_lpips(NET, fake.bundle.device)
    samples = path_lengths(fake.bundle.generator, lpips, num)
    res = fake.native_resolution
    return [{"metric": "ppl", "value": filtered_mean(samples), "num": num,
             "reference": f"{fake.path.name}: W, end-point sampling, eps={EPSILON:g}, seed pairs (2i, 2i+1) for "
                          f"i < {num}, psi=1, {res}x{res} float images, LPIPS v0.1 VGG16, 1st-99th percentile kept"}]
