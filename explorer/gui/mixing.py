"""Style mixing: a reference face (a seed, or the photo in slot A or B) and the layer groups it
gives the face on screen (``Session.style`` and ``style_groups``)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.gui.seed_panel import seed_spin_box
from explorer.morph import GROUPS

SOURCES = {"Off": "off", "Seed": "seed", "Photo A": "A", "Photo B": "B"}   # shown → ``source()``
GROUP_TIPS = {"coarse": "Pose and face shape", "middle": "Features and hair style", "fine": "Colour and texture"}


class MixingPanel(QWidget):
    """Behind a "Style mixing" toggle (which says "on" while it mixes): "From" (off, a seed,
    photo A or photo B), a seed box, and one button per layer group.

    Signals:
        changed(): the reference or the groups changed.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.source_box = QComboBox()
        self.source_box.addItems(list(SOURCES))
        self.source_box.setToolTip("The reference face whose layers the face on screen takes")
        self.seed_box = seed_spin_box()
        self.seed_box.setEnabled(False)
        self.group_buttons = {}
        for name in GROUPS:
            button = QPushButton(name.capitalize())
            button.setCheckable(True)
            button.setToolTip(f"{GROUP_TIPS[name]} from the reference")
            button.toggled.connect(self.changed)
            self.group_buttons[name] = button
        self.source_box.currentTextChanged.connect(self._source_changed)
        self.seed_box.valueChanged.connect(self.changed)
        self.toggle = QToolButton(text="Style mixing", checkable=True,
                                  toolTip="Take the pose, the features or the colouring from another face")
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.toggled.connect(self._show_controls)
        self.changed.connect(self._update_toggle)

        self.controls = QWidget()
        source_row = QHBoxLayout()
        source_row.addWidget(QLabel("From"))
        source_row.addWidget(self.source_box, 1)
        source_row.addWidget(self.seed_box, 1)
        group_row = QHBoxLayout()
        for button in self.group_buttons.values():
            group_row.addWidget(button)
        inner = QVBoxLayout(self.controls)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.setSpacing(8)
        inner.addLayout(source_row)
        inner.addLayout(group_row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.controls)
        self._show_controls(False)

    def source(self) -> str:
        """"off", "seed", "A" or "B"."""
        return SOURCES[self.source_box.currentText()]

    def seed(self) -> int:
        return int(self.seed_box.value())

    def groups(self) -> tuple[str, ...]:
        """The layer groups toggled on, in ``GROUPS`` order."""
        return tuple(name for name, button in self.group_buttons.items() if button.isChecked())

    def set_reference(self, source: str, seed: int | None, groups: tuple[str, ...]) -> None:
        """Show ``source`` ("off", "seed", "A" or "B"; see ``source``), ``seed`` (for "seed";
        None leaves the box as it is) and the layer ``groups`` toggled on; emits ``changed``."""
        self.blockSignals(True)
        self.source_box.setCurrentText(next(shown for shown, name in SOURCES.items() if name == source))
        if seed is not None:
            self.seed_box.setValue(seed)
        for name, button in self.group_buttons.items():
            button.setChecked(name in groups)
        self.blockSignals(False)
        self.changed.emit()

    def _show_controls(self, shown: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.controls.setVisible(shown)

    def _update_toggle(self) -> None:
        mixing = self.source() != "off" and bool(self.groups())
        self.toggle.setText("Style mixing · on" if mixing else "Style mixing")

    def _source_changed(self) -> None:
        self.seed_box.setEnabled(self.source() == "seed")
        self.changed.emit()
