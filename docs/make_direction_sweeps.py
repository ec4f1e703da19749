"""Render docs/directions.png: each named direction of the weights swept over its slider range
(columns: min … 0 … max, in σ) on a few seeds, as the app renders them (ψ 0.7, no noise).

    python docs/make_direction_sweeps.py [--weights DIR] [--out PATH] [--seeds 3,11] [--steps 5]
                                         [--names age,gender,…] [--size 96]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from explorer.directions import UNSUPERVISED
from explorer.session import Session, render
from explorer.weights import DEFAULT_WEIGHTS, load_bundle

LABEL_WIDTH = 150   # px of the label column


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "directions.png")
    parser.add_argument("--seeds", default="3,11", help="comma-separated seeds, one block of rows each")
    parser.add_argument("--steps", type=int, default=5, help="slider values per row, min to max")
    parser.add_argument("--names", help="comma-separated direction names (default: every named direction)")
    parser.add_argument("--size", type=int, default=96, help="px per face")
    args = parser.parse_args()
    bundle = load_bundle(args.weights, "cpu")
    directions = [d for d in bundle.directions if d.method not in UNSUPERVISED]
    if args.names:
        wanted = args.names.split(",")
        missing = sorted(set(wanted) - {d.name for d in directions})
        if missing:
            sys.exit(f"error: {args.weights}: no named direction {', '.join(missing)}")
        directions = [next(d for d in directions if d.name == n) for n in wanted]
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = [(seed, d) for seed in seeds for d in directions]
    sheet = Image.new("RGB", (LABEL_WIDTH + args.steps * args.size, len(rows) * args.size), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (seed, d) in enumerate(rows):
        values = np.linspace(d.min, d.max, args.steps)
        session = Session(seed=seed, psi=0.7)
        ws = torch.cat([replace(session, sliders={d.name: float(v)}).ws(bundle) for v in values])
        for j, face in enumerate(render(bundle, ws)):
            tile = Image.fromarray(face).resize((args.size, args.size), Image.LANCZOS)
            sheet.paste(tile, (LABEL_WIDTH + j * args.size, i * args.size))
        draw.text((6, i * args.size + args.size // 2 - 14), f"{d.label}\nseed {seed}; {d.min:+g} to {d.max:+g} sd",
                  fill="black")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out} ({len(rows)} rows × {args.steps} values)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
