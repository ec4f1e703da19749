"""The status bar: messages and errors on the left, render time and device on the right."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QLabel, QPushButton, QStatusBar, QWidget

INFO_SECONDS = 10   # how long a message that is not an error stays


class StatusBar(QStatusBar):
    """Shows one message at a time (errors in red, kept until the next message; others go after
    ``INFO_SECONDS``, but for where a file was saved, which has "Open folder" beside it and
    stays), the last render time and the device."""

    def __init__(self, device: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.message_label = QLabel()
        self.render_label = QLabel()
        self.render_label.setProperty("role", "muted")
        device_label = QLabel(f"device: {device}")
        device_label.setProperty("role", "muted")
        self.open_folder_button = QPushButton("Open folder")
        self.open_folder_button.clicked.connect(self._open_folder)
        self.open_folder_button.hide()
        self._folder: Path | None = None
        self.addWidget(self.message_label, 1)
        self.addWidget(self.open_folder_button)
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

    def show_saved(self, path: Path) -> None:
        """Say where ``path`` (a file, or a folder of frames) was saved, with "Open folder" to see it."""
        self._show(f"Saved {path}", "")
        self._expiry.stop()
        self._folder = path if path.is_dir() else path.parent
        self.open_folder_button.setToolTip(f"Open {self._folder} in the file manager")
        self.open_folder_button.show()

    def set_render_ms(self, ms: float) -> None:
        self.render_label.setText(f"render {ms:.0f} ms")

    def _open_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._folder)))

    def _show(self, text: str, role: str) -> None:
        if text and not role:
            self._expiry.start()
        else:
            self._expiry.stop()
        self.open_folder_button.hide()
        self.message_label.setText(text)
        self.message_label.setToolTip(text)
        self.message_label.setProperty("role", role)
        self.message_label.style().unpolish(self.message_label)
        self.message_label.style().polish(self.message_label)
