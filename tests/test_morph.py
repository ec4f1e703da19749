"""Morph paths: easing, segments, per-group windows, keyframes hit exactly, slerp between seeds,
perceptual pacing, the session's JSON and the export sidecar."""

import json
from dataclasses import replace
from itertools import pairwise

import numpy as np
import pytest
import torch

from explorer.errors import UserError
from explorer.export import morph_sidecar
from explorer.latent import broadcast, lerp, seed_to_z, slerp, truncate
from explorer.metrics.lpips import load_lpips
from explorer.morph import (
    EASINGS,
    check_times,
    check_windows,
    ease,
    even_pace,
    evenly_spaced,
    segment,
)
from explorer.nets.encoder import Encoder, EncoderConfig
from explorer.nets.stylegan import layer_groups, num_ws_at
from explorer.session import Keyframe, Session
from explorer.weights import load_bundle


@pytest.fixture(scope="module")
def bundle(weights_dir):
    return load_bundle(weights_dir, "cpu")


def photo_key(bundle, seed: int, label: str) -> Keyframe:
    """A photo-like keyframe: random W+ [num_ws, w_dim]."""
    G = bundle.generator
    ws = torch.randn(G.num_ws, G.cfg.w_dim, generator=torch.Generator().manual_seed(seed))
    return Keyframe(label=label, photo=f"{label}.png", ws=ws.tolist())


@pytest.mark.parametrize("easing", EASINGS)
def test_easings_start_at_0_end_at_1_and_never_go_back(easing):
    u = np.linspace(0, 1, 201)
    values = np.array([ease(x, easing) for x in u])
    assert values[0] == 0.0 and values[-1] == 1.0
    assert (np.diff(values) >= 0).all()
    assert ease(-0.5, easing) == 0.0 and ease(1.5, easing) == 1.0
    assert ease(0.5, easing) == pytest.approx(0.5)
    assert np.allclose(values, 1 - values[::-1])                      # symmetric in and out


def test_ease_in_out_starts_slow_and_cubic_slower():
    assert ease(0.1, "linear") == pytest.approx(0.1)
    assert ease(0.1, "cubic") < ease(0.1, "ease-in-out") < 0.1
    assert ease(0.5 + 1e-3, "cubic") - 0.5 > ease(0.5 + 1e-3, "ease-in-out") - 0.5    # faster in the middle
    with pytest.raises(ValueError, match="unknown easing 'bounce'"):
        ease(0.5, "bounce")


def test_segments_and_times():
    times = (0.0, 0.25, 1.0)
    assert segment(times, 0.0) == (0, 0.0)
    assert segment(times, 0.125) == (0, 0.5)
    assert segment(times, 0.25) == (1, 0.0)                          # at a keyframe: the next segment starts
    assert segment(times, 1.0) == (1, 1.0)
    assert segment((0.2, 0.8), 0.1) == (0, 0.0) and segment((0.2, 0.8), 0.9) == (0, 1.0)    # held
    assert evenly_spaced(3) == (0.0, 0.5, 1.0)
    for bad in [(0.0,), (0.0, 0.5, 0.5), (0.5, 0.2), (-0.1, 1.0), (0.0, 1.5)]:
        with pytest.raises(ValueError):
            check_times(bad)


def test_windows_are_checked():
    good = {"coarse": [0, 0.5], "middle": (0.25, 0.75), "fine": (0.5, 1)}
    assert check_windows(good) == {"coarse": (0.0, 0.5), "middle": (0.25, 0.75), "fine": (0.5, 1.0)}
    for bad in [{"coarse": (0, 1), "middle": (0, 1)}, {**good, "fine": (0.5, 0.5)}, {**good, "coarse": (-0.1, 1)},
                {**good, "extra": (0, 1)}]:
        with pytest.raises(ValueError):
            check_windows(bad)


def test_layer_groups_are_the_encoders():
    assert {k: (r.start, r.stop) for k, r in layer_groups(10).items()} == {"coarse": (0, 4), "middle": (4, 7),
                                                                           "fine": (7, 10)}
    for num_ws in (6, 8, 10, 12, 14):
        assert [i for r in layer_groups(num_ws).values() for i in r] == list(range(num_ws))
    for resolution in (32, 64, 128, 256):
        num_ws = num_ws_at(resolution)
        encoder = Encoder(EncoderConfig(resolution=resolution, num_ws=num_ws, w_dim=8, channel_base=2048,
                                        channel_max=8))
        assert [n for _, n in encoder.groups] == [len(r) for r in layer_groups(num_ws).values()]


def test_keyframe_times_are_hit_exactly(bundle):
    keys = (photo_key(bundle, 1, "a"), Keyframe.from_seed(5), photo_key(bundle, 2, "c"))
    for easing in EASINGS:
        session = Session(keyframes=keys, times=(0.0, 0.3, 1.0), easing=easing,
                          windows={"coarse": (0, 0.5), "middle": (0.2, 0.9), "fine": (0.5, 1)})
        ws = session.path_ws(bundle, [0.0, 0.3, 1.0])
        for frame, key in zip(ws, keys):
            assert torch.equal(frame, session.keyframe_ws(bundle, key)[0]), easing
        between = session.path_ws(bundle, [0.65])[0]
        assert not torch.allclose(between, ws[1]) and not torch.allclose(between, ws[2])


def test_group_windows_move_coarse_first_and_fine_last(bundle):
    a, b = photo_key(bundle, 1, "a"), photo_key(bundle, 2, "b")
    session = Session(keyframes=(a, b), windows={"coarse": (0, 0.5), "middle": (0.25, 0.75), "fine": (0.5, 1)})
    ws_a, ws_b = session.keyframe_ws(bundle, a)[0], session.keyframe_ws(bundle, b)[0]
    groups = layer_groups(bundle.generator.num_ws)
    coarse, middle, fine = (slice(r.start, r.stop) for r in groups.values())
    half = session.path_ws(bundle, [0.5])[0]
    assert torch.equal(half[coarse], ws_b[coarse])                    # coarse layers arrived …
    assert torch.equal(half[fine], ws_a[fine])                        # … fine ones have not moved yet
    assert torch.allclose(half[middle], lerp(ws_a[middle], ws_b[middle], 0.5))
    quarter = session.path_ws(bundle, [0.25])[0]
    assert torch.allclose(quarter[coarse], lerp(ws_a[coarse], ws_b[coarse], 0.5))
    assert torch.equal(quarter[middle], ws_a[middle]) and torch.equal(quarter[fine], ws_a[fine])
    together = Session(keyframes=(a, b)).path_ws(bundle, [0.25])[0]
    assert torch.allclose(together, lerp(ws_a, ws_b, 0.25))


def test_easing_shapes_the_path(bundle):
    a, b = photo_key(bundle, 1, "a"), photo_key(bundle, 2, "b")
    linear = Session(keyframes=(a, b)).path_ws(bundle, [0.2])[0]
    eased = Session(keyframes=(a, b), easing="ease-in-out").path_ws(bundle, [0.2])[0]
    ws_a, ws_b = (torch.tensor(k.ws) for k in (a, b))
    assert torch.allclose(linear, lerp(ws_a, ws_b, 0.2), atol=1e-6)
    assert torch.allclose(eased, lerp(ws_a, ws_b, ease(0.2, "ease-in-out")), atol=1e-6)


def test_two_seeds_are_slerped_in_z(bundle):
    G = bundle.generator
    z_a, z_b = seed_to_z(3, G.cfg.z_dim), seed_to_z(4, G.cfg.z_dim)
    session = Session(psi=0.7, keyframes=(Keyframe.from_seed(3), Keyframe.from_seed(4)))
    norms = [slerp(z_a, z_b, t).norm().item() for t in np.linspace(0, 1, 11)]
    assert max(norms) / min(norms) < 1.02                             # |z| stays put along the slerp …
    assert lerp(z_a, z_b, 0.5).norm() < 0.8 * min(norms)              # … and sags along a lerp
    with torch.no_grad():
        expected = broadcast(truncate(G.mapping(slerp(z_a, z_b, 0.3)), G.mapping.w_avg, 0.7), G.num_ws)
    assert torch.allclose(session.path_ws(bundle, [0.3]), expected, atol=1e-5)
    ends = session.path_ws(bundle, [0.0, 1.0])
    for frame, key in zip(ends, session.keyframes):
        assert torch.allclose(frame, session.keyframe_ws(bundle, key)[0], atol=1e-5)


def test_session_json_round_trip(bundle):
    session = Session(seed=9, psi=0.5, sliders={"x": 1.5}, morph_t=0.4, easing="cubic",
                      keyframes=(None, photo_key(bundle, 1, "a"), Keyframe.from_seed(7)), times=(0.0, 0.4, 1.0),
                      windows={"coarse": (0.0, 0.5), "middle": (0.0, 1.0), "fine": (0.5, 1.0)},
                      style=photo_key(bundle, 2, "ref"), style_groups=["fine"])
    again = Session.from_json(session.to_json())
    assert again == session and again.key_a is None and again.key_b == Keyframe.from_seed(7)
    assert Session.from_json(Session().to_json()) == Session()


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"easing": "bounce"}', '{"keyframes": [null]}',
                                  '{"keyframes": [{"label": "x"}, null]}', '{"times": [0, 0.5, 1]}',
                                  '{"windows": {"coarse": [0.5, 0.2]}}', '{"colour": 1}',
                                  '{"style_groups": ["hair"]}', '{"style": {"label": "x"}}'])
def test_bad_session_json_names_the_source(text):
    with pytest.raises(UserError, match=r"^my\.json: not a session file"):
        Session.from_json(text, "my.json")


def test_sidecar_holds_what_regenerates_the_morph(bundle):
    session = Session(keyframes=(Keyframe.from_seed(1), photo_key(bundle, 1, "b"), None), times=(0.0, 0.5, 1.0),
                      seed=4, easing="ease-in-out", windows={"coarse": (0, 0.5), "middle": (0, 1), "fine": (0.5, 1)})
    times = session.frame_times(bundle, 9)
    sidecar = json.loads(json.dumps(morph_sidecar(bundle, session, times, 12)))
    assert (sidecar["num_frames"], sidecar["fps"], sidecar["easing"]) == (9, 12, "ease-in-out")
    assert sidecar["pace"] == "time" and sidecar["frame_times"] == [i / 8 for i in range(9)]
    assert sidecar["windows"] == {"coarse": [0, 0.5], "middle": [0, 1], "fine": [0.5, 1]}
    assert sidecar["layer_groups"] == {"coarse": [0, 3], "middle": [4, 6], "fine": [7, 9]}
    assert [(k["label"], k["time"]) for k in sidecar["keyframes"]] == [("seed 1", 0.0), ("b", 0.5), ("seed 4", 1.0)]
    for entry, key in zip(sidecar["keyframes"], session.keyframes):
        assert torch.allclose(torch.tensor(entry["ws"]), session.keyframe_ws(bundle, key)[0])
    again = Session.from_json(json.dumps(sidecar["session"]))
    assert torch.equal(again.morph_ws(bundle, sidecar["frame_times"]), session.morph_ws(bundle, times))


def test_style_mixing_takes_the_reference_groups_before_the_sliders(bundle):
    groups = layer_groups(bundle.generator.num_ws)
    reference = photo_key(bundle, 2, "ref")
    plain = Session(seed=5, keyframes=(None, Keyframe.from_seed(6)), morph_t=0.3)
    mixed = replace(plain, style=reference, style_groups=("coarse", "fine"))
    ws, ref, path = mixed.ws(bundle), plain.keyframe_ws(bundle, reference), plain.ws(bundle)
    for name, taken in (("coarse", True), ("middle", False), ("fine", True)):
        layers = slice(groups[name].start, groups[name].stop)
        assert torch.equal(ws[:, layers], (ref if taken else path)[:, layers]), name
    assert torch.equal(replace(plain, style=reference).ws(bundle), path)          # no groups: no mixing
    frames = mixed.morph_ws(bundle, [0.0, 0.5, 1.0])
    coarse = slice(groups["coarse"].start, groups["coarse"].stop)
    assert torch.equal(frames[:, coarse], ref[:, coarse].expand(3, -1, -1)) and not torch.equal(frames[0], frames[2])
    name = bundle.directions[0].name
    assert torch.equal(mixed.with_slider(name, 1.0).ws(bundle), bundle.direction(name).apply(ws, 1.0))


def test_even_pace_spreads_frames_by_change_not_time():
    times = [i / 4 for i in range(5)]
    assert even_pace(times, [1, 1, 1, 1], 5) == pytest.approx(times)
    paced = even_pace(times, [0.1, 0.1, 3.7, 0.1], 9)          # the picture changes most in [0.5, 0.75]
    assert paced[0] == 0 and paced[-1] == 1 and all(a < b for a, b in pairwise(paced))
    assert sum(0.5 < t < 0.75 for t in paced) >= 6
    assert even_pace(times, [0, 0, 0, 0], 3) == [0.0, 0.5, 1.0]
    for bad in (([0, 1], [1, 1], 3), ([0, 1], [-1], 3), ([0, 1], [1], 1)):
        with pytest.raises(ValueError):
            even_pace(*bad)


def test_perceptual_pace_evens_the_steps_between_frames(bundle):
    session = Session(keyframes=(Keyframe.from_seed(1), photo_key(bundle, 2, "b")), easing="cubic")
    lpips = load_lpips("alex")

    def steps(times):
        with torch.inference_mode():
            images = bundle.generator.synthesis(session.morph_ws(bundle, times), noise_mode="none")
            return lpips(images[:-1], images[1:])

    by_time = steps(session.frame_times(bundle, 12))                  # the default pace: evenly in t
    times = replace(session, pace="perceptual").frame_times(bundle, 12)
    assert times[0] == 0 and times[-1] == 1 and all(a < b for a, b in pairwise(times))
    even = steps(times)
    assert (even.max() / even.mean()) < 1.3 < (by_time.max() / by_time.mean())
