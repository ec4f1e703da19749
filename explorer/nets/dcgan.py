"""DCGAN generator and discriminator, the baseline the StyleGAN2 networks are measured against.

Follows Radford et al., 2016, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks" (§3 architecture guidelines, §4 training details): strided
(transposed) convolutions instead of pooling, batch normalisation everywhere but the generator
output and the discriminator input, ReLU in G with a tanh output, LeakyReLU(0.2) in D, and
weights drawn from N(0, 0.02). No I/O, no devices, no training logic here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class DCGANConfig:
    """Everything needed to rebuild a DCGAN generator or discriminator; saved as JSON beside its weights.

    ``channels`` is the paper's ngf / ndf: the width next to the image. Channels double at every
    halving of the resolution, so at resolution r they are ``channels * resolution // (2 r)``
    (8 · channels at 4×4 for a 64² network, as in the paper).

    Raises:
        ValueError: ``resolution`` is not a power of two ≥ 16.
    """

    resolution: int = 64
    z_dim: int = 100
    channels: int = 64

    def __post_init__(self):
        log2 = math.log2(self.resolution)
        if self.resolution < 16 or log2 != int(log2):
            raise ValueError(f"resolution must be a power of two ≥ 16, got {self.resolution}")

    def channels_at(self, res: int) -> int:
        """Feature maps at resolution ``res`` (4 ≤ res ≤ resolution / 2)."""
        return self.channels * self.resolution // (2 * res)

    def to_dict(self) -> dict:
        return asdict(self)


def _init_weights(module: nn.Module) -> None:
    """The paper's initialisation: conv weights N(0, 0.02); batch-norm scale N(1, 0.02), shift 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    """z → image through transposed convolutions: 1×1 → 4×4, then ×2 per block up to R.

    Each block is ConvTranspose2d(4×4, stride 2) + BatchNorm + ReLU, halving the channels; the
    last layer maps to RGB with tanh and has no batch norm.

    Shapes: z [N, z_dim] float32 (N(0, I) samples) → img [N, 3, R, R] float32 in [-1, 1].
    Batch norm makes the output of one sample depend on the batch in training mode.
    """

    def __init__(self, cfg: DCGANConfig):
        super().__init__()
        self.cfg = cfg
        c4 = cfg.channels_at(4)
        layers = [nn.ConvTranspose2d(cfg.z_dim, c4, 4, 1, 0, bias=False), nn.BatchNorm2d(c4), nn.ReLU(True)]
        res = 4
        while res < cfg.resolution // 2:
            c_in, c_out = cfg.channels_at(res), cfg.channels_at(2 * res)
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
            res *= 2
        layers += [nn.ConvTranspose2d(cfg.channels, 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.apply(_init_weights)

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, noise_mode: str = "random") -> torch.Tensor:
        """Same call as the StyleGAN2 ``Generator``. ``noise_mode`` is accepted and ignored: DCGAN
        has no per-pixel noise inputs.

        Raises:
            ValueError: ``truncation_psi`` != 1; truncation is defined in W, which DCGAN lacks.
        """
        if truncation_psi != 1.0:
            raise ValueError("DCGAN has no W space; truncation needs a StyleGAN generator")
        x = z.reshape(z.shape[0], self.cfg.z_dim, 1, 1)                 # [N, z_dim, 1, 1]
        return self.main(x)                                             # [N, 3, R, R]


class DCGANDiscriminator(nn.Module):
    """Image → real/fake logit through strided convolutions, mirroring the generator.

    Conv(4×4, stride 2) + LeakyReLU(0.2) without batch norm on the first layer, then
    Conv + BatchNorm + LeakyReLU blocks doubling the channels down to 4×4, then a 4×4
    convolution to one logit. No sigmoid: the training losses take logits.

    Shapes: img [N, 3, R, R] float32 in [-1, 1] → logits [N, 1] (real > 0).
    """

    def __init__(self, cfg: DCGANConfig):
        super().__init__()
        self.cfg = cfg
        layers = [nn.Conv2d(3, cfg.channels, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        res = cfg.resolution // 2
        while res > 4:
            c_in, c_out = cfg.channels_at(res), cfg.channels_at(res // 2)
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2, True)]
            res //= 2
        layers += [nn.Conv2d(cfg.channels_at(4), 1, 4, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)
        self.apply(_init_weights)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.main(img).flatten(1)                                # [N, 1, 1, 1] → [N, 1]
