"""The main window (face on the left, controls on the right) and ``run_app``."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QGuiApplication, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from explorer.errors import UserError
from explorer.export import DEFAULT_SIZE_FACTOR
from explorer.gui.canvas import FaceCanvas, to_qimage
from explorer.gui.export_dialog import ExportDialog, free_path
from explorer.gui.face3d_dialog import Face3DDialog
from explorer.gui.history import UndoHistory
from explorer.gui.mixing import MixingPanel
from explorer.gui.morph import MorphPanel
from explorer.gui.seed_browser import SeedBrowser
from explorer.gui.seed_panel import SeedPanel
from explorer.gui.sliders import DirectionSliders
from explorer.gui.status import StatusBar
from explorer.gui.theme import apply_dark_theme
from explorer.photos import EncodedPhoto
from explorer.session import MIN_KEY_GAP, Keyframe, Session
from explorer.weights import ModelBundle, load_bundle, rename_direction
from explorer.worker import InferenceWorker, RenderResult

TITLE = "Face Latent-Space Explorer"
ICON = Path(__file__).resolve().parents[2] / "assets" / "icon.svg"
PANEL_WIDTH = 380
WINDOW_SIZE = (1180, 920)   # px; tall enough for seven direction sliders beside the morph panel, within 1080p
REFINE_STEPS = 300              # projection steps per "Refine" (about 15 s on a 2-core CPU at 64²)
SLOT_INDEX = {"A": 0, "B": -1}  # photo slot → keyframe: A is the first, B the last
MIDDLE = "@"                    # worker slot names "@<t>" encode a photo for a keyframe between A and B
ORGANIZATION, APPLICATION = "face-latent-explorer", "explorer"   # where QSettings keeps the app's settings
FOLDER_KEY = "export/folder"    # the folder last saved in


def app_settings() -> QSettings:
    """The app's settings for this user (an INI file: the same on every platform)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


class SlotView(NamedTuple):
    """What photo slot A or B shows for one keyframe: the keyframe, its encoded photo (None
    for one opened from a saved session, which cannot be refined), caption and thumbnail
    (uint8 [H, W, 3]). Kept so that undo can show a slot again as it was."""

    key: Keyframe
    photo: EncodedPhoto | None
    caption: str
    thumbnail: np.ndarray


class MainWindow(QMainWindow):
    """The editor. Every control change replaces ``session`` and asks the worker for a render.

    Attributes:
        bundle: the models (read by the worker thread only, apart from names and sizes).
        session: the document now.
        history: undo and redo of ``session`` (the playhead aside).
        photos: the encoded photo of each loaded slot ("A", "B"), its W+ refined or not.
        refine_steps: projection steps per "Refine" (``REFINE_STEPS``).
        shown: the render on screen (None until the first arrives).
        image_size: the side in px of a saved or copied face (``DEFAULT_SIZE_FACTOR`` × the
            generator's, as exports are by default).
        settings: what the app remembers between runs (the folder last saved in).
        last_request: the id of the newest render asked for.
        canvas, seed_panel, mixing, sliders, morph, status, worker: the parts, for tests to drive.
    """

    def __init__(self, bundle: ModelBundle, settings: QSettings | None = None):
        """``settings``: default ``app_settings()``."""
        super().__init__()
        self.bundle = bundle
        self.session = Session()
        self.photos: dict[str, EncodedPhoto] = {}
        self.refine_steps = REFINE_STEPS
        self._refining: dict[str, EncodedPhoto] = {}
        self.shown: RenderResult | None = None
        self.last_request = 0
        self.settings = settings if settings is not None else app_settings()
        self._session_folder: Path | None = None     # the folder of the file last opened
        self.image_size = DEFAULT_SIZE_FACTOR * bundle.resolution
        self._showing = False           # True while the controls are set to show a session
        self._views: list[SlotView] = []  # every keyframe slot A or B has shown, newest last
        self.history = UndoHistory()
        self.worker = InferenceWorker(bundle)
        self.canvas = FaceCanvas()
        self.seed_panel = SeedPanel(self.session.seed, self.session.psi)
        self.mixing = MixingPanel()
        self.sliders = DirectionSliders(bundle.directions)
        self.morph = MorphPanel(bundle.generator.num_ws)
        self.status = StatusBar(str(bundle.device))
        self.setStatusBar(self.status)
        self.copy_action = self._action("Copy", QKeySequence.StandardKey.Copy, self.copy_image,
                                       f"Copy the face to the clipboard ({self.image_size} px)")
        self.undo_action = self._action("Undo", QKeySequence.StandardKey.Undo, self.undo, "Undo the last change")
        self.redo_action = self._action("Redo", QKeySequence.StandardKey.Redo, self.redo, "Redo what was undone")
        self.undo_action.setEnabled(False)
        self.redo_action.setEnabled(False)
        self.open_action = self._action("Open…", QKeySequence.StandardKey.Open, self._choose_session,
                                        "Go on editing a face or morph saved with Save image… or Export frames…")
        self.save_action = self._action("Save image…", QKeySequence.StandardKey.Save, self._choose_image_path,
                                       f"Save the face as a {self.image_size} px PNG, with a .json beside it that "
                                       "records how it was made")
        self.face3d_action = self._action("3D face…", None, self.open_face3d,
                                          "See the face as a 3D mesh from any side, and save it as .obj for 3D tools")
        self.sharp_view = QCheckBox("Sharp view", toolTip="Show the face through the face super-resolution "
                                    "network, at twice the generator's size with detail learned from real faces, "
                                    "as exports get it (about 45 ms more a render on a 2-core CPU)")
        self.sharp_view.setChecked(bundle.superres is not None)
        self.worker.set_sharp_view(self.sharp_view.isChecked())
        self.sharp_view.toggled.connect(self._sharp_view_toggled)
        self.setWindowTitle(f"{TITLE} — {bundle.path.name}")
        self.setCentralWidget(self._layout())
        screen = self.screen().availableGeometry()
        self.resize(min(WINDOW_SIZE[0], screen.width()), min(WINDOW_SIZE[1], screen.height()))

        self.seed_panel.changed.connect(
            lambda: self._edit(seed=self.seed_panel.seed(), psi=self.seed_panel.psi()))
        self.seed_panel.browse_requested.connect(self.browse_seeds)
        self.mixing.changed.connect(self._mixing_changed)
        self.sliders.changed.connect(lambda: self._edit(sliders=self.sliders.values()))
        self.sliders.rename_requested.connect(self.rename_direction)
        self.sliders.conditions_changed.connect(lambda: self._edit(conditions=self.sliders.conditions()))
        self.morph.t_changed.connect(lambda t: self._edit(morph_t=t))
        self.morph.photo_chosen.connect(self.load_photo)
        self.morph.photo_cleared.connect(self._clear_photo)
        self.morph.refine_requested.connect(self.refine_photo)
        self.morph.refine_cancelled.connect(self._cancel_refine)
        self.morph.face_requested.connect(self.next_face)
        self.morph.timing.changed.connect(
            lambda: self._edit(easing=self.morph.timing.easing(), windows=self.morph.timing.windows()))
        self.morph.export_requested.connect(self._open_export_dialog)
        self.morph.keyframe_photo_chosen.connect(self.add_photo_keyframe)
        self.morph.keyframe_seed_requested.connect(
            lambda t: self._add_keyframe(t, Keyframe.from_seed(self.session.seed)))
        self.morph.keyframe_removed.connect(self.remove_keyframe)
        self.worker.rendered.connect(self._rendered)
        self.worker.encoded.connect(self._encoded)
        self.worker.refine_progress.connect(self._refine_progress)
        self.worker.refined.connect(self._refined)
        self.worker.failed.connect(self.status.show_error)
        self.worker.progress.connect(self._export_progress)   # methods, not lambdas: they run on this thread
        self.worker.exported.connect(self._exported)
        self.worker.copied.connect(self._copied)
        self.worker.opened.connect(self._opened)
        loaded = f"{len(bundle.directions)} directions, {bundle.resolution}² generator"
        if bundle.verified:
            self.status.show_info(loaded)
        else:
            self.status.show_error(f"{loaded}; {bundle.unverified_warning()}")
        self._show_seed_note()
        self.last_request = self.worker.submit_render(self.session)

    @property
    def export_folder(self) -> Path:
        """Where Save image…, Export frames…, 3D face… and Open… start: the folder last saved in
        (remembered in ``settings``), else the folder of the file last opened, else home."""
        for folder in (self.settings.value(FOLDER_KEY), self._session_folder):
            if folder and Path(folder).is_dir():
                return Path(folder)
        return Path.home()

    @export_folder.setter
    def export_folder(self, folder: Path) -> None:
        self.settings.setValue(FOLDER_KEY, str(folder))

    def image(self) -> np.ndarray | None:
        """The uint8 [R, R, 3] image on screen."""
        return self.canvas.image

    def load_photo(self, slot: str, path: str) -> None:
        """Encode the photo at ``path`` into keyframe ``slot`` ("A" or "B") on the worker."""
        self.status.show_info(f"Encoding {Path(path).name}…")
        self.worker.submit_encode(slot, str(path))

    def next_face(self, slot: str) -> None:
        """Encode the next face (by size) of slot ``slot``'s photo in its place."""
        photo = self.photos[slot]
        face = (photo.face + 1) % photo.num_faces
        self.status.show_info(f"Encoding face {face + 1} of {photo.num_faces} of {photo.path.name}…")
        self.worker.submit_encode(slot, str(photo.path), face)

    def add_photo_keyframe(self, t: float, path: str) -> None:
        """Encode the photo at ``path`` on the worker and add it as a keyframe at morph time ``t``."""
        if self._keyframe_refused(t):
            return
        self.status.show_info(f"Encoding {Path(path).name}…")
        self.worker.submit_encode(f"{MIDDLE}{t}", str(path))

    def remove_keyframe(self, t: float) -> None:
        """Remove the keyframe between A and B at morph time ``t``."""
        index = self.session.times.index(t)
        self.status.show_info(f"Removed keyframe {index} ({_label(self.session.keyframes[index])})")
        self._set_session(self.session.without_keyframe(index))

    def rename_direction(self, name: str, label: str) -> None:
        """Store ``label`` for direction ``name`` in the weights folder and show it on its slider."""
        try:
            renamed = rename_direction(self.bundle.path, name, label)
        except (UserError, OSError) as e:
            self.status.show_error(f"Could not rename {name}: {e}")
            return
        self.bundle.directions = [renamed if d.name == name else d for d in self.bundle.directions]
        self.sliders.set_label(name, renamed.label)
        self.status.show_info(f"Renamed {name} to {renamed.label!r} in {self.bundle.path / 'directions.json'}")

    def refine_photo(self, slot: str) -> None:
        """Refine slot ``slot``'s W+ by ``refine_steps`` of projection on the worker; the slot
        shows the progress and a Cancel, the canvas the refined face when it is done."""
        photo = self.photos[slot]
        self._refining[slot] = photo
        self.morph.slots[slot].set_refining(True)
        self.status.show_info(f"Refining {photo.path.name} ({slot})…")
        self.worker.submit_refine(slot, photo, self.refine_steps)

    def save_image(self, path: str) -> None:
        """Save the face as set now (``session``) as a still PNG of ``image_size``² px at ``path``,
        with its sidecar, on the worker."""
        self.status.show_info(f"Saving {Path(path).name}…")
        self.worker.submit_save(self.session, str(path), self.image_size)

    def open_session(self, path: str) -> None:
        """Read the session saved with a still or a morph export at ``path`` (the PNG, GIF, MP4,
        folder or its JSON sidecar) on the worker, then show it: every control, and the end
        keyframes as renders in slots A and B (which cannot be refined until their photos are
        loaded again). Refused while a photo is being refined."""
        if not self._refusing_to_open():
            self.status.show_info(f"Opening {Path(path).name}…")
            self.worker.submit_open(str(path))

    def undo(self) -> None:
        """Go back one step (``history``): every control and slot as it was; the playhead stays."""
        if self.history.can_undo():
            self._show(self.history.undo(self.session))

    def redo(self) -> None:
        """Go forward again after ``undo``."""
        if self.history.can_redo():
            self._show(self.history.redo(self.session))

    def browse_seeds(self) -> SeedBrowser:
        """Open the seed browser (random seeds' faces at the current ψ); a face clicked there
        becomes the seed. Returns the dialog."""
        browser = SeedBrowser(self.worker, self.session.psi, self)
        browser.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        browser.seed_chosen.connect(self.seed_panel.set_seed)
        browser.open()
        return browser

    def open_face3d(self) -> Face3DDialog:
        """Open the 3D face dialog on the face as set now (its mesh is built on the worker).
        Returns the dialog."""
        dialog = Face3DDialog(self.worker, self.session, self.export_folder, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def copy_image(self) -> None:
        """Put the face as set now on the clipboard, ``image_size``² px, once the worker has made it."""
        self.worker.submit_copy(self.session, self.image_size)

    def export_frames(self, path: str, num_frames: int, fps: int, size: int | None = None) -> None:
        """Export the morph as ``num_frames`` frames of ``size``² px (default: the generator's) to
        ``path`` (folder, .gif or .mp4) on the worker."""
        self.status.show_info(f"Exporting to {path}…")
        self.worker.submit_export(self.session, num_frames, str(path), fps, size)

    def closeEvent(self, event) -> None:
        self.worker.stop()
        super().closeEvent(event)

    def _layout(self) -> QWidget:
        """Face on the left; on the right Face (with style mixing), Directions (the moved ones
        named above a list that scrolls) and Morph, in a column that scrolls as a whole when the
        window is too short for it (a laptop's 768 px)."""
        if self.bundle.directions:
            scroll = QScrollArea()
            scroll.setWidget(self.sliders)
            scroll.setWidgetResizable(True)
            scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            scroll.setMinimumHeight(140)
            directions = _group("Directions", self.sliders.header, scroll)
        else:
            empty = QLabel("These weights come without directions.")
            empty.setProperty("role", "muted")
            directions = _group("Directions", empty)
        controls = QWidget()
        controls.setFixedWidth(PANEL_WIDTH)
        column = QVBoxLayout(controls)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(10)
        column.addWidget(_group("Face", self.seed_panel, self.mixing))
        column.addWidget(directions, 1)
        column.addWidget(_group("Morph", self.morph))
        side = QScrollArea()
        side.setWidget(controls)
        side.setWidgetResizable(True)
        side.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        side.setFixedWidth(PANEL_WIDTH + side.verticalScrollBar().sizeHint().width())

        buttons = QHBoxLayout()
        for action in (self.undo_action, self.redo_action, None, self.open_action, self.copy_action,
                       self.save_action, self.face3d_action):
            if action is None:
                if self.bundle.superres is not None:
                    buttons.addSpacing(12)
                    buttons.addWidget(self.sharp_view)
                buttons.addStretch(1)
                continue
            button = QPushButton(action.text())
            button.setToolTip(action.toolTip())
            button.setEnabled(action.isEnabled())
            button.clicked.connect(action.trigger)
            action.enabledChanged.connect(button.setEnabled)
            buttons.addWidget(button)
        face = QVBoxLayout()
        face.setSpacing(8)
        face.addWidget(self.canvas, 1)
        face.addLayout(buttons)

        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(12, 10, 12, 8)
        row.setSpacing(14)
        row.addLayout(face, 1)
        row.addWidget(side)
        return central

    def _action(self, text: str, keys: QKeySequence.StandardKey | None, slot, tip: str) -> QAction:
        """A window-wide action with a standard shortcut (said in its tooltip), or none."""
        action = QAction(text, self)
        action.setToolTip(tip)
        if keys is not None:
            action.setShortcut(keys)
            action.setToolTip(f"{tip} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})")
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _sharp_view_toggled(self, on: bool) -> None:
        self.worker.set_sharp_view(on)
        self.last_request = self.worker.submit_render(self.session)

    def _choose_image_path(self) -> None:
        stem = f"seed{self.session.seed}" if not any(self.session.keyframes) else "face"
        path, _ = QFileDialog.getSaveFileName(self, "Save image", str(free_path(self.export_folder, stem, ".png")),
                                              "PNG image (*.png)")
        if path:
            self.save_image(path if path.lower().endswith(".png") else f"{path}.png")

    def _edit(self, **changes) -> None:
        """Replace fields of the session and ask for its render (not while ``_show`` sets the
        controls to a session: they then follow it, not the other way round)."""
        if self._showing:
            return
        before, self.session = self.session, replace(self.session, **changes)
        self._recorded(before)
        self.last_request = self.worker.submit_render(self.session)

    def _style_reference(self, session: Session) -> Keyframe | None:
        """The mixing panel's reference face in ``session``: a seed, the photo in slot A or B
        (None while that slot is empty), or None when mixing is off."""
        source = self.mixing.source()
        if source == "seed":
            return Keyframe.from_seed(self.mixing.seed())
        if source in SLOT_INDEX:
            return session.keyframes[SLOT_INDEX[source]]
        return None

    def _mixing_changed(self) -> None:
        if self._showing:
            return
        source = self.mixing.source()
        if source in SLOT_INDEX and self.session.keyframes[SLOT_INDEX[source]] is None:
            self.status.show_error(f"Load photo {source} first to mix in its layers")
        self._edit(style=self._style_reference(self.session), style_groups=self.mixing.groups())

    def _rendered(self, result: RenderResult) -> None:
        self.shown = result
        self.canvas.set_image(result.image)
        self.status.set_render_ms(result.ms)

    def _encoded(self, slot: str, photo: EncodedPhoto) -> None:
        if slot.startswith(MIDDLE):
            self._add_keyframe(float(slot[len(MIDDLE):]), Keyframe.from_photo(photo.path, photo.ws))
            return
        faces = ""
        if photo.num_faces > 1:
            which = "the largest" if photo.face == 0 else f"face {photo.face + 1} by size"
            faces = f" ({photo.num_faces} faces found; used {which}; ⇆ picks another)"
        self.status.show_info(f"{photo.path.name} loaded as {slot}{faces}; Refine makes it more like the photo")
        self._put_in_slot(slot, SlotView(Keyframe.from_photo(photo.path, photo.ws), photo, photo.path.name,
                                         np.asarray(photo.aligned)))

    def _cancel_refine(self, slot: str) -> None:
        """Called here, not connected to the worker: its own thread is busy with the refinement."""
        self.worker.cancel_refine(slot)

    def _refine_progress(self, slot: str, step: int, steps: int) -> None:
        self.morph.slots[slot].show_progress(step, steps)

    def _refined(self, slot: str, photo: EncodedPhoto | None) -> None:
        original = self._refining.pop(slot)
        self.morph.slots[slot].set_refining(False)
        if self.photos.get(slot) is not original:          # another photo was loaded meanwhile
            return
        if photo is None:
            if not self.status.is_error():
                self.status.show_info(f"Refining {original.path.name} stopped; {slot} is as it was")
            return
        self.status.show_info(f"{photo.path.name} refined ({self.refine_steps} steps of projection)")
        self._put_in_slot(slot, SlotView(Keyframe.from_photo(photo.path, photo.ws), photo,
                                         f"{photo.path.name} (refined)", np.asarray(photo.aligned)))

    def _clear_photo(self, slot: str) -> None:
        self._show_slot(slot, None)
        self._set_keyframe(slot, None)

    def _put_in_slot(self, slot: str, view: SlotView) -> None:
        self._views.append(view)
        self._show_slot(slot, view)
        self._set_keyframe(slot, view.key)

    def _show_slot(self, slot: str, view: SlotView | None) -> None:
        """Show ``view`` in photo slot ``slot`` (None: empty), its photo in ``photos``."""
        if view is None or view.photo is None:
            self.photos.pop(slot, None)
        else:
            self.photos[slot] = view.photo
        if view is None:
            self.morph.clear_photo(slot)
            return
        face, num_faces = (0, 1) if view.photo is None else (view.photo.face, view.photo.num_faces)
        self.morph.set_photo(slot, view.caption, view.thumbnail, face, num_faces, refinable=view.photo is not None)

    def _set_keyframe(self, slot: str, key: Keyframe | None) -> None:
        self._set_session(self.session.with_keyframe(SLOT_INDEX[slot], key))

    def _keyframe_refused(self, t: float) -> bool:
        """Whether a keyframe cannot go at ``t`` (the status bar says why)."""
        if self.session.has_room_for_keyframe(t):
            return False
        self.status.show_error(f"No room for a keyframe at t = {t:.2f}: move the playhead between A and B, "
                               f"at least {MIN_KEY_GAP} from the other keyframes")
        return True

    def _add_keyframe(self, t: float, key: Keyframe) -> None:
        if self._keyframe_refused(t):
            return
        self._set_session(self.session.with_added_keyframe(t, key))
        self.status.show_info(f"Added {_label(key)} as keyframe {self.session.times.index(t)} at t = {t:.2f}")

    def _set_session(self, session: Session) -> None:
        """Replace the session after a keyframe change (the style reference follows its photo):
        timeline markers, then the render."""
        before, self.session = self.session, replace(session, style=self._style_reference(session))
        self._recorded(before)
        self.morph.set_middle_keyframes(session.times[1:-1])
        self._show_seed_note()
        self.last_request = self.worker.submit_render(self.session)

    def _show_seed_note(self) -> None:
        """Say at the seed when it is not in view: every keyframe is set (none stands for the seed)."""
        self.seed_panel.set_seed_shown(None in self.session.keyframes)

    def _recorded(self, before: Session) -> None:
        """Note the change from ``before`` to ``session`` in ``history``."""
        self.history.record(before, self.session)
        self._update_undo()

    def _show(self, session: Session) -> None:
        """Make ``session`` the document: slots A and B (from the keyframes they have shown),
        every control, then the render. Records nothing."""
        for slot, index in SLOT_INDEX.items():
            key = session.keyframes[index]
            self._show_slot(slot, None if key is None else next(v for v in reversed(self._views) if v.key is key))
        style = session.style
        source = ("off" if style is None else "seed" if style.seed is not None else
                  next((slot for slot, index in SLOT_INDEX.items() if session.keyframes[index] == style), "off"))
        self._showing = True
        try:
            self.seed_panel.set_seed(session.seed)
            self.seed_panel.set_psi(session.psi)
            self.sliders.set_values(session.sliders)
            self.sliders.set_conditions(session.conditions)
            self.mixing.set_reference(source, style.seed if style is not None else None, session.style_groups)
            self.morph.timing.set_timing(session.easing, session.windows)
            self.morph.set_middle_keyframes(session.times[1:-1])
            self.morph.set_t(session.morph_t)
        finally:
            self._showing = False
        self.session = session
        self._show_seed_note()
        self._update_undo()
        self.last_request = self.worker.submit_render(session)

    def _update_undo(self) -> None:
        self.undo_action.setEnabled(self.history.can_undo())
        self.redo_action.setEnabled(self.history.can_redo())

    def _refusing_to_open(self) -> bool:
        if self._refining:
            self.status.show_error("A photo is being refined: wait for it or cancel it, then open")
        return bool(self._refining)

    def _opened(self, path: str, session: Session, thumbnails: dict[str, np.ndarray]) -> None:
        if self._refusing_to_open():            # a refinement began while the file was read
            return
        self._views += [SlotView(key, None, key.label, thumbnails[slot])
                        for slot, key in (("A", session.key_a), ("B", session.key_b)) if key is not None]
        before = self.session
        self._show(session)
        self._recorded(before)
        self._session_folder = Path(path).parent
        self.status.show_info(f"Opened {Path(path).name}")

    def _choose_session(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a saved face or morph", str(self.export_folder),
                                              "Saved faces and morphs (*.png *.json *.gif *.mp4 *.obj);;All files (*)")
        if path:
            self.open_session(path)

    def _export_progress(self, done: int, total: int) -> None:
        self.status.show_info(f"Exporting frame {done}/{total}…")

    def _copied(self, image: np.ndarray) -> None:
        QGuiApplication.clipboard().setImage(to_qimage(image))
        side = image.shape[0]
        self.status.show_info(f"Copied the face ({side}×{side} px) to the clipboard")

    def _exported(self, path: str) -> None:
        self.export_folder = Path(path).parent
        self.status.show_saved(Path(path))

    def _open_export_dialog(self) -> None:
        player = self.morph.player
        dialog = ExportDialog(self.worker, self.session, self.export_folder, self, player.frames, player.fps)
        dialog.speed_changed.connect(player.set_speed)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()


def _label(key: Keyframe | None) -> str:
    return "the seed" if key is None else key.label


def _group(title: str, *contents: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    for content in contents:
        layout.addWidget(content)
    return box


def run_app(weights: Path | None = None, device: str = "auto") -> int:
    """Open the explorer on the weights folder (default: the bundled weights/) and run it.

    Returns the exit code: 0 after the window is closed, 1 when the weights cannot be loaded
    (the message goes to stderr as ``error: …`` and, on a real screen, to a dialog).
    """
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(TITLE)
    app.setWindowIcon(QIcon(str(ICON)))
    apply_dark_theme(app)
    try:
        bundle = load_bundle(weights, device)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        if app.platformName() not in ("offscreen", "minimal"):
            QMessageBox.critical(None, TITLE, str(e))
        return 1
    window = MainWindow(bundle)
    window.show()
    return app.exec()
