"""The pretrained face descriptor network (dlib's ResNet, in PyTorch) and face chips to feed it.

Weights: converted on first use from dlib's ``dlib_face_recognition_resnet_model_v1.dat`` (in the
installed face-recognition-models package) into the cache as float32 safetensors
(``explorer.metrics.face_descriptor_convert``).
Chips are cut as dlib cuts them for its own descriptor: the largest face found by the HOG
detector (``explorer.faces.detect_faces``), its 68 landmarks, ``dlib.get_face_chip`` at 150×150
with padding 0.25.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from explorer.errors import UserError
from explorer.faces import detect_faces, shape_predictor
from explorer.metrics.face_descriptor_convert import (
    MODEL_SHA256,
    converted_state,
    default_out,
    default_source,
    save_converted,
)
from explorer.netio import load_state, load_tensors, read_json
from explorer.nets.face_descriptor import CHIP_SIZE, FaceDescriptorNet

_models: dict[str, FaceDescriptorNet] = {}


def load_face_descriptor(device: torch.device | str = "cpu") -> FaceDescriptorNet:
    """The pretrained ``FaceDescriptorNet`` (float32, eval mode, frozen) on ``device``, loaded once
    per device.

    Raises:
        UserError: face-recognition-models is not installed or its file is not the expected one.
    """
    key = str(device)
    if key not in _models:
        model = FaceDescriptorNet()
        load_state(model, _pretrained_state(), default_source())
        _models[key] = model.eval().requires_grad_(False).to(device)
    return _models[key]


def _pretrained_state() -> dict[str, torch.Tensor]:
    """The converted weights from the cache; where they are missing, damaged or converted from
    another file, converted again from the installed package (about a second) and cached, or
    used from memory when the cache cannot be written."""
    stem = default_out() / "face_descriptor"
    if _converted_from_pinned_source(stem):
        with suppress(UserError):
            return load_tensors(stem.with_suffix(".safetensors"))
    state = converted_state(default_source())
    with suppress(UserError, OSError):
        save_converted(state, stem.parent)
    return state


def _converted_from_pinned_source(stem: Path) -> bool:
    """Whether ``stem.json`` records a conversion of the pinned .dat file."""
    try:
        meta = read_json(stem.with_suffix(".json"))
    except UserError:
        return False
    source = meta.get("source") if meta.get("kind") == "face_descriptor" else None
    return isinstance(source, dict) and source.get("sha256") == MODEL_SHA256 and stem.with_suffix(".safetensors").is_file()


def face_chips(images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dlib's aligned chips of the largest face in each image.

    Args:
        images: uint8 RGB arrays [H, W, 3] (sizes may differ).

    Returns:
        (uint8 chips [M, 150, 150, 3]; int rows [M], the image each chip came from; int [N]
        number of faces detected per image).
    """
    import dlib
    predictor = shape_predictor()
    chips, rows = [], []
    counts = np.zeros(len(images), dtype=np.int64)
    for i, image in enumerate(images):
        image = np.ascontiguousarray(image)
        boxes = detect_faces(Image.fromarray(image))
        counts[i] = len(boxes)
        if boxes:
            b = boxes[0]
            shape = predictor(image, dlib.rectangle(b.left, b.top, b.right, b.bottom))
            chips.append(dlib.get_face_chip(image, shape, size=CHIP_SIZE, padding=0.25))
            rows.append(i)
    stacked = np.stack(chips) if chips else np.zeros((0, CHIP_SIZE, CHIP_SIZE, 3), np.uint8)
    return stacked, np.array(rows, dtype=np.int64), counts


def chip_descriptors(chips: np.ndarray, device: torch.device | str = "cpu", batch: int = 64) -> np.ndarray:
    """Descriptors of face chips: uint8 [M, 150, 150, 3] → float64 [M, 128].

    Raises:
        UserError: the weights are missing (see ``load_face_descriptor``).
    """
    model = load_face_descriptor(device)
    out = [np.zeros((0, 128))]
    with torch.inference_mode():
        for i in range(0, len(chips), batch):
            x = torch.from_numpy(np.ascontiguousarray(chips[i:i + batch])).to(device).permute(0, 3, 1, 2).float() / 255
            out.append(model(x).double().cpu().numpy())
    return np.concatenate(out)
