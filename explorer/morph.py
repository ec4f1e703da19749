"""Morph timing: how far each W+ layer has moved between two keyframes at morph time t.

A morph visits keyframes at times 0 ≤ t_0 < t_1 < … ≤ 1 (held before the first and after the
last). Between two neighbouring keyframes the local time u runs from 0 to 1. Each W+ layer
group (coarse, middle, fine: ``nets.stylegan.layer_groups``) moves only inside its own window
[start, end] of u, eased there, so pose and face shape can change first and colour and texture
after (or all together, the default). The result is a progress p in [0, 1] per group; the
session turns it into W+ (a lerp in W+, or a slerp in z between two seeds).

Plain Python (no torch), so the command line can read the names without loading torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

EASINGS = ("linear", "ease-in-out", "cubic")
PACES = ("perceptual", "time")
"""How exported frames are spaced: evenly in perceptual change along the path, or evenly in t."""
GROUPS = ("coarse", "middle", "fine")
TOGETHER = {name: (0.0, 1.0) for name in GROUPS}
"""Group windows where every layer moves over the whole of each segment."""


def ease(u: float, easing: str) -> float:
    """Eased progress of local time ``u`` (clipped to [0, 1]): 0 at 0, 1 at 1, non-decreasing.

    "linear": u. "ease-in-out": smoothstep 3u² − 2u³ (speed 0 at both ends). "cubic": the
    ease-in-out cubic of Penner's easing equations, 4u³ up to ½ and 1 − 4(1 − u)³ after
    (slower starts and stops, faster middle).

    Raises:
        ValueError: an easing not in ``EASINGS``.
    """
    u = min(max(u, 0.0), 1.0)
    if easing == "linear":
        return u
    if easing == "ease-in-out":
        return u * u * (3.0 - 2.0 * u)
    if easing == "cubic":
        return 4.0 * u ** 3 if u < 0.5 else 1.0 - 4.0 * (1.0 - u) ** 3
    raise ValueError(f"unknown easing {easing!r}; known: {', '.join(EASINGS)}")


def check_windows(windows: Mapping[str, Sequence[float]]) -> dict[str, tuple[float, float]]:
    """Validate group windows {"coarse": (start, end), "middle": …, "fine": …}, 0 ≤ start < end ≤ 1,
    in units of a segment's local time. Returns them as a new dict of float tuples in ``GROUPS`` order.

    Raises:
        ValueError: a missing or unknown group, or a window that is not 0 ≤ start < end ≤ 1.
    """
    if set(windows) != set(GROUPS):
        raise ValueError(f"windows must name exactly {', '.join(GROUPS)}, got {', '.join(windows) or 'none'}")
    checked = {}
    for name in GROUPS:
        start, end = (float(v) for v in windows[name])
        if not 0.0 <= start < end <= 1.0:
            raise ValueError(f"{name} window {start:g}:{end:g} is not 0 ≤ start < end ≤ 1")
        checked[name] = (start, end)
    return checked


def check_times(times: Sequence[float]) -> tuple[float, ...]:
    """Validate keyframe times: at least two, strictly increasing, in [0, 1]. Returns them as floats.

    Raises:
        ValueError: fewer than two times, or times out of order or outside [0, 1].
    """
    times = tuple(float(t) for t in times)
    if len(times) < 2:
        raise ValueError(f"a morph needs at least 2 keyframes, got {len(times)}")
    if not (0.0 <= times[0] and times[-1] <= 1.0 and all(a < b for a, b in pairwise(times))):
        raise ValueError(f"keyframe times must increase within [0, 1], got {list(times)}")
    return times


def evenly_spaced(count: int) -> tuple[float, ...]:
    """``count`` ≥ 2 keyframe times from 0 to 1, evenly spaced: 3 → (0, 0.5, 1)."""
    return tuple(i / (count - 1) for i in range(count))


def segment(times: Sequence[float], t: float) -> tuple[int, float]:
    """The segment holding morph time ``t``: (i, u) with keyframes i and i + 1 as its ends and
    u in [0, 1] the local time from keyframe i to i + 1. Before the first keyframe u is 0, after
    the last it is 1 (keyframes are held).

    ``times``: valid keyframe times (see ``check_times``).
    """
    last = len(times) - 2
    i = 0
    while i < last and t >= times[i + 1]:
        i += 1
    start, end = times[i], times[i + 1]
    return i, min(max((t - start) / (end - start), 0.0), 1.0)


def group_progress(u: float, easing: str, windows: Mapping[str, tuple[float, float]]) -> dict[str, float]:
    """Progress in [0, 1] of each group at local time ``u``: ``ease`` of u's position in the
    group's window (0 before the window, 1 after it).

    Raises:
        ValueError: an unknown easing.
    """
    return {name: ease((u - start) / (end - start), easing) for name, (start, end) in windows.items()}


def even_pace(times: Sequence[float], steps: Sequence[float], count: int) -> list[float]:
    """``count`` morph times spaced evenly in perceptual distance along a densely sampled path,
    so that every frame differs from the next by about as much: no jumps where the picture
    changes fast, no lingering where it barely moves.

    Args:
        times: the sampled times t_0 < t_1 < … < t_K.
        steps: the K distances (≥ 0, e.g. LPIPS) between the images at neighbouring times.
        count: frames wanted, ≥ 2.

    Returns:
        ``count`` times from t_0 to t_K at equal fractions of the cumulative distance, linearly
        interpolated between samples; evenly spaced in t when the path does not change at all.

    Raises:
        ValueError: mismatched lengths, a negative step, or ``count`` < 2.
    """
    if len(steps) != len(times) - 1 or len(steps) < 1:
        raise ValueError(f"need K ≥ 1 steps between K + 1 times, got {len(steps)} and {len(times)}")
    if count < 2:
        raise ValueError(f"a morph needs at least 2 frames, got {count}")
    if min(steps) < 0:
        raise ValueError("perceptual steps must be ≥ 0")
    arc = [0.0]
    for step in steps:
        arc.append(arc[-1] + float(step))
    total = arc[-1]
    if total == 0:
        return [times[0] + (times[-1] - times[0]) * i / (count - 1) for i in range(count)]
    out, k = [], 0
    for i in range(count):
        target = total * i / (count - 1)
        while k < len(steps) - 1 and arc[k + 1] < target:
            k += 1
        span = arc[k + 1] - arc[k]
        frac = min(max((target - arc[k]) / span, 0.0), 1.0) if span > 0 else 0.0
        out.append(times[k] + (times[k + 1] - times[k]) * frac)
    out[-1] = times[-1]
    return out
