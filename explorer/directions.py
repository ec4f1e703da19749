"""Semantic directions in W: what the sliders move along.

A ``Direction`` is a unit vector in W applied to a range of W+ layers. Slider values are in
σ units: the standard deviation of w projected on the direction (measured over samples of
the mapping network). Sliders span ±2σ by default: on the shipped generator the coarse SeFa
components leave the face manifold (smears, colour blotches) towards ±3σ.

Fitting methods: SeFa (Shen & Zhou, 2021, "Closed-Form Factorization of Latent Semantics
in GANs"): the top eigenvectors of AᵀA, A the stacked, row-normalised style-affine weights of
the chosen layers.

Storage: ``directions.safetensors`` (one [w_dim] float32 vector per name) plus
``directions.json`` (``{"generator_sha256": ..., "directions": [{name, layers, scale, min,
max, method}, ...]}``). Loading directions made for another generator is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from explorer.errors import UserError
from explorer.latent import apply_direction
from explorer.netio import load_tensors, read_json, save_tensors, write_json
from explorer.nets.stylegan import Generator


@dataclass(frozen=True)
class Direction:
    """A named slider: ``vector`` [w_dim] float32 unit norm, applied to W+ layers
    ``layers.start .. layers.stop - 1``, moved by ``value · scale`` for a slider value in σ units
    within [min, max]. ``name`` is the key typed on the command line (``--set NAME=VALUE``),
    ``label`` what the GUI shows."""

    name: str
    label: str
    vector: torch.Tensor
    layers: range
    scale: float
    min: float = -2.0
    max: float = 2.0
    method: str = "sefa"

    def apply(self, ws: torch.Tensor, value: float) -> torch.Tensor:
        """Move W+ [N, num_ws, w_dim] by ``value`` σ along this direction. Returns a new tensor."""
        return apply_direction(ws, self.vector * self.scale, value, self.layers)

    def describe(self) -> dict:
        """JSON description, as printed by ``explorer directions list``."""
        return {"name": self.name, "label": self.label, "min": self.min, "max": self.max,
                "layers": [self.layers.start, self.layers.stop - 1], "method": self.method, "scale": self.scale}


def w_std_along(G: Generator, vectors: torch.Tensor, num_samples: int = 10_000, seed: int = 0) -> torch.Tensor:
    """σ of w projected on each row of ``vectors`` [K, w_dim], over ``num_samples`` mapped z. Returns [K]."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(num_samples, G.cfg.z_dim, generator=gen)
    with torch.no_grad():
        w = torch.cat([G.mapping(chunk) for chunk in z.split(2000)])
    return (w @ vectors.T).std(dim=0)


def sefa(G: Generator, layers: range, num_components: int) -> list[Direction]:
    """SeFa directions for the W+ layers in ``layers``.

    Collects the style affine of every modulated convolution that reads one of those W+
    indices, normalises each row, and returns the top ``num_components`` eigenvectors of AᵀA
    as directions named ``sefa<a>-<b>_<k>`` and labelled "Component k (layers a–b)".

    Raises:
        ValueError: an empty or out-of-range layer range, or num_components outside [1, w_dim].
    """
    num_ws, w_dim = G.num_ws, G.cfg.w_dim
    if not (0 <= layers.start < layers.stop <= num_ws):
        raise ValueError(f"layers must lie within [0, {num_ws}), got {layers.start}..{layers.stop - 1}")
    if not 1 <= num_components <= w_dim:
        raise ValueError(f"num_components must be in [1, {w_dim}], got {num_components}")
    weights = [conv.affine.weight * conv.affine.weight_gain
               for index, conv in _modulated_convs(G) if index in layers]
    A = torch.cat(weights).detach().float()                             # [sum C_in, w_dim]
    A = A / A.norm(dim=1, keepdim=True)
    _, eigvecs = torch.linalg.eigh(A.T @ A)                             # ascending eigenvalues
    vectors = eigvecs.flip(1)[:, :num_components].T.contiguous()         # [K, w_dim]
    scales = w_std_along(G, vectors)
    first, last = layers.start, layers.stop - 1
    return [Direction(f"sefa{first}-{last}_{k + 1}", f"Component {k + 1} (layers {first}–{last})", vectors[k],
                      layers, float(scales[k]), method="sefa") for k in range(num_components)]


def _modulated_convs(G: Generator):
    """(W+ index, ModulatedConv2d) for every styled convolution and ToRGB of the synthesis network."""
    for i, block in enumerate(G.synthesis.blocks):
        if block.conv0 is not None:
            yield 2 * i - 1, block.conv0.conv
        yield 2 * i, block.conv1.conv
        yield 2 * i + 1, block.torgb.conv


def save_directions(stem: Path, directions: list[Direction], generator_sha256: str) -> None:
    """Write ``stem.safetensors`` and ``stem.json`` for ``directions`` of the generator with that sha256."""
    stem = Path(stem)
    save_tensors(stem.with_suffix(".safetensors"), {d.name: d.vector.float() for d in directions})
    write_json(stem.with_suffix(".json"), {
        "generator_sha256": generator_sha256,
        "directions": [d.describe() for d in directions],
    })


def load_directions(stem: Path, generator_sha256: str) -> list[Direction]:
    """Read directions saved by ``save_directions``.

    Raises:
        UserError: missing or broken files, or directions fitted for another generator.
    """
    stem = Path(stem)
    meta = read_json(stem.with_suffix(".json"))
    if meta.get("generator_sha256") != generator_sha256:
        raise UserError(f"{stem.with_suffix('.json')}: these directions were fitted for another generator "
                        f"(sha256 {str(meta.get('generator_sha256'))[:12]}…, loaded {generator_sha256[:12]}…)")
    vectors = load_tensors(stem.with_suffix(".safetensors"))
    out = []
    for entry in meta.get("directions", []):
        try:
            name, (first, last) = entry["name"], entry["layers"]
            out.append(Direction(name, entry["label"], vectors[name].float(), range(first, last + 1),
                                 float(entry["scale"]), float(entry["min"]), float(entry["max"]), entry["method"]))
        except (KeyError, TypeError, ValueError) as e:
            raise UserError(f"{stem.with_suffix('.json')}: bad direction entry {entry!r} ({e})") from None
    return out
