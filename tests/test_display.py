"""explorer.display: the window is refused with one line where Qt would abort (no display, or
system libraries missing for its xcb plugin), judged from faked ldd output and environments."""

import pytest

from explorer import display
from explorer.cli import main

# ldd of PySide6 6.12's libqxcb.so on a Debian 12 machine without libxcb-icccm4 and libxcb-keysyms1
LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007f510f7b0000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x00007f61b8316000)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f61b822c000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-util.so.1 => /lib/x86_64-linux-gnu/libxcb-util.so.1 (0x00007f61b8224000)
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\t/lib64/ld-linux-x86-64.so.2 (0x00007f510f7b2000)
"""
FOUND = "\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f61b8199000)\n"
MESSAGE = ("Qt's xcb platform plugin needs system libraries that are missing: libxcb-icccm.so.4, "
           "libxcb-keysyms.so.1 (apt install libxcb-icccm4 libxcb-keysyms1)")


def test_missing_libraries_are_read_from_ldd_output_once_each_in_order():
    assert display.missing_libraries(LDD_OUTPUT) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert display.missing_libraries(FOUND) == [] and display.missing_libraries("") == []


def test_the_message_names_the_libraries_and_their_packages():
    assert display.missing_libraries_message(["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]) == MESSAGE
    both = display.missing_libraries_message(["libglib-2.0.so.0", "libgthread-2.0.so.0", "libodd.so.3"])
    assert both.endswith("libglib-2.0.so.0, libgthread-2.0.so.0, libodd.so.3 (apt install libglib2.0-0)")
    assert display.missing_libraries_message(["libodd.so.3"]).endswith("missing: libodd.so.3")


@pytest.mark.parametrize("environ, platform, problem", [
    ({"DISPLAY": ":0"}, "linux", MESSAGE),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, "linux", MESSAGE),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb;wayland"}, "linux", MESSAGE),
    ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "QT_QPA_PLATFORM": "xcb"}, "linux", MESSAGE),
    ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux", None),      # Qt takes Wayland
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", None),
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux", None),                       # asked for another platform
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland"}, "linux", None),
    ({}, "darwin", None),
    ({}, "win32", None),
])
def test_display_problem_checks_the_xcb_plugin_only_where_qt_takes_it(environ, platform, problem):
    assert display.display_problem(environ, platform, lambda: LDD_OUTPUT) == problem
    assert display.display_problem(environ, platform, lambda: FOUND) is None


@pytest.mark.parametrize("environ", [{}, {"QT_QPA_PLATFORM": "xcb"}, {"DISPLAY": ""}])
def test_no_display_at_all_is_one_line_that_names_the_offscreen_platform(environ):
    problem = display.display_problem(environ, "linux", lambda: pytest.fail("ldd is not needed"))
    assert problem.startswith("no display to open the window on") and "QT_QPA_PLATFORM=offscreen" in problem


def test_explorer_refuses_to_open_the_window_before_qt_can_abort(capsys, monkeypatch):
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(display, "ldd", lambda path: LDD_OUTPUT if path.name == "libqxcb.so" else "")
    monkeypatch.setattr("explorer.gui.main_window.run_app", lambda *args: pytest.fail("Qt started"))
    assert main([]) == 1
    assert capsys.readouterr().err == f"error: {MESSAGE}\n"
    monkeypatch.delenv("DISPLAY")
    assert main(["gui"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no display") and err.count("\n") == 1


def test_xcb_asked_for_needs_an_x_display_even_where_wayland_is_running():
    problem = display.display_problem({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}, "linux",
                                      lambda: pytest.fail("ldd is not needed"))
    assert problem.startswith("QT_QPA_PLATFORM=xcb needs an X display") and "\n" not in problem
