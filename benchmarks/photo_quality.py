"""Issue 5's figures for photos in and morphs out, on the shipped weights (or --weights DIR).
Prints progress on stderr and one JSON object on the last line of stdout.

    python -m benchmarks.photo_quality [--weights DIR] [--num 100] [--refine-num 20] [--refine-steps 300]
                                       [--pairs 10] [--frames 60] [--data ../shared/data]

1. Reconstruction. ``--num`` UTKFace photos from the rows ``explorer.data.dataset.split_rows``
   holds out (val_percent 10, crc32 of the file name: the split every trainer uses; rows from
   utkface.csv in its order) and the first ``--num`` CelebA photos of celeba_attrs.csv (faces
   no model here was trained on). Each photo is decoded, its largest face aligned the way the
   bundle wants (``bundle.alignment``, ``explorer.faces.align_face``) at the shipped resolution
   and encoded (batched: the same network ``explorer.photos.encode_photo`` runs per photo).
   Figures per set, photo crop vs reconstruction (rendered as the app does, no noise), both at
   the shipped resolution: mean LPIPS-alex (``explorer.metrics.lpips``), dlib descriptor
   distance (``explorer.metrics.identity``; same person below 0.6): its mean and the share
   below 0.6 over the pairs where HOG finds a face in both (as ``explorer eval identity``),
   ``face_detection_rate`` (reconstructions with exactly one face) and ``aligned_rate``
   (photos where ``align_face`` found a usable face). Then the first ``--refine-num`` aligned
   photos are refined one by one for ``--refine-steps`` steps (``explorer.photos.refine_photo``,
   as ``explorer encode --refine`` does) and the same figures are given for the subset before
   (``encoder_subset``) and after (``refined``, with the wall seconds per photo).
   ``utkface_heldout_unseen`` says whether those rows were really held out of the bundle's
   training (manifest ``models.{generator,encoder}.dataset.held_out_percent`` ≥ 10).

2. Speed (median ms / steps per s, batch 1, wall): ``encode_photo`` (load, detect, align,
   encode) per portrait of ``DATA/portraits``; refinement steps per second (one Adam step of
   ``refine_ws``: synthesis, LPIPS-alex + MSE, backward, step; timed between its ``on_step``
   calls) at the shipped resolution and with a randomly initialised generator of the planned
   128² configuration (``GeneratorConfig(resolution=128, channel_base=4096, channel_max=256)``,
   resample "stylegan2") against a portrait aligned at 128².

3. Morph smoothness. A ``--frames``-frame morph (``Session`` with two photo keyframes, linear,
   perceptual pace, ``explorer.export.morph_frames`` as ``explorer morph`` renders it; encoder
   alone, as ``explorer morph`` encodes photos by default) between the two portraits and between
   ``--pairs`` pairs of held-out UTKFace photos (aligned photos 2i and 2i + 1 of part 1), and
   again between the refined pairs among them (``morph_utkface_refined``, as ``explorer morph
   --refine`` gives; ``--refine-num`` / 2 pairs at most): LPIPS-alex between
   consecutive frames, its max / mean per morph (issue target ≤ 2.5; also for frames evenly
   spaced in time), and whether both end frames are the same person as their photo crops
   (identity < 0.6).

Calibration (``identity_calibration``, ``--calibration-pairs`` people): the identity metric on
real photos at the shipped resolution, two CelebA photos of the same person (share below 0.6:
the best a reconstruction can hope for at this size) and first photos of different people (share
below 0.6: false matches).

``load_avg`` is the 1-minute load average at the start and the end: the figures depend on what
else runs on the CPU.
"""

import argparse
import csv
import datetime
import json
import os
import platform
import sys
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.render_speed import median_ms
from explorer.data.dataset import VAL_PERCENT, split_rows
from explorer.errors import UserError
from explorer.export import morph_frames
from explorer.faces import NoUsableFace, align_face
from explorer.images import decode_image, from_uint8, load_photo
from explorer.metrics.identity import (
    SAME_PERSON,
    descriptor_distances,
    face_descriptors,
)
from explorer.metrics.lpips import load_lpips, lpips_distances
from explorer.nets.stylegan import Generator, GeneratorConfig
from explorer.photos import EncodedPhoto, encode_photo, refine_photo
from explorer.projection import refine_ws
from explorer.session import Keyframe, Session, render
from explorer.weights import ModelBundle, load_bundle

DATA = Path(__file__).resolve().parents[2] / "shared/data"
PLANNED_128 = GeneratorConfig(resolution=128, channel_base=4096, channel_max=256, resample="stylegan2")
BATCH = 32
TARGETS = {"lpips": "<= 0.20", "same_person_rate": ">= 0.80 (identity < 0.6)", "align_encode_ms": "<= 150",
           "refine_steps_per_s_128": ">= 10", "morph_max_over_mean": "<= 2.5", "morph_ends_same_person": "identity < 0.6"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _r(x, digits: int = 4):
    return None if x is None or not np.isfinite(x) else round(float(x), digits)


# --- photos -------------------------------------------------------------------------------------

def utkface_heldout_rows(data: Path) -> list[dict[str, str]]:
    """The rows of utkface.csv (file, age, gender, race; as text) that ``split_rows`` holds
    out, in the file's order (sorted by age)."""
    with open(data / "utkface.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    _, held, key = split_rows(rows, VAL_PERCENT)
    assert key == "file"
    return [rows[i] for i in held]


def celeba_names(data: Path, num: int) -> list[str]:
    with open(data / "celeba_attrs.csv", newline="") as f:
        return [row["file"] for _, row in zip(range(num), csv.DictReader(f))]


def celeba_identity_pairs(data: Path, num: int) -> list[tuple[str, str]]:
    """Two photos each of the first ``num`` CelebA identities with at least two, in csv order."""
    by_identity: dict[str, list[str]] = {}
    with open(data / "celeba_attrs.csv", newline="") as f:
        for row in csv.DictReader(f):
            by_identity.setdefault(row["identity"], []).append(row["file"])
    return [tuple(files[:2]) for files in by_identity.values() if len(files) >= 2][:num]


def identity_calibration(bundle: ModelBundle, data: Path, num: int) -> dict:
    """How the identity metric reads real photos at the shipped resolution: descriptor distances
    between two photos of the same CelebA person, and between first photos of different people."""
    pairs = celeba_identity_pairs(data, num)
    crops, kept, _ = align_zip_photos(bundle, data / "celeba_attrs.zip", [n for pair in pairs for n in pair])
    index = {name: i for i, name in enumerate(kept)}
    both = [(index[a], index[b]) for a, b in pairs if a in index and b in index]
    desc, _ = face_descriptors(list(crops))
    same = descriptor_distances(desc[[a for a, _ in both]], desc[[b for _, b in both]])
    firsts = [a for a, _ in both]
    other = descriptor_distances(desc[firsts[:-1]], desc[firsts[1:]])
    same, other = same[~np.isnan(same)], other[~np.isnan(other)]
    return {"resolution": bundle.resolution, "same_person_pairs": len(same), "same_person_identity": _r(same.mean()),
            "same_person_rate": _r((same < SAME_PERSON).mean(), 3), "different_people_pairs": len(other),
            "different_people_identity": _r(other.mean()),
            "different_people_false_match_rate": _r((other < SAME_PERSON).mean(), 3)}


def align_zip_photos(bundle: ModelBundle, zip_path: Path, names: list[str], resolution: int | None = None):
    """Decode and align each named member of ``zip_path`` → (aligned uint8 [M, R, R, 3], their names,
    number tried). Photos without a usable face are skipped."""
    resolution = resolution or bundle.resolution
    crops, kept = [], []
    with zipfile.ZipFile(zip_path) as zf:
        for name in names:
            photo = decode_image(zf.read(name), f"{zip_path.name}/{name}")
            try:
                crops.append(np.asarray(align_face(photo, resolution, method=bundle.alignment, source=name).image))
                kept.append(name)
            except NoUsableFace:
                pass
    return np.stack(crops), kept, len(names)


def encode_batch(bundle: ModelBundle, crops: np.ndarray) -> torch.Tensor:
    """W+ [M, num_ws, w_dim] of aligned uint8 crops, as ``encode_photo`` encodes one crop."""
    out = []
    with torch.inference_mode():
        for i in range(0, len(crops), BATCH):
            x = from_uint8(crops[i:i + BATCH]).to(bundle.device)
            out.append(bundle.encoder(x, bundle.generator.mapping.w_avg))
    return torch.cat(out).clone()


def render_batch(bundle: ModelBundle, ws: torch.Tensor) -> np.ndarray:
    return np.concatenate([render(bundle, ws[i:i + BATCH]) for i in range(0, len(ws), BATCH)])


def recon_figures(lpips, crops: np.ndarray, recons: np.ndarray) -> dict:
    """LPIPS and identity figures of photo crops vs reconstructions (uint8 [M, R, R, 3] each)."""
    lp = lpips_distances(lpips, crops, recons)
    da, _ = face_descriptors(list(crops))
    db, counts = face_descriptors(list(recons))
    d = descriptor_distances(da, db)
    found = d[~np.isnan(d)]
    return {"num": len(crops), "lpips": _r(lp.mean()),
            "identity": _r(found.mean()) if len(found) else None,
            "same_person_rate": _r((found < SAME_PERSON).mean(), 3) if len(found) else None,
            "identity_pairs": len(found),
            "face_detection_rate": _r((counts == 1).mean(), 3)}


def reconstruction(bundle: ModelBundle, lpips, name: str, zip_path: Path, names: list[str],
                   refine_num: int, refine_steps: int) -> tuple[dict, np.ndarray, torch.Tensor, torch.Tensor]:
    """Part 1 for one photo set → (figures, aligned crops, their encoder W+, the first
    ``refine_num`` refined W+; empty when nothing is refined)."""
    start = time.perf_counter()
    crops, kept, tried = align_zip_photos(bundle, zip_path, names)
    log(f"{name}: aligned {len(kept)} of {tried} photos in {time.perf_counter() - start:.1f} s")
    ws = encode_batch(bundle, crops)
    recons = render_batch(bundle, ws)
    figures = {"num": tried, "aligned_rate": _r(len(kept) / tried, 3), "encoder": recon_figures(lpips, crops, recons)}
    log(f"{name}: encoder {figures['encoder']}")
    refined = ws[:0]
    if refine_num and refine_steps:
        sub = slice(0, min(refine_num, len(crops)))
        start = time.perf_counter()
        refined = torch.cat([refine_photo(bundle, EncodedPhoto(Path(n), Image.fromarray(c), ws[i:i + 1]), refine_steps).ws
                             for i, (n, c) in enumerate(zip(kept[sub], crops[sub]))])
        seconds = time.perf_counter() - start
        figures["encoder_subset"] = recon_figures(lpips, crops[sub], recons[sub])
        figures["refined"] = {**recon_figures(lpips, crops[sub], render_batch(bundle, refined)),
                              "steps": refine_steps, "s_per_photo": round(seconds / len(refined), 2)}
        log(f"{name}: refined {figures['refined']}")
    return figures, crops, ws, refined


# --- speed --------------------------------------------------------------------------------------

def refine_steps_per_s(bundle: ModelBundle, target: np.ndarray, steps: int) -> float:
    """Median rate of ``refine_ws``'s steps (batch 1), timed between ``on_step`` calls (the first
    step, with the LPIPS load before it, is left out)."""
    ws = bundle.generator.mapping.w_avg.detach().reshape(1, 1, -1).repeat(1, bundle.generator.num_ws, 1)
    stamps = []
    refine_ws(bundle, from_uint8(target[None]), ws, steps + 1,
              on_step=lambda step, loss: stamps.append(time.perf_counter()))
    return round(1.0 / float(np.median(np.diff(stamps))), 2)


def speed(bundle: ModelBundle, portraits: list[Path], repeats: int, steps: int) -> dict:
    figures = {}
    per_photo = {p.name: median_ms(lambda p=p: encode_photo(bundle, p), repeats) for p in portraits}
    sizes = {p.name: "x".join(map(str, load_photo(p).size)) for p in portraits}
    figures["align_encode_ms"] = round(float(np.median(list(per_photo.values()))), 1)
    figures["align_encode_ms_per_portrait"] = {name: {"ms": ms, "size": sizes[name]} for name, ms in per_photo.items()}
    log(f"speed: align + encode {per_photo}")
    photo = load_photo(portraits[0])
    target = np.array(align_face(photo, bundle.resolution, method=bundle.alignment).image)
    figures[f"refine_steps_per_s_{bundle.resolution}"] = refine_steps_per_s(bundle, target, steps)
    torch.manual_seed(0)
    G = Generator(PLANNED_128).eval().requires_grad_(False).to(bundle.device)
    big = ModelBundle(Path("random-init-128"), bundle.device, G, None)
    target = np.array(align_face(photo, 128, method=bundle.alignment).image)
    figures["refine_steps_per_s_128"] = refine_steps_per_s(big, target, steps)
    figures["planned_128_config"] = {"channel_base": PLANNED_128.channel_base, "channel_max": PLANNED_128.channel_max,
                                     "resample": PLANNED_128.resample, "init": "random (torch seed 0)"}
    log(f"speed: refine steps/s {figures[f'refine_steps_per_s_{bundle.resolution}']} at {bundle.resolution}², "
        f"{figures['refine_steps_per_s_128']} at 128²")
    return figures


# --- morphs -------------------------------------------------------------------------------------

def morph(bundle: ModelBundle, lpips, crop_a: np.ndarray, ws_a: torch.Tensor, label_a: str,
          crop_b: np.ndarray, ws_b: torch.Tensor, label_b: str, frames: int) -> dict:
    session = Session(keyframes=(Keyframe.from_photo(Path(label_a), ws_a), Keyframe.from_photo(Path(label_b), ws_b)),
                      pace="perceptual")
    by_time = np.stack(list(morph_frames(bundle, session, replace(session, pace="time").frame_times(bundle, frames))))
    time_steps = lpips_distances(lpips, by_time[:-1], by_time[1:])
    video = np.stack(list(morph_frames(bundle, session, session.frame_times(bundle, frames))))
    steps = lpips_distances(lpips, video[:-1], video[1:])
    desc, _ = face_descriptors([crop_a, video[0], crop_b, video[-1]])
    ends = descriptor_distances(desc[[0, 2]], desc[[1, 3]])
    return {"pair": [label_a, label_b], "lpips_step_mean": _r(steps.mean(), 5), "lpips_step_max": _r(steps.max(), 5),
            "max_over_mean": _r(steps.max() / steps.mean(), 3),
            "max_over_mean_even_time": _r(time_steps.max() / time_steps.mean(), 3),
            "ends_identity": [_r(d) for d in ends],
            "ends_same_person": bool(np.all(ends < SAME_PERSON))}     # NaN (no face) compares False


def morph_summary(morphs: list[dict]) -> dict:
    ratios = np.array([m["max_over_mean"] for m in morphs])
    return {"num": len(morphs), "max_over_mean_mean": _r(ratios.mean(), 3), "max_over_mean_max": _r(ratios.max(), 3),
            "share_max_over_mean_le_2.5": _r((ratios <= 2.5).mean(), 3),
            "share_ends_same_person": _r(np.mean([m["ends_same_person"] for m in morphs]), 3)}


# --- main ---------------------------------------------------------------------------------------

def held_out_percent(manifest: dict, model: str):
    return manifest.get("models", {}).get(model, {}).get("dataset", {}).get("held_out_percent")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=None, help="weights folder (default: the bundled weights/)")
    parser.add_argument("--data", type=Path, default=DATA, help="folder with utkface.zip/.csv, celeba_attrs.zip/.csv, "
                                                                "portraits/")
    parser.add_argument("--num", type=int, default=100, help="photos per set for reconstruction")
    parser.add_argument("--refine-num", type=int, default=20, help="photos per set to refine")
    parser.add_argument("--refine-steps", type=int, default=300, help="refinement steps")
    parser.add_argument("--pairs", type=int, default=10, help="held-out UTKFace pairs to morph")
    parser.add_argument("--frames", type=int, default=60, help="frames per morph")
    parser.add_argument("--repeats", type=int, default=5, help="repeats per align + encode timing")
    parser.add_argument("--speed-steps", type=int, default=30, help="refinement steps per steps/s timing")
    parser.add_argument("--calibration-pairs", type=int, default=50,
                        help="CelebA people (two photos each) to read the identity metric on real photos")
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda or mps")
    args = parser.parse_args()
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    bundle = load_bundle(args.weights, args.device)
    if bundle.encoder is None:
        raise UserError(f"{bundle.path}: these weights have no encoder")
    lpips = load_lpips("alex", bundle.device)
    manifest = bundle.manifest
    held = {m: held_out_percent(manifest, m) for m in ("generator", "encoder")}
    results = {"machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
               "torch": torch.__version__, "date": datetime.date.today().isoformat(), "device": str(bundle.device),
               "weights": str(bundle.path.resolve()), "resolution": bundle.resolution, "alignment": bundle.alignment,
               "num": args.num, "refine_num": args.refine_num, "refine_steps": args.refine_steps,
               "pairs": args.pairs, "frames": args.frames, "targets": TARGETS,
               "held_out_percent": held,
               "utkface_heldout_unseen": all(p is not None and p >= VAL_PERCENT for p in held.values())}
    if not results["utkface_heldout_unseen"]:
        log("note: the manifest records no held-out split: the 'held-out' UTKFace rows were seen in training")

    utk_names = [row["file"] for row in utkface_heldout_rows(args.data)[:args.num]]
    results["utkface"], utk_crops, utk_ws, utk_refined = reconstruction(
        bundle, lpips, "utkface", args.data / "utkface.zip", utk_names, args.refine_num, args.refine_steps)
    results["celeba"], *_ = reconstruction(bundle, lpips, "celeba", args.data / "celeba_attrs.zip",
                                             celeba_names(args.data, args.num), args.refine_num, args.refine_steps)

    if args.calibration_pairs:
        results["identity_calibration"] = identity_calibration(bundle, args.data, args.calibration_pairs)
        log(f"identity calibration: {results['identity_calibration']}")

    portraits = sorted(p for p in (args.data / "portraits").iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    results["speed"] = speed(bundle, portraits, args.repeats, args.speed_steps)

    encoded = [encode_photo(bundle, p) for p in portraits[:2]]
    portrait_morph = morph(bundle, lpips, np.asarray(encoded[0].aligned), encoded[0].ws, portraits[0].name,
                           np.asarray(encoded[1].aligned), encoded[1].ws, portraits[1].name, args.frames)
    log(f"morph portraits: {portrait_morph}")
    results["morph_portraits"] = portrait_morph
    for key, ws in (("morph_utkface", utk_ws), ("morph_utkface_refined", utk_refined)):
        morphs = []
        for i in range(min(args.pairs, len(ws) // 2)):
            a, b = 2 * i, 2 * i + 1
            morphs.append(morph(bundle, lpips, utk_crops[a], ws[a:a + 1], f"utkface[{a}]",
                                utk_crops[b], ws[b:b + 1], f"utkface[{b}]", args.frames))
            log(f"{key} {i + 1}/{args.pairs}: {morphs[-1]}")
        if morphs:
            results[key] = {**morph_summary(morphs), "morphs": morphs}
    results["load_avg"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    results["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
