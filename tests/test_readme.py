"""The README's command lines as a user runs them.

The command-line examples (the code block that starts with ``explorer generate``) run in order
in a fresh folder, and each must exit 0. What the test changes, and why:

* the photos they name (photo.jpg, group.jpg, a.jpg, b.jpg) are made there from the real
  portraits in ../shared/data/portraits (group.jpg holds both, side by side);
* every command that takes ``--weights`` is given a copy of weights/, because ``directions
  rename`` and ``directions remove`` change the weights folder they work on, by default the
  repository's own;
* to save minutes on a 2-core CPU, without leaving out a code path: ``--refine 300`` becomes
  ``--refine 2`` (projection, about 15 s a photo), and every morph makes 6 frames instead of 60
  (``--frames 6`` replaces or joins its own; the perceptual pace renders 4 faces a frame).

Every other ``explorer`` command in the README (training, evaluation and ``--ppl``, which take
hours, the whole datasets or downloaded weights; the window) is only parsed: its subcommand and
options must exist.
"""

import re
import shlex
from pathlib import Path

import pytest
from PIL import Image

from explorer.cli import build_parser, main

README = Path(__file__).resolve().parents[1] / "README.md"
SHORTER = {"--refine": "2", "--frames": "6"}   # option → the value the test runs it with


def code_blocks(text: str) -> list[str]:
    """The bodies of the ```bash blocks of a Markdown text, in order."""
    return re.findall(r"^```bash\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def explorer_commands(block: str) -> list[list[str]]:
    """The arguments of each ``explorer`` command in a bash block (continued lines joined,
    comments dropped), including one joined by ``&&`` or run as ``python -m explorer`` /
    ``torchrun … -m explorer``."""
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        while words:
            part, words = (words[:words.index("&&")], words[words.index("&&") + 1:]) if "&&" in words \
                else (words, [])
            if part[:1] == ["explorer"]:
                commands.append(part[1:])
            elif "-m" in part and part[part.index("-m") + 1:][:1] == ["explorer"]:
                commands.append(part[part.index("-m") + 2:])
    return commands


def readme_commands() -> tuple[list[list[str]], list[list[str]]]:
    """The README's command-line examples, and every other ``explorer`` command it shows."""
    blocks = [explorer_commands(block) for block in code_blocks(README.read_text())]
    examples = next(block for block in blocks if block and block[0][:1] == ["generate"])
    return examples, [command for block in blocks if block is not examples for command in block]


def shorter(argv: list[str]) -> list[str]:
    """``argv`` with the values of the options in ``SHORTER`` replaced, and ``--frames`` added to a
    morph that has none (its default is 60)."""
    argv = [SHORTER.get(argv[i - 1], word) if i else word for i, word in enumerate(argv)]
    return argv + ["--frames", SHORTER["--frames"]] if argv[0] == "morph" and "--frames" not in argv else argv


def make_photos(portraits: Path, folder: Path) -> None:
    """The README's example photos in ``folder``, made from the two real portraits."""
    astronaut = Image.open(portraits / "astronaut.png").convert("RGB")
    grace = Image.open(portraits / "grace_hopper.jpg").convert("RGB")
    for name, image in (("photo.jpg", grace), ("a.jpg", astronaut), ("b.jpg", grace)):
        image.save(folder / name, quality=95)
    group = Image.new("RGB", (astronaut.width + grace.width, max(astronaut.height, grace.height)), (128, 128, 128))
    group.paste(astronaut, (0, 0))
    group.paste(grace, (astronaut.width, 0))
    group.save(folder / "group.jpg", quality=95)


def test_the_readme_shows_its_commands():
    examples, others = readme_commands()
    assert {argv[0] for argv in examples} >= {"generate", "encode", "directions", "edit", "mix", "mesh", "morph"}
    assert {argv[0] for argv in others if argv} >= {"dataset", "train", "weights", "directions", "eval", "morph"}
    assert [] in others                                                       # the Quickstart's window


def test_every_other_readme_command_parses():
    parser = build_parser()
    for argv in readme_commands()[1]:
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"the README's `explorer {shlex.join(argv)}` does not parse")


def test_the_readme_examples_run_in_order_as_written(tmp_path, monkeypatch, capsys, shared_data, weights_copy):
    work = tmp_path / "work"
    work.mkdir()
    make_photos(shared_data / "portraits", work)
    monkeypatch.chdir(work)
    parser = build_parser()
    for argv in readme_commands()[0]:
        argv = shorter(argv)
        if hasattr(parser.parse_args(argv), "weights"):
            argv += ["--weights", str(weights_copy)]
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 0, f"explorer {shlex.join(argv)}: exit {code}: {err}"
    assert (work / "out" / "morph.mp4.json").is_file() and (work / "out" / "morph.gif.json").is_file()
