"""Encoder E(image) → W+, the photo half of the autoencoder (encoder + synthesis).

After pSp (Richardson et al., 2021, "Encoding in Style") and e4e (Tov et al., 2021,
"Designing an Encoder for StyleGAN Image Manipulation"): a residual backbone yields a
feature pyramid; map-to-style heads read coarse W+ layers from the smallest features,
middle layers from the middle ones and fine layers from the largest; the output is an
offset from w_avg, so an untrained encoder already decodes to the mean face.

A variational encoder (``EncoderConfig.variational``) also predicts a diagonal Gaussian's
log-variance for each W+ element, making E a VAE's q(W+ | x) (Kingma & Welling, 2014); it is
a baseline for the deterministic pSp/e4e encoder and only training reads the variance.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from explorer.nets.layers import RESAMPLE_MODES, EqualizedConv2d, EqualizedLinear
from explorer.nets.stylegan import DiscriminatorBlock, check_resolution, layer_groups, num_ws_at


@dataclass(frozen=True)
class EncoderConfig:
    """Everything needed to rebuild an Encoder; saved as JSON beside its weights.

    ``resolution``, ``num_ws`` and ``w_dim`` must match the generator it inverts.
    ``variational`` adds the log-variance heads (``logvar_heads`` in every MapToStyle).
    ``resample``: how its strided convolutions downsample (``layers.RESAMPLE_MODES``).

    Raises:
        ValueError: ``resolution`` is not a power of two ≥ 32 (the fine W+ layers are read from
            16×16 features, after at least one downsampling block), or ``num_ws`` is not that
            of a generator of ``resolution`` (``stylegan.num_ws_at``), or an unknown ``resample``.
    """

    resolution: int = 64
    num_ws: int = 10
    w_dim: int = 256
    channel_base: int = 2048
    channel_max: int = 256
    variational: bool = False
    resample: str = "stylegan2"

    def __post_init__(self):
        check_resolution(self.resolution, 32)
        if self.num_ws != num_ws_at(self.resolution):
            raise ValueError(f"num_ws must be {num_ws_at(self.resolution)} at resolution {self.resolution} "
                             f"(the generator's W+), got {self.num_ws}")
        if self.resample not in RESAMPLE_MODES:
            raise ValueError(f"resample must be one of {', '.join(RESAMPLE_MODES)}, got {self.resample!r}")

    def channels(self, res: int) -> int:
        return min(self.channel_base // res, self.channel_max)

    def to_dict(self) -> dict:
        return asdict(self)


class MapToStyle(nn.Module):
    """Strided convolutions from an [N, C, R, R] feature map down to 1×1, then one linear layer
    per W+ layer it serves; with ``variational``, a second linear layer per W+ layer for the
    log-variance.

    Shapes: [N, C, R, R] → (mean [N, count, w_dim], logvar [N, count, w_dim] or None).
    """

    def __init__(self, channels: int, resolution: int, count: int, w_dim: int, variational: bool, resample: str):
        super().__init__()
        steps = int(math.log2(resolution))
        self.convs = nn.Sequential(*[EqualizedConv2d(channels, channels, 3, activation="lrelu", down=True,
                                                     resample=resample) for _ in range(steps)])
        self.heads = nn.ModuleList([EqualizedLinear(channels, w_dim) for _ in range(count)])
        self.logvar_heads = (nn.ModuleList([EqualizedLinear(channels, w_dim) for _ in range(count)])
                             if variational else None)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = self.convs(x).flatten(1)                                    # [N, C]
        mean = torch.stack([head(x) for head in self.heads], dim=1)     # [N, count, w_dim]
        if self.logvar_heads is None:
            return mean, None
        return mean, torch.stack([head(x) for head in self.logvar_heads], dim=1)


class Encoder(nn.Module):
    """Image → W+ offsets from w_avg.

    W+ is split into coarse, middle and fine layers (``stylegan.layer_groups``), read from the
    backbone's 4×4, 8×8 and 16×16 features respectively.

    ``forward`` gives the (mean) W+ code, which is what inference uses; a variational encoder's
    ``encode_distribution`` adds the log-variance for training.

    Shapes: img [N, 3, R, R] float32 in [-1, 1], w_avg [w_dim] → ws [N, num_ws, w_dim].
    """

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.cfg = cfg
        self.fromrgb = EqualizedConv2d(3, cfg.channels(cfg.resolution), 1, activation="lrelu")
        resolutions = [2 ** i for i in range(int(math.log2(cfg.resolution)), 2, -1)]     # R .. 8
        self.blocks = nn.ModuleList([DiscriminatorBlock(cfg.channels(r), cfg.channels(r // 2), cfg.resample)
                                     for r in resolutions])
        layers = layer_groups(cfg.num_ws)
        self.groups = [(r, len(layers[name])) for r, name in ((4, "coarse"), (8, "middle"), (16, "fine"))]
        self.heads = nn.ModuleList([MapToStyle(cfg.channels(r), r, n, cfg.w_dim, cfg.variational, cfg.resample)
                                    for r, n in self.groups])

    def _encode(self, img: torch.Tensor, w_avg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        features = {}
        x = self.fromrgb(img)
        for block in self.blocks:
            x = block(x)
            features[x.shape[-1]] = x
        outputs = [head(features[r]) for head, (r, _) in zip(self.heads, self.groups)]
        ws = w_avg + torch.cat([mean for mean, _ in outputs], dim=1)   # [N, num_ws, w_dim]
        if not self.cfg.variational:
            return ws, None
        return ws, torch.cat([logvar for _, logvar in outputs], dim=1)  # [N, num_ws, w_dim]

    def forward(self, img: torch.Tensor, w_avg: torch.Tensor) -> torch.Tensor:
        return self._encode(img, w_avg)[0]

    def encode_distribution(self, img: torch.Tensor, w_avg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(W+ | img) = N(mean, diag(exp(logvar))), a diagonal Gaussian per W+ element.

        Shapes: img [N, 3, R, R] float32 in [-1, 1], w_avg [w_dim] → (mean, logvar), both
        [N, num_ws, w_dim]; mean is what ``forward`` returns.

        Raises:
            ValueError: the encoder is not variational.
        """
        if not self.cfg.variational:
            raise ValueError("encode_distribution needs an encoder built with variational=True")
        return self._encode(img, w_avg)
