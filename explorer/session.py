"""The document an artist edits: a seed, keyframes to morph through, truncation, slider
values, morph position and timing. Plain Python (no Qt), so the GUI, the CLI and the tests
share it; saved as JSON.

What is shown: the morph path through the keyframes at ``morph_t`` (see ``path_ws``); an empty
keyframe (None, an empty photo slot in the GUI) stands for the session's seed, so with no
photo loaded the seed's w (truncated by ψ) fills every W+ layer. Slider offsets are added on
top, each on its direction's layers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from explorer.directions import Direction
from explorer.errors import UserError
from explorer.finite import finite_number
from explorer.images import to_uint8
from explorer.latent import broadcast, mix_styles, seed_to_z, slerp, truncate
from explorer.morph import (
    EASINGS,
    GROUPS,
    PACES,
    TOGETHER,
    check_times,
    check_windows,
    even_pace,
    group_progress,
    segment,
)
from explorer.netio import loads_finite
from explorer.nets.stylegan import layer_groups
from explorer.weights import ModelBundle

MIN_KEY_GAP = 0.02               # the least morph time between two keyframes
PACE_STEPS = 256                 # most path samples a perceptual pace measures (4 per frame interval below it)
PACE_BATCH = 16                  # images per synthesis call while measuring the pace
RENDER_NOISE_MODE = "none"
"""How every face the app, the CLI and the encoder see is synthesized: without the per-pixel
noise inputs. Deterministic, and on the shipped 64² generator the noise adds speckle rather
than detail (compare ``noise_mode="const"``). Training still uses random noise."""


@dataclass(frozen=True)
class Keyframe:
    """One stop of a morph: a photo with its W+ (from the encoder) or a seed.

    ``ws`` is a nested list [num_ws][w_dim] for photos (so the session stays JSON), None for seeds.

    Raises:
        ValueError: neither or both of ``seed`` and ``ws`` given, or a W+ that is not an array of
            finite numbers.
    """

    label: str
    seed: int | None = None
    photo: str | None = None
    ws: list | None = None

    def __post_init__(self):
        if (self.seed is None) == (self.ws is None):
            raise ValueError(f"keyframe {self.label!r} needs exactly one of a seed or a W+")
        if self.ws is not None and not np.isfinite(np.asarray(self.ws, dtype=np.float64)).all():
            raise ValueError(f"keyframe {self.label!r}: its W+ holds NaN or inf")

    @staticmethod
    def from_seed(seed: int) -> Keyframe:
        return Keyframe(label=f"seed {seed}", seed=seed)

    @staticmethod
    def from_photo(path: Path, ws: torch.Tensor) -> Keyframe:
        """``ws``: [1, num_ws, w_dim] or [num_ws, w_dim]."""
        return Keyframe(label=Path(path).name, photo=str(path), ws=ws.reshape(ws.shape[-2:]).cpu().tolist())


@dataclass(frozen=True)
class Session:
    """Immutable snapshot of the editor state; the GUI replaces it on every change
    (``dataclasses.replace``) and hands the snapshot to the render worker.

    The morph: ``keyframes`` (None: the session's seed) at ``times`` (strictly increasing in
    [0, 1]; the GUI's photo slots A and B are the first and last), ``easing`` (one of
    ``morph.EASINGS``) and per-layer-group ``windows`` of each segment's local time
    ({"coarse" | "middle" | "fine": (start, end)}, see ``morph``). Lists given for tuples are
    stored as tuples.

    Style mixing (style transfer from a reference face): the layer groups ``style_groups`` of
    every rendered W+ are taken from the keyframe ``style`` (a photo or a seed), before the
    sliders move it; no mixing while either is empty.

    Raises:
        ValueError: fewer than 2 keyframes, times that do not match them or are out of order,
            an unknown easing or layer group, bad windows, a ψ that is not finite (sessions saved
            with any ψ still open; the CLI and the window take ψ in ``finite.PSI_RANGE``), a
            ``morph_t`` outside [0, 1] (NaN and inf included), or a slider value not finite.
    """

    seed: int = 0
    psi: float = 0.7
    sliders: dict = field(default_factory=dict)       # direction name → value in σ units
    conditions: dict = field(default_factory=dict)    # direction name → names it leaves unchanged
    keyframes: tuple = (None, None)                    # Keyframe | None each
    times: tuple = (0.0, 1.0)
    morph_t: float = 0.0
    easing: str = "linear"
    windows: dict = field(default_factory=lambda: dict(TOGETHER))
    pace: str = "time"
    style: Keyframe | None = None
    style_groups: tuple = ()                           # of "coarse", "middle", "fine"

    def __post_init__(self):
        object.__setattr__(self, "psi", finite_number(self.psi, "psi"))
        object.__setattr__(self, "morph_t", finite_number(self.morph_t, "morph_t", 0.0, 1.0))
        for name, value in self.sliders.items():
            finite_number(value, f"slider {name}")
        object.__setattr__(self, "keyframes", tuple(self.keyframes))
        object.__setattr__(self, "style_groups", tuple(self.style_groups))
        if not set(self.style_groups) <= set(GROUPS):
            raise ValueError(f"unknown layer group in {self.style_groups}; known: {', '.join(GROUPS)}")
        object.__setattr__(self, "times", check_times(self.times))
        object.__setattr__(self, "windows", check_windows(self.windows))
        object.__setattr__(self, "conditions", {k: tuple(v) for k, v in self.conditions.items() if v})
        if len(self.times) != len(self.keyframes):
            raise ValueError(f"{len(self.keyframes)} keyframes but {len(self.times)} times")
        if self.easing not in EASINGS:
            raise ValueError(f"unknown easing {self.easing!r}; known: {', '.join(EASINGS)}")
        if self.pace not in PACES:
            raise ValueError(f"unknown pace {self.pace!r}; known: {', '.join(PACES)}")

    @property
    def key_a(self) -> Keyframe | None:
        """The first keyframe (the GUI's slot A)."""
        return self.keyframes[0]

    @property
    def key_b(self) -> Keyframe | None:
        """The last keyframe (the GUI's slot B)."""
        return self.keyframes[-1]

    def with_slider(self, name: str, value: float) -> Session:
        return replace(self, sliders={**self.sliders, name: value})

    def with_keyframe(self, index: int, key: Keyframe | None) -> Session:
        """The session with keyframe ``index`` (negative counts from the end) replaced by ``key``."""
        keyframes = list(self.keyframes)
        keyframes[index] = key
        return replace(self, keyframes=tuple(keyframes))

    def has_room_for_keyframe(self, t: float) -> bool:
        """Whether a keyframe can go at morph time ``t``: between the first and the last keyframe
        (the GUI's A and B) and at least ``MIN_KEY_GAP`` from every keyframe."""
        return all(abs(t - other) >= MIN_KEY_GAP for other in self.times) and self.times[0] < t < self.times[-1]

    def with_added_keyframe(self, t: float, key: Keyframe) -> Session:
        """The session with ``key`` added at morph time ``t``; the first and last keyframe stay.

        Raises:
            ValueError: no room at ``t`` (``has_room_for_keyframe``).
        """
        if not self.has_room_for_keyframe(t):
            raise ValueError(f"no room for a keyframe at t = {t:g}: it goes between A and B, at least "
                             f"{MIN_KEY_GAP} from every keyframe")
        i = next(i for i, other in enumerate(self.times) if other > t)
        return replace(self, keyframes=(*self.keyframes[:i], key, *self.keyframes[i:]),
                       times=(*self.times[:i], t, *self.times[i:]))

    def without_keyframe(self, index: int) -> Session:
        """The session without keyframe ``index``, one between the first and the last.

        Raises:
            ValueError: ``index`` is the first or the last keyframe, or out of range.
        """
        if not 0 < index < len(self.keyframes) - 1:
            raise ValueError(f"only keyframes between A and B can be removed, not index {index}")
        return replace(self, keyframes=self.keyframes[:index] + self.keyframes[index + 1:],
                       times=self.times[:index] + self.times[index + 1:])

    def keyframe_ws(self, bundle: ModelBundle, key: Keyframe | None) -> torch.Tensor:
        """W+ [1, num_ws, w_dim] of a keyframe (None: the session's seed) on the bundle's device:
        a photo's W+, or a seed's z through the mapping, truncated by ψ, in every layer."""
        if key is not None and key.ws is not None:
            return torch.tensor(key.ws, dtype=torch.float32, device=bundle.device).unsqueeze(0)
        return broadcast(self._seed_w(bundle, self._z(bundle, key)), bundle.generator.num_ws)

    def path_ws(self, bundle: ModelBundle, times: Sequence[float]) -> torch.Tensor:
        """W+ [len(times), num_ws, w_dim] before sliders at morph times ``times`` (in [0, 1]).

        In the segment between keyframes i and i + 1, each layer has moved by its group's
        progress p (``morph.group_progress``: local time, group window, easing): a lerp in W+
        from keyframe i to i + 1, or, when both are seeds, the slerp of their z at p through the
        mapping, truncated by ψ (Shoemake, 1985; the path along which z is distributed).
        """
        G = bundle.generator
        groups = layer_groups(G.num_ws)
        frames = []
        for t in times:
            i, u = segment(self.times, t)
            progress = group_progress(u, self.easing, self.windows)
            a, b = self.keyframes[i], self.keyframes[i + 1]
            frame = torch.empty(1, G.num_ws, G.cfg.w_dim, device=bundle.device)
            if _is_seed(a) and _is_seed(b):
                z_a, z_b = self._z(bundle, a), self._z(bundle, b)
                w = self._seed_w(bundle, torch.cat([slerp(z_a, z_b, progress[name]) for name in groups]))
                for row, layers in zip(w, groups.values()):
                    frame[0, layers.start:layers.stop] = row
            else:
                ws_a, ws_b = self.keyframe_ws(bundle, a), self.keyframe_ws(bundle, b)
                for name, layers in groups.items():
                    part = slice(layers.start, layers.stop)
                    frame[:, part] = ws_a[:, part].lerp(ws_b[:, part], progress[name])
            frames.append(frame)
        return torch.cat(frames)

    def ws(self, bundle: ModelBundle, t: float | None = None) -> torch.Tensor:
        """W+ [1, num_ws, w_dim] to render at morph time ``t`` (default ``morph_t``): ``path_ws``
        plus every non-zero slider."""
        return self._edited(bundle, self.path_ws(bundle, [self.morph_t if t is None else t]))

    def frame_times(self, bundle: ModelBundle, num_frames: int) -> list[float]:
        """Morph times of ``num_frames`` exported frames, from 0 to 1.

        Pace "time": t = i / (F − 1). Pace "perceptual": evenly spaced in perceptual arc length
        along the path (``morph.even_pace``), measured on the path rendered at
        min(4 (F − 1), ``PACE_STEPS``) + 1 evenly spaced times with sliders applied. LPIPS grows
        with the square of a small change (PPL divides it by ε²), so the arc length sums the
        square roots of LPIPS-alex between neighbouring samples. Keyframes other than the ends
        need not fall on a frame.

        Raises:
            UserError: fewer than 2 frames, or the LPIPS-alex weights are missing.
        """
        if num_frames < 2:
            raise UserError(f"a morph needs at least 2 frames, got {num_frames}")
        even = [i / (num_frames - 1) for i in range(num_frames)]
        if self.pace == "time":
            return even
        from explorer.metrics.lpips import load_lpips
        lpips = load_lpips("alex", bundle.device)
        samples = min(4 * (num_frames - 1), PACE_STEPS)
        times = [i / samples for i in range(samples + 1)]
        ws = self.morph_ws(bundle, times)
        with torch.inference_mode():
            images = torch.cat([bundle.generator.synthesis(part, noise_mode=RENDER_NOISE_MODE)
                                for part in ws.split(PACE_BATCH)])
            steps = torch.cat([lpips(images[i:j], images[i + 1:j + 1])
                               for i in range(0, samples, PACE_BATCH) for j in [min(i + PACE_BATCH, samples)]])
        return even_pace(times, steps.clamp_min(0).sqrt().cpu().tolist(), num_frames)

    def morph_ws(self, bundle: ModelBundle, times: Sequence[float]) -> torch.Tensor:
        """W+ [len(times), num_ws, w_dim] of the morph at ``times`` (e.g. ``frame_times``), sliders
        applied (the same offsets at every t)."""
        return self._edited(bundle, self.path_ws(bundle, times))

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(text: str, source: str = "session") -> Session:
        """Rebuild a session. Raises UserError naming ``source`` on bad JSON or fields."""
        try:
            data = loads_finite(text)
            keyframes = [Keyframe(**k) if k is not None else None for k in data.get("keyframes", (None, None))]
            style = data.get("style")
            return Session(**{**data, "keyframes": keyframes, "style": Keyframe(**style) if style else None})
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise UserError(f"{source}: not a session file ({e})") from None

    def _z(self, bundle: ModelBundle, key: Keyframe | None) -> torch.Tensor:
        """z [1, z_dim] on the bundle's device of a seed keyframe (None: the session's seed)."""
        seed = self.seed if key is None else key.seed
        return seed_to_z(seed, bundle.generator.cfg.z_dim).to(bundle.device)

    def _seed_w(self, bundle: ModelBundle, z: torch.Tensor) -> torch.Tensor:
        """z [N, z_dim] → w [N, w_dim] through the mapping, truncated by ψ."""
        G = bundle.generator
        with torch.no_grad():
            return truncate(G.mapping(z), G.mapping.w_avg, self.psi)

    def slider_direction(self, bundle: ModelBundle, name: str) -> Direction:
        """Direction ``name`` as its slider moves: made orthogonal to the directions
        ``conditions[name]`` names (``Direction.conditioned``), so that they stay unchanged."""
        keep = self.conditions.get(name, ())
        return bundle.direction(name).conditioned([bundle.direction(k) for k in keep], bundle.w_covariance()) \
            if keep else bundle.direction(name)

    def _edited(self, bundle: ModelBundle, ws: torch.Tensor) -> torch.Tensor:
        """W+ [N, num_ws, w_dim] of the path with the style reference's layers mixed in, then
        every non-zero slider applied."""
        if self.style is not None and self.style_groups:
            groups = layer_groups(bundle.generator.num_ws)
            ws = mix_styles(ws, self.keyframe_ws(bundle, self.style), *(groups[g] for g in self.style_groups))
        return self._with_sliders(bundle, ws)

    def _with_sliders(self, bundle: ModelBundle, ws: torch.Tensor) -> torch.Tensor:
        for name, value in self.sliders.items():
            if value:
                ws = self.slider_direction(bundle, name).apply(ws, value)
        return ws


def _is_seed(key: Keyframe | None) -> bool:
    """Whether a keyframe has a z: a seed, or None (the session's seed)."""
    return key is None or key.ws is None


def render(bundle: ModelBundle, ws: torch.Tensor) -> np.ndarray:
    """Synthesize W+ [N, num_ws, w_dim] (noise: ``RENDER_NOISE_MODE``) → uint8 [N, R, R, 3]."""
    with torch.inference_mode():
        return to_uint8(bundle.generator.synthesis(ws.to(bundle.device), noise_mode=RENDER_NOISE_MODE))
