"""The morph timeline: a track from A (t = 0) to B (t = 1), the keyframes between them, and a
playhead to drag."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QWidget

from explorer.gui.theme import ACCENT, DIMMED, WINDOW

HEIGHT = 64
NUDGE = 0.01
DECIMALS = 3                      # t is kept to 0.001 so the session JSON stays readable
PAD = 0.06                        # view space left and right of the track, for the markers
TRACK_Y, TICK_Y, LABEL_Y = 0.0, -0.22, -0.45
Y_RANGE = (-1.0, 0.75)
TRACK = "#3a3e45"
EMPTY_MARKER = "#4a4f57"
LOADED_MARKER = "#d5d9df"
PLAYHEAD_HOVER = "#a9c4e6"


class MorphTimeline(pg.PlotWidget):
    """A thin track from 0 to 1 with keyframe markers "A" and "B" at its ends (dimmed while
    their slot is empty), numbered markers for the keyframes between them, and a playhead at
    the morph position t.

    Drag the playhead, or press anywhere on the track to jump there (and keep dragging);
    with focus, ← / → nudge t by 0.01 and Home / End go to A / B. Zoom, pan and the context
    menu are off.

    Signals:
        t_changed(float): t moved, on every step of a drag too, and on ``set_t``.
    """

    t_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, background=WINDOW)
        self._t = 0.0
        self.setFixedHeight(HEIGHT)
        self.setAntialiasing(True)
        self.setToolTip("Morph position t: drag the playhead or click the track; ← / → nudge it")
        self.setStyleSheet(f"MorphTimeline {{ border: 1px solid transparent; border-radius: 4px; }}"
                           f"MorphTimeline:focus {{ border-color: {TRACK}; }}")
        plot = self.getPlotItem()
        plot.hideAxis("left")
        plot.hideAxis("bottom")
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.layout.setContentsMargins(0, 0, 0, 0)
        plot.setRange(xRange=(-PAD, 1 + PAD), yRange=Y_RANGE, padding=0)

        self.addItem(pg.PlotDataItem([0, 1], [TRACK_Y, TRACK_Y], pen=pg.mkPen(TRACK, width=4)))
        ticks = [0.25, 0.5, 0.75]
        self.addItem(pg.ScatterPlotItem(ticks, [TICK_Y] * len(ticks), symbol="|", size=6,
                                        pen=pg.mkPen(EMPTY_MARKER, width=1.5)))
        self._fill = pg.PlotDataItem([0, 0], [TRACK_Y, TRACK_Y], pen=pg.mkPen(ACCENT, width=4))
        self.addItem(self._fill)
        font = QFont(self.font())
        font.setBold(True)
        self._markers = {}
        for slot, x in (("A", 0.0), ("B", 1.0)):
            diamond = pg.ScatterPlotItem([x], [TRACK_Y], symbol="d", size=15)
            label = pg.TextItem(slot, anchor=(0.5, 0))
            label.setFont(font)
            label.setPos(x, LABEL_Y)
            self.addItem(diamond)
            self.addItem(label)
            self._markers[slot] = (diamond, label)
            self.set_loaded(slot, False)
        self._middle: list[pg.GraphicsObject] = []
        self.middle_times: tuple[float, ...] = ()
        self.playhead = pg.InfiniteLine(0.0, angle=90, movable=True, bounds=(0, 1), span=(0.4, 0.9),
                                        pen=pg.mkPen(ACCENT, width=2),
                                        hoverPen=pg.mkPen(PLAYHEAD_HOVER, width=2))
        self.playhead.addMarker("v", position=0.98, size=12)
        self.playhead.setZValue(10)
        self.playhead.sigPositionChanged.connect(self._moved)
        self.addItem(self.playhead)

    def t(self) -> float:
        return self._t

    def set_t(self, t: float) -> None:
        """Move the playhead to ``t`` (clipped to [0, 1]); emits ``t_changed`` as a drag does
        when t changes."""
        self.playhead.setValue(t)

    def set_loaded(self, slot: str, loaded: bool) -> None:
        """Draw keyframe ``slot``'s marker bright (a photo is loaded) or dimmed (empty)."""
        diamond, label = self._markers[slot]
        diamond.setPen(pg.mkPen(LOADED_MARKER if loaded else EMPTY_MARKER, width=1.5))
        diamond.setBrush(LOADED_MARKER if loaded else WINDOW)
        label.setColor(LOADED_MARKER if loaded else DIMMED)

    def set_middle_keyframes(self, times: tuple[float, ...]) -> None:
        """Draw the keyframes between A and B at ``times`` (increasing, in (0, 1)), numbered 1, 2, …"""
        for item in self._middle:
            self.removeItem(item)
        self._middle = []
        font = QFont(self.font())
        font.setBold(True)
        for number, t in enumerate(times, start=1):
            diamond = pg.ScatterPlotItem([t], [TRACK_Y], symbol="d", size=13, brush=LOADED_MARKER,
                                        pen=pg.mkPen(LOADED_MARKER, width=1.5))
            label = pg.TextItem(str(number), anchor=(0.5, 0), color=LOADED_MARKER)
            label.setFont(font)
            label.setPos(t, LABEL_Y)
            for item in (diamond, label):
                self.addItem(item)
                self._middle.append(item)
        self.middle_times = tuple(times)

    def changeEvent(self, event) -> None:
        """Grey the playhead and the filled part of the track while disabled."""
        super().changeEvent(event)
        if event.type() == event.Type.EnabledChange:
            colour = ACCENT if self.isEnabled() else EMPTY_MARKER
            self.playhead.setPen(pg.mkPen(colour, width=2))
            self._fill.setPen(pg.mkPen(colour, width=4))

    def mousePressEvent(self, event) -> None:
        """A left press moves the playhead under the pointer; a drag goes on from there."""
        if event.button() == Qt.MouseButton.LeftButton:
            scene_pos = self.mapToScene(event.position().toPoint())
            self.set_t(self.getViewBox().mapSceneToView(scene_pos).x())
        super().mousePressEvent(event)

    def keyPressEvent(self, event) -> None:
        steps = {Qt.Key.Key_Left: self._t - NUDGE, Qt.Key.Key_Right: self._t + NUDGE,
                 Qt.Key.Key_Home: 0.0, Qt.Key.Key_End: 1.0}
        if event.key() in steps:
            self.set_t(steps[event.key()])
        else:
            super().keyPressEvent(event)

    def _moved(self) -> None:
        x = self.playhead.value()
        self._fill.setData([0, x], [TRACK_Y, TRACK_Y])
        t = round(x, DECIMALS)
        if t != self._t:
            self._t = t
            self.t_changed.emit(t)
