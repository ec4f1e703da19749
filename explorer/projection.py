"""Projection: refine a W+ code by optimization so that its image matches a photo.

Starts from the encoder's W+ (so a few hundred steps suffice, as in e4e + optimization) and
minimizes LPIPS-AlexNet + mean squared error between synthesis(W+) and the photo, with Adam on
W+ and the noise inputs left off (the app renders without them). The learning rate ramps up
over the first 5 % of the steps, as in the projector of Karras et al., 2020 (§5, Appendix D),
then decays on a cosine over all the rest (theirs holds the peak and decays over the last
25 % only), so that the later steps settle instead of wandering: with a few hundred steps from
the encoder's code there is little to search and much to settle. The photo's LPIPS features
are computed once.

Identity comes with steps: on held-out UTKFace photos at 64², 100 steps made 31 % of
reconstructions the same person by dlib, 300 steps 62 %. Comparing the images at 256² instead
(Karras et al. downsample to 256²; here that means upsampling) did as well in the same wall time
(65 % in 150 steps) but halves the steps per second at 128², so LPIPS compares them as they are.
W+ is left unregularised. Refined codes lie far outside the generator's W, and the faces show
blotches and doubled features, but so do the 64² generator's random faces at ψ = 1. A P_N-space
prior (Zhu et al., 2020), a single w, and e4e's Δ penalty all cost identity (80 % → 60 % or less)
without removing them (docs/BENCHMARKS.md, "Priors on W+ tried").
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from explorer.metrics.lpips import load_lpips
from explorer.session import RENDER_NOISE_MODE
from explorer.weights import ModelBundle

RAMP_UP = 0.05


def learning_rate(step: int, steps: int, lr: float) -> float:
    """The schedule's rate for ``step`` (1-based) of ``steps``, taken at the step's middle so
    that neither the first nor the last step is wasted at rate 0: linear ramp-up over
    ``RAMP_UP`` of the steps, then cosine decay towards 0 at the end."""
    t = (step - 0.5) / steps
    return lr * min(1.0, t / RAMP_UP) * 0.5 * (1.0 + math.cos(math.pi * t))


def refine_ws(bundle: ModelBundle, target: torch.Tensor, ws: torch.Tensor, steps: int, *,
              lr: float = 0.05, mse_weight: float = 1.0,
              on_step: Callable[[int, float], bool] | None = None) -> torch.Tensor:
    """Optimize W+ for ``steps`` Adam steps towards ``target``.

    Args:
        bundle: the generator (frozen; gradients flow to W+ only).
        target: the aligned photo, float32 [1, 3, R, R] in [-1, 1].
        ws: the starting W+ [1, num_ws, w_dim] (the encoder's output).
        steps: number of steps, ≥ 0.
        lr: peak Adam learning rate in units of w (w's per-axis σ is about 0.5 for the shipped
            model), reached after 5 % of the steps and decayed on a cosine towards 0 at the last.
        mse_weight: weight of the per-pixel mean squared error beside LPIPS.
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
    with torch.no_grad():
        target_features = lpips.features(target)                     # the photo's, once
    ws = ws.detach().clone().to(bundle.device).requires_grad_(True)
    opt = torch.optim.Adam([ws], lr=lr, betas=(0.9, 0.999))
    for step in range(1, steps + 1):
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, steps, lr)
        image = G.synthesis(ws, noise_mode=RENDER_NOISE_MODE)       # [1, 3, R, R]
        loss = (lpips.distance(lpips.features(image), target_features).mean()
                + mse_weight * (image - target).square().mean())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if on_step is not None and on_step(step, loss.item()) is False:
            break
    return ws.detach()
