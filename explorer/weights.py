"""The bundled model set in weights/: manifest, checksums, loading.

``weights/manifest.json``::

    {"licence": "...",
     "files": {"generator.safetensors": {"sha256": "...", "size": 123}, ...},
     "models": {"generator": {...training facts..., "dataset": {..., "alignment": "ffhq"}},
                "encoder": {...}, "directions": {...}},
     "evaluation": [{"metric": "fid", "value": 12.3, ..., "command": "explorer eval fid ...",
                     "date": "2026-11-21", "hardware": "cpu: ..."}, ...]}

Every network is ``NAME.safetensors`` + ``NAME.json`` (see ``explorer.netio``). Files listed
in the manifest are checked against their sha256 before use.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from explorer.atomic import staging_folder
from explorer.directions import (
    Direction,
    load_directions,
    save_directions,
    w_covariance,
)
from explorer.errors import UserError
from explorer.faces import ALIGNMENTS
from explorer.netio import (
    file_sha256,
    load_state,
    load_tensors,
    plain_file_name,
    read_json,
    read_network_config,
    write_json,
)
from explorer.nets.classifier import AttributeClassifier, ClassifierConfig
from explorer.nets.dcgan import DCGANConfig, DCGANGenerator
from explorer.nets.encoder import Encoder, EncoderConfig
from explorer.nets.stylegan import Generator, GeneratorConfig
from explorer.nets.superres import FaceSuperResolution, SuperResolutionConfig

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
MANIFEST = "manifest.json"
# Networks saved before their configs named ``resample`` were trained with interpolation.
DCGAN_KIND = "dcgan_generator"  # the "kind" in the JSON beside a DCGAN generator's weights
LEGACY_RESAMPLE = {"resample": "interpolate"}


def pick_device(name: str = "auto") -> torch.device:
    """"auto" → CUDA if present, else MPS if present, else CPU; or the named device.

    Raises:
        UserError: an unknown name, or a device this machine lacks.
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if name not in available:
        raise UserError(f"--device must be auto, cpu, cuda or mps, got {name!r}")
    if not available[name]:
        raise UserError(f"--device {name}: not available on this machine")
    return torch.device(name)


def describe_device(device: torch.device) -> str:
    """A human description of a device for logs and manifests, e.g. "cpu: AMD EPYC (2 threads)"."""
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    if device.type == "cpu":
        import platform
        cpu = platform.processor() or platform.machine()
        try:
            lines = Path("/proc/cpuinfo").read_text().splitlines()
            names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
            cpu = names[0] if names else cpu
        except OSError:
            pass
        return f"cpu: {cpu} ({torch.get_num_threads()} threads)"
    return device.type


def _load_network(stem: Path, kind: str, build):
    """Rebuild a network of ``kind`` with ``build(config_dict)`` and load its tensors (eval, frozen, CPU)."""
    cfg = read_network_config(stem, kind)
    try:
        net = build(cfg)
    except (TypeError, ValueError) as e:
        raise UserError(f"{Path(stem).with_suffix('.json')}: bad {kind} config ({e})") from None
    path = Path(stem).with_suffix(".safetensors")
    load_state(net, load_tensors(path), path)
    return net.eval().requires_grad_(False)


def load_generator(stem: Path) -> Generator:
    """Rebuild a Generator from ``stem.json`` and ``stem.safetensors`` (float32, eval mode, CPU).

    Raises:
        UserError: missing, broken or mismatched files.
    """
    return _load_network(stem, "generator", lambda cfg: Generator(GeneratorConfig(**{**LEGACY_RESAMPLE, **cfg})))


def load_dcgan_generator(stem: Path) -> DCGANGenerator:
    """Rebuild the DCGAN baseline's generator from ``stem.json`` and ``stem.safetensors``
    (float32, eval mode, CPU). It has no W space: evaluation only, never the app.

    Raises:
        UserError: missing, broken or mismatched files.
    """
    return _load_network(stem, DCGAN_KIND, lambda cfg: DCGANGenerator(DCGANConfig(**cfg)))


def load_encoder(stem: Path) -> Encoder:
    """Rebuild an Encoder from ``stem.json`` and ``stem.safetensors`` (float32, eval mode, CPU).

    Raises:
        UserError: missing, broken or mismatched files.
    """
    return _load_network(stem, "encoder", lambda cfg: Encoder(EncoderConfig(**{**LEGACY_RESAMPLE, **cfg})))


def load_superres(stem: Path) -> FaceSuperResolution:
    """Rebuild a 2× face super-resolution network from ``stem.json`` and ``stem.safetensors``
    (float32, eval mode, CPU).

    Raises:
        UserError: missing, broken or mismatched files.
    """
    return _load_network(stem, "superres", lambda cfg: FaceSuperResolution(SuperResolutionConfig(**cfg)))


def load_classifier(stem: Path) -> AttributeClassifier:
    """Rebuild an attribute classifier from ``stem.json`` and ``stem.safetensors`` (float32,
    eval mode, CPU).

    Raises:
        UserError: missing, broken or mismatched files.
    """
    return _load_network(stem, "classifier", lambda cfg: AttributeClassifier(ClassifierConfig(**cfg)))


@dataclass
class ModelBundle:
    """The networks the app and the CLI use, on one device.

    ``encoder`` is None when the folder has none (photos cannot be loaded then); so is
    ``superres`` (exports are then enlarged with Lanczos only). ``alignment``
    is how photos must be aligned to match the generator's training data (``faces.ALIGNMENTS``;
    see ``training_alignment``). ``generator_sha256`` is the hex sha256 of
    generator.safetensors (what sidecars and directions are tied to; "" for a bundle made in
    memory).
    """

    path: Path
    device: torch.device
    generator: Generator
    encoder: Encoder | None
    directions: list[Direction] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)
    alignment: str = "utkface"
    generator_sha256: str = ""
    superres: FaceSuperResolution | None = None
    _w_covariance: torch.Tensor | None = field(default=None, repr=False)

    @property
    def resolution(self) -> int:
        return self.generator.cfg.resolution

    @property
    def verified(self) -> bool:
        """Whether its generator, and every other file its folder's manifest.json lists, was
        checked against the sha256 listed there when loaded."""
        return "generator.safetensors" in self.manifest.get("files", {})

    def unverified_warning(self) -> str:
        """What to tell the user when the bundle is not ``verified`` (one line)."""
        return (f"{self.path}: no {MANIFEST} listing its files, so these weights are unverified "
                "(no sha256 was checked)")

    def w_covariance(self) -> torch.Tensor:
        """The covariance of w (``directions.w_covariance``), measured on first use (~0.1 s)."""
        if self._w_covariance is None:
            self._w_covariance = w_covariance(self.generator)
        return self._w_covariance

    def direction(self, name: str) -> Direction:
        """The direction called ``name``. Raises UserError listing the known names otherwise."""
        for d in self.directions:
            if d.name == name:
                return d
        known = ", ".join(d.name for d in self.directions) or "none"
        raise UserError(f"{self.path}: no direction named {name!r} (known: {known})")


def verify_manifest(folder: Path) -> dict:
    """Read ``folder/manifest.json`` and check every listed file's sha256. Returns the manifest.

    Raises:
        UserError: a missing manifest or file, a name that is not a plain file name in
            ``folder`` (``netio.plain_file_name``), or a checksum mismatch.
    """
    manifest = read_json(Path(folder) / MANIFEST)
    for name, info in manifest.get("files", {}).items():
        path = plain_file_name(folder, name, Path(folder) / MANIFEST, "files entry")
        if not path.is_file():
            raise UserError(f"{path}: listed in {MANIFEST} but missing")
        if file_sha256(path) != info.get("sha256"):
            raise UserError(f"{path}: sha256 does not match {MANIFEST} (corrupt or replaced file)")
    return manifest


def training_alignment(manifest: dict, folder: Path) -> str:
    """The ``faces.ALIGNMENTS`` method matching the generator's training data: the "alignment"
    its dataset.json recorded (manifest ``models.generator.dataset.alignment``). Data built
    without alignment ("none", or weights that predate the field, like the shipped UTKFace
    weights) is taken to be UTKFace's own crops: "utkface".

    Raises:
        UserError: an alignment this version does not know (naming the manifest).
    """
    recorded = manifest.get("models", {}).get("generator", {}).get("dataset", {}).get("alignment", "none")
    alignment = "utkface" if recorded == "none" else recorded
    if alignment not in ALIGNMENTS:
        raise UserError(f"{Path(folder) / MANIFEST}: unknown generator dataset alignment {recorded!r} "
                        f"(known: none, {', '.join(ALIGNMENTS)})")
    return alignment


def load_bundle(folder: Path | None = None, device: str = "auto") -> ModelBundle:
    """Load generator, encoder, directions and face super-resolution (each but the generator if
    present) from a weights folder.

    Args:
        folder: defaults to the repository's weights/.
        device: "auto", "cpu", "cuda" or "mps".

    Raises:
        UserError: missing folder or generator, bad checksums, mismatched files, or a
            super-resolution network for another image size than the generator's.
    """
    folder = Path(folder) if folder is not None else DEFAULT_WEIGHTS
    if not (folder / "generator.json").is_file():
        raise UserError(f"{folder}: not a weights folder (no generator.json)")
    dev = pick_device(device)
    manifest = verify_manifest(folder) if (folder / MANIFEST).is_file() else {}
    generator = load_generator(folder / "generator").to(dev)
    encoder = load_encoder(folder / "encoder").to(dev) if (folder / "encoder.json").is_file() else None
    sha256 = (manifest.get("files", {}).get("generator.safetensors", {}).get("sha256")    # checked just now
              or file_sha256(folder / "generator.safetensors"))
    directions = []
    if (folder / "directions.json").is_file():
        directions = load_directions(folder / "directions", sha256)
    superres = None
    if (folder / "superres.json").is_file():
        superres = load_superres(folder / "superres")
        if superres.cfg.resolution != generator.cfg.resolution:
            raise UserError(f"{folder / 'superres.json'}: enlarges {superres.cfg.resolution}² faces, "
                            f"the generator makes {generator.cfg.resolution}²")
        superres = superres.to(dev)
    return ModelBundle(folder, dev, generator, encoder, directions, manifest, training_alignment(manifest, folder),
                       sha256, superres)


def write_manifest(folder: Path, models: dict, licence: str, evaluation: list[dict] | None = None) -> dict:
    """Write ``folder/manifest.json`` listing every .safetensors/.json file (but the manifest and
    hidden files, such as the temporaries of a write in progress)
    with its sha256 and size, plus ``models`` (training facts per model), ``licence`` and any
    ``evaluation`` records carried over (``record_evaluation``'s)."""
    folder = Path(folder)
    files = {p.name: {"sha256": file_sha256(p), "size": p.stat().st_size}
             for p in sorted(folder.iterdir())
             if p.suffix in (".safetensors", ".json") and p.name != MANIFEST and not p.name.startswith(".")}
    manifest = {"licence": licence, "files": files, "models": models}
    if evaluation:
        manifest["evaluation"] = evaluation
    write_json(folder / MANIFEST, manifest)
    return manifest


def record_evaluation(folder: Path, records: list[dict], command: str, hardware: str) -> dict:
    """Add ``explorer eval``'s ``records`` (JSON objects with a "metric") to ``folder``'s manifest
    under "evaluation", each with the ``command`` that measured it, today's date and the
    ``hardware``; an earlier entry with the same command and metric is replaced. The manifest
    lists no checksum of itself, so nothing else changes. Returns the manifest.

    Raises:
        UserError: ``folder`` has no readable manifest.json (naming it).
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise UserError(f"{folder}: no {MANIFEST}; evaluations are recorded into a weights folder")
    manifest = read_json(path)
    new = [{**r, "command": command, "date": datetime.date.today().isoformat(), "hardware": hardware}
           for r in records]
    measured = {(e["command"], e["metric"]) for e in new}
    kept = [e for e in manifest.get("evaluation", []) if (e.get("command"), e.get("metric")) not in measured]
    manifest["evaluation"] = kept + new
    write_json(path, manifest)
    return manifest


def rename_direction(folder: Path, name: str, label: str) -> Direction:
    """Give the stored direction ``name`` the label ``label`` (what the GUI and ``directions
    list`` show; ``name`` stays its key), written as ``add_directions`` writes. Returns it renamed.

    Raises:
        UserError: no direction ``name`` in ``folder``, an empty label, or unreadable files.
    """
    folder = Path(folder)
    label = label.strip()
    if not label:
        raise UserError("a direction's label cannot be empty")
    stored = {d.name: d for d in _stored_directions(folder, [name], "rename")}
    renamed = replace(stored[name], label=label)
    add_directions(folder, [renamed], f"rename {name} → {label}")
    return renamed


def add_directions(folder: Path, directions: list[Direction], command: str) -> list[Direction]:
    """Store ``directions`` in a weights folder beside those it has (a direction of the same name
    is replaced where it stands), and when the folder has a manifest, record their files' sha256 and the fit
    (``models.directions.fits``: method, names, command, date) in it. Returns all directions now stored.

    Never half-written: the new directions files and manifest are written complete into a
    staging folder inside ``folder`` first; only then are they renamed into place (directions
    files first, the manifest last), each rename atomic.

    Raises:
        UserError: ``folder`` lacks a generator, or its directions or manifest are unreadable.
    """
    folder = Path(folder)
    if not (folder / "generator.safetensors").is_file():
        raise UserError(f"{folder}: not a weights folder (no generator.safetensors)")
    sha = file_sha256(folder / "generator.safetensors")
    stem = folder / "directions"
    new = {d.name: d for d in directions}
    stored = load_directions(stem, sha) if stem.with_suffix(".json").is_file() else []
    merged = [new.pop(d.name, d) for d in stored] + list(new.values())
    fit = {"method": directions[0].method if directions else None, "names": [d.name for d in directions],
           "command": command, "date": datetime.date.today().isoformat()}
    _write_directions(folder, merged, sha, lambda fits: [*fits, fit])
    return merged


def remove_directions(folder: Path, names: list[str]) -> list[Direction]:
    """Delete the directions ``names`` from a weights folder: a component nobody uses, or fitted
    directions about to be refitted in another order (the GUI lists sliders in stored order, and
    a refit replaces a direction where it stands). The manifest's fit records forget the names
    (a record left with none is dropped), so replaying its commands in order rebuilds what is
    stored. Written like ``add_directions``: staged, then renamed into place.

    Returns:
        The directions left, in stored order.

    Raises:
        UserError: ``folder`` has no directions, or one of ``names`` is not among them.
    """
    folder = Path(folder)
    kept = [d for d in _stored_directions(folder, names, "remove") if d.name not in names]

    def forget(fits: list[dict]) -> list[dict]:
        left = [{**f, "names": [n for n in f.get("names", []) if n not in names]} for f in fits]
        return [f for f in left if f["names"]]
    _write_directions(folder, kept, file_sha256(folder / "generator.safetensors"), forget)
    return kept


def _stored_directions(folder: Path, names: list[str], action: str) -> list[Direction]:
    """The directions stored in ``folder``, after checking that each of ``names`` is among them.

    Raises:
        UserError: no directions file (``action`` says what could not be done), or a name not stored.
    """
    stem = folder / "directions"
    if not stem.with_suffix(".json").is_file():
        raise UserError(f"{folder}: no directions to {action}")
    stored = load_directions(stem, file_sha256(folder / "generator.safetensors"))
    known = [d.name for d in stored]
    for name in names:
        if name not in known:
            raise UserError(f"{stem.with_suffix('.json')}: no direction {name!r} (known: {', '.join(known)})")
    return stored


def _write_directions(folder: Path, directions: list[Direction], generator_sha256: str,
                      edit_fits: Callable[[list[dict]], list[dict]]) -> None:
    """Write ``directions`` (and, when there is a manifest, their files' sha256, count and the
    fit records ``edit_fits`` returns) into a staging folder, then rename each into place."""
    with staging_folder(folder / "directions") as stage:
        save_directions(stage / "directions", directions, generator_sha256)
        files = ["directions.safetensors", "directions.json"]
        if (folder / MANIFEST).is_file():
            manifest = read_json(folder / MANIFEST)
            for name in files:
                manifest.setdefault("files", {})[name] = {"sha256": file_sha256(stage / name),
                                                          "size": (stage / name).stat().st_size}
            entry = manifest.setdefault("models", {}).setdefault("directions", {})
            entry["kind"] = "semantic directions in W (" + ", ".join(sorted({d.method for d in directions})) + ")"
            entry["count"] = len(directions)
            entry["fits"] = edit_fits(entry.get("fits", []))
            write_json(stage / MANIFEST, manifest)
            files.append(MANIFEST)
        for name in files:
            os.replace(stage / name, folder / name)
