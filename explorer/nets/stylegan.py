"""StyleGAN2 generator (mapping + skip synthesis) and residual discriminator.

Follows Karras et al., 2020, "Analyzing and Improving the Image Quality of StyleGAN"
(config E/F: modulated/demodulated convolutions, skip generator, residual discriminator),
with the naming of the paper. No I/O, no devices, no training logic here.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from explorer.nets.layers import (
    RESAMPLE_MODES,
    EqualizedConv2d,
    EqualizedLinear,
    SynthesisLayer,
    ToRGB,
    downsample2x,
    upsample2x,
)


def check_resolution(resolution: int, smallest: int) -> None:
    """Raise ValueError unless ``resolution`` is a power of two ≥ ``smallest``."""
    if resolution < smallest or resolution & (resolution - 1):
        raise ValueError(f"resolution must be a power of two ≥ {smallest}, got {resolution}")


def num_ws_at(resolution: int) -> int:
    """Number of w vectors in the W+ of a generator of ``resolution``: two per block (conv1 /
    toRGB share with the next conv0), 2 · log2(resolution) − 2."""
    return 2 * (int(math.log2(resolution)) - 1)


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything needed to rebuild a Generator; saved as JSON beside its weights.

    Channels at resolution r are ``min(channel_base // r, channel_max)``. ``resample``: how
    the synthesis layers upsample, one of ``layers.RESAMPLE_MODES`` (see ``ModulatedConv2d``).

    Raises:
        ValueError: ``resolution`` is not a power of two ≥ 4, or an unknown ``resample``.
    """

    resolution: int = 64
    z_dim: int = 256
    w_dim: int = 256
    mapping_layers: int = 8
    mapping_lr_multiplier: float = 0.01
    channel_base: int = 4096
    channel_max: int = 256
    resample: str = "stylegan2"

    def __post_init__(self):
        check_resolution(self.resolution, 4)
        if self.resample not in RESAMPLE_MODES:
            raise ValueError(f"resample must be one of {', '.join(RESAMPLE_MODES)}, got {self.resample!r}")

    def channels(self, res: int) -> int:
        return min(self.channel_base // res, self.channel_max)

    @property
    def num_ws(self) -> int:
        """Number of w vectors in W+ (``num_ws_at``)."""
        return num_ws_at(self.resolution)

    def to_dict(self) -> dict:
        return asdict(self)


def layer_groups(num_ws: int) -> dict[str, range]:
    """The W+ layers by the scale of what they control (Karras et al., 2019, §3: coarse = pose and
    face shape, middle = features and hair style, fine = colour and micro-structure): fine is the
    last ``num_ws // 3`` layers, coarse the first min(4, ·) of the rest, middle what lies between.
    The encoder's map-to-style heads and the morph's per-group timing use this one split.

    Returns {"coarse": range, "middle": range, "fine": range}, in layer order, covering
    range(num_ws) (10 layers: 0–3, 4–6, 7–9).
    """
    fine = num_ws // 3
    coarse = min(4, num_ws - 2 * fine)
    return {"coarse": range(coarse), "middle": range(coarse, num_ws - fine), "fine": range(num_ws - fine, num_ws)}


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Everything needed to rebuild a Discriminator; saved as JSON beside its weights.

    ``resample``: how its strided convolutions downsample (``layers.RESAMPLE_MODES``).

    Raises:
        ValueError: ``resolution`` is not a power of two ≥ 4, or an unknown ``resample``.
    """

    resolution: int = 64
    channel_base: int = 4096
    channel_max: int = 256
    mbstd_group_size: int = 4
    resample: str = "stylegan2"

    def __post_init__(self):
        check_resolution(self.resolution, 4)
        if self.resample not in RESAMPLE_MODES:
            raise ValueError(f"resample must be one of {', '.join(RESAMPLE_MODES)}, got {self.resample!r}")

    def channels(self, res: int) -> int:
        return min(self.channel_base // res, self.channel_max)

    def to_dict(self) -> dict:
        return asdict(self)


class MappingNetwork(nn.Module):
    """z → w: pixel-normalised z through ``mapping_layers`` fully connected leaky-ReLU layers.

    Tracks ``w_avg``, the running mean of w during training (decay ``w_avg_beta``), the centre
    of truncation.

    Shapes: z [N, z_dim] float32 (N(0, I) samples) → w [N, w_dim] float32.
    """

    def __init__(self, cfg: GeneratorConfig, w_avg_beta: float = 0.995):
        super().__init__()
        dims = [cfg.z_dim] + [cfg.w_dim] * cfg.mapping_layers
        self.layers = nn.Sequential(*[
            EqualizedLinear(a, b, lr_multiplier=cfg.mapping_lr_multiplier, activation="lrelu")
            for a, b in itertools.pairwise(dims)
        ])
        self.w_avg_beta = w_avg_beta
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim))

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0) -> torch.Tensor:
        z = z * (z.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()   # pixel norm
        w = self.layers(z)
        if truncation_psi != 1.0:
            w = self.w_avg.lerp(w, truncation_psi)
        return w

    @torch.no_grad()
    def update_w_avg(self, w_mean: torch.Tensor) -> None:
        """One training step's update of ``w_avg`` toward ``w_mean`` [w_dim], the mean w of
        the step's whole minibatch (over all processes)."""
        self.w_avg.copy_(w_mean.to(self.w_avg).lerp(self.w_avg, self.w_avg_beta))


class SynthesisBlock(nn.Module):
    """One resolution of the skip synthesis network.

    The 4×4 block starts from a learned constant and has one layer; every other block
    upsamples (conv0), convolves (conv1) and adds its ToRGB output to the upsampled image.

    Shapes: x [N, C_in, R/2, R/2] (None at 4×4), img [N, 3, R/2, R/2] (None at 4×4),
    ws [N, 3, w_dim] (conv0, conv1, toRGB; the 4×4 block uses ws[:, 1:]) → x [N, C, R, R], img [N, 3, R, R].
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, resample: str):
        super().__init__()
        self.resolution = resolution
        if resolution == 4:
            self.const = nn.Parameter(torch.randn(out_channels, 4, 4))
            self.conv0 = None
        else:
            self.const = None
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True, resample=resample)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution)
        self.torgb = ToRGB(out_channels, w_dim)

    def forward(self, x, img, ws: torch.Tensor, noise_mode: str):
        if self.conv0 is None:
            x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
        else:
            x = self.conv0(x, ws[:, 0], noise_mode)
        x = self.conv1(x, ws[:, 1], noise_mode)
        y = self.torgb(x, ws[:, 2])
        img = y if img is None else upsample2x(img) + y
        return x, img


class SynthesisNetwork(nn.Module):
    """W+ → image: blocks from 4×4 to ``resolution``, skip-connected ToRGB outputs.

    Shapes: ws [N, num_ws, w_dim] float32 → img [N, 3, R, R] float32, roughly in [-1, 1].
    """

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        self.num_ws = cfg.num_ws
        resolutions = [2 ** i for i in range(2, int(math.log2(cfg.resolution)) + 1)]
        self.blocks = nn.ModuleList([
            SynthesisBlock(cfg.channels(max(r // 2, 4)), cfg.channels(r), cfg.w_dim, r, cfg.resample) for r in resolutions
        ])

    def forward(self, ws: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        """``noise_mode``: "random", "const" or "none" (``layers.NoiseInjection``).

        Raises:
            ValueError: ``ws`` is not [N, num_ws, w_dim], or an unknown ``noise_mode``.
        """
        if ws.ndim != 3 or ws.shape[1] != self.num_ws:
            raise ValueError(f"ws must be [N, {self.num_ws}, w_dim], got {list(ws.shape)}")
        x = img = None
        for i, block in enumerate(self.blocks):
            # block i reads ws[2i-1] (conv0), ws[2i] (conv1), ws[2i+1] (toRGB); the 4×4 block has no conv0.
            start = max(2 * i - 1, 0)
            block_ws = ws[:, start:2 * i + 2]
            if i == 0:
                block_ws = torch.cat([block_ws[:, :1], block_ws], dim=1)
            x, img = block(x, img, block_ws, noise_mode)
        return img


class Generator(nn.Module):
    """StyleGAN2 generator: MappingNetwork z → w, broadcast to W+, SynthesisNetwork W+ → image.

    Shapes: z [N, z_dim] float32 → img [N, 3, R, R] float32, roughly in [-1, 1].
    """

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        self.cfg = cfg
        self.num_ws = cfg.num_ws
        self.mapping = MappingNetwork(cfg)
        self.synthesis = SynthesisNetwork(cfg)

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, noise_mode: str = "random") -> torch.Tensor:
        w = self.mapping(z, truncation_psi)                             # [N, w_dim]
        ws = w.unsqueeze(1).repeat(1, self.num_ws, 1)                   # [N, num_ws, w_dim]
        return self.synthesis(ws, noise_mode)


class MinibatchStdLayer(nn.Module):
    """Appends the mean standard deviation over groups of samples as one extra feature map
    (ProGAN §3), letting D see the variety of a batch.

    Groups are runs of consecutive samples, so a minibatch split into per-process or
    accumulation slices (multiples of the group size) is grouped as it would be whole.

    Shapes: [N, C, H, W] → [N, C + 1, H, W]; N need not divide by the group size.
    """

    def __init__(self, group_size: int):
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = math.gcd(self.group_size, n)
        y = x.reshape(-1, g, c, h, w)                                   # [N/G, G, C, H, W]
        y = (y.var(dim=1, unbiased=False) + 1e-8).sqrt()                # [N/G, C, H, W]
        y = y.mean(dim=(1, 2, 3))                                       # [N/G]
        y = y.repeat_interleave(g).reshape(-1, 1, 1, 1).expand(-1, 1, h, w)   # [N, 1, H, W]
        return torch.cat([x, y], dim=1)


class DiscriminatorBlock(nn.Module):
    """Residual block: two 3×3 convolutions (the second downsamples) plus a 1×1 downsampled skip,
    summed and scaled by 1/sqrt(2).

    Shapes: [N, C_in, R, R] → [N, C_out, R/2, R/2].
    """

    def __init__(self, in_channels: int, out_channels: int, resample: str = "stylegan2"):
        super().__init__()
        self.conv0 = EqualizedConv2d(in_channels, in_channels, 3, activation="lrelu")
        self.conv1 = EqualizedConv2d(in_channels, out_channels, 3, activation="lrelu", down=True, resample=resample)
        self.skip = EqualizedConv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skip(downsample2x(x))
        return (self.conv1(self.conv0(x)) + skip) * math.sqrt(0.5)


class Discriminator(nn.Module):
    """StyleGAN2 residual discriminator: FromRGB, residual blocks down to 4×4, then minibatch
    standard deviation, a 3×3 convolution and two fully connected layers.

    Shapes: img [N, 3, R, R] float32 in [-1, 1] → logits [N, 1] (real > 0).
    """

    def __init__(self, cfg: DiscriminatorConfig):
        super().__init__()
        self.cfg = cfg
        top = cfg.channels(cfg.resolution)
        self.fromrgb = EqualizedConv2d(3, top, 1, activation="lrelu")
        resolutions = [2 ** i for i in range(int(math.log2(cfg.resolution)), 2, -1)]
        self.blocks = nn.Sequential(*[DiscriminatorBlock(cfg.channels(r), cfg.channels(r // 2), cfg.resample)
                                      for r in resolutions])
        c4 = cfg.channels(4)
        self.mbstd = MinibatchStdLayer(cfg.mbstd_group_size)
        self.conv = EqualizedConv2d(c4 + 1, c4, 3, activation="lrelu")
        self.fc = EqualizedLinear(c4 * 16, c4, activation="lrelu")
        self.out = EqualizedLinear(c4, 1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.fromrgb(img))                              # [N, C4, 4, 4]
        x = self.conv(self.mbstd(x))                                    # [N, C4, 4, 4]
        return self.out(self.fc(x.flatten(1)))                          # [N, 1]
