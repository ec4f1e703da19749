"""The status bar: messages and errors on the left, render time and device on the right."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

INFO_SECONDS = 10   # how long a message that is not an error stays


class StatusBar(QStatusBar):
    """Shows one message at a time (errors in red, kept until the next message; others go after
    ``INFO_SECONDS``), the last render time and the device."""

    def __init__(self, device: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.message_label = QLabel()
        self.render_label = QLabel()
        self.render_label.setProperty("role", "muted")
        device_label = QLabel(f"device: {device}")
        device_label.setProperty("role", "muted")
        self.addWidget(self.message_label, 1)
        self.addPermanentWidget(self.render_label)
        self.addPermanentWidget(device_label)
        self._expiry = QTimer(self, singleShot=True, interval=int(INFO_SECONDS * 1000))
        self._expiry.timeout.connect(lambda: self._show("", ""))

    def message(self) -> str:
        """The message shown now."""
        return self.message_label.text()

    def is_error(self) -> bool:
        """Whether the message shown now is an error."""
        return self.message_label.property("role") == "error"

    def show_info(self, text: str) -> None:
        self._show(text, "")

    def show_error(self, text: str) -> None:
        self._show(text, "error")

    def set_render_ms(self, ms: float) -> None:
        self.render_label.setText(f"render {ms:.0f} ms")

    def _show(self, text: str, role: str) -> None:
        if text and not role:
            self._expiry.start()
        else:
            self._expiry.stop()
        self.message_label.setText(text)
        self.message_label.setToolTip(text)
        self.message_label.setProperty("role", role)
        self.message_label.style().unpolish(self.message_label)
        self.message_label.style().polish(self.message_label)
