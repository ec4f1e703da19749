"""Training checkpoints: networks, optimizer states, counters and RNG states in one safetensors
file, with the configuration in a JSON file beside it. No pickle.

``checkpoint-<step>.safetensors`` keys: ``G.*``, ``D.*``, ``G_ema.*`` (state dicts),
``opt_G.<i>.<name>`` and ``opt_D.<i>.<name>`` (Adam state of the i-th parameter), ``rng.torch``
(CPU generator state). ``checkpoint.json``: ``{"tensors": "checkpoint-<step>.safetensors",
"sha256": {"checkpoint-<step>.safetensors": "<hex>"}, "config": {...}, "progress": {"nimg": ...,
"step": ...}, "hardware": "...", "rng_numpy": {...}}``. The tensors file is read only from the
run folder and checked against its sha256 (checkpoints written before it was recorded load
unchecked).

A network snapshot (``save_network_snapshot``) is the small, portable part of a GAN run: G, D
and G_ema in float16 plus the training state that is not an optimizer's, to continue training
in another session or on another machine with fresh optimizers (``load_network_snapshot``).

Crash safety: the new tensors file is written (temp file, fsync, rename) under a new name, then
the JSON is replaced atomically to point at it, and only then is the previous tensors file
deleted. A kill at any moment leaves the JSON naming a complete tensors file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from explorer.atomic import replace_folder
from explorer.errors import UserError
from explorer.netio import (
    file_in_folder,
    file_sha256,
    load_state,
    load_tensors,
    read_json,
    save_tensors,
    write_json,
)
from explorer.train.progress import training_hours

META = "checkpoint.json"


def _optimizer_tensors(prefix: str, opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    params = [p for group in opt.param_groups for p in group["params"]]
    out = {}
    for i, p in enumerate(params):
        for name, value in opt.state.get(p, {}).items():
            out[f"{prefix}.{i}.{name}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return out


def _load_optimizer(prefix: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    params = [p for group in opt.param_groups for p in group["params"]]
    for i, p in enumerate(params):
        state = {k.rsplit(".", 1)[1]: v for k, v in tensors.items() if k.startswith(f"{prefix}.{i}.")}
        if state:
            opt.state[p] = {k: v.to(p.device) if k != "step" else v for k, v in state.items()}


def save_checkpoint(run_dir: Path, nets: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                    config: dict, progress: dict, rng: np.random.Generator, hardware: str) -> None:
    """Write the full training state of a run into ``run_dir`` atomically; ``hardware`` says
    what it ran on (see ``weights.describe_device``)."""
    tensors = {f"{name}.{k}": v for name, net in nets.items() for k, v in net.state_dict().items()}
    for name, opt in optimizers.items():
        tensors.update(_optimizer_tensors(name, opt))
    tensors["rng.torch"] = torch.get_rng_state()
    name = f"checkpoint-{progress['step']:08d}.safetensors"
    save_tensors(Path(run_dir) / name, tensors)
    write_json(Path(run_dir) / META, {"tensors": name, "sha256": {name: file_sha256(Path(run_dir) / name)},
                                      "config": config, "progress": progress, "hardware": hardware,
                                      "rng_numpy": rng.bit_generator.state})
    for old in Path(run_dir).glob("checkpoint-*.safetensors"):
        if old.name != name:
            old.unlink()


def has_checkpoint(run_dir: Path) -> bool:
    """True when ``run_dir`` holds a checkpoint (its JSON; ``load_checkpoint`` checks the tensors)."""
    return (Path(run_dir) / META).is_file()


def check_run_dir(run_dir: Path, resume: bool) -> None:
    """Refuse a run folder a trainer must not write into: a new run needs ``run_dir`` missing or
    empty (nothing in it is ever overwritten), ``resume`` one that holds a checkpoint.

    Raises:
        UserError: one line naming ``run_dir``.
    """
    run_dir = Path(run_dir)
    if resume and not has_checkpoint(run_dir):
        raise UserError(f"{run_dir}: no checkpoint to resume from")
    if not resume and has_checkpoint(run_dir):
        raise UserError(f"{run_dir}: holds a run already; pass --resume to continue it or pick a new --outdir")
    if not resume and run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise UserError(f"{run_dir}: not an empty folder; a new run needs a new or empty --outdir")


def read_checkpoint_meta(run_dir: Path) -> dict:
    """The JSON half of a checkpoint: config, progress and the NumPy RNG state."""
    return read_json(Path(run_dir) / META)


def load_checkpoint(run_dir: Path, nets: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                    rng: np.random.Generator) -> dict:
    """Restore networks, optimizers and RNG states from ``run_dir``; returns the JSON metadata.

    Raises:
        UserError: missing or unreadable files, a tensors file outside ``run_dir`` or not matching
            its sha256 (``_checkpoint_tensors``), or tensors that do not fit the networks.
    """
    meta = read_checkpoint_meta(run_dir)
    path, tensors = _checkpoint_tensors(Path(run_dir), meta)
    for name, net in nets.items():
        state = {k[len(name) + 1:]: v for k, v in tensors.items() if k.startswith(name + ".")}
        load_state(net, state, path)
    for name, opt in optimizers.items():
        _load_optimizer(name, opt, tensors)
    if "rng.torch" not in tensors:
        raise UserError(f"{path}: no RNG state (not a training checkpoint)")
    torch.set_rng_state(tensors["rng.torch"])
    rng.bit_generator.state = meta["rng_numpy"]
    return meta


def _checkpoint_tensors(run_dir: Path, meta: dict) -> tuple[Path, dict[str, torch.Tensor]]:
    """The tensors file ``meta`` (``run_dir``'s checkpoint.json) names, and its tensors: a file in
    ``run_dir`` (``netio.file_in_folder``) whose sha256 matches the one recorded, where one is.

    Raises:
        UserError: the name leads outside ``run_dir``, the sha256 record is not an object, the
            file does not match it (naming the file), or the file is missing or unreadable.
    """
    source = run_dir / META
    name = meta.get("tensors")
    path = file_in_folder(run_dir, name, source, "tensors")
    recorded = meta.get("sha256", {})
    if not isinstance(recorded, dict):
        raise UserError(f"{source}: sha256 must be an object of file name → checksum, got {recorded!r}")
    if name in recorded and path.is_file() and file_sha256(path) != recorded[name]:
        raise UserError(f"{path}: sha256 does not match {source} (corrupt or replaced file)")
    return path, load_tensors(path)


SNAPSHOT_META = "training.json"
SNAPSHOT_NETS = ("G", "D", "G_ema")          # float16, one file each (each under 16 MiB at 128²)
SNAPSHOT_STATE = "state"                     # the rest of the training state (ADA, path length), float32
SNAPSHOT_FILES = (*(f"{name}.safetensors" for name in (*SNAPSHOT_NETS, SNAPSHOT_STATE)), SNAPSHOT_META)


def run_history(run_dir: Path) -> list[dict]:
    """Every run a GAN run's networks grew through, this one last: [{"kimg_from", "kimg_to",
    "hours", "hardware"}], the earlier ones carried by the snapshot it was started from (if any),
    this one's hours summed from its ``stats.jsonl`` (``progress.training_hours``)."""
    meta = read_checkpoint_meta(run_dir)
    history = list(meta["progress"].get("history", []))
    start = history[-1]["kimg_to"] if history else 0.0
    return history + [{"kimg_from": start, "kimg_to": round(meta["progress"]["nimg"] / 1000, 3),
                       "hours": round(training_hours(run_dir, start), 6), "hardware": meta.get("hardware", "unknown")}]


def save_network_snapshot(run_dir: Path, out: Path) -> list[Path]:
    """Write a GAN run's network snapshot into folder ``out``: ``G``, ``D``, ``G_ema``
    ``.safetensors`` (float16), ``state.safetensors`` (ADA and path-length buffers, float32) and
    ``training.json`` (config, kimg, step, ADA statistics and ``run_history``).

    An earlier snapshot at ``out`` is replaced as a whole (``atomic.replace_folder``): the new
    one is written complete beside it and swapped in by renames, so an interrupted export leaves
    one of the two complete. A folder holding anything else is refused, before any work.

    Returns:
        The files written.

    Raises:
        UserError: ``out`` is not a folder holding only ``SNAPSHOT_FILES``, ``run_dir`` holds
            no GAN checkpoint, or the files cannot be written.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    replace_folder(out, lambda folder: _write_snapshot(Path(run_dir), folder), SNAPSHOT_FILES, "a network snapshot")
    return sorted(out.iterdir())


def _write_snapshot(run_dir: Path, folder: Path) -> None:
    """Write ``run_dir``'s network snapshot (``save_network_snapshot``) into the empty ``folder``."""
    meta = read_checkpoint_meta(run_dir)
    path, tensors = _checkpoint_tensors(run_dir, meta)
    if not all(any(k.startswith(f"{name}.") for k in tensors) for name in SNAPSHOT_NETS):
        raise UserError(f"{path}: not a GAN checkpoint (no {', '.join(SNAPSHOT_NETS)})")
    progress = {**meta["progress"], "history": run_history(run_dir)}
    for name in SNAPSHOT_NETS:
        save_tensors(folder / f"{name}.safetensors",
                     {k[len(name) + 1:]: v.half() if v.is_floating_point() else v
                      for k, v in tensors.items() if k.startswith(f"{name}.")})
    save_tensors(folder / f"{SNAPSHOT_STATE}.safetensors",
                 {k: v for k, v in tensors.items() if k.split(".", 1)[0] in ("augment", "pl")})
    write_json(folder / SNAPSHOT_META, {"config": meta["config"], "progress": progress})


def load_network_snapshot(snapshot: Path, nets: dict[str, nn.Module]) -> dict:
    """Load a network snapshot into ``nets`` (G, D, G_ema, augment, pl; float16 weights become
    the networks' float32); returns its ``training.json``.

    Raises:
        UserError: missing or unreadable files, or tensors that do not fit the networks.
    """
    snapshot = Path(snapshot)
    meta = read_json(snapshot / SNAPSHOT_META)
    state = load_tensors(snapshot / f"{SNAPSHOT_STATE}.safetensors")
    for name, net in nets.items():
        path = snapshot / f"{name}.safetensors"
        tensors = load_tensors(path) if name in SNAPSHOT_NETS else \
            {k[len(name) + 1:]: v for k, v in state.items() if k.startswith(f"{name}.")}
        load_state(net, tensors, path if name in SNAPSHOT_NETS else snapshot / f"{SNAPSHOT_STATE}.safetensors")
    return meta
