"""How consistently "ffhq" alignment frames faces from differently cropped sources: aligns N random
UTKFace and N CelebA photos (and the two portraits), draws each set's mean landmarks over the mean
aligned face (docs/alignment_overlay.png) and prints one JSON object on its last line: per set the
faces aligned, the photos without a face, the mean eye centres and eye tilt (% of the side) and the
median alignment time per photo (ms, decoded photo → aligned image); and the mean distance between
the UTKFace and CelebA mean landmarks (% of the side).

    python -m benchmarks.alignment_overlay [--data ../shared/data] [--num 200] [--resolution 256]
"""

import argparse
import json
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from explorer.faces import EYE_LEFT, EYE_RIGHT, NoUsableFace, align_face
from explorer.images import decode_image

ROOT = Path(__file__).resolve().parents[1]
COLOURS = {"utkface": (255, 64, 64), "celeba": (64, 224, 255), "portraits": (255, 230, 0)}


def _photos(data: Path, num: int) -> dict[str, list[tuple[str, Image.Image]]]:
    """{set: [(name, decoded RGB photo)]}: ``num`` random UTKFace and CelebA photos, both portraits."""
    rng = np.random.default_rng(0)
    sets = {}
    for key, zip_name in (("utkface", "utkface.zip"), ("celeba", "celeba_attrs.zip")):
        with zipfile.ZipFile(data / zip_name) as zf:
            names = rng.choice(sorted(zf.namelist()), num, replace=False)
            sets[key] = [(str(n), decode_image(zf.read(n), str(n))) for n in names]
    sets["portraits"] = [(p.name, decode_image(p.read_bytes(), str(p))) for p in sorted((data / "portraits").iterdir())]
    return sets


def _overlay(mean_face: np.ndarray, mean_landmarks: dict[str, np.ndarray]) -> Image.Image:
    """The mean aligned face with each set's mean landmarks as dots (later sets smaller, so all
    show where they coincide) and a legend."""
    im = Image.fromarray(mean_face.round().astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for i, (key, points) in enumerate(mean_landmarks.items()):
        r = im.width / 256 * (2.6 - 0.8 * i)
        for x, y in points * im.width:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=COLOURS[key])
        draw.rectangle((2, 2 + 12 * i, 62, 13 + 12 * i), fill=(0, 0, 0))
        draw.text((4, 2 + 12 * i), key, fill=COLOURS[key])
    return im


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--num", type=int, default=200)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "alignment_overlay.png")
    args = parser.parse_args()
    results, mean_landmarks, face_sum, face_count = {}, {}, np.zeros((args.resolution,) * 2 + (3,)), 0
    for key, photos in _photos(args.data, args.num).items():
        landmarks, times, missed = [], [], 0
        for name, photo in photos:
            start = time.perf_counter()
            try:
                face = align_face(photo, args.resolution, method="ffhq", source=name)
            except NoUsableFace:
                missed += 1
                continue
            times.append((time.perf_counter() - start) * 1000)
            landmarks.append(face.landmarks / args.resolution)
            face_sum += np.asarray(face.image)
            face_count += 1
        lm = np.stack(landmarks)
        eye_l, eye_r = lm[:, EYE_LEFT].mean(1), lm[:, EYE_RIGHT].mean(1)
        mean_landmarks[key] = lm.mean(0)
        results[key] = {"aligned": len(lm), "no_face": missed,
                        "eye_left_pct": (100 * eye_l.mean(0)).round(2).tolist(),
                        "eye_right_pct": (100 * eye_r.mean(0)).round(2).tolist(),
                        "eye_tilt_pct_mean": round(float(100 * np.abs(eye_r[:, 1] - eye_l[:, 1]).mean()), 2),
                        "eye_tilt_pct_max": round(float(100 * np.abs(eye_r[:, 1] - eye_l[:, 1]).max()), 2),
                        "align_ms_median": round(float(np.median(times)), 1)}
    distance = np.hypot(*(mean_landmarks["utkface"] - mean_landmarks["celeba"]).T).mean()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    _overlay(face_sum / face_count, mean_landmarks).save(args.out)
    print(json.dumps({"num": args.num, "resolution": args.resolution, **results,
                      "utkface_celeba_mean_landmark_distance_pct": round(float(100 * distance), 2),
                      "overlay": str(args.out)}))


if __name__ == "__main__":
    main()
