"""Pretrained LPIPS v0.1 (Zhang et al., 2018) and the paired ``lpips`` metric.

Weights: ``weights/lpips_alex.safetensors`` ships with the repository (float16, converted by
``explorer.metrics.lpips_convert``); VGG16 (~30 MB) is converted once into the cache on demand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from explorer.errors import UserError
from explorer.images import from_uint8
from explorer.metrics.lpips_convert import convert_command, default_out
from explorer.metrics.sources import ImageSource, pair
from explorer.netio import load_state, load_tensors, read_network_config
from explorer.nets.lpips import LPIPS, MIN_SIZE, NETS
from explorer.weights import DEFAULT_WEIGHTS

REFERENCE = "LPIPS v0.1 {net} (Zhang et al., 2018), mean over pairs"


def lpips_stem(net: str) -> Path:
    """Where ``net``'s weights are read from: the repository's weights/ first, then the cache."""
    bundled = DEFAULT_WEIGHTS / f"lpips_{net}"
    return bundled if bundled.with_suffix(".json").is_file() else default_out() / f"lpips_{net}"


def load_lpips(net: str = "alex", device: torch.device | str = "cpu") -> LPIPS:
    """The pretrained LPIPS v0.1 module (float32, eval mode, frozen) on ``device``.

    Forward: two float [N, 3, H, W] batches in [-1, 1] → float [N]; see ``explorer.nets.lpips.LPIPS``.

    Raises:
        UserError: an unknown net, or missing or broken weights (the message gives the
            command that converts them).
    """
    if net not in NETS:
        raise UserError(f"LPIPS net must be one of {', '.join(NETS)}, got {net!r}")
    stem = lpips_stem(net)
    if not stem.with_suffix(".json").is_file():
        raise UserError(f"{stem}.safetensors: LPIPS-{net} weights not found; convert them once with: "
                        f"{convert_command(net)}")
    config = read_network_config(stem, "lpips")
    if config.get("net") != net:
        raise UserError(f"{stem}.json: holds LPIPS-{config.get('net')}, expected {net}")
    model = LPIPS(net)
    load_state(model, load_tensors(stem.with_suffix(".safetensors")), stem.with_suffix(".safetensors"))
    return model.eval().requires_grad_(False).to(device)


def lpips_distances(model: LPIPS, a: np.ndarray, b: np.ndarray, batch: int = 32) -> np.ndarray:
    """LPIPS between uint8 image pairs ``a[i]``, ``b[i]`` ([N, H, W, 3] each) → float64 [N]."""
    device = next(model.parameters()).device
    out = []
    with torch.inference_mode():
        for i in range(0, len(a), batch):
            out.append(model(from_uint8(a[i:i + batch]).to(device), from_uint8(b[i:i + batch]).to(device)).cpu())
    return torch.cat(out).double().numpy() if out else np.zeros(0)


def lpips_metric(real: ImageSource, fake: ImageSource, num: int | None, resolution: int, device) -> list[dict]:
    """Mean LPIPS v0.1 AlexNet distance over images paired by name (``sources.pair``) →
    [{"metric": "lpips", "value", "num", "reference"}].

    Raises:
        UserError: no pairs, or a resolution below AlexNet's 32 px.
    """
    if resolution < MIN_SIZE["alex"]:
        raise UserError(f"lpips needs --resolution of at least {MIN_SIZE['alex']}, got {resolution}")
    ri, fi, _ = pair(real, fake, num)
    model = load_lpips("alex", device)
    dists = np.concatenate([lpips_distances(model, real.load(ri[s:s + 64], resolution),
                                            fake.load(fi[s:s + 64], resolution)) for s in range(0, len(ri), 64)])
    return [{"metric": "lpips", "value": float(dists.mean()), "num": len(ri),
             "reference": f"real: {real.describe(ri)}; fake: {fake.describe(fi)}; {resolution}x{resolution}; "
                          + REFERENCE.format(net="AlexNet")}]
