"""Measures where dlib's face box sits in UTKFace's aligned & cropped images: the framing
constants of ``explorer.faces``. Prints one JSON object on its last line.

    python -m benchmarks.face_framing [--data ../shared/data/utkface.zip] [--num 400]
"""

import argparse
import io
import json
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from explorer.faces import detect_faces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/utkface.zip")
    parser.add_argument("--num", type=int, default=400)
    args = parser.parse_args()
    rows = []
    with zipfile.ZipFile(args.data) as zf:
        names = np.random.default_rng(0).choice(zf.namelist(), args.num, replace=False)
        for name in names:
            im = Image.open(io.BytesIO(zf.read(name))).convert("RGB")
            boxes = detect_faces(im)
            if len(boxes) == 1:
                b = boxes[0]
                rows.append(((b.left + b.right) / 2 / im.width, (b.top + b.bottom) / 2 / im.height, b.side / im.width))
    r = np.array(rows)
    med = np.median(r, axis=0)
    print(json.dumps({"images": args.num, "single_face": len(rows), "box_centre_x": round(float(med[0]), 4),
                      "box_centre_y": round(float(med[1]), 4), "box_side": round(float(med[2]), 4)}))


if __name__ == "__main__":
    main()
