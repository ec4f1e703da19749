"""Photos in: load, find the face, align it the way the generator's training data was, encode into W+."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from explorer.errors import UserError
from explorer.faces import align_face
from explorer.images import from_uint8, load_photo
from explorer.projection import refine_ws
from explorer.weights import ModelBundle


@dataclass
class EncodedPhoto:
    """A photo's aligned crop as the encoder saw it, its W+ [1, num_ws, w_dim] float32 (bundle device),
    how many faces the photo held and which was used (0: the largest)."""

    path: Path
    aligned: Image.Image
    ws: torch.Tensor
    num_faces: int = 1
    face: int = 0


def encode_photo(bundle: ModelBundle, path: Path, refine_steps: int = 0,
                 on_step: Callable[[int, float], bool] | None = None, face: int = 0) -> EncodedPhoto:
    """Load ``path`` (EXIF orientation applied), align face ``face`` (0: the largest) with the
    bundle's training alignment (``bundle.alignment``, see ``faces.align_face``) and encode it
    into W+; then, if ``refine_steps`` > 0, refine that W+ by projection (``refine_photo``,
    which calls ``on_step``).

    Raises:
        UserError: unreadable photo (see ``images.load_photo``), no face, a tiny one or no face
            number ``face`` (see ``faces.align_face``), or a bundle without an encoder.
    """
    if bundle.encoder is None:
        raise UserError(f"{bundle.path}: these weights have no encoder, so photos cannot be loaded")
    aligned = align_face(load_photo(path), bundle.resolution, method=bundle.alignment, source=str(path), face=face)
    x = from_uint8(np.array(aligned.image)[None]).to(bundle.device)
    with torch.no_grad():
        ws = bundle.encoder(x, bundle.generator.mapping.w_avg)
    encoded = EncodedPhoto(Path(path), aligned.image, ws, aligned.num_faces, face)
    return refine_photo(bundle, encoded, refine_steps, on_step) if refine_steps else encoded


def refine_photo(bundle: ModelBundle, photo: EncodedPhoto, steps: int,
                 on_step: Callable[[int, float], bool] | None = None) -> EncodedPhoto:
    """``photo`` with its W+ refined by ``steps`` of projection towards its aligned crop
    (``projection.refine_ws``, which calls ``on_step(step, loss)``; False stops early).
    Returns a new EncodedPhoto; ``photo`` is left as it was.

    Raises:
        ValueError: negative ``steps``.
    """
    target = from_uint8(np.array(photo.aligned)[None])
    return replace(photo, ws=refine_ws(bundle, target, photo.ws, steps, on_step=on_step))
