"""The direction sliders: one per semantic direction, in σ units, under a header that names
the moved ones and resets them all."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from explorer.directions import UNSUPERVISED, Direction
from explorer.gui.value_slider import ElidedLabel, ValueSlider

STEP = 0.1  # σ


class DirectionSliders(QWidget):
    """One ``ValueSlider`` per direction (its min..max in steps of 0.1 σ, default 0): the named
    attributes (age, gender, pose, …) first, then the unsupervised components, each in stored order.
    Right-clicking a slider offers "Rename…" (e.g. "Component 3 (layers 0–3)" → "Hair length")
    and, for a named attribute, "Keep unchanged": the other named attributes its slider must not
    move (conditional editing, e.g. age keeping gender), which the slider then notes beside its
    label. ``header`` (for the window to place above the list, which scrolls) says which sliders
    are moved, since most of the list is out of sight, and has "Reset all".

    Signals:
        changed(): any slider moved, or all were reset (one signal for the lot).
        rename_requested(name, label): the user gave direction ``name`` a new label.
        conditions_changed(): the "Keep unchanged" choice of a slider changed (see ``conditions``).

    Attributes:
        sliders: direction name → its ValueSlider.
        header: the moved sliders' names (``moved_label``) and "Reset all".
    """

    changed = Signal()
    rename_requested = Signal(str, str)
    conditions_changed = Signal()

    def __init__(self, directions: list[Direction], parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.sliders: dict[str, ValueSlider] = {}
        self._directions = {d.name: d for d in directions}
        self._conditions: dict[str, tuple[str, ...]] = {}
        for d in sorted(directions, key=lambda d: d.method in UNSUPERVISED):
            slider = ValueSlider(d.label, d.min, d.max, STEP, 0.0, "{:+.1f} σ")
            slider.setToolTip(f"{d.name}: {d.method}, W+ layers {d.layers.start}–{d.layers.stop - 1}")
            slider.valueChanged.connect(self._moved)
            slider.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            slider.customContextMenuRequested.connect(lambda pos, name=d.name: self._menu(name, pos))
            layout.addWidget(slider)
            self.sliders[d.name] = slider
        layout.addStretch(1)
        self.moved_label = ElidedLabel()
        self.moved_label.setProperty("role", "muted")
        self.reset_all_button = QPushButton("Reset all")
        self.reset_all_button.clicked.connect(self.reset_all)
        self.header = QWidget()
        row = QHBoxLayout(self.header)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.moved_label, 1)
        row.addWidget(self.reset_all_button)
        self._show_moved()

    def values(self) -> dict[str, float]:
        """Direction name → value, for the sliders away from 0."""
        return {name: s.value() for name, s in self.sliders.items() if s.value()}

    def set_values(self, values: dict[str, float]) -> None:
        """Set the sliders named in ``values`` (direction name → σ) and the others to 0, then
        emit ``changed`` once."""
        for name, slider in self.sliders.items():
            slider.blockSignals(True)
            slider.setValue(values.get(name, 0.0))
            slider.blockSignals(False)
        self._moved()

    def set_label(self, name: str, label: str) -> None:
        """Show ``label`` for direction ``name``: above its slider, in the header and in the notes
        and menus of the sliders that keep it."""
        self.sliders[name].name_label.setText(label)
        self.sliders[name].name_label.setToolTip(label)
        self._directions[name] = replace(self._directions[name], label=label)
        for other, kept in self._conditions.items():
            if name in kept:
                self._show_kept(other)
        self._show_moved()

    def ask_rename(self, name: str) -> None:
        """Ask for a new label for direction ``name``; emits ``rename_requested`` unless cancelled or unchanged."""
        current = self.sliders[name].name_label.text()
        label, ok = QInputDialog.getText(self, "Rename direction", f"New name for {current!r}:", text=current)
        if ok and label.strip() and label.strip() != current:
            self.rename_requested.emit(name, label.strip())

    def conditions(self) -> dict[str, tuple[str, ...]]:
        """Direction name → the named directions its slider keeps unchanged (only sliders with some)."""
        return dict(self._conditions)

    def set_kept(self, name: str, other: str, kept: bool) -> None:
        """Make direction ``name``'s slider keep ``other`` unchanged (or not); emits ``conditions_changed``."""
        keep = [k for k in self._conditions.get(name, ()) if k != other] + ([other] if kept else [])
        self._conditions = {**self._conditions, name: tuple(keep)} if keep else \
            {k: v for k, v in self._conditions.items() if k != name}
        self._show_kept(name)
        self.conditions_changed.emit()

    def _show_kept(self, name: str) -> None:
        """Say in direction ``name``'s note and tooltip which attributes its slider keeps."""
        labels = ", ".join(self._directions[k].label for k in self._conditions.get(name, ()))
        d = self._directions[name]
        self.sliders[name].setToolTip(f"{d.name}: {d.method}, W+ layers {d.layers.start}–{d.layers.stop - 1}"
                                      + (f"; keeps {labels} unchanged" if labels else ""))
        self.sliders[name].set_note(f"keeps {labels}" if labels else "")

    def set_conditions(self, conditions: dict[str, tuple[str, ...]]) -> None:
        """Replace every slider's "Keep unchanged" choice (as ``conditions`` returns them); emits
        ``conditions_changed`` once per slider."""
        for name in self.sliders:
            for other in {*self._conditions.get(name, ()), *conditions.get(name, ())}:
                self.set_kept(name, other, other in conditions.get(name, ()))

    def _menu(self, name: str, pos) -> None:
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: self.ask_rename(name))
        named = [d for d in self._directions.values() if d.method not in UNSUPERVISED and d.name != name]
        if self._directions[name].method not in UNSUPERVISED and named:
            keep = menu.addMenu("Keep unchanged")
            for other in named:
                fitted = other.name in self._directions[name].conditioning
                action = keep.addAction(other.label + (" (fitted so)" if fitted else ""))
                action.setCheckable(True)
                action.setChecked(fitted or other.name in self._conditions.get(name, ()))
                action.setEnabled(not fitted)
                action.toggled.connect(lambda on, other=other.name: self.set_kept(name, other, on))
        menu.exec(self.sliders[name].mapToGlobal(pos))

    def reset_all(self) -> None:
        """Put every slider back to 0, then emit ``changed`` once."""
        for slider in self.sliders.values():
            slider.blockSignals(True)
            slider.reset()
            slider.blockSignals(False)
        self._moved()

    def _moved(self) -> None:
        self._show_moved()
        self.changed.emit()

    def _show_moved(self) -> None:
        """Name the moved sliders in the header (their values in its tooltip)."""
        moved = self.values()
        labels = [self.sliders[name].name_label.text() for name in moved]
        self.moved_label.set_full_text(f"Moved: {', '.join(labels)}" if moved else
                                       "Right-click a slider for more" if self.sliders else "")
        self.moved_label.setToolTip("\n".join(f"{label}: {value:+.1f} σ"
                                              for label, value in zip(labels, moved.values())))
        self.reset_all_button.setEnabled(bool(moved))
