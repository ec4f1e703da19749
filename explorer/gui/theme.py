"""The app's look: Fusion style with a dark, calm palette and a few stylesheet touches."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

ACCENT = "#6f9bd1"
ERROR = "#e07a6e"
MUTED = "#8b919b"
DIMMED = "#6a6f78"
WINDOW = "#1f2125"

_COLOURS = {
    QPalette.ColorRole.Window: WINDOW,
    QPalette.ColorRole.WindowText: "#e3e5e8",
    QPalette.ColorRole.Base: "#17191c",
    QPalette.ColorRole.AlternateBase: "#25282d",
    QPalette.ColorRole.ToolTipBase: "#2b2e34",
    QPalette.ColorRole.ToolTipText: "#e3e5e8",
    QPalette.ColorRole.PlaceholderText: MUTED,
    QPalette.ColorRole.Text: "#e3e5e8",
    QPalette.ColorRole.Button: "#2b2e33",
    QPalette.ColorRole.ButtonText: "#e3e5e8",
    QPalette.ColorRole.BrightText: "#ffffff",
    QPalette.ColorRole.Light: "#3a3e45",
    QPalette.ColorRole.Midlight: "#33363c",
    QPalette.ColorRole.Mid: "#2a2d32",
    QPalette.ColorRole.Dark: "#141518",
    QPalette.ColorRole.Shadow: "#0b0c0d",
    QPalette.ColorRole.Highlight: ACCENT,
    QPalette.ColorRole.HighlightedText: "#101114",
    QPalette.ColorRole.Link: ACCENT,
}

_STYLESHEET = f"""
QGroupBox {{
    border: 1px solid #33363c;
    border-radius: 8px;
    margin-top: 14px;
    padding: 12px 10px 10px 10px;
    font-weight: 600;
}}
QGroupBox::title {{
    subcontrol-origin: margin;
    left: 12px;
    padding: 0 4px;
    color: #b8c2d1;
}}
QGroupBox QLabel, QGroupBox QPushButton, QGroupBox QToolButton, QGroupBox QDoubleSpinBox {{
    font-weight: normal;
}}
QLabel[role="muted"] {{ color: {MUTED}; }}
QLabel[role="error"] {{ color: {ERROR}; }}
QPushButton {{ padding: 5px 12px; }}
QPushButton:default {{ border: 1px solid {ACCENT}; }}
QPushButton:checked {{ background: #34465c; border: 1px solid {ACCENT}; }}
QToolButton {{ border: none; color: {MUTED}; padding: 0 3px; }}
QToolButton:hover {{ color: #e3e5e8; }}
QScrollArea {{ border: none; background: transparent; }}
QStatusBar {{ border-top: 1px solid #2c2f34; }}
QStatusBar QLabel {{ padding: 0 6px; }}
"""


def apply_dark_theme(app: QApplication) -> None:
    """Set the Fusion style, the dark palette (disabled roles dimmed) and the stylesheet on ``app``."""
    app.setStyle("Fusion")
    palette = QPalette()
    for role, colour in _COLOURS.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(DIMMED))
    app.setPalette(palette)
    app.setStyleSheet(_STYLESHEET)
