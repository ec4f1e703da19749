"""LPIPS v0.1, the learned perceptual image patch similarity (Zhang et al., 2018, "The
Unreasonable Effectiveness of Deep Features as a Perceptual Metric").

Both images pass through an ImageNet trunk (AlexNet, Krizhevsky et al., 2012, or VGG16,
Simonyan & Zisserman, 2015) after the LPIPS scaling layer; at five ReLU outputs the features
are unit-normalised along channels, their squared difference is weighted per channel by a
learned 1×1 "linear head" (no bias), averaged over space and summed over the five layers.

Pure torch, no weights: ``explorer.metrics.lpips.load_lpips`` loads the converted v0.1 weights
(``explorer.metrics.lpips_convert``). State-dict names: ``trunk.convs.{i}.weight/bias`` and
``heads.{k}.weight`` ([1, C_k, 1, 1]).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# (out channels, kernel, stride, padding, max-pool 3/2 before this conv) of AlexNet's features.
_ALEX = [(64, 11, 4, 2, False), (192, 5, 1, 2, True), (384, 3, 1, 1, True), (256, 3, 1, 1, False),
         (256, 3, 1, 1, False)]
# VGG16's 13 convs (3×3, padding 1); "M" is a 2×2 max-pool; LPIPS taps relu1_2, 2_2, 3_3, 4_3, 5_3.
_VGG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
_VGG_TAPS = (1, 3, 6, 9, 12)
NETS = ("alex", "vgg")
MIN_SIZE = {"alex": 32, "vgg": 16}  # smallest input side the trunks' pooling allows


class AlexNetTrunk(nn.Module):
    """AlexNet's convolutional part; returns the five ReLU outputs (64, 192, 384, 256, 256 channels)."""

    channels = tuple(c for c, *_ in _ALEX)

    def __init__(self):
        super().__init__()
        convs, cin = [], 3
        for cout, k, s, p, _ in _ALEX:
            convs.append(nn.Conv2d(cin, cout, k, stride=s, padding=p))
            cin = cout
        self.convs = nn.ModuleList(convs)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for conv, (*_, pool) in zip(self.convs, _ALEX):
            if pool:
                x = F.max_pool2d(x, 3, 2)
            x = F.relu(conv(x))
            feats.append(x)
        return feats


class VGG16Trunk(nn.Module):
    """VGG16's 13 convolutions; returns relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
    (64, 128, 256, 512, 512 channels)."""

    channels = (64, 128, 256, 512, 512)

    def __init__(self):
        super().__init__()
        convs, cin = [], 3
        for v in _VGG:
            if v != "M":
                convs.append(nn.Conv2d(cin, v, 3, padding=1))
                cin = v
        self.convs = nn.ModuleList(convs)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats, i = [], 0
        for v in _VGG:
            if v == "M":
                x = F.max_pool2d(x, 2, 2)
                continue
            x = F.relu(self.convs[i](x))
            if i in _VGG_TAPS:
                feats.append(x)
            i += 1
        return feats


class LPIPS(nn.Module):
    """LPIPS v0.1 distance between image pairs.

    Args:
        net: "alex" or "vgg" (the trunk).

    Forward: ``x0``, ``x1`` float [N, 3, H, W] in [-1, 1] (RGB), H and W at least
    ``MIN_SIZE[net]`` → float [N], about 0 (same image) to ~1. Differentiable, so it also
    serves as a training loss.

    Raises:
        ValueError: an unknown net, mismatched shapes or images smaller than ``MIN_SIZE[net]``.
    """

    def __init__(self, net: str = "alex"):
        super().__init__()
        if net not in NETS:
            raise ValueError(f"net must be one of {NETS}, got {net!r}")
        self.net = net
        self.trunk = AlexNetTrunk() if net == "alex" else VGG16Trunk()
        self.heads = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in self.trunk.channels)
        # The LPIPS scaling layer: maps [-1, 1] inputs to the trunk's ImageNet normalisation.
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1), persistent=False)

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        if x0.shape != x1.shape:
            raise ValueError(f"expected two [N, 3, H, W] batches of one shape, got {list(x0.shape)} and {list(x1.shape)}")
        n = x0.shape[0]
        feats = self.features(torch.cat([x0, x1]))
        return self.distance([f[:n] for f in feats], [f[n:] for f in feats])

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The five unit-normalised trunk activations of float [N, 3, H, W] images in [-1, 1]
        (e.g. [N, 64, H/4, W/4] first for AlexNet): compute a fixed target's once when it is
        compared many times (projection), then call ``distance``.

        Raises:
            ValueError: not [N, 3, H, W], or smaller than ``MIN_SIZE[net]``.
        """
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected [N, 3, H, W] images, got {list(x.shape)}")
        if min(x.shape[2:]) < MIN_SIZE[self.net]:
            raise ValueError(f"LPIPS-{self.net} needs images of at least {MIN_SIZE[self.net]} px, "
                             f"got {list(x.shape[2:])}")
        x = (x - self.shift) / self.scale
        return [f / (f.square().sum(dim=1, keepdim=True).sqrt() + 1e-10) for f in self.trunk(x)]

    def distance(self, f0: list[torch.Tensor], f1: list[torch.Tensor]) -> torch.Tensor:
        """LPIPS from two images' ``features`` (batches of one size, or one broadcast) → float [N]."""
        return sum(head((a - b).square()).mean(dim=(1, 2, 3)) for a, b, head in zip(f0, f1, self.heads))
