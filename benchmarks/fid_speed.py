"""Speed of the FID pipeline, as ``explorer eval fid`` runs it, on the CPU (and the GPU when
present): Inception pool3 features (resize to 299² + TF-Inception, ``explorer.metrics.inception``)
of N images; projects the wall time of an FID against 10k images. Prints one JSON object last.

    python -m benchmarks.fid_speed [--num 256] [--resolution R] [--weights DIR] [--real PATH]

Figures in ms per image: ``features_ms_per_image_*`` (uint8 noise already in memory: the
network alone), ``fake_ms_per_image_*`` (render seeds 0..N−1 from the weights folder and take
their features, overlapped as in ``eval``), ``real_ms_per_image_*`` (read and decode images of
--real and take their features). ``load_avg`` is the 1-minute load average before and after:
the CPU figures depend on what else runs.

Projections: ``fid10k_s_*`` = 10,000 × fake, the cost of one FID10k once the real set's
features are cached; ``fid10k_first_run_s_*`` adds 10,000 × real (× features without --real).
"""

import argparse
import json
import os
import platform
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from explorer.metrics.inception import inception_features
from explorer.metrics.sources import batches, open_source, select
from explorer.weights import DEFAULT_WEIGHTS

FID_NUM = 10_000


def _ms_per_image(images: Iterable[np.ndarray], num: int, device: str) -> float:
    """Wall time of ``inception_features(images, device)`` over ``num`` images in ms per image,
    producing the batches (a lazy iterable: rendering, decoding) included."""
    start = time.perf_counter()
    inception_features(images, device)
    return (time.perf_counter() - start) * 1000 / num


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=256, help="images to time per figure")
    parser.add_argument("--resolution", type=int, default=None,
                        help="evaluation resolution R (default: the generator's, else 64)")
    parser.add_argument("--weights", type=Path, default=None, help="weights folder to generate the fakes "
                                                                   "(default: the bundled weights/ when present)")
    parser.add_argument("--real", type=Path, default=None, help="real image set (dataset zip, zip or folder)")
    args = parser.parse_args()
    weights = args.weights or (DEFAULT_WEIGHTS if (DEFAULT_WEIGHTS / "generator.json").is_file() else None)
    load_before = os.getloadavg()[0]
    results = {"machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
               "torch": torch.__version__, "num": args.num}
    for device in ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]:
        fake = open_source(weights, "fake", device) if weights is not None else None
        resolution = args.resolution or (fake.native_resolution if fake is not None else 64)
        results["resolution"] = resolution
        noise = (np.random.default_rng(0).random((args.num, resolution, resolution, 3)) * 255).astype(np.uint8)
        start = time.perf_counter()
        inception_features([noise[:2]], device)                               # build the network, warm up
        results[f"inception_load_s_{device}"] = round(time.perf_counter() - start, 1)
        features = _ms_per_image([noise[i:i + 64] for i in range(0, args.num, 64)], args.num, device)
        results[f"features_ms_per_image_{device}"] = round(features, 1)
        fake_ms = real_ms = features
        if fake is not None:
            fake_ms = _ms_per_image(batches(fake, select(fake, args.num), resolution), args.num, device)
            results[f"fake_ms_per_image_{device}"] = round(fake_ms, 1)
        if args.real is not None:
            real = open_source(args.real, "real", device)
            real_ms = _ms_per_image(batches(real, select(real, args.num), resolution), args.num, device)
            results[f"real_ms_per_image_{device}"] = round(real_ms, 1)
        results[f"fid10k_s_{device}"] = round(FID_NUM * fake_ms / 1000)
        results[f"fid10k_first_run_s_{device}"] = round(FID_NUM * (fake_ms + real_ms) / 1000)
    results["load_avg"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
