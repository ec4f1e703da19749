"""Projection refines the encoder's W+ towards the photo, and can be cancelled."""

import numpy as np
import pytest
import torch

from explorer.faces import align_face
from explorer.images import from_uint8, load_photo
from explorer.metrics.lpips import load_lpips
from explorer.projection import learning_rate, refine_ws
from explorer.session import RENDER_NOISE_MODE
from explorer.weights import load_bundle


@pytest.fixture(scope="module")
def setup(weights_dir, shared_data):
    bundle = load_bundle(weights_dir, "cpu")
    face = align_face(load_photo(shared_data / "portraits" / "grace_hopper.jpg"), bundle.resolution,
                      method=bundle.alignment)
    target = from_uint8(np.array(face.image)[None])
    with torch.no_grad():
        ws = bundle.encoder(target, bundle.generator.mapping.w_avg)
    return bundle, target, ws


def _loss(bundle, target, ws):
    with torch.no_grad():
        image = bundle.generator.synthesis(ws, noise_mode=RENDER_NOISE_MODE)
        return (load_lpips("alex")(image, target).mean() + (image - target).square().mean()).item()


def test_refinement_lowers_the_reconstruction_loss(setup):
    bundle, target, ws = setup
    refined = refine_ws(bundle, target, ws, 10)
    assert refined.shape == ws.shape and not refined.requires_grad
    assert _loss(bundle, target, refined) < _loss(bundle, target, ws)


def test_refinement_stops_when_the_callback_says_so(setup):
    bundle, target, ws = setup
    seen = []
    refine_ws(bundle, target, ws, 50, on_step=lambda step, loss: seen.append(step) or step < 3)
    assert seen == [1, 2, 3]
    with pytest.raises(ValueError, match="steps"):
        refine_ws(bundle, target, ws, -1)


def test_the_learning_rate_ramps_up_then_decays_towards_zero():
    rates = [learning_rate(step, 100, 0.05) for step in range(1, 101)]
    peak = rates.index(max(rates))
    assert peak == 5 and rates[peak] == pytest.approx(0.05, rel=0.01)
    assert all(a < b for a, b in zip(rates[:peak], rates[1:peak + 1]))
    assert all(a > b for a, b in zip(rates[peak:-1], rates[peak + 1:]))
    assert 0 < rates[0] < 0.01 and 0 < rates[-1] < 0.05 * 1e-3
