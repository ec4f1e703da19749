"""Training the W+ encoder against a frozen generator (the photo autoencoder).

Each minibatch mixes real photos (reconstruction loss only) with generated faces whose W+
is known (reconstruction + latent loss), as in e4e's training on real data with pSp's
latent supervision for synthetic data. The e4e delta penalty keeps each layer's w close to
the first layer's, which keeps the codes editable (Tov et al., 2021, §3.3).

Losses: mean squared error and mean absolute error in pixels at full resolution, mean squared
error at half resolution, plus LPIPS-AlexNet (weight 0.8, as in pSp); latent MSE on generated
faces; delta penalty on all.

``init`` warm-starts a new run from shipped encoder weights (``explorer train encoder --init
weights/encoder``): the run counts its own kimg from zero with a fresh optimizer.

The VAE option (``kl`` > 0, ``explorer train encoder --kl BETA``) exists as a baseline for the
deterministic encoder: E becomes q(W+ | x), a diagonal Gaussian (Kingma & Welling, 2014). The
generator decodes a reparameterized sample ws = mean + exp(logvar / 2) · ε instead of the mean,
and β · KL(q(W+ | x) ‖ p) joins the loss, with the prior p the generator's own W distribution
approximated as N(w_avg, diag(σ_w²)), σ_w the per-dimension std of 4096 mapped w, for every
W+ layer (a β-VAE for β ≠ 1). The latent and delta losses read the mean.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from explorer.atomic import replace_file
from explorer.data.dataset import VAL_PERCENT, ImageDataset, holdout_split
from explorer.errors import UserError
from explorer.images import image_grid, to_uint8
from explorer.latent import broadcast
from explorer.metrics.lpips import load_lpips
from explorer.netio import save_network
from explorer.nets.encoder import Encoder, EncoderConfig
from explorer.nets.stylegan import Generator
from explorer.session import RENDER_NOISE_MODE
from explorer.train import checkpoint
from explorer.train.progress import TrainingProgress, descend
from explorer.weights import describe_device, load_encoder, load_generator


@dataclass
class EncoderTrainConfig:
    """Hyper-parameters of an encoder run; saved in its checkpoint. ``val_percent`` of the photos
    are held out (``data.dataset.split_rows``, the same ones the GAN never saw)."""

    data: str
    generator: str
    batch: int = 16
    lr: float = 0.0025  # equalized learning rate: weights are N(0, 1), so Adam needs StyleGAN-sized steps
    kimg: float = 30.0
    synthetic_fraction: float = 0.5
    lpips_weight: float = 0.8
    latent_weight: float = 1.0
    delta_weight: float = 0.001
    kl: float = 0.0  # β of the VAE option; 0 = the deterministic pSp/e4e encoder
    init: str | None = None  # encoder weights stem to start from; its architecture must match
    val_percent: int = VAL_PERCENT
    channel_base: int = 2048
    channel_max: int = 256
    tick_kimg: float = 1.0
    snapshot_kimg: float = 5.0
    seed: int = 0


def reconstruction_loss(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE + L1 at full resolution plus MSE at half resolution (2×2 average pooled), each a
    per-sample mean: [N, 3, R, R] each → [N]."""
    loss = (recon - target).square().mean(dim=(1, 2, 3)) + (recon - target).abs().mean(dim=(1, 2, 3))
    r2, t2 = F.avg_pool2d(recon, 2), F.avg_pool2d(target, 2)
    return loss + (r2 - t2).square().mean(dim=(1, 2, 3))


def delta_penalty(ws: torch.Tensor) -> torch.Tensor:
    """e4e's Δ regularizer: mean over layers i > 0 of ||w_i - w_0||²: [N, num_ws, w_dim] → scalar."""
    return (ws[:, 1:] - ws[:, :1]).square().sum(dim=2).mean()


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor, prior_mean: torch.Tensor,
                prior_logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, diag(exp(logvar))) ‖ N(prior_mean, diag(exp(prior_logvar)))), averaged (not
    summed) over the W+ elements of each sample, so its scale does not grow with num_ws · w_dim.

    Shapes: mean, logvar [N, num_ws, w_dim]; prior_mean, prior_logvar [w_dim] (broadcast) → [N], ≥ 0.
    """
    kl = 0.5 * (prior_logvar - logvar + (logvar.exp() + (mean - prior_mean).square()) / prior_logvar.exp() - 1)
    return kl.flatten(1).mean(dim=1)


def _synthetic_batch(G: Generator, n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Generated faces with known W+: ψ ~ U(0.5, 1), one w per face. Returns (images, ws)."""
    with torch.no_grad():
        w = G.mapping(torch.randn(n, G.cfg.z_dim, device=device))
        psi = torch.empty(n, 1, device=device).uniform_(0.5, 1.0)
        ws = broadcast(G.mapping.w_avg.lerp(w, psi), G.num_ws)
        return G.synthesis(ws, noise_mode=RENDER_NOISE_MODE), ws


def train_encoder(cfg: EncoderTrainConfig, run_dir: Path, *, resume: bool = False, device: str = "cpu") -> Path:
    """Train (or resume) an encoder for the generator at ``cfg.generator`` (a weights stem).

    Writes ``encoder.safetensors``/``.json`` (float16), ``recon<kimg>.png`` grids (rows:
    photo, reconstruction) and ``stats.jsonl`` into ``run_dir``. Returns ``run_dir``.

    Raises:
        UserError: bad data or generator, a mismatched dataset resolution, a negative
            ``kl``, an ``init`` encoder of another architecture, or a non-finite loss.
    """
    run_dir = Path(run_dir)
    if cfg.kl < 0:
        raise UserError(f"--kl must be ≥ 0, got {cfg.kl:g}")
    checkpoint.check_run_dir(run_dir, resume)
    dev = torch.device(device)
    G = load_generator(Path(cfg.generator)).to(dev)
    dataset = ImageDataset(Path(cfg.data), holdout_split(Path(cfg.data), cfg.val_percent)[0])
    if dataset.resolution != G.cfg.resolution:
        raise UserError(f"{cfg.data}: images are {dataset.resolution}², the generator makes {G.cfg.resolution}²")
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    variational = cfg.kl > 0
    ecfg = EncoderConfig(resolution=G.cfg.resolution, num_ws=G.num_ws, w_dim=G.cfg.w_dim,
                         channel_base=cfg.channel_base, channel_max=cfg.channel_max, variational=variational)
    E = Encoder(ecfg)
    if cfg.init is not None and not resume:
        init = load_encoder(Path(cfg.init))
        if init.cfg.to_dict() != ecfg.to_dict():
            raise UserError(f"{cfg.init}: an encoder of a different architecture ({init.cfg.to_dict()}) "
                            f"from this run's ({ecfg.to_dict()})")
        E.load_state_dict(init.state_dict())
    E = E.to(dev, memory_format=torch.channels_last)
    opt = torch.optim.Adam(E.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
    progress = {"nimg": 0, "step": 0}
    if resume:
        progress = checkpoint.load_checkpoint(run_dir, {"E": E}, {"opt_E": opt}, rng)["progress"]
    lpips = load_lpips("alex", dev)
    w_avg = G.mapping.w_avg
    with torch.no_grad():
        w_std_dim = G.mapping(torch.randn(4096, G.cfg.z_dim, device=dev)).std(dim=0)   # [w_dim]
    w_std, w_logvar = w_std_dim.mean(), 2 * w_std_dim.log()
    preview = dataset.batch(np.linspace(0, len(dataset) - 1, 8).astype(int)).to(dev)  # spread over the set

    def snapshot() -> None:
        with torch.no_grad():
            recon = G.synthesis(E(preview, w_avg), noise_mode=RENDER_NOISE_MODE)
        replace_file(run_dir / f"recon{progress['nimg'] // 1000:06d}.png",
                     image_grid(to_uint8(torch.cat([preview, recon])), cols=8).save)
        save_network(E, run_dir / "encoder", "encoder", ecfg.to_dict(), dtype=torch.float16)
        checkpoint.save_checkpoint(run_dir, {"E": E}, {"opt_E": opt}, asdict(cfg), progress, rng, describe_device(dev))

    n_syn = round(cfg.batch * cfg.synthetic_fraction)
    with TrainingProgress(run_dir, progress["nimg"], cfg.kimg, cfg.tick_kimg, cfg.snapshot_kimg, "loss") as bar:
        while progress["nimg"] < bar.total:
            real = dataset.batch(rng.integers(0, len(dataset), cfg.batch - n_syn)).to(dev)
            syn, syn_ws = _synthetic_batch(G, n_syn, dev)
            images = torch.cat([real, syn]).contiguous(memory_format=torch.channels_last)
            if variational:
                ws, logvar = E.encode_distribution(images, w_avg)       # [B, num_ws, w_dim] each
                kl = gaussian_kl(ws, logvar, w_avg, w_logvar).mean()
                sample = ws + (logvar / 2).exp() * torch.randn_like(ws)  # reparameterization
            else:
                ws = sample = E(images, w_avg)                          # [B, num_ws, w_dim]
                kl = torch.zeros((), device=dev)
            recon = G.synthesis(sample, noise_mode=RENDER_NOISE_MODE)
            rec = reconstruction_loss(recon, images) + cfg.lpips_weight * lpips(recon, images)
            latent = ((ws[len(real):] - syn_ws) / w_std).square().mean() if n_syn else torch.zeros((), device=dev)
            loss = (rec.mean() + cfg.latent_weight * latent + cfg.delta_weight * delta_penalty((ws - w_avg) / w_std)
                    + cfg.kl * kl)
            descend(opt, loss, run_dir, progress, cfg.batch)
            if bar.step(progress["nimg"], loss=loss.item(), recon_real=rec[:len(real)].mean().item(),
                        latent=latent.item(), **({"kl": kl.item()} if variational else {})):
                snapshot()
    return run_dir
