"""Projection: refine a W+ code by optimization so that its image matches a photo.

Starts from the encoder's W+ (so a few dozen steps suffice, as in e4e + optimization and
Karras et al., 2020 §5 projection) and minimizes LPIPS-AlexNet + mean squared error between
synthesis(W+) and the photo, with Adam on W+ and the noise inputs left off (the app renders
without them).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from explorer.metrics.lpips import load_lpips
from explorer.session import RENDER_NOISE_MODE
from explorer.weights import ModelBundle


def refine_ws(bundle: ModelBundle, target: torch.Tensor, ws: torch.Tensor, steps: int, *,
              lr: float = 0.01, mse_weight: float = 1.0,
              on_step: Callable[[int, float], bool] | None = None) -> torch.Tensor:
    """Optimize W+ for ``steps`` Adam steps towards ``target``.

    Args:
        bundle: the generator (frozen; gradients flow to W+ only).
        target: the aligned photo, float32 [1, 3, R, R] in [-1, 1].
        ws: the starting W+ [1, num_ws, w_dim] (the encoder's output).
        steps: number of steps, ≥ 0.
        lr: Adam learning rate in units of w (w's per-axis σ is about 0.5 for the shipped model).
        on_step: called as ``on_step(step, loss)`` after each step; returning False stops early
            (the GUI's cancel).

    Returns:
        The refined W+ [1, num_ws, w_dim], detached, on the bundle's device.

    Raises:
        ValueError: negative ``steps``.
    """
    if steps < 0:
        raise ValueError(f"steps must be ≥ 0, got {steps}")
    G = bundle.generator
    lpips = load_lpips("alex", bundle.device)
    target = target.to(bundle.device)
    ws = ws.detach().clone().to(bundle.device).requires_grad_(True)
    opt = torch.optim.Adam([ws], lr=lr, betas=(0.9, 0.999))
    for step in range(1, steps + 1):
        image = G.synthesis(ws, noise_mode=RENDER_NOISE_MODE)
        loss = lpips(image, target).mean() + mse_weight * (image - target).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if on_step is not None and on_step(step, loss.item()) is False:
            break
    return ws.detach()
