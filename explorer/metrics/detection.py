"""Face detection rate: the share of images in which dlib's HOG face detector finds exactly one
face, searched as alignment searches photos (``explorer.faces.find_faces``: upsampled once, and
again inside an edge-repeated border when the first search finds none). A generator whose faces
a standard detector cannot find, or finds twice, makes faces nobody can align or edit.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from explorer.faces import find_faces
from explorer.metrics.sources import ImageSource, batches, select

REFERENCE = "dlib HOG frontal face detector (upsampled once; edge-padded retry as in alignment), exactly one face"


def count_faces(images: np.ndarray) -> np.ndarray:
    """Faces found in each image: uint8 [N, H, W, 3] → int64 [N]."""
    return np.array([len(find_faces(Image.fromarray(np.ascontiguousarray(im)))[1]) for im in images], np.int64)


def detection_metric(real: ImageSource | None, fake: ImageSource, num: int, resolution: int, device) -> list[dict]:
    """Detection rate of ``num`` images of --fake at R×R → [{"metric": "detection_rate", "value"
    in [0, 1], "none", "several" (shares with no face and with more than one), ...}]
    (``real`` is not used).
    """
    indices = select(fake, num)
    counts = np.concatenate([count_faces(b) for b in batches(fake, indices, resolution)])
    return [{"metric": "detection_rate", "value": float(np.mean(counts == 1)), "none": float(np.mean(counts == 0)),
             "several": float(np.mean(counts > 1)), "num": len(indices),
             "reference": f"{fake.describe(indices)}; {resolution}x{resolution}; {REFERENCE}"}]
