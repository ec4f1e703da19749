"""The document an artist edits: a seed or two keyframes, truncation, slider values, morph
position. Plain Python (no Qt), so the GUI, the CLI and the tests share it; saved as JSON.

What is shown: with no keyframe loaded, the seed's w (truncated by ψ) in every W+ layer;
with keyframes, the lerp in W+ from A to B at ``morph_t`` (an empty slot stands for the
seed). Slider offsets are added on top, each on its direction's layers.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from explorer.errors import UserError
from explorer.images import to_uint8
from explorer.latent import broadcast, lerp, seed_to_z, truncate
from explorer.weights import ModelBundle

RENDER_NOISE_MODE = "none"
"""How every face the app, the CLI and the encoder see is synthesized: without the per-pixel
noise inputs. Deterministic, and on the shipped 64² generator the noise adds speckle rather
than detail (compare ``noise_mode="const"``). Training still uses random noise."""


@dataclass(frozen=True)
class Keyframe:
    """One end of a morph: a photo with its W+ (from the encoder) or a seed.

    ``ws`` is a nested list [num_ws][w_dim] for photos (so the session stays JSON), None for seeds.
    """

    label: str
    seed: int | None = None
    photo: str | None = None
    ws: list | None = None

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
    (``dataclasses.replace``) and hands the snapshot to the render worker."""

    seed: int = 0
    psi: float = 0.7
    sliders: dict = field(default_factory=dict)       # direction name → value in σ units
    key_a: Keyframe | None = None
    key_b: Keyframe | None = None
    morph_t: float = 0.0

    def with_slider(self, name: str, value: float) -> Session:
        return replace(self, sliders={**self.sliders, name: value})

    def keyframe_ws(self, bundle: ModelBundle, key: Keyframe | None) -> torch.Tensor:
        """W+ [1, num_ws, w_dim] of a keyframe (None: the session's seed) on the bundle's device."""
        G = bundle.generator
        if key is not None and key.ws is not None:
            return torch.tensor(key.ws, dtype=torch.float32, device=bundle.device).unsqueeze(0)
        seed = self.seed if key is None else key.seed
        with torch.no_grad():
            w = G.mapping(seed_to_z(seed, G.cfg.z_dim).to(bundle.device))
        return broadcast(truncate(w, G.mapping.w_avg, self.psi), G.num_ws)

    def base_ws(self, bundle: ModelBundle, t: float | None = None) -> torch.Tensor:
        """W+ [1, num_ws, w_dim] before sliders, at morph position ``t`` (default ``morph_t``)."""
        if self.key_a is None and self.key_b is None:
            return self.keyframe_ws(bundle, None)
        t = self.morph_t if t is None else t
        return lerp(self.keyframe_ws(bundle, self.key_a), self.keyframe_ws(bundle, self.key_b), t)

    def ws(self, bundle: ModelBundle, t: float | None = None) -> torch.Tensor:
        """W+ [1, num_ws, w_dim] to render: ``base_ws`` plus every non-zero slider."""
        ws = self.base_ws(bundle, t)
        for name, value in self.sliders.items():
            if value:
                ws = bundle.direction(name).apply(ws, value)
        return ws

    def morph_ws(self, bundle: ModelBundle, num_frames: int) -> torch.Tensor:
        """The morph A → B as ``num_frames`` W+ [F, num_ws, w_dim] at evenly spaced t in [0, 1]:
        the lerp between the end frames (slider offsets are the same at every t)."""
        if num_frames < 2:
            raise UserError(f"a morph needs at least 2 frames, got {num_frames}")
        t = torch.linspace(0.0, 1.0, num_frames, device=bundle.device).view(-1, 1, 1)
        return self.ws(bundle, 0.0).lerp(self.ws(bundle, 1.0), t)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(text: str, source: str = "session") -> Session:
        """Rebuild a session. Raises UserError naming ``source`` on bad JSON or fields."""
        try:
            data = json.loads(text)
            keys = {k: Keyframe(**data[k]) if data.get(k) else None for k in ("key_a", "key_b")}
            return Session(**{**data, **keys})
        except (json.JSONDecodeError, TypeError, KeyError) as e:
            raise UserError(f"{source}: not a session file ({e})") from None


def render(bundle: ModelBundle, ws: torch.Tensor) -> np.ndarray:
    """Synthesize W+ [N, num_ws, w_dim] (noise: ``RENDER_NOISE_MODE``) → uint8 [N, R, R, 3]."""
    with torch.inference_mode():
        return to_uint8(bundle.generator.synthesis(ws.to(bundle.device), noise_mode=RENDER_NOISE_MODE))
