"""Playing the morph in the window, at the speed an export would have."""

from __future__ import annotations

import math
import time
from typing import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal

FRAMES, FPS = 60, 30          # the export's defaults: a 2 s clip


class MorphPlayer(QObject):
    """Moves the morph position t through the frames of a ``frames``-frame clip at ``fps``,
    as the export would space them at even time: frame i is t = i / (frames − 1), and the clip
    lasts frames / fps seconds. The frame shown is taken from the wall clock (``clock``, in
    seconds), so a slow render skips frames instead of slowing the clip down. At the end it
    starts again from A when ``loop`` is on, else it stops on B.

    Signals:
        frame(t): show the morph at ``t``.
        playing_changed(bool): playback started or stopped.
    """

    frame = Signal(float)
    playing_changed = Signal(bool)

    def __init__(self, clock: Callable[[], float] = time.monotonic, parent: QObject | None = None):
        super().__init__(parent)
        self.clock = clock
        self.loop = True
        self.frames, self.fps = FRAMES, FPS
        self._timer = QTimer(self, timerType=Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._start = (0.0, 0.0)      # (clock time, frame position) when playback last started
        self._set_interval()

    def set_speed(self, frames: int, fps: int) -> None:
        """Play a clip of ``frames`` frames at ``fps`` (the export dialog's settings)."""
        if self.is_playing():                # keep the morph position t, not the frame number
            t = (self._position() % self.frames) / max(self.frames - 1, 1)
            self._start = (self.clock(), t * (frames - 1))
        self.frames, self.fps = frames, fps
        self._set_interval()

    def is_playing(self) -> bool:
        return self._timer.isActive()

    def play(self, t: float) -> None:
        """Start playing from morph position ``t`` (from A when ``t`` is at B)."""
        position = 0.0 if t >= 1.0 else t * (self.frames - 1)
        self._start = (self.clock(), position)
        self._timer.start()
        self.playing_changed.emit(True)

    def pause(self) -> None:
        """Stop where it is (nothing happens when not playing)."""
        if self.is_playing():
            self._timer.stop()
            self.playing_changed.emit(False)

    def _position(self) -> float:
        """The frame position now, in frames from A (may pass the last frame)."""
        started, position = self._start
        return position + (self.clock() - started) * self.fps

    def _tick(self) -> None:
        position = self._position()
        if self.loop:
            position %= self.frames
        elif position >= self.frames - 1:
            self.frame.emit(1.0)
            self.pause()
            return
        self.frame.emit(min(math.floor(position) / (self.frames - 1), 1.0))

    def _set_interval(self) -> None:
        self._timer.setInterval(max(1, round(500 / self.fps)))     # twice a frame: no frame comes late
