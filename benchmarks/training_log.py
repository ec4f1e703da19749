"""One row of the generator campaign's log (docs/TRAINING.md): FID2k and FD-face against the
held-out split, and the 8×4 grid of fixed seeds at ψ = 1, for a GAN run folder.

    python -m benchmarks.training_log --run runs/g128 --data data/utkface-128.zip --hours 1.9

Writes the grid as docs/training/<date>-<kimg>kimg.jpg (JPEG, quality 85, the 128² faces at
their own size, seeds 0–31) and prints the Markdown row, then every figure as one JSON object
on its last line. The run folder's ``generator.json`` / ``generator.safetensors`` (G_ema) are
the generator; its ``checkpoint.json`` gives the kimg.
"""

import argparse
import json
from datetime import date
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from explorer.metrics.registry import compute
from explorer.metrics.sources import GeneratedImages
from explorer.netio import read_json
from explorer.weights import describe_device

GRID_SEEDS = range(32)
GRID_COLUMNS = 8
NUM = 2000


def run_kimg(run: Path) -> float:
    """Thousands of real images shown to D at the run's last checkpoint."""
    return read_json(run / "checkpoint.json")["progress"]["nimg"] / 1000


def grid(run: Path, out: Path) -> Path:
    """The 8×4 grid of seeds 0–31 at ψ = 1, rendered as the app renders them → JPEG ``out``."""
    images = GeneratedImages(run, "cpu")
    faces = images.load(np.array(list(GRID_SEEDS)), images.native_resolution)  # uint8 [32, R, R, 3]
    rows = len(faces) // GRID_COLUMNS
    tiled = faces.reshape(rows, GRID_COLUMNS, *faces.shape[1:]).transpose(0, 2, 1, 3, 4)
    tiled = tiled.reshape(rows * faces.shape[1], GRID_COLUMNS * faces.shape[2], 3)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(tiled).save(out, quality=85)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="run folder of `explorer train gan`")
    parser.add_argument("--data", type=Path, required=True, help="the run's dataset zip (its held-out split is the reference)")
    parser.add_argument("--hours", type=float, required=True, help="hours trained in this stretch")
    parser.add_argument("--num", type=int, default=NUM)
    args = parser.parse_args()
    kimg = run_kimg(args.run)
    figures = {"date": date.today().isoformat(), "cpu": describe_device(torch.device("cpu")), "kimg": kimg, "hours": args.hours,
               "resolution": read_json(args.run / "generator.json")["config"]["resolution"]}
    for metric in ("fid", "fd_face"):
        record = compute(metric, args.data, args.run, num=args.num, device="cpu", split="held-out")[0]
        figures[metric] = record["value"]
        figures[f"{metric}_reference"] = record["reference"]
        if metric == "fd_face":
            figures["face_detection_rate"] = record["detection_rate"]
    picture = grid(args.run, Path("docs/training") / f"{figures['date']}-{kimg:.0f}kimg.jpg")
    print(f"| {figures['date']} | {figures['cpu']} | {kimg:.1f} | {args.hours:.2f} | {figures['fid']:.1f} | "
          f"{figures['fd_face']:.3f} | {figures['face_detection_rate']:.1%} | [grid]({picture.relative_to('docs')}) |")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
