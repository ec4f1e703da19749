"""Face alignment on real photos: FFHQ-style and UTKFace framing, EXIF, rotation, no face, bundles."""

import dataclasses
import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from explorer.errors import UserError
from explorer.faces import (
    ALIGNMENTS,
    BOX_CENTRE,
    BOX_SIDE,
    EYE_LEFT,
    EYE_RIGHT,
    NoUsableFace,
    align_face,
    detect_faces,
)
from explorer.images import load_photo
from explorer.photos import encode_photo
from explorer.weights import load_bundle, training_alignment

# Where "ffhq" puts the eye centres for a typical face, as fractions of the side: half the crop
# side is 2·|eye_to_eye|, the eyes sit 0.1·|eye_to_mouth| ≈ 0.025 of the side above the centre.
CANONICAL_EYES = np.array([[0.375, 0.475], [0.625, 0.475]])
UTKFACE = ["41_0_0_20170104173044203.jpg.chip.jpg", "58_0_1_20170117173247104.jpg.chip.jpg",
           "26_1_2_20170116184100913.jpg.chip.jpg", "2_0_0_20170110213022114.jpg.chip.jpg"]
CELEBA = ["000001.jpg", "000017.jpg", "000019.jpg", "000021.jpg"]
CUT_BY_THE_FRAME = "30_0_0_20170119195539771.jpg.chip.jpg"  # a UTKFace crop where HOG finds no face


def _eyes(landmarks: np.ndarray, side: int) -> np.ndarray:
    """Eye centres [2, 2] (image's left eye first) as fractions of the side."""
    return np.stack([landmarks[EYE_LEFT].mean(0), landmarks[EYE_RIGHT].mean(0)]) / side


def _photos(shared_data) -> dict[str, Image.Image]:
    photos = {p.name: load_photo(p) for p in sorted((shared_data / "portraits").iterdir())}
    for zip_name, names in (("utkface.zip", UTKFACE), ("celeba_attrs.zip", CELEBA)):
        with zipfile.ZipFile(shared_data / zip_name) as zf:
            photos.update({n: Image.open(io.BytesIO(zf.read(n))).convert("RGB") for n in names})
    return photos


@pytest.fixture(scope="module")
def grace(shared_data) -> Image.Image:
    return load_photo(shared_data / "portraits" / "grace_hopper.jpg")


def test_ffhq_levels_the_eyes_at_canonical_places(shared_data):
    for name, photo in _photos(shared_data).items():
        face = align_face(photo, 128, method="ffhq", source=name)
        eyes = _eyes(face.landmarks, 128)
        assert face.image.size == (128, 128) and face.image.mode == "RGB", name
        assert face.landmarks.shape == (68, 2), name
        # The x axis averages the eye line with the normal of the eye-to-mouth line, so a turned
        # head keeps a little tilt (CelebA 000001: 2.5 %).
        assert abs(eyes[1, 1] - eyes[0, 1]) < 0.03, (name, eyes)
        assert np.abs(eyes - CANONICAL_EYES).max() < 0.03, (name, eyes)


@pytest.mark.parametrize("method", ALIGNMENTS)
def test_alignment_levels_a_rotated_face(grace, method):
    upright = _eyes(align_face(grace, 256, method=method).landmarks, 256)
    tilted = grace.rotate(20, resample=Image.BICUBIC, expand=True)
    after = _eyes(align_face(tilted, 256, method=method).landmarks, 256)
    assert abs(after[1, 1] - after[0, 1]) < 0.01
    # "utkface" frames dlib's box, which fits a turned face a little differently (3 % here).
    assert np.abs(after - upright).max() < (0.015 if method == "ffhq" else 0.04)


def test_large_photos_align_like_small_ones(grace):
    """A photo over DETECT_SIDE (detected on a smaller copy; landmarks on a scaled face) aligns alike."""
    small = align_face(grace, 128, method="ffhq")
    large = align_face(grace.resize((grace.width * 4, grace.height * 4), Image.BICUBIC), 128, method="ffhq")
    assert large.image.size == (128, 128)
    assert np.abs(_eyes(large.landmarks, 128) - _eyes(small.landmarks, 128)).max() < 0.01
    assert np.abs(large.landmarks - small.landmarks).max() < 0.02 * 128


def test_exif_orientation_is_honoured(grace, tmp_path):
    """A phone-style JPEG: pixels stored turned a quarter, EXIF Orientation 6 says turn them back."""
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6                                            # display rotated 90° clockwise
    grace.transpose(Image.Transpose.ROTATE_90).save(path, quality=95, exif=exif)
    with Image.open(path) as stored:
        stored = stored.convert("RGB")
    assert detect_faces(stored) == []                           # the stored pixels lie on their side
    face = align_face(load_photo(path), 128, method="ffhq", source=str(path))
    expected = align_face(stored.transpose(Image.Transpose.ROTATE_270), 128, method="ffhq")
    assert np.array_equal(np.asarray(face.image), np.asarray(expected.image))
    eyes = _eyes(face.landmarks, 128)
    assert abs(eyes[1, 1] - eyes[0, 1]) < 0.03 and np.abs(eyes - CANONICAL_EYES).max() < 0.03


def test_a_photo_without_a_face_names_the_file(grace, tmp_path):
    path = tmp_path / "flag.png"
    grace.crop((0, 0, 150, 400)).save(path)
    for method in ("ffhq", "utkface"):
        with pytest.raises(NoUsableFace, match=f"^{path}: no face found$") as error:
            align_face(load_photo(path), 64, method=method, source=str(path))
        assert error.value.reason == "no face"


def test_faces_cut_by_the_frame_are_found(shared_data):
    """A tight crop HOG misses (the face touches the frame) is found inside a border."""
    with zipfile.ZipFile(shared_data / "utkface.zip") as zf:
        photo = Image.open(io.BytesIO(zf.read(CUT_BY_THE_FRAME))).convert("RGB")
    assert detect_faces(photo) == []
    face = align_face(photo, 128, method="ffhq")
    assert np.abs(_eyes(face.landmarks, 128) - CANONICAL_EYES).max() < 0.03


def test_utkface_framing_puts_the_face_box_where_utkface_has_it(grace):
    face = align_face(grace, 200, method="utkface")
    eyes = _eyes(face.landmarks, 200)
    box = detect_faces(face.image)[0]
    assert abs((box.left + box.right) / 2 / 200 - BOX_CENTRE[0]) < 0.03
    assert abs((box.top + box.bottom) / 2 / 200 - BOX_CENTRE[1]) < 0.03
    assert abs(box.side / 200 - BOX_SIDE) < 0.05
    assert eyes[:, 1].max() < 0.4                                # a tight crop: eyes high in the frame


def test_unknown_method_is_refused(grace):
    with pytest.raises(UserError, match="unknown alignment 'mtcnn'"):
        align_face(grace, 64, method="mtcnn")


def test_training_alignment_from_the_manifest(tmp_path):
    def manifest(alignment):
        return {"models": {"generator": {"dataset": {"source": "x.zip", "alignment": alignment}}}}
    assert training_alignment({}, tmp_path) == "utkface"                  # weights that predate the field
    assert training_alignment(manifest("none"), tmp_path) == "utkface"
    assert training_alignment(manifest("ffhq"), tmp_path) == "ffhq"
    with pytest.raises(UserError, match=r"manifest\.json: unknown generator dataset alignment 'dlib5'"):
        training_alignment(manifest("dlib5"), tmp_path)


def test_encode_photo_aligns_as_the_bundle_was_trained(weights_dir, shared_data):
    bundle = load_bundle(weights_dir, "cpu")
    path = shared_data / "portraits" / "astronaut.png"
    assert bundle.alignment == "utkface"                                  # the shipped weights
    for method in ("utkface", "ffhq"):
        encoded = encode_photo(dataclasses.replace(bundle, alignment=method), path)
        expected = align_face(load_photo(path), bundle.resolution, method=method).image
        assert np.array_equal(np.asarray(encoded.aligned), np.asarray(expected)), method
