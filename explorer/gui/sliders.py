"""The direction sliders: one per semantic direction, in σ units, plus "Reset all"."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from explorer.directions import Direction
from explorer.gui.value_slider import ValueSlider

STEP = 0.1  # σ
UNSUPERVISED = ("sefa", "ganspace")   # methods whose directions are numbered components, not attributes


class DirectionSliders(QWidget):
    """One ``ValueSlider`` per direction (its min..max in steps of 0.1 σ, default 0): the named
    attributes (age, gender, pose, …) first, then the unsupervised components, each in stored order.

    Signals:
        changed(): any slider moved, or all were reset (one signal for the lot).

    Attributes:
        sliders: direction name → its ValueSlider.
    """

    changed = Signal()

    def __init__(self, directions: list[Direction], parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.sliders: dict[str, ValueSlider] = {}
        for d in sorted(directions, key=lambda d: d.method in UNSUPERVISED):
            slider = ValueSlider(d.label, d.min, d.max, STEP, 0.0, "{:+.1f} σ")
            slider.setToolTip(f"{d.name}: {d.method}, W+ layers {d.layers.start}–{d.layers.stop - 1}")
            slider.valueChanged.connect(self.changed)
            layout.addWidget(slider)
            self.sliders[d.name] = slider
        reset_all = QPushButton("Reset all")
        reset_all.setEnabled(bool(directions))
        reset_all.clicked.connect(self.reset_all)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(reset_all)
        layout.addLayout(row)

    def values(self) -> dict[str, float]:
        """Direction name → value, for the sliders away from 0."""
        return {name: s.value() for name, s in self.sliders.items() if s.value()}

    def reset_all(self) -> None:
        """Put every slider back to 0, then emit ``changed`` once."""
        for slider in self.sliders.values():
            slider.blockSignals(True)
            slider.reset()
            slider.blockSignals(False)
        self.changed.emit()
