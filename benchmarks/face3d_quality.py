"""How well the 3D faces fit: the mesh against dlib's landmarks on real photos and on generated
faces, the mesh's head turn along the pose slider, and the time a mesh and a view take. Prints
one JSON object on its last line.

    python -m benchmarks.face3d_quality [--weights DIR] [--data ../shared/data] [--num 100] [--seeds 100]
                                        [--sheet docs/face3d_views.jpg]

- Fit: on the first ``--num`` held-out UTKFace photos and CelebA photos (never trained on),
  aligned at twice the generator's resolution as the app aligns photos (``num`` counts those
  with a face to align), and on the faces of seeds 0 … ``--seeds``−1
  (ψ 0.7, at twice the resolution as ``export.face_mesh`` textures them): the share with a face
  (presence ≥ 0.5) and the normalised mean error (NME) of eight mesh vertices against the
  matching points of dlib's 68 (eye corners, nose tip, mouth corners, chin), in units of the
  distance between the outer eye corners; the share under 0.1. Where dlib finds no face the
  image is left out of the NME (``dlib_found`` says how many were used).
- Pose slider: the mesh's head turn in degrees at slider values −2 … 2 (five steps) for each
  seed: mean turn per σ (least squares) and the share of seeds whose turn never falls.
  The turn is read from the mesh as the angle of the outer-eye-corner and mouth-corner vectors
  about the vertical (``yaw_degrees``): 0 for a frontal face, positive when the face turns to
  its left (the nose towards the image's right).
- Sheet (``--sheet``): seeds 0–3 and the two portraits' encodings, each as the texture, then
  the mesh turned −60°, −30°, 0°, 30°, 60° and tilted 20° up.
- Speed (median of ``--repeats``): ``export.face_mesh`` (render, 2× texture, two network
  passes) and ``face3d.render_mesh`` at the dialog's 360².
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.photo_quality import DATA, celeba_names, log, utkface_heldout_rows
from explorer.export import MESH_TEXTURE_FACTOR, face_mesh, render_at, upscale_method
from explorer.face3d import FaceMeshModel, render_mesh
from explorer.faces import NoUsableFace, align_face, detect_faces, face_landmarks
from explorer.gui.face3d_dialog import VIEW_SIDE
from explorer.images import decode_image
from explorer.session import Session
from explorer.weights import load_bundle

# MediaPipe Face Mesh vertex → iBUG 300-W point: outer and inner eye corners, nose tip, mouth corners, chin
MESH_TO_IBUG = {33: 36, 133: 39, 362: 42, 263: 45, 1: 30, 61: 48, 291: 54, 152: 8}
OUTER_EYES = (36, 45)
GOOD_NME = 0.1
POSE_VALUES = np.linspace(-2, 2, 5)


def nme(vertices: np.ndarray, landmarks: np.ndarray) -> float:
    """Mean distance of the ``MESH_TO_IBUG`` vertices (x, y) to their dlib points, over the outer-eye distance."""
    mesh = vertices[list(MESH_TO_IBUG), :2]
    dlib = landmarks[list(MESH_TO_IBUG.values())]
    eyes = np.linalg.norm(landmarks[OUTER_EYES[1]] - landmarks[OUTER_EYES[0]])
    return float(np.linalg.norm(mesh - dlib, axis=1).mean() / eyes)


def yaw_degrees(vertices: np.ndarray) -> float:
    """Head turn of a mesh (``FaceMesh.vertices``: x right, y down, z towards the viewer), in
    degrees: the mean angle about the vertical of the eye-corner and mouth-corner vectors."""
    angles = [np.degrees(np.arctan2(-(vertices[b, 2] - vertices[a, 2]), vertices[b, 0] - vertices[a, 0]))
              for a, b in ((33, 263), (61, 291))]
    return float(np.mean(angles))


def dlib_points(image: np.ndarray) -> np.ndarray | None:
    """dlib's 68 landmarks of the largest face (float [68, 2]), or None."""
    pil = Image.fromarray(image)
    boxes = detect_faces(pil)
    return face_landmarks(pil, boxes[0]) if boxes else None


def fit_figures(model: FaceMeshModel, images: list[np.ndarray]) -> dict:
    """Presence and NME over uint8 images [S, S, 3]."""
    presence, errors = [], []
    for image in images:
        vertices, p = model.landmarks(image)
        presence.append(p)
        points = dlib_points(image)
        if p >= 0.5 and points is not None:
            errors.append(nme(vertices, points))
    errors = np.array(errors)
    return {"num": len(images), "face_rate": round(float(np.mean(np.array(presence) >= 0.5)), 3),
            "dlib_found": len(errors), "nme_mean": round(float(errors.mean()), 4),
            "nme_median": round(float(np.median(errors)), 4),
            f"share_nme_below_{GOOD_NME}": round(float((errors < GOOD_NME).mean()), 3)}


def aligned_photos(zip_path: Path, names: list[str], side: int, method: str) -> list[np.ndarray]:
    out = []
    with zipfile.ZipFile(zip_path) as zf:
        for name in names:
            try:
                out.append(np.asarray(align_face(decode_image(zf.read(name), name), side, method=method).image))
            except NoUsableFace:
                pass
    return out


def pose_figures(bundle, model: FaceMeshModel, seeds: list[int]) -> dict:
    if not any(d.name == "pose" for d in bundle.directions):
        return {"skipped": "these weights have no pose direction"}
    turns = []
    for seed in seeds:
        session = Session(seed=seed)
        turns.append([yaw_degrees(face_mesh(bundle, model, session.with_slider("pose", float(v)).ws(bundle)).vertices)
                      for v in POSE_VALUES])
    turns = np.array(turns)                                            # [seeds, values] degrees
    slope = np.polyfit(POSE_VALUES, turns.T, 1)[0]                     # [seeds] degrees per σ
    return {"values": POSE_VALUES.tolist(), "mean_turn_degrees": np.round(turns.mean(axis=0), 2).tolist(),
            "degrees_per_sigma": round(float(slope.mean()), 2),
            "share_monotonic": round(float((np.diff(turns, axis=1) > 0).all(axis=1).mean()), 3)}


def write_sheet(bundle, model: FaceMeshModel, data: Path, path: Path) -> None:
    """One row per face: its texture, then ``render_mesh`` from five turns and one tilt, 192² each."""
    from explorer.photos import encode_photo
    portraits = [data / "portraits" / name for name in ("astronaut.png", "grace_hopper.jpg")]
    sources = [Session(seed=s).ws(bundle) for s in range(4)] + [encode_photo(bundle, p).ws for p in portraits]
    rows = []
    for ws in sources:
        mesh = face_mesh(bundle, model, ws)
        views = [render_mesh(mesh, yaw, 0, 192) for yaw in (-60, -30, 0, 30, 60)] + [render_mesh(mesh, 0, 20, 192)]
        texture = np.asarray(Image.fromarray(mesh.texture).resize((192, 192), Image.LANCZOS))
        rows.append(np.concatenate([texture, *views], axis=1))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows)).save(path, quality=90)


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return round(float(np.median(times)), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=None, help="weights folder (default: the bundled weights/)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--num", type=int, default=100, help="photos per set")
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--sheet", type=Path, help="also write a JPEG of faces and their meshes from several sides")
    args = parser.parse_args()
    started = time.perf_counter()
    bundle = load_bundle(args.weights, "cpu")
    model = FaceMeshModel()
    side = MESH_TEXTURE_FACTOR * bundle.resolution
    upscale = upscale_method(bundle)
    results = {"machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
               "date": datetime.date.today().isoformat(), "weights": str(bundle.path.resolve()),
               "texture_side": side, "upscale": upscale}
    utk = [row["file"] for row in utkface_heldout_rows(args.data)[:args.num]]
    for key, zip_name, names in (("utkface_heldout", "utkface.zip", utk),
                                 ("celeba", "celeba_attrs.zip", celeba_names(args.data, args.num))):
        results[key] = fit_figures(model, aligned_photos(args.data / zip_name, names, side, bundle.alignment))
        log(f"{key}: {results[key]}")
    seeds = list(range(args.seeds))
    faces = [render_at(bundle, Session(seed=s).ws(bundle), side, upscale)[0] for s in seeds]
    results["seeds"] = fit_figures(model, faces)
    log(f"seeds: {results['seeds']}")
    results["pose_slider"] = pose_figures(bundle, model, seeds)
    log(f"pose slider: {results['pose_slider']}")
    ws = Session(seed=0).ws(bundle)
    mesh = face_mesh(bundle, model, ws)
    results["speed_ms"] = {
        "face_mesh": median_ms(lambda: face_mesh(bundle, model, ws), args.repeats),
        f"render_mesh_{VIEW_SIDE}": median_ms(lambda: render_mesh(mesh, 30, 10, VIEW_SIDE), args.repeats)}
    log(f"speed: {results['speed_ms']}")
    if args.sheet:
        write_sheet(bundle, model, args.data, args.sheet)
        log(f"wrote {args.sheet}")
    results["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
