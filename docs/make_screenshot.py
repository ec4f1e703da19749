"""Render docs/screenshot.png: the main window offscreen, morphing from one portrait through a
seed keyframe at t = 0.5 to the other, the playhead a third of the way, smiling a little more, in the
sharp view (the default); then
docs/face3d.png: the 3D face dialog on that face, turned by ``--yaw`` degrees.

    python docs/make_screenshot.py [--weights DIR] [--out PATH] [--face3d-out PATH] [--yaw DEG]
                                   [--photo-a P] [--photo-b P] [--seed N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PORTRAITS = REPO.parent / "shared" / "data" / "portraits"
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from explorer.gui.main_window import WINDOW_SIZE, MainWindow
from explorer.gui.theme import apply_dark_theme
from explorer.weights import DEFAULT_WEIGHTS, load_bundle


def wait_for(app: QApplication, done, what: str, timeout: float = 120.0) -> None:
    """Process Qt events until ``done()`` is true; exit with a message after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            sys.exit(f"error: timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshot.png")
    parser.add_argument("--face3d-out", type=Path, default=REPO / "docs" / "face3d.png")
    parser.add_argument("--yaw", type=int, default=30, help="the 3D face's turn, degrees")
    parser.add_argument("--photo-a", type=Path, default=PORTRAITS / "astronaut.png")
    parser.add_argument("--photo-b", type=Path, default=PORTRAITS / "grace_hopper.jpg")
    parser.add_argument("--seed", type=int, default=11, help="the keyframe between them")
    args = parser.parse_args()

    app = QApplication(sys.argv[:1])
    apply_dark_theme(app)
    window = MainWindow(load_bundle(args.weights, args.device))
    window.resize(*WINDOW_SIZE)          # the offscreen screen is smaller than a desktop's
    window.show()
    for slot, photo in (("A", args.photo_a), ("B", args.photo_b)):
        window.load_photo(slot, str(photo))
        photo_slot = window.morph.slots[slot]
        wait_for(app, lambda s=photo_slot: s.loaded or window.status.is_error(), f"photo {slot}")
        if not photo_slot.loaded:
            sys.exit(f"error: {window.status.message()}")
    window.morph.set_t(0.5)
    window.seed_panel.seed_box.setValue(args.seed)
    window.morph.keyframe_seed_requested.emit(0.5)
    window.morph.set_t(0.33)
    window.sliders.sliders["smile"].setValue(0.8)
    wait_for(app, lambda: window.shown is not None and window.shown.request_id == window.last_request, "the render")
    app.processEvents()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(args.out))
    print(args.out)
    dialog = window.open_face3d()
    dialog.yaw.setValue(args.yaw)
    wait_for(app, lambda: dialog.view is not None and dialog.view.yaw == args.yaw, "the 3D face")
    app.processEvents()
    dialog.grab().save(str(args.face3d_out))
    print(args.face3d_out)
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
