"""Training checkpoints: networks, optimizer states, counters and RNG states in one safetensors
file, with the configuration in a JSON file beside it. No pickle.

``checkpoint-<step>.safetensors`` keys: ``G.*``, ``D.*``, ``G_ema.*`` (state dicts),
``opt_G.<i>.<name>`` and ``opt_D.<i>.<name>`` (Adam state of the i-th parameter), ``rng.torch``
(CPU generator state). ``checkpoint.json``: ``{"tensors": "checkpoint-<step>.safetensors",
"config": {...}, "progress": {"nimg": ..., "step": ...}, "hardware": "...", "rng_numpy": {...}}``.

Crash safety: the new tensors file is written (temp file, fsync, rename) under a new name, then
the JSON is replaced atomically to point at it, and only then is the previous tensors file
deleted. A kill at any moment leaves the JSON naming a complete tensors file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from explorer.errors import UserError
from explorer.netio import load_state, load_tensors, read_json, save_tensors, write_json

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
    write_json(Path(run_dir) / META, {"tensors": name, "config": config, "progress": progress,
                                      "hardware": hardware, "rng_numpy": rng.bit_generator.state})
    for old in Path(run_dir).glob("checkpoint-*.safetensors"):
        if old.name != name:
            old.unlink()


def has_checkpoint(run_dir: Path) -> bool:
    """True when ``run_dir`` holds a checkpoint (its JSON; ``load_checkpoint`` checks the tensors)."""
    return (Path(run_dir) / META).is_file()


def read_checkpoint_meta(run_dir: Path) -> dict:
    """The JSON half of a checkpoint: config, progress and the NumPy RNG state."""
    return read_json(Path(run_dir) / META)


def load_checkpoint(run_dir: Path, nets: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                    rng: np.random.Generator) -> dict:
    """Restore networks, optimizers and RNG states from ``run_dir``; returns the JSON metadata.

    Raises:
        UserError: missing or unreadable files, or tensors that do not fit the networks.
    """
    meta = read_checkpoint_meta(run_dir)
    path = Path(run_dir) / str(meta.get("tensors", ""))
    tensors = load_tensors(path)
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
