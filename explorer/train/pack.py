"""From training runs to a shipped weights folder.

``pack_weights`` copies G_ema, the encoder and the attribute classifiers (fp16 safetensors +
JSON) out of their run folders, fits the default SeFa directions for the generator, carries over
the converted LPIPS-AlexNet weights, and writes manifest.json with what each file was trained
on, for how long, on what, and the commands that reproduce it. The named directions are fitted
into the packed folder afterwards (``explorer directions fit --weights OUT --classifier
OUT/classifier_utkface …``), which records each fit in the manifest.

``add_superres`` ships a face super-resolution run (``explorer train superres``) in a copy of
an existing weights folder; it learns from photos alone, so it fits any generator of its size.

``replace_encoder`` ships a newer encoder run (e.g. one warm-started with ``explorer train
encoder --init weights/encoder``) in a copy of an existing weights folder, for when the GAN run
that ``pack_weights`` needs is gone; the generator and everything fitted to it carry over.
"""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path

import torch

from explorer.atomic import write_new_folder
from explorer.data.dataset import read_dataset_meta
from explorer.directions import save_directions, sefa
from explorer.errors import UserError
from explorer.netio import read_json, save_network
from explorer.nets.classifier import AttributeClassifier
from explorer.train import checkpoint
from explorer.weights import (
    DEFAULT_WEIGHTS,
    MANIFEST,
    file_sha256,
    load_classifier,
    load_encoder,
    load_generator,
    load_superres,
    verify_manifest,
    write_manifest,
)

LPIPS_STEM = "lpips_alex"
LICENCE = ("Code: MIT. Weights: trained on UTKFace (https://susanqq.github.io/UTKFace/), which is licensed "
           "for non-commercial research purposes only; these weights carry the same restriction.")

def _default_sefa_groups(num_ws: int) -> list[tuple[range, int]]:
    """Coarse layers 0–3 (5 components), the middle third (3) and the fine rest (2)."""
    fine_start = num_ws - max(2, num_ws // 5)
    return [(range(4), 5), (range(4, fine_start), 3), (range(fine_start, num_ws), 2)]


TRAIN_FLAGS = {
    "gan": ("batch", "lr", "r1_gamma", "pl_weight", "augment", "channel_base", "channel_max", "seed", "val_percent"),
    "encoder": ("generator", "init", "batch", "lr", "seed", "kl", "val_percent"),
    "classifier": ("batch", "lr", "channel_base", "channel_max", "seed", "val_percent"),
    "superres": ("batch", "lr", "crop", "blur", "seed", "val_percent"),
}
"""The config keys each ``explorer train`` command line states (``--r1-gamma`` for r1_gamma …)."""
PREDATING = {"val_percent": 0, "pl_weight": 0, "augment": "none", "kl": 0.0, "init": None}
"""What a run did when its config predates a setting: the trainer had no such feature yet."""


def _train_command(kind: str, run_dir: Path, config: dict, kimg: float) -> str:
    """The ``explorer train`` command line that reproduces a run from its saved config."""
    values = {key: config.get(key, PREDATING.get(key)) for key in TRAIN_FLAGS[kind]}
    flags = " ".join(f"--{key.replace('_', '-')} {value}" for key, value in values.items() if value is not None)
    return f"explorer train {kind} --data {config['data']} --outdir {run_dir} --kimg {kimg:g} {flags}"


def _training_facts(kind: str, run_dir: Path) -> dict:
    """What a run's checkpoint and stats say: config, dataset, kimg, hardware, wall time, command."""
    meta = checkpoint.read_checkpoint_meta(run_dir)
    kimg = round(meta["progress"]["nimg"] / 1000, 3)
    data = read_dataset_meta(Path(meta["config"]["data"]))
    history = checkpoint.run_history(run_dir)
    hours = sum(h["hours"] for h in history)
    hardware = {h["hardware"] for h in history}
    return {"training_config": meta["config"],
            "dataset": {"source": data.get("source"), "images": data["count"], "resolution": data["resolution"],
                        "alignment": data.get("alignment", "none"),
                        "held_out_percent": meta["config"].get("val_percent", 0)},
            "kimg": kimg,
            "hardware": "; ".join(sorted(hardware)),
            "training_hours": round(hours, 2),
            "command": _train_command(kind, run_dir, meta["config"], kimg)}


def classifier_stem(net: AttributeClassifier, run_dir: Path) -> str:
    """The name a classifier ships under: "classifier_" + its dataset's source stem, e.g.
    "classifier_utkface" for data built from utkface.zip (the run folder's name when the data
    recorded no source)."""
    return "classifier_" + Path(net.cfg.source or Path(run_dir).name).stem.lower()


def _classifier_facts(net: AttributeClassifier, run_dir: Path) -> dict:
    """A classifier run's training facts, its heads and its last held-out figures."""
    path = Path(run_dir) / "metrics.jsonl"
    metrics = path.read_text().splitlines() if path.is_file() else []
    return {"kind": "attribute classifier", "heads": [h.name for h in net.cfg.heads],
            "held_out": json.loads(metrics[-1]) if metrics else {}, **_training_facts("classifier", run_dir)}


def pack_weights(gan_run: Path, encoder_run: Path, out: Path, classifier_runs: tuple[Path, ...] = (),
                 lpips_from: Path = DEFAULT_WEIGHTS) -> dict:
    """Write a complete weights folder ``out`` (must not exist; written whole under a temporary
    name, then renamed: ``atomic.write_new_folder``) from a GAN run, an encoder run and any
    attribute classifier runs (each shipped in fp16 as ``classifier_stem``), with the
    LPIPS-AlexNet weights copied from ``lpips_from`` (default: the bundled weights/).

    Returns the manifest.

    Raises:
        UserError: ``out`` exists, a run folder lacks its checkpoint or network files, or two
            classifiers would ship under one name.
    """
    out = Path(out)
    if out.exists():
        raise UserError(f"{out}: already exists; pack into a new folder")
    runs = [(gan_run, "generator"), (encoder_run, "encoder"), *((run, "classifier") for run in classifier_runs)]
    for run, stem in runs:
        if not checkpoint.has_checkpoint(run) or not (Path(run) / f"{stem}.json").is_file():
            raise UserError(f"{run}: not a finished {stem} run (no checkpoint or {stem}.json)")
    classifiers = [load_classifier(Path(run) / "classifier") for run in classifier_runs]
    stems = [classifier_stem(net, run) for net, run in zip(classifiers, classifier_runs)]
    if len(set(stems)) < len(stems):
        raise UserError(f"two classifiers would ship as one file: {', '.join(stems)} (trained on the same source)")
    if not (Path(lpips_from) / f"{LPIPS_STEM}.json").is_file():
        raise UserError(f"{lpips_from}: no {LPIPS_STEM}.json to carry over; convert it with "
                        f"python -m explorer.metrics.lpips_convert --download --net alex --out {lpips_from}")
    out.parent.mkdir(parents=True, exist_ok=True)

    def fill(folder: Path) -> dict:
        for net, stem in zip(classifiers, stems):
            save_network(net, folder / stem, "classifier", net.cfg.to_dict(), dtype=torch.float16)
        for source, stem in ((gan_run, "generator"), (encoder_run, "encoder"), (lpips_from, LPIPS_STEM)):
            for suffix in (".safetensors", ".json"):
                shutil.copyfile(Path(source) / f"{stem}{suffix}", folder / f"{stem}{suffix}")
        return _pack_manifest(folder, out, gan_run, encoder_run, classifier_runs, classifiers, stems)
    return write_new_folder(out, fill)


def _pack_manifest(folder: Path, out: Path, gan_run: Path, encoder_run: Path, classifier_runs: tuple[Path, ...],
                   classifiers: list[AttributeClassifier], stems: list[str]) -> dict:
    """Fit the default SeFa directions of the generator packed into ``folder`` (to become
    ``out``), store them, and write the manifest of ``pack_weights``. Returns it."""
    G = load_generator(folder / "generator")
    directions = [d for layers, k in _default_sefa_groups(G.num_ws) for d in sefa(G, layers, k)]
    save_directions(folder / "directions", directions, file_sha256(folder / "generator.safetensors"))
    today = datetime.date.today().isoformat()
    models = {
        "generator": {"kind": "StyleGAN2 G_ema", "config": G.cfg.to_dict(), "date": today,
                      **_training_facts("gan", Path(gan_run))},
        "encoder": {"kind": "W+ encoder (pSp/e4e style)", "date": today,
                    **_training_facts("encoder", Path(encoder_run))},
        "directions": {"kind": "SeFa", "count": len(directions), "date": today,
                       "command": " ".join([f"explorer weights pack --gan {gan_run} --encoder {encoder_run}",
                                            *(f"--classifier {run}" for run in classifier_runs), f"--out {out}"]),
                       "groups": [{"layers": [r.start, r.stop - 1], "components": k}
                                  for r, k in _default_sefa_groups(G.num_ws)]},
        **{stem: _classifier_facts(net, Path(run)) for net, run, stem in zip(classifiers, classifier_runs, stems)},
        LPIPS_STEM: {"kind": "LPIPS v0.1 AlexNet (Zhang et al., 2018)",
                     **read_json(folder / f"{LPIPS_STEM}.json")["source"],
                     "command": "python -m explorer.metrics.lpips_convert --download --net alex"},
    }
    return write_manifest(folder, models, LICENCE)


def replace_encoder(base: Path, encoder_run: Path, out: Path) -> dict:
    """Write a weights folder ``out`` (must not exist): a copy of the weights folder ``base``
    with its encoder replaced by ``encoder_run``'s (fp16, as the trainer saved it). The manifest
    keeps ``base``'s other models and evaluations; its "encoder" entry gets the run's training
    facts, with the replaced encoder's facts under "init" when the run started from it.

    Returns the manifest.

    Raises:
        UserError: ``out`` exists, ``base`` fails its manifest check, the run is unfinished, or
            the run's encoder was trained against another generator than ``base``'s (compared by
            sha256) or does not fit its W+.
    """
    base, encoder_run, out = Path(base), Path(encoder_run), Path(out)
    manifest = _check_new_network(base, encoder_run, out, "encoder")
    config = checkpoint.read_checkpoint_meta(encoder_run)["config"]
    trained_against = Path(config["generator"]).with_suffix(".safetensors")
    base_generator = file_sha256(base / "generator.safetensors")
    if not trained_against.is_file() or file_sha256(trained_against) != base_generator:
        raise UserError(f"{encoder_run}: trained against {trained_against}, "
                        f"which is not {base / 'generator.safetensors'}")
    E, G = load_encoder(encoder_run / "encoder"), load_generator(base / "generator")
    if (E.cfg.resolution, E.cfg.num_ws, E.cfg.w_dim) != (G.cfg.resolution, G.num_ws, G.cfg.w_dim):
        raise UserError(f"{encoder_run}: its encoder does not fit {base / 'generator'}'s images and W+")
    models = dict(manifest["models"])
    previous = models.get("encoder")
    init = None if config.get("init") is None else Path(config["init"]).with_suffix(".safetensors")
    started_from_base = (previous is not None and init is not None and init.is_file()
                         and file_sha256(init) == file_sha256(base / "encoder.safetensors"))
    models["encoder"] = {"kind": "W+ encoder (pSp/e4e style)", "date": datetime.date.today().isoformat(),
                         **_training_facts("encoder", encoder_run), **({"init": previous} if started_from_base else {})}
    return _copy_with_network(base, encoder_run, out, "encoder", models, manifest)


def add_superres(base: Path, superres_run: Path, out: Path) -> dict:
    """Write a weights folder ``out`` (must not exist): a copy of the weights folder ``base``
    with ``superres_run``'s face super-resolution network (fp16, as the trainer saved it) added,
    or replacing the one it had. The manifest keeps ``base``'s other models and evaluations; its
    "superres" entry gets the run's training facts and last held-out figures.

    Returns the manifest.

    Raises:
        UserError: ``out`` exists, ``base`` fails its manifest check, the run is unfinished, or
            its network enlarges faces of another size than ``base``'s generator makes.
    """
    base, superres_run, out = Path(base), Path(superres_run), Path(out)
    manifest = _check_new_network(base, superres_run, out, "superres")
    net, G = load_superres(superres_run / "superres"), load_generator(base / "generator")
    if net.cfg.resolution != G.cfg.resolution:
        raise UserError(f"{superres_run}: enlarges {net.cfg.resolution}² faces; {base / 'generator'} makes "
                        f"{G.cfg.resolution}²")
    metrics = (superres_run / "metrics.jsonl").read_text().splitlines()
    models = {**manifest["models"],
              "superres": {"kind": "2× face super-resolution (EDSR-style, sub-pixel convolution)",
                           "date": datetime.date.today().isoformat(), "config": net.cfg.to_dict(),
                           "held_out": json.loads(metrics[-1]) if metrics else {},
                           **_training_facts("superres", superres_run)}}
    return _copy_with_network(base, superres_run, out, "superres", models, manifest)


def _check_new_network(base: Path, run: Path, out: Path, stem: str) -> dict:
    """What shipping run ``run``'s network ``stem`` in a copy ``out`` of ``base`` needs first:
    ``out`` is new, ``base`` passes its manifest check and the run is finished. Returns ``base``'s
    manifest.

    Raises:
        UserError: naming the folder at fault.
    """
    if out.exists():
        raise UserError(f"{out}: already exists; write into a new folder")
    manifest = verify_manifest(base)
    if not checkpoint.has_checkpoint(run) or not (run / f"{stem}.json").is_file():
        raise UserError(f"{run}: not a finished {stem} run (no checkpoint or {stem}.json)")
    return manifest


def _copy_with_network(base: Path, run: Path, out: Path, stem: str, models: dict, manifest: dict) -> dict:
    """Copy ``base`` to the new folder ``out`` (``atomic.write_new_folder``) with run ``run``'s
    network ``stem`` in place of its own, and write the manifest: ``models``, and ``base``'s
    licence and evaluations. Returns it."""
    def fill(folder: Path) -> dict:
        shutil.copytree(base, folder, ignore=shutil.ignore_patterns(MANIFEST, f"{stem}.*", ".*"), dirs_exist_ok=True)
        for suffix in (".safetensors", ".json"):
            shutil.copyfile(run / f"{stem}{suffix}", folder / f"{stem}{suffix}")
        return write_manifest(folder, models, manifest["licence"], manifest.get("evaluation"))
    return write_new_folder(out, fill)
