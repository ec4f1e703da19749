"""Can Qt open a window here? Checked before the explorer makes its QApplication, because Qt
aborts the process when its platform plugin cannot start (a core dump instead of an error),
and on Linux its message names libxcb-cursor0 whatever library is in fact missing.

On Linux with X11, Qt loads ``plugins/platforms/libqxcb.so``; ``ldd`` lists the system
libraries it needs that are missing, and ``XCB_PACKAGES`` names the Debian/Ubuntu packages
that hold them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from explorer.errors import UserError

# The system libraries libqxcb.so and the Qt libraries it loads need (PySide6 6.12, by ldd), and
# the Debian/Ubuntu package of each.
XCB_PACKAGES = {
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
}
HEADLESS_HINT = "for headless use set QT_QPA_PLATFORM=offscreen"


def missing_libraries(ldd_output: str) -> list[str]:
    """The libraries that ``ldd`` output marks "not found" (``libfoo.so.1 => not found``), each
    once, in the order listed."""
    missing = []
    for line in ldd_output.splitlines():
        name, arrow, where = line.strip().partition("=>")
        if arrow and where.strip() == "not found" and name.strip() not in missing:
            missing.append(name.strip())
    return missing


def missing_libraries_message(libraries: Iterable[str]) -> str:
    """One line naming the missing ``libraries`` (sonames) and the apt command that installs
    them; sonames outside ``XCB_PACKAGES`` are named without a package."""
    libraries = list(libraries)
    packages = list(dict.fromkeys(XCB_PACKAGES[name] for name in libraries if name in XCB_PACKAGES))
    install = f" (apt install {' '.join(packages)})" if packages else ""
    return f"Qt's xcb platform plugin needs system libraries that are missing: {', '.join(libraries)}{install}"


def asked_platform(environ: Mapping[str, str]) -> str:
    """The platform QT_QPA_PLATFORM asks Qt for first ("xcb" of "xcb:option" or "xcb;wayland"),
    or "" when it asks for none."""
    return environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()


def xcb_plugin() -> Path:
    """The path of the xcb platform plugin of the Qt that PySide6 loads (it may not exist)."""
    from PySide6.QtCore import QLibraryInfo
    return Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms" / "libqxcb.so"


def ldd(path: Path) -> str:
    """``ldd path``'s standard output; "" when ``path`` or ldd itself is missing or ldd fails."""
    if not path.is_file():
        return ""
    try:
        return subprocess.run(["ldd", str(path)], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def display_problem(environ: Mapping[str, str], platform: str = sys.platform,
                    list_libraries: Callable[[], str] = lambda: ldd(xcb_plugin())) -> str | None:
    """Why Qt could not open a window, as one line, or None when nothing that can be seen
    beforehand stops it. Only Linux is checked, and only when QT_QPA_PLATFORM asks for xcb or
    for nothing: no DISPLAY nor WAYLAND_DISPLAY, or (when Qt will take xcb, not Wayland) system
    libraries the xcb plugin needs missing in ``list_libraries()``, the plugin's ``ldd`` output."""
    asked = asked_platform(environ)
    if not platform.startswith("linux") or asked not in ("", "xcb"):
        return None
    if not environ.get("DISPLAY") and not environ.get("WAYLAND_DISPLAY"):
        return f"no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set); {HEADLESS_HINT}"
    if asked == "xcb" and not environ.get("DISPLAY"):
        return f"QT_QPA_PLATFORM=xcb needs an X display and DISPLAY is not set; {HEADLESS_HINT}"
    if not asked and environ.get("WAYLAND_DISPLAY"):
        return None
    missing = missing_libraries(list_libraries())
    return missing_libraries_message(missing) if missing else None


def check_display(environ: Mapping[str, str] = os.environ) -> None:
    """Refuse to start the window where Qt would abort (``display_problem``).

    Raises:
        UserError: no display, or system libraries that Qt's xcb plugin needs are missing.
    """
    problem = display_problem(environ)
    if problem is not None:
        raise UserError(problem)
