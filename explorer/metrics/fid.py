"""FID, KID and improved precision/recall on Inception pool3 features.

- FID (Heusel et al., 2017): ‖μ_r − μ_f‖² + Tr(Σ_r + Σ_f − 2 (Σ_r^½ Σ_f Σ_r^½)^½), float64,
  covariances with N − 1; the square root's trace as a nuclear norm (see ``fid_from_features``).
- KID (Bińkowski et al., 2018): unbiased MMD² with the cubic polynomial kernel
  k(x, y) = (xᵀy / d + 1)³ over ``subsets`` random subsets of ``subset_size`` per set;
  mean and (population) standard deviation over subsets.
- Precision and recall (Kynkäänniemi et al., 2019), k = 3: a sample is covered when it lies
  within the k-th-nearest-neighbour radius of some sample of the other set. The paper uses
  VGG-16 features; here the same Inception features as FID.

Features come from ``explorer.metrics.inception`` under its protocol and are cached per image
set, selection, resolution and protocol (``explorer.metrics.cache``).
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from explorer.errors import UserError
from explorer.metrics.cache import cached_features
from explorer.metrics.inception import PROTOCOL, PROTOCOL_VERSION, inception_features
from explorer.metrics.sources import ImageSource, batches, select

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
PR_K = 3


def fid_from_features(real: np.ndarray, fake: np.ndarray) -> float:
    """FID between feature sets real [N_r, D] and fake [N_f, D] (each N ≥ 2), float64 on the CPU.

    With A, B the centred features scaled by 1/√(N − 1) (so Σ_r = AᵀA, Σ_f = BᵀB) and
    R_A, R_B their QR factors, Tr (Σ_r^½ Σ_f Σ_r^½)^½ is the nuclear norm of R_A R_Bᵀ: exact,
    no matrix square root, and cheap when N < D.

    Raises:
        ValueError: fewer than 2 samples in a set.
    """
    if len(real) < 2 or len(fake) < 2:
        raise ValueError(f"FID needs at least 2 samples per set, got {len(real)} and {len(fake)}")
    x, y = (torch.from_numpy(np.asarray(f, np.float64)) for f in (real, fake))
    a = (x - x.mean(dim=0)) / (len(x) - 1) ** 0.5
    b = (y - y.mean(dim=0)) / (len(y) - 1) ** 0.5
    ra, rb = torch.linalg.qr(a, mode="r").R, torch.linalg.qr(b, mode="r").R
    trace_sqrt = torch.linalg.svdvals(ra @ rb.T).sum()
    mean_term = (x.mean(dim=0) - y.mean(dim=0)).square().sum()
    return float(mean_term + a.square().sum() + b.square().sum() - 2 * trace_sqrt)


def kid_from_features(real: np.ndarray, fake: np.ndarray, subsets: int = KID_SUBSETS,
                      subset_size: int = KID_SUBSET_SIZE, seed: int = 0,
                      device: torch.device | str = "cpu") -> tuple[float, float, int, int]:
    """KID between real [N_r, D] and fake [N_f, D], float64.

    The subset size is min(``subset_size``, N_r, N_f); when it equals both N the estimate
    does not depend on the draw and one subset is used. Subsets are drawn with NumPy's PCG64
    seeded with ``seed``.

    Returns:
        (mean, std, subsets used, subset size).

    Raises:
        ValueError: fewer than 2 samples in a set.
    """
    m = min(subset_size, len(real), len(fake))
    if m < 2:
        raise ValueError(f"KID needs at least 2 samples per set, got {len(real)} and {len(fake)}")
    if m == len(real) == len(fake):
        subsets = 1
    device = device if torch.device(device).type == "cuda" else "cpu"          # float64: no MPS
    r, f = (torch.from_numpy(np.asarray(v, np.float64)).to(device) for v in (real, fake))
    d = r.shape[1]
    rng = np.random.default_rng(seed)
    draws = [(rng.choice(len(f), m, replace=False), rng.choice(len(r), m, replace=False)) for _ in range(subsets)]
    fx = torch.from_numpy(np.stack([a for a, _ in draws])).to(device)            # [S, m]
    ry = torch.from_numpy(np.stack([b for _, b in draws])).to(device)
    scores = []
    step = max(1, 10_000_000 // (m * m))                                       # subsets per batch
    with torch.inference_mode():
        for s in range(0, subsets, step):
            x, y = f[fx[s:s + step]], r[ry[s:s + step]]                      # [S', m, D]
            kxx, kyy, kxy = ((p @ q.transpose(1, 2) / d + 1) ** 3 for p, q in ((x, x), (y, y), (x, y)))
            diag = kxx.diagonal(dim1=1, dim2=2).sum(1) + kyy.diagonal(dim1=1, dim2=2).sum(1)
            within = (kxx.sum((1, 2)) + kyy.sum((1, 2)) - diag) / (m * (m - 1))
            scores.append((within - 2 * kxy.mean((1, 2))).cpu())
    scores = torch.cat(scores)
    return float(scores.mean()), float(scores.std(unbiased=False)), subsets, m


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = PR_K, device: torch.device | str = "cpu",
                     chunk: int = 1024) -> tuple[float, float]:
    """Improved precision (share of fake inside the real manifold) and recall (share of real
    inside the fake manifold), each in [0, 1]. Euclidean distances in float32.

    Raises:
        ValueError: a set with at most ``k`` samples.
    """
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} samples per set")
    r = torch.from_numpy(np.asarray(real, dtype=np.float32)).to(device)
    f = torch.from_numpy(np.asarray(fake, dtype=np.float32)).to(device)

    def radii(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.cdist(x[i:i + chunk], x).kthvalue(k + 1, dim=1).values
                          for i in range(0, len(x), chunk)])

    def covered(probes: torch.Tensor, manifold: torch.Tensor, radius: torch.Tensor) -> float:
        hits = torch.cat([(torch.cdist(probes[i:i + chunk], manifold) <= radius).any(dim=1)
                          for i in range(0, len(probes), chunk)])
        return float(hits.double().mean())

    with torch.inference_mode():
        return covered(f, r, radii(r)), covered(r, f, radii(f))


def set_features(source: ImageSource, indices: np.ndarray, resolution: int, device: torch.device | str) -> np.ndarray:
    """Inception features of ``source``'s images at ``indices`` → float32 [N, 2048], cached."""
    key = {"set": source.fingerprint(), "indices": indices_key(indices), "resolution": resolution,
           "protocol": PROTOCOL_VERSION}
    return cached_features(key, lambda: inception_features(batches(source, indices, resolution), device))


def indices_key(indices: np.ndarray) -> str:
    """A short description of an index selection that changes whenever the selection does."""
    return f"{len(indices)}:{hashlib.sha256(np.asarray(indices, np.int64).tobytes()).hexdigest()[:16]}"


def _both(real: ImageSource, fake: ImageSource, num: int, resolution: int, device) -> tuple[np.ndarray, np.ndarray, dict]:
    ri, fi = select(real, num), select(fake, num)
    record = {"num": len(fi), "num_real": len(ri),
              "reference": f"real: {real.describe(ri)}; fake: {fake.describe(fi)}; {resolution}x{resolution}; {PROTOCOL}"}
    return set_features(real, ri, resolution, device), set_features(fake, fi, resolution, device), record


def fid_metric(real: ImageSource, fake: ImageSource, num: int, resolution: int, device) -> list[dict]:
    """FID of ``fake`` against ``real`` on ``num`` images each → [{"metric": "fid", "value", ...}].

    Raises:
        UserError: fewer than 2 images in a set.
    """
    r, f, record = _both(real, fake, num, resolution, device)
    try:
        return [{"metric": "fid", "value": fid_from_features(r, f), **record}]
    except ValueError as e:
        raise UserError(f"fid: {e}") from None


def kid_metric(real: ImageSource, fake: ImageSource, num: int, resolution: int, device) -> list[dict]:
    """KID (mean over subsets, with "std", "subsets", "subset_size") → [{"metric": "kid", ...}]."""
    r, f, record = _both(real, fake, num, resolution, device)
    try:
        mean, std, subsets, size = kid_from_features(r, f, device=device)
    except ValueError as e:
        raise UserError(f"kid: {e}") from None
    return [{"metric": "kid", "value": mean, "std": std, "subsets": subsets, "subset_size": size, **record}]


def pr_metric(real: ImageSource, fake: ImageSource, num: int, resolution: int, device) -> list[dict]:
    """Improved precision and recall, k = 3 → [{"metric": "precision", ...}, {"metric": "recall", ...}]."""
    r, f, record = _both(real, fake, num, resolution, device)
    try:
        precision, recall = precision_recall(r, f, device=device)
    except ValueError as e:
        raise UserError(f"pr: {e}") from None
    return [{"metric": "precision", "value": precision, "k": PR_K, **record},
            {"metric": "recall", "value": recall, "k": PR_K, **record}]
