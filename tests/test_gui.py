"""GUI tests (pytest-qt, offscreen: conftest.py sets QT_QPA_PLATFORM): the main window driven
through its widgets, renders on the worker thread."""

import json
import threading
import time
from dataclasses import replace
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage
from PySide6.QtWidgets import QApplication
from PySide6.QtTest import QTest

from explorer import worker as worker_module
from explorer.export import TURNTABLE, render_at
from explorer.gui import main_window as main_window_module
from explorer.gui.export_dialog import ExportDialog
from explorer.gui.main_window import MainWindow, run_app
from explorer.gui.seed_browser import SeedBrowser
from explorer.gui.status import StatusBar
from explorer.gui.timeline import MorphTimeline
from explorer.photos import refine_photo
from explorer.session import Keyframe, Session, render
from explorer.weights import load_bundle

TIMEOUT = 60_000  # ms; renders take tens of ms, but CI machines can be busy


@pytest.fixture(scope="module")
def bundle(weights_dir):
    return load_bundle(weights_dir, "cpu")


@pytest.fixture
def window(qtbot, bundle):
    """The window showing the generator's own pixels (sharp view off), which tests compare exactly."""
    win = MainWindow(bundle)
    qtbot.addWidget(win)
    win.show()
    win.sharp_view.setChecked(False)
    wait_current(qtbot, win)
    yield win
    win.close()


def wait_current(qtbot, win) -> np.ndarray:
    """Wait until the newest render asked for is on screen; return the image shown."""
    qtbot.waitUntil(lambda: win.shown is not None and win.shown.request_id == win.last_request, timeout=TIMEOUT)
    return win.image().copy()


def expected(bundle, ws) -> np.ndarray:
    return render(bundle, ws)[0]


def assert_close(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_first_image_sliders_and_seed(qtbot, window, bundle):
    first = window.image()
    assert first.dtype == np.uint8 and first.shape == (bundle.resolution, bundle.resolution, 3)
    assert bundle.directions, "the weights should come with directions"
    name = bundle.directions[0].name
    window.sliders.sliders[name].setValue(2.0)
    moved = wait_current(qtbot, window)
    assert window.session.sliders == {name: 2.0}
    assert not np.array_equal(moved, first)
    window.sliders.reset_all()
    assert_close(wait_current(qtbot, window), first)
    window.seed_panel.set_seed(2 ** 32 - 1)
    other = wait_current(qtbot, window)
    assert window.session.seed == 2 ** 32 - 1
    assert not np.array_equal(other, first)


def at_t(timeline: MorphTimeline, t: float) -> QPoint:
    """The viewport pixel of the track at ``t``."""
    scene = timeline.getViewBox().mapViewToScene(QPointF(t, 0.0))
    return timeline.mapFromScene(scene)


def drag(timeline: MorphTimeline, start: float, end: float) -> None:
    """Press the left button on the track at ``start``, move to ``end`` in steps, release.
    The steps are 20 ms apart: pyqtgraph drops mouse moves closer than its rate limit."""
    viewport = timeline.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at_t(timeline, start))
    for t in np.linspace(start, end, 5)[1:]:
        QTest.qWait(20)
        QTest.mouseMove(viewport, at_t(timeline, t))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at_t(timeline, end))


def test_timeline_click_drag_and_keys(qtbot):
    timeline = MorphTimeline()
    qtbot.addWidget(timeline)
    timeline.resize(320, timeline.height())
    timeline.show()
    qtbot.waitExposed(timeline)
    moves = []
    timeline.t_changed.connect(moves.append)
    pixel = 1.0 / timeline.width()

    QTest.mouseClick(timeline.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     at_t(timeline, 0.25))
    assert abs(timeline.t() - 0.25) < 2 * pixel and moves == [timeline.t()]
    drag(timeline, 0.25, 0.75)
    assert abs(timeline.t() - 0.75) < 2 * pixel and moves[-1] == timeline.t()
    assert len(moves) >= 4, "every step of the drag moves t"
    drag(timeline, 0.75, 1.2)                                       # past B: held at 1
    assert timeline.t() == 1.0
    timeline.set_t(0.5)
    QTest.keyClick(timeline, Qt.Key.Key_Left)
    assert timeline.t() == 0.49 and moves[-2:] == [0.5, 0.49]
    QTest.keyClick(timeline, Qt.Key.Key_End)
    assert timeline.t() == 1.0
    count = len(moves)
    timeline.set_t(3.0)                                             # clipped, unchanged: no signal
    assert timeline.t() == 1.0 and len(moves) == count
    assert timeline.getViewBox().state["mouseEnabled"] == [False, False]
    assert not timeline.getPlotItem().menuEnabled()


def test_style_mixing_from_a_seed_and_from_photo_b(qtbot, window, bundle, shared_data):
    plain = window.image().copy()
    window.mixing.source_box.setCurrentText("Seed")
    window.mixing.seed_box.setValue(12)
    window.mixing.group_buttons["fine"].click()
    mixed = wait_current(qtbot, window)
    assert window.session.style == Keyframe.from_seed(12) and window.session.style_groups == ("fine",)
    assert_close(mixed, expected(bundle, window.session.ws(bundle)))
    assert np.abs(mixed.astype(int) - plain).mean() > 1
    window.mixing.group_buttons["fine"].click()                       # no groups: the plain face again
    assert_close(wait_current(qtbot, window), plain)

    window.mixing.source_box.setCurrentText("Photo B")
    assert window.session.style is None and "Load photo B first" in window.status.message()
    window.mixing.group_buttons["coarse"].click()
    window.load_photo("B", str(shared_data / "portraits" / "grace_hopper.jpg"))
    qtbot.waitUntil(lambda: window.morph.slots["B"].loaded, timeout=TIMEOUT)
    assert window.session.style == window.session.key_b and window.session.style_groups == ("coarse",)
    window.morph.set_t(0.0)
    assert_close(wait_current(qtbot, window), expected(bundle, window.session.ws(bundle)))
    window.morph.slots["B"].clear_button.click()
    assert window.session.style is None and window.session.key_b is None


def test_photos_morph_and_export(qtbot, window, bundle, shared_data, tmp_path):
    window.load_photo("A", str(shared_data / "portraits" / "astronaut.png"))
    qtbot.waitUntil(lambda: window.morph.slots["A"].loaded, timeout=TIMEOUT)
    assert window.status.message() == ("astronaut.png loaded as A (2 faces found; used the largest; "
                                        "⇆ picks another); Refine makes it more like the photo")
    largest = window.session.key_a.ws
    slot_a = window.morph.slots["A"]
    assert slot_a.face_button.isVisible() and "· 1/2" in slot_a.caption.toolTip()
    slot_a.face_button.click()                                       # the second "face": the mission patch
    qtbot.waitUntil(lambda: window.photos["A"].face == 1, timeout=TIMEOUT)
    assert "· 2/2" in slot_a.caption.toolTip() and window.session.key_a.ws != largest
    assert "used face 2 by size" in window.status.message()
    slot_a.face_button.click()
    qtbot.waitUntil(lambda: window.photos["A"].face == 0, timeout=TIMEOUT)
    assert window.session.key_a.ws == largest
    window.load_photo("B", str(shared_data / "portraits" / "grace_hopper.jpg"))
    qtbot.waitUntil(lambda: window.morph.slots["B"].loaded, timeout=TIMEOUT)
    assert window.status.message() == "grace_hopper.jpg loaded as B; Refine makes it more like the photo"
    assert window.session.key_a.label == "astronaut.png" and window.session.key_b.label == "grace_hopper.jpg"

    window.morph.set_t(0.0)
    at_a = wait_current(qtbot, window)
    assert_close(at_a, expected(bundle, torch.tensor(window.session.key_a.ws).unsqueeze(0)))
    window.morph.set_t(0.5)
    halfway = wait_current(qtbot, window)
    assert window.session.morph_t == 0.5 and window.morph.t_label.text() == "t = 0.50"
    drag(window.morph.timeline, 0.5, 1.1)                          # the playhead stops at B
    at_b = wait_current(qtbot, window)
    assert window.session.morph_t == 1.0 and window.morph.t_label.text() == "t = 1.00"
    assert_close(at_b, expected(bundle, torch.tensor(window.session.key_b.ws).unsqueeze(0)))
    assert not np.array_equal(at_a, halfway) and not np.array_equal(halfway, at_b)

    out = tmp_path / "frames"
    done, failures, progress = [], [], []
    window.worker.exported.connect(done.append)
    window.worker.failed.connect(failures.append)
    window.worker.progress.connect(lambda d, t: progress.append((d, t)))
    window.export_frames(str(out), 5, 10)
    qtbot.waitUntil(lambda: bool(done or failures), timeout=TIMEOUT)
    assert not failures and done == [str(out)]
    assert progress[-1] == (5, 5)
    assert sorted(p.name for p in out.iterdir()) == [f"frame{i:04d}.png" for i in range(5)] + ["morph.json"]
    assert_close(np.asarray(Image.open(out / "frame0000.png")), at_a)
    sidecar = json.loads((out / "morph.json").read_text())
    assert sidecar["num_frames"] == 5 and sidecar["keyframes"][0]["label"] == "astronaut.png"
    assert np.array(sidecar["ws_start"]).shape == (bundle.generator.num_ws, bundle.generator.cfg.w_dim)

    exported = window.session
    window.morph.slots["A"].clear_button.click()
    assert window.session.key_a is None and not window.morph.slots["A"].loaded
    assert_close(wait_current(qtbot, window), at_b)              # t = 1: still B
    window.open_session(str(out))                                 # the exported folder: its morph.json
    qtbot.waitUntil(lambda: window.status.message() == "Opened frames", timeout=TIMEOUT)
    assert window.session == exported and window.morph.slots["A"].loaded


def test_keyframes_between_a_and_b(qtbot, window, bundle, shared_data, bad_photo):
    panel = window.morph
    assert not panel.add_button.isEnabled()                          # nothing to morph yet
    window.load_photo("A", str(shared_data / "portraits" / "astronaut.png"))
    qtbot.waitUntil(lambda: panel.slots["A"].loaded, timeout=TIMEOUT)
    assert panel.add_button.isEnabled() and not panel.remove_button.isEnabled()
    panel.set_t(0.5)
    window.seed_panel.seed_box.setValue(7)
    panel.add_menu.actions()[1].trigger()                            # "The current seed"
    assert window.session.times == (0.0, 0.5, 1.0) and window.session.keyframes[1].seed == 7
    assert panel.timeline.middle_times == (0.5,) and panel.remove_button.isEnabled()
    assert window.status.message() == "Added seed 7 as keyframe 1 at t = 0.50"
    at_seed = wait_current(qtbot, window)
    assert_close(at_seed, expected(bundle, window.session.keyframe_ws(bundle, window.session.keyframes[1])))

    window.add_photo_keyframe(0.51, str(shared_data / "portraits" / "grace_hopper.jpg"))
    assert window.status.is_error() and "No room for a keyframe at t = 0.51" in window.status.message()
    window.add_photo_keyframe(0.75, str(bad_photo("no-face")))
    qtbot.waitUntil(lambda: "no face found" in window.status.message(), timeout=TIMEOUT)
    assert window.session.times == (0.0, 0.5, 1.0)
    window.add_photo_keyframe(0.75, str(shared_data / "portraits" / "grace_hopper.jpg"))
    qtbot.waitUntil(lambda: len(window.session.times) == 4, timeout=TIMEOUT)
    assert window.session.keyframes[2].label == "grace_hopper.jpg" and panel.timeline.middle_times == (0.5, 0.75)

    panel.set_t(0.6)
    assert not panel.remove_button.isEnabled()
    panel.set_t(0.5)
    panel.remove_button.click()
    assert window.session.times == (0.0, 0.75, 1.0) and panel.timeline.middle_times == (0.75,)
    assert window.status.message() == "Removed keyframe 1 (seed 7)"
    assert not np.array_equal(wait_current(qtbot, window), at_seed)


@pytest.mark.parametrize("kind, message", [
    ("not-an-image", "not an image"), ("truncated", "corrupt or truncated"), ("no-face", "no face found"),
    ("huge", "9000x8000 is over the 64 megapixel limit"), ("tiny-face", "the face is only 36 px wide"),
])
def test_bad_photo_changes_nothing(qtbot, window, bad_photo, kind, message):
    bad = bad_photo(kind)
    session, request, image = window.session, window.last_request, window.image()
    window.load_photo("A", str(bad))
    qtbot.waitUntil(window.status.is_error, timeout=TIMEOUT)
    assert window.status.message().startswith(f"{bad}: {message}") and "\n" not in window.status.message()
    assert window.session is session and window.last_request == request
    assert not window.morph.slots["A"].loaded
    assert np.array_equal(window.image(), image)


def load_a(qtbot, window, shared_data) -> None:
    window.load_photo("A", str(shared_data / "portraits" / "astronaut.png"))
    qtbot.waitUntil(lambda: window.morph.slots["A"].loaded, timeout=TIMEOUT)
    wait_current(qtbot, window)


def test_refine_runs_on_the_worker_and_updates_slot_and_canvas(qtbot, window, bundle, shared_data, monkeypatch):
    threads = []

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return refine_photo(*args, **kwargs)

    monkeypatch.setattr(worker_module, "refine_photo", recording)
    load_a(qtbot, window, shared_data)
    slot, before = window.morph.slots["A"], window.session.key_a
    window.refine_steps = 5
    progress = []
    window.worker.refine_progress.connect(lambda s, step, steps: progress.append((s, step, steps)))
    slot.refine_button.click()
    assert slot.refining and slot.actions.currentIndex() == 1 and not slot.clear_button.isEnabled()
    qtbot.waitUntil(lambda: not slot.refining, timeout=TIMEOUT)
    assert len(threads) == 1 and threads[0] is not threading.main_thread()   # never on the UI thread
    assert progress[-1] == ("A", 5, 5) and slot.progress.value() == 5
    assert slot.actions.currentIndex() == 0 and slot.caption.toolTip() == "astronaut.png (refined) · 1/2"
    assert window.status.message() == "astronaut.png refined (5 steps of projection)"
    after = window.session.key_a
    assert after.label == before.label and not np.allclose(after.ws, before.ws)
    assert_close(wait_current(qtbot, window), expected(bundle, torch.tensor(after.ws).unsqueeze(0)))


def test_cancel_refine_keeps_the_w(qtbot, window, shared_data):
    load_a(qtbot, window, shared_data)
    slot, before, request = window.morph.slots["A"], window.session, window.last_request
    window.refine_steps = 100_000
    slot.refine_button.click()
    qtbot.waitUntil(lambda: slot.progress.value() >= 1, timeout=TIMEOUT)
    slot.cancel_button.click()
    assert not slot.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not slot.refining, timeout=TIMEOUT)
    assert window.session is before and window.last_request == request
    assert window.status.message() == "Refining astronaut.png stopped; A is as it was"
    assert slot.refine_button.isEnabled() and slot.clear_button.isEnabled()


def test_closing_the_window_stops_a_refinement(qtbot, window, shared_data):
    load_a(qtbot, window, shared_data)
    window.refine_steps = 100_000
    window.morph.slots["A"].refine_button.click()
    qtbot.waitUntil(lambda: window.morph.slots["A"].progress.value() >= 1, timeout=TIMEOUT)
    start = time.monotonic()
    window.close()
    assert time.monotonic() - start < 10                                # not 100 000 steps later


def test_closing_the_window_stops_an_export_and_leaves_no_file(qtbot, window, tmp_path):
    window.session = replace(window.session, keyframes=(Keyframe.from_seed(1), Keyframe.from_seed(2)))
    frames_done = []
    window.worker.progress.connect(lambda done, total: frames_done.append(done))
    window.export_frames(str(tmp_path / "long.mp4"), 2000, 30, 256)
    qtbot.waitUntil(lambda: len(frames_done) >= 2, timeout=TIMEOUT)
    window.close()
    assert max(frames_done) < 2000 and list(tmp_path.iterdir()) == []


def test_easing_and_layer_timing_reach_the_session_and_the_face(qtbot, window, bundle, shared_data):
    timing = window.morph.timing
    assert not timing.isEnabled()                                       # nothing to morph yet
    load_a(qtbot, window, shared_data)
    assert timing.isEnabled() and timing.easing() == "linear"
    window.morph.set_t(0.25)
    linear = wait_current(qtbot, window)
    timing.easing_box.setCurrentIndex(timing.easing_box.findData("ease-in-out"))
    eased = wait_current(qtbot, window)
    assert window.session.easing == "ease-in-out" and not np.array_equal(eased, linear)
    assert not timing.spins["fine"][0].isVisible()
    timing.toggle.click()
    assert timing.spins["fine"][0].isVisible()
    coarse_start, coarse_end = timing.spins["coarse"]
    coarse_end.setValue(0.5)
    coarse_start.setValue(0.9)                                          # held below the end
    assert timing.windows()["coarse"] == (0.45, 0.5)
    timing.spins["fine"][0].setValue(0.5)
    assert window.session.windows == {"coarse": (0.45, 0.5), "middle": (0.0, 1.0), "fine": (0.5, 1.0)}
    assert_close(wait_current(qtbot, window), expected(bundle, window.session.ws(bundle)))


def test_newest_wins(qtbot, window, bundle):
    rendered = []
    window.worker.rendered.connect(rendered.append)
    for i in range(20):
        window.seed_panel.set_seed(1000 + i)
    shown = wait_current(qtbot, window)
    assert len(rendered) < 20 and window.worker.dropped > 0
    assert window.session.seed == 1019 and window.shown.session == window.session
    assert_close(shown, expected(bundle, window.session.ws(bundle)))


def test_save_and_copy_the_face(qtbot, window, bundle, tmp_path, monkeypatch):
    from explorer.gui import main_window as main_window_module
    window.sliders.sliders["age"].setValue(1.5)
    shown = wait_current(qtbot, window)
    asked = []

    def choose(parent, title, path, name_filter):
        asked.append(path)
        return str(tmp_path / "out" / "mine"), name_filter

    monkeypatch.setattr(main_window_module.QFileDialog, "getSaveFileName", choose)
    done, failures = [], []
    window.worker.exported.connect(done.append)
    window.worker.failed.connect(failures.append)
    window.export_folder = tmp_path
    (tmp_path / "out").mkdir()
    window.save_action.trigger()                                      # what Ctrl+S does
    qtbot.waitUntil(lambda: bool(failures) or window.status.message().startswith("Saved"), timeout=TIMEOUT)
    assert asked == [str(tmp_path / f"seed{window.session.seed}.png")]
    out = tmp_path / "out"
    assert not failures and done == [str(out / "mine.png")]           # .png added to a bare name
    assert window.export_folder == out                                # offered next time
    assert window.status.message() == f"Saved {out / 'mine.png'}"
    side = 4 * bundle.resolution                                      # as exports are by default
    large = render_at(bundle, window.session.ws(bundle), side, "superres")[0]
    with Image.open(out / "mine.png") as im:
        assert im.text["Comment"] == "synthetic image generated by a GAN"
        assert_close(np.asarray(im), large)
    sidecar = json.loads((out / "mine.png.json").read_text())
    assert (sidecar["size"], sidecar["upscale"]) == (side, "superres")
    assert Session.from_json(json.dumps(sidecar["session"])) == window.session
    assert_close(expected(bundle, torch.tensor(sidecar["ws"]).unsqueeze(0)), shown)

    window.save_image(str(out / "mine.png"))                          # taken: refused, the first one kept
    # ``failures`` fills on the worker's thread, the status bar on this one: wait for both
    qtbot.waitUntil(lambda: bool(failures) and window.status.is_error(), timeout=TIMEOUT)
    assert f"{out / 'mine.png'}" in failures[0] and "already exists" in failures[0]   # the PNG or its sidecar
    assert_close(np.asarray(Image.open(out / "mine.png")), large)

    window.copy_action.trigger()
    message = f"Copied the face ({side}×{side} px) to the clipboard"
    qtbot.waitUntil(lambda: window.status.message() == message, timeout=TIMEOUT)
    copied = QGuiApplication.clipboard().image().convertToFormat(QImage.Format.Format_RGB888)
    assert (copied.width(), copied.height()) == (side, side)
    rows = np.frombuffer(copied.constBits(), np.uint8).reshape(side, copied.bytesPerLine())
    assert_close(rows[:, :3 * side].reshape(side, side, 3), large)


def test_open_a_saved_face_and_go_on_editing(qtbot, window, bundle, shared_data, tmp_path):
    failures = []
    window.worker.failed.connect(failures.append)
    window.load_photo("A", str(shared_data / "portraits" / "astronaut.png"))
    qtbot.waitUntil(lambda: window.morph.slots["A"].loaded, timeout=TIMEOUT)
    window.seed_panel.set_seed(7)
    window.seed_panel.set_psi(0.5)
    window.sliders.sliders["age"].setValue(1.0)
    window.sliders.set_kept("age", "gender", True)
    window.mixing.set_reference("seed", 12, ("coarse",))
    window.morph.timing.set_timing("cubic", {"coarse": (0.0, 0.5), "middle": (0.25, 0.75), "fine": (0.5, 1.0)})
    window.morph.set_t(0.4)
    saved = window.session
    shown = wait_current(qtbot, window)
    window.save_image(str(tmp_path / "mine.png"))
    qtbot.waitUntil(lambda: window.status.message().startswith("Saved"), timeout=TIMEOUT)

    window.morph.slots["A"].clear_button.click()                     # a different face meanwhile
    window.seed_panel.set_seed(3)
    window.sliders.reset_all()
    window.mixing.set_reference("off", None, ())
    assert not np.array_equal(wait_current(qtbot, window), shown)

    window.open_session(str(tmp_path / "mine.png"))
    qtbot.waitUntil(lambda: window.status.message() == "Opened mine.png", timeout=TIMEOUT)
    assert window.session == saved
    assert_close(wait_current(qtbot, window), shown)
    assert (window.seed_panel.seed(), window.seed_panel.psi()) == (7, 0.5)
    assert window.sliders.values() == {"age": 1.0} and window.sliders.conditions() == {"age": ("gender",)}
    assert (window.mixing.source(), window.mixing.seed(), window.mixing.groups()) == ("seed", 12, ("coarse",))
    assert window.morph.timing.easing() == "cubic" and window.morph.timing.windows()["coarse"] == (0.0, 0.5)
    slot = window.morph.slots["A"]
    assert window.morph.t() == 0.4 and slot.loaded and slot.caption.toolTip() == "astronaut.png"
    assert not slot.refine_button.isEnabled() and not window.photos
    window.sliders.sliders["smile"].setValue(1.0)                      # editing goes on from the opened face
    assert window.session == replace(saved, sliders={"age": 1.0, "smile": 1.0})

    (tmp_path / "other.json").write_text(json.dumps({"session": {}, "generator_sha256": "0" * 64}))
    (tmp_path / "notes.json").write_text(json.dumps({"todo": "smile more"}))
    Image.new("RGB", (8, 8)).save(tmp_path / "photo.png")
    for name, error in [("other.json", "made with another generator"), ("notes.json", "not a sidecar"),
                        ("gone.png", "gone.png.json: file not found"), ("photo.png", "no photo.png.json beside it")]:
        before = window.session
        window.open_session(str(tmp_path / name))
        qtbot.waitUntil(lambda: len(failures) == 1 and window.status.is_error(), timeout=TIMEOUT)
        assert error in failures.pop() and window.session == before


def test_undo_and_redo(qtbot, window, bundle, shared_data):
    start = window.session
    assert not window.undo_action.isEnabled() and not window.redo_action.isEnabled()
    window.seed_panel.set_seed(7)
    for value in (0.5, 1.0, 1.5):                                     # one drag: one step
        window.sliders.sliders["age"].setValue(value)
    window.sliders.sliders["smile"].setValue(1.0)
    edited = window.session
    window.undo_action.trigger()                                      # what Ctrl+Z does
    assert window.sliders.values() == {"age": 1.5} and window.session.sliders == {"age": 1.5}
    assert_close(wait_current(qtbot, window), expected(bundle, window.session.ws(bundle)))
    window.undo_action.trigger()
    assert window.sliders.values() == {} and window.seed_panel.seed() == 7
    window.undo_action.trigger()
    assert window.session == start and window.seed_panel.seed() == start.seed
    assert not window.undo_action.isEnabled() and window.redo_action.isEnabled()
    for _ in range(3):
        window.redo_action.trigger()
    assert window.session == edited and window.sliders.values() == {"age": 1.5, "smile": 1.0}

    window.refine_steps = 2
    window.load_photo("A", str(shared_data / "portraits" / "grace_hopper.jpg"))
    qtbot.waitUntil(lambda: window.morph.slots["A"].loaded, timeout=TIMEOUT)
    encoded = window.photos["A"]
    window.refine_photo("A")
    qtbot.waitUntil(lambda: window.photos["A"] is not encoded, timeout=TIMEOUT)
    window.morph.set_t(0.3)                                           # the playhead is not a step
    slot = window.morph.slots["A"]
    window.undo_action.trigger()
    assert window.photos["A"] is encoded and slot.caption.toolTip() == "grace_hopper.jpg"
    assert slot.refine_button.isEnabled() and window.morph.t() == 0.3 and window.session.morph_t == 0.3
    window.undo_action.trigger()
    assert not slot.loaded and "A" not in window.photos and window.session.key_a is None
    window.redo_action.trigger()
    window.redo_action.trigger()
    assert slot.caption.toolTip() == "grace_hopper.jpg (refined)"
    assert window.session.key_a.ws == window.photos["A"].ws[0].tolist()
    window.seed_panel.set_seed(8)                                     # a change after undoing: nothing to redo
    assert not window.redo_action.isEnabled()


def drag_files(kind, widget, *paths: str) -> bool:
    """Send a drag-enter or drop event carrying ``paths`` (local files, or URLs) to ``widget``;
    returns whether it was accepted."""
    mime = QMimeData()
    mime.setUrls([QUrl(p) if "://" in p else QUrl.fromLocalFile(p) for p in paths])
    event = kind(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                 Qt.KeyboardModifier.NoModifier)
    event.ignore()
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def test_browse_seeds_and_pick_one(qtbot, window, bundle, monkeypatch):
    from explorer.gui import seed_browser
    dealt = iter(range(seed_browser.MAX_SEED, 0, -1))                   # seeds beyond a C++ int's 2³¹−1
    monkeypatch.setattr(seed_browser.random, "randint", lambda low, high: next(dealt))
    window.seed_panel.set_psi(0.5)
    rendered = []
    window.worker.seeds_rendered.connect(lambda seeds, images: rendered.append((seeds, images)))
    window.seed_panel.browse_button.click()
    browser = window.findChild(SeedBrowser)
    # ``rendered`` and the browser each get the faces by their own queued call: wait for both
    qtbot.waitUntil(lambda: len(rendered) == 1 and all(not b.icon().isNull() for b in browser.buttons),
                    timeout=TIMEOUT)
    assert len(set(browser.seeds)) == 16 and [b.text() for b in browser.buttons] == [str(s) for s in browser.seeds]
    first = browser.seeds
    browser.deal()                                                    # "More faces"
    qtbot.waitUntil(lambda: len(rendered) == 2, timeout=TIMEOUT)
    seeds, images = rendered[-1]
    assert seeds == browser.seeds != first
    assert_close(images[5], expected(bundle, Session(seed=seeds[5], psi=0.5).ws(bundle)))
    browser.buttons[5].click()
    assert window.session.seed == seeds[5] == seed_browser.MAX_SEED - 21 and window.seed_panel.seed() == seeds[5]
    assert_close(wait_current(qtbot, window), images[5])
    window.undo_action.trigger()                                      # picking a face is a step
    assert window.session.seed == 0


def test_drop_a_photo_on_a_slot(qtbot, window, shared_data):
    slot = window.morph.slots["B"]
    photo = str(shared_data / "portraits" / "grace_hopper.jpg")
    assert not drag_files(QDragEnterEvent, slot, photo, str(shared_data / "portraits" / "astronaut.png"))   # one at a time
    assert not drag_files(QDragEnterEvent, slot, "https://example.com/face.jpg")
    assert drag_files(QDragEnterEvent, slot, photo)
    assert drag_files(QDropEvent, slot, photo)
    qtbot.waitUntil(lambda: slot.loaded, timeout=TIMEOUT)
    assert window.session.key_b.label == "grace_hopper.jpg"


def test_sharp_view_shows_the_face_through_super_resolution(qtbot, bundle):
    window = MainWindow(bundle)
    qtbot.addWidget(window)
    window.show()
    ws = window.session.ws(bundle)
    assert window.sharp_view.isChecked() and window.sharp_view.isVisibleTo(window)     # on by default
    shown = wait_current(qtbot, window)
    assert_close(shown, render_at(bundle, ws, 2 * bundle.resolution, "superres")[0])
    window.sharp_view.setChecked(False)
    assert_close(wait_current(qtbot, window), expected(bundle, ws))
    window.close()


def test_export_dialog(qtbot, window, tmp_path):
    session = window.session.with_keyframe(0, Keyframe.from_seed(5))
    dialog = ExportDialog(window.worker, session, tmp_path, window)
    qtbot.addWidget(dialog)
    assert dialog.length.text() == "2.0 s"                               # 60 frames at 30 fps
    dialog.frames.setValue(2000)
    assert dialog.length.text() == "1 min 6.7 s"
    dialog.frames.setValue(3)
    assert dialog.length.text() == "0.10 s"
    resolution = window.bundle.resolution
    assert dialog.size.currentData() == 4 * resolution                # bigger than generated, by default
    assert [dialog.size.itemText(i) for i in range(2)] == [f"{resolution} px (as generated)", f"{2 * resolution} px"]
    assert dialog.upscale.currentData() == "superres" and dialog.upscale.isEnabled()   # the shipped weights have it
    dialog.size.setCurrentIndex(0)
    assert not dialog.upscale.isEnabled()                              # as generated: nothing to enlarge
    dialog.size.setCurrentIndex(1)
    assert dialog.upscale.isEnabled()
    dialog.kind.setCurrentText("GIF animation")
    assert dialog.path.text() == str(tmp_path / "morph.gif")
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.message.text().startswith("Saved"), timeout=TIMEOUT)
    assert iio.imread(tmp_path / "morph.gif", index=None).shape == (3, 2 * resolution, 2 * resolution, 3)
    sidecar = json.loads((tmp_path / "morph.gif.json").read_text())
    assert (sidecar["size"], sidecar["upscale"]) == (2 * resolution, "superres")
    assert dialog.path.text() == str(tmp_path / "morph-2.gif")
    dialog.kind.setCurrentText("MP4 video")
    dialog.path.setText(str(tmp_path / "morph.mp4"))                  # the same morph as MP4: its own sidecar
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.message.text() == f"Saved {tmp_path / 'morph.mp4'}", timeout=TIMEOUT)
    assert json.loads((tmp_path / "morph.mp4.json").read_text())["num_frames"] == 3

    dialog.path.setText(str(tmp_path / "morph.gif"))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.message.property("role") == "error", timeout=TIMEOUT)
    assert "already exists" in dialog.message.text() and dialog.export_button.isEnabled()


def test_run_app_refuses_bad_weights(qapp, tmp_path, capsys, monkeypatch):
    shown = []                                         # a real screen's modal dialog would wait for a click
    monkeypatch.setattr(main_window_module.QMessageBox, "critical", lambda *args: shown.append(args[2]))
    assert run_app(tmp_path, "cpu") == 1
    message = f"{tmp_path}: not a weights folder (no generator.json)"
    assert capsys.readouterr().err.strip() == f"error: {message}"
    assert shown == ([] if qapp.platformName() in ("offscreen", "minimal") else [message])


def test_named_directions_come_before_the_unsupervised_components(qtbot):
    from explorer.directions import Direction
    from explorer.gui.sliders import DirectionSliders
    vector = torch.zeros(8)
    directions = [Direction("sefa0-3_1", "Component 1 (layers 0–3)", vector, range(4), 1.0),
                  Direction("age", "Age", vector, range(10), 1.0, method="interfacegan"),
                  Direction("pca_1", "Component 1 (layers 0–9)", vector, range(10), 1.0, method="ganspace"),
                  Direction("pose", "Pose (yaw)", vector, range(4), 1.0, method="pose")]
    panel = DirectionSliders(directions)
    qtbot.addWidget(panel)
    assert list(panel.sliders) == ["age", "pose", "sefa0-3_1", "pca_1"]


def test_rename_a_component_from_its_slider(qtbot, weights_copy, monkeypatch):
    from explorer.gui import sliders as sliders_module
    win = MainWindow(load_bundle(weights_copy, "cpu"))
    qtbot.addWidget(win)
    monkeypatch.setattr(sliders_module.QInputDialog, "getText", lambda *args, **kwargs: ("Hair length", True))
    win.sliders.ask_rename("sefa0-3_2")
    assert win.sliders.sliders["sefa0-3_2"].name_label.text() == "Hair length"
    assert win.bundle.direction("sefa0-3_2").label == "Hair length" and "Renamed sefa0-3_2" in win.status.message()
    assert load_bundle(weights_copy, "cpu").direction("sefa0-3_2").label == "Hair length"
    win.close()


def test_a_slider_keeps_another_attribute_unchanged(qtbot, window, bundle):
    window.sliders.sliders["age"].setValue(2.0)
    free = wait_current(qtbot, window)
    window.sliders.set_kept("age", "pose", True)
    assert window.session.conditions == {"age": ("pose",)}
    assert "keeps Pose (yaw) unchanged" in window.sliders.sliders["age"].toolTip()
    assert window.sliders.sliders["age"].note_label.full_text() == "keeps Pose (yaw)"  # seen without hovering
    kept = wait_current(qtbot, window)
    assert_close(kept, expected(bundle, window.session.ws(bundle)))
    assert not np.array_equal(free, kept)
    window.sliders.set_kept("age", "pose", False)
    assert window.session.conditions == {} and not window.sliders.sliders["age"].note_label.isVisibleTo(window)
    assert_close(wait_current(qtbot, window), free)


def test_the_directions_header_names_the_moved_sliders_and_resets_them(qtbot, window, bundle):
    sliders = window.sliders
    assert sliders.header.isVisibleTo(window) and not sliders.reset_all_button.isEnabled()
    for name, value in (("age", 0.5), ("smile", 1.0), ("sefa0-3_1", -0.5)):
        sliders.sliders[name].setValue(value)
    label = sliders.moved_label
    assert label.full_text() == "Moved: Age, Smile, Component 1 (layers 0–3)"
    assert label.text().endswith("…") and label.fontMetrics().horizontalAdvance(label.text()) <= label.width()
    assert "Smile: +1.0 σ" in sliders.moved_label.toolTip()
    sliders.reset_all_button.click()
    assert window.session.sliders == {} and not sliders.reset_all_button.isEnabled()
    assert_close(wait_current(qtbot, window), expected(bundle, Session().ws(bundle)))


def test_a_slider_notes_what_it_keeps_without_widening_and_follows_renames(qtbot, window):
    sliders = window.sliders
    age = sliders.sliders["age"]
    width = age.minimumSizeHint().width()
    for other in ("gender", "smile", "eyeglasses", "black_hair"):
        sliders.set_kept("age", other, True)
    assert age.note_label.full_text() == "keeps Gender (to female), Smile, Eyeglasses, Black hair"
    assert age.minimumSizeHint().width() <= width                      # elided, not pushing the row wider
    sliders.sliders["smile"].setValue(1.0)
    sliders.set_label("smile", "Grin")                                  # what a rename does
    assert "Grin" in age.note_label.full_text() and "Grin" in age.toolTip()
    assert sliders.moved_label.full_text() == "Moved: Grin"


def test_the_window_fits_a_laptop_screen(window):
    hint = window.minimumSizeHint()
    assert hint.width() <= 1366 and hint.height() <= 700                # 768 px less a panel and title bar


def test_messages_go_after_a_while_and_errors_stay(qtbot, monkeypatch):
    from explorer.gui import status as status_module
    monkeypatch.setattr(status_module, "INFO_SECONDS", 0.05)
    bar = StatusBar("cpu")
    qtbot.addWidget(bar)
    bar.show_info("Saved x.png")
    qtbot.waitUntil(lambda: bar.message() == "", timeout=2000)
    bar.show_error("x.png: not an image")
    qtbot.wait(300)
    assert bar.message() == "x.png: not an image" and bar.is_error()


def test_3d_face_dialog_turns_and_saves_the_face(qtbot, window, bundle, tmp_path, monkeypatch):
    from explorer.gui import face3d_dialog
    window.sliders.sliders["smile"].setValue(1.0)
    wait_current(qtbot, window)
    window.export_folder = tmp_path
    dialog = window.open_face3d()
    assert not dialog.save_button.isEnabled()                          # until the worker has made the mesh
    qtbot.waitUntil(lambda: dialog.view is not None, timeout=TIMEOUT)
    assert dialog.save_button.isEnabled()
    texture = render_at(bundle, window.session.ws(bundle), 2 * bundle.resolution, "superres")[0]
    assert_close(dialog.mesh.texture, texture)                          # the face as set, at the texture size
    front = dialog.view.image
    assert front.shape == (face3d_dialog.VIEW_SIDE, face3d_dialog.VIEW_SIDE, 3)
    dialog.yaw.setValue(40)
    dialog.pitch.setValue(-10)
    qtbot.waitUntil(lambda: (dialog.view.yaw, dialog.view.pitch) == (40, -10), timeout=TIMEOUT)
    assert np.abs(dialog.view.image.astype(int) - front.astype(int)).mean() > 5
    dialog.front_view()
    qtbot.waitUntil(lambda: (dialog.view.yaw, dialog.view.pitch) == (0, 0), timeout=TIMEOUT)
    assert np.array_equal(dialog.view.image, front)
    QTest.mousePress(dialog.picture, Qt.MouseButton.LeftButton, pos=QPoint(100, 200))
    QTest.mouseMove(dialog.picture, QPoint(140, 180))                   # 40 px right, 20 px up
    QTest.mouseRelease(dialog.picture, Qt.MouseButton.LeftButton, pos=QPoint(140, 180))
    assert (dialog.yaw.value(), dialog.pitch.value()) == (20, 10)
    qtbot.waitUntil(lambda: (dialog.view.yaw, dialog.view.pitch) == (20, 10), timeout=TIMEOUT)

    asked = []

    def choose(parent, title, path, name_filter):
        asked.append(path)
        return str(tmp_path / "head"), name_filter

    monkeypatch.setattr(face3d_dialog.QFileDialog, "getSaveFileName", choose)
    dialog.save_button.click()
    qtbot.waitUntil(lambda: window.status.message().startswith("Saved"), timeout=TIMEOUT)
    assert asked == [str(tmp_path / "face-3d.obj")]
    assert window.status.message() == f"Saved {tmp_path / 'head.obj'}"          # .obj added to a bare name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["head.mtl", "head.obj", "head.obj.json", "head.png"]
    assert_close(np.asarray(Image.open(tmp_path / "head.png")), texture)

    def choose_gif(parent, title, path, name_filter):
        asked.append(path)
        return str(tmp_path / "spin"), "GIF animation (*.gif)"

    monkeypatch.setattr(face3d_dialog.QFileDialog, "getSaveFileName", choose_gif)
    dialog.turntable_button.click()
    qtbot.waitUntil(lambda: window.status.message() == f"Saved {tmp_path / 'spin.gif'}", timeout=TIMEOUT)
    assert asked[-1] == str(tmp_path / "face-3d-turntable.mp4")
    frames = iio.imread(tmp_path / "spin.gif", index=None)
    side = TURNTABLE["side"]
    assert frames.shape[:3] == (TURNTABLE["frames"], side, side)
    quarter = TURNTABLE["frames"] // 4                                          # the turn's right end, +45°
    assert np.abs(frames[quarter].astype(int) - frames[0].astype(int)).mean() > 5
    sidecar = json.loads((tmp_path / "spin.gif.json").read_text())
    assert sidecar["turntable"] == TURNTABLE and Session.from_json(json.dumps(sidecar["session"])) == window.session


def test_3d_face_dialog_says_when_there_is_no_face(qtbot, window, monkeypatch):
    from explorer import face3d
    monkeypatch.setattr(face3d, "MIN_PRESENCE", 1.1)                   # no face is ever sure enough
    dialog = window.open_face3d()
    qtbot.waitUntil(lambda: "no face found for a 3D mesh" in dialog.picture.text(), timeout=TIMEOUT)
    assert dialog.mesh is None and dialog.view is None
    assert not dialog.save_button.isEnabled() and not dialog.turntable_button.isEnabled()
    qtbot.waitUntil(window.status.is_error, timeout=TIMEOUT)
    assert "the face: no face found for a 3D mesh" in window.status.message()


class FakeClock:
    """A wall clock for ``MorphPlayer`` that moves only when a test says."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pixels(widget) -> np.ndarray:
    """What ``widget`` draws, as uint8 [H, W, 4]."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGBA8888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, :4 * image.width()].reshape(image.height(), image.width(), 4).copy()


def test_play_the_morph_at_the_export_speed(qtbot, window, bundle, shared_data):
    panel, player = window.morph, window.morph.player
    assert not panel.play_button.isEnabled() and not panel.play_action.isEnabled()   # nothing to morph yet
    assert panel.play_button.toolTip() == "Play the morph at the export's speed (Space)"
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    QTest.keyClick(window, Qt.Key.Key_Space)
    assert not player.is_playing()
    load_a(qtbot, window, shared_data)
    assert panel.play_button.isEnabled() and panel.loop_box.isChecked()              # loops by default
    at_a, paused_icon = window.image().copy(), pixels(panel.play_button)

    clock = FakeClock()
    player.clock = clock
    player.set_speed(11, 10)                        # frame i at t = i / 10, a 1.1 s clip
    panel.play_button.click()
    assert player.is_playing() and panel.play_button.toolTip() == "Pause (Space)"
    assert not np.array_equal(pixels(panel.play_button), paused_icon)            # shows Pause
    clock.now += 0.35                               # 3.5 frames at 10 fps
    qtbot.waitUntil(lambda: panel.t() == 0.3, timeout=2000)
    assert window.session.morph_t == 0.3 and window.morph.t_label.text() == "t = 0.30"
    shown = wait_current(qtbot, window)
    assert_close(shown, expected(bundle, window.session.ws(bundle)))
    assert not np.array_equal(shown, at_a)
    clock.now += 0.9                                # 12.5 frames in: past B, round to frame 1 again
    qtbot.waitUntil(lambda: panel.t() == 0.1, timeout=2000)
    assert player.is_playing()

    QTest.keyClick(window, Qt.Key.Key_Space)        # Space pauses …
    assert not player.is_playing() and panel.t() == 0.1
    assert np.array_equal(pixels(panel.play_button), paused_icon)
    clock.now += 0.3
    qtbot.wait(100)
    assert panel.t() == 0.1
    QTest.keyClick(window, Qt.Key.Key_Space)        # … and plays on from the playhead
    assert player.is_playing()
    clock.now += 0.2
    qtbot.waitUntil(lambda: panel.t() == 0.3, timeout=2000)

    QTest.mouseClick(panel.timeline.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     at_t(panel.timeline, 0.8))     # moving the playhead by hand pauses
    assert not player.is_playing() and abs(panel.t() - 0.8) < 0.02

    panel.loop_box.setChecked(False)                # without loop: stops on B
    panel.set_t(0.5)
    panel.toggle_play()
    clock.now += 2.0
    qtbot.waitUntil(lambda: not player.is_playing(), timeout=2000)
    assert panel.t() == 1.0
    panel.toggle_play()                             # at B: from A again
    qtbot.waitUntil(lambda: panel.t() == 0.0, timeout=2000)
    window.morph.slots["A"].clear_button.click()    # no morph: stops, and cannot start
    assert not player.is_playing() and not panel.play_button.isEnabled()
    panel.toggle_play()
    assert not player.is_playing()


def test_playback_keeps_to_the_wall_clock(qtbot, window, shared_data):
    panel, player = window.morph, window.morph.player
    load_a(qtbot, window, shared_data)
    window.morph.export_requested.emit()            # the export dialog sets the speed
    dialog = window.findChild(ExportDialog)
    dialog.frames.setValue(41)
    dialog.fps.setValue(20)                         # 41 frames at 20 fps: t = 1 after 2 s
    assert (player.frames, player.fps) == (41, 20)
    dialog.close()
    start = time.monotonic()
    panel.toggle_play()
    qtbot.wait(1000)
    elapsed = time.monotonic() - start
    t = panel.t()
    panel.toggle_play()
    assert abs(t - elapsed / 2) <= 0.1, (t, elapsed)
    window.morph.export_requested.emit()            # and the next one opens at it
    newest = window.findChildren(ExportDialog)[-1]
    assert (newest.frames.value(), newest.fps.value()) == (41, 20)


def test_the_seed_says_when_it_is_not_in_view(qtbot, window, bundle, shared_data):
    note = window.seed_panel.seed_note
    assert note.isHidden()
    load_a(qtbot, window, shared_data)
    assert note.isHidden()                          # B is the seed: the seed is in the morph
    window.load_photo("B", str(shared_data / "portraits" / "grace_hopper.jpg"))
    qtbot.waitUntil(lambda: window.morph.slots["B"].loaded, timeout=TIMEOUT)
    assert note.isVisibleTo(window) and "Not in view" in note.text()
    assert len(np.unique(pixels(note).reshape(-1, 4), axis=0)) > 2                  # the words are drawn
    window.morph.set_t(0.5)
    before = wait_current(qtbot, window)
    window.seed_panel.set_seed(1234)
    assert np.array_equal(wait_current(qtbot, window), before)                     # what the note says
    window.morph.slots["B"].clear_button.click()
    assert note.isHidden()
    after = wait_current(qtbot, window)
    window.seed_panel.set_seed(99)
    assert not np.array_equal(wait_current(qtbot, window), after)
    window.undo()                                   # the seed again, then B back
    window.undo()
    assert window.session.key_b is not None and note.isVisibleTo(window)


def test_exports_start_in_the_folder_last_used_and_say_where_they_went(qtbot, bundle, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings

    from explorer.gui import status as status_module
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(bundle, settings)
    qtbot.addWidget(window)
    assert window.export_folder == Path.home()                      # nothing remembered
    out = tmp_path / "out"
    out.mkdir()
    window.export_frames(str(out / "m.gif"), 3, 10)
    qtbot.waitUntil(lambda: window.status.message().startswith("Saved"), timeout=TIMEOUT)
    assert window.status.message() == f"Saved {out / 'm.gif'}"
    button = window.status.open_folder_button
    assert button.isVisibleTo(window) and button.text() == "Open folder"
    opened = []
    monkeypatch.setattr(status_module.QDesktopServices, "openUrl", opened.append)
    button.click()
    assert opened == [QUrl.fromLocalFile(str(out))]
    window.status.show_info("something else")
    assert button.isHidden()
    window.close()

    again = MainWindow(bundle, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    assert again.export_folder == out                               # remembered
    again.morph.export_requested.emit()
    assert again.findChild(ExportDialog).path.text() == str(out / "morph.mp4")
    again.settings.clear()                                          # forgotten: the opened file's folder
    assert again.export_folder == Path.home()
    again.open_session(str(out / "m.gif"))
    qtbot.waitUntil(lambda: again.status.message() == "Opened m.gif", timeout=TIMEOUT)
    assert again.export_folder == out
    again.close()


def test_a_new_clip_length_during_playback_keeps_the_morph_position(qtbot):
    from explorer.gui.player import MorphPlayer

    clock, shown = FakeClock(), []
    player = MorphPlayer(clock=clock)
    player.frame.connect(shown.append)
    player.set_speed(11, 10)
    player.play(0.5)                                 # frame 5 of 0–10
    player.set_speed(21, 10)                         # t = 0.5 is frame 10 of 0–20
    player._tick()
    assert shown[-1] == pytest.approx(0.5)
    clock.now += 0.1
    player._tick()
    assert shown[-1] == pytest.approx(0.55)
    player.pause()
