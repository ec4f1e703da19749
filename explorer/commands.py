"""What each ``explorer`` subcommand does, on parsed arguments. Each handler is glue over the
library (weights, session, photos, export, trainers) and returns the exit code."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from explorer.atomic import write_new
from explorer.errors import UserError
from explorer.export import DEFAULT_SIZE_FACTOR, MESH_TEXTURE_FACTOR, save_png

DRY_RUN_NETS = {"resolution": 32, "channel_base": 256, "channel_max": 32, "batch": 8}   # --dry-run: seconds
DRY_RUN_LOG = {"tick_kimg": 0.016, "snapshot_kimg": 0.032}


def _new_outdir(path: Path) -> Path:
    """Create ``path`` as an output folder; refuse one that already holds files."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UserError(f"{path}: already exists and is not an empty folder; pick a new --outdir")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _save_png(image: np.ndarray, path: Path) -> None:
    """``export.save_png`` as a new file, written atomically (``atomic.write_new``)."""
    write_new(path, lambda tmp: save_png(image, tmp))


def _distinct_stems(photos: list[Path]) -> None:
    """Refuse photos whose outputs would share names (the same file name in two folders).

    Raises:
        UserError: naming both photos.
    """
    seen: dict[str, Path] = {}
    for photo in photos:
        if photo.stem in seen:
            raise UserError(f"{photo}: has the same name as {seen[photo.stem]}, so their outputs "
                            f"({photo.stem}_*) would collide; rename one")
        seen[photo.stem] = photo


def _bundle(args):
    """The weights of ``--weights`` on ``--device``; a warning on stderr when they are unverified."""
    from explorer.weights import load_bundle
    bundle = load_bundle(args.weights, args.device)
    if not bundle.verified:
        print(f"warning: {bundle.unverified_warning()}", file=sys.stderr)
    return bundle


def cmd_gui(args) -> int:
    from explorer.display import check_display
    check_display()                                     # where Qt would abort the process instead
    from explorer.gui.main_window import run_app
    return run_app(args.weights, args.device)


def _output_size(args, bundle, factor: int = DEFAULT_SIZE_FACTOR) -> tuple[int, str]:
    """``--size`` in px (checked; by default ``factor`` × the generator's resolution, the size the
    window saves and exports at) and how larger images are made (``--upscale``, or the bundle's
    default).

    Raises:
        UserError: a size outside 16 … 4096 px, or an upscaling these weights cannot do.
    """
    from explorer.export import check_size, upscale_method
    size = factor * bundle.resolution if args.size is None else check_size(args.size)
    return size, upscale_method(bundle, args.upscale)


def cmd_generate(args) -> int:
    from explorer.export import render_at
    from explorer.session import Session
    bundle = _bundle(args)
    size, upscale = _output_size(args, bundle)
    outdir = _new_outdir(args.outdir)
    for seed in args.seeds:
        image = render_at(bundle, Session(seed=seed, psi=args.trunc).ws(bundle), size, upscale)[0]
        _save_png(image, outdir / f"seed{seed:04d}.png")
    print(f"wrote {len(args.seeds)} images to {outdir}")
    return 0


def cmd_encode(args) -> int:
    from explorer.photos import encode_photo
    from explorer.session import render
    _distinct_stems(args.photos)
    bundle = _bundle(args)
    encoded = [encode_photo(bundle, p, args.refine, face=args.face - 1) for p in args.photos]   # all checked first
    outdir = _new_outdir(args.outdir)
    for item in encoded:
        name = item.path.stem
        write_new(outdir / f"{name}_aligned.png", item.aligned.save)
        _save_png(render(bundle, item.ws)[0], outdir / f"{name}_recon.png")
        write_new(outdir / f"{name}_w.npy", lambda tmp: np.save(tmp, item.ws[0].cpu().numpy()))
    print(f"encoded {len(encoded)} photos into {outdir}")
    return 0


def _keyframe(bundle, spec: str, refine: int = 0):
    """``seed:N`` or a photo path (encoded, then refined for ``refine`` steps) → Keyframe."""
    from explorer.photos import encode_photo
    from explorer.session import Keyframe
    if spec.startswith("seed:"):
        try:
            return Keyframe.from_seed(int(spec[5:]))
        except ValueError:
            raise UserError(f"{spec}: expected seed:N with an integer N") from None
    return Keyframe.from_photo(spec, encode_photo(bundle, Path(spec), refine).ws)


def _with_edits(bundle, session, args):
    """``session`` with the sliders of ``--set`` and the conditions of ``--keep``.

    Raises:
        UserError: an unknown direction, or a value outside its slider's range.
    """
    for name, value in args.set:
        direction = bundle.direction(name)
        if not direction.min <= value <= direction.max:
            raise UserError(f"--set {name}={value}: outside the slider range [{direction.min}, {direction.max}]")
        session = session.with_slider(name, value)
    for name, others in args.keep:
        for direction in (name, *others):
            bundle.direction(direction)                                # unknown names: one clear error
        session = replace(session, conditions={**session.conditions, name: others})
    return session


def cmd_edit(args) -> int:
    from explorer.export import render_at
    from explorer.session import Session
    bundle = _bundle(args)
    size, upscale = _output_size(args, bundle)
    session = Session(seed=args.seed or 0, psi=args.trunc)
    if args.photo is not None:
        session = session.with_keyframe(0, _keyframe(bundle, str(args.photo)))
    session = _with_edits(bundle, session, args)
    original = render_at(bundle, replace(session, sliders={}).ws(bundle), size, upscale)[0]
    edited = render_at(bundle, session.ws(bundle), size, upscale)[0]
    outdir = _new_outdir(args.outdir)
    stem = f"seed{args.seed:04d}" if args.photo is None else args.photo.stem
    _save_png(original, outdir / f"{stem}_original.png")
    _save_png(edited, outdir / f"{stem}_edited.png")
    write_new(outdir / f"{stem}_edit.json", lambda tmp: tmp.write_text(session.to_json() + "\n"))
    print(f"wrote {stem}_original.png and {stem}_edited.png to {outdir}")
    return 0


def cmd_mesh(args) -> int:
    from explorer.export import (
        TURNTABLE,
        check_export_path,
        export_turntable,
        face_mesh,
        mesh_files,
        mesh_sidecar,
        save_mesh,
        sidecar_path,
    )
    from explorer.face3d import FaceMeshModel
    from explorer.session import Session
    bundle = _bundle(args)
    size, upscale = _output_size(args, bundle, MESH_TEXTURE_FACTOR)
    mesh_files(args.out)                                           # a bad or taken name fails before any work
    loop = None if args.turntable is None else args.out.with_name(f"{args.out.stem}-turntable.{args.turntable}")
    if loop is not None:
        check_export_path(loop)
    model = FaceMeshModel()
    session = Session(psi=args.trunc).with_keyframe(0, _keyframe(bundle, args.face, args.refine))
    session = _with_edits(bundle, session, args)
    ws = session.ws(bundle)
    mesh = face_mesh(bundle, model, ws, size, upscale, source=f"{args.face} (as rendered)")
    sidecar = mesh_sidecar(bundle, session, ws, mesh, upscale)
    out = save_mesh(mesh, args.out, sidecar=sidecar)
    print(f"wrote {out} ({len(mesh.vertices)} vertices, {len(mesh.triangles)} triangles) with "
          f"{out.with_suffix('.mtl').name}, {out.with_suffix('.png').name} and {sidecar_path(out).name}")
    if loop is not None:
        export_turntable(mesh, loop, sidecar=sidecar)
        print(f"wrote the turntable, {TURNTABLE['frames']} frames, to {loop}")
    return 0


def cmd_morph(args) -> int:
    from explorer.export import check_export_path, export_frames, morph_frames, morph_sidecar
    from explorer.metrics import ppl
    from explorer.metrics.lpips import load_lpips
    from explorer.morph import evenly_spaced
    from explorer.session import Session
    check_export_path(args.out)                                        # a taken name fails before any work
    bundle = _bundle(args)
    lpips = load_lpips(ppl.NET, bundle.device) if args.ppl else None   # missing weights fail before any work
    size, upscale = _output_size(args, bundle)
    specs = [args.first, *args.rest]
    if args.times is not None and len(args.times) != len(specs):
        raise UserError(f"--times gives {len(args.times)} times for {len(specs)} keyframes")
    session = Session(psi=args.trunc, keyframes=tuple(_keyframe(bundle, spec, args.refine) for spec in specs),
                      times=args.times or evenly_spaced(len(specs)), easing=args.easing, pace=args.pace,
                      windows={"coarse": args.coarse, "middle": args.middle, "fine": args.fine})
    times = session.frame_times(bundle, args.frames)
    out = export_frames(morph_frames(bundle, session, times, size=size, upscale=upscale), args.out,
                        fps=args.fps, sidecar=morph_sidecar(bundle, session, times, args.fps, size, upscale))
    print(f"wrote {args.frames} frames to {out}")
    if args.ppl:
        print(json.dumps(ppl.morph_ppl(bundle.generator, lpips, session.morph_ws(bundle, times))), flush=True)
    return 0


def cmd_mix(args) -> int:
    from explorer.export import render_at
    from explorer.latent import mix_styles
    from explorer.session import Session
    bundle = _bundle(args)
    size, upscale = _output_size(args, bundle)
    parts = _layers(args.layers, bundle.generator.num_ws)
    session = Session(psi=args.trunc)
    content, style = (session.keyframe_ws(bundle, _keyframe(bundle, spec, args.refine))
                      for spec in (args.content, args.style))
    mixed = mix_styles(content, style, *parts)
    outdir = _new_outdir(args.outdir)
    for name, ws in (("content", content), ("style", style), ("mix", mixed)):
        _save_png(render_at(bundle, ws, size, upscale)[0], outdir / f"{name}.png")
    write_new(outdir / "mix_w.npy", lambda tmp: np.save(tmp, mixed[0].cpu().numpy()))
    spans = ", ".join(f"{r.start}-{r.stop - 1}" for r in parts)
    print(f"wrote content.png, style.png and mix.png (W+ layers {spans} from the style) to {outdir}")
    return 0


def cmd_dataset(args) -> int:
    from explorer.data.dataset_tool import build_dataset
    summary = build_dataset(args.source, args.out, args.resolution, labels=args.labels, align=args.align)
    print(summary.format())
    return 0


def _config(cls, args, fixed: dict, defaults: dict | None = None):
    """A training config dataclass: ``defaults``, then the CLI options the user passed that it
    has, then ``fixed``.

    Raises:
        UserError: the config refuses the combination (its ValueError, as one line).
    """
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if getattr(args, f.name, None) is not None}
    try:
        return cls(**{**(defaults or {}), **given, **fixed})
    except ValueError as e:
        raise UserError(f"train {args.kind}: {e}") from None


def _train_gan(args, tmp: Path, device: str) -> None:
    from explorer.data.dataset import make_synthetic_dataset, read_dataset_meta
    from explorer.train.gan import GanTrainConfig, train_gan
    if args.dry_run:
        data = make_synthetic_dataset(tmp / "synthetic.zip", 64, 32)
        cfg = _config(GanTrainConfig, args, {"data": str(data)},
                      {"z_dim": 32, "w_dim": 32, "kimg": 0.064, **DRY_RUN_NETS, **DRY_RUN_LOG})
    elif args.data is None:
        raise UserError("train gan: --data DATASET.zip is required (or --dry-run)")
    else:
        snapshot = {}
        if args.init is not None:
            from explorer.netio import read_json
            from explorer.train.checkpoint import SNAPSHOT_META
            snapshot = read_json(args.init / SNAPSHOT_META)["config"]
        cfg = _config(GanTrainConfig, args, {"data": str(args.data),
                                             "resolution": read_dataset_meta(args.data)["resolution"]}, snapshot)
    train_gan(cfg, args.outdir, resume=args.resume, init=args.init, device=device)


def _train_encoder(args, tmp: Path, device: str) -> None:
    from explorer.train.encoder import EncoderTrainConfig, train_encoder
    if args.dry_run:
        from explorer.data.dataset import make_synthetic_dataset
        from explorer.train.gan import GanTrainConfig, train_gan
        data = str(make_synthetic_dataset(tmp / "synthetic.zip", 64, 32))
        gan = train_gan(GanTrainConfig(data=data, z_dim=32, w_dim=32, kimg=0.016, **DRY_RUN_NETS), tmp / "gan",
                        device=device)
        nets = {k: v for k, v in DRY_RUN_NETS.items() if k != "resolution"}
        cfg = _config(EncoderTrainConfig, args, {"data": data, "generator": str(gan / "generator")},
                      {"kimg": 0.064, **nets, **DRY_RUN_LOG})
    elif args.data is None or args.generator is None:
        raise UserError("train encoder: --data and --generator are required (or --dry-run)")
    else:
        init = {}
        if args.init is not None:
            from explorer.netio import read_network_config
            init = {k: v for k, v in read_network_config(args.init, "encoder").items() if k.startswith("channel_")}
        cfg = _config(EncoderTrainConfig, args, {"data": str(args.data), "generator": str(args.generator),
                                                 "init": None if args.init is None else str(args.init)}, init)
    train_encoder(cfg, args.outdir, resume=args.resume, device=device)


def _train_classifier(args, tmp: Path, device: str) -> None:
    from explorer.train.classifier import ClassifierTrainConfig, train_classifier
    if args.dry_run:
        from explorer.data.dataset import make_synthetic_dataset
        data = str(make_synthetic_dataset(tmp / "synthetic.zip", 64, 32))
        nets = {k: v for k, v in DRY_RUN_NETS.items() if k != "resolution"}
        cfg = _config(ClassifierTrainConfig, args, {"data": data}, {"kimg": 0.064, **nets, **DRY_RUN_LOG})
    elif args.data is None:
        raise UserError("train classifier: --data DATASET.zip is required (or --dry-run)")
    else:
        cfg = _config(ClassifierTrainConfig, args, {"data": str(args.data)})
    train_classifier(cfg, args.outdir, resume=args.resume, device=device)


def _train_superres(args, tmp: Path, device: str) -> None:
    from explorer.train.superres import SuperResTrainConfig, train_superres
    if args.dry_run:
        from explorer.data.dataset import make_synthetic_dataset
        data = str(make_synthetic_dataset(tmp / "synthetic.zip", 64, 32))
        cfg = _config(SuperResTrainConfig, args, {"data": data},
                      {"kimg": 0.064, "crop": 16, "channels": 8, "blocks": 1, "batch": 8, **DRY_RUN_LOG})
    elif args.data is None:
        raise UserError("train superres: --data DATASET.zip is required (faces at twice the generator's size; "
                        "or --dry-run)")
    else:
        cfg = _config(SuperResTrainConfig, args, {"data": str(args.data)})
    train_superres(cfg, args.outdir, resume=args.resume, device=device)


def cmd_train(args) -> int:
    from explorer.train.checkpoint import check_run_dir
    from explorer.weights import pick_device
    check_run_dir(args.outdir, args.resume)                      # before any work, dry runs' included
    device = str(pick_device(args.device))
    trainers = {"gan": _train_gan, "encoder": _train_encoder, "classifier": _train_classifier,
                "superres": _train_superres}
    with tempfile.TemporaryDirectory() as tmp:
        trainers[args.kind](args, Path(tmp), device)
    print(f"run written to {args.outdir}")
    return 0


def _layers(text: str, num_ws: int) -> list[range]:
    """``--layers``: a W+ layer range "A-B" (or one layer "A"), or "+"-joined layer groups such
    as "fine" or "coarse+fine" (``stylegan.layer_groups``) → their ranges within [0, num_ws)."""
    from explorer.nets.stylegan import layer_groups
    if text[:1].isdigit():
        first, _, last = text.partition("-")
        try:
            layers = range(int(first), int(last or first) + 1)
        except ValueError:
            raise UserError(f"--layers {text!r}: expected a range like 0-3 or groups like coarse+middle") from None
        if not 0 <= layers.start < layers.stop <= num_ws:
            raise UserError(f"--layers {text!r}: expected A-B with 0 ≤ A ≤ B ≤ {num_ws - 1} "
                            f"(this generator's W+ layers)")
        return [layers]
    groups = layer_groups(num_ws)
    unknown = [g for g in text.split("+") if g not in groups]
    if unknown:
        raise UserError(f"--layers {text!r}: no layer group {unknown[0]!r}; known groups are {', '.join(groups)}")
    return [groups[g] for g in text.split("+")]


def _fit_components(args, bundle) -> list:
    """SeFa or GANSpace components for ``--layers`` / ``--num``."""
    from explorer.directions import ganspace, sefa
    parts = _layers(args.layers, bundle.generator.num_ws)
    layers = range(min(p.start for p in parts), max(p.stop for p in parts))   # groups: the span they cover
    try:
        if args.method == "sefa":
            return sefa(bundle.generator, layers, args.num)
        extra = {} if args.num_samples is None else {"num_samples": args.num_samples}
        return ganspace(bundle.generator, layers, args.num, seed=args.seed, **extra)
    except ValueError as e:
        raise UserError(f"directions fit: {e}") from None


def _fit_interfacegan(args, bundle) -> list:
    """InterFaceGAN directions from the ``--classifier`` runs."""
    from explorer.interfacegan import (
        check_classifier,
        classifier_directions,
        classifier_stem,
    )
    from explorer.weights import load_classifier
    if not args.classifier:
        raise UserError("directions fit --method interfacegan: --classifier RUN_OR_STEM is required")
    classifiers = {}
    for path in args.classifier:
        stem = classifier_stem(path)
        net = load_classifier(stem).to(bundle.device)
        check_classifier(net, str(stem), bundle.resolution, bundle.alignment)
        classifiers[str(stem)] = net
    names = [n.strip() for n in args.attributes.split(",") if n.strip()] if args.attributes else None
    extra = {} if args.num_samples is None else {"num_samples": args.num_samples}
    return classifier_directions(bundle.generator, classifiers, names, args.condition, psi=args.trunc,
                                 top_percent=args.top_percent, seed=args.seed, **extra)


def cmd_directions(args) -> int:
    import shlex

    from explorer.weights import add_directions
    bundle = _bundle(args)
    if args.action == "list":
        for d in bundle.directions:
            print(json.dumps(d.describe()))
        return 0
    if args.action == "rename":
        from explorer.weights import rename_direction
        print(json.dumps(rename_direction(bundle.path, args.name, args.label).describe()))
        return 0
    if args.action == "remove":
        from explorer.weights import remove_directions
        kept = remove_directions(bundle.path, args.names)
        print(f"removed {len(args.names)} directions from {bundle.path / 'directions.json'}; "
              f"{len(kept)} left: {', '.join(d.name for d in kept)}")
        return 0
    if args.method == "interfacegan":
        found = _fit_interfacegan(args, bundle)
    elif args.method == "pose":
        from explorer.interfacegan import pose_directions
        extra = {} if args.num_samples is None else {"num_samples": args.num_samples}
        found = pose_directions(bundle.generator, psi=args.trunc, seed=args.seed, **extra)
    else:
        found = _fit_components(args, bundle)
    add_directions(bundle.path, found, shlex.join(["explorer", *sys.argv[1:]]))
    for d in found:
        print(json.dumps(d.describe()))
    print(f"stored {len(found)} {args.method} directions in {bundle.path / 'directions.json'}", file=sys.stderr)
    return 0


def cmd_weights(args) -> int:
    if args.action == "snapshot":
        from explorer.train.checkpoint import save_network_snapshot
        files = save_network_snapshot(args.gan, args.out)
        print(f"wrote {len(files)} files to {args.out} ({sum(f.stat().st_size for f in files) / 2 ** 20:.1f} MiB)")
        return 0
    if args.action == "replace-encoder":
        from explorer.train.pack import replace_encoder
        manifest = replace_encoder(args.base, args.encoder, args.out)
        print(f"wrote {args.out} with {args.encoder}'s encoder ({manifest['models']['encoder']['kimg']:g} kimg)")
        return 0
    if args.action == "add-superres":
        from explorer.train.pack import add_superres
        manifest = add_superres(args.base, args.superres, args.out)
        held_out = manifest["models"]["superres"]["held_out"].get("superres", {})
        print(f"wrote {args.out} with {args.superres}'s face super-resolution (held-out LPIPS {held_out.get('lpips')})")
        return 0
    from explorer.train.pack import pack_weights
    manifest = pack_weights(args.gan, args.encoder, args.out, tuple(args.classifier))
    print(f"packed {len(manifest['files'])} files into {args.out}")
    return 0


def cmd_eval(args) -> int:
    from explorer.metrics.registry import compute
    from explorer.weights import (
        MANIFEST,
        describe_device,
        pick_device,
        record_evaluation,
    )
    if args.record and not (args.fake / MANIFEST).is_file():
        raise UserError(f"{args.fake}: --record needs a weights folder with a {MANIFEST} as --fake")
    records = compute(args.metric, args.real, args.fake, args.num, args.resolution, args.device, args.split)
    for record in records:
        print(json.dumps(record), flush=True)
    if args.record:
        record_evaluation(args.fake, records, _eval_command(args), describe_device(pick_device(args.device)))
    return 0


def _eval_command(args) -> str:
    """The ``explorer eval`` command line that ``args`` stand for (what a manifest records)."""
    options = [("--real", args.real), ("--fake", args.fake), ("--num", args.num),
               ("--resolution", args.resolution), ("--split", args.split)]
    return " ".join(["explorer eval", args.metric, *(f"{k} {v}" for k, v in options if v is not None)])


HANDLERS = {"gui": cmd_gui, "generate": cmd_generate, "encode": cmd_encode, "edit": cmd_edit, "morph": cmd_morph,
            "mix": cmd_mix, "mesh": cmd_mesh,
            "dataset": cmd_dataset, "train": cmd_train, "directions": cmd_directions, "weights": cmd_weights,
            "eval": cmd_eval}


def run(args: argparse.Namespace) -> int:
    """Dispatch parsed arguments to their handler (no subcommand: the GUI on default settings)."""
    if args.command is None:
        args = argparse.Namespace(command="gui", weights=None, device="auto")
    return HANDLERS[args.command](args)
