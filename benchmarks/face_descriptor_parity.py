"""dlib's face descriptor network in PyTorch against dlib's own, on real faces.

    python -m benchmarks.face_descriptor_parity [--utkface 150] [--celeba 75]

Takes every k-th photo of ../shared/data's UTKFace and CelebA zips, cuts dlib's 150×150 chips
(largest HOG face, 68 landmarks, padding 0.25), and computes each chip's descriptor with dlib's
``compute_face_descriptor`` and with ``explorer.metrics.face_descriptor`` (float32 weights
converted from the same file). Prints the lowest cosine, the largest difference of any
coordinate and of any pair distance, how many of all pairs get another same-person decision at
0.6, and ms per chip for each (batched, this machine's threads), then the figures as one JSON
object on its last line.
"""

import argparse
import io
import json
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from explorer.metrics.face_descriptor import chip_descriptors, face_chips
from explorer.metrics.face_descriptor_convert import default_source
from explorer.nets.face_descriptor import SAME_PERSON_DISTANCE

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def photos(name: str, count: int) -> list[np.ndarray]:
    """``count`` photos spread evenly over the zip ``name`` → uint8 RGB arrays."""
    with zipfile.ZipFile(DATA / name) as z:
        members = [m for m in z.namelist() if m.lower().endswith(".jpg")]
        step = max(1, len(members) // count)
        return [np.array(Image.open(io.BytesIO(z.read(m))).convert("RGB")) for m in members[::step][:count]]


def pair_distances(x: np.ndarray) -> np.ndarray:
    """Distances of every unordered pair of rows of x [N, D] → [N(N−1)/2]."""
    return np.linalg.norm(x[:, None] - x[None], axis=-1)[np.triu_indices(len(x), 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--utkface", type=int, default=150)
    parser.add_argument("--celeba", type=int, default=75)
    args = parser.parse_args()
    import dlib

    chips, _, _ = face_chips(photos("utkface.zip", args.utkface) + photos("celeba_attrs.zip", args.celeba))
    recognizer = dlib.face_recognition_model_v1(str(default_source()))
    start = time.perf_counter()
    reference = np.array([list(d) for d in recognizer.compute_face_descriptor(list(chips))])
    dlib_ms = (time.perf_counter() - start) * 1000 / len(chips)
    chip_descriptors(chips[:2])  # load (and on first use convert) the weights outside the timing
    start = time.perf_counter()
    ours = chip_descriptors(chips)
    torch_ms = (time.perf_counter() - start) * 1000 / len(chips)
    cosine = (reference * ours).sum(1) / np.linalg.norm(reference, axis=1) / np.linalg.norm(ours, axis=1)
    d_ref, d_ours = pair_distances(reference), pair_distances(ours)
    figures = {"faces": len(chips), "min_cosine": float(cosine.min()), "max_abs_diff": float(np.abs(reference - ours).max()),
               "pairs": len(d_ref), "same_person_pairs": int((d_ref < SAME_PERSON_DISTANCE).sum()),
               "decisions_differ": int(((d_ref < SAME_PERSON_DISTANCE) != (d_ours < SAME_PERSON_DISTANCE)).sum()),
               "max_pair_distance_diff": float(np.abs(d_ref - d_ours).max()),
               "dlib_ms_per_chip": round(dlib_ms, 1), "torch_ms_per_chip": round(torch_ms, 1)}
    for key, value in figures.items():
        print(f"{key}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
