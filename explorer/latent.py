"""W / W+ math shared by the GUI, the CLI and the trainer: seeds, truncation, interpolation,
style mixing and directions. Plain torch on whatever device the tensors live on.

Shapes: z [N, z_dim]; w [N, w_dim]; W+ ``ws`` [N, num_ws, w_dim]; all float32.
"""

from __future__ import annotations

import numpy as np
import torch


def seed_to_z(seed: int, z_dim: int) -> torch.Tensor:
    """The z of a seed: N(0, I) from NumPy's PCG64 with that seed, so seeds mean the same
    thing on every machine and device. Returns [1, z_dim] float32 on the CPU.

    Raises:
        ValueError: seed outside [0, 2**32).
    """
    if not 0 <= seed < 2 ** 32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    return torch.from_numpy(np.random.default_rng(seed).standard_normal((1, z_dim))).float()


def truncate(w: torch.Tensor, w_avg: torch.Tensor, psi: float) -> torch.Tensor:
    """Truncation trick: w_avg + ψ (w - w_avg). ψ = 1 leaves w as is, ψ = 0 gives the mean face.

    w: [..., w_dim]; w_avg: [w_dim]. Returns the same shape as w.
    """
    return w_avg.lerp(w, psi)


def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Linear interpolation a + t (b - a), t in [0, 1]; the default path in W and W+."""
    return a.lerp(b, t)


def slerp(a: torch.Tensor, b: torch.Tensor, t: float, eps: float = 1e-7) -> torch.Tensor:
    """Spherical interpolation along the last axis (Shoemake, 1985); the natural path between
    Gaussian z samples. Norms are interpolated linearly; (nearly) parallel vectors are lerped,
    so slerp(a, a, t) is exactly a.

    a, b: [..., D]. Returns [..., D].
    """
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    ua, ub = a / na.clamp_min(eps), b / nb.clamp_min(eps)
    cos = (ua * ub).sum(-1, keepdim=True)
    omega = cos.clamp(-1 + eps, 1 - eps).acos()
    so = omega.sin().clamp_min(eps)
    spherical = ((((1 - t) * omega).sin() * ua + (t * omega).sin() * ub) / so) * na.lerp(nb, t)
    return torch.where(cos > 1 - 1e-6, a.lerp(b, t), spherical)


def broadcast(w: torch.Tensor, num_ws: int) -> torch.Tensor:
    """w [N, w_dim] → W+ [N, num_ws, w_dim] (the same w for every layer)."""
    return w.unsqueeze(1).repeat(1, num_ws, 1)


def mix_styles(ws: torch.Tensor, ws_ref: torch.Tensor, *layers: range) -> torch.Tensor:
    """Style mixing: the layers in each of ``layers`` take the reference's w (style transfer from
    a reference face: coarse layers carry pose and shape, fine layers colour and texture).

    ws: [N, num_ws, w_dim]; ws_ref: [N or 1, num_ws, w_dim]. Returns a new tensor.
    """
    out = ws.clone()
    for r in layers:
        out[:, r.start:r.stop] = ws_ref[:, r.start:r.stop]
    return out


def apply_direction(ws: torch.Tensor, direction: torch.Tensor, amount: float, layers: range) -> torch.Tensor:
    """Move W+ along a unit direction in W by ``amount`` (in units of W's per-axis σ, as the
    caller scales ``direction``) on the given layers only.

    ws: [N, num_ws, w_dim]; direction: [w_dim]. Returns a new tensor.
    """
    out = ws.clone()
    out[:, layers.start:layers.stop] += amount * direction.to(ws)
    return out
