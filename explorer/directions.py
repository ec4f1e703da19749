"""Semantic directions in W: what the sliders move along.

A ``Direction`` is a unit vector in W applied to a range of W+ layers. Slider values are in
σ units: the standard deviation of w projected on the direction (measured over samples of
the mapping network). Sliders span ±2σ by default: on the shipped generator the coarse SeFa
components leave the face manifold (smears, colour blotches) towards ±3σ.

Fitting methods (``METHODS``; the supervised ones live in ``explorer.interfacegan``):

- "sefa" (Shen & Zhou, 2021, "Closed-Form Factorization of Latent Semantics in GANs"): the top
  eigenvectors of AᵀA, A the stacked, row-normalised style-affine weights of the chosen layers.
- "ganspace" (Härkönen et al., 2020, "GANSpace: Discovering Interpretable GAN Controls"): the
  principal components of sampled w, applied to the chosen layers.
- "interfacegan" (Shen et al., 2020, "InterFaceGAN"): the unit normal of a linear boundary
  fitted to attribute scores of generated faces, optionally made orthogonal to other
  attributes' normals (conditional editing, ``condition``).
- "pose": the same for a regression on a landmark yaw score (``explorer.pose``).

Unsupervised components are named ``<method><a>-<b>_<k>`` and labelled "Component k (layers
a–b)" until renamed.

Storage: ``directions.safetensors`` (one [w_dim] float32 vector per name) plus
``directions.json`` (``{"generator_sha256": ..., "directions": [{name, label, layers, scale,
min, max, method, conditioning, metrics}, ...]}``). Records written before conditioning and
metrics existed load with none. Loading directions made for another generator is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from explorer.errors import UserError
from explorer.finite import finite_number
from explorer.latent import apply_direction
from explorer.netio import load_tensors, read_json, save_tensors, write_json
from explorer.nets.stylegan import Generator

METHODS = ("sefa", "ganspace", "interfacegan", "pose")
UNSUPERVISED = ("sefa", "ganspace")   # methods whose directions are numbered components, not attributes


@dataclass(frozen=True)
class Direction:
    """A named slider: ``vector`` [w_dim] float32 unit norm, applied to W+ layers
    ``layers.start .. layers.stop - 1``, moved by ``value · scale`` for a slider value in σ units
    within [min, max]. ``name`` is the key typed on the command line (``--set NAME=VALUE``),
    ``label`` what the GUI shows, ``method`` one of ``METHODS``. ``conditioning`` names the
    attributes whose boundary normals ``vector`` was made orthogonal to (InterFaceGAN's
    conditional editing); ``metrics`` holds figures of the fit (e.g. held-out boundary
    accuracy, regression correlation r, score change per σ)."""

    name: str
    label: str
    vector: torch.Tensor
    layers: range
    scale: float
    min: float = -2.0
    max: float = 2.0
    method: str = "sefa"
    conditioning: tuple[str, ...] = ()
    metrics: dict = field(default_factory=dict)

    def apply(self, ws: torch.Tensor, value: float) -> torch.Tensor:
        """Move W+ [N, num_ws, w_dim] by ``value`` σ along this direction. Returns a new tensor."""
        return apply_direction(ws, self.vector * self.scale, value, self.layers)

    def conditioned(self, others: list[Direction], w_covariance: torch.Tensor) -> Direction:
        """This direction made orthogonal to ``others`` (``condition``: moving it then leaves
        what they measure as it is), with its σ re-measured as √(nᵀ Σ n) for the covariance Σ
        [w_dim, w_dim] of w. Its ``conditioning`` lists the others' names after its own.

        Raises:
            ValueError: it lies (almost) in the span of the others.
        """
        if not others:
            return self
        vector = condition(self.vector, [o.vector.to(self.vector.device) for o in others])
        cov = w_covariance.to(vector.device, torch.float64)
        scale = float(torch.sqrt(vector.double() @ cov @ vector.double()))
        names = self.conditioning + tuple(o.name for o in others if o.name not in self.conditioning)
        return replace(self, vector=vector, scale=scale, conditioning=names)

    def describe(self) -> dict:
        """JSON description, as printed by ``explorer directions list``."""
        return {"name": self.name, "label": self.label, "min": self.min, "max": self.max,
                "layers": [self.layers.start, self.layers.stop - 1], "method": self.method, "scale": self.scale,
                "conditioning": list(self.conditioning), "metrics": self.metrics}


def sample_w(G: Generator, num_samples: int, seed: int = 0, chunk: int = 2000) -> torch.Tensor:
    """``num_samples`` w = mapping(z), z ~ N(0, I) drawn on the CPU from ``seed`` (the same on
    every device), mapped in chunks on G's device. Returns float32 [num_samples, w_dim] on the CPU."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(num_samples, G.cfg.z_dim, generator=gen)
    device = G.mapping.w_avg.device
    with torch.no_grad():
        return torch.cat([G.mapping(part.to(device)).cpu() for part in z.split(chunk)])


def w_std_along(G: Generator, vectors: torch.Tensor, num_samples: int = 10_000, seed: int = 0) -> torch.Tensor:
    """σ of w projected on each row of ``vectors`` [K, w_dim], over ``num_samples`` mapped z. Returns [K]."""
    return (sample_w(G, num_samples, seed) @ vectors.cpu().T).std(dim=0)


def w_covariance(G: Generator, num_samples: int = 10_000, seed: int = 0) -> torch.Tensor:
    """Covariance of w over the samples ``w_std_along`` uses → float64 [w_dim, w_dim] on the CPU,
    so √(nᵀ Σ n) is the σ it gives along a unit n."""
    return torch.cov(sample_w(G, num_samples, seed).double().T)


def _check_components(G: Generator, layers: range, num_components: int) -> None:
    """Raise ValueError for a layer range outside W+ or a component count outside [1, w_dim]."""
    if not (0 <= layers.start < layers.stop <= G.num_ws):
        raise ValueError(f"layers must lie within [0, {G.num_ws}), got {layers.start}..{layers.stop - 1}")
    if not 1 <= num_components <= G.cfg.w_dim:
        raise ValueError(f"num_components must be in [1, {G.cfg.w_dim}], got {num_components}")


def _components(G: Generator, vectors: torch.Tensor, layers: range, method: str,
                metrics: list[dict]) -> list[Direction]:
    """Directions ``<method><a>-<b>_<k>`` labelled "Component k (layers a–b)" for rows of [K, w_dim]."""
    scales = w_std_along(G, vectors)
    first, last = layers.start, layers.stop - 1
    return [Direction(f"{method}{first}-{last}_{k + 1}", f"Component {k + 1} (layers {first}–{last})", vectors[k],
                      layers, float(scales[k]), method=method, metrics=metrics[k]) for k in range(len(vectors))]


def sefa(G: Generator, layers: range, num_components: int) -> list[Direction]:
    """SeFa directions for the W+ layers in ``layers``.

    Follows Shen & Zhou, 2021 ("Closed-Form Factorization of Latent Semantics in GANs"):
    stacks the style affines A of the synthesis layers that read one of those W+ indices,
    normalises each row, and returns the top ``num_components`` eigenvectors of AᵀA as
    directions named ``sefa<a>-<b>_<k>`` and labelled "Component k (layers a–b)", with metric
    ``eigenvalue_share`` (the component's share of the eigenvalue sum). As in the authors'
    code, the intermediate ToRGB layers are left out: they style colours in RGB, not the face's
    features, and would count the W+ index they share with a convolution twice; the last ToRGB
    is kept, being the only reader of the last W+ index.

    Raises:
        ValueError: an empty or out-of-range layer range, or num_components outside [1, w_dim].
    """
    _check_components(G, layers, num_components)
    weights = [conv.affine.weight * conv.affine.weight_gain
               for index, conv in _styled_layers(G) if index in layers]
    A = torch.cat(weights).detach().float().cpu()                       # [sum C_in, w_dim]
    A = A / A.norm(dim=1, keepdim=True)
    eigvals, eigvecs = torch.linalg.eigh(A.T @ A)                       # ascending eigenvalues
    vectors = eigvecs.flip(1)[:, :num_components].T.contiguous()         # [K, w_dim]
    shares = (eigvals.flip(0) / eigvals.sum())[:num_components]
    return _components(G, vectors, layers, "sefa", [{"eigenvalue_share": round(float(s), 5)} for s in shares])


def ganspace(G: Generator, layers: range, num_components: int, num_samples: int = 50_000,
             seed: int = 0) -> list[Direction]:
    """GANSpace directions: the top ``num_components`` principal components (scikit-learn PCA)
    of ``num_samples`` sampled w, applied to the W+ layers in ``layers``; orthonormal and
    ordered by explained variance. Named ``ganspace<a>-<b>_<k>``, labelled "Component k (layers
    a–b)", with metric ``explained_variance_ratio``.

    Raises:
        ValueError: an out-of-range layer range, num_components outside [1, w_dim], or fewer
            samples than components.
    """
    from sklearn.decomposition import PCA
    _check_components(G, layers, num_components)
    if num_samples < num_components:
        raise ValueError(f"num_samples ({num_samples}) must be ≥ num_components ({num_components})")
    w = sample_w(G, num_samples, seed).double().numpy()
    pca = PCA(n_components=num_components, svd_solver="covariance_eigh").fit(w)
    vectors = torch.from_numpy(pca.components_).float()                 # [K, w_dim], orthonormal rows
    return _components(G, vectors, layers, "ganspace",
                       [{"explained_variance_ratio": round(float(r), 5), "num_samples": num_samples}
                        for r in pca.explained_variance_ratio_])


def condition(normal: torch.Tensor, others: list[torch.Tensor]) -> torch.Tensor:
    """Conditional editing (InterFaceGAN §2.3, generalised to several attributes): ``normal``
    [w_dim] with its components along ``others`` (each [w_dim]) removed, n' = n − Σ (n·m) m over
    an orthonormal basis m of the others (Gram–Schmidt by QR), renormalised to unit length.

    Raises:
        ValueError: ``normal`` lies (almost) in the span of the others.
    """
    if not others:
        return normal / normal.norm()
    basis, _ = torch.linalg.qr(torch.stack([o.double() for o in others], dim=1))    # [w_dim, k]
    n = normal.double()
    out = n - basis @ (basis.T @ n)
    if out.norm() < 1e-6 * n.norm():
        raise ValueError("the direction lies in the span of the conditioning directions")
    return (out / out.norm()).to(normal.dtype)


def _styled_layers(G: Generator):
    """(W+ index, ModulatedConv2d) for every styled 3×3 convolution of the synthesis network,
    and for the last ToRGB (the only reader of W+ index num_ws − 1)."""
    blocks = G.synthesis.blocks
    for i, block in enumerate(blocks):
        if block.conv0 is not None:
            yield 2 * i - 1, block.conv0.conv
        yield 2 * i, block.conv1.conv
    yield 2 * len(blocks) - 1, blocks[-1].torgb.conv


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
        UserError: missing or broken files (NaN or inf in a vector, a scale or a range
            included), or directions fitted for another generator.
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
            if entry["method"] not in METHODS:
                raise ValueError(f"unknown method {entry['method']!r}")
            scale, low, high = (finite_number(entry[key], key) for key in ("scale", "min", "max"))
            out.append(Direction(name, entry["label"], vectors[name].float(), range(first, last + 1),
                                 scale, low, high, entry["method"],
                                 tuple(str(c) for c in entry.get("conditioning", [])), dict(entry.get("metrics", {}))))
        except (KeyError, TypeError, ValueError) as e:
            raise UserError(f"{stem.with_suffix('.json')}: bad direction entry {entry!r} ({e})") from None
    return out
