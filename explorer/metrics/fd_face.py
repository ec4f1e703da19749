"""FD-face: the Fréchet distance between the face descriptors of two image sets.

FID's Inception features are ImageNet features; a discriminator that learns ImageNet features
(a projected discriminator) can lower FID without making better faces (Kynkäänniemi et al.,
2023, "The Role of ImageNet Classes in Fréchet Inception Distance"). FD-face measures the same
Fréchet distance in a space that shares nothing with ImageNet: dlib's 128-D face descriptors,
trained to tell people apart (``explorer.nets.face_descriptor``).

Protocol: ``num`` images per set at R×R; in each, the largest face dlib's HOG detector finds,
its 68 landmarks and dlib's 150×150 chip (``explorer.metrics.face_descriptor.face_chips``); the
descriptors of the images with a face; then ``fid_from_features`` on those (float64, covariances
with N − 1). Images without a face are left out, and each set's detection rate (share with at
least one face) is reported beside the value, since a set of broken faces shrinks that way.
Descriptors are cached per image set, selection, resolution and protocol.
"""

from __future__ import annotations

import numpy as np
import torch

from explorer.errors import UserError
from explorer.metrics.cache import cached_features
from explorer.metrics.fid import indices_key, fid_from_features
from explorer.metrics.identity import face_descriptors
from explorer.metrics.sources import ImageSource, batches, select

PROTOCOL_VERSION = "fd-face-1"
REFERENCE = ("FD-face: Fréchet distance of dlib 128-D face descriptors (largest HOG face, 68 landmarks, "
             "150x150 chip), over the images with a face")


def set_descriptors(source: ImageSource, indices: np.ndarray, resolution: int,
                    device: torch.device | str) -> np.ndarray:
    """Face descriptors of ``source``'s images at ``indices`` → float32 [N, 128], NaN rows where
    no face was found; cached."""
    key = {"set": source.fingerprint(), "indices": indices_key(indices), "resolution": resolution,
           "protocol": PROTOCOL_VERSION}

    def compute() -> np.ndarray:
        return np.concatenate([face_descriptors(list(b), device)[0] for b in batches(source, indices, resolution)])

    return cached_features(key, compute)


def fd_face_metric(real: ImageSource, fake: ImageSource, num: int, resolution: int, device) -> list[dict]:
    """FD-face of ``fake`` against ``real`` on ``num`` images each → [{"metric": "fd_face",
    "value", "num", "num_real", "faces", "faces_real" (counts with a face), "detection_rate",
    "detection_rate_real", "reference"}].

    Raises:
        UserError: fewer than 2 images with a face in a set.
    """
    ri, fi = select(real, num), select(fake, num)
    r = set_descriptors(real, ri, resolution, device)
    f = set_descriptors(fake, fi, resolution, device)
    r, f = r[~np.isnan(r).any(axis=1)], f[~np.isnan(f).any(axis=1)]
    if len(r) < 2 or len(f) < 2:
        raise UserError(f"fd_face: needs at least 2 images with a face per set, found {len(r)} real and {len(f)} fake")
    return [{"metric": "fd_face", "value": fid_from_features(r, f), "num": len(fi), "num_real": len(ri),
             "faces": len(f), "faces_real": len(r), "detection_rate": len(f) / len(fi),
             "detection_rate_real": len(r) / len(ri),
             "reference": f"real: {real.describe(ri)}; fake: {fake.describe(fi)}; {resolution}x{resolution}; {REFERENCE}"}]
