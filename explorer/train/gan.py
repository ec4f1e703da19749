"""Headless StyleGAN2 training loop.

Karras et al., 2020 (StyleGAN2): non-saturating logistic loss, lazy R1 on D every
``r1_interval`` minibatches, style-mixing regularization, an EMA copy of G (G_ema) with
ramp-up, w_avg tracking. Adam (β1 = 0, β2 = 0.99) for both networks, with the lazy
regularization correction of the learning rate and betas (paper §B).

A run folder holds ``checkpoint.json`` + the ``checkpoint-<step>.safetensors`` it names (complete training state),
``generator.safetensors`` + ``generator.json`` (G_ema alone, float16, what the app loads),
``fakes<kimg>.png`` snapshot grids from fixed seeds, and ``stats.jsonl`` (one line per tick).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from explorer.data.dataset import ImageDataset
from explorer.errors import UserError
from explorer.images import image_grid, to_uint8
from explorer.netio import save_network
from explorer.nets.stylegan import (
    Discriminator,
    DiscriminatorConfig,
    Generator,
    GeneratorConfig,
)
from explorer.train import checkpoint
from explorer.train.losses import discriminator_loss, generator_loss, r1_penalty
from explorer.train.progress import TrainingProgress
from explorer.weights import describe_device

ARCH_FIELDS = ("resolution", "z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max")


@dataclass
class GanTrainConfig:
    """Hyper-parameters of a StyleGAN2 run; saved in the checkpoint and checked on resume.

    ``r1_gamma`` None picks 0.0002 · R² / batch (the stylegan2-ada heuristic). ``ema_kimg``
    is the half-life of G_ema in thousands of images.
    """

    data: str
    resolution: int = 64
    z_dim: int = 256
    w_dim: int = 256
    mapping_layers: int = 8
    channel_base: int = 2048
    channel_max: int = 128
    batch: int = 16
    lr: float = 0.0025
    r1_gamma: float | None = None
    r1_interval: int = 16
    style_mixing_prob: float = 0.9
    ema_kimg: float = 5.0
    ema_rampup: float = 0.05
    mirror: bool = True
    kimg: float = 100.0
    tick_kimg: float = 1.0
    snapshot_kimg: float = 10.0
    seed: int = 0

    def __post_init__(self):
        if self.r1_gamma is None:
            self.r1_gamma = 0.0002 * self.resolution ** 2 / self.batch

    def generator_config(self) -> GeneratorConfig:
        return GeneratorConfig(resolution=self.resolution, z_dim=self.z_dim, w_dim=self.w_dim,
                               mapping_layers=self.mapping_layers, channel_base=self.channel_base,
                               channel_max=self.channel_max)

    def discriminator_config(self) -> DiscriminatorConfig:
        return DiscriminatorConfig(resolution=self.resolution, channel_base=self.channel_base,
                                   channel_max=self.channel_max)


def _mixed_ws(G: Generator, z: torch.Tensor, prob: float) -> torch.Tensor:
    """Map z to W+ with style mixing: with probability ``prob`` the layers from a random
    cutoff on take the w of a second, independent z. Returns [N, num_ws, w_dim]."""
    ws = G.mapping(z, update_w_avg=True).unsqueeze(1).repeat(1, G.num_ws, 1)
    if prob > 0 and torch.rand([]).item() < prob:
        cutoff = int(torch.randint(1, G.num_ws, []).item())
        ws2 = G.mapping(torch.randn_like(z))
        ws[:, cutoff:] = ws2.unsqueeze(1)
    return ws


def _update_ema(G_ema: nn.Module, G: nn.Module, beta: float) -> None:
    with torch.no_grad():
        for p_ema, p in zip(G_ema.parameters(), G.parameters()):
            p_ema.lerp_(p, 1.0 - beta)
        for b_ema, b in zip(G_ema.buffers(), G.buffers()):
            b_ema.copy_(b)


def _check_resume(run_dir: Path, cfg: GanTrainConfig) -> None:
    saved = checkpoint.read_checkpoint_meta(run_dir)["config"]
    changed = [f for f in ARCH_FIELDS if saved.get(f) != getattr(cfg, f)]
    if changed:
        detail = ", ".join(f"{f} {saved.get(f)} → {getattr(cfg, f)}" for f in changed)
        raise UserError(f"{run_dir}: cannot resume with a different architecture ({detail}); "
                        "use a new --outdir")


def train_gan(cfg: GanTrainConfig, run_dir: Path, *, resume: bool = False, device: str = "cpu") -> Path:
    """Train (or resume) a StyleGAN2 run in ``run_dir`` until ``cfg.kimg`` thousand real images.

    Returns the run folder. Raises UserError for bad data, a mismatched resume, or a
    non-finite loss (the last good checkpoint is kept).
    """
    run_dir = Path(run_dir)
    dataset = ImageDataset(Path(cfg.data))
    if dataset.resolution != cfg.resolution:
        raise UserError(f"{cfg.data}: images are {dataset.resolution}², the run wants {cfg.resolution}²")
    if resume and not checkpoint.has_checkpoint(run_dir):
        raise UserError(f"{run_dir}: no checkpoint to resume from")
    if not resume and checkpoint.has_checkpoint(run_dir):
        raise UserError(f"{run_dir}: holds a run already; pass --resume to continue it or pick a new --outdir")
    if resume:
        _check_resume(run_dir, cfg)
    run_dir.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    dev = torch.device(device)
    fmt = torch.channels_last
    G = Generator(cfg.generator_config()).to(dev, memory_format=fmt)
    D = Discriminator(cfg.discriminator_config()).to(dev, memory_format=fmt)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    ratio = cfg.r1_interval / (cfg.r1_interval + 1)
    opt_G = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.0, 0.99), eps=1e-8)
    opt_D = torch.optim.Adam(D.parameters(), lr=cfg.lr * ratio, betas=(0.0, 0.99 ** ratio), eps=1e-8)
    nets = {"G": G, "D": D, "G_ema": G_ema}
    optimizers = {"opt_G": opt_G, "opt_D": opt_D}
    progress = {"nimg": 0, "step": 0}
    if resume:
        progress = checkpoint.load_checkpoint(run_dir, nets, optimizers, rng)["progress"]

    grid_z = torch.from_numpy(np.random.default_rng(1234).standard_normal((32, cfg.z_dim))).float().to(dev)

    def snapshot() -> None:
        kimg = progress["nimg"] // 1000
        with torch.no_grad():
            fakes = torch.cat([G_ema(z, noise_mode="const") for z in grid_z.split(8)])
        image_grid(to_uint8(fakes), cols=8).save(run_dir / f"fakes{kimg:06d}.png")
        save_network(G_ema, run_dir / "generator", "generator", cfg.generator_config().to_dict(), dtype=torch.float16)
        checkpoint.save_checkpoint(run_dir, nets, optimizers, asdict(cfg), progress, rng, describe_device(dev))

    with TrainingProgress(run_dir, progress["nimg"], cfg.kimg, cfg.tick_kimg, cfg.snapshot_kimg, "loss_G") as bar:
        while progress["nimg"] < bar.total:
            B = cfg.batch
            idx = rng.integers(0, len(dataset), B)
            real = dataset.batch(idx)
            if cfg.mirror:
                flip = torch.from_numpy(rng.random(B) < 0.5)
                real[flip] = real[flip].flip(3)
            real = real.to(dev).contiguous(memory_format=fmt)

            # G step: non-saturating loss on a fresh batch with style mixing.
            G.requires_grad_(True); D.requires_grad_(False)
            z = torch.randn(B, cfg.z_dim, device=dev)
            fake = G.synthesis(_mixed_ws(G, z, cfg.style_mixing_prob))
            loss_G = generator_loss(D(fake))
            opt_G.zero_grad(set_to_none=True)
            loss_G.backward()
            opt_G.step()

            # D step: logistic loss, plus lazy R1 every r1_interval steps.
            G.requires_grad_(False); D.requires_grad_(True)
            with torch.no_grad():
                fake = G.synthesis(_mixed_ws(G, torch.randn(B, cfg.z_dim, device=dev), cfg.style_mixing_prob))
            do_r1 = progress["step"] % cfg.r1_interval == 0
            real.requires_grad_(do_r1)
            real_logits = D(real)
            loss_D = discriminator_loss(real_logits, D(fake))
            if do_r1:
                r1 = r1_penalty(real, real_logits)
                loss_D = loss_D + r1 * (cfg.r1_gamma / 2 * cfg.r1_interval)
            opt_D.zero_grad(set_to_none=True)
            loss_D.backward()
            opt_D.step()

            if not (torch.isfinite(loss_G) and torch.isfinite(loss_D)):
                raise UserError(f"{run_dir}: loss became {loss_G.item()} (G) / {loss_D.item()} (D) at "
                                f"{progress['nimg'] / 1000:.1f} kimg; stopped, the last checkpoint is kept")

            ema_nimg = min(cfg.ema_kimg * 1000, progress["nimg"] * cfg.ema_rampup)
            _update_ema(G_ema, G, 0.5 ** (B / max(ema_nimg, 1e-8)))
            progress["nimg"] += B
            progress["step"] += 1
            values = {"loss_G": loss_G.item(), "loss_D": loss_D.item(), **({"r1": r1.item()} if do_r1 else {})}
            if bar.step(progress["nimg"], B, **values):
                snapshot()
    return run_dir
