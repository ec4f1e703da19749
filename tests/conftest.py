"""Shared pytest fixtures. Qt draws offscreen unless QT_QPA_PLATFORM asks for another platform,
so the tests run, and no window shows, with or without a display; the app's settings are kept in
a temporary folder, so tests never read or change a developer's."""

import os
import shutil
import zipfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")   # read when pytest-qt's qapp is made, after this

import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

from explorer.data.dataset_tool import build_dataset  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def app_settings_folder(tmp_path_factory) -> Path:
    """The folder the app's settings (``main_window.app_settings``) go to in tests."""
    folder = tmp_path_factory.mktemp("settings")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    return folder


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only data folder (../shared/data next to the repo); skip when absent, fail on CI."""
    path = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not path.is_dir():
        message = f"../shared/data not found: {path}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def utkface_subset(shared_data):
    """Builds dataset zips of real UTKFace photos: ``make(out, resolution, rows, labels)`` takes
    the photos ``rows`` (a slice; default the first 48) of utkface.zip's listing, with
    utkface.csv's labels when ``labels`` (built from a src.zip written beside ``out``, the source
    name the dataset records), and returns ``out``."""
    def make(out: Path, resolution: int, rows: slice = slice(48), labels: bool = False) -> Path:
        src = out.parent / "src.zip"
        with zipfile.ZipFile(shared_data / "utkface.zip") as zin, zipfile.ZipFile(src, "w") as zout:
            for name in zin.namelist()[rows]:
                zout.writestr(name, zin.read(name))
        build_dataset(src, out, resolution, labels=shared_data / "utkface.csv" if labels else None)
        return out
    return make


@pytest.fixture(scope="session")
def weights_dir() -> Path:
    """The bundled weights/ (generator, encoder, directions) that the app ships."""
    path = Path(__file__).resolve().parents[1] / "weights"
    assert (path / "generator.json").is_file(), f"{path}: the shipped weights are missing"
    return path


@pytest.fixture
def weights_copy(tmp_path, weights_dir) -> Path:
    """A writable copy of the bundled weights in ``tmp_path / "weights"``, without the snapshot of
    the generator in training (weights/training/), which is not part of the bundle."""
    folder = tmp_path / "weights"
    shutil.copytree(weights_dir, folder, ignore=shutil.ignore_patterns("training"))
    return folder


@pytest.fixture(scope="session")
def requires():
    """``requires("module")``: skip the test when an optional package (the ``eval`` extra) is
    missing, saying which; under CI fail instead, because CI installs every extra."""
    import importlib.util

    def check(module: str) -> None:
        if importlib.util.find_spec(module) is None:
            message = f"{module} not installed (pip install -e '.[eval]')"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)

    return check


PHOTO_PROBLEMS = ("not-an-image", "truncated", "huge", "no-face", "tiny-face",
                  "cmyk", "16-bit", "animated-gif", "animated-png", "animated-webp")


@pytest.fixture
def bad_photo(shared_data, tmp_path):
    """``bad_photo(kind)``: the path of a photo file with one problem (a kind in PHOTO_PROBLEMS),
    made in tmp_path from the real portrait grace_hopper.jpg. "huge" claims 9000 × 8000 px (over
    MAX_PHOTO_PIXELS, under Pillow's own limit) in its PNG header over the data of a small image,
    so only a check of the header refuses it with the right message. Animated files hold the
    portrait first, then a blank frame."""
    import struct
    import zlib

    import numpy as np
    from PIL import Image

    source = shared_data / "portraits" / "grace_hopper.jpg"
    portrait = Image.open(source).convert("RGB")
    blank = Image.new("RGB", portrait.size, (120, 130, 140))

    def make(kind: str) -> Path:
        suffix = {"truncated": ".jpg", "cmyk": ".jpg", "animated-gif": ".gif", "animated-webp": ".webp"}
        path = tmp_path / f"{kind}{suffix.get(kind, '.png')}"
        if kind == "not-an-image":
            path.write_text("not an image")
        elif kind == "truncated":
            data = source.read_bytes()
            path.write_bytes(data[:len(data) // 2])
        elif kind == "huge":
            portrait.resize((64, 64)).save(path)
            data = bytearray(path.read_bytes())          # IHDR: length, type, width, height, … at bytes 8–32
            data[16:24] = struct.pack(">II", 9000, 8000)
            data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
            path.write_bytes(bytes(data))
        elif kind == "no-face":
            portrait.crop((0, 0, 150, 400)).save(path)   # the flag behind her: no face
        elif kind == "tiny-face":
            portrait.resize((82, 96), Image.LANCZOS).save(path)   # her face is then 36 px wide
        elif kind == "cmyk":
            portrait.convert("CMYK").save(path)
        elif kind == "16-bit":
            Image.fromarray(np.asarray(portrait.convert("L")).astype(np.uint16) * 257).save(path)
        elif kind.startswith("animated-"):
            portrait.save(path, save_all=True, append_images=[blank], duration=100, loop=0)
        else:
            raise ValueError(f"unknown photo problem {kind!r}")
        return path

    return make
