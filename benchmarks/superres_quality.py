"""Face super-resolution against Lanczos and bicubic enlargement: held-out UTKFace photos (never
trained on) and CelebA photos (another dataset), each centre-cropped to 2R² with Lanczos (as
``dataset build`` does), shrunk to R² with Lanczos (the generator's data) and enlarged back;
L1, PSNR (dB) and LPIPS-alex against the 2R² photo. The generator's own faces have no 2R²
truth, so for them it reports how much fine detail each enlargement holds (``laplacian_energy``)
beside the held-out photos' at 2R². Then the time to enlarge one face and one
export frame, and contact sheets (``--sheet``, see ``write_sheets``). Prints one JSON object.

    python -m benchmarks.superres_quality [--weights DIR] [--num 200] [--sheet docs/superres.jpg]
"""

import argparse
import datetime
import io
import json
import platform
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from benchmarks.photo_quality import DATA, celeba_names, utkface_heldout_rows
from benchmarks.render_speed import median_ms
from explorer.errors import UserError
from explorer.export import render_at, resized
from explorer.images import centre_square, from_uint8, image_grid, to_rgb, to_uint8
from explorer.metrics.lpips import load_lpips
from explorer.session import Session
from explorer.train.superres import evaluate
from explorer.weights import load_bundle

SHEET_SEEDS = (0, 3, 7, 11)


def photos(zip_path: Path, names: list[str], side: int) -> np.ndarray:
    """uint8 [N, side, side, 3]: each photo's centre square, resized with Lanczos."""
    with zipfile.ZipFile(zip_path) as zf:
        return np.stack([np.asarray(centre_square(to_rgb(Image.open(io.BytesIO(zf.read(n)))), side)) for n in names])


def shrunk(images: np.ndarray) -> np.ndarray:
    side = images.shape[1] // 2
    return np.stack([np.asarray(Image.fromarray(im).resize((side, side), Image.Resampling.LANCZOS)) for im in images])


def laplacian_energy(images: np.ndarray) -> float:
    """Mean squared 4-neighbour Laplacian of the grey level (0–255) inside a 1/8 border of uint8
    [N, H, W, 3] faces: how much fine detail they hold."""
    grey = torch.from_numpy(images).float().mean(dim=3)[:, None]                  # [N, 1, H, W]
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])[None, None]
    border = images.shape[1] // 8
    return round(float(F.conv2d(grey, kernel)[..., border:-border, border:-border].square().mean()), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--num", type=int, default=200, help="photos per set")
    parser.add_argument("--seeds", type=int, default=200, help="generated faces (ψ 0.7) for the detail figure")
    parser.add_argument("--sheet", type=Path, help="write the contact sheet here (.jpg or .png)")
    args = parser.parse_args()
    bundle = load_bundle(args.weights, "cpu")
    if bundle.superres is None:
        raise UserError(f"{bundle.path}: these weights have no face super-resolution network")
    net, side = bundle.superres, 2 * bundle.resolution
    lpips = load_lpips("alex", bundle.device)
    results = {"machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
               "torch": torch.__version__, "date": datetime.date.today().isoformat(), "weights": str(bundle.path),
               "config": net.cfg.to_dict()}
    sets = {"utkface_heldout": (args.data / "utkface.zip",                 # every 7th: utkface.csv sorts by age
                                [row["file"] for row in utkface_heldout_rows(args.data)[::7][:args.num]]),
            "celeba": (args.data / "celeba_attrs.zip", celeba_names(args.data, args.num))}
    held_out = None
    for name, (zip_path, names) in sets.items():
        high = photos(zip_path, names, side)
        held_out = held_out if held_out is not None else high
        results[name] = {"num": len(high), **evaluate(net, from_uint8(shrunk(high)), from_uint8(high), lpips)}
    seeds = torch.cat([Session(seed=seed).ws(bundle) for seed in range(args.seeds)])
    results["laplacian_energy_2x"] = {
        "photos_utkface_heldout": laplacian_energy(held_out),
        **{f"seeds_{m}": laplacian_energy(np.concatenate([render_at(bundle, part, side, m) for part in seeds.split(25)]))
           for m in ("lanczos", "superres")}}
    low = from_uint8(shrunk(held_out[:8]))
    with torch.inference_mode():
        results["ms_per_face_batch1"] = median_ms(lambda: net(low[:1]), 20)
        results["ms_per_face_batch8"] = round(median_ms(lambda: net(low), 10) / 8, 2)
    ws = Session(seed=1).ws(bundle)
    results["ms_per_export_frame_4x"] = {m: median_ms(lambda m=m: render_at(bundle, ws, 4 * bundle.resolution, m), 10)
                                         for m in ("lanczos", "superres")}
    print(json.dumps(results))
    if args.sheet is not None:
        write_sheets(bundle, held_out[:4], args.sheet)


def write_sheets(bundle, high: np.ndarray, path: Path) -> None:
    """Two contact sheets at 4R px a face: ``PATH_seeds``, Lanczos beside super-resolution for
    ``SHEET_SEEDS``; ``PATH_photos``, Lanczos, super-resolution and the photo for ``high``
    (uint8 [N, 2R, 2R, 3] photos, shrunk to R² first)."""
    big = 4 * bundle.resolution
    seeds = []
    for seed in SHEET_SEEDS:
        ws = Session(seed=seed).ws(bundle)
        seeds += [render_at(bundle, ws, big, method)[0] for method in ("lanczos", "superres")]
    low = from_uint8(shrunk(high))
    with torch.inference_mode():
        learned = to_uint8(bundle.superres(low))
    faces = []
    for small, sr, photo in zip(to_uint8(low), learned, high):
        faces += [resized(small, big), resized(sr, big), resized(photo, big)]
    image_grid(np.stack(seeds), cols=8).save(path.with_stem(path.stem + "_seeds"), quality=92)
    image_grid(np.stack(faces), cols=6).save(path.with_stem(path.stem + "_photos"), quality=92)

if __name__ == "__main__":
    main()
