"""Tests for explorer.data.dataset_tool and explorer.data.dataset."""

import csv
import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.data.dataset import ImageDataset, make_synthetic_dataset
from explorer.data.dataset_tool import build_dataset, convert_image
from explorer.errors import UserError

EMPTY_RACE = "39_1_20170116174525125.jpg.chip.jpg"  # a utkface.csv row with empty race
UNLABELLED = "zz_unlabelled.jpg"


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _jpeg(im: Image.Image, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", **kwargs)
    return buf.getvalue()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def utk_rows(shared_data):
    with open(shared_data / "utkface.csv", newline="") as f:
        return {row["file"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def source(shared_data, utk_rows, tmp_path_factory):
    """A small photo zip: 40 real UTKFace JPEGs, 3 converted, 4 bad and 1 unlabelled file."""
    root = tmp_path_factory.mktemp("source")
    with zipfile.ZipFile(shared_data / "utkface.zip") as utk:
        names = sorted(utk.namelist())
        real = names[::len(names) // 39][:39] + [EMPTY_RACE]
        files = {f"faces/{n}": utk.read(n) for n in real}
        face = Image.open(io.BytesIO(files[f"faces/{real[0]}"]))
        face.load()
    extra = {
        "odd/gray.jpg": _jpeg(face.convert("L")),
        "odd/cmyk.jpg": _jpeg(face.convert("CMYK")),
        "odd/alpha.png": _png(face.convert("RGBA").crop((0, 0, 96, 128))),
        "odd/corrupt.jpg": np.random.default_rng(0).bytes(5000),
        "odd/truncated.jpg": files[f"faces/{real[1]}"][: len(files[f"faces/{real[1]}"]) // 2],
        "odd/text.png": b"this is not a picture\n",
        "odd/tiny.png": _png(face.resize((16, 16))),
    }
    zip_path = root / "photos.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        for name, data in {**files, **extra, UNLABELLED: files[f"faces/{real[2]}"]}.items():
            zf.writestr(name, data)
    labels = root / "labels.csv"
    with open(labels, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "age", "gender", "race"])
        for n in real:
            r = utk_rows[n]
            w.writerow([n, r["age"], r["gender"], r["race"]])
        for name in extra:
            w.writerow([Path(name).name, "30", "1", "2.5"])
    return zip_path, labels


@pytest.fixture(scope="module")
def built(source, tmp_path_factory):
    zip_path, labels = source
    out = tmp_path_factory.mktemp("out") / "sub" / "ds.zip"
    before = _sha(zip_path)
    summary = build_dataset(zip_path, out, 64, labels=labels)
    assert _sha(zip_path) == before
    return out, summary


def test_counts_and_reasons(built):
    out, summary = built
    assert summary.written == 43
    assert summary.converted == {"grayscale": 1, "CMYK": 1, "alpha": 1}
    assert summary.skipped == {"not an image": 2, "corrupt": 1, "smaller than target": 1,
                               "no label": 1}
    assert dict(summary.skipped_files) == {
        "odd/corrupt.jpg": "not an image", "odd/text.png": "not an image",
        "odd/truncated.jpg": "corrupt", "odd/tiny.png": "smaller than target",
        UNLABELLED: "no label"}
    text = summary.format()
    assert text.startswith(f"wrote 43 images (64x64) to {out}")
    assert "grayscale 1" in text and "corrupt 1" in text


def test_zip_contents(built, utk_rows):
    out, _ = built
    with zipfile.ZipFile(out) as zf:
        meta = json.loads(zf.read("dataset.json"))
        pngs = sorted(n for n in zf.namelist() if n != "dataset.json")
        assert pngs == [f"img{i:08d}.png" for i in range(43)]
        for name in pngs[::10]:
            with Image.open(io.BytesIO(zf.read(name))) as im:
                assert (im.format, im.mode, im.size) == ("PNG", "RGB", (64, 64))
    assert (meta["resolution"], meta["count"], meta["source"]) == (64, 43, "photos.zip")
    files = [meta["labels"][n]["file"] for n in pngs]
    assert files == sorted(files)  # numbered in source-name order
    by_file = {e["file"]: e for e in meta["labels"].values()}
    for name in (EMPTY_RACE, min(utk_rows)):
        row = utk_rows[name]
        assert by_file[f"faces/{name}"] == {
            "file": f"faces/{name}", "age": int(row["age"]), "gender": int(row["gender"]),
            "race": int(row["race"]) if row["race"] else None}
    assert by_file["faces/" + EMPTY_RACE]["race"] is None
    assert by_file["odd/gray.jpg"] == {"file": "odd/gray.jpg", "age": 30, "gender": 1, "race": 2.5}


def test_folder_source_is_not_written(source, tmp_path):
    zip_path, _ = source
    src = tmp_path / "photos"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(src)
    snapshot = {p: (p.stat().st_mtime_ns, _sha(p)) for p in src.rglob("*") if p.is_file()}
    summary = build_dataset(src, tmp_path / "ds.zip", 32)
    assert summary.written == 44  # no labels: the unlabelled face counts too
    assert {p: (p.stat().st_mtime_ns, _sha(p)) for p in src.rglob("*") if p.is_file()} == snapshot
    with zipfile.ZipFile(tmp_path / "ds.zip") as zf:
        entry = json.loads(zf.read("dataset.json"))["labels"]["img00000000.png"]
    assert entry == {"file": min(str(p.relative_to(src)) for p in snapshot)}


def test_refuses_out_inside_source(source, tmp_path):
    zip_path, _ = source
    src = tmp_path / "photos"
    src.mkdir()
    with pytest.raises(UserError, match="inside the source"):
        build_dataset(src, src / "sub" / "ds.zip", 64)
    assert not (src / "sub").exists()
    with pytest.raises(UserError, match="inside the source"):
        build_dataset(zip_path, zip_path, 64, overwrite=True)


def test_refuses_existing_out(built, source):
    out, _ = built
    before = _sha(out)
    with pytest.raises(UserError, match="exists already"):
        build_dataset(source[0], out, 64)
    assert _sha(out) == before


@pytest.mark.parametrize("resolution", [60, 2, 8192, 0, 64.0])
def test_bad_resolution(source, tmp_path, resolution):
    with pytest.raises(UserError, match="power of two"):
        build_dataset(source[0], tmp_path / "ds.zip", resolution)


def test_bad_source_and_labels(source, tmp_path):
    zip_path, _ = source
    with pytest.raises(UserError, match="no such file"):
        build_dataset(tmp_path / "missing.zip", tmp_path / "ds.zip", 64)
    with pytest.raises(UserError, match="missing.csv"):
        build_dataset(zip_path, tmp_path / "ds.zip", 64, labels=tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,age\na.jpg,3\n")
    with pytest.raises(UserError, match='no "file" column'):
        build_dataset(zip_path, tmp_path / "ds.zip", 64, labels=bad)
    assert not (tmp_path / "ds.zip").exists()


def test_exif_orientation_and_too_large(monkeypatch):
    im = Image.new("RGB", (128, 64), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 64, 64))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise: left half becomes the top
    png, note = convert_image(_jpeg(im, exif=exif, quality=95), 64)
    out = np.asarray(Image.open(io.BytesIO(png)))
    assert note is None and out.shape == (64, 64, 3)
    assert out[4, 32, 0] > 200 and out[4, 32, 2] < 50
    assert out[60, 32, 2] > 200 and out[60, 32, 0] < 50
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    assert convert_image(_png(im), 64) == (None, "too large")


def test_image_dataset_round_trip(built):
    out, _ = built
    ds = ImageDataset(out)
    assert (len(ds), ds.resolution, len(ds.labels)) == (43, 64, 43)
    item = ds[3]
    assert item.dtype == torch.uint8 and item.shape == (3, 64, 64)
    x = ds.batch(np.array([0, 5, 5, 42]))
    assert x.dtype == torch.float32 and x.shape == (4, 3, 64, 64)
    assert x.min() >= -1 and x.max() <= 1 and x.std() > 0.1
    assert torch.equal(x[1], ds[5].float() / 127.5 - 1)
    part = ImageDataset(out, indices=np.array([5, 0]))
    assert len(part) == 2 and torch.equal(part[0], ds[5])
    assert part.labels == [ds.labels[5], ds.labels[0]]


def test_synthetic_dataset(tmp_path):
    path = make_synthetic_dataset(tmp_path / "syn.zip", count=5, resolution=16, seed=1)
    ds = ImageDataset(path)
    assert len(ds) == 5 and ds.resolution == 16
    assert ds[0].float().std() > 5
    assert ds.labels[0]["file"] == "synthetic00000000" and ds.labels[0].keys() == {"file", "age", "gender"}
    assert all(1 <= row["age"] < 90 and row["gender"] in (0, 1) for row in ds.labels)


def test_broken_dataset_zip(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(UserError, match="bad.zip"):
        ImageDataset(bad)
    with pytest.raises(UserError, match="missing.zip"):
        ImageDataset(tmp_path / "missing.zip")
    no_json = tmp_path / "nojson.zip"
    with zipfile.ZipFile(no_json, "w") as zf:
        zf.writestr("img00000000.png", b"")
    with pytest.raises(UserError, match="dataset.json"):
        ImageDataset(no_json)
