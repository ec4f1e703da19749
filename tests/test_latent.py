"""W / W+ math: seeds, truncation, interpolation, style mixing, directions."""

import pytest
import torch

from explorer.latent import (
    apply_direction,
    broadcast,
    lerp,
    mix_styles,
    seed_to_z,
    slerp,
    truncate,
)


def test_seeds_are_reproducible_and_distinct():
    assert torch.equal(seed_to_z(7, 16), seed_to_z(7, 16))
    assert not torch.equal(seed_to_z(7, 16), seed_to_z(8, 16))
    with pytest.raises(ValueError, match="seed"):
        seed_to_z(-1, 16)


def test_truncation_and_lerp_endpoints():
    w, w_avg = torch.randn(2, 8), torch.randn(8)
    assert torch.allclose(truncate(w, w_avg, 1.0), w) and torch.allclose(truncate(w, w_avg, 0.0), w_avg.expand(2, -1))
    a, b = torch.randn(8), torch.randn(8)
    assert torch.allclose(lerp(a, b, 0.0), a) and torch.allclose(lerp(a, b, 1.0), b)


def test_slerp_keeps_the_norm_of_equal_norm_vectors_and_hits_the_ends():
    a, b = torch.randn(3, 64), torch.randn(3, 64)
    b = b / b.norm(dim=-1, keepdim=True) * a.norm(dim=-1, keepdim=True)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5) and torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    mid = slerp(a, b, 0.5)
    assert torch.allclose(mid.norm(dim=-1), a.norm(dim=-1), rtol=1e-4)
    assert (lerp(a, b, 0.5).norm(dim=-1) < mid.norm(dim=-1)).all()
    assert torch.allclose(slerp(a, a, 0.3), a, atol=1e-5)


def test_mix_styles_and_directions_touch_only_their_layers():
    ws, ref = broadcast(torch.zeros(1, 4), 6), broadcast(torch.ones(1, 4), 6)
    mixed = mix_styles(ws, ref, range(2, 4))
    assert mixed[0, :, 0].tolist() == [0, 0, 1, 1, 0, 0] and ws.sum() == 0
    moved = apply_direction(ws, torch.tensor([1.0, 0, 0, 0]), 2.0, range(2))
    assert moved[0, :, 0].tolist() == [2, 2, 0, 0, 0, 0] and moved[0, :, 1:].abs().sum() == 0
