"""Conversion of dlib's face descriptor network to safetensors, done once into the cache.

    python -m explorer.metrics.face_descriptor_convert [--out DIR]

Source: ``dlib_face_recognition_resnet_model_v1.dat`` from the face-recognition-models 0.3.0
package (CC0; a dependency of the project, so the file is on every install), checked by sha256
and parsed by ``explorer.dlib_dnn`` without dlib. Each affine layer (dlib's frozen batch norm) is
folded into the convolution before it. Output: ``OUT/face_descriptor.safetensors`` (float32) and
``OUT/face_descriptor.json``; the default OUT is the cache (``cache_root()/face_descriptor``),
where ``explorer.metrics.face_descriptor`` converts it on first use. Float32, because float16
moves descriptors by up to 3·10⁻⁴, enough to flip dlib's same-person decision for pairs that
close to 0.6.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from explorer.dlib_dnn import DlibFormatError, DlibLayer, DlibNetwork, read_dlib_network
from explorer.errors import UserError
from explorer.metrics.cache import cache_root
from explorer.netio import file_sha256, save_tensors, write_json
from explorer.nets.face_descriptor import CHIP_SIZE, STAGES, FaceDescriptorNet

MODEL_NAME = "dlib_face_recognition_resnet_model_v1.dat"
MODEL_SHA256 = "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"  # face-recognition-models 0.3.0


def default_out() -> Path:
    """Where the converted network goes unless told otherwise: ``cache_root()/face_descriptor``."""
    return cache_root() / "face_descriptor"


def default_source() -> Path:
    """The .dat file inside the installed face-recognition-models package.

    Raises:
        UserError: the package is not installed.
    """
    import importlib.util

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("face-recognition-models is not installed (pip install face-recognition-models==0.3.0)")
    return Path(spec.submodule_search_locations[0]) / "models" / MODEL_NAME


def expected_kinds() -> list[str]:
    """The layer types, input side first, that dlib's definition of the network serializes."""
    kinds = ["con_4", "affine_", "relu_", "max_pool_2"]
    for _, count, down in STAGES:
        for i in range(count):
            kinds += ["con_4", "affine_", "relu_", "con_4", "affine_"]
            kinds += ["avg_pool_2", "add_prev_", "relu_"] if down and i == 0 else ["add_prev_", "relu_"]
    return kinds + ["avg_pool_2", "fc_2"]


def _fold(con: DlibLayer, affine: DlibLayer) -> tuple[torch.Tensor, torch.Tensor]:
    """conv then per-channel ``gamma·x + beta`` → one conv: (weight [O, I, kh, kw], bias [O]) float32."""
    gamma, beta = affine.params["gamma"], affine.params["beta"]
    weight = con.params["filters"] * gamma[:, None, None, None]
    bias = con.params["biases"] * gamma + beta
    return torch.from_numpy(np.ascontiguousarray(weight)), torch.from_numpy(np.ascontiguousarray(bias))


def state_from_dlib(net: DlibNetwork, source: str) -> dict[str, torch.Tensor]:
    """A parsed dlib network → the ``FaceDescriptorNet`` state dict (float32).

    Raises:
        DlibFormatError: the network is not dlib's face descriptor ResNet (other layers, input
            size or parameter shapes); the message names ``source``.
    """
    kinds = [layer.kind for layer in net.layers]
    if kinds != expected_kinds() or net.input_size != (CHIP_SIZE, CHIP_SIZE):
        raise DlibFormatError(f"{source}: a dlib network, but not the face descriptor ResNet "
                              f"({len(kinds)} layers, input {net.input_size})")
    convs = [(layer, net.layers[i + 1]) for i, layer in enumerate(net.layers) if layer.kind == "con_4"]
    names = ["stem"] + [f"blocks.{b}.conv{j}" for b in range(sum(c for _, c, _ in STAGES)) for j in (1, 2)]
    state = {}
    for name, (con, affine) in zip(names, convs):
        state[f"{name}.weight"], state[f"{name}.bias"] = _fold(con, affine)
    state["fc.weight"] = torch.from_numpy(np.ascontiguousarray(net.layers[-1].params["weights"].T))
    reference = FaceDescriptorNet().state_dict()
    wrong = [k for k in reference if k not in state or state[k].shape != reference[k].shape]
    if wrong:
        raise DlibFormatError(f"{source}: a dlib ResNet whose {wrong[0]} does not fit the face descriptor network")
    return state


def converted_state(source: Path) -> dict[str, torch.Tensor]:
    """The ``FaceDescriptorNet`` state dict (float32) converted from dlib's file at ``source``.

    Raises:
        UserError: the source is missing, unreadable or not the file face-recognition-models
            0.3.0 ships (sha256).
        DlibFormatError: the source is not dlib's face descriptor network.
    """
    source = Path(source)
    if not source.is_file():
        raise UserError(f"{source}: file not found")
    if file_sha256(source) != MODEL_SHA256:
        raise UserError(f"{source}: not the {MODEL_NAME} of face-recognition-models 0.3.0 (sha256 differs)")
    return state_from_dlib(read_dlib_network(source), str(source))


def save_converted(state: dict[str, torch.Tensor], out: Path) -> Path:
    """Write a converted state as ``out/face_descriptor`` (``.safetensors`` float32 + ``.json``
    recording its source); returns the stem.

    Raises:
        UserError: ``out`` cannot be written.
    """
    stem = Path(out) / "face_descriptor"
    save_tensors(stem.with_suffix(".safetensors"), state)
    write_json(stem.with_suffix(".json"), {
        "kind": "face_descriptor", "config": {"chip_size": CHIP_SIZE},
        "source": {"file": MODEL_NAME, "sha256": MODEL_SHA256, "package": "face-recognition-models 0.3.0",
                   "licence": "CC0 (public domain)", "model": "dlib face recognition ResNet v1 (Davis King)",
                   "dtype": "float32", "folded": "affine layers into the convolutions before them"}})
    return stem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert dlib's face descriptor network to safetensors.")
    parser.add_argument("--dat", type=Path, default=None, help=f"the {MODEL_NAME} to read (default: the installed one)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: the cache, ~/.cache/explorer/face_descriptor)")
    args = parser.parse_args(argv)
    try:
        stem = save_converted(converted_state(args.dat or default_source()), args.out or default_out())
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {stem}.safetensors")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
