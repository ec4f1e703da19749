"""Interactive speed of the shipped weights: one face rendered (batch 1, inference mode) and one
photo aligned + encoded, on the CPU (and the GPU when present). Prints one JSON object last.

    python -m benchmarks.render_speed [--weights DIR] [--repeats 50]
"""

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from explorer.faces import align_face
from explorer.images import load_photo
from explorer.photos import encode_photo
from explorer.session import Session, render
from explorer.weights import load_bundle

PHOTO = Path(__file__).resolve().parents[2] / "shared/data/portraits/grace_hopper.jpg"


def median_ms(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` in ms over ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return round(sorted(times)[len(times) // 2], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    results = {"machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
               "torch": torch.__version__}
    devices = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    for device in devices:
        results.update(_measure(device, args.weights, args.repeats))
    print(json.dumps(results))


def _measure(device: str, weights: Path | None, repeats: int) -> dict:
    bundle = load_bundle(weights, device)
    ws = Session(seed=1).ws(bundle)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    photo = load_photo(PHOTO)
    return {f"render_ms_{device}": median_ms(lambda: (render(bundle, ws), sync()), repeats),
            f"align_ms_{device}": median_ms(lambda: align_face(photo, bundle.resolution, method=bundle.alignment), 5),
            f"align_encode_ms_{device}": median_ms(lambda: encode_photo(bundle, PHOTO), 5),
            "resolution": bundle.resolution}


if __name__ == "__main__":
    main()
