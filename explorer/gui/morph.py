"""Keyframes A and B (photos, each refinable by projection), the morph timeline between them
with any keyframes added in between (photos or seeds), and the morph's timing."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QMimeData, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QKeySequence, QPainter, QPixmap, QPolygonF
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.gui.canvas import to_qimage
from explorer.gui.player import MorphPlayer
from explorer.gui.theme import ACCENT, DIMMED
from explorer.gui.timeline import MorphTimeline
from explorer.gui.timing import MorphTiming

THUMBNAIL = 112
AT_KEYFRAME = 0.005               # the playhead is on a keyframe when this close to its time
REFINE_TIP = "Fit the W+ closer to the photo by projection (a few seconds; the morph stays usable)"
PHOTO_FILTER = "Photos (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff);;All files (*)"
PLAY_TIP = "Play the morph at the export's speed (Space)"
PAUSE_TIP = "Pause (Space)"
PLAY_ICON = 20                    # px


class PhotoSlot(QFrame):
    """One keyframe: thumbnail of the aligned crop, file name, "Load X…", "Refine" and clear.
    A photo file dropped on the slot loads as "Load X…" does. While the photo is refined, the
    buttons give way to a progress bar and "Cancel", and the photo cannot be replaced or cleared.

    Attributes:
        loaded: whether a photo is shown.
        refining: whether a refinement runs.

    Signals:
        chosen(path): a photo was picked in the file dialog or dropped on the slot.
        cleared(): the ✕ was pressed.
        refine_requested(): "Refine" was pressed.
        refine_cancelled(): "Cancel" was pressed during a refinement.
        face_requested(): "next face" was pressed (shown when the photo holds several faces).
    """

    chosen = Signal(str)
    cleared = Signal()
    refine_requested = Signal()
    refine_cancelled = Signal()
    face_requested = Signal()

    def __init__(self, slot: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.slot = slot
        self.thumbnail = QLabel(slot)
        self.thumbnail.setFixedSize(THUMBNAIL, THUMBNAIL)
        self.thumbnail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption = QLabel()
        self.caption.setProperty("role", "muted")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setFixedWidth(THUMBNAIL + 28)
        self.clear_button = QToolButton(text="✕", toolTip=f"Clear {slot}")
        self.clear_button.clicked.connect(self.cleared)
        policy = self.clear_button.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.clear_button.setSizePolicy(policy)
        self.face_button = QToolButton(text="⇆")
        self.face_button.clicked.connect(self.face_requested)
        self.face_button.setSizePolicy(policy)
        self.load_button = QPushButton(f"Load {slot}…", toolTip=f"Load a photo as keyframe {slot}")
        self.load_button.clicked.connect(self._choose)
        self.refine_button = QPushButton("Refine", toolTip=REFINE_TIP)
        self.refine_button.clicked.connect(self.refine_requested)
        self.progress = QProgressBar(textVisible=False)
        self.cancel_button = QPushButton("Cancel", toolTip="Stop refining and keep the W+ as it was")
        self.cancel_button.clicked.connect(self._cancel)
        self.refining = False
        self.actions = QStackedWidget()
        for widgets in ((self.load_button, self.refine_button), (self.progress, self.cancel_button)):
            page = QWidget()
            row = QHBoxLayout(page)
            row.setContentsMargins(0, 0, 0, 0)
            row.setSpacing(6)
            for widget in widgets:
                row.addWidget(widget, 1 if widget is not self.cancel_button else 0)
            self.actions.addWidget(page)
        self.actions.setFixedHeight(self.load_button.sizeHint().height())

        top = QHBoxLayout()
        top.addStretch(1)
        top.addWidget(self.thumbnail)
        side = QVBoxLayout()
        side.addWidget(self.clear_button)
        side.addWidget(self.face_button)
        side.addStretch(1)
        top.addLayout(side)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addWidget(self.caption, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.actions)
        self.setAcceptDrops(True)
        self.clear()

    def dragEnterEvent(self, event) -> None:
        if not self.refining and _dropped_file(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        path = _dropped_file(event.mimeData())
        if not self.refining and path is not None:
            event.acceptProposedAction()
            self.chosen.emit(path)

    def set_photo(self, name: str, aligned: np.ndarray, face: int = 0, num_faces: int = 1,
                  refinable: bool = True) -> None:
        """Show the aligned crop (uint8 [H, W, 3]) of face ``face`` (0: the largest) of photo
        ``name``, which holds ``num_faces`` faces; with several, "⇆" offers the next one.
        ``refinable`` False: a keyframe opened from a saved session (``aligned`` is then its
        render), which has no photo crop to refine towards."""
        pixmap = QPixmap.fromImage(to_qimage(aligned)).scaled(
            THUMBNAIL, THUMBNAIL, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        self.thumbnail.setPixmap(pixmap)
        self.thumbnail.setStyleSheet("border: 1px solid #3a3e45; border-radius: 4px;")
        self._set_caption(name if num_faces == 1 else f"{name} · {face + 1}/{num_faces}")
        self.clear_button.show()
        self.face_button.setVisible(num_faces > 1)
        self.face_button.setToolTip(f"This photo holds {num_faces} faces: use face {(face + 1) % num_faces + 1} "
                                    "(by size, largest first)")
        self.loaded = True
        self.refine_button.setEnabled(refinable)
        self.refine_button.setToolTip(REFINE_TIP if refinable else "Opened from a saved session: load the photo "
                                                                   "again to refine it")

    def clear(self) -> None:
        """Back to the empty look: the slot letter in a dashed box."""
        self.thumbnail.clear()
        self.thumbnail.setText(self.slot)
        self.thumbnail.setStyleSheet(f"border: 1px dashed #4a4f57; border-radius: 4px; color: {DIMMED};"
                                     "font-size: 28px; font-weight: 300;")
        self._set_caption("empty: the seed")
        self.clear_button.hide()
        self.face_button.hide()
        self.loaded = False
        self.refine_button.setEnabled(False)

    def set_refining(self, refining: bool) -> None:
        """Show the progress bar and "Cancel" (True) or the buttons again (False)."""
        self.refining = refining
        if refining:
            self.progress.setRange(0, 0)                # busy until the first step reports
            self.cancel_button.setEnabled(True)
            self.cancel_button.setText("Cancel")
        self.actions.setCurrentIndex(int(refining))
        self.clear_button.setEnabled(not refining)
        self.face_button.setEnabled(not refining)

    def show_progress(self, step: int, steps: int) -> None:
        """Refinement step ``step`` of ``steps`` is done."""
        self.progress.setRange(0, steps)
        self.progress.setValue(step)
        self.progress.setToolTip(f"Refining: step {step} of {steps}")

    def _set_caption(self, text: str) -> None:
        metrics = self.caption.fontMetrics()
        self.caption.setText(metrics.elidedText(text, Qt.TextElideMode.ElideMiddle, self.caption.width()))
        self.caption.setToolTip(text)

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Stopping…")
        self.refine_cancelled.emit()

    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Load photo {self.slot}", "", PHOTO_FILTER)
        if path:
            self.chosen.emit(path)


class MorphPanel(QWidget):
    """Photo slots A and B side by side, the A → B timeline (t in [0, 1]) with Play / Pause
    (``play_action``, Space; ``player`` plays at the export's speed, looping while "Loop" is on,
    and moving the playhead pauses it) and its read-out, "Add keyframe" (a photo or the current
    seed at the playhead) and "Remove keyframe" (the one under the playhead), the timing
    (easing, when each W+ layer group moves; ``timing``) and "Export frames…". The timeline,
    playback, keyframes, timing and export are enabled once a photo is loaded or a keyframe added.

    Signals:
        photo_chosen(slot, path), photo_cleared(slot), refine_requested(slot),
        refine_cancelled(slot), face_requested(slot), t_changed(t), export_requested(),
        keyframe_photo_chosen(t, path),
        keyframe_seed_requested(t), keyframe_removed(t); ``timing.changed()``.
    """

    photo_chosen = Signal(str, str)
    photo_cleared = Signal(str)
    refine_requested = Signal(str)
    refine_cancelled = Signal(str)
    face_requested = Signal(str)
    t_changed = Signal(float)
    export_requested = Signal()
    keyframe_photo_chosen = Signal(float, str)
    keyframe_seed_requested = Signal(float)
    keyframe_removed = Signal(float)

    def __init__(self, num_ws: int, parent: QWidget | None = None):
        """``num_ws``: the generator's W+ layer count (names the layers of each group)."""
        super().__init__(parent)
        self.slots = {name: PhotoSlot(name) for name in ("A", "B")}
        for name, slot in self.slots.items():
            slot.chosen.connect(lambda path, name=name: self.photo_chosen.emit(name, path))
            slot.cleared.connect(lambda name=name: self.photo_cleared.emit(name))
            slot.refine_requested.connect(lambda name=name: self.refine_requested.emit(name))
            slot.refine_cancelled.connect(lambda name=name: self.refine_cancelled.emit(name))
            slot.face_requested.connect(lambda name=name: self.face_requested.emit(name))
        self.timing = MorphTiming(num_ws)
        self.timeline = MorphTimeline()
        self.timeline.t_changed.connect(self._moved)
        self.player = MorphPlayer(parent=self)
        self.player.frame.connect(self._play_frame)
        self.player.playing_changed.connect(self._show_playing)
        self._playing_frame = False
        self.play_action = QAction("Play", self, shortcut=QKeySequence(Qt.Key.Key_Space))
        self.play_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.play_action.triggered.connect(self.toggle_play)
        self.play_button = QToolButton()
        self.play_button.setDefaultAction(self.play_action)
        self.play_button.setIconSize(QSize(PLAY_ICON, PLAY_ICON))
        self.loop_box = QCheckBox("Loop", checked=True, toolTip="Start again from A at the end")
        self.loop_box.toggled.connect(lambda on: setattr(self.player, "loop", on))
        self.t_label = QLabel()
        self.t_label.setToolTip("Morph position t: 0 is A, 1 is B")
        self.t_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.t_label.setMinimumWidth(self.t_label.fontMetrics().horizontalAdvance("t = 0.000"))
        self.export_button = QPushButton("Export frames…")
        self.export_button.clicked.connect(self.export_requested)
        self.add_menu = QMenu(self)
        self.add_menu.addAction("Photo…", self._choose_keyframe_photo)
        self.add_menu.addAction("The current seed", lambda: self.keyframe_seed_requested.emit(self.t()))
        self.add_button = QPushButton("Add keyframe", toolTip="Add a keyframe at the playhead, between A and B: "
                                                              "a photo, or the seed of the Face panel")
        self.add_button.setMenu(self.add_menu)
        self.remove_button = QPushButton("Remove keyframe", toolTip="Remove the keyframe under the playhead")
        self.remove_button.clicked.connect(lambda: self.keyframe_removed.emit(self._keyframe_at_playhead()))

        slots = QHBoxLayout()
        slots.addWidget(self.slots["A"])
        slots.addWidget(self.slots["B"])
        timeline = QHBoxLayout()
        timeline.setSpacing(8)
        timeline.addWidget(self.play_button)
        timeline.addWidget(self.timeline, 1)
        timeline.addWidget(self.t_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        keyframes = QHBoxLayout()
        keyframes.addWidget(self.add_button)
        keyframes.addWidget(self.remove_button)
        keyframes.addStretch(1)
        keyframes.addWidget(self.loop_box)
        layout.addLayout(slots)
        layout.addLayout(timeline)
        layout.addLayout(keyframes)
        layout.addWidget(self.timing)
        layout.addWidget(self.export_button)
        self._show_t()
        self._show_playing(False)
        self._update_enabled()

    def t(self) -> float:
        return self.timeline.t()

    def set_t(self, t: float) -> None:
        """Move the playhead to ``t``; emits ``t_changed`` as dragging it does."""
        self.timeline.set_t(t)

    def toggle_play(self) -> None:
        """Play the morph from the playhead, or pause it."""
        if self.player.is_playing():
            self.player.pause()
        elif self.play_action.isEnabled():
            self.player.play(self.t())

    def set_photo(self, slot: str, name: str, aligned: np.ndarray, face: int = 0, num_faces: int = 1,
                  refinable: bool = True) -> None:
        self.slots[slot].set_photo(name, aligned, face, num_faces, refinable)
        self._update_enabled()

    def clear_photo(self, slot: str) -> None:
        self.slots[slot].clear()
        self._update_enabled()

    def set_middle_keyframes(self, times: tuple[float, ...]) -> None:
        """Show the keyframes between A and B at ``times`` on the timeline."""
        self.timeline.set_middle_keyframes(times)
        self._update_enabled()

    def _update_enabled(self) -> None:
        for name, slot in self.slots.items():
            self.timeline.set_loaded(name, slot.loaded)
        active = any(s.loaded for s in self.slots.values()) or bool(self.timeline.middle_times)
        for widget in (self.timeline, self.t_label, self.timing, self.export_button, self.add_button, self.loop_box):
            widget.setEnabled(active)
        self.play_action.setEnabled(active)
        if not active:
            self.player.pause()
        self.remove_button.setEnabled(active and self._keyframe_at_playhead() is not None)

    def _keyframe_at_playhead(self) -> float | None:
        """The time of the keyframe between A and B under the playhead, or None."""
        return next((t for t in self.timeline.middle_times if abs(t - self.t()) <= AT_KEYFRAME), None)

    def _choose_keyframe_photo(self) -> None:
        t = self.t()
        path, _ = QFileDialog.getOpenFileName(self, f"Add a photo keyframe at t = {t:.2f}", "", PHOTO_FILTER)
        if path:
            self.keyframe_photo_chosen.emit(t, path)

    def _play_frame(self, t: float) -> None:
        self._playing_frame = True
        try:
            self.timeline.set_t(t)
        finally:
            self._playing_frame = False

    def _show_playing(self, playing: bool) -> None:
        self.play_action.setIcon(media_icon(playing))
        self.play_action.setText("Pause" if playing else "Play")
        self.play_action.setToolTip(PAUSE_TIP if playing else PLAY_TIP)

    def _moved(self, t: float) -> None:
        if not self._playing_frame:
            self.player.pause()
        self._show_t()
        self.remove_button.setEnabled(self.timeline.isEnabled() and self._keyframe_at_playhead() is not None)
        self.t_changed.emit(t)

    def _show_t(self) -> None:
        self.t_label.setText(f"t = {self.t():.2f}")


def media_icon(playing: bool, side: int = PLAY_ICON) -> QIcon:
    """Pause bars (``playing``) or a play triangle in the accent colour (the style's own are black,
    lost on the dark theme); Qt greys it when disabled."""
    pixmap = QPixmap(side, side)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(ACCENT))
    unit = side / 16
    if playing:
        for left in (3, 9.5):
            painter.drawRect(QRectF(left * unit, 2 * unit, 3.5 * unit, 12 * unit))
    else:
        painter.drawPolygon(QPolygonF([QPointF(4 * unit, 2 * unit), QPointF(14 * unit, 8 * unit),
                                       QPointF(4 * unit, 14 * unit)]))
    painter.end()
    return QIcon(pixmap)


def _dropped_file(mime: QMimeData) -> str | None:
    """The path of the one local file a drag carries, else None."""
    urls = mime.urls() if mime.hasUrls() else []
    return urls[0].toLocalFile() if len(urls) == 1 and urls[0].isLocalFile() else None
