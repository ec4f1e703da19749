"""Speed of the FID pipeline: Inception pool3 features (resize to 299² + TF-Inception) for N
images, and generating them from a weights folder when one is available, on the CPU (and the GPU
when present); projects the wall time of an FID against 10k images. Prints one JSON object last.

    python -m benchmarks.fid_speed [--num 200] [--resolution 64] [--weights DIR]

Projections: ``fid10k_s_*`` = 10,000 × (generation + features) per image, the cost of one FID10k
once the real set's features are cached; ``fid10k_first_run_s_*`` adds the real set's 10,000
feature extractions.
"""

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from explorer.metrics.inception import inception_features
from explorer.metrics.sources import batches, open_source, select
from explorer.weights import DEFAULT_WEIGHTS

FID_NUM = 10_000


def _seconds(fn, *args) -> float:
    """Wall time of ``fn(*args)`` in seconds (GPU work included)."""
    start = time.perf_counter()
    fn(*args)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def _generate(source, num: int) -> None:
    """Render ``num`` seeds as uint8 images at the generator's resolution."""
    for _ in batches(source, select(source, num), source.native_resolution):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=200, help="images to time")
    parser.add_argument("--resolution", type=int, default=64, help="image side before the resize to 299")
    parser.add_argument("--weights", type=Path, default=None, help="weights folder to time generation "
                                                                   "(default: the bundled weights/ when present)")
    args = parser.parse_args()
    weights = args.weights or (DEFAULT_WEIGHTS if (DEFAULT_WEIGHTS / "generator.json").is_file() else None)
    images = (np.random.default_rng(0).random((args.num, args.resolution, args.resolution, 3)) * 255).astype(np.uint8)
    results = {"machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
               "torch": torch.__version__, "num": args.num, "resolution": args.resolution}
    for device in ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]:
        inception_features([images[:2]], device)                                  # load + warm up
        chunks = [images[i:i + 64] for i in range(0, args.num, 64)]
        per_image = _seconds(inception_features, chunks, device) / args.num
        results[f"features_ms_per_image_{device}"] = round(per_image * 1000, 2)
        generate = 0.0
        if weights is not None:
            source = open_source(weights, "fake", device)
            generate = _seconds(_generate, source, args.num) / args.num
            results[f"generate_ms_per_image_{device}"] = round(generate * 1000, 2)
        results[f"fid10k_s_{device}"] = round(FID_NUM * (generate + per_image), 1)
        results[f"fid10k_first_run_s_{device}"] = round(FID_NUM * (generate + 2 * per_image), 1)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
