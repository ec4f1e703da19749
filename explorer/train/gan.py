"""Headless GAN training: StyleGAN2 (the product) and the baselines it is measured against.

StyleGAN2 (Karras et al., 2020): non-saturating logistic loss, lazy R1 on D every
``r1_interval`` steps and lazy path-length regularization on G every ``pl_interval`` steps,
each as a separate optimizer step with the learning rate and betas corrected as in §B;
style-mixing regularization; an EMA copy of G (G_ema) with ramp-up; w_avg tracking; ADA
(Karras et al., 2020, "Training GANs with Limited Data") for small datasets. Baselines:
``arch="dcgan"`` (Radford et al., 2016) and ``loss="wgan-gp"`` (Gulrajani et al., 2017).

Each minibatch of ``batch`` images is split into micro-batches of ``batch_gpu``, spread over
the processes of a ``torchrun`` job and over gradient-accumulation rounds within each one.
Every random draw of a micro-batch (latents, noise, style mixing, augmentation) comes from a
seed fixed by (run seed, step, phase, micro-batch index), and the data indices from one
generator shared by all processes, so a run's result does not depend on how many processes
share it or on how often it was resumed.

A run folder holds ``checkpoint.json`` + the ``checkpoint-<step>.safetensors`` it names (the
complete training state), ``generator.safetensors`` + ``generator.json`` (G_ema alone,
float16, what the app loads), ``fakes<kimg>.png`` snapshot grids from fixed seeds, and
``stats.jsonl`` (one line per tick).
"""

from __future__ import annotations

import contextlib
import copy
import json
import resource
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from explorer.atomic import replace_file
from explorer.data.dataset import VAL_PERCENT, ImageDataset, holdout_split
from explorer.errors import UserError
from explorer.images import image_grid, to_uint8
from explorer.metrics.registry import compute
from explorer.netio import read_json, save_network
from explorer.nets.dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator
from explorer.nets.stylegan import (
    Discriminator,
    DiscriminatorConfig,
    Generator,
    GeneratorConfig,
)
from explorer.train import checkpoint
from explorer.train.augment import AdaptiveP, AugmentPipe
from explorer.train.distributed import ProcessGroup
from explorer.train.losses import (
    PathLengthPenalty,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    r1_penalty,
    wgan_discriminator_loss,
    wgan_generator_loss,
)
from explorer.train.precision import PRECISIONS, amp_dtype
from explorer.train.progress import TrainingProgress, non_finite_loss
from explorer.weights import DCGAN_KIND, describe_device

ARCH_FIELDS = ("arch", "resolution", "z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max")
# Defaults that depend on the architecture, for the fields left None.
ARCH_DEFAULTS = {
    "stylegan2": {"lr": 0.0025, "betas": (0.0, 0.99), "pl_weight": 2.0, "augment": "ada"},
    "dcgan": {"lr": 0.0002, "betas": (0.5, 0.999), "pl_weight": 0.0, "augment": "none"},
}
PHASE_G, PHASE_PL, PHASE_D, PHASE_R1 = range(4)
MEMORY_FORMAT = torch.channels_last     # NHWC: faster convolutions with oneDNN on CPU and cuDNN on GPU


@dataclass
class GanTrainConfig:
    """Hyper-parameters of a run; saved in the checkpoint, the architecture checked on resume.

    ``arch``: "stylegan2" or "dcgan" (the baseline; its networks ignore ``w_dim``,
    ``mapping_layers`` and the channel fields). ``loss``: "logistic" (non-saturating) or
    "wgan-gp". ``lr`` and ``pl_weight`` None take the architecture's default
    (``ARCH_DEFAULTS``), as does ``augment`` except with WGAN-GP, where None means "none": ADA
    steers by E[sign D(real)], which has no meaning for a WGAN critic. ``r1_gamma`` None picks
    0.0002 · R² / batch (the stylegan2-ada heuristic) for StyleGAN2 with the logistic loss, and
    0 for DCGAN (Radford et al. used no regularizer) and for WGAN-GP (its gradient penalty,
    weight ``gp_weight``, takes R1's place); a positive ``r1_gamma`` also gives D's Adam the
    lazy-regularization correction (``lazy_adam``). ``batch_gpu`` is the micro-batch each
    process computes at once (None: ``batch`` / processes, no accumulation). ``precision``:
    "auto" (``train.precision.amp_dtype``: bf16 autocast on CUDA where supported, else fp16 with
    loss scaling; bf16 on a CPU with native bf16; fp32 elsewhere), "fp32", "bf16" or "fp16"; the
    mapping network, the losses, R1 and path length stay in fp32. ``ema_kimg`` is the half-life of G_ema in thousands of images; ``ada_target`` the
    r_t that ADA steers toward, ``ada_kimg`` the images (thousands) for p to go from 0 to 1.
    ``val_percent`` of the photos are held out (``data.dataset.split_rows``: the same photos for
    every trainer) and never shown to D. ``metrics_kimg`` > 0 computes FID of G_ema against
    the dataset with ``metrics_num`` images each (``explorer.metrics``) at the snapshots that
    many kimg apart, into ``metrics.jsonl`` (StyleGAN2 only).

    Raises:
        ValueError: an unknown arch, loss, augment or precision, ADA asked of WGAN-GP, or
            path-length regularization asked of DCGAN.
    """

    data: str
    arch: str = "stylegan2"
    loss: str = "logistic"
    resolution: int = 64
    z_dim: int = 256
    w_dim: int = 256
    mapping_layers: int = 8
    channel_base: int = 2048
    channel_max: int = 128
    batch: int = 16
    batch_gpu: int | None = None
    lr: float | None = None
    r1_gamma: float | None = None
    r1_interval: int = 16
    pl_weight: float | None = None
    pl_interval: int = 4
    gp_weight: float = 10.0
    style_mixing_prob: float = 0.9
    augment: str | None = None
    ada_target: float = 0.6
    ada_kimg: float = 500.0
    ema_kimg: float = 5.0
    ema_rampup: float = 0.05
    mirror: bool = True
    val_percent: int = VAL_PERCENT
    metrics_kimg: float = 0.0
    metrics_num: int = 1000
    precision: str = "auto"
    kimg: float = 100.0
    tick_kimg: float = 1.0
    snapshot_kimg: float = 10.0
    seed: int = 0

    def __post_init__(self):
        for name, allowed in (("arch", ARCH_DEFAULTS), ("loss", ("logistic", "wgan-gp")),
                              ("augment", ("ada", "none", None)), ("precision", PRECISIONS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(a for a in allowed if a)}, got {getattr(self, name)!r}")
        defaults = ARCH_DEFAULTS[self.arch]
        for name in ("lr", "pl_weight"):
            if getattr(self, name) is None:
                setattr(self, name, defaults[name])
        if self.augment is None:
            self.augment = "none" if self.loss == "wgan-gp" else defaults["augment"]
        if self.augment == "ada" and self.loss == "wgan-gp":
            raise ValueError("ADA steers by the sign of D's output, which means nothing for a WGAN critic: "
                             "use augment 'none' with loss 'wgan-gp'")
        if self.r1_gamma is None:
            stylegan_r1 = self.arch == "stylegan2" and self.loss == "logistic"
            self.r1_gamma = 0.0002 * self.resolution ** 2 / self.batch if stylegan_r1 else 0.0
        if self.arch == "dcgan" and self.pl_weight > 0:
            raise ValueError("path-length regularization needs a StyleGAN2 generator (W space)")
        if self.arch == "dcgan" and self.metrics_kimg > 0:
            raise ValueError("training-time metrics render through the app's StyleGAN2 path; evaluate DCGAN after")

    @property
    def betas(self) -> tuple[float, float]:
        return ARCH_DEFAULTS[self.arch]["betas"]

    def generator_config(self) -> GeneratorConfig | DCGANConfig:
        if self.arch == "dcgan":
            return DCGANConfig(resolution=self.resolution, z_dim=self.z_dim)
        return GeneratorConfig(resolution=self.resolution, z_dim=self.z_dim, w_dim=self.w_dim,
                               mapping_layers=self.mapping_layers, channel_base=self.channel_base,
                               channel_max=self.channel_max)

    def discriminator_config(self) -> DiscriminatorConfig | DCGANConfig:
        if self.arch == "dcgan":
            return DCGANConfig(resolution=self.resolution, z_dim=self.z_dim)
        return DiscriminatorConfig(resolution=self.resolution, channel_base=self.channel_base,
                                   channel_max=self.channel_max)


def _build_networks(cfg: GanTrainConfig) -> tuple[nn.Module, nn.Module]:
    if cfg.arch == "dcgan":
        return DCGANGenerator(cfg.generator_config()), DCGANDiscriminator(cfg.discriminator_config())
    return Generator(cfg.generator_config()), Discriminator(cfg.discriminator_config())


def _generate(G: nn.Module, z: torch.Tensor, mixing_prob: float) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Images from z [N, z_dim], and for StyleGAN2 the W+ they came from.

    StyleGAN2 maps z to W+ with style mixing: with probability ``mixing_prob`` the layers from
    a random cutoff on take the w of a second, independent z. Returns (img [N, 3, R, R],
    ws [N, num_ws, w_dim] or None for DCGAN).
    """
    if not isinstance(G, Generator):
        return G(z), None
    with torch.autocast(z.device.type, enabled=False):                # the mapping stays in fp32
        ws = G.mapping(z).unsqueeze(1).repeat(1, G.num_ws, 1)         # [N, num_ws, w_dim]
        if mixing_prob > 0 and torch.rand([]).item() < mixing_prob:
            cutoff = int(torch.randint(1, G.num_ws, []).item())
            ws[:, cutoff:] = G.mapping(torch.randn_like(z)).unsqueeze(1)
    return G.synthesis(ws), ws


def lazy_adam(params, lr: float, betas: tuple[float, float], interval: int | None) -> torch.optim.Adam:
    """Adam for a network regularized lazily every ``interval`` steps (None: never), with lr and
    betas corrected by c = interval / (interval + 1) to lr · c and betas ** c (StyleGAN2 §B), so
    the extra regularization steps leave the optimizer's effective horizon as it was."""
    c = interval / (interval + 1) if interval else 1.0
    return torch.optim.Adam(params, lr=lr * c, betas=(betas[0] ** c, betas[1] ** c), eps=1e-8)


def _update_ema(G_ema: nn.Module, G: nn.Module, beta: float) -> None:
    with torch.no_grad():
        for p_ema, p in zip(G_ema.parameters(), G.parameters()):
            p_ema.lerp_(p, 1.0 - beta)
        for b_ema, b in zip(G_ema.buffers(), G.buffers()):
            b_ema.copy_(b)


def _check_architecture(source: Path, saved: dict, cfg: GanTrainConfig) -> None:
    """Refuse to continue a checkpoint or snapshot (``source``, its config ``saved``) with other networks."""
    changed = [f for f in ARCH_FIELDS if saved.get(f) != getattr(cfg, f)]
    if changed:
        detail = ", ".join(f"{f} {saved.get(f)} → {getattr(cfg, f)}" for f in changed)
        raise UserError(f"{source}: cannot continue with a different architecture ({detail})")


def _memory_gb(device: torch.device) -> float:
    """Peak memory so far: CUDA allocations on a GPU, the process's resident set elsewhere."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


def train_gan(cfg: GanTrainConfig, run_dir: Path, *, resume: bool = False, init: Path | None = None,
              device: str = "cpu") -> Path:
    """Train (or resume) a GAN run in ``run_dir`` until ``cfg.kimg`` thousand real images.

    ``init``: start a new run from a network snapshot (``checkpoint.save_network_snapshot``)
    instead of from scratch: its networks, kimg, step, ADA and path-length state, with fresh
    optimizers (the Adam moments rebuild within a few hundred steps).

    Runs as one process, or as one of the processes of a ``torchrun`` job (all of them read
    the data and the checkpoint from the same paths; rank 0 writes).

    Returns the run folder. Raises UserError for bad data, a batch that does not split into
    micro-batches, a mismatched resume or snapshot, or a non-finite loss (the last good
    checkpoint is kept).
    """
    group = ProcessGroup(device)
    try:
        return _train(cfg, Path(run_dir), resume, init, group)
    finally:
        group.close()


def _train(cfg: GanTrainConfig, run_dir: Path, resume: bool, init: Path | None, group: ProcessGroup) -> Path:
    batch_gpu = cfg.batch_gpu or cfg.batch // group.world_size
    if batch_gpu < 1 or cfg.batch % (batch_gpu * group.world_size):
        raise UserError(f"--batch {cfg.batch} does not split into {group.world_size} process(es) × "
                        f"micro-batches of --batch-gpu {batch_gpu}")
    rounds = cfg.batch // (batch_gpu * group.world_size)
    checkpoint.check_run_dir(run_dir, resume)
    if resume and init is not None:
        raise UserError(f"{run_dir}: --resume continues this run; --init starts a new one from a snapshot, not both")
    if resume:
        _check_architecture(run_dir, checkpoint.read_checkpoint_meta(run_dir)["config"], cfg)
    if init is not None:
        _check_architecture(init, read_json(Path(init) / checkpoint.SNAPSHOT_META)["config"], cfg)
    dataset = ImageDataset(Path(cfg.data), holdout_split(Path(cfg.data), cfg.val_percent)[0])
    if dataset.resolution != cfg.resolution:
        raise UserError(f"{cfg.data}: images are {dataset.resolution}², the run wants {cfg.resolution}²")
    if group.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    dev = group.device
    fmt = MEMORY_FORMAT
    G, D = _build_networks(cfg)
    G, D = G.to(dev, memory_format=fmt), D.to(dev, memory_format=fmt)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    augment = AugmentPipe().to(dev)
    ada = AdaptiveP(cfg.ada_target, ada_kimg=cfg.ada_kimg) if cfg.augment == "ada" else None
    pl = PathLengthPenalty().to(dev)
    use_pl = cfg.pl_weight > 0
    use_r1 = cfg.r1_gamma > 0

    opt_G = lazy_adam(G.parameters(), cfg.lr, cfg.betas, cfg.pl_interval if use_pl else None)
    opt_D = lazy_adam(D.parameters(), cfg.lr, cfg.betas, cfg.r1_interval if use_r1 else None)
    nets = {"G": G, "D": D, "G_ema": G_ema, "augment": augment, "pl": pl}
    optimizers = {"opt_G": opt_G, "opt_D": opt_D}
    progress = {"nimg": 0, "step": 0}
    if resume:
        progress = checkpoint.load_checkpoint(run_dir, nets, optimizers, rng)["progress"]
    if init is not None:
        progress = checkpoint.load_network_snapshot(init, nets)["progress"]
        rng = np.random.default_rng([cfg.seed, progress["step"]])
    if (resume or init is not None) and ada is not None:
        ada.stats = torch.tensor(progress.get("ada_stats", [0.0, 0.0]), device=dev)

    autocast_dtype = amp_dtype(cfg.precision, dev)
    scaler_G = torch.amp.GradScaler(dev.type, enabled=autocast_dtype == torch.float16)
    scaler_D = torch.amp.GradScaler(dev.type, enabled=autocast_dtype == torch.float16)

    def autocast():
        return torch.autocast(dev.type, dtype=autocast_dtype) if autocast_dtype else contextlib.nullcontext()

    if cfg.loss == "logistic":
        g_loss, d_loss = generator_loss, discriminator_loss
    else:
        g_loss, d_loss = wgan_generator_loss, wgan_discriminator_loss
    chunks = [group.rank * rounds + r for r in range(rounds)]          # this process's micro-batches

    def seed(phase: int, chunk: int) -> None:
        """Every draw of a micro-batch depends only on (run seed, step, phase, micro-batch)."""
        torch.manual_seed(int(np.random.SeedSequence([cfg.seed, progress["step"], phase, chunk]).generate_state(1)[0]))

    def optimizer_step(opt: torch.optim.Optimizer, module: nn.Module, scaler: torch.amp.GradScaler | None = None) -> None:
        group.sum_gradients(module)
        if scaler is None:
            opt.step()
        else:
            scaler.step(opt)
            scaler.update()

    grid_z = torch.from_numpy(np.random.default_rng(1234).standard_normal((32, cfg.z_dim))).float().to(dev)

    def snapshot() -> None:
        kimg = progress["nimg"] // 1000
        if ada is not None:
            progress["ada_stats"] = ada.stats.tolist()      # r_t's sums since ADA's last update
        with torch.no_grad():
            fakes = torch.cat([G_ema(z, noise_mode="const") for z in grid_z.split(8)])
        replace_file(run_dir / f"fakes{kimg:06d}.png", image_grid(to_uint8(fakes), cols=8).save)
        save_network(G_ema, run_dir / "generator", DCGAN_KIND if cfg.arch == "dcgan" else "generator",
                     cfg.generator_config().to_dict(), dtype=torch.float16)
        checkpoint.save_checkpoint(run_dir, nets, optimizers, asdict(cfg), progress, rng, describe_device(dev))
        nonlocal next_metrics
        if cfg.metrics_kimg > 0 and progress["nimg"] >= next_metrics:
            next_metrics += cfg.metrics_kimg * 1000
            records = compute("fid", Path(cfg.data), run_dir, num=cfg.metrics_num, device=str(dev))
            with open(run_dir / "metrics.jsonl", "a") as f:
                f.writelines(json.dumps({"kimg": round(progress["nimg"] / 1000, 3), **r}) + "\n" for r in records)

    next_metrics = progress["nimg"] + cfg.metrics_kimg * 1000     # images after which a snapshot adds metrics

    def reals(idx: np.ndarray, flip: np.ndarray, chunk: int) -> torch.Tensor:
        """Micro-batch ``chunk`` of the step's real images (indices ``idx``, x-flipped where ``flip``)."""
        part = slice(chunk * batch_gpu, (chunk + 1) * batch_gpu)
        real = dataset.batch(idx[part])
        real[flip[part]] = real[flip[part]].flip(3)
        return real.to(dev).contiguous(memory_format=fmt)

    def fakes(n: int, grad: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        with torch.set_grad_enabled(grad):
            return _generate(G, torch.randn(n, cfg.z_dim, device=dev), cfg.style_mixing_prob)

    sums: dict[str, torch.Tensor] = {}   # a step's logged values, each micro-batch weighted by its share

    def add(name: str, value: torch.Tensor, share: float) -> None:
        sums[name] = sums.get(name, 0.0) + value.detach().float() * share

    B = cfg.batch
    with TrainingProgress(run_dir, progress["nimg"], cfg.kimg, cfg.tick_kimg, cfg.snapshot_kimg, "loss_G",
                          enabled=group.is_main) as bar:
        while progress["nimg"] < bar.total:
            idx = rng.integers(0, len(dataset), B)
            flip = (rng.random(B) < 0.5) & cfg.mirror
            step = progress["step"]
            sums.clear()

            # G: non-saturating (or WGAN) loss through the augmented D.
            G.requires_grad_(True)
            D.requires_grad_(False)
            opt_G.zero_grad(set_to_none=True)
            w_sum = torch.zeros(cfg.w_dim, device=dev)
            for chunk in chunks:
                seed(PHASE_G, chunk)
                with autocast():
                    img, ws = fakes(batch_gpu, grad=True)
                    loss = g_loss(D(augment(img)).float())          # losses in fp32
                scaler_G.scale(loss * (batch_gpu / B)).backward()
                add("loss_G", loss, batch_gpu / B)
                if ws is not None:
                    w_sum += ws[:, 0].detach().float().sum(dim=0)
            optimizer_step(opt_G, G, scaler_G)
            if isinstance(G, Generator):
                G.mapping.update_w_avg(group.sum_(w_sum) / B)

            # G, lazily: path-length regularization on half-size micro-batches, in fp32.
            if use_pl and step % cfg.pl_interval == 0:
                pl_batch = max(batch_gpu // 2, 1)
                pl_total = pl_batch * rounds * group.world_size
                opt_G.zero_grad(set_to_none=True)
                length_sum = torch.zeros([], device=dev)
                for chunk in chunks:
                    seed(PHASE_PL, chunk)
                    img, ws = fakes(pl_batch, grad=True)
                    lengths = pl.lengths(img, ws)
                    penalty = pl.penalty(lengths)
                    (penalty * (cfg.pl_weight * cfg.pl_interval * pl_batch / pl_total)).backward()
                    length_sum += lengths.detach().sum()
                    add("pl", penalty, pl_batch / pl_total)
                optimizer_step(opt_G, G)
                pl.update(group.sum_(length_sum) / pl_total)

            # D: logistic (or WGAN-GP) loss on augmented reals and fakes; the gradient penalty
            # interpolates the same augmented images the critic scored.
            G.requires_grad_(False)
            D.requires_grad_(True)
            opt_D.zero_grad(set_to_none=True)
            for chunk in chunks:
                seed(PHASE_D, chunk)
                real = reals(idx, flip, chunk)
                with autocast():
                    fake, _ = fakes(batch_gpu, grad=False)
                    real_aug, fake_aug = augment(real), augment(fake)
                    real_logits = D(real_aug)
                    loss = d_loss(real_logits.float(), D(fake_aug).float())
                if cfg.loss == "wgan-gp":
                    gp = gradient_penalty(D, real_aug, fake_aug)
                    loss = loss + cfg.gp_weight * gp
                    add("gp", gp, batch_gpu / B)
                scaler_D.scale(loss * (batch_gpu / B)).backward()
                add("loss_D", loss, batch_gpu / B)
                if ada is not None:
                    ada.accumulate(real_logits)
            optimizer_step(opt_D, D, scaler_D)

            # D, lazily: R1 on (augmented) reals, in fp32.
            if use_r1 and step % cfg.r1_interval == 0:
                opt_D.zero_grad(set_to_none=True)
                for chunk in chunks:
                    seed(PHASE_R1, chunk)
                    real = reals(idx, flip, chunk).requires_grad_(True)
                    r1 = r1_penalty(real, D(augment(real)))
                    (r1 * (cfg.r1_gamma / 2 * cfg.r1_interval * batch_gpu / B)).backward()
                    add("r1", r1, batch_gpu / B)
                optimizer_step(opt_D, D)

            names = list(sums)
            values = dict(zip(names, group.sum_(torch.stack([sums[n] for n in names])).tolist()))
            if not all(np.isfinite(v) for v in values.values()):
                raise non_finite_loss(run_dir, progress["nimg"], f"{values['loss_G']} (G) / {values['loss_D']} (D)")
            if ada is not None and (step + 1) % ada.interval == 0:
                ada.update(augment, group.sum_(ada.stats))
                values["rt"] = ada.rt

            ema_nimg = min(cfg.ema_kimg * 1000, progress["nimg"] * cfg.ema_rampup)
            _update_ema(G_ema, G, 0.5 ** (B / max(ema_nimg, 1e-8)))
            progress["nimg"] += B
            progress["step"] += 1
            values.update(augment_p=float(augment.p), mem_gb=_memory_gb(dev))
            if bar.step(progress["nimg"], **values) and group.is_main:
                snapshot()
    return run_dir
