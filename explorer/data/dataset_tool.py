"""Build a training dataset zip from a folder or zip of photos.

The output zip holds square RGB PNGs named ``img00000000.png``, ``img00000001.png``, ...
(numbered in the sorted order of the source names, skipped images leave no gap) and a
``dataset.json``::

    {"resolution": 64, "count": N, "source": "utkface.zip", "alignment": "none",
     "labels": {"img00000000.png": {"file": "100_0_0_....jpg", "age": 100, ...}, ...}}

Each photo is EXIF-rotated and converted to RGB; then either centre-cropped to a square and
resized with Lanczos (alignment "none"), or, with ``align`` (a ``faces.ALIGNMENTS`` method:
"ffhq", or "utkface" to frame other photos like UTKFace's crops), its largest face is aligned
by ``faces.align_face``, the code that aligns photos for encoding (alignment = the method). Images with an alpha channel are composited on black; 16-bit and float grayscale
is scaled to 8 bits. Photos that cannot be used are skipped and counted with a reason:
"not an image", "corrupt" (broken or truncated data), "too large" (over Pillow's
decompression-bomb limit, ``Image.MAX_IMAGE_PIXELS``), "smaller than target" (shorter side
below the resolution), "no label" (``labels`` given but the file has no row), and with
``align`` "no face" and "face too small" (see ``faces.MIN_FACE_PX``).

Decoding runs in a process pool, one worker per CPU; progress goes to stderr.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path, PurePosixPath

from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm import tqdm

from explorer.atomic import replace_file, write_new
from explorer.errors import UserError
from explorer.faces import NoUsableFace, align_face
from explorer.images import centre_square, to_rgb

METADATA_NAME = "dataset.json"
MIN_RESOLUTION = 4
MAX_RESOLUTION = 4096
MAX_SKIPPED_FILES = 20
_CHUNK_SIZE = 64
_GRAY_MODES = {"1": "grayscale", "L": "grayscale", "LA": "grayscale", "I": "grayscale",
               "I;16": "grayscale", "I;16B": "grayscale", "I;16L": "grayscale",
               "I;16N": "grayscale", "F": "grayscale"}
_MODE_NAMES = {**_GRAY_MODES, "P": "palette", "PA": "palette", "CMYK": "CMYK",
               "RGBA": "alpha", "RGBa": "alpha", "RGBX": "RGBX", "YCbCr": "YCbCr",
               "LAB": "LAB", "HSV": "HSV"}


def image_name(index: int) -> str:
    """Name of the ``index``-th image (0-based) inside a dataset zip."""
    return f"img{index:08d}.png"


def check_resolution(resolution: int) -> None:
    """Raise UserError unless ``resolution`` is a power of two in [4, 4096]."""
    if (not isinstance(resolution, int) or not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION
            or resolution & (resolution - 1)):
        raise UserError(f"resolution {resolution!r} must be a power of two from "
                        f"{MIN_RESOLUTION} to {MAX_RESOLUTION}")


@dataclass
class BuildSummary:
    """What ``build_dataset`` did: images written, converted and skipped (with reasons)."""

    out: Path
    resolution: int
    alignment: str = "none"
    written: int = 0
    converted: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    skipped_files: list[tuple[str, str]] = field(default_factory=list)

    def skip(self, name: str, reason: str) -> None:
        """Count ``name`` as skipped for ``reason``; remember the first few names."""
        self.skipped[reason] += 1
        if len(self.skipped_files) < MAX_SKIPPED_FILES:
            self.skipped_files.append((name, reason))

    def format(self) -> str:
        """A short multi-line human summary."""
        r = self.resolution
        aligned = "" if self.alignment == "none" else f", aligned {self.alignment}"
        lines = [f"wrote {self.written} images ({r}x{r}{aligned}) to {self.out}"]
        for title, counts in (("converted", self.converted), ("skipped", self.skipped)):
            if counts:
                lines.append(f"{title}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        lines += [f"  {name}: {reason}" for name, reason in self.skipped_files[:5]]
        if len(self.skipped_files) > 5:
            lines.append(f"  ... and {sum(self.skipped.values()) - 5} more")
        return "\n".join(lines)


def build_dataset(source: Path, out: Path, resolution: int, labels: Path | None = None,
                  *, align: str | None = None, overwrite: bool = False) -> BuildSummary:
    """Convert the photos in ``source`` into a dataset zip at ``out``.

    Args:
        source: a folder (searched recursively) or a .zip of photos; never written to.
        out: the dataset zip to write (atomically); its folder is created. Must not be the
            source or lie inside the source folder.
        resolution: side of the square output images, a power of two in [4, 4096].
        labels: optional CSV with a header whose "file" column holds image base names;
            the other columns become each image's labels (int, float, str or None when
            empty). Images without a row are skipped.
        align: a ``faces.ALIGNMENTS`` method to align each photo's largest face with instead
            of centre-cropping; photos without a usable face are skipped.
        overwrite: replace ``out`` if it exists (otherwise that is an error).

    Returns:
        A BuildSummary of written, converted and skipped images.

    Raises:
        UserError: bad resolution, missing or unreadable source or labels, ``out`` inside
            the source or already existing, or no usable image at all.
    """
    check_resolution(resolution)
    source, out = Path(source), Path(out)
    names = _list_source(source)
    _check_out(source, out, overwrite)
    table = _read_labels(labels) if labels is not None else None

    summary = BuildSummary(out=out, resolution=resolution, alignment=align or "none")
    todo = []
    for name in names:
        base = PurePosixPath(name).name
        if table is not None and base not in table:
            summary.skip(name, "no label")
        else:
            todo.append(name)

    out.parent.mkdir(parents=True, exist_ok=True)
    write = replace_file if overwrite else write_new
    write(out, lambda tmp: _write_zip(tmp, source, todo, align, table, summary))
    return summary


def _write_zip(path: Path, source: Path, todo: list[str], align: str | None, table: dict[str, dict] | None,
               summary: BuildSummary) -> None:
    """Convert the photos ``todo`` of ``source`` (``_convert_all``) into the dataset zip ``path``
    with its dataset.json, counting what was written, converted and skipped in ``summary``.

    Raises:
        UserError: no usable image at all.
    """
    entries: dict[str, dict] = {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, png, note in _convert_all(source, todo, summary.resolution, align):
            if png is None:
                summary.skip(name, note)
                continue
            if note:
                summary.converted[note] += 1
            key = image_name(summary.written)
            zf.writestr(key, png)
            entries[key] = {"file": name, **(table[PurePosixPath(name).name] if table else {})}
            summary.written += 1
        if not summary.written:
            raise UserError(f"{source}: no usable images ("
                            + ", ".join(f"{k} {v}" for k, v in summary.skipped.items()) + ")")
        meta = {"resolution": summary.resolution, "count": summary.written,
                "source": source.name, "alignment": summary.alignment, "labels": entries}
        zf.writestr(METADATA_NAME, json.dumps(meta, indent=1))


def _list_source(source: Path) -> list[str]:
    """Sorted member names (zip) or relative POSIX paths (folder) of all files in source."""
    if source.is_dir():
        return sorted(p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file())
    if not source.is_file():
        raise UserError(f"{source}: no such file or folder")
    try:
        with zipfile.ZipFile(source) as zf:
            return sorted(i.filename for i in zf.infolist() if not i.is_dir())
    except (zipfile.BadZipFile, OSError) as e:
        raise UserError(f"{source}: not a readable folder or zip ({e})") from None


def _check_out(source: Path, out: Path, overwrite: bool) -> None:
    """Refuse an ``out`` that is or lies inside the source, or exists without overwrite."""
    src, dst = source.resolve(), out.resolve()
    if dst == src or src in dst.parents:
        raise UserError(f"{out}: output must not be the source or inside the source folder {source}")
    if out.is_dir():
        raise UserError(f"{out}: is a folder, expected a .zip file name")
    if out.exists() and not overwrite:
        raise UserError(f"{out}: exists already (pass overwrite to replace it)")


def _read_labels(path: Path) -> dict[str, dict]:
    """Read a labels CSV into {base name: {column: value}} (the "file" column is the key)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or "file" not in reader.fieldnames:
                raise UserError(f"{path}: labels CSV has no \"file\" column")
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise UserError(f"{path}: cannot read labels CSV ({e})") from None
    return {row["file"]: {k: _parse_value(v) for k, v in row.items() if k != "file"}
            for row in rows}


def _parse_value(text: str | None) -> int | float | str | None:
    """A CSV cell as int, float, str, or None when empty."""
    if text is None or not text.strip():
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _convert_all(source: Path, names: list[str], resolution: int, align: str | None):
    """Yield (name, png bytes or None, note) for each name, in order, decoded in parallel."""
    jobs = [(name, resolution, align) for name in names]
    with Pool(processes=os.cpu_count(), initializer=_open_source, initargs=(source,)) as pool, \
            tqdm(total=len(jobs), desc=f"{source.name} -> {resolution}px", unit="img",
                 file=sys.stderr, smoothing=0.05) as bar:
        for result in pool.imap(_convert_job, jobs, chunksize=_CHUNK_SIZE):
            bar.update()
            yield result


_source: zipfile.ZipFile | Path | None = None  # the open source in a worker process


def _open_source(source: Path) -> None:
    """Pool initializer: open the source once per worker."""
    global _source
    _source = source if source.is_dir() else zipfile.ZipFile(source)


def _convert_job(job: tuple[str, int, bool]) -> tuple[str, bytes | None, str | None]:
    """Worker: read one source file and convert it; see ``convert_image``."""
    name, resolution, align = job
    if isinstance(_source, zipfile.ZipFile):
        data = _source.read(name)
    else:
        data = (_source / name).read_bytes()
    return (name, *convert_image(data, resolution, align))


def convert_image(data: bytes, resolution: int, align: str | None = None) -> tuple[bytes | None, str | None]:
    """Convert encoded image bytes to a ``resolution``-square RGB PNG: the centre square, or
    with ``align`` (a ``faces.ALIGNMENTS`` method) the largest face aligned that way
    (``faces.align_face``).

    Returns ``(png, note)``: ``note`` is None or the conversion done ("grayscale",
    "palette", "CMYK", "alpha", ...); or ``(None, reason)`` when the image is skipped.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None, "too large"
    except UnidentifiedImageError:
        return None, "not an image"
    except (OSError, SyntaxError, ValueError, EOFError):
        return None, "corrupt"
    im = ImageOps.exif_transpose(im)
    side = min(im.size)
    if side < resolution:
        return None, "smaller than target"
    note = None if im.mode == "RGB" else _MODE_NAMES.get(im.mode, f"mode {im.mode}")
    if align:
        try:
            im = align_face(to_rgb(im), resolution, method=align).image
        except NoUsableFace as e:
            return None, e.reason
    else:
        im = centre_square(to_rgb(im), resolution)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue(), note
