"""The quality table: every generator we have and two baselines, one protocol, one run.

Rows: the shipped StyleGAN2 generator (weights/); the DCGAN baseline trained by our trainer for
the same wall time (`explorer train gan --arch dcgan`); the pretrained 64² DCGAN shipped in
gan-face-generate 1.1.1, a peer users could pick instead; and UTKFace's held-out photos, the
floor a perfect generator would reach at that N. Figures per row:

- FID and KID against the UTKFace train split (N fake vs N real) and against the held-out split
  (N fake vs every held-out photo), the protocol of ``explorer.metrics.inception``;
- improved precision and recall (k = 3) against the train split;
- face detection rate (``explorer.metrics.detection``);
- PPL in W (StyleGAN2 only) and in Z (every generator), end-point sampling, ε = 1e-4;
- images/s to generate on this machine's CPU (batch 64, float32, inference mode).

Rewrites the "Quality table" section of docs/BENCHMARKS.md and prints every figure as one
JSON object on its last line.

    python -m benchmarks.quality --data data/utkface-64.zip --dcgan runs/dcgan64 [--num 10000]

The peer needs ``pip install --no-deps gan-face-generate==1.1.1`` (without --no-deps it pulls
torchvision, which does not work beside the CPU torch here; GUIDE.md §2); PPL needs the VGG16
LPIPS weights (``python -m explorer.metrics.lpips_convert --download --net vgg``).
"""

import argparse
import importlib.util
import json
import platform
import re
import time
from datetime import date
from pathlib import Path

import torch

from benchmarks.render_speed import median_ms
from explorer.metrics.detection import detection_metric
from explorer.metrics.fid import (
    fid_from_features,
    kid_from_features,
    precision_recall,
    set_features,
)
from explorer.metrics.inception import PROTOCOL
from explorer.metrics.lpips import load_lpips
from explorer.metrics.ppl import NET, filtered_mean, path_lengths
from explorer.metrics.sources import (
    GeneratedImages,
    LatentImages,
    SeedImages,
    open_source,
    select,
)
from explorer.netio import read_json
from explorer.nets.dcgan import DCGANConfig, DCGANGenerator
from explorer.train.progress import training_hours
from explorer.weights import DEFAULT_WEIGHTS, file_sha256

DOC = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"
SECTION = "## Quality table"
PEER = "gan_face_generate"
SPEED_BATCH = 64


def peer_generator() -> LatentImages:
    """gan-face-generate 1.1.1's pretrained generator (the PyTorch DCGAN tutorial's network, the
    same layers as ours: z_dim 100, 64 channels, 64²), read with ``torch.load(weights_only=True)``
    so no pickled code runs.

    Raises:
        SystemExit: the package is not installed (``pip install --no-deps gan-face-generate==1.1.1``).
    """
    spec = importlib.util.find_spec(PEER)
    if spec is None:
        raise SystemExit("gan-face-generate is not installed: pip install --no-deps gan-face-generate==1.1.1")
    path = Path(spec.submodule_search_locations[0]) / "weights.tar"
    G = DCGANGenerator(DCGANConfig(resolution=64, z_dim=100, channels=64))
    G.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["netG_state_dict"])
    return LatentImages(G, path.parent, file_sha256(path))


def generation_speed(source: SeedImages) -> float:
    """Images per second to render a batch of ``SPEED_BATCH`` seeds (median of 5)."""
    z = torch.randn(SPEED_BATCH, source.z_dim)
    return round(SPEED_BATCH / (median_ms(lambda: source.render(z), 5) / 1000), 1)


def ppl(source: SeedImages, space: str, num: int) -> float:
    G = source.bundle.generator if isinstance(source, GeneratedImages) else source.generator
    return filtered_mean(path_lengths(G, load_lpips(NET), num, space))


def measure(source, real: dict, num: int, ppl_num: int, resolution: int) -> dict:
    """Every figure of one row; ``real``: {"train": features, "held-out": features}."""
    if isinstance(source, SeedImages):
        fake = set_features(source, select(source, num), resolution, "cpu")
    else:
        fake = real["held-out"]
    row = {}
    for split, feats in real.items():
        if feats is fake:
            continue
        row[f"fid_{split}"] = fid_from_features(feats, fake)
        row[f"kid_{split}"], row[f"kid_std_{split}"], _, _ = kid_from_features(feats, fake)
    row["precision"], row["recall"] = precision_recall(real["train"], fake)
    row["detection_rate"] = detection_metric(None, source, num, resolution, "cpu")[0]["value"]
    if isinstance(source, SeedImages):
        if isinstance(source, GeneratedImages):
            row["ppl_w"] = ppl(source, "w", ppl_num)
        row["ppl_z"] = ppl(source, "z", ppl_num)
        row["img_per_s"] = generation_speed(source)
    return row


def describe_dcgan(run: Path) -> str:
    meta = read_json(run / "checkpoint.json")
    return (f"our trainer, {meta['progress']['nimg'] / 1000:.0f} kimg, batch {meta['config'].get('batch')}, "
            f"{training_hours(run):.2f} h on this shared CPU")


def table(rows: dict[str, dict], notes: dict[str, str], header: str) -> str:
    def fmt(row: dict, key: str, scale: float = 1.0, digits: int = 1) -> str:
        return f"{row[key] * scale:.{digits}f}" if key in row else "–"

    lines = [SECTION + f" ({header})", "",
             ("| generator | FID10k train | KID×10³ train | FID held-out | KID×10³ held-out | precision | recall | "
             "detection | PPL-W | PPL-Z | img/s (CPU) |"),
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, row in rows.items():
        kid_train = f"{fmt(row, 'kid_train', 1e3, 2)} ± {fmt(row, 'kid_std_train', 1e3, 2)}" if "kid_train" in row else "–"
        kid_held = f"{fmt(row, 'kid_held-out', 1e3, 2)} ± {fmt(row, 'kid_std_held-out', 1e3, 2)}" \
            if "kid_held-out" in row else "–"
        lines.append(f"| **{name}** ({notes[name]}) | {fmt(row, 'fid_train')} | {kid_train} | {fmt(row, 'fid_held-out')} | "
                     f"{kid_held} | {fmt(row, 'precision', digits=3)} | {fmt(row, 'recall', digits=3)} | "
                     f"{fmt(row, 'detection_rate', 100)} % | {fmt(row, 'ppl_w', digits=0)} | {fmt(row, 'ppl_z', digits=0)} | "
                     f"{fmt(row, 'img_per_s')} |")
    return "\n".join(lines) + "\n"


def write_section(text: str, doc: Path = DOC) -> None:
    """Replace the quality-table section of ``doc`` (up to the next "## " heading) or append it."""
    old = doc.read_text()
    pattern = re.compile(rf"^{re.escape(SECTION)}.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    new = pattern.sub(lambda _: text + "\n", old, count=1) if pattern.search(old) else old.rstrip() + "\n\n" + text
    doc.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the UTKFace dataset zip the generators learnt")
    parser.add_argument("--dcgan", type=Path, required=True, help="run folder of `explorer train gan --arch dcgan`")
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--num", type=int, default=10_000, help="generated images per figure (and train photos)")
    parser.add_argument("--ppl-num", type=int, default=10_000, help="seed pairs per PPL")
    args = parser.parse_args()
    start = time.time()
    train, held = (open_source(args.data, "real", "cpu", split) for split in ("train", "held-out"))
    resolution = train.native_resolution
    real = {"train": set_features(train, select(train, args.num), resolution, "cpu"),
            "held-out": set_features(held, select(held, held.count), resolution, "cpu")}
    manifest = read_json(args.weights / "manifest.json")["models"]["generator"]
    sources = {
        "explorer StyleGAN2": (open_source(args.weights, device="cpu"),
                               f"shipped weights, {manifest['kimg']:.0f} kimg, {manifest['training_hours']} h training"
                               + ("" if "val_percent" in manifest["training_config"]
                                  else "; trained on every photo, the held-out ones included")),
        "DCGAN baseline": (open_source(args.dcgan, device="cpu"), describe_dcgan(args.dcgan)),
        "gan-face-generate 1.1.1": (peer_generator(), "peer: pretrained DCGAN, DigiFace-1M"),
        "UTKFace held-out photos": (held, f"real, all {held.count}; FID/KID vs train = the floor at this N"),
    }
    rows, notes = {}, {}
    for name, (source, note) in sources.items():
        rows[name], notes[name] = measure(source, real, args.num, args.ppl_num, resolution), note
        print(json.dumps({name: rows[name]}), flush=True)
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    header = f"{date.today().isoformat()}, {machine}, torch {torch.__version__}"
    write_section(table(rows, notes, header) + _protocol(args, train, held))
    print(json.dumps({"machine": machine, "minutes": round((time.time() - start) / 60, 1), "rows": rows}))


def _protocol(args, train, held) -> str:
    return (f"\n`python -m benchmarks.quality --data {args.data} --dcgan {args.dcgan} --num {args.num} "
            f"--ppl-num {args.ppl_num}`. Generated: seeds 0–{args.num - 1} at ψ = 1, quantized to uint8, "
            f"{train.native_resolution}². "
            f"Train: {args.num} of the {train.count} train-split photos (seeded draw); held-out: all {held.count} "
            f"held-out photos (crc32 split, `explorer.data.dataset.split_rows`). {PROTOCOL}. KID: unbiased, "
            f"100 subsets of 1000, mean ± std. Precision/recall: k = 3 on the same features. Detection: "
            f"the same {args.num} images, exactly one dlib HOG face. PPL: {args.ppl_num} seed pairs, LPIPS VGG16, "
            f"1st–99th percentile. img/s: batch {SPEED_BATCH}, median of 5.\n")


if __name__ == "__main__":
    main()
