"""The face view: the generator's image scaled up smoothly to fill a square, aspect kept."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from explorer.gui.theme import MUTED

MIN_SIDE = 256    # px: the face stays usable in a window on a 1366 × 768 laptop screen


def to_qimage(image: np.ndarray) -> QImage:
    """uint8 [H, W, 3] RGB → a QImage that owns a copy of the pixels."""
    image = np.ascontiguousarray(image)
    h, w, _ = image.shape
    return QImage(image.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class FaceCanvas(QWidget):
    """Shows one uint8 [R, R, 3] image, centred, as large as the widget allows (bilinear).

    Attributes:
        image: the array shown now, or None before the first render.
    """

    BACKGROUND = QColor("#141518")
    MARGIN = 16

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.image: np.ndarray | None = None
        self._qimage: QImage | None = None
        self.setMinimumSize(MIN_SIDE + 2 * self.MARGIN, MIN_SIDE + 2 * self.MARGIN)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_image(self, image: np.ndarray) -> None:
        """Show ``image`` (uint8 [H, W, 3])."""
        self.image = image
        self._qimage = to_qimage(image)
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.BACKGROUND)
        side = min(self.width(), self.height()) - 2 * self.MARGIN
        target = QRect((self.width() - side) // 2, (self.height() - side) // 2, side, side)
        if self._qimage is None:
            painter.setPen(QColor(MUTED))
            painter.drawText(target, Qt.AlignmentFlag.AlignCenter, "Rendering…")
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(target, self._qimage)
