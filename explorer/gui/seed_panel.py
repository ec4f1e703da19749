"""The face to start from: seed (with "Random" and "Browse…" buttons) and truncation ψ."""

from __future__ import annotations

import random

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from explorer.gui.value_slider import ValueSlider

MAX_SEED = 2 ** 32 - 1
NOT_SHOWN = ("Not in view: the view shows the morph from A to B.\n"
             "Clear A or B to see this seed, or add it as a keyframe.")


def seed_spin_box(seed: int = 0) -> QDoubleSpinBox:
    """A spin box for seeds 0 .. 2³²−1 (QSpinBox stops at 2³¹−1), showing ``seed``."""
    box = QDoubleSpinBox()
    box.setDecimals(0)
    box.setRange(0, MAX_SEED)
    box.setGroupSeparatorShown(False)
    box.setValue(seed)
    return box


class SeedPanel(QWidget):
    """Seed spin box (0 .. 2³²−1), "Random", "Browse…", a note when the seed is not in view
    (``set_seed_shown``), and the ψ slider (0 .. 1.5).

    Signals:
        changed(): the seed or ψ changed.
        browse_requested(): "Browse…" was pressed.
    """

    changed = Signal()
    browse_requested = Signal()

    def __init__(self, seed: int, psi: float, parent: QWidget | None = None):
        super().__init__(parent)
        self.seed_box = seed_spin_box(seed)
        self.seed_box.setToolTip("Which face: every seed is a different random z")
        random_button = QPushButton("Random")
        random_button.setToolTip("Jump to a random seed")
        random_button.clicked.connect(lambda: self.set_seed(random.randint(0, MAX_SEED)))
        self.browse_button = QPushButton("Browse…")
        self.browse_button.setToolTip("Pick a face from a grid of random seeds")
        self.browse_button.clicked.connect(self.browse_requested)
        self.psi_slider = ValueSlider("Truncation ψ", 0.0, 1.5, 0.01, psi, "{:.2f}")
        self.psi_slider.setToolTip("Lower: closer to the average face, cleaner; higher: more varied")
        self.seed_note = QLabel(NOT_SHOWN)     # not word-wrapped: that would stretch the side column to its full height
        self.seed_note.setProperty("role", "muted")
        self.seed_note.hide()
        self.seed_box.valueChanged.connect(self.changed)
        self.psi_slider.valueChanged.connect(self.changed)

        row = QHBoxLayout()
        row.addWidget(QLabel("Seed"))
        row.addWidget(self.seed_box, 1)
        row.addWidget(random_button)
        row.addWidget(self.browse_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addLayout(row)
        layout.addWidget(self.seed_note)
        layout.addWidget(self.psi_slider)

    def seed(self) -> int:
        return int(self.seed_box.value())

    def set_seed(self, seed: int) -> None:
        self.seed_box.setValue(seed)

    def set_seed_shown(self, shown: bool) -> None:
        """Whether the view shows the seed; when not, a note under it says why."""
        self.seed_note.setVisible(not shown)

    def set_psi(self, psi: float) -> None:
        self.psi_slider.setValue(psi)

    def psi(self) -> float:
        return self.psi_slider.value()
