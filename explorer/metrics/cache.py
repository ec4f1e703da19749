"""The evaluation cache: Inception features of image sets and on-demand converted weights.

Root: ``$EXPLORER_CACHE`` when set, else ``~/.cache/explorer``. Feature files live in
``ROOT/fid/`` as ``.npz`` (read with ``allow_pickle=False``), one per (image set fingerprint,
resolution, protocol, selection); the key is stored inside the file and checked on load, so a
changed data set or protocol never reuses stale features.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from explorer.netio import atomic_write


def cache_root() -> Path:
    """``$EXPLORER_CACHE`` or ``~/.cache/explorer`` (not created here)."""
    env = os.environ.get("EXPLORER_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "explorer"


def cached_features(key: dict, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """Features for ``key`` from the cache, or ``compute()`` them and store them.

    Args:
        key: JSON-serialisable description of what was measured and how (its sha256 names the file).
        compute: returns float32 [N, D].

    Returns:
        float32 [N, D]. An unreadable or mismatching cache file is recomputed and replaced.
    """
    text = json.dumps(key, sort_keys=True)
    path = cache_root() / "fid" / f"{hashlib.sha256(text.encode()).hexdigest()[:24]}.npz"
    try:
        with np.load(path, allow_pickle=False) as f:
            if str(f["key"]) == text:
                return f["features"]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        pass
    features = np.ascontiguousarray(compute(), dtype=np.float32)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, features=features, key=np.array(text))

    atomic_write(path, write)
    return features
