"""dlib's face descriptor network in PyTorch: the 29-convolution ResNet (He et al., 2016, "Deep
Residual Learning for Image Recognition") that Davis King trained with a metric loss to map an
aligned 150×150 face chip to a 128-D descriptor; two faces are the same person when their
descriptors are less than 0.6 apart (dlib's ``dlib_face_recognition_resnet_model_v1``, CC0).

The layout follows dlib's definition (``dnn_face_recognition_ex.cpp``): a 7×7/2 stem and a 3×3/2
max-pool, then residual stages of 32, 64, 128, 256 and 256 channels. A downsampling block's
shortcut is a 2×2/2 average pool of its input, and the sum is taken as dlib takes it: where the
branch and the shortcut differ in channels or size, the smaller one is zero-padded at the end.
Convolutions with stride 2 have no padding (dlib's default), so sizes run
150 → 72 → 35 → 35 → 17 → 8 → 4 → 2. dlib's affine layers (frozen batch norm) are folded into the
convolutions before them, so every convolution here has a bias.

Pure torch, no weights: ``explorer.metrics.face_descriptor`` loads the converted weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CHIP_SIZE = 150
MIN_CHIP_SIZE = 103  # below it the last downsampling block's 3×3 convolution has no room
DESCRIPTOR_DIM = 128
SAME_PERSON_DISTANCE = 0.6  # dlib's threshold on the Euclidean distance of two descriptors
# dlib's input layer: RGB means in 0–255 units, subtracted before dividing by 256.
INPUT_MEAN = (122.782, 117.001, 104.298)
# (channels, blocks, first block downsamples) of the residual stages, input side first.
STAGES = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))


def add_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a + b`` for [N, C, H, W] tensors that may differ in C, H and W, as dlib's ``add_prev``:
    the result has the larger of each size and each operand is zero-padded at the end."""
    size = [max(x, y) for x, y in zip(a.shape[1:], b.shape[1:])]

    def pad(t: torch.Tensor) -> torch.Tensor:
        c, h, w = t.shape[1:]
        return F.pad(t, (0, size[2] - w, 0, size[1] - h, 0, size[0] - c))

    return pad(a) + pad(b)


class ResidualBlock(nn.Module):
    """conv 3×3 → ReLU → conv 3×3, plus the shortcut, then ReLU (dlib's ``ares`` and ``ares_down``).

    A downsampling block's first convolution has stride 2 and no padding, and its shortcut is a
    2×2/2 average pool: [N, C_in, H, W] → [N, C_out, ⌊H/2⌋, ⌊W/2⌋] (see ``add_padded``).
    """

    def __init__(self, in_channels: int, out_channels: int, down: bool):
        super().__init__()
        self.down = down
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=2 if down else 1, padding=0 if down else 1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(F.relu(self.conv1(x)))
        shortcut = F.avg_pool2d(x, 2) if self.down else x
        return F.relu(add_padded(y, shortcut))


class FaceDescriptorNet(nn.Module):
    """Aligned face chips → 128-D face descriptors (dlib's ResNet).

    Input: [N, 3, 150, 150] float32 RGB in [0, 1], chips cut as dlib's ``get_face_chip`` cuts
    them (5 or 68 landmarks, padding 0.25). Output: [N, 128] float32 descriptors, not normalised
    (their norms are close to 1); same person when the Euclidean distance is below 0.6.
    Differentiable, so it serves as an identity loss too.

    Raises:
        ValueError: the input is not [N, 3, H, W] with H, W ≥ 103 (the smallest chip whose last
            stride-2 convolution still has a 3×3 input).
    """

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(INPUT_MEAN).view(1, 3, 1, 1) / 255.0, persistent=False)
        self.stem = nn.Conv2d(3, 32, 7, stride=2)
        blocks, channels = [], 32
        for out_channels, count, down in STAGES:
            for i in range(count):
                blocks.append(ResidualBlock(channels, out_channels, down and i == 0))
                channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(channels, DESCRIPTOR_DIM, bias=False)

    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        if chips.ndim != 4 or chips.shape[1] != 3 or min(chips.shape[2:]) < MIN_CHIP_SIZE:
            raise ValueError(f"face chips must be [N, 3, H, W] with H, W >= {MIN_CHIP_SIZE}, got {list(chips.shape)}")
        x = (chips - self.mean) * (255.0 / 256.0)  # dlib: (pixel − mean) / 256 in 0–255 units
        x = F.max_pool2d(F.relu(self.stem(x)), 3, stride=2)  # [N, 32, 35, 35] for 150² chips
        x = self.blocks(x)  # [N, 256, 2, 2]
        return self.fc(x.mean(dim=(2, 3)))  # [N, 128]
