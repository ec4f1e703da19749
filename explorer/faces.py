"""Face detection and cropping photos to the training data's framing.

Detection: dlib's HOG + linear SVM frontal face detector (Dalal & Triggs, 2005; dlib-bin).

Framing: UTKFace's "aligned & cropped" faces put dlib's face box at a fixed place in the
frame. Measured on 384 random UTKFace images with exactly one detection (median; see
``benchmarks/face_framing.py``): box centre at (0.4475, 0.4475) of the image side, box side
0.775 of the image side. A photo is cropped so its largest face box lands at the same place,
so photos and training faces match. (FFHQ-style landmark alignment will replace this.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from explorer.errors import UserError

BOX_CENTRE = (0.4475, 0.4475)   # dlib box centre in UTKFace crops, fraction of the side
BOX_SIDE = 0.775                 # dlib box side in UTKFace crops, fraction of the side
MIN_FACE_PX = 40                 # smaller faces carry too little detail to encode


@dataclass(frozen=True)
class FaceBox:
    """A detected face: pixel box (left, top, right, bottom) in the photo."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def side(self) -> float:
        return ((self.right - self.left) + (self.bottom - self.top)) / 2


_detector = None


def detect_faces(image: Image.Image) -> list[FaceBox]:
    """All frontal faces in an RGB image, largest first (upsampling once, so faces down to
    about 40 px are found). The dlib detector is created on first use (~0.1 s)."""
    global _detector
    import dlib
    if _detector is None:
        _detector = dlib.get_frontal_face_detector()
    rects = _detector(np.asarray(image.convert("RGB")), 1)
    boxes = [FaceBox(r.left(), r.top(), r.right(), r.bottom()) for r in rects]
    return sorted(boxes, key=lambda b: b.side, reverse=True)


def crop_to_training_framing(image: Image.Image, box: FaceBox, resolution: int) -> Image.Image:
    """Crop ``image`` around ``box`` with UTKFace's framing and resize to ``resolution``² (Lanczos).

    Areas outside the photo are filled by edge reflection.
    """
    side = box.side / BOX_SIDE
    cx = (box.left + box.right) / 2 + (0.5 - BOX_CENTRE[0]) * side
    cy = (box.top + box.bottom) / 2 + (0.5 - BOX_CENTRE[1]) * side
    left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
    size = int(round(side))
    pad = max(0, -left, -top, left + size - image.width, top + size - image.height)
    if pad:
        mode = "reflect" if pad < min(image.size) else "edge"
        padded = np.pad(np.asarray(image), ((pad, pad), (pad, pad), (0, 0)), mode=mode)
        image, left, top = Image.fromarray(padded), left + pad, top + pad
    return image.resize((resolution, resolution), Image.LANCZOS, box=(left, top, left + size, top + size))


@dataclass(frozen=True)
class AlignedFace:
    """A photo cropped to the training framing, with how many faces the photo held."""

    image: Image.Image
    box: FaceBox
    num_faces: int


def align_face(image: Image.Image, resolution: int, source: str = "photo") -> AlignedFace:
    """Detect the largest face and crop it with the training framing.

    Raises:
        UserError: no face found, or the largest face is smaller than ``MIN_FACE_PX`` (naming ``source``).
    """
    boxes = detect_faces(image)
    if not boxes:
        raise UserError(f"{source}: no face found")
    if boxes[0].side < MIN_FACE_PX:
        raise UserError(f"{source}: the face is only {boxes[0].side:.0f} px wide; at least {MIN_FACE_PX} px needed")
    return AlignedFace(crop_to_training_framing(image, boxes[0], resolution), boxes[0], len(boxes))
