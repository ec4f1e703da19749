"""Image sets to evaluate, from a PATH: a dataset zip, a zip or folder of images, or a weights
folder (which generates them).

Every set yields uint8 images [B, R, R, 3] at the evaluation resolution R:

- dataset zip (``dataset.json`` inside): its images ``img00000000.png`` …, keys ``img00000000`` …;
  optionally only its "train" or "held-out" rows, the split every trainer uses
  (``explorer.data.dataset.holdout_split``);
- zip or folder of images (.png .jpg .jpeg .bmp .webp .tif .tiff, searched recursively): sorted
  by name, keyed by their path without the suffix. A folder written by ``explorer encode``
  (``NAME_aligned.png`` + ``NAME_recon.png``) gives its aligned photos as --real and its
  reconstructions as --fake, both keyed ``NAME``;
- weights folder (``generator.json`` inside): seed i rendered at ψ = 1 as the app renders it
  (``explorer.session.render``), keyed ``seed0000`` … like ``explorer generate``; a DCGAN
  baseline's run folder renders seed i as G(z) (``LatentImages``).

Images on disk are EXIF-rotated, converted to RGB, centre-cropped to a square and resized to R
with Lanczos unless already R×R; generated images are quantized to uint8 first and resized the
same way when R differs from the generator's resolution.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from explorer.data.dataset import VAL_PERCENT, holdout_split, read_dataset_meta
from explorer.data.dataset_tool import METADATA_NAME, image_name
from explorer.errors import UserError
from explorer.images import centre_square, decode_image, to_uint8
from explorer.latent import broadcast, seed_to_z
from explorer.netio import read_json
from explorer.weights import (
    DCGAN_KIND,
    file_sha256,
    load_bundle,
    load_dcgan_generator,
    pick_device,
)

SPLITS = ("train", "held-out")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
SUBSET_SEED = 0
_SEED_KEY = re.compile(r"seed(\d+)")


class FileImages:
    """Images stored on disk (dataset zip, zip of images or folder of images).

    Args:
        path: the zip or folder.
        role: "real" or "fake"; only matters for ``explorer encode`` folders (aligned vs recon).
        split: None (every image), or "train" / "held-out": the rows of a dataset zip on that
            side of the trainers' split with ``val_percent`` held out.

    Raises:
        UserError: unreadable zip or folder, no images in it, or a split of something that is
            not a dataset zip.
        ValueError: an unknown ``split``.
    """

    def __init__(self, path: Path, role: str = "real", split: str | None = None, val_percent: int = VAL_PERCENT):
        self.path = Path(path)
        self._zip = self.path.is_file()
        members = self._list_members()
        self.is_dataset = self._zip and METADATA_NAME in members
        self.split = split
        encoded = False
        if split not in (None, *SPLITS):
            raise ValueError(f"split must be None or one of {SPLITS}, got {split!r}")
        if split is not None and not self.is_dataset:
            raise UserError(f"{self.path}: --split needs a dataset zip (made by `explorer dataset build`)")
        if self.is_dataset:
            count = read_dataset_meta(self.path)["count"]
            rows = np.arange(count) if split is None else holdout_split(self.path, val_percent)[split == "held-out"]
            members = [image_name(int(i)) for i in rows]
        else:
            members = sorted(m for m in members if PurePosixPath(m).suffix.lower() in IMAGE_SUFFIXES
                             and not any(part.startswith(".") for part in PurePosixPath(m).parts))
            members, encoded = _encode_role(members, role)
        if not members:
            raise UserError(f"{self.path}: no images found")
        self.members = members
        self.keys = [_key(m, encoded) for m in members]
        if len(set(self.keys)) != len(self.keys):
            dup = next(k for k in self.keys if self.keys.count(k) > 1)
            raise UserError(f"{self.path}: two images share the name {dup!r} (differing only in suffix)")
        self.count = len(members)

    def _list_members(self) -> list[str]:
        if self._zip:
            try:
                with zipfile.ZipFile(self.path) as zf:
                    return [i.filename for i in zf.infolist() if not i.is_dir()]
            except (zipfile.BadZipFile, OSError) as e:
                raise UserError(f"{self.path}: not a readable zip ({e})") from None
        return [p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file()]

    @property
    def native_resolution(self) -> int:
        """The dataset's resolution, or the shorter side of the first image."""
        if self.is_dataset:
            return read_dataset_meta(self.path)["resolution"]
        return min(self._decode(self.members[0], None).shape[:2])

    def fingerprint(self) -> str:
        """sha256 of the zip and the images used from it, or of the folder's (name, size, mtime)
        list: changes when the data do."""
        if self._zip:
            return hashlib.sha256("\n".join([file_sha256(self.path), *self.members]).encode()).hexdigest()
        stats = [(m, (self.path / m).stat().st_size, (self.path / m).stat().st_mtime_ns) for m in self.members]
        return hashlib.sha256(json.dumps(stats).encode()).hexdigest()

    def describe(self, indices: np.ndarray) -> str:
        part = f"all {self.count}" if len(indices) == self.count else f"{len(indices)} of {self.count}"
        split = f"{self.split} split: " if self.split else ""
        return f"{self.path.name} ({split}{part} images)"

    def load(self, indices: np.ndarray, resolution: int) -> np.ndarray:
        """Images at ``indices`` → uint8 [B, R, R, 3]."""
        out = np.empty((len(indices), resolution, resolution, 3), np.uint8)
        if self._zip:
            with zipfile.ZipFile(self.path) as zf:
                for k, i in enumerate(indices):
                    out[k] = self._decode(self.members[i], resolution, zf)
        else:
            for k, i in enumerate(indices):
                out[k] = self._decode(self.members[i], resolution)
        return out

    def _decode(self, member: str, resolution: int | None, zf: zipfile.ZipFile | None = None) -> np.ndarray:
        """One image → uint8 [R, R, 3] (or its original size when ``resolution`` is None)."""
        where = f"{self.path}: {member}"
        try:
            if not self._zip:
                data = (self.path / member).read_bytes()
            elif zf is not None:
                data = zf.read(member)
            else:
                with zipfile.ZipFile(self.path) as archive:
                    data = archive.read(member)
        except KeyError:
            raise UserError(f"{where}: missing from the zip") from None
        except OSError as e:
            raise UserError(f"{where}: cannot read ({e.strerror or e})") from None
        im = decode_image(data, where)
        if resolution is None:
            return np.asarray(im)
        return resize_square(im, resolution)


class SeedImages:
    """Images a generator renders from seeds: seed i is image i (``seed_to_z``), keyed ``seed0000`` …
    like ``explorer generate``; there is no fixed count."""

    count = None
    path: Path

    def describe(self, indices: np.ndarray) -> str:
        return f"{self.path.name} (seeds {indices[0]}-{indices[-1]}, psi=1)" if len(indices) else self.path.name

    def index(self, key: str) -> int | None:
        """The seed a key like ``seed0042`` names, or None."""
        match = _SEED_KEY.fullmatch(PurePosixPath(key).name)
        return int(match.group(1)) if match else None

    def render(self, z: torch.Tensor) -> np.ndarray:
        """z [B, z_dim] float32 → uint8 [B, R, R, 3] at the generator's resolution."""
        raise NotImplementedError

    def load(self, indices: np.ndarray, resolution: int) -> np.ndarray:
        """Seeds ``indices`` → uint8 [B, R, R, 3] (resized with Lanczos when R differs)."""
        images = self.render(torch.cat([seed_to_z(int(s), self.z_dim) for s in indices]))
        if images.shape[1] == resolution:
            return images
        return np.stack([resize_square(Image.fromarray(im), resolution) for im in images])


class GeneratedImages(SeedImages):
    """Images rendered from a weights folder as the app renders them: seed i → z → w at ψ = 1 → W+.

    Raises:
        UserError: not a loadable weights folder.
    """

    def __init__(self, path: Path, device: str = "auto"):
        self.path = Path(path)
        self.bundle = load_bundle(self.path, device)
        self.z_dim = self.bundle.generator.cfg.z_dim

    @property
    def native_resolution(self) -> int:
        return self.bundle.resolution

    def fingerprint(self) -> str:
        """sha256 of the generator's tensors and configuration."""
        return file_sha256(self.path / "generator.safetensors") + file_sha256(self.path / "generator.json")

    def render(self, z: torch.Tensor) -> np.ndarray:
        from explorer.session import render
        G = self.bundle.generator
        with torch.inference_mode():
            ws = broadcast(G.mapping(z.to(self.bundle.device)), G.num_ws)
        return render(self.bundle, ws)


class LatentImages(SeedImages):
    """Images from a generator without W space, such as the DCGAN baseline or a peer's DCGAN:
    seed i → z → G(z) (batch norm in eval mode), quantized to uint8.

    Args:
        generator: z [B, z_dim] → float [B, 3, R, R] in [-1, 1], with ``cfg.z_dim`` and ``cfg.resolution``.
        path: where its weights came from (named in the metrics' "reference").
        fingerprint: a string that changes whenever the weights do (the feature cache's key).
        device: where to run it.
    """

    def __init__(self, generator: torch.nn.Module, path: Path, fingerprint: str, device: str | torch.device = "cpu"):
        self.path = Path(path)
        self.device = torch.device(device)
        self.generator = generator.eval().to(self.device)
        self.z_dim = generator.cfg.z_dim
        self._fingerprint = fingerprint

    @property
    def native_resolution(self) -> int:
        return self.generator.cfg.resolution

    def fingerprint(self) -> str:
        return self._fingerprint

    def render(self, z: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return to_uint8(self.generator(z.to(self.device)))


ImageSource = FileImages | SeedImages


def open_source(path: Path, role: str = "real", device: str = "auto", split: str | None = None) -> ImageSource:
    """A PATH given as --real or --fake → its image set (``split``: see ``FileImages``).

    Raises:
        UserError: the path does not exist or is none of the accepted kinds, or a split of
            something that is not a dataset zip.
    """
    path = Path(path)
    if path.is_dir() and (path / "generator.json").is_file():
        if split is not None:
            raise UserError(f"{path}: --split needs a dataset zip, not a generator")
        if read_json(path / "generator.json").get("kind") == DCGAN_KIND:
            stem = path / "generator"
            return LatentImages(load_dcgan_generator(stem), path, file_sha256(stem.with_suffix(".safetensors")),
                                pick_device(device))
        return GeneratedImages(path, device)
    if path.is_dir() or (path.is_file() and zipfile.is_zipfile(path)):
        return FileImages(path, role, split)
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    raise UserError(f"{path}: not a dataset zip, a zip or folder of images, or a weights folder")


def select(source: ImageSource, num: int) -> np.ndarray:
    """Indices of the images to use: seeds 0..num−1, all images when there are at most ``num``,
    else ``num`` drawn without replacement by NumPy's PCG64 with seed 0 (sorted)."""
    if source.count is None:
        return np.arange(num)
    if num >= source.count:
        return np.arange(source.count)
    return np.sort(np.random.default_rng(SUBSET_SEED).choice(source.count, num, replace=False))


def pair(real: ImageSource, fake: ImageSource, num: int | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images that show the same thing in both sets, matched by key (file name without suffix,
    or ``seedNNNN``); the first ``num`` pairs in key order (all when None).

    Returns:
        (real indices, fake indices, keys).

    Raises:
        UserError: no key in common, or two weights folders without ``num``.
    """
    if isinstance(real, SeedImages) and isinstance(fake, SeedImages):
        if num is None:
            raise UserError("two weights folders have no natural pairs: give --num N to compare seeds 0..N-1")
        idx = np.arange(num)
        return idx, idx, [f"seed{i:04d}" for i in idx]
    files = fake if isinstance(fake, FileImages) else real
    other = real if files is fake else fake
    pairs = []
    lookup = {k: i for i, k in enumerate(other.keys)} if isinstance(other, FileImages) else None
    for i, key in enumerate(files.keys):
        j = lookup.get(key) if lookup is not None else other.index(key)
        if j is not None:
            pairs.append((key, i, j))
    if not pairs:
        raise UserError(f"{real.path} and {fake.path}: no image names in common to pair")
    pairs = sorted(pairs)[:num]
    keys = [k for k, _, _ in pairs]
    mine, theirs = (np.array([p[1] for p in pairs]), np.array([p[2] for p in pairs]))
    return (theirs, mine, keys) if files is fake else (mine, theirs, keys)


def batches(source: ImageSource, indices: np.ndarray, resolution: int, batch: int = 64) -> Iterator[np.ndarray]:
    """``source.load`` over ``indices`` in chunks of ``batch`` → uint8 [B, R, R, 3] each, with a
    progress bar on stderr when it is a terminal."""
    with tqdm(total=len(indices), desc=source.path.name, unit="img", file=sys.stderr, disable=None) as bar:
        for start in range(0, len(indices), batch):
            images = source.load(indices[start:start + batch], resolution)
            bar.update(len(images))
            yield images


def resize_square(im: Image.Image, resolution: int) -> np.ndarray:
    """Centre-crop a Pillow image to a square and resize it to R×R with Lanczos → uint8 [R, R, 3]."""
    if im.size == (resolution, resolution):
        return np.asarray(im)
    return np.asarray(centre_square(im, resolution))


def _key(member: str, encoded: bool) -> str:
    """The pairing key of an image: its path without the suffix (and without the _aligned or
    _recon tag in an ``explorer encode`` folder)."""
    stem = str(PurePosixPath(member).with_suffix(""))
    return re.sub(r"_(aligned|recon)$", "", stem) if encoded else stem


def _encode_role(members: list[str], role: str) -> tuple[list[str], bool]:
    """In an ``explorer encode`` folder keep the aligned photos (real) or the reconstructions
    (fake); returns (members, whether it is such a folder)."""
    stems = {str(PurePosixPath(m).with_suffix("")) for m in members}
    if not any(s.endswith("_recon") and f"{s[:-6]}_aligned" in stems for s in stems):
        return members, False
    tag = "_aligned" if role == "real" else "_recon"
    return [m for m in members if str(PurePosixPath(m).with_suffix("")).endswith(tag)], True
