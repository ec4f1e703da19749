"""Encoder E(image) → W+, the photo half of the autoencoder (encoder + synthesis).

After pSp (Richardson et al., 2021, "Encoding in Style") and e4e (Tov et al., 2021,
"Designing an Encoder for StyleGAN Image Manipulation"): a residual backbone yields a
feature pyramid; map-to-style heads read coarse W+ layers from the smallest features,
middle layers from the middle ones and fine layers from the largest; the output is an
offset from w_avg, so an untrained encoder already decodes to the mean face.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from explorer.nets.layers import EqualizedConv2d, EqualizedLinear
from explorer.nets.stylegan import DiscriminatorBlock


@dataclass(frozen=True)
class EncoderConfig:
    """Everything needed to rebuild an Encoder; saved as JSON beside its weights.

    ``resolution``, ``num_ws`` and ``w_dim`` must match the generator it inverts.
    """

    resolution: int = 64
    num_ws: int = 10
    w_dim: int = 256
    channel_base: int = 2048
    channel_max: int = 256

    def channels(self, res: int) -> int:
        return min(self.channel_base // res, self.channel_max)

    def to_dict(self) -> dict:
        return asdict(self)


class MapToStyle(nn.Module):
    """Strided convolutions from an [N, C, R, R] feature map down to 1×1, then one linear layer
    per W+ layer it serves. Shapes: [N, C, R, R] → [N, count, w_dim]."""

    def __init__(self, channels: int, resolution: int, count: int, w_dim: int):
        super().__init__()
        steps = int(math.log2(resolution))
        self.convs = nn.Sequential(*[EqualizedConv2d(channels, channels, 3, activation="lrelu", down=True)
                                     for _ in range(steps)])
        self.heads = nn.ModuleList([EqualizedLinear(channels, w_dim) for _ in range(count)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.convs(x).flatten(1)                                    # [N, C]
        return torch.stack([head(x) for head in self.heads], dim=1)     # [N, count, w_dim]


class Encoder(nn.Module):
    """Image → W+ offsets from w_avg.

    W+ is split into coarse (the first min(4, ·) layers), middle and fine (the last num_ws // 3)
    groups, read from the backbone's 4×4, 8×8 and 16×16 features respectively.

    Shapes: img [N, 3, R, R] float32 in [-1, 1], w_avg [w_dim] → ws [N, num_ws, w_dim].
    """

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.cfg = cfg
        self.fromrgb = EqualizedConv2d(3, cfg.channels(cfg.resolution), 1, activation="lrelu")
        resolutions = [2 ** i for i in range(int(math.log2(cfg.resolution)), 2, -1)]     # R .. 8
        self.blocks = nn.ModuleList([DiscriminatorBlock(cfg.channels(r), cfg.channels(r // 2)) for r in resolutions])
        fine = cfg.num_ws // 3
        coarse = min(4, cfg.num_ws - 2 * fine)
        middle = cfg.num_ws - coarse - fine
        self.groups = [(4, coarse), (8, middle), (16, fine)]             # (feature resolution, W+ layers)
        self.heads = nn.ModuleList([MapToStyle(cfg.channels(r), r, n, cfg.w_dim) for r, n in self.groups])

    def forward(self, img: torch.Tensor, w_avg: torch.Tensor) -> torch.Tensor:
        features = {}
        x = self.fromrgb(img)
        for block in self.blocks:
            x = block(x)
            features[x.shape[-1]] = x
        deltas = [head(features[r]) for head, (r, _) in zip(self.heads, self.groups)]
        return w_avg + torch.cat(deltas, dim=1)                         # [N, num_ws, w_dim]
