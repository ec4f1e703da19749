"""The direction sliders: one per semantic direction, in σ units, plus "Reset all"."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from explorer.directions import Direction
from explorer.gui.value_slider import ValueSlider

STEP = 0.1  # σ
UNSUPERVISED = ("sefa", "ganspace")   # methods whose directions are numbered components, not attributes


class DirectionSliders(QWidget):
    """One ``ValueSlider`` per direction (its min..max in steps of 0.1 σ, default 0): the named
    attributes (age, gender, pose, …) first, then the unsupervised components, each in stored order.
    Right-clicking a slider offers "Rename…" (e.g. "Component 3 (layers 0–3)" → "Hair length").

    Signals:
        changed(): any slider moved, or all were reset (one signal for the lot).
        rename_requested(name, label): the user gave direction ``name`` a new label.

    Attributes:
        sliders: direction name → its ValueSlider.
    """

    changed = Signal()
    rename_requested = Signal(str, str)

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
            slider.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            slider.customContextMenuRequested.connect(lambda pos, name=d.name: self._menu(name, pos))
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

    def set_label(self, name: str, label: str) -> None:
        """Show ``label`` above direction ``name``'s slider."""
        self.sliders[name].name_label.setText(label)
        self.sliders[name].name_label.setToolTip(label)

    def ask_rename(self, name: str) -> None:
        """Ask for a new label for direction ``name``; emits ``rename_requested`` unless cancelled or unchanged."""
        current = self.sliders[name].name_label.text()
        label, ok = QInputDialog.getText(self, "Rename direction", f"New name for {current!r}:", text=current)
        if ok and label.strip() and label.strip() != current:
            self.rename_requested.emit(name, label.strip())

    def _menu(self, name: str, pos) -> None:
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: self.ask_rename(name))
        menu.exec(self.sliders[name].mapToGlobal(pos))

    def reset_all(self) -> None:
        """Put every slider back to 0, then emit ``changed`` once."""
        for slider in self.sliders.values():
            slider.blockSignals(True)
            slider.reset()
            slider.blockSignals(False)
        self.changed.emit()
