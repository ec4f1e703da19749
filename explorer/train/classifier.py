"""Training the attribute classifier that scores generated faces for InterFaceGAN.

One network (``nets.classifier.AttributeClassifier``) learns every label of a dataset zip at
once: which heads it gets is read off dataset.json's labels (``label_heads``). Each head's
loss is averaged over the images that carry that label only, so a row with a missing value
(UTKFace's three rows without race) still teaches the other heads. Losses: Huber (δ = 1) on
regression targets in units of their std, binary cross-entropy on logits, cross-entropy on
categorical logits; the total is the mean over the heads present in the minibatch.

Validation: a fixed share of the dataset is held out by identity when dataset.json has an
"identity" label (CelebA: no person is on both sides), else by source file name (UTKFace): a
row is held out when crc32 of that key mod 100 < ``val_percent``, so the split does not depend
on the order or the size of the dataset. Held-out MAE (regression) or accuracy (binary,
categorical; with the majority-class rate beside it) per attribute is appended to
``metrics.jsonl`` at every snapshot and at the end. Augmentation: random x-flips.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from explorer.data.dataset import (
    VAL_PERCENT,
    ImageDataset,
    read_dataset_meta,
    split_rows,
)
from explorer.errors import UserError
from explorer.netio import save_network
from explorer.nets.classifier import (
    AttributeClassifier,
    AttributeHead,
    ClassifierConfig,
)
from explorer.train import checkpoint
from explorer.train.progress import TrainingProgress, descend
from explorer.weights import describe_device

REGRESSION_LABELS = ("age",)           # years
CATEGORICAL_LABELS = ("race",)         # UTKFace: 0 white, 1 black, 2 asian, 3 indian, 4 other
NOT_ATTRIBUTES = ("file", "identity")
METRICS = "metrics.jsonl"


@dataclass
class ClassifierTrainConfig:
    """Hyper-parameters of a classifier run; saved in its checkpoint."""

    data: str
    batch: int = 64
    lr: float = 0.002
    kimg: float = 200.0
    val_percent: int = VAL_PERCENT
    channel_base: int = 2048
    channel_max: int = 256
    tick_kimg: float = 4.0
    snapshot_kimg: float = 20.0
    seed: int = 0


def label_heads(labels: list[dict]) -> list[AttributeHead]:
    """The heads a dataset's labels call for, in column order: "age" → regression; "race" →
    categorical (classes = largest value + 1); any other label whose values are all 0 or 1 →
    binary. "file", "identity" and other columns (text, other numbers) are not attributes.
    Regression heads get mean 0 and std 1 here (see ``fit_head_scales``)."""
    names = list(dict.fromkeys(k for row in labels for k in row if k not in NOT_ATTRIBUTES))
    heads = []
    for name in names:
        values = [row[name] for row in labels if row.get(name) is not None]
        if not values or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            continue
        if name in REGRESSION_LABELS:
            heads.append(AttributeHead(name, "regression"))
        elif name in CATEGORICAL_LABELS:
            heads.append(AttributeHead(name, "categorical", classes=int(max(values)) + 1))
        elif set(values) <= {0, 1}:
            heads.append(AttributeHead(name, "binary"))
    return heads


def label_targets(labels: list[dict], heads: list[AttributeHead]) -> np.ndarray:
    """Targets float32 [N, len(heads)]: the label value, NaN where missing."""
    return np.array([[np.nan if row.get(h.name) is None else float(row[h.name]) for h in heads] for row in labels],
                    dtype=np.float32).reshape(len(labels), len(heads))


def fit_head_scales(heads: list[AttributeHead], targets: np.ndarray) -> list[AttributeHead]:
    """Regression heads with ``mean`` / ``std`` of their targets [N, H] (NaN ignored)."""
    out = []
    for j, h in enumerate(heads):
        if h.kind == "regression":
            v = targets[:, j][~np.isnan(targets[:, j])]
            h = AttributeHead(h.name, h.kind, mean=float(v.mean()), std=float(max(v.std(), 1e-6)))
        out.append(h)
    return out


def classifier_loss(pred: dict[str, torch.Tensor], targets: torch.Tensor,
                    heads: tuple[AttributeHead, ...]) -> torch.Tensor:
    """Masked multi-task loss: mean over heads with ≥ 1 labelled sample of that head's mean
    loss over its labelled samples. ``targets`` [N, H] float32, NaN = missing. Returns a scalar."""
    losses = []
    for j, h in enumerate(heads):
        mask = ~torch.isnan(targets[:, j])
        if not mask.any():
            continue
        p, t = pred[h.name][mask], targets[mask, j]
        if h.kind == "regression":
            losses.append(F.huber_loss((p - h.mean) / h.std, (t - h.mean) / h.std))
        elif h.kind == "binary":
            losses.append(F.binary_cross_entropy_with_logits(p, t))
        else:
            losses.append(F.cross_entropy(p, t.long()))
    return torch.stack(losses).mean() if losses else pred[heads[0].name].sum() * 0


@torch.no_grad()
def evaluate(net: AttributeClassifier, dataset: ImageDataset, rows: np.ndarray, targets: np.ndarray,
             batch: int = 256) -> dict[str, dict]:
    """Held-out figures per head over ``rows`` of ``dataset`` (``targets`` [N, H] for all rows):
    regression {"mae", "num"} in the label's units; binary and categorical {"accuracy",
    "majority", "num"} (majority: the share of the most common label, the trivial accuracy)."""
    net.eval()
    device = next(net.parameters()).device
    preds: dict[str, list] = {h.name: [] for h in net.cfg.heads}
    for start in range(0, len(rows), batch):
        out = net(dataset.batch(rows[start:start + batch]).to(device))
        for name, p in out.items():
            preds[name].append(p.float().cpu())
    net.train()
    report = {}
    for j, h in enumerate(net.cfg.heads):
        t = torch.from_numpy(targets[rows, j])
        mask = ~torch.isnan(t)
        if not len(rows) or not mask.any():
            report[h.name] = {"num": 0}
            continue
        p, t = torch.cat(preds[h.name])[mask], t[mask]
        if h.kind == "regression":
            report[h.name] = {"mae": round(float((p - t).abs().mean()), 4), "num": int(mask.sum())}
            continue
        guess = (p > 0).float() if h.kind == "binary" else p.argmax(dim=1).float()
        majority = float(torch.unique(t, return_counts=True)[1].max()) / len(t)
        report[h.name] = {"accuracy": round(float((guess == t).float().mean()), 4),
                          "majority": round(majority, 4), "num": int(mask.sum())}
    return report


def train_classifier(cfg: ClassifierTrainConfig, run_dir: Path, *, resume: bool = False, device: str = "cpu") -> Path:
    """Train (or resume) an attribute classifier on the dataset zip ``cfg.data``.

    Writes ``classifier.safetensors``/``.json`` (float32; config with heads, resolution and the
    data's alignment), ``metrics.jsonl`` (held-out figures per snapshot) and ``stats.jsonl``
    into ``run_dir``, with crash-safe checkpoints. Returns ``run_dir``.

    Raises:
        UserError: bad data, a dataset without attribute labels or without training or
            held-out rows, a checkpoint mismatch, or a non-finite loss.
    """
    run_dir = Path(run_dir)
    if not 0 < cfg.val_percent < 100:
        raise UserError(f"val_percent must be in (0, 100), got {cfg.val_percent}")
    meta = read_dataset_meta(Path(cfg.data))
    dataset = ImageDataset(Path(cfg.data))
    heads = label_heads(dataset.labels)
    if not heads:
        raise UserError(f"{cfg.data}: dataset.json has no attribute labels (build it with --labels CSV)")
    train_rows, val_rows, split_key = split_rows(dataset.labels, cfg.val_percent)
    if not len(train_rows) or not len(val_rows):
        raise UserError(f"{cfg.data}: {len(dataset)} images leave {len(train_rows)} for training and "
                        f"{len(val_rows)} held out; use more images")
    checkpoint.check_run_dir(run_dir, resume)
    run_dir.mkdir(parents=True, exist_ok=True)
    targets = label_targets(dataset.labels, heads)
    ccfg = ClassifierConfig(resolution=dataset.resolution, heads=tuple(fit_head_scales(heads, targets[train_rows])),
                            alignment=meta.get("alignment", "none"), source=str(meta.get("source", "")),
                            channel_base=cfg.channel_base, channel_max=cfg.channel_max)
    dev = torch.device(device)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    net = AttributeClassifier(ccfg).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
    progress = {"nimg": 0, "step": 0}
    if resume:
        progress = checkpoint.load_checkpoint(run_dir, {"C": net}, {"opt_C": opt}, rng)["progress"]
    all_targets = torch.from_numpy(targets)

    def snapshot() -> None:
        report = {"kimg": round(progress["nimg"] / 1000, 3), "split": split_key, "num_val": len(val_rows),
                  "attributes": evaluate(net, dataset, val_rows, targets)}
        with open(run_dir / METRICS, "a") as f:
            f.write(json.dumps(report) + "\n")
        save_network(net, run_dir / "classifier", "classifier", ccfg.to_dict())
        checkpoint.save_checkpoint(run_dir, {"C": net}, {"opt_C": opt}, asdict(cfg), progress, rng,
                                   describe_device(dev))

    with TrainingProgress(run_dir, progress["nimg"], cfg.kimg, cfg.tick_kimg, cfg.snapshot_kimg, "loss") as bar:
        while progress["nimg"] < bar.total:
            idx = train_rows[rng.integers(0, len(train_rows), cfg.batch)]
            images = dataset.batch(idx).to(dev)
            flip = torch.from_numpy(rng.random(cfg.batch) < 0.5).to(dev).view(-1, 1, 1, 1)
            images = torch.where(flip, images.flip(3), images)
            loss = classifier_loss(net(images), all_targets[idx].to(dev), ccfg.heads)
            descend(opt, loss, run_dir, progress, cfg.batch)
            if bar.step(progress["nimg"], loss=loss.item()):
                snapshot()
    return run_dir
