"""Atomic, non-clobbering writes: nothing half-written under a real name, nothing replaced that
is not ours, temporaries unguessable and cleaned up after a kill."""

import errno
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from explorer import atomic
from explorer.errors import UserError
from explorer.export import save_still


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def dead_pid() -> int:
    """The pid of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def half_written(tmp: Path) -> None:
    """A write killed halfway: some bytes out, then the process is interrupted."""
    tmp.write_bytes(b"\x89PNG\r\n")
    raise KeyboardInterrupt


@pytest.mark.parametrize("write", [
    lambda path: atomic.write_new(path, half_written),
    lambda path: atomic.replace_file(path, half_written),
    lambda path: atomic.write_new_files({path.with_suffix(".json"): lambda tmp: tmp.write_text("{}"),
                                         path: half_written}),
])
def test_an_interrupted_write_leaves_no_file_and_no_temporary(tmp_path, write):
    with pytest.raises(KeyboardInterrupt):
        write(tmp_path / "face.png")
    assert listing(tmp_path) == []


def test_an_interrupted_folder_leaves_no_folder_and_no_temporary(tmp_path):
    def fill(folder: Path) -> None:
        (folder / "frame0000.png").write_bytes(b"png")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic.write_new_folder(tmp_path / "frames", fill)
    assert listing(tmp_path) == []


def test_an_interrupted_still_export_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setattr("explorer.export.save_png", lambda image, path: half_written(path))
    with pytest.raises(KeyboardInterrupt):
        save_still(np.zeros((16, 16, 3), np.uint8), tmp_path / "face.png", sidecar={})
    assert listing(tmp_path) == []


def test_a_new_file_never_replaces_one_that_appears_meanwhile(tmp_path):
    path = tmp_path / "face.png"

    def racing(tmp: Path) -> None:
        tmp.write_text("ours")
        path.write_text("theirs")

    with pytest.raises(UserError, match="face.png: already exists"):
        atomic.write_new(path, racing)
    assert path.read_text() == "theirs" and listing(tmp_path) == ["face.png"]


def test_a_file_group_is_placed_whole_or_not_at_all(tmp_path):
    obj, texture = tmp_path / "face.obj", tmp_path / "face.png"

    def racing(tmp: Path) -> None:
        tmp.write_text("obj")
        obj.write_text("theirs")

    with pytest.raises(UserError, match="face.obj: already exists"):
        atomic.write_new_files({texture: lambda tmp: tmp.write_text("png"), obj: racing})
    assert listing(tmp_path) == ["face.obj"] and obj.read_text() == "theirs"


def test_without_hard_links_a_new_file_is_still_placed_and_never_replaces(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    atomic.write_new(tmp_path / "a.txt", lambda tmp: tmp.write_text("a"))
    with pytest.raises(UserError, match="a.txt: already exists"):
        atomic.write_new(tmp_path / "a.txt", lambda tmp: tmp.write_text("b"))
    assert (tmp_path / "a.txt").read_text() == "a" and listing(tmp_path) == ["a.txt"]


def test_written_files_get_ordinary_permissions(tmp_path):
    umask = atomic.UMASK
    atomic.write_new(tmp_path / "a.txt", lambda tmp: tmp.write_text("a"))
    atomic.write_new_folder(tmp_path / "frames", lambda folder: (folder / "f.png").write_text("f"))
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~umask
    assert (tmp_path / "frames").stat().st_mode & 0o777 == 0o777 & ~umask
    assert (tmp_path / "frames" / "f.png").stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_symlink_at_the_old_guessable_temporary_name_is_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "face.png"
    (tmp_path / f".face.{os.getpid()}.tmp.png").symlink_to(victim)      # the name exports used to write through
    save_still(np.zeros((16, 16, 3), np.uint8), out, sidecar={})
    assert victim.read_bytes() == b"keep me"
    assert not out.is_symlink() and out.read_bytes().startswith(b"\x89PNG")


def test_a_symlink_at_a_temporary_name_is_skipped_not_followed(tmp_path, monkeypatch):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    path = tmp_path / "face.png"
    taken = tmp_path / f".face.png.{os.getpid()}.aaaaaaaa.{atomic.MARK}.png"
    taken.symlink_to(victim)
    monkeypatch.setattr(tempfile, "_get_candidate_names", lambda: iter(["aaaaaaaa", "bbbbbbbb"]))
    atomic.write_new(path, lambda tmp: tmp.write_text("face"))
    atomic.replace_file(path, lambda tmp: tmp.write_text("face 2"))
    assert victim.read_text() == "keep me" and taken.is_symlink() and path.read_text() == "face 2"


def test_temporaries_of_a_killed_process_are_removed_by_the_next_write(tmp_path):
    script = ("import sys, time; from pathlib import Path; from explorer.atomic import write_new\n"
              "def write(tmp):\n    tmp.write_bytes(b'half'); print('writing', flush=True); time.sleep(60)\n"
              "write_new(Path(sys.argv[1]), write)")
    child = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "face.png")], stdout=subprocess.PIPE,
                             text=True)
    assert child.stdout.readline() == "writing\n"
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    left = listing(tmp_path)
    assert len(left) == 1 and left[0].startswith(f".face.png.{child.pid}.") and "face.png" not in left
    atomic.write_new(tmp_path / "other.png", lambda tmp: tmp.write_text("other"))
    assert listing(tmp_path) == ["other.png"]


def test_only_stale_temporaries_of_our_own_are_removed(tmp_path):
    dead, alive = dead_pid(), os.getppid()
    stale = tmp_path / f".face.png.{dead}.abcd1234.{atomic.MARK}.png"
    running = tmp_path / f".face.png.{alive}.abcd1234.{atomic.MARK}.png"
    old = tmp_path / f".old.png.{alive}.abcd1234.{atomic.MARK}.png"
    foreign = [tmp_path / f".face.png.{dead}.tmp.png", tmp_path / "face.png.partial", tmp_path / "notes.txt"]
    for path in (stale, running, old, *foreign):
        path.write_text("x")
    os.utime(old, (0, 0))                                       # older than STALE_HOURS, its pid reused
    link = tmp_path / f".link.png.{dead}.abcd1234.{atomic.MARK}.png"
    link.symlink_to(tmp_path / "notes.txt")
    assert sorted(atomic.remove_stale(tmp_path)) == sorted([stale, old])
    assert listing(tmp_path) == sorted(p.name for p in (running, link, *foreign))


def test_a_folder_replacement_killed_between_its_renames_is_undone(tmp_path):
    work = tmp_path / f".snap.{dead_pid()}.abcd1234.{atomic.SWAP_MARK}"
    (work / atomic.OLD).mkdir(parents=True)
    (work / atomic.OLD / "training.json").write_text("old")
    (work / atomic.NEW).mkdir()
    atomic.remove_stale(tmp_path)
    assert listing(tmp_path) == ["snap"] and (tmp_path / "snap" / "training.json").read_text() == "old"


def test_a_new_folder_killed_while_written_is_removed_even_when_its_content_has_an_old_folder(tmp_path):
    work = tmp_path / f".weights.new.{dead_pid()}.abcd1234.{atomic.MARK}"
    (work / "old").mkdir(parents=True)                          # the user's own backup folder, half copied
    (work / "old" / "generator.json").write_text("{}")
    atomic.remove_stale(tmp_path)
    assert listing(tmp_path) == []


def test_a_folder_is_replaced_only_while_it_holds_nothing_else(tmp_path):
    snap = tmp_path / "snap"
    snap.mkdir()
    (snap / "a.bin").write_text("old")

    def write(folder: Path) -> None:
        (folder / "a.bin").write_text("new")

    atomic.replace_folder(snap, write, {"a.bin"}, "a test folder")
    assert listing(snap) == ["a.bin"] and (snap / "a.bin").read_text() == "new"
    assert listing(tmp_path) == ["snap"]

    def racing(folder: Path) -> None:
        write(folder)
        (snap / "notes.txt").write_text("mine")               # saved there while the new one is written

    with pytest.raises(UserError, match=r"snap: not a test folder \(it holds notes.txt\)"):
        atomic.replace_folder(snap, racing, {"a.bin"}, "a test folder")
    assert listing(snap) == ["a.bin", "notes.txt"] and (snap / "a.bin").read_text() == "new"
    assert listing(tmp_path) == ["snap"]
