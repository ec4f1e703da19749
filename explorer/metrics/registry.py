"""One registry for every metric: name → function, and ``compute`` that opens the image sets.

A metric function takes ``(real, fake, num, resolution, device)`` (image sets from
``explorer.metrics.sources``) and returns a list of records, one JSON object per figure:
``{"metric": NAME, "value": float, "num": N, "reference": "what was compared, and how", ...}``.
``pr`` gives two records (precision, recall); the others one. ``ppl`` and ``detection`` measure
the --fake set alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from explorer.errors import UserError
from explorer.metrics.detection import detection_metric
from explorer.metrics.fd_face import fd_face_metric
from explorer.metrics.fid import fid_metric, kid_metric, pr_metric
from explorer.metrics.identity import identity_metric
from explorer.metrics.lpips import lpips_metric
from explorer.metrics.ppl import ppl_metric
from explorer.metrics.sources import open_source
from explorer.weights import pick_device

DEFAULT_NUM = 10_000


@dataclass(frozen=True)
class Metric:
    """A registered metric: its function, its default --num (None: every pair) and whether it needs --real."""

    fn: Callable[..., list[dict]]
    default_num: int | None
    needs_real: bool = True


METRICS: dict[str, Metric] = {
    "fid": Metric(fid_metric, DEFAULT_NUM),
    "kid": Metric(kid_metric, DEFAULT_NUM),
    "pr": Metric(pr_metric, DEFAULT_NUM),
    "fd_face": Metric(fd_face_metric, DEFAULT_NUM),
    "lpips": Metric(lpips_metric, None),
    "identity": Metric(identity_metric, None),
    "ppl": Metric(ppl_metric, DEFAULT_NUM, needs_real=False),
    "detection": Metric(detection_metric, DEFAULT_NUM, needs_real=False),
}


def compute(name: str, real: Path | None, fake: Path, num: int | None = None, resolution: int | None = None,
            device: str = "auto", split: str | None = None) -> list[dict]:
    """Evaluate metric ``name`` on the image sets at ``real`` and ``fake``.

    Args:
        name: a key of ``METRICS``.
        real, fake: dataset zip, zip or folder of images, or weights folder (``real`` unused by
            ppl and detection).
        num: images per set (fid, kid, pr, fd_face, detection), samples (ppl) or pairs (lpips, identity; default all).
        resolution: evaluation resolution R (default: the native resolution of ``fake``).
        device: "auto", "cpu", "cuda" or "mps".
        split: None, or "train" / "held-out" to use only those rows of a dataset zip given as ``real``.

    Returns:
        The metric's records (see the module docstring).

    Raises:
        UserError: unknown name, missing or unreadable sets, bad num or resolution.
    """
    if name not in METRICS:
        raise UserError(f"unknown metric {name!r} (known: {', '.join(METRICS)})")
    metric = METRICS[name]
    if num is not None and num < 1:
        raise UserError(f"--num must be at least 1, got {num}")
    if resolution is not None and not 8 <= resolution <= 4096:
        raise UserError(f"--resolution must be in [8, 4096], got {resolution}")
    if metric.needs_real and real is None:
        raise UserError(f"{name} compares two image sets: give --real PATH")
    dev = pick_device(device)
    fake_set = open_source(fake, "fake", str(dev))
    real_set = open_source(real, "real", str(dev), split) if metric.needs_real else None
    return metric.fn(real_set, fake_set, num or metric.default_num, resolution or fake_set.native_resolution, dev)
