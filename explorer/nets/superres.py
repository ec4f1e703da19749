"""Face super-resolution: a small residual network that doubles a face image's side.

After EDSR (Lim et al., 2017, "Enhanced Deep Residual Networks for Single Image
Super-Resolution"): residual blocks of two 3×3 convolutions without batch normalization, with
the residual scaled down before it is added; a global skip over the blocks; sub-pixel
convolution for the upsampling (Shi et al., 2016, "Real-Time Single Image and Video
Super-Resolution Using an Efficient Sub-Pixel Convolutional Neural Network"). As in VDSR (Kim
et al., 2016) the network predicts only the detail missing from a bicubic enlargement, so an
untrained one already upsamples bicubically. All convolutions run at the input's resolution;
only the pixel shuffle and the last 3×3 convolution see the output's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

RESIDUAL_SCALE = 0.1  # EDSR's residual scaling, which keeps deep stacks stable without normalization


@dataclass(frozen=True)
class SuperResolutionConfig:
    """Everything needed to rebuild a FaceSuperResolution; saved as JSON beside its weights.

    ``resolution``: the side of the images it enlarges (the generator's); it makes
    ``2 · resolution``² images. ``channels`` and ``blocks``: the width and depth of the
    residual trunk. ``alignment`` and ``source``: the dataset.json facts of the faces it
    learned from.
    """

    resolution: int = 64
    channels: int = 48
    blocks: int = 8
    alignment: str = "none"
    source: str = ""

    def __post_init__(self):
        if self.resolution < 4:
            raise ValueError(f"resolution must be ≥ 4, got {self.resolution}")
        if self.channels < 1 or self.blocks < 0:
            raise ValueError(f"channels must be ≥ 1 and blocks ≥ 0, got {self.channels} and {self.blocks}")

    def to_dict(self) -> dict:
        return asdict(self)


class ResidualBlock(nn.Module):
    """x + 0.1 · conv(lrelu(conv(x))), 3×3 convolutions: [N, C, H, W] → same."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv0 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + RESIDUAL_SCALE * self.conv1(F.leaky_relu(self.conv0(x), 0.2))


class FaceSuperResolution(nn.Module):
    """2× face super-resolution.

    Shapes: float32 [N, 3, R, R] in [-1, 1] (R = ``cfg.resolution``) → [N, 3, 2R, 2R], about
    [-1, 1] (not clamped).
    """

    def __init__(self, cfg: SuperResolutionConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg.channels
        self.head = nn.Conv2d(3, c, 3, padding=1)
        self.blocks = nn.Sequential(*(ResidualBlock(c) for _ in range(cfg.blocks)))
        self.trunk_out = nn.Conv2d(c, c, 3, padding=1)
        self.upsample = nn.Conv2d(c, 4 * c, 3, padding=1)        # then pixel shuffle: 4C × R² → C × (2R)²
        self.to_rgb = nn.Conv2d(c, 3, 3, padding=1)
        nn.init.zeros_(self.to_rgb.weight)                        # starts as the bicubic enlargement
        nn.init.zeros_(self.to_rgb.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.head(x)                                   # [N, C, R, R]
        features = features + self.trunk_out(self.blocks(features))
        detail = F.leaky_relu(F.pixel_shuffle(self.upsample(features), 2), 0.2)   # [N, C, 2R, 2R]
        base = F.interpolate(x, scale_factor=2.0, mode="bicubic", align_corners=False)
        return base + self.to_rgb(detail)                         # [N, 3, 2R, 2R]
