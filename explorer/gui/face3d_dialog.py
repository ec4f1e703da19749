""""3D face…": the face on screen as a textured 3D mesh, turned and tilted with two sliders, saved
as OBJ for 3D tools or as a turntable video. The mesh and every view of it are made on the worker."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from explorer.face3d import FaceMesh
from explorer.gui.canvas import to_qimage
from explorer.gui.export_dialog import free_path
from explorer.session import Session
from explorer.worker import InferenceWorker, MeshView

VIEW_SIDE = 360          # px of the preview
MAX_YAW = 80             # degrees either way
MAX_PITCH = 40
DEGREES_PER_PX = 0.5     # dragging the picture turns the face by this much a pixel


class MeshPicture(QLabel):
    """The preview: a label that turns the face when dragged.

    Signals:
        dragged(dx, dy): the mouse moved by (dx, dy) px with a button held.
    """

    dragged = Signal(int, int)

    def __init__(self, text: str):
        super().__init__(text, alignment=Qt.AlignmentFlag.AlignCenter)
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        self.setToolTip("Drag to turn and tilt the face")
        self._last: QPoint | None = None

    def mousePressEvent(self, event) -> None:
        self._last = event.position().toPoint()
        self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event) -> None:
        if self._last is not None:
            here = event.position().toPoint()
            self.dragged.emit(here.x() - self._last.x(), here.y() - self._last.y())
            self._last = here

    def mouseReleaseEvent(self, event) -> None:
        self._last = None
        self.setCursor(Qt.CursorShape.OpenHandCursor)


class Face3DDialog(QDialog):
    """Shows the 3D face of ``session``: built on the worker when the dialog opens, then drawn
    from the side the sliders (or a drag on the picture) ask for, newest view winning.
    "Save OBJ…" writes the mesh, its material, texture and sidecar beside each other
    (``export.save_mesh``); "Save turntable…" a looping MP4 or GIF of it turning ±45°
    (``export.export_turntable``).

    Attributes:
        mesh: the 3D face once the worker has made it, else None.
        view: the view on show (its angles and uint8 picture), or None.
    """

    def __init__(self, worker: InferenceWorker, session: Session, folder: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("3D face")
        self._worker, self._session, self._folder = worker, session, folder
        self.mesh: FaceMesh | None = None
        self.view: MeshView | None = None
        self.picture = MeshPicture("Building the 3D face…")
        self.picture.setFixedSize(VIEW_SIDE, VIEW_SIDE)
        self.picture.dragged.connect(self._dragged)
        self.yaw = _slider(MAX_YAW, "Turn the face left or right (degrees)")
        self.pitch = _slider(MAX_PITCH, "Tilt the chin up or down (degrees)")
        for slider in (self.yaw, self.pitch):
            slider.valueChanged.connect(self._ask_view)
        form = QFormLayout()
        for name, slider in (("Turn", self.yaw), ("Tilt", self.pitch)):
            degrees = QLabel("0°", minimumWidth=36, alignment=Qt.AlignmentFlag.AlignRight)
            slider.valueChanged.connect(lambda value, label=degrees: label.setText(f"{value}°"))
            row = QHBoxLayout()
            row.addWidget(slider, 1)
            row.addWidget(degrees)
            form.addRow(name, row)
        note = QLabel("468 vertices from the face (MediaPipe Face Mesh), painted with the face at twice "
                      "the generator's size. The .obj opens in Blender and other 3D tools.", wordWrap=True)
        note.setProperty("role", "muted")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.save_button = QPushButton("Save OBJ…", enabled=False, toolTip="Save the mesh as .obj, with its "
                                       ".mtl material, .png texture and a .json that records how the face was made")
        self.turntable_button = QPushButton("Save turntable…", enabled=False,
                                            toolTip="Save a 3-second loop of the face turning ±45°, as MP4 or GIF")
        front = QPushButton("Front view", toolTip="Turn and tilt back to 0°")
        buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.turntable_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(front, QDialogButtonBox.ButtonRole.ResetRole)
        self.save_button.clicked.connect(self._choose_path)
        self.turntable_button.clicked.connect(self._choose_turntable_path)
        front.clicked.connect(self.front_view)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.picture, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)
        worker.meshed.connect(self._meshed)
        worker.mesh_viewed.connect(self._viewed)
        worker.failed.connect(self._failed)
        worker.submit_mesh(session)

    def front_view(self) -> None:
        """Turn and tilt back to 0°."""
        self.yaw.setValue(0)
        self.pitch.setValue(0)

    def save(self, path: str) -> None:
        """Save the mesh as ``path`` (.obj, with .mtl, .png and .json beside it) on the worker."""
        if self.mesh is not None:
            self._worker.submit_save_mesh(self._session, self.mesh, path)

    def save_turntable(self, path: str) -> None:
        """Export the mesh's turntable to ``path`` (.mp4, .gif, or a folder of PNGs) on the worker,
        its sidecar beside it; the main window's status bar shows the progress."""
        if self.mesh is not None:
            self._worker.submit_turntable(self._session, self.mesh, path)

    def _meshed(self, session: Session, mesh: FaceMesh) -> None:
        if session is not self._session:              # another dialog's face
            return
        self.mesh = mesh
        self.save_button.setEnabled(True)
        self.turntable_button.setEnabled(True)
        self._ask_view()

    def _dragged(self, dx: int, dy: int) -> None:
        """Dragging right turns the face to the viewer's right; dragging up tilts the chin up."""
        self.yaw.setValue(self.yaw.value() + round(dx * DEGREES_PER_PX))
        self.pitch.setValue(self.pitch.value() - round(dy * DEGREES_PER_PX))

    def _ask_view(self) -> None:
        if self.mesh is not None:
            self._worker.submit_mesh_view(self.mesh, self.yaw.value(), self.pitch.value(), VIEW_SIDE)

    def _viewed(self, view: MeshView) -> None:
        if view.mesh is not self.mesh:
            return
        self.view = view
        self.picture.setPixmap(QPixmap.fromImage(to_qimage(view.image)))

    def _failed(self, message: str) -> None:
        if self.mesh is None:
            self.picture.setText(message)

    def _choose_path(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save 3D face", str(free_path(self._folder, "face-3d", ".obj")),
                                              "Wavefront OBJ (*.obj)")
        if path:
            self.save(path if path.lower().endswith(".obj") else f"{path}.obj")

    def _choose_turntable_path(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(self, "Save turntable",
                                                   str(free_path(self._folder, "face-3d-turntable", ".mp4")),
                                                   "MP4 video (*.mp4);;GIF animation (*.gif)")
        if path:
            suffix = ".gif" if chosen.startswith("GIF") else ".mp4"
            self.save_turntable(path if path.lower().endswith((".mp4", ".gif")) else f"{path}{suffix}")


def _slider(limit: int, tip: str) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal, minimum=-limit, maximum=limit, value=0, toolTip=tip)
    slider.setTickPosition(QSlider.TickPosition.TicksBelow)
    slider.setTickInterval(limit // 2)
    return slider
