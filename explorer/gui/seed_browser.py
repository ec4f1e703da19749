"""Browse random seeds: a grid of faces to start from."""

from __future__ import annotations

import random

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QGridLayout, QToolButton, QVBoxLayout, QWidget

from explorer.gui.canvas import to_qimage
from explorer.gui.seed_panel import MAX_SEED
from explorer.worker import InferenceWorker

GRID = 4          # faces per row and per column
FACE = 128        # px on screen per face


class SeedBrowser(QDialog):
    """``GRID``² faces of random seeds at the editor's ψ, rendered on the worker; clicking one
    picks its seed and closes the dialog, "More faces" deals new seeds.

    Signals:
        seed_chosen(seed): a face was clicked.

    Attributes:
        seeds: the seeds on show, row by row.
        buttons: one per face, in the same order.
    """

    seed_chosen = Signal(object)   # an int up to 2³²−1, which a C++ int signal argument cannot carry

    def __init__(self, worker: InferenceWorker, psi: float, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Browse seeds")
        self._worker, self._psi = worker, psi
        self.seeds: list[int] = []
        grid = QGridLayout()
        grid.setSpacing(6)
        self.buttons = []
        for i in range(GRID * GRID):
            button = QToolButton(toolButtonStyle=Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            button.setIconSize(QSize(FACE, FACE))
            button.setFixedSize(FACE + 12, FACE + 30)
            button.clicked.connect(lambda _=False, i=i: self._pick(i))
            grid.addWidget(button, i // GRID, i % GRID)
            self.buttons.append(button)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        more = buttons.addButton("More faces", QDialogButtonBox.ButtonRole.ActionRole)
        more.clicked.connect(self.deal)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(buttons)
        worker.seeds_rendered.connect(self._show)
        self.deal()

    def deal(self) -> None:
        """Show ``GRID``² new random seeds (their faces arrive from the worker)."""
        self.seeds = [random.randint(0, MAX_SEED) for _ in self.buttons]
        for seed, button in zip(self.seeds, self.buttons):
            button.setIcon(QIcon())
            button.setText(str(seed))
            button.setToolTip(f"Seed {seed}")
        self._worker.submit_seeds(self.seeds, self._psi)

    def _show(self, seeds: list[int], images: np.ndarray) -> None:
        if seeds != self.seeds:                   # an earlier deal
            return
        for button, image in zip(self.buttons, images):
            pixmap = QPixmap.fromImage(to_qimage(image)).scaled(
                FACE, FACE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            button.setIcon(QIcon(pixmap))

    def _pick(self, index: int) -> None:
        self.seed_chosen.emit(self.seeds[index])
        self.accept()
