"""A reader for dlib's serialized DNN files (``dlib::serialize(net)``), as far as dlib's face
descriptor network needs: a plain binary parse, no pickle, no dlib.

dlib writes a network as nested layers, outermost first: the loss layer, then for each layer its
version (2: a computational layer, 1: a tag or skip layer, 3: the layer over the input), down to
the input layer; then, from the input upwards, each computational layer's details (its type name
and parameters) followed by its training state. Numbers use dlib's portable encoding: an integer
is one byte giving its length (low 4 bits) and sign (bit 7), then that many little-endian bytes;
a float is an integer mantissa and an integer exponent; a bool is the character '0' or '1'; a
tensor is a version, four dimensions and raw little-endian float32 data.

Source: dlib's ``dlib/serialize.h``, ``dlib/dnn/core.h`` and ``dlib/dnn/layers.h`` (Boost licence),
read for the format, checked against ``dlib_face_recognition_resnet_model_v1.dat``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from explorer.errors import UserError

LAYER_TYPES = ("con_4", "affine_", "relu_", "max_pool_2", "avg_pool_2", "add_prev_", "fc_2")
_MAX_LAYERS = 10_000


class DlibFormatError(UserError):
    """The file is not a dlib DNN this reader understands; the message names the file, the
    byte offset and what was expected there."""


@dataclass
class DlibLayer:
    """One computational layer of a dlib network, as stored.

    ``kind`` is dlib's serialized type name (one of ``LAYER_TYPES``); ``config`` holds its integer
    settings (e.g. ``num_filters``, ``nr``, ``stride_y``, ``padding_y``); ``params`` its parameters
    as float32 arrays in dlib's layout: a convolution's ``filters`` [out, in, kh, kw] and ``biases``
    [out]; an affine layer's ``gamma`` and ``beta`` [C]; a fully connected layer's ``weights``
    [in, out] (and ``biases`` [out] when it has them).
    """

    kind: str
    config: dict[str, int] = field(default_factory=dict)
    params: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class DlibNetwork:
    """A parsed dlib network.

    ``loss``: the loss layer's type name (``loss_metric_2``); ``input``: the input layer's type
    name; ``input_mean``: the RGB mean the input layer subtracts (0–255 units; dlib then divides by
    256); ``input_size``: (rows, cols) of the input; ``nesting``: the layer versions outermost
    first (see the module docstring); ``layers``: the computational layers, input side first.
    """

    loss: str
    input: str
    input_mean: tuple[float, float, float]
    input_size: tuple[int, int]
    nesting: list[int]
    layers: list[DlibLayer]


class _Reader:
    """Sequential reads of dlib's portable encoding from a bytes buffer."""

    def __init__(self, data: bytes, name: str):
        self.data, self.name, self.pos = data, name, 0

    def fail(self, what: str) -> DlibFormatError:
        return DlibFormatError(f"{self.name}: not a dlib network this reader understands: {what} at byte {self.pos}")

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail(f"file ends inside a {n}-byte field")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def int(self) -> int:
        head = self.take(1)[0]
        size = head & 0x0F
        if size > 8 or head & 0x70:
            raise self.fail(f"bad integer header 0x{head:02x}")
        value = int.from_bytes(self.take(size), "little")
        return -value if head & 0x80 else value

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        return float(mantissa) * 2.0 ** exponent

    def bool(self) -> bool:
        char = self.take(1)
        if char not in (b"0", b"1"):
            raise self.fail(f"bad bool {char!r}")
        return char == b"1"

    def string(self, limit: int = 256) -> str:
        size = self.int()
        if not 0 <= size <= limit:
            raise self.fail(f"string of length {size}")
        try:
            return self.take(size).decode("ascii")
        except UnicodeDecodeError:
            raise self.fail("a non-ASCII name") from None

    def expect(self, *names: str) -> str:
        start = self.pos
        name = self.string()
        if name not in names:
            self.pos = start
            raise self.fail(f"{name!r} where {' or '.join(map(repr, names))} was expected")
        return name

    def tensor(self) -> np.ndarray:
        """A tensor → float32 array [num_samples, k, nr, nc]."""
        if (version := self.int()) != 2:
            raise self.fail(f"tensor version {version}")
        shape = tuple(self.int() for _ in range(4))
        if min(shape) < 0:
            raise self.fail(f"tensor shape {shape}")
        count = int(np.prod(shape, dtype=np.int64))
        return np.frombuffer(self.take(4 * count), dtype="<f4").astype(np.float32).reshape(shape)

    def alias(self) -> tuple[int, ...]:
        """An alias_tensor (a view into a parameter tensor) → its shape."""
        if (version := self.int()) != 1:
            raise self.fail(f"alias tensor version {version}")
        return tuple(self.int() for _ in range(4))


def _split(params: np.ndarray, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    """Cut a flat parameter tensor into consecutive views of ``shapes``."""
    flat, out, at = params.reshape(-1), [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        out.append(flat[at:at + size].reshape(shape))
        at += size
    return out


def _con(r: _Reader) -> DlibLayer:
    params = r.tensor()
    keys = ("num_filters", "nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x")
    config = {k: r.int() for k in keys}
    filters, biases = r.alias(), r.alias()
    for _ in range(4):  # learning-rate and weight-decay multipliers
        r.float()
    if params.size != int(np.prod(filters)) + int(np.prod(biases)) or filters[0] != config["num_filters"]:
        raise r.fail(f"convolution parameters {params.shape} do not fit filters {filters} and biases {biases}")
    w, b = _split(params, filters, (int(np.prod(biases)),))
    return DlibLayer("con_4", config, {"filters": w, "biases": b})


def _affine(r: _Reader) -> DlibLayer:
    params = r.tensor()
    gamma, beta = r.alias(), r.alias()
    mode = r.int()
    channels = int(np.prod(gamma))
    if mode != 0 or params.size != 2 * channels or int(np.prod(beta)) != channels:
        raise r.fail(f"affine layer of mode {mode} with {params.size} parameters for {channels} channels")
    g, b = _split(params, (channels,), (channels,))
    return DlibLayer("affine_", {"mode": mode}, {"gamma": g, "beta": b})


def _pool(kind: str):
    def read(r: _Reader) -> DlibLayer:
        keys = ("nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x")
        return DlibLayer(kind, {k: r.int() for k in keys})
    return read


def _fc(r: _Reader) -> DlibLayer:
    config = {"num_outputs": r.int(), "num_inputs": r.int()}
    params = r.tensor()
    weights, biases = r.alias(), r.alias()
    config["bias_mode"] = r.int()  # 0: with bias, 1: without
    for _ in range(4):
        r.float()
    n_in, n_out = config["num_inputs"], config["num_outputs"]
    n_bias = n_out if config["bias_mode"] == 0 else 0
    if params.size != n_in * n_out + n_bias or int(np.prod(weights)) != n_in * n_out or int(np.prod(biases)) != n_bias:
        raise r.fail(f"fully connected parameters {params.shape} do not fit {n_in}→{n_out}")
    w, b = _split(params, (n_in, n_out), (n_bias,))
    return DlibLayer("fc_2", config, {"weights": w} | ({"biases": b} if n_bias else {}))


_DETAILS = {"con_4": _con, "affine_": _affine, "relu_": lambda r: DlibLayer("relu_"),
            "max_pool_2": _pool("max_pool_2"), "avg_pool_2": _pool("avg_pool_2"),
            "add_prev_": lambda r: DlibLayer("add_prev_"), "fc_2": _fc}


def _training_state(r: _Reader) -> None:
    """Skip what a layer stores beyond its details: three flags and three (empty) gradient tensors."""
    for _ in range(3):
        r.bool()
    for _ in range(3):
        r.tensor()


def read_dlib_network(path: Path) -> DlibNetwork:
    """Parse a dlib DNN file such as ``dlib_face_recognition_resnet_model_v1.dat``.

    Reads networks built from the layers in ``LAYER_TYPES`` over ``input_rgb_image_sized`` under
    ``loss_metric_2`` (dlib's metric-learning networks); tensors come back as float32 numpy arrays.

    Raises:
        UserError: the file is missing or unreadable.
        DlibFormatError: anything in the file this reader does not understand (the message names
            the file, the byte offset and what was found), or bytes left over at the end.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror or e})") from None
    r = _Reader(data, str(path))
    if (version := r.int()) != 1:
        raise r.fail(f"loss layer version {version}")
    loss = r.expect("loss_metric_2")
    r.float(), r.float()  # the metric loss's margin and distance threshold
    nesting = []
    while (version := r.int()) != 3:
        if version not in (1, 2) or len(nesting) >= _MAX_LAYERS:
            raise r.fail(f"layer version {version}")
        nesting.append(version)
    nesting.append(version)
    input_name = r.expect("input_rgb_image_sized")
    mean = (r.float(), r.float(), r.float())
    size = (r.int(), r.int())
    layers = []
    for i in range(nesting.count(2) + 1):
        kind = r.expect(*_DETAILS)
        layers.append(_DETAILS[kind](r))
        _training_state(r)
        if i == 0:
            r.int()  # the sample expansion factor, stored by the layer over the input only
    if r.pos != len(data):
        raise r.fail(f"{len(data) - r.pos} bytes left after the network")
    return DlibNetwork(loss, input_name, mean, size, nesting, layers)
