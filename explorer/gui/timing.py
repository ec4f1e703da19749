"""Morph timing controls: the easing and when each W+ layer group moves (``explorer.morph``)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QLabel,
    QToolButton,
    QWidget,
)

from explorer.morph import EASINGS, GROUPS, TOGETHER
from explorer.nets.stylegan import layer_groups

EASING_NAMES = {"linear": "Linear", "ease-in-out": "Ease in-out", "cubic": "Cubic in-out"}
STEP = 0.05                     # spin box step; also the shortest window
WHAT_MOVES = {"coarse": "pose and face shape", "middle": "features and hair", "fine": "colour and skin"}


class MorphTiming(QWidget):
    """An easing selector and, behind a "Layer timing" toggle, per layer group the window
    [start, end] of each morph segment in which its layers move (0 = the segment's first
    keyframe, 1 = the next one). The windows always satisfy 0 ≤ start < end ≤ 1: each spin box
    is bounded by its partner.

    Signals:
        changed(): the easing or a window changed.
    """

    changed = Signal()

    def __init__(self, num_ws: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.easing_box = QComboBox(toolTip="How the morph speeds up and slows down between keyframes")
        for name in EASINGS:
            self.easing_box.addItem(EASING_NAMES[name], name)
        self.easing_box.currentIndexChanged.connect(self.changed)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(4)
        self.toggle = QToolButton(text="Layer timing", checkable=True,
                                  toolTip="Let coarse, middle and fine layers move at different times")
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.toggled.connect(self._show_windows)
        grid.addWidget(QLabel("Easing"), 0, 0)
        grid.addWidget(self.easing_box, 0, 1, 1, 2)
        grid.addWidget(self.toggle, 0, 3, Qt.AlignmentFlag.AlignRight)
        self.spins: dict[str, tuple[QDoubleSpinBox, QDoubleSpinBox]] = {}
        self._rows: list[QWidget] = []
        for row, (name, layers) in enumerate(layer_groups(num_ws).items(), 1):
            label = QLabel(f"{name.capitalize()} moves")
            label.setToolTip(f"When {name} layers {layers.start}–{layers.stop - 1} ({WHAT_MOVES[name]}) change "
                             "between two keyframes: 0 is the first, 1 the next")
            to = QLabel("to")
            to.setProperty("role", "muted")
            self.spins[name] = pair = tuple(QDoubleSpinBox(decimals=2, singleStep=STEP, minimum=0.0, maximum=1.0,
                                                           value=value) for value in TOGETHER[name])
            self._bound(name)
            for spin in pair:
                spin.valueChanged.connect(lambda _, name=name: self._moved(name))
            for column, widget in enumerate((label, pair[0], to, pair[1])):
                grid.addWidget(widget, row, column)
                self._rows.append(widget)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        grid.setColumnMinimumWidth(0, max(w.sizeHint().width() for w in self._rows[::4]))   # no jump on toggle
        self._show_windows(False)

    def easing(self) -> str:
        """The easing's name (one of ``morph.EASINGS``)."""
        return self.easing_box.currentData()

    def windows(self) -> dict[str, tuple[float, float]]:
        """{"coarse" | "middle" | "fine": (start, end)}, in ``morph.GROUPS`` order."""
        return {name: (self.spins[name][0].value(), self.spins[name][1].value()) for name in GROUPS}

    def set_timing(self, easing: str, windows: dict[str, tuple[float, float]]) -> None:
        """Show ``easing`` and the per-group ``windows`` (as ``windows`` returns them); emits
        ``changed`` once."""
        self.blockSignals(True)
        self.easing_box.setCurrentIndex(self.easing_box.findData(easing))
        for name, (start, end) in windows.items():
            first, second = self.spins[name]
            first.setMaximum(1.0)
            second.setMinimum(0.0)
            first.setValue(start)
            second.setValue(end)
            self._bound(name)
        self.blockSignals(False)
        self.changed.emit()

    def _show_windows(self, shown: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        for widget in self._rows:
            widget.setVisible(shown)

    def _moved(self, name: str) -> None:
        self._bound(name)
        self.changed.emit()

    def _bound(self, name: str) -> None:
        """Keep start < end: each spin box of group ``name`` stops ``STEP`` short of the other."""
        start, end = self.spins[name]
        start.setMaximum(end.value() - STEP)
        end.setMinimum(start.value() + STEP)
