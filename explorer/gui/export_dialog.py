""""Export frames…": frame count, fps, size and how it is reached, pace, format and destination; runs on
the worker with progress."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.export import DEFAULT_SIZE_FACTOR, sidecar_path, upscale_method
from explorer.gui.player import FPS, FRAMES
from explorer.morph import PACES
from explorer.session import Session
from explorer.worker import InferenceWorker

KINDS = {"MP4 video": ".mp4", "GIF animation": ".gif", "PNG folder": ""}
PACE_NAMES = {"perceptual": "Even change", "time": "Even time"}
SIZE_FACTORS = (1, 2, 4, 8)      # frame sizes offered, in multiples of the generator's resolution


def free_path(folder: Path, stem: str, suffix: str) -> Path:
    """``folder/stem+suffix``, or ``stem-2``, ``stem-3`` … : the first name not taken (with its sidecar)."""
    n = 1
    while True:
        path = folder / f"{stem if n == 1 else f'{stem}-{n}'}{suffix}"
        if not path.exists() and not sidecar_path(path).exists():
            return path
        n += 1


def duration(seconds: float) -> str:
    """A clip's length as an artist reads it: "0.10 s", "2.0 s", "1 min 6.7 s"."""
    if seconds < 1:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(round(seconds, 1), 60)
    return f"{rest:.1f} s" if not minutes else f"{minutes:.0f} min {rest:.1f} s"


class ExportDialog(QDialog):
    """Exports ``session``'s morph A → B through ``worker``, showing progress and errors.
    The dialog may be closed while the export runs; the main window reports the result.

    Signals:
        speed_changed(frames, fps): the frame count or fps was changed (the window plays at it).
    """

    speed_changed = Signal(int, int)

    def __init__(self, worker: InferenceWorker, session: Session, folder: Path, parent: QWidget | None = None,
                 frames: int = FRAMES, fps: int = FPS):
        """Offers ``folder`` to save in, ``frames`` frames at ``fps``."""
        super().__init__(parent)
        self.setWindowTitle("Export frames")
        self.setMinimumWidth(480)
        self._worker, self._session, self._running = worker, session, False
        self.frames = QSpinBox(minimum=2, maximum=2000, value=frames)
        self.fps = QSpinBox(minimum=1, maximum=60, value=fps, suffix=" fps")
        self.length = QLabel()
        self.length.setProperty("role", "muted")
        for box in (self.frames, self.fps):
            box.valueChanged.connect(self._show_length)
        self._show_length()
        self.kind = QComboBox()
        self.kind.addItems(list(KINDS))
        resolution = worker.bundle.resolution
        self.size = QComboBox(toolTip="Frame size, in multiples of the generator's")
        for factor in SIZE_FACTORS:
            self.size.addItem(f"{resolution * factor} px" + (" (as generated)" if factor == 1 else ""),
                              resolution * factor)
        self.size.setCurrentIndex(SIZE_FACTORS.index(DEFAULT_SIZE_FACTOR))
        self.upscale = QComboBox(toolTip="How larger frames are made. Face super-resolution: a network trained on "
                                         f"real faces draws them at {2 * resolution} px with new detail (skin, "
                                         "hair, eyes), then Lanczos resizes. Lanczos: a smooth enlargement with "
                                         "no new detail.")
        if worker.bundle.superres is not None:
            self.upscale.addItem("Face super-resolution", "superres")
        self.upscale.addItem("Lanczos", "lanczos")
        self.upscale.setCurrentIndex(self.upscale.findData(upscale_method(worker.bundle)))
        self.size.currentIndexChanged.connect(self._size_changed)
        self._size_changed()
        self.pace = QComboBox(toolTip="Even change: frames spaced so each differs from the next by about as much "
                                      "(no jumps where the face changes fast). Even time: frames at equal steps "
                                      "of the timeline, as the morph slider scrubs.")
        for name in PACES:
            self.pace.addItem(PACE_NAMES[name], name)
        self.path = QLineEdit(str(free_path(folder, "morph", KINDS[self.kind.currentText()])))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.kind.currentTextChanged.connect(self._kind_changed)
        self.progress = QProgressBar()
        self.progress.hide()
        self.message = QLabel(wordWrap=True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = buttons.addButton("Export", QDialogButtonBox.ButtonRole.ActionRole)
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self._export)
        buttons.rejected.connect(self.reject)

        destination = QHBoxLayout()
        destination.addWidget(self.path, 1)
        destination.addWidget(browse)
        self.form = QFormLayout()
        self.form.addRow("Frames", self.frames)
        speed = QHBoxLayout()
        speed.addWidget(self.fps, 1)
        speed.addWidget(self.length)
        self.form.addRow("Speed", speed)
        self.form.addRow("Pace", self.pace)
        self.form.addRow("Size", self.size)
        self.form.addRow("Enlarge with", self.upscale)
        self.form.addRow("Format", self.kind)
        self.form.addRow("Save to", destination)
        layout = QVBoxLayout(self)
        layout.setSpacing(12)
        layout.addLayout(self.form)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self._form_widgets = (self.frames, self.fps, self.size, self.upscale, self.pace, self.kind, self.path,
                              browse, self.export_button)
        worker.progress.connect(self._progress)
        worker.exported.connect(self._exported)
        worker.failed.connect(self._failed)

    def _show_length(self) -> None:
        self.length.setText(duration(self.frames.value() / self.fps.value()))
        self.speed_changed.emit(self.frames.value(), self.fps.value())

    def _size_changed(self) -> None:
        """Only frames larger than the generator's are enlarged, and only a choice is worth asking."""
        self.upscale.setEnabled(self.size.currentData() > self._worker.bundle.resolution and self.upscale.count() > 1)

    def _kind_changed(self, kind: str) -> None:
        self.path.setText(str(Path(self.path.text()).with_suffix(KINDS[kind])))

    def _browse(self) -> None:
        suffix = KINDS[self.kind.currentText()]
        name_filter = f"{self.kind.currentText()} (*{suffix})" if suffix else "Folder name (*)"
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.path.text(), name_filter,
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        if path:
            self.path.setText(str(Path(path).with_suffix(suffix)))

    def _export(self) -> None:
        text = self.path.text().strip()
        if not text:
            self._show("Choose where to save the frames.", error=True)
            return
        self._set_running(True)
        self._show("")
        self.progress.setRange(0, self.frames.value())
        self.progress.setValue(0)
        self.progress.show()
        session = replace(self._session, pace=self.pace.currentData())
        self._worker.submit_export(session, self.frames.value(), str(Path(text).expanduser()), self.fps.value(),
                                   self.size.currentData(), self.upscale.currentData())

    def _progress(self, done: int, total: int) -> None:
        if self._running:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    def _exported(self, path: str) -> None:
        if self._running:
            self._set_running(False)
            self._show(f"Saved {path}")
            done = Path(path)
            self.path.setText(str(free_path(done.parent, re.sub(r"-\d+$", "", done.stem), done.suffix)))

    def _failed(self, message: str) -> None:
        if self._running:
            self._set_running(False)
            self.progress.hide()
            self._show(message, error=True)

    def _set_running(self, running: bool) -> None:
        self._running = running
        for widget in self._form_widgets:
            widget.setEnabled(not running)
        if not running:
            self._size_changed()

    def _show(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setProperty("role", "error" if error else "")
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)
