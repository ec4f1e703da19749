"""A labelled horizontal slider over a float range, with its value shown and a reset."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QToolButton,
    QWidget,
)


class _Slider(QSlider):
    """A QSlider that reports double-clicks."""

    doubleClicked = Signal()

    def mouseDoubleClickEvent(self, event) -> None:
        self.doubleClicked.emit()


class ElidedLabel(QLabel):
    """A one-line label that ends its text with "…" where it is too narrow for all of it."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def full_text(self) -> str:
        return self._full

    def set_full_text(self, text: str) -> None:
        self._full = text
        self._elide()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        self.setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, self.width()))


class ValueSlider(QWidget):
    """``label`` and the formatted value above a slider from ``minimum`` to ``maximum`` in
    steps of ``step``. Double-clicking the slider or pressing ↺ returns it to ``default``.
    ``set_note`` shows a short muted remark beside the label (e.g. what the slider keeps).

    Signals:
        valueChanged(float): on every change, while dragging too.
    """

    valueChanged = Signal(float)

    def __init__(self, label: str, minimum: float, maximum: float, step: float, default: float,
                 fmt: str, parent: QWidget | None = None):
        super().__init__(parent)
        self._step, self._default, self._fmt = step, default, fmt
        self.slider = _Slider(Qt.Orientation.Horizontal)
        self.slider.setRange(round(minimum / step), round(maximum / step))
        self.slider.setPageStep(10)
        self.slider.setValue(round(default / step))
        self.slider.setToolTip("Double-click to reset")
        self.name_label = QLabel(label)
        self.name_label.setToolTip(label)
        self.name_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.note_label = ElidedLabel()
        self.note_label.setProperty("role", "muted")
        self.note_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.note_label.hide()
        self.value_label = QLabel()
        self.value_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        widest = max((fmt.format(v) for v in (minimum, maximum, default)), key=len)
        self.value_label.setMinimumWidth(self.value_label.fontMetrics().horizontalAdvance(widest + "0"))
        reset = QToolButton(text="↺", toolTip=f"Reset to {fmt.format(default)}")
        reset.clicked.connect(self.reset)
        self.slider.doubleClicked.connect(self.reset)
        self.slider.valueChanged.connect(self._changed)

        layout = QGridLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.setHorizontalSpacing(4)
        layout.setVerticalSpacing(0)
        names = QHBoxLayout()                  # the note takes at most 2/5 of what the name leaves
        names.addWidget(self.name_label, 3)
        names.addWidget(self.note_label, 2)
        layout.addLayout(names, 0, 0)
        layout.addWidget(self.value_label, 0, 1)
        layout.addWidget(reset, 0, 2)
        layout.addWidget(self.slider, 1, 0, 1, 3)
        layout.setColumnStretch(0, 1)
        self._show_value()

    def value(self) -> float:
        return round(self.slider.value() * self._step, 6)

    def setValue(self, value: float) -> None:
        self.slider.setValue(round(value / self._step))

    def set_note(self, text: str) -> None:
        """Show ``text`` beside the label (ending in "…" where it is too long; whole in its
        tooltip), or nothing when it is empty."""
        self.note_label.set_full_text(text)
        self.note_label.setToolTip(text)
        self.note_label.setVisible(bool(text))

    def reset(self) -> None:
        """Return to the default value."""
        self.setValue(self._default)

    def _changed(self) -> None:
        self._show_value()
        self.valueChanged.emit(self.value())

    def _show_value(self) -> None:
        self.value_label.setText(self._fmt.format(self.value()))
