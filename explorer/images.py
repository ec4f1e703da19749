"""Conversions between generator tensors, uint8 arrays and image files."""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from explorer.errors import UserError

MAX_PHOTO_PIXELS = 64_000_000  # refuse larger photos before decoding them


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Generator output [N, 3, H, W] float in [-1, 1] → uint8 [N, H, W, 3] (clipped, rounded).
    Every image written or shown passes here.

    Raises:
        UserError: a pixel is NaN or inf (it would become black, or any colour, silently).
    """
    x = images.detach().float().cpu()
    if not torch.isfinite(x).all():
        raise UserError("the rendered image holds NaN or inf (its W+ or the generator's weights are not finite, "
                        "or overflowed)")
    x = (x * 127.5 + 128.0).clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def from_uint8(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, H, W, 3] → float32 [N, 3, H, W] in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def image_grid(images: np.ndarray, cols: int | None = None) -> Image.Image:
    """Tile uint8 [N, H, W, 3] images into one picture, ``cols`` wide (default: about square)."""
    n, h, w, _ = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    canvas = np.zeros((rows * h, cols * w, 3), dtype=np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        canvas[r * h:(r + 1) * h, c * w:(c + 1) * w] = im
    return Image.fromarray(canvas)


def decode_image(data: bytes, source: str) -> Image.Image:
    """Encoded image bytes → an RGB Pillow image, honouring EXIF orientation.

    Grayscale, palette, CMYK, 16-bit and alpha images are converted to 8-bit RGB (alpha
    composited on black). Animated images use their first frame.

    Raises:
        UserError (naming ``source``): not an image, corrupt or truncated data, or more than
            ``MAX_PHOTO_PIXELS`` pixels (checked from the header, before decoding).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                if im.width * im.height > MAX_PHOTO_PIXELS:
                    raise UserError(f"{source}: {im.width}x{im.height} is over the {MAX_PHOTO_PIXELS // 1_000_000} "
                                    "megapixel limit")
                im.seek(0)
                im.load()
                return to_rgb(ImageOps.exif_transpose(im))
    except UnidentifiedImageError:
        raise UserError(f"{source}: not an image Pillow can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UserError(f"{source}: image too large to decode safely (over the "
                        f"{MAX_PHOTO_PIXELS // 1_000_000} megapixel limit)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise UserError(f"{source}: corrupt or truncated image ({e})") from None


def load_photo(path: Path) -> Image.Image:
    """Read a photo file as an RGB Pillow image; see ``decode_image``.

    Raises:
        UserError: missing file, or any of ``decode_image``'s errors.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    return decode_image(path.read_bytes(), str(path))


def centre_square(im: Image.Image, resolution: int) -> Image.Image:
    """Crop the central square of ``im`` and resize it to ``resolution``² with Lanczos."""
    side = min(im.size)
    left, top = (im.width - side) // 2, (im.height - side) // 2
    return im.resize((resolution, resolution), Image.LANCZOS, box=(left, top, left + side, top + side),
                     reducing_gap=3.0)


def to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode → 8-bit RGB: alpha composited on black, 16-bit and float grayscale scaled to 8 bits."""
    if im.mode in ("I", "F") or im.mode.startswith("I;16"):
        a = np.asarray(im, dtype=np.float64)
        top = 255.0 if a.max() <= 255 else 65535.0
        im = Image.fromarray(np.clip(a * (255.0 / top), 0, 255).round().astype(np.uint8))
    if im.mode in ("RGBA", "RGBa", "LA", "PA") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(black, rgba).convert("RGB")
    return im.convert("RGB")
