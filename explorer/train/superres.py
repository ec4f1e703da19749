"""Training the 2× face super-resolution network (``nets.superres``) on real faces.

Pairs are made from one dataset zip of 2R² faces (``explorer dataset build … --resolution
128`` for the 64² generator): each face is shrunk to R² with Lanczos, as ``dataset build``
shrinks UTKFace's photos for the generator's own training data, and the network learns to
give the face back at 2R². The generator's faces are softer than the photos it learned from
(their Laplacian energy is that of the photos blurred by σ ≈ 0.45 px at 64², ψ 0.7), so each
input is blurred by a Gaussian of σ ~ U(0, ``blur``) px first, as Real-ESRGAN degrades its
inputs (Wang et al., 2021): the network learns to sharpen such faces, not only to enlarge
them. It trains on random crops (``crop``² inputs, x-flipped at random) with L1 +
``lpips_weight`` · LPIPS-AlexNet, Adam; the held-out photos (``holdout_split``, the
same ones the generator never saw) are scored at every snapshot against Lanczos and bicubic
enlargement, the resampling exports used before, in ``metrics.jsonl``: L1, PSNR (dB, on
[0, 255]) and LPIPS-alex on whole faces.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from explorer.atomic import replace_file
from explorer.data.dataset import VAL_PERCENT, ImageDataset, holdout_split, read_dataset_meta
from explorer.errors import UserError
from explorer.images import image_grid, to_uint8
from explorer.metrics.lpips import load_lpips
from explorer.netio import save_network
from explorer.nets.lpips import MIN_SIZE
from explorer.nets.superres import FaceSuperResolution, SuperResolutionConfig
from explorer.train import checkpoint
from explorer.train.progress import TrainingProgress, descend
from explorer.weights import describe_device

METRICS = "metrics.jsonl"
NUM_VAL = 256  # held-out faces scored per snapshot


@dataclass
class SuperResTrainConfig:
    """Hyper-parameters of a super-resolution run; saved in its checkpoint. ``crop``: the side
    of the low-resolution training crops in px (the targets are twice that); ``blur``: the
    largest σ, in input px, of the Gaussian blur on training inputs."""

    data: str
    batch: int = 16
    lr: float = 0.0005
    kimg: float = 60.0
    crop: int = 32
    blur: float = 0.8
    lpips_weight: float = 0.1
    channels: int = 48
    blocks: int = 8
    val_percent: int = VAL_PERCENT
    tick_kimg: float = 1.0
    snapshot_kimg: float = 10.0
    seed: int = 0


def shrink(dataset: ImageDataset) -> np.ndarray:
    """A dataset's faces halved with Lanczos (Pillow): uint8 [N, 3, R, R] for faces of 2R²."""
    side = dataset.resolution // 2
    return np.stack([np.asarray(Image.fromarray(dataset[i].numpy().transpose(1, 2, 0))
                                .resize((side, side), Image.Resampling.LANCZOS)).transpose(2, 0, 1)
                     for i in range(len(dataset))])


def lanczos_enlarge(images: torch.Tensor) -> torch.Tensor:
    """Double float faces [N, 3, R, R] in [-1, 1] with Lanczos (Pillow, on uint8) → [N, 3, 2R, 2R]."""
    side = images.shape[-1] * 2
    big = [np.asarray(Image.fromarray(im).resize((side, side), Image.Resampling.LANCZOS)) for im in to_uint8(images)]
    return torch.from_numpy(np.stack(big)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Blur each image of float [N, C, H, W] by a separable Gaussian of its own ``sigma`` [N] px
    (5 taps, reflected borders; σ → 0 leaves it as it is): → [N, C, H, W]."""
    n, c, h, w = images.shape
    taps = torch.arange(-2, 3, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-taps.square() / (2 * sigma.clamp_min(1e-3).to(images)[:, None].square()))   # [N, 5]
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0)[:, None, None]  # [N·C, 1, 1, 5]
    x = F.pad(images.reshape(1, n * c, h, w), [2, 2, 2, 2], mode="reflect")
    x = F.conv2d(F.conv2d(x, kernel, groups=n * c), kernel.transpose(2, 3), groups=n * c)
    return x.reshape(n, c, h, w)


def _to_float(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).float().div_(127.5).sub_(1.0)


@torch.no_grad()
def evaluate(net: FaceSuperResolution, low: torch.Tensor, high: torch.Tensor, lpips) -> dict[str, dict]:
    """L1, PSNR (dB on [0, 255]) and LPIPS-alex of the network's enlargements of ``low`` [N, 3, R, R]
    against ``high`` [N, 3, 2R, 2R] (both in [-1, 1]), beside Lanczos' and bicubic enlargement's."""
    was_training = net.training
    net.eval()
    outs = {"superres": torch.cat([net(low[i:i + 64]) for i in range(0, len(low), 64)]).clamp(-1, 1),
            "lanczos": lanczos_enlarge(low).to(low.device),
            "bicubic": F.interpolate(low, scale_factor=2.0, mode="bicubic", align_corners=False).clamp(-1, 1)}
    net.train(was_training)
    report = {}
    for name, out in outs.items():
        mse = ((out - high) * 127.5).square().mean(dim=(1, 2, 3))
        report[name] = {"l1": round(float((out - high).abs().mean()), 5),
                        "psnr": round(float((10 * torch.log10(255.0 ** 2 / mse.clamp_min(1e-10))).mean()), 3),
                        "lpips": round(float(torch.cat([lpips(out[i:i + 64], high[i:i + 64])
                                                        for i in range(0, len(out), 64)]).mean()), 5)}
    return report


def train_superres(cfg: SuperResTrainConfig, run_dir: Path, *, resume: bool = False, device: str = "cpu") -> Path:
    """Train (or resume) a 2× face super-resolution network on the dataset zip ``cfg.data``
    (faces of twice the generator's resolution).

    Writes ``superres.safetensors``/``.json`` (float16), ``metrics.jsonl`` (held-out figures per
    snapshot), ``preview<kimg>.png`` grids (rows: Lanczos, the network, the photo, on held-out
    faces) and ``stats.jsonl`` into ``run_dir``, with crash-safe checkpoints. Returns ``run_dir``.

    Raises:
        UserError: bad data (unreadable, too small for the crop, no held-out photos), a
            checkpoint mismatch, or a non-finite loss.
    """
    run_dir = Path(run_dir)
    checkpoint.check_run_dir(run_dir, resume)
    data = Path(cfg.data)
    meta = read_dataset_meta(data)
    train_rows, val_rows = holdout_split(data, cfg.val_percent)
    if not len(train_rows) or not len(val_rows):
        raise UserError(f"{data}: {len(train_rows)} photos for training and {len(val_rows)} held out; use more photos")
    resolution = meta["resolution"] // 2
    if not 1 <= cfg.crop <= resolution:
        raise UserError(f"{data}: crops of {cfg.crop} px need faces of at least {2 * cfg.crop} px; "
                        f"these are {meta['resolution']} px")
    if cfg.lpips_weight and 2 * cfg.crop < MIN_SIZE["alex"]:
        raise UserError(f"crops of {cfg.crop} px give targets too small for LPIPS-alex "
                        f"(at least {MIN_SIZE['alex']} px); use crops of {MIN_SIZE['alex'] // 2} px or more")
    train = ImageDataset(data, train_rows)
    val = ImageDataset(data, val_rows[:NUM_VAL])
    train_low = shrink(train)                                                   # uint8 [N, 3, R, R]
    dev = torch.device(device)
    val_high = val.batch(np.arange(len(val))).to(dev)
    val_low = _to_float(shrink(val)).to(dev)
    run_dir.mkdir(parents=True, exist_ok=True)
    scfg = SuperResolutionConfig(resolution=resolution, channels=cfg.channels, blocks=cfg.blocks,
                                 alignment=meta.get("alignment", "none"), source=str(meta.get("source", "")))
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    net = FaceSuperResolution(scfg).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
    progress = {"nimg": 0, "step": 0}
    if resume:
        progress = checkpoint.load_checkpoint(run_dir, {"SR": net}, {"opt_SR": opt}, rng)["progress"]
    lpips = load_lpips("alex", dev)

    def snapshot() -> None:
        report = {"kimg": round(progress["nimg"] / 1000, 3), "num_val": len(val),
                  **evaluate(net, val_low, val_high, lpips)}
        with open(run_dir / METRICS, "a") as f:
            f.write(json.dumps(report) + "\n")
        with torch.no_grad():
            rows = [lanczos_enlarge(val_low[:8]).to(dev), net.eval()(val_low[:8]).clamp(-1, 1), val_high[:8]]
        net.train()
        replace_file(run_dir / f"preview{progress['nimg'] // 1000:06d}.png",
                     image_grid(to_uint8(torch.cat(rows)), cols=8).save)
        save_network(net, run_dir / "superres", "superres", scfg.to_dict(), dtype=torch.float16)
        checkpoint.save_checkpoint(run_dir, {"SR": net}, {"opt_SR": opt}, asdict(cfg), progress, rng,
                                   describe_device(dev))

    c = cfg.crop
    with TrainingProgress(run_dir, progress["nimg"], cfg.kimg, cfg.tick_kimg, cfg.snapshot_kimg, "loss") as bar:
        while progress["nimg"] < bar.total:
            idx = rng.integers(0, len(train), cfg.batch)
            ys, xs = rng.integers(0, resolution - c + 1, (2, cfg.batch))
            high = train.batch(idx)                                                 # [B, 3, 2R, 2R]
            low = _to_float(train_low[idx])                                         # [B, 3, R, R]
            low = torch.stack([im[:, y:y + c, x:x + c] for im, y, x in zip(low, ys, xs)]).to(dev)
            high = torch.stack([im[:, 2 * y:2 * (y + c), 2 * x:2 * (x + c)] for im, y, x in zip(high, ys, xs)]).to(dev)
            flip = torch.from_numpy(rng.random(cfg.batch) < 0.5).to(dev).view(-1, 1, 1, 1)
            low, high = torch.where(flip, low.flip(3), low), torch.where(flip, high.flip(3), high)
            low = gaussian_blur(low, torch.from_numpy(rng.uniform(0.0, cfg.blur, cfg.batch)))
            out = net(low)                                                          # [B, 3, 2c, 2c]
            loss = (out - high).abs().mean() + cfg.lpips_weight * lpips(out, high).mean()
            descend(opt, loss, run_dir, progress, cfg.batch)
            if bar.step(progress["nimg"], loss=loss.item()):
                snapshot()
    return run_dir
