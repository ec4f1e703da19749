"""Adaptive discriminator augmentation: a differentiable augmentation pipeline and its p controller.

Karras et al., 2020, "Training Generative Adversarial Networks with Limited Data" (ADA): the
"bgc" pipeline (pixel blitting, general geometric and colour transforms), every op applied to
every sample independently with probability p, and the overfitting heuristic
r_t = E[sign(D(x_real))] that steers p. All ops are differentiable with respect to the images,
as in Zhao et al., 2020, "Differentiable Augmentation for Data-Efficient GAN Training"
(DiffAugment), so G trains through D(augment(G(z))).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class AugmentPipe(nn.Module):
    """ADA's "bgc" augmentations for image batches [N, 3, R, R] (float, nominally in [-1, 1]).

    Each op below is gated per sample by its own Bernoulli(p) draw; a gated-on op draws its
    parameter from the distribution given (lognormal s means s = 2^(σ·n), n ~ N(0, 1)):

    pixel blitting, one exact gather (integer coordinates, reflect padding without edge repeat):
      1. x-flip: mirrored with probability 1/2, as in ADA (so the flip alone never leaks);
      2. 90° rotation by k·90°, k uniform in {0, 1, 2, 3};
      3. integer translation by round(t·R) pixels, t uniform in [-1/8, 1/8] per axis;
    general geometric, composed into one affine grid and one bilinear resample with
    reflection padding (samples with none of these on are passed through untouched):
      4. isotropic scaling, lognormal σ = 0.2;
      5. rotation by an angle uniform in [-π, π);
      6. anisotropic scaling diag(s, 1/s), lognormal σ = 0.2;
      7. fractional translation, N(0, 0.125²) of the image size per axis;
    colour, composed into one 3×3 matrix and offset per sample (the grey axis (1, 1, 1)/√3
    plays ADA's luma):
      8. brightness: add N(0, 0.2²) to every channel;
      9. contrast: multiply by a lognormal σ = 0.5 (about 0, the middle of [-1, 1]);
      10. luma flip: negate the grey component with probability 1/2;
      11. hue rotation about the grey axis by an angle uniform in [-π, π);
      12. saturation: scale the distance from the grey axis by a lognormal σ = 1.

    The spatial ops (1–7) only move values, so they keep each sample's range; the colour ops can
    leave [-1, 1] (a 2σ contrast alone scales by 2), as in ADA.

    ``p`` is a buffer (0-d float32, in [0, 1], starts at 0), so it travels in ``state_dict()``.
    With p == 0, ``forward`` returns ``x`` itself and draws no random numbers. Otherwise it
    draws, from the global RNG on x's device (``torch.rand`` / ``torch.randn``, no generator
    of its own), a fixed sequence of numbers whose count depends only on N: seeding the RNG
    before the call makes the output reproducible. Reading p costs one device sync on CUDA.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("p", torch.zeros([]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Augment ``x`` [N, 3, R, R] → [N, 3, R, R], same dtype and device; channels_last input
        gives channels_last output. Gradients flow to ``x``.

        Raises:
            ValueError: ``x`` is not a batch of square 3-channel images of at least 2×2.
        """
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] != x.shape[3] or x.shape[2] < 2:
            raise ValueError(f"expected images [N, 3, R, R] with R >= 2, got {list(x.shape)}")
        p = float(self.p)
        if p == 0:
            return x
        y = _colour(_geometric(_blit(x, p), p), p)
        if x.is_contiguous(memory_format=torch.channels_last):
            y = y.contiguous(memory_format=torch.channels_last)
        return y


def _lognormal(n: torch.Tensor, std_log2: float) -> torch.Tensor:
    """2^(std_log2 · n): a lognormal factor with log-std ``std_log2``·ln 2."""
    return torch.exp2(std_log2 * n)


def _reflect(index: torch.Tensor, size: int) -> torch.Tensor:
    """Fold integer pixel indices into [0, size) by mirroring about the edge pixels (as
    ``F.pad(mode="reflect")``; the edge pixel is not repeated). Needs size >= 2."""
    period = 2 * (size - 1)
    index = index.remainder(period)
    return torch.where(index >= size, period - index, index)


def _blit(x: torch.Tensor, p: float) -> torch.Tensor:
    """Ops 1–3 (x-flip, 90° rotation, integer translation) as one gather: [N, C, R, R] → same."""
    n, c, r, _ = x.shape
    dev = x.device
    on = torch.rand(n, 3, device=dev) < p
    u = torch.rand(n, 4, device=dev)
    flip = (on[:, 0] & (u[:, 0] < 0.5)).view(n, 1, 1)
    k = torch.where(on[:, 1], (u[:, 1] * 4).long(), 0)
    shift = torch.where(on[:, 2:], torch.round((u[:, 2:] * 2 - 1) * (r / 8)), 0).long()
    # Doubled pixel coordinates about the image centre: integers of one parity on both axes,
    # so flips and quarter turns map the pixel grid onto itself.
    d = torch.arange(r, device=dev) * 2 - (r - 1)
    ox = torch.where(flip, -d.view(1, 1, r), d.view(1, 1, r))  # [N, 1, R]
    oy = d.view(1, r, 1)
    cos = torch.tensor([1, 0, -1, 0], device=dev)[k].view(n, 1, 1)
    sin = torch.tensor([0, 1, 0, -1], device=dev)[k].view(n, 1, 1)
    sx = cos * ox - sin * oy + 2 * shift[:, 0].view(n, 1, 1)  # [N, R, R]: source of each output pixel
    sy = sin * ox + cos * oy + 2 * shift[:, 1].view(n, 1, 1)
    index = _reflect((sy + r - 1) // 2, r) * r + _reflect((sx + r - 1) // 2, r)
    index = index.view(n, 1, r * r).expand(n, c, r * r)
    return x.reshape(n, c, r * r).gather(2, index).view(n, c, r, r)


def _geometric(x: torch.Tensor, p: float) -> torch.Tensor:
    """Ops 4–7 as one affine grid and one bilinear resample: [N, C, R, R] → same."""
    n, c, r, _ = x.shape
    dev = x.device
    on = torch.rand(n, 4, device=dev) < p
    u = torch.rand(n, device=dev)
    g = torch.randn(n, 4, device=dev)
    scale = torch.where(on[:, 0], _lognormal(g[:, 0], 0.2), 1.0)
    angle = torch.where(on[:, 1], (u * 2 - 1) * math.pi, 0.0)
    aniso = torch.where(on[:, 2], _lognormal(g[:, 1], 0.2), 1.0)
    shift = torch.where(on[:, 3:], g[:, 2:] * (0.125 * 2), 0.0)  # the image is 2 grid units wide
    cos, sin = angle.cos() * scale, angle.sin() * scale
    # Sampling map (output → input grid coordinates) = translate · anisotropic · rotate · isotropic.
    # Every distribution is symmetric, so composing the inverse maps directly is the same.
    theta = torch.stack([
        torch.stack([cos * aniso, -sin * aniso, shift[:, 0]], 1),
        torch.stack([sin / aniso, cos / aniso, shift[:, 1]], 1),
    ], 1)  # [N, 2, 3]
    grid = F.affine_grid(theta.to(x.dtype), [n, c, r, r], align_corners=False)
    y = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return torch.where(on.any(1).view(n, 1, 1, 1), y, x)


def _colour(x: torch.Tensor, p: float) -> torch.Tensor:
    """Ops 8–12 as one affine colour map per sample: [N, 3, R, R] → same. An un-gated sample's
    matrix is exactly the identity and its offset exactly 0."""
    n, _, r, _ = x.shape
    dev = x.device
    on = torch.rand(n, 5, device=dev) < p
    u = torch.rand(n, 2, device=dev)
    g = torch.randn(n, 3, device=dev)
    brightness = torch.where(on[:, 0], g[:, 0] * 0.2, 0.0)
    contrast = torch.where(on[:, 1], _lognormal(g[:, 1], 0.5), 1.0).view(n, 1, 1)
    flip = (on[:, 2] & (u[:, 0] < 0.5)).float().view(n, 1, 1)
    hue = torch.where(on[:, 3], (u[:, 1] * 2 - 1) * math.pi, 0.0).view(n, 1, 1)
    saturation = torch.where(on[:, 4], _lognormal(g[:, 2], 1.0), 1.0).view(n, 1, 1)
    eye = torch.eye(3, device=dev)
    grey = torch.full((3, 3), 1 / 3, device=dev)  # projection onto the grey axis v = (1, 1, 1)/√3
    chroma = eye - grey  # projection onto the plane orthogonal to it
    cross = torch.tensor([[0.0, -1, 1], [1, 0, -1], [-1, 1, 0]], device=dev) / math.sqrt(3)  # v × ·
    flip_m = eye - 2 * flip * grey
    hue_m = eye + (hue.cos() - 1) * chroma + hue.sin() * cross  # Rodrigues' rotation about v
    saturation_m = eye + (saturation - 1) * chroma
    matrix = saturation_m @ hue_m @ flip_m * contrast  # [N, 3, 3]
    offset = matrix.sum(2) * brightness.view(n, 1)  # matrix · (b, b, b): brightness comes first
    y = torch.baddbmm(offset.unsqueeze(2).to(x.dtype), matrix.to(x.dtype), x.reshape(n, 3, r * r))
    return y.view(n, 3, r, r)


class AdaptiveP:
    """ADA's controller of the augmentation probability p (Karras et al., 2020, §3.2).

    It keeps r_t = E[sign(D(x_real))] over the real images D saw since the last update and
    moves p by sign(r_t - target) · (images seen) / (ada_kimg · 1000), clamped to [0, 1]: p can
    go from 0 to 1 in no fewer than ``ada_kimg`` thousand real images.

    ``stats`` is a float32 tensor [2] = [sum of sign(real logit), number of real logits] since the
    last update, on the device of the logits. Use per training step (``step`` counts from 0)::

        ada.accumulate(real_logits)              # each D micro-batch on reals (not the R1 pass)
        if (step + 1) % ada.interval == 0:
            ada.update(augment, group.sum_(ada.stats))   # all_reduce(SUM) across processes

    The all-reduced count is the global batch times ``interval``: ADA's step size. A checkpoint
    needs ``augment.state_dict()`` (holds p); ``stats`` is zero right after an update, so nothing
    else is needed when snapshots fall on update steps, and otherwise ``stats`` (2 floats) holds
    the rest. ``rt`` is the last measured r_t in [-1, 1] for logging (None before the first update).

    Raises:
        ValueError: target outside [-1, 1], interval < 1 or ada_kimg <= 0.
    """

    def __init__(self, target: float = 0.6, interval: int = 4, ada_kimg: float = 500.0) -> None:
        if not -1 <= target <= 1 or interval < 1 or ada_kimg <= 0:
            raise ValueError(f"ADA needs target in [-1, 1], interval >= 1 and ada_kimg > 0, "
                             f"got target={target}, interval={interval}, ada_kimg={ada_kimg}")
        self.target = target
        self.interval = interval
        self.ada_kimg = ada_kimg
        self.stats = torch.zeros(2)
        self.rt: float | None = None

    def accumulate(self, real_logits: torch.Tensor) -> None:
        """Add D's logits on (augmented) real images, any shape ([N, 1] usually), to ``stats``."""
        logits = real_logits.detach()
        self.stats = self.stats.to(logits.device)
        self.stats[0] += logits.sign().sum()
        self.stats[1] += logits.numel()

    def update(self, pipe: AugmentPipe, stats: torch.Tensor) -> None:
        """Set ``rt`` from ``stats`` ([2], ``self.stats`` after any all-reduce), step ``pipe.p``
        and zero ``self.stats``.

        Raises:
            RuntimeError: ``stats`` counts no logits (``accumulate`` was never called).
        """
        total, count = stats.tolist()
        if count == 0:
            raise RuntimeError("AdaptiveP.update: no real logits accumulated since the last update")
        self.rt = total / count
        direction = (self.rt > self.target) - (self.rt < self.target)
        p = float(pipe.p) + direction * count / (self.ada_kimg * 1000)
        pipe.p.fill_(min(max(p, 0.0), 1.0))
        self.stats.zero_()
