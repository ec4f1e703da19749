"""Numbers from outside (the command line, JSON files) are finite and within their range.

NaN and inf pass every later step silently (a NaN ψ renders an all-black face), so they are
refused where they come in. Plain Python: the command line checks its arguments without torch.
"""

from __future__ import annotations

import math
from numbers import Real

PSI_RANGE = (0.0, 1.5)
"""Truncation ψ: 0 is the average face, 1 the full variety, above 1 exaggerated (the window's slider)."""


def finite_number(value: object, what: str, low: float = -math.inf, high: float = math.inf) -> float:
    """``value`` as a float when it is a finite real number (not a bool or a string) within
    [``low``, ``high``].

    Raises:
        ValueError: naming ``what``: not a number, NaN, inf or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{what} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise ValueError(f"{what} must be a finite number{describe_range(low, high)}, got {value!r}")
    return number


def describe_range(low: float, high: float) -> str:
    """" in [low, high]", " ≥ low", " ≤ high", or "" for an unbounded range."""
    if math.isinf(low) and math.isinf(high):
        return ""
    if math.isinf(high):
        return f" ≥ {low:g}"
    if math.isinf(low):
        return f" ≤ {high:g}"
    return f" in [{low:g}, {high:g}]"
