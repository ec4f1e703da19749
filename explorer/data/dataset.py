"""In-memory image dataset over a dataset zip written by ``dataset_tool.build_dataset``.

All images are decoded once into one uint8 array ``[N, 3, R, R]`` (21,707 images at 64x64
are about 270 MB), so the trainer can draw random batches with ``ImageDataset.batch``.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from explorer.atomic import replace_file
from explorer.data.dataset_tool import METADATA_NAME, check_resolution, image_name
from explorer.errors import UserError

VAL_PERCENT = 10  # the share of photos every trainer holds out by default, in percent


class ImageDataset(torch.utils.data.Dataset):
    """The images and labels of a dataset zip.

    Args:
        path: the dataset zip (``img00000000.png``, ... plus ``dataset.json``).
        indices: optional row numbers (0 <= i < count) to keep, in that order; lets the
            caller build a held-out split.

    Raises:
        UserError: the zip or its dataset.json is missing or broken, or an image is not
            an R x R RGB PNG.
    """

    def __init__(self, path: Path, indices: np.ndarray | None = None):
        path = Path(path)
        try:
            with zipfile.ZipFile(path) as zf:
                meta = _read_metadata(zf, path)
                count = meta["count"]
                rows = np.arange(count) if indices is None else np.asarray(indices, dtype=np.int64)
                if rows.size and (rows.min() < 0 or rows.max() >= count):
                    raise UserError(f"{path}: indices must lie in [0, {count})")
                self._resolution = meta["resolution"]
                self._images = _decode_all(zf, path, rows, self._resolution)
        except (OSError, zipfile.BadZipFile) as e:
            raise UserError(f"{path}: cannot read dataset zip ({e})") from None
        self._labels = [meta["labels"].get(image_name(int(i)), {}) for i in rows]

    @property
    def resolution(self) -> int:
        """Side of the square images in pixels."""
        return self._resolution

    @property
    def labels(self) -> list[dict]:
        """One dict per image, in dataset order (``{"file": ..., "age": ..., ...}``)."""
        return self._labels

    def __len__(self) -> int:
        return len(self._images)

    def __getitem__(self, i: int) -> torch.Tensor:
        """Image ``i`` as a uint8 tensor [3, R, R]."""
        return torch.from_numpy(self._images[i].copy())

    def batch(self, indices: np.ndarray) -> torch.Tensor:
        """Images at ``indices`` as float32 [B, 3, R, R] scaled to [-1, 1]."""
        x = torch.from_numpy(self._images[np.asarray(indices)]).to(torch.float32)
        return x.div_(127.5).sub_(1.0)


def split_rows(labels: list[dict], val_percent: int) -> tuple[np.ndarray, np.ndarray, str]:
    """The held-out split every trainer and evaluation shares: (train rows, held-out rows, key).

    A row is held out when crc32 of its key mod 100 < ``val_percent``. The key is "identity"
    when every row has one (CelebA: no person on both sides), else the source "file" name, so
    the split depends on neither the order, the size, the resolution nor the alignment of the
    dataset build: the photos held out of the GAN are also held out of the encoder and the
    classifiers, and stay unseen for evaluation.
    """
    key = "identity" if labels and all(row.get("identity") is not None for row in labels) else "file"
    held = np.array([zlib.crc32(str(row.get(key, i)).encode()) % 100 < val_percent
                     for i, row in enumerate(labels)], dtype=bool)
    return np.flatnonzero(~held), np.flatnonzero(held), key


def holdout_split(path: Path, val_percent: int) -> tuple[np.ndarray, np.ndarray]:
    """``split_rows`` of a dataset zip, read from its dataset.json: (train rows, held-out rows).

    Raises:
        UserError: a broken zip, or ``val_percent`` outside [0, 100).
    """
    if not 0 <= val_percent < 100:
        raise UserError(f"--val-percent must be in [0, 100), got {val_percent}")
    meta = read_dataset_meta(path)
    labels = [meta["labels"].get(image_name(i), {}) for i in range(meta["count"])]
    train, held, _ = split_rows(labels, val_percent)
    return train, held


def read_dataset_meta(path: Path) -> dict:
    """dataset.json of a dataset zip (resolution, count, source, labels), without decoding images.

    Raises:
        UserError: the zip or its dataset.json is missing or broken.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            return _read_metadata(zf, Path(path))
    except (OSError, zipfile.BadZipFile) as e:
        raise UserError(f"{path}: cannot read dataset zip ({e})") from None


def _read_metadata(zf: zipfile.ZipFile, path: Path) -> dict:
    """Load and check dataset.json from an open dataset zip."""
    try:
        meta = json.loads(zf.read(METADATA_NAME))
        count, resolution, labels = meta["count"], meta["resolution"], meta["labels"]
    except KeyError as e:
        raise UserError(f"{path}: {METADATA_NAME} missing or lacks {e}") from None
    except (ValueError, TypeError) as e:
        raise UserError(f"{path}: {METADATA_NAME} is not valid JSON ({e})") from None
    if not isinstance(count, int) or count < 0 or not isinstance(labels, dict):
        raise UserError(f"{path}: {METADATA_NAME} has a bad count or labels")
    try:
        check_resolution(resolution)
    except UserError as e:
        raise UserError(f"{path}: {METADATA_NAME}: {e}") from None
    return meta


def _decode_all(zf: zipfile.ZipFile, path: Path, rows: np.ndarray, resolution: int) -> np.ndarray:
    """Decode the images at ``rows`` into a uint8 array [len(rows), 3, R, R]."""
    images = np.empty((len(rows), 3, resolution, resolution), dtype=np.uint8)
    for k, i in enumerate(rows):
        name = image_name(int(i))
        try:
            with Image.open(io.BytesIO(zf.read(name))) as im:
                if im.mode != "RGB" or im.size != (resolution, resolution):
                    raise UserError(f"{path}: {name} is {im.mode} {im.size}, "
                                    f"expected RGB ({resolution}, {resolution})")
                images[k] = np.asarray(im).transpose(2, 0, 1)
        except KeyError:
            raise UserError(f"{path}: {name} missing") from None
        except (OSError, SyntaxError, ValueError) as e:
            raise UserError(f"{path}: {name} is not a readable PNG ({e})") from None
    return images


def make_synthetic_dataset(path: Path, count: int, resolution: int, seed: int = 0) -> Path:
    """Write a dataset zip of ``count`` random smooth colour blobs, for dry runs and tests,
    labelled with random "age" (1–89) and "gender" (0 or 1) so classifier dry runs have heads.

    Args:
        path: the zip to write (its folder is created; an existing file is replaced).
        count: number of images, >= 1.
        resolution: image side, a power of two in [4, 4096].
        seed: random seed; the same arguments give the same images.

    Returns:
        ``path``.

    Raises:
        UserError: bad count or resolution.
    """
    check_resolution(resolution)
    if count < 1:
        raise UserError(f"count {count} must be at least 1")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, lambda tmp: _write_synthetic(tmp, count, resolution, seed))
    return path


def _write_synthetic(path: Path, count: int, resolution: int, seed: int) -> None:
    """The zip of ``make_synthetic_dataset``, written at ``path``."""
    rng = np.random.default_rng(seed)
    label_rng = np.random.default_rng([seed, 1])      # its own stream: the images do not depend on it
    labels = {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for i in range(count):
            buf = io.BytesIO()
            Image.fromarray(_blob_image(rng, resolution)).save(buf, format="PNG")
            zf.writestr(image_name(i), buf.getvalue())
            labels[image_name(i)] = {"file": f"synthetic{i:08d}", "age": int(label_rng.integers(1, 90)),
                                     "gender": int(label_rng.integers(0, 2))}
        meta = {"resolution": resolution, "count": count, "source": "synthetic", "labels": labels}
        zf.writestr(METADATA_NAME, json.dumps(meta, indent=1))


def _blob_image(rng: np.random.Generator, resolution: int, blobs: int = 4) -> np.ndarray:
    """One [R, R, 3] uint8 image: a flat background plus a few Gaussian colour blobs."""
    yx = np.linspace(0.0, 1.0, resolution)
    centres = rng.uniform(0.1, 0.9, size=(blobs, 2))
    sigmas = rng.uniform(0.08, 0.25, size=blobs)
    colours = rng.uniform(-1.0, 1.0, size=(blobs, 3))
    d2 = ((yx[None, :, None] - centres[:, 0, None, None]) ** 2
          + (yx[None, None, :] - centres[:, 1, None, None]) ** 2)
    weights = np.exp(-d2 / (2 * sigmas[:, None, None] ** 2))
    image = rng.uniform(0.2, 0.8, size=3) + np.einsum("kyx,kc->yxc", weights, colours) * 0.5
    return (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)
