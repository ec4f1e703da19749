"""Networks on disk: safetensors for the tensors, JSON for the configuration that rebuilds them.

A network ``NAME`` is stored as ``NAME.safetensors`` (its state dict) and ``NAME.json``
(``{"kind": ..., "config": {...}}``). Nothing is ever unpickled. Files are written through
``explorer.atomic`` (a temporary name, fsync, rename), so a crash never leaves a half-written file.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from explorer.atomic import replace_file
from explorer.errors import UserError


def atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Make ``path``'s folder if needed, then write ``path`` with ``write(tmp)``, replacing the
    file there in one rename (``atomic.replace_file``: ordinary permissions, fsynced).

    Raises:
        UserError: it cannot be written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, write)


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Write a flat dict of tensors as safetensors, atomically."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file on the CPU, every floating-point tensor finite.

    Raises:
        UserError: the file is missing, not a readable safetensors file, or a tensor holds NaN
            or inf (naming it).
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise UserError(f"{path}: not a readable safetensors file ({e})") from None
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise UserError(f"{path}: tensor {name!r} holds NaN or inf (a diverged or damaged network)")
    return tensors


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as indented JSON, atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2) + "\n"))


def read_json(path: Path) -> dict:
    """Read a JSON object.

    Raises:
        UserError: missing file, invalid JSON, or not an object.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        data = loads_finite(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: invalid JSON ({e})") from None
    except NonFiniteNumber as e:
        raise UserError(f"{path}: {e}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object")
    return data


class NonFiniteNumber(ValueError):
    """A JSON text holds NaN, Infinity or a number too large for a float."""


def loads_finite(text: str):
    """``json.loads`` of ``text``, refusing what Python's json module accepts but JSON does not
    allow, or what becomes inf: the literals NaN, Infinity and -Infinity, and numbers beyond a
    float's range (1e400).

    Raises:
        json.JSONDecodeError: invalid JSON.
        NonFiniteNumber: such a number, naming where it is (e.g. ``directions[0].scale``).
    """
    data = json.loads(text)
    where = _non_finite_at(data, "")
    if where is not None:
        raise NonFiniteNumber(f"{where or 'the value'} is not a finite number (NaN, Infinity and numbers "
                              f"beyond ±1.8e308 are refused)")
    return data


def _non_finite_at(value, where: str) -> str | None:
    """Where in parsed JSON ``value`` (itself at ``where``) the first NaN or ±inf is, or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else where
    if isinstance(value, dict):
        items = ((f"{where}.{key}" if where else str(key), item) for key, item in value.items())
    elif isinstance(value, list):
        items = ((f"{where}[{i}]", item) for i, item in enumerate(value))
    else:
        return None
    return next((found for path, item in items if (found := _non_finite_at(item, path)) is not None), None)


def file_in_folder(folder: Path, name: object, source: Path, field: str) -> Path:
    """``folder / name`` for a file name read from the JSON file ``source`` (its ``field``),
    which must name a file inside ``folder``: a non-empty relative path without ``..`` that
    resolves (symlinks followed) inside ``folder``, so that a JSON file cannot point at another
    run's files or anything else on disk.

    Raises:
        UserError: ``name`` is not such a file name (naming ``source``, ``field`` and ``name``).
    """
    folder = Path(folder)
    try:
        inside = (isinstance(name, str) and name and "\0" not in name and not PurePath(name).is_absolute()
                  and ".." not in PurePath(name).parts and (folder / name).resolve().is_relative_to(folder.resolve()))
    except (OSError, RuntimeError):                # a symlink loop
        inside = False
    if not inside:
        raise UserError(f"{source}: {field} {name!r} is not a file inside {folder} (absolute, with '..', "
                        f"or leading outside it); refused")
    return folder / name


def plain_file_name(folder: Path, name: object, source: Path, field: str) -> Path:
    """``folder / name`` for a file name read from the JSON file ``source`` (its ``field``) that
    must be one plain name in ``folder``: a non-empty single path component, not ``.`` or
    ``..``. A symlink by that name is followed (its content is what a checksum then checks).

    Raises:
        UserError: ``name`` is not such a name (naming ``source``, ``field`` and ``name``).
    """
    plain = isinstance(name, str) and name not in ("", ".", "..") and "\0" not in name and PurePath(name).name == name
    if not plain or "/" in name or "\\" in name:
        raise UserError(f"{source}: {field} {name!r} is not a plain file name in {folder}; refused")
    return Path(folder) / name


def save_network(net: nn.Module, stem: Path, kind: str, config: dict, *, dtype: torch.dtype = torch.float32) -> None:
    """Save ``net`` as ``stem.safetensors`` (floating-point tensors cast to ``dtype``) plus ``stem.json``."""
    stem = Path(stem)
    tensors = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in net.state_dict().items()}
    save_tensors(stem.with_suffix(".safetensors"), tensors)
    write_json(stem.with_suffix(".json"), {"kind": kind, "config": config})


def load_state(net: nn.Module, state: dict[str, torch.Tensor], source: Path) -> None:
    """Load ``state`` into ``net`` in float32, refusing missing, unexpected or mis-shaped tensors.

    Raises:
        UserError: the tensors do not fit the network built from the config.
    """
    own = net.state_dict()
    missing, unexpected = own.keys() - state.keys(), state.keys() - own.keys()
    wrong = [k for k in own.keys() & state.keys() if own[k].shape != state[k].shape]
    if missing or unexpected or wrong:
        first = sorted(missing)[:1] or sorted(unexpected)[:1] or sorted(wrong)[:1]
        raise UserError(f"{source}: weights do not match the architecture in its JSON "
                        f"({len(missing)} missing, {len(unexpected)} unexpected, {len(wrong)} mis-shaped; e.g. {first[0]})")
    net.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})


def read_network_config(stem: Path, kind: str) -> dict:
    """Read ``stem.json`` and check it describes a network of ``kind``.

    Raises:
        UserError: missing or broken JSON, or another kind of network.
    """
    meta = read_json(Path(stem).with_suffix(".json"))
    if meta.get("kind") != kind or not isinstance(meta.get("config"), dict):
        raise UserError(f"{Path(stem).with_suffix('.json')}: expected a {kind!r} network config, "
                        f"found kind {meta.get('kind')!r}")
    return meta["config"]
