"""The ``explorer`` command: parse, dispatch, report errors as one line.

Exit codes: 0 success, 1 bad input (``error: …`` on stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from explorer.errors import UserError
from explorer.faces import ALIGNMENTS
from explorer.finite import PSI_RANGE, describe_range, finite_number
from explorer.morph import EASINGS, GROUPS, PACES, TOGETHER, check_times


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line (``error: …``) and exit 2."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message}\n")


def parse_seeds(text: str) -> list[int]:
    """"0-7" → [0..7]; "1,5,9" → [1, 5, 9]; ranges and lists combine ("0-3,10")."""
    seeds = []
    try:
        for part in text.split(","):
            lo, _, hi = part.partition("-")
            seeds.extend(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad seed list {text!r} (use e.g. 0-7 or 1,5,9)") from None
    if not seeds or any(not 0 <= s < 2 ** 32 for s in seeds):
        raise argparse.ArgumentTypeError(f"seeds must be in [0, 2**32), got {text!r}")
    return seeds


def _assignment(text: str) -> tuple[str, float]:
    """"age=1.5" → ("age", 1.5); the value a finite number."""
    name, sep, value = text.rpartition("=")
    try:
        if not sep or not name:
            raise ValueError
        return name, finite_number(float(value), name)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE with a finite number, got {text!r}") from None


def _finite(low: float = -math.inf, high: float = math.inf):
    """An argparse type: a finite number within [``low``, ``high``] (no nan, inf or 1e400)."""
    def parse(text: str) -> float:
        try:
            return finite_number(float(text), text, low, high)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a finite number{describe_range(low, high)}, "
                                             f"got {text!r}") from None
    return parse


def _at_least(minimum: int):
    """An argparse type: an integer ≥ ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
            if value < minimum:
                raise ValueError
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer ≥ {minimum}, got {text!r}") from None
        return value
    return parse


def _window(text: str) -> tuple[float, float]:
    """"0:0.5" → (0.0, 0.5): a layer group's window of a morph segment, 0 ≤ START < END ≤ 1."""
    start, sep, end = text.partition(":")
    try:
        window = (float(start), float(end))
        if not sep or not 0.0 <= window[0] < window[1] <= 1.0:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:END with 0 ≤ START < END ≤ 1, got {text!r}") from None
    return window


def _keep(text: str) -> tuple[str, tuple[str, ...]]:
    """"age:gender,pose" → ("age", ("gender", "pose"))."""
    name, sep, others = text.partition(":")
    kept = tuple(o.strip() for o in others.split(",") if o.strip())
    if not sep or not name.strip() or not kept:
        raise argparse.ArgumentTypeError(f"expected NAME:OTHER[,OTHER], got {text!r}")
    return name.strip(), kept


def _times(text: str) -> tuple[float, ...]:
    """"0,0.3,1" → (0.0, 0.3, 1.0): keyframe times, strictly increasing within [0, 1]."""
    try:
        return check_times(float(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated times increasing within [0, 1], got {text!r}") \
            from None


def _device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])


def _weights_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", type=Path, default=None, help="weights folder (default: the bundled weights/)")
    _device_arg(p)


def _train_args(p: argparse.ArgumentParser) -> None:
    """Options every ``explorer train`` kind takes."""
    p.add_argument("--data", type=Path, help="dataset zip from `explorer dataset build`")
    p.add_argument("--outdir", type=Path, required=True)
    p.add_argument("--resume", action="store_true", help="continue the run in --outdir")
    p.add_argument("--dry-run", action="store_true", help="a few steps of a tiny model on synthetic data")
    p.add_argument("--kimg", type=_finite(0), help="train until this many thousand images")
    p.add_argument("--batch", type=int)
    p.add_argument("--lr", type=_finite(0))
    p.add_argument("--seed", type=int)
    p.add_argument("--val-percent", type=int, help="share of photos (or identities) held out, in %% (default 10)")
    _device_arg(p)


def _size_args(p: argparse.ArgumentParser) -> None:
    """The output size options of the commands that write faces."""
    p.add_argument("--size", type=int, metavar="PX", help="image side in px (default: 4× the generator's, as the "
                                                          "window exports: 256 for the shipped 64² weights)")
    p.add_argument("--upscale", choices=["superres", "lanczos"],
                   help="how images larger than the generator's are made: superres, the learned 2× face "
                        "super-resolution (then Lanczos; the default when the weights have it), or lanczos alone")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="explorer", description="Explore and edit the latent space of a face generator.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    p = sub.add_parser("gui", help="open the explorer window (the default)")
    _weights_args(p)

    p = sub.add_parser("generate", help="render seeds to PNG files")
    p.add_argument("--seeds", type=parse_seeds, required=True, help="e.g. 0-7 or 1,5,9")
    p.add_argument("--trunc", type=_finite(*PSI_RANGE), default=0.7, help="truncation ψ (1 = none)")
    p.add_argument("--outdir", type=Path, required=True)
    _size_args(p)
    _weights_args(p)

    p = sub.add_parser("encode", help="encode photos into W+ (crop, reconstruction, W+ as .npy)")
    p.add_argument("photos", type=Path, nargs="+")
    p.add_argument("--outdir", type=Path, required=True)
    p.add_argument("--refine", type=_at_least(0), default=0, metavar="STEPS",
                   help="refine each encoding by STEPS of projection (LPIPS + L2; "
                        "300 take about 15 s at 64² on 2 cores)")
    p.add_argument("--face", type=_at_least(1), default=1, metavar="N",
                   help="which face of each photo, by size: 1 the largest (default), 2 the next, …")
    _weights_args(p)

    p = sub.add_parser("edit", help="move a face along named directions")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--seed", type=int)
    src.add_argument("--photo", type=Path)
    p.add_argument("--set", type=_assignment, action="append", default=[], metavar="NAME=VALUE",
                   help="slider value in σ units (see `explorer directions list`)")
    p.add_argument("--keep", type=_keep, action="append", default=[], metavar="NAME:OTHER[,OTHER]",
                   help="move NAME without changing OTHER, e.g. age:gender,pose (repeatable)")
    p.add_argument("--trunc", type=_finite(*PSI_RANGE), default=0.7)
    p.add_argument("--outdir", type=Path, required=True)
    _size_args(p)
    _weights_args(p)

    p = sub.add_parser("mesh", help="3D face: a textured mesh (OBJ + MTL + PNG) of a face, for 3D tools")
    p.add_argument("face", help="photo path or seed:N")
    p.add_argument("--set", type=_assignment, action="append", default=[], metavar="NAME=VALUE",
                   help="slider value in σ units, as for `explorer edit`")
    p.add_argument("--keep", type=_keep, action="append", default=[], metavar="NAME:OTHER[,OTHER]",
                   help="move NAME without changing OTHER (repeatable)")
    p.add_argument("--refine", type=_at_least(0), default=0, metavar="STEPS",
                   help="refine a photo's encoding by STEPS of projection first")
    p.add_argument("--trunc", type=_finite(*PSI_RANGE), default=0.7, help="truncation ψ of seeds")
    p.add_argument("--out", type=Path, required=True,
                   help="the .obj to write; its .mtl, .png texture and .json sidecar go beside it")
    p.add_argument("--turntable", choices=["mp4", "gif"],
                   help="also a looping turntable of the mesh, ±45° in 3 s, as NAME-turntable.mp4 or .gif "
                        "(with its .json) beside the .obj")
    p.add_argument("--size", type=int, metavar="PX", help="texture side in px (default: twice the generator's)")
    p.add_argument("--upscale", choices=["superres", "lanczos"],
                   help="how the texture is enlarged (default: superres where the weights have it)")
    _weights_args(p)

    p = sub.add_parser("morph", help="render a morph through photos or seeds")
    p.add_argument("first", metavar="A", help="photo path or seed:N")
    p.add_argument("rest", nargs="+", metavar="B", help="photo path or seed:N; more make the morph go on through them")
    p.add_argument("--frames", type=_at_least(2), default=60)
    p.add_argument("--fps", type=_at_least(1), default=30)
    p.add_argument("--times", type=_times, metavar="T,T,…",
                   help="when the morph reaches each keyframe, from 0 to 1 (default: evenly spaced)")
    p.add_argument("--easing", choices=EASINGS, default="linear", help="speed curve within each segment")
    p.add_argument("--pace", choices=PACES, default="perceptual",
                   help="space frames evenly in how much the picture changes (default), or evenly in time")
    for group in GROUPS:
        p.add_argument(f"--{group}", type=_window, default=TOGETHER[group], metavar="START:END",
                       help=f"when the {group} W+ layers move within each segment (default 0:1)")
    p.add_argument("--refine", type=_at_least(0), default=0, metavar="STEPS",
                   help="refine each photo's encoding by STEPS of projection, so the ends look more like "
                        "the photos (300 takes about 15 s a photo at 64² on a 2-core CPU)")
    p.add_argument("--trunc", type=_finite(*PSI_RANGE), default=0.7)
    p.add_argument("--out", type=Path, required=True, help=".mp4, .gif, or a new folder for PNGs")
    _size_args(p)
    p.add_argument("--ppl", action="store_true", help="also print the morph's perceptual path length as JSON "
                                                      "(mean LPIPS/dt² of consecutive frames, and the largest step over it)")
    _weights_args(p)

    p = sub.add_parser("mix", help="style mixing: a face with some W+ layers taken from a reference face")
    p.add_argument("content", help="photo path or seed:N: the face")
    p.add_argument("style", help="photo path or seed:N: the reference whose layers it takes")
    p.add_argument("--layers", default="fine", help="W+ layers taken from the reference: groups such as fine "
                                                    "(colour, texture; the default), middle, coarse (pose, face "
                                                    "shape), joined with +, or a range like 4-9")
    p.add_argument("--refine", type=_at_least(0), default=0, metavar="STEPS",
                   help="refine each photo's encoding by STEPS of projection first")
    p.add_argument("--trunc", type=_finite(*PSI_RANGE), default=0.7, help="truncation ψ of seeds")
    p.add_argument("--outdir", type=Path, required=True, help="new folder: content.png, style.png, mix.png, "
                                                              "mix_w.npy (W+ [num_ws, w_dim])")
    _size_args(p)
    _weights_args(p)

    p = sub.add_parser("dataset", help="dataset tools")
    dsub = p.add_subparsers(dest="action", required=True, parser_class=_Parser)
    b = dsub.add_parser("build", help="folder or zip of photos → dataset zip of square PNGs + dataset.json")
    b.add_argument("source", type=Path)
    b.add_argument("--resolution", type=int, required=True)
    b.add_argument("--labels", type=Path)
    b.add_argument("--align", nargs="?", const="ffhq", choices=ALIGNMENTS, metavar="METHOD",
                   help="align each photo's largest face: ffhq (the default method) or utkface "
                        "(UTKFace's framing); skips photos without one")
    b.add_argument("--out", type=Path, required=True)

    p = sub.add_parser("train", help="train a network headless")
    tsub = p.add_subparsers(dest="kind", required=True, parser_class=_Parser)
    g = tsub.add_parser("gan", help="StyleGAN2 (or a baseline) generator + discriminator; runs under torchrun too")
    _train_args(g)
    g.add_argument("--init", type=Path, metavar="SNAPSHOT",
                   help="start from a network snapshot (`explorer weights snapshot`): its networks, kimg and "
                        "architecture, fresh optimizers")
    g.add_argument("--arch", choices=["stylegan2", "dcgan"], help="dcgan: the DCGAN baseline (default stylegan2)")
    g.add_argument("--loss", choices=["logistic", "wgan-gp"],
                   help="logistic: non-saturating, with R1 on stylegan2 (default); wgan-gp: the WGAN-GP baseline")
    g.add_argument("--batch-gpu", type=int, help="images per process per pass; --batch is reached by "
                   "accumulating gradients (default: --batch / processes)")
    g.add_argument("--augment", choices=["ada", "none"],
                   help="adaptive discriminator augmentation (default: ada for stylegan2 with the logistic loss, "
                        "else none; not with wgan-gp)")
    g.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"],
                   help="autocast of G's synthesis and D (auto: on CUDA bf16, or fp16 with loss scaling; on a CPU "
                        "bf16 where it has AVX512-BF16 or AMX, else fp32)")
    g.add_argument("--r1-gamma", type=_finite(0), help="R1 weight γ (default: 0.0002·R²/batch for stylegan2 with the "
                                                   "logistic loss, else 0)")
    g.add_argument("--pl-weight", type=_finite(0), help="path-length regularization weight (0: off; stylegan2 default 2)")
    g.add_argument("--metrics-kimg", type=_finite(0), help="FID of G_ema at the snapshots this many kimg apart (default off)")
    g.add_argument("--metrics-num", type=int, help="images per training-time FID (default 1000)")
    g.add_argument("--channel-base", type=int)
    g.add_argument("--channel-max", type=int)
    g.add_argument("--snapshot-kimg", type=_finite(0))
    e = tsub.add_parser("encoder", help="W+ encoder against a frozen generator")
    _train_args(e)
    e.add_argument("--generator", type=Path, help="generator weights stem, e.g. runs/gan/generator")
    e.add_argument("--init", type=Path, metavar="STEM",
                   help="start from encoder weights, e.g. weights/encoder (same architecture; fresh optimizer)")
    e.add_argument("--kl", type=_finite(0), metavar="BETA",
                   help="VAE baseline: weight of the KL to the generator's W prior (default 0: deterministic pSp/e4e)")
    c = tsub.add_parser("classifier", help="attribute classifier (one head per dataset.json label) for InterFaceGAN")
    _train_args(c)
    c.add_argument("--channel-base", type=int)
    c.add_argument("--channel-max", type=int)
    s = tsub.add_parser("superres", help="2× face super-resolution for exports, on faces at twice the generator's "
                                         "size (e.g. a 128² dataset for the 64² generator)")
    _train_args(s)
    s.add_argument("--crop", type=int, help="side of the low-resolution training crops in px (default 32)")
    s.add_argument("--blur", type=_finite(0), metavar="SIGMA",
                   help="largest Gaussian blur σ (input px) on training inputs, which teaches it to sharpen the "
                        "generator's soft faces (default 0.8)")

    p = sub.add_parser("directions", help="semantic directions in W")
    dsub = p.add_subparsers(dest="action", required=True, parser_class=_Parser)
    d = dsub.add_parser("list", help="one JSON object per direction")
    _weights_args(d)
    d = dsub.add_parser("rename", help="give a direction the label the GUI shows (its name stays its key)")
    d.add_argument("name", help="the direction's name, as `directions list` prints it")
    d.add_argument("label", help='e.g. "Hair colour"')
    _weights_args(d)
    d = dsub.add_parser("remove", help="delete directions from the weights folder (refitting them appends "
                                       "them at the end of the list)")
    d.add_argument("names", nargs="+", metavar="NAME", help="as `directions list` prints them")
    _weights_args(d)
    d = dsub.add_parser("fit", help="fit directions and store them in the weights folder")
    d.add_argument("--method", choices=["sefa", "ganspace", "interfacegan", "pose"], default="sefa",
                   help="sefa / ganspace: unsupervised components; interfacegan: attribute boundaries from "
                        "--classifier; pose: a landmark yaw regression")
    d.add_argument("--layers", default="0-3", help="sefa, ganspace: W+ layer range, e.g. 0-3")
    d.add_argument("--num", type=int, default=10, help="sefa, ganspace: number of components")
    d.add_argument("--classifier", type=Path, action="append", default=[], metavar="RUN_OR_STEM",
                   help="interfacegan: a `train classifier` run folder or classifier stem (repeatable)")
    d.add_argument("--attributes", help="interfacegan: comma-separated names, e.g. age,gender,smile "
                                        "(default: every named attribute the classifiers predict)")
    d.add_argument("--condition", action="append", default=[], metavar="ATTR:OTHER[,OTHER]",
                   help="interfacegan: make ATTR's direction orthogonal to OTHER's, e.g. age:gender (repeatable)")
    d.add_argument("--num-samples", type=int,
                   help="faces (interfacegan 50000, pose 10000) or w (ganspace 50000) sampled")
    d.add_argument("--top-percent", type=_finite(0, 50), default=2.0,
                   help="interfacegan: share of faces at each end of a binary score used for the boundary")
    d.add_argument("--trunc", type=_finite(*PSI_RANGE), default=0.7, help="truncation ψ the faces are rendered at")
    d.add_argument("--seed", type=int, default=0)
    _weights_args(d)
    p = sub.add_parser("weights", help="the shipped model set")
    wsub = p.add_subparsers(dest="action", required=True, parser_class=_Parser)
    w = wsub.add_parser("pack", help="GAN run + encoder run → a new weights folder with directions and manifest")
    w.add_argument("--gan", type=Path, required=True, help="run folder of `explorer train gan`")
    w.add_argument("--encoder", type=Path, required=True, help="run folder of `explorer train encoder`")
    w.add_argument("--classifier", type=Path, action="append", default=[], metavar="RUN",
                   help="run folder of `explorer train classifier`, shipped as classifier_<data source> (repeatable)")
    w.add_argument("--out", type=Path, required=True, help="a new folder")
    w = wsub.add_parser("replace-encoder", help="a copy of a weights folder with a newer encoder run's encoder "
                                                "(e.g. one trained with `explorer train encoder --init`)")
    w.add_argument("--base", type=Path, required=True, help="weights folder to copy, e.g. weights")
    w.add_argument("--encoder", type=Path, required=True, help="run folder of `explorer train encoder`")
    w.add_argument("--out", type=Path, required=True, help="a new folder")
    w = wsub.add_parser("add-superres", help="a copy of a weights folder with a face super-resolution run's network "
                                             "(`explorer train superres`), which enlarges exports")
    w.add_argument("--base", type=Path, required=True, help="weights folder to copy, e.g. weights")
    w.add_argument("--superres", type=Path, required=True, help="run folder of `explorer train superres`")
    w.add_argument("--out", type=Path, required=True, help="a new folder")
    w = wsub.add_parser("snapshot", help="a GAN run's G, D and G_ema in float16, to continue training elsewhere "
                                         "(`explorer train gan --init DIR`)")
    w.add_argument("--gan", type=Path, required=True, help="run folder of `explorer train gan`")
    w.add_argument("--out", type=Path, required=True, help="a new folder, or an earlier snapshot to replace")

    p = sub.add_parser("eval", help="quality metrics; one JSON object per figure on stdout")
    p.add_argument("metric", choices=["fid", "kid", "pr", "fd_face", "lpips", "identity", "ppl", "detection"])
    p.add_argument("--real", type=Path,
                   help="dataset zip, zip or folder of images, or weights folder (not used by ppl and detection)")
    p.add_argument("--fake", type=Path, required=True, help="the same kinds; ppl needs a weights folder")
    p.add_argument("--num", type=int, help="images per set (fid, kid, pr, fd_face, detection; default 10000), samples "
                                           "(ppl; 10000) or pairs (lpips, identity; default all)")
    p.add_argument("--resolution", type=int, help="evaluate at R×R (default: the resolution of --fake)")
    p.add_argument("--split", choices=["train", "held-out"], help="use only the trainers' train or held-out rows of the --real dataset zip")
    p.add_argument("--record", action="store_true",
                   help="also add the figures to the manifest.json of --fake (a weights folder)")
    _device_arg(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``explorer`` console script."""
    args = build_parser().parse_args(argv)
    try:
        from explorer import commands
        return commands.run(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:                       # e.g. `explorer directions list | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:                          # a file system error no command turned into a UserError
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: {where}{(e.strerror or str(e)).lower()}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
