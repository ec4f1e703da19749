"""Attribute classifier: one residual CNN, one output head per face attribute.

The backbone is the StyleGAN2 residual discriminator's (Karras et al., 2020): FromRGB, residual
blocks (``DiscriminatorBlock``) down to 4×4, a 3×3 convolution and a fully connected layer,
without minibatch standard deviation (each face is scored alone). One linear layer then gives
every head its outputs:

- "regression" (e.g. age in years): one value, ``mean + std · output``, so the layer works at
  unit scale whatever the units;
- "binary" (e.g. gender, CelebA's Smiling): one logit, > 0 for label 1;
- "categorical" (e.g. race): ``classes`` logits for a softmax.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from explorer.nets.layers import EqualizedConv2d, EqualizedLinear
from explorer.nets.stylegan import DiscriminatorBlock

HEAD_KINDS = ("regression", "binary", "categorical")


@dataclass(frozen=True)
class AttributeHead:
    """One attribute the classifier predicts: its dataset.json label ``name``, ``kind`` (one of
    ``HEAD_KINDS``), ``classes`` (categorical only) and the label's ``mean`` / ``std`` over the
    training split (regression only)."""

    name: str
    kind: str
    classes: int = 2
    mean: float = 0.0
    std: float = 1.0

    def __post_init__(self):
        if self.kind not in HEAD_KINDS:
            raise ValueError(f"head {self.name!r}: kind must be one of {', '.join(HEAD_KINDS)}, got {self.kind!r}")
        if self.kind == "categorical" and self.classes < 2:
            raise ValueError(f"head {self.name!r}: a categorical head needs ≥ 2 classes, got {self.classes}")
        if self.std <= 0:
            raise ValueError(f"head {self.name!r}: std must be > 0, got {self.std}")

    @property
    def outputs(self) -> int:
        return self.classes if self.kind == "categorical" else 1


@dataclass(frozen=True)
class ClassifierConfig:
    """Everything needed to rebuild an AttributeClassifier; saved as JSON beside its weights.

    ``alignment`` is the dataset.json "alignment" of the faces it was trained on ("none" or a
    ``faces.ALIGNMENTS`` method) and ``source`` their dataset's source name: it scores faces
    framed that way. Channels at resolution r are ``min(channel_base // r, channel_max)``.
    """

    resolution: int
    heads: tuple[AttributeHead, ...]
    alignment: str = "none"
    source: str = ""
    channel_base: int = 2048
    channel_max: int = 256

    def __post_init__(self):
        log2 = math.log2(self.resolution)
        if self.resolution < 4 or log2 != int(log2):
            raise ValueError(f"resolution must be a power of two ≥ 4, got {self.resolution}")
        heads = tuple(h if isinstance(h, AttributeHead) else AttributeHead(**h) for h in self.heads)
        if not heads:
            raise ValueError("a classifier needs at least one head")
        if len({h.name for h in heads}) != len(heads):
            raise ValueError("head names must be unique")
        object.__setattr__(self, "heads", heads)

    def channels(self, res: int) -> int:
        return min(self.channel_base // res, self.channel_max)

    def head(self, name: str) -> AttributeHead | None:
        """The head predicting label ``name``, or None."""
        return next((h for h in self.heads if h.name == name), None)

    def to_dict(self) -> dict:
        return asdict(self)


class AttributeClassifier(nn.Module):
    """Faces → per-attribute predictions.

    Shapes: img [N, 3, R, R] float32 in [-1, 1], R = ``cfg.resolution`` → {head name: [N]
    (regression in the label's units, binary logit) or [N, classes] (categorical logits)}.
    """

    def __init__(self, cfg: ClassifierConfig):
        super().__init__()
        self.cfg = cfg
        self.fromrgb = EqualizedConv2d(3, cfg.channels(cfg.resolution), 1, activation="lrelu")
        resolutions = [2 ** i for i in range(int(math.log2(cfg.resolution)), 2, -1)]
        self.blocks = nn.Sequential(*[DiscriminatorBlock(cfg.channels(r), cfg.channels(r // 2)) for r in resolutions])
        c4 = cfg.channels(4)
        self.conv = EqualizedConv2d(c4, c4, 3, activation="lrelu")
        self.fc = EqualizedLinear(c4 * 16, c4, activation="lrelu")
        self.out = EqualizedLinear(c4, sum(h.outputs for h in cfg.heads))

    def forward(self, img: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.conv(self.blocks(self.fromrgb(img)))                  # [N, C4, 4, 4]
        raw = self.out(self.fc(x.flatten(1)))                           # [N, sum outputs]
        out, start = {}, 0
        for h in self.cfg.heads:
            y = raw[:, start:start + h.outputs]
            start += h.outputs
            if h.kind == "categorical":
                out[h.name] = y
            elif h.kind == "regression":
                out[h.name] = h.mean + h.std * y[:, 0]
            else:
                out[h.name] = y[:, 0]
        return out
