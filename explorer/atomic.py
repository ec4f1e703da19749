"""Atomic, non-clobbering writes: every file and folder the explorer writes goes through here.

What it guarantees:

* Complete or absent. A file or folder is written under a temporary name in its target's
  folder, fsynced, and only then moved to its real name by one rename or hard link. A kill at
  any moment leaves the real name as it was or complete, never a truncated file.
* Nothing clobbered. ``write_new`` and ``write_new_files`` never replace a file that exists,
  not even one that appears while they write (the file is hard-linked into place, which fails
  on a taken name); ``write_new_folder`` never replaces a file or a folder with anything in it.
  ``replace_file`` replaces one file; ``replace_folder`` replaces a folder only while it holds
  nothing but the files the caller writes into it.
* Unguessable temporaries. They are created exclusively (``tempfile.mkstemp`` / ``mkdtemp``:
  ``O_CREAT | O_EXCL``, owner-only until complete) under random names, so nothing found at such
  a name, a symlink least of all, is ever opened or followed.
* No litter. A temporary is named ``.<target>.<pid>.<random>.explorer-tmp<suffix>`` (a folder
  replacement's ``….explorer-swap``, the only kind whose old folder is ever put back) and removed
  when its write ends, however it ends. Those a killed process left behind (its pid no longer
  alive, or older than ``STALE_HOURS``) are removed the next time anything is written into
  that folder (``remove_stale``); a folder replacement cut between its two renames is undone
  first, the old folder put back.

Failures are one-line ``UserError``s naming the path; whatever a ``write`` callback raises
passes through, after its temporary is removed. Process liveness is checked the POSIX way.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TypeVar

from explorer.errors import UserError

T = TypeVar("T")
MARK = "explorer-tmp"
SWAP_MARK = "explorer-swap"  # a folder replacement's temporary: the only kind that may hold a folder to put back
STALE_HOURS = 12  # a temporary this old is stale even when its pid is alive (pids are reused)
TEMP_NAME = re.compile(rf"^\.(?P<target>.+)\.(?P<pid>\d+)\.[a-z0-9_]+\.(?P<mark>{MARK}|{SWAP_MARK})(\.[^.]*)?$")
NEW, OLD = "new", "old"  # inside a folder replacement's temporary: the folder written, the one replaced
NO_HARD_LINKS = (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.ENOSYS)


def _read_umask() -> int:
    """The process's umask (read once, at import: setting it to read it is not thread-safe)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


UMASK = _read_umask()


def write_new(path: Path, write: Callable[[Path], object]) -> Path:
    """Write the new file ``path`` with ``write(tmp)`` (``tmp`` keeps its suffix) and move it
    into place; see ``write_new_files``. Returns ``path``."""
    write_new_files({Path(path): write})
    return Path(path)


def write_new_files(writes: dict[Path, Callable[[Path], object]]) -> None:
    """Write each new file ``path`` with ``writes[path](tmp)`` under a temporary name beside it,
    then move them into place in the order given (the last one last). None replaces anything:
    when one cannot be placed, those already placed are removed again.

    Raises:
        UserError: a folder does not exist, a file exists (checked before any work, and again
            when placing it), or a file cannot be written.
    """
    for path in writes:
        check_new(path)
    temps: dict[Path, Path] = {}
    placed: list[Path] = []
    try:
        for path, write in writes.items():
            temps[path] = _temp_file(path)
            _write(path, temps[path], write)
        for path in writes:
            _place_new(temps[path], path)
            placed.append(path)
    except BaseException:
        for path in placed:
            path.unlink(missing_ok=True)
        raise
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)


def replace_file(path: Path, write: Callable[[Path], object]) -> None:
    """Write the file ``path`` with ``write(tmp)`` (``tmp`` keeps its suffix), replacing the one
    there (a symlink itself, not what it points to) in one rename.

    Raises:
        UserError: the folder does not exist, ``path`` is a folder, or it cannot be written.
    """
    path = Path(path)
    tmp = _temp_file(path)
    try:
        _write(path, tmp, write)
        os.replace(tmp, path)
    except OSError as e:
        raise _cannot_write(path, e) from None
    finally:
        tmp.unlink(missing_ok=True)


def write_new_folder(path: Path, write: Callable[[Path], T]) -> T:
    """Fill a temporary folder beside ``path`` with ``write(folder)`` and rename it to ``path``.
    Returns what ``write`` returned.

    Raises:
        UserError: the parent folder does not exist, ``path`` exists (checked before any work,
            and again at the rename, which replaces at most an empty folder made meanwhile), or
            it cannot be written.
    """
    path = Path(path)
    check_new(path)
    work = _temp_folder(path)
    try:
        result = write(work)
        _finish_tree(work)
        if os.path.lexists(path):
            raise _exists(path)
        os.rename(work, path)
    except OSError as e:
        raise _cannot_write(path, e) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def replace_folder(path: Path, write: Callable[[Path], T], owned: Collection[str], what: str) -> T:
    """Write the folder ``path`` with ``write(folder)`` (an empty folder to fill), in place of
    the one there, if any. Returns what ``write`` returned.

    Only a folder that holds nothing but regular files named in ``owned`` (what ``write``
    writes) is replaced. The new folder is written complete beside it; the old one is renamed
    aside, checked again, the new one renamed in, and the old one removed. A kill at any moment
    leaves the old or the new folder complete: under ``path``, or between the two renames aside,
    where the next write into the parent folder puts it back (``remove_stale``).

    Raises:
        UserError: ``path`` is not such a folder (it is not ``what``; checked before any work,
            and again before the swap, when nothing is changed), the parent folder does not
            exist, or it cannot be written.
    """
    path = Path(path)
    check_replaceable(path, owned, what)
    work = _temp_folder(path, SWAP_MARK)
    try:
        (work / NEW).mkdir()
        result = write(work / NEW)
        _finish_tree(work / NEW)
        _swap_in(work, path, owned, what)
    except OSError as e:
        raise _cannot_write(path, e) from None
    finally:
        _discard(work)
    return result


@contextmanager
def staging_folder(path: Path) -> Iterator[Path]:
    """An empty folder made exclusively beside ``path``, for files that are written complete into
    it and then renamed into place one by one (each ``os.replace`` atomic); removed on exit, and
    by ``remove_stale`` after a kill.

    Raises:
        UserError: the folder cannot be made.
    """
    work = _temp_folder(Path(path))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def check_new(path: Path) -> None:
    """Refuse to write a new ``path`` where its folder does not exist or ``path`` does.

    Raises:
        UserError: one line naming the path.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise UserError(f"{path}: the folder {path.parent} does not exist")
    if os.path.lexists(path):
        raise _exists(path)


def check_replaceable(path: Path, owned: Collection[str], what: str) -> None:
    """Refuse to replace ``path`` unless it is missing or a folder (not a link) holding only
    regular files named in ``owned``.

    Raises:
        UserError: ``path: not <what> (...)`` naming what is in the way.
    """
    path = Path(path)
    if os.path.lexists(path):
        _check_holds_only(path, owned, what, path)


def _check_holds_only(folder: Path, owned: Collection[str], what: str, shown: Path) -> None:
    """``check_replaceable`` of ``folder``, an existing path, named ``shown`` in the message."""
    if folder.is_symlink() or not folder.is_dir():
        raise UserError(f"{shown}: not {what} (not a folder); nothing was changed, pick another folder")
    for entry in os.scandir(folder):
        if entry.name not in owned or not entry.is_file(follow_symlinks=False):
            raise UserError(f"{shown}: not {what} (it holds {entry.name}); nothing was changed, "
                            f"pick another folder")


def remove_stale(folder: Path) -> list[Path]:
    """Remove the temporaries in ``folder`` that this module's writes left behind in a process
    that is no longer alive, or more than ``STALE_HOURS`` ago; a folder replacement cut between
    its two renames is undone first (its old folder renamed back, when its name is free).
    Symlinks and names of other programs are left alone; so are errors (another process may be
    cleaning up too). Returns the temporaries removed."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = TEMP_NAME.match(entry.name)
        if match is None or entry.is_symlink() or not _is_stale(entry, int(match["pid"])):
            continue
        if entry.is_dir(follow_symlinks=False):
            if match["mark"] == SWAP_MARK:
                _restore_old(Path(entry.path), Path(folder) / match["target"])
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with suppress(OSError):
                os.unlink(entry.path)
        removed.append(Path(entry.path))
    return removed


def _swap_in(work: Path, path: Path, owned: Collection[str], what: str) -> None:
    """Rename ``work/NEW`` to ``path``, moving a folder there to ``work/OLD`` first and removing
    it after; put it back when it turns out not to be ``what`` or the rename fails."""
    if not os.path.lexists(path):
        os.rename(work / NEW, path)
        return
    os.rename(path, work / OLD)
    try:
        _check_holds_only(work / OLD, owned, what, path)
        os.rename(work / NEW, path)
    except BaseException:
        os.rename(work / OLD, path)
        raise
    shutil.rmtree(work / OLD, ignore_errors=True)


def _discard(work: Path) -> None:
    """Remove a folder replacement's temporary, unless it still holds a replaced folder that could
    not be put back (``remove_stale`` does that once the process is gone and the name is free)."""
    shutil.rmtree(work / NEW if (work / OLD).exists() else work, ignore_errors=True)


def _restore_old(work: Path, target: Path) -> None:
    """Put the folder a replacement moved aside back at ``target`` when nothing took its place."""
    if (work / OLD).is_dir() and not os.path.lexists(target):
        with suppress(OSError):
            os.rename(work / OLD, target)


def _is_stale(entry: os.DirEntry, pid: int) -> bool:
    """True for a temporary whose process is gone or which is older than ``STALE_HOURS``."""
    try:
        age = time.time() - entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return False
    return age > STALE_HOURS * 3600 or not _alive(pid)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (this one always does)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}."


def _temp_file(path: Path) -> Path:
    """A new empty file made exclusively beside ``path``, with its suffix."""
    remove_stale(path.parent)
    try:
        fd, name = tempfile.mkstemp(suffix=f".{MARK}{path.suffix}", prefix=_prefix(path), dir=path.parent)
    except OSError as e:
        raise _cannot_write(path, e) from None
    os.close(fd)
    return Path(name)


def _temp_folder(path: Path, mark: str = MARK) -> Path:
    """A new empty folder made exclusively beside ``path``; ``mark`` ends its name."""
    remove_stale(path.parent)
    try:
        return Path(tempfile.mkdtemp(suffix=f".{mark}", prefix=_prefix(path), dir=path.parent))
    except OSError as e:
        raise _cannot_write(path, e) from None


def _write(path: Path, tmp: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp)``, then give ``tmp`` ordinary permissions and fsync it."""
    try:
        write(tmp)
        _finish(tmp, 0o666)
    except OSError as e:
        raise _cannot_write(path, e) from None


def _finish(path: Path, mode: int) -> None:
    """Give ``path`` the permissions ``mode`` less the umask, and fsync it when it is a file."""
    os.chmod(path, mode & ~UMASK)
    if path.is_file():
        with open(path, "rb") as f:
            os.fsync(f.fileno())


def _finish_tree(folder: Path) -> None:
    """``_finish`` a written folder and everything in it."""
    for path in folder.rglob("*"):
        _finish(path, 0o777 if path.is_dir() else 0o666)
    _finish(folder, 0o777)


def _place_new(tmp: Path, path: Path) -> None:
    """Give the written ``tmp`` the name ``path`` unless that is taken: a hard link, which fails
    on any existing name; where the file system has no hard links, a check and a rename."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise _exists(path) from None
    except OSError as e:
        if e.errno not in NO_HARD_LINKS:
            raise _cannot_write(path, e) from None
        if os.path.lexists(path):
            raise _exists(path) from None
        try:
            os.rename(tmp, path)
        except OSError as e:
            raise _cannot_write(path, e) from None


def _exists(path: Path) -> UserError:
    return UserError(f"{path}: already exists (choose another name; nothing is overwritten)")


def _cannot_write(path: Path, error: OSError) -> UserError:
    return UserError(f"{path}: cannot write ({error.strerror or error})")
