"""Training checkpoints: networks, optimizer states, counters and RNG states in one safetensors
file, with the configuration in a JSON file beside it. No pickle.

``checkpoint.safetensors`` keys: ``G.*``, ``D.*``, ``G_ema.*`` (state dicts), ``opt_G.<i>.<name>``
and ``opt_D.<i>.<name>`` (Adam state of the i-th parameter), ``rng.torch`` (CPU generator state).
``checkpoint.json``: ``{"config": {...}, "progress": {"nimg": ..., "step": ...},
"hardware": "...", "rng_numpy": {...}}``. The JSON is written after the tensors, so a checkpoint is complete
only when its JSON names the tensors' file; both are replaced atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from explorer.errors import UserError
from explorer.netio import load_state, load_tensors, read_json, save_tensors, write_json

TENSORS = "checkpoint.safetensors"
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
    save_tensors(Path(run_dir) / TENSORS, tensors)
    write_json(Path(run_dir) / META, {"config": config, "progress": progress, "hardware": hardware,
                                      "rng_numpy": rng.bit_generator.state})


def has_checkpoint(run_dir: Path) -> bool:
    """True when ``run_dir`` holds a complete checkpoint."""
    return (Path(run_dir) / META).is_file() and (Path(run_dir) / TENSORS).is_file()


def read_checkpoint_meta(run_dir: Path) -> dict:
    """The JSON half of a checkpoint: config, progress and the NumPy RNG state."""
    return read_json(Path(run_dir) / META)


def load_checkpoint(run_dir: Path, nets: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                    rng: np.random.Generator) -> dict:
    """Restore networks, optimizers and RNG states from ``run_dir``; returns the JSON metadata.

    Raises:
        UserError: missing or unreadable files, or tensors that do not fit the networks.
    """
    path = Path(run_dir) / TENSORS
    meta = read_checkpoint_meta(run_dir)
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
