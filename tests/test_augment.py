"""ADA: the augmentation pipeline's behaviour and distributions, and the p controller."""

import math

import pytest
import torch
import torch.nn.functional as F

from explorer.train.augment import AdaptiveP, AugmentPipe, _blit

E1 = torch.tensor([1.0, -1, 0]) / math.sqrt(2)  # an orthonormal basis of the chroma plane,
E2 = torch.tensor([1.0, 1, -2]) / math.sqrt(6)  # the plane orthogonal to grey (1, 1, 1)


def pipe_at(p: float) -> AugmentPipe:
    pipe = AugmentPipe()
    pipe.p.fill_(p)
    return pipe


def images(n: int, r: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, r, r, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def uniform(n: int, colour) -> torch.Tensor:
    return torch.tensor(colour, dtype=torch.float32).view(1, 3, 1, 1).expand(n, 3, 8, 8).contiguous()


def augment(pipe: AugmentPipe, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)
    return pipe(x)


def test_p0_is_the_identity_and_draws_nothing():
    x = images(4, 16)
    state = torch.get_rng_state()
    assert pipe_at(0.0)(x) is x
    assert torch.equal(torch.get_rng_state(), state)


def test_p1_changes_every_sample_and_keeps_shape_dtype_and_memory_format():
    x = images(64, 16).contiguous(memory_format=torch.channels_last)
    y = augment(pipe_at(1.0), x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert y.is_contiguous(memory_format=torch.channels_last)
    assert torch.isfinite(y).all()
    assert ((y - x).flatten(1).abs().amax(1) > 1e-3).all()


def test_same_seed_same_output():
    x, pipe = images(16, 16), pipe_at(0.5)
    assert torch.equal(augment(pipe, x, seed=3), augment(pipe, x, seed=3))
    assert not torch.equal(augment(pipe, x, seed=3), augment(pipe, x, seed=4))


def test_gradients_are_exact_and_reach_every_sample():
    pipe = pipe_at(1.0)
    x = images(3, 6).double().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: augment(pipe, t), (x,))
    augment(pipe, x).square().sum().backward()
    assert (x.grad.flatten(1).abs().sum(1) > 0).all()


def test_pixel_blitting_is_exact():
    """Each sample comes out as one of the 8 flips / quarter turns of its input, shifted by at
    most R/8 pixels with reflect padding: no value is resampled."""
    x = images(32, 8)
    torch.manual_seed(0)
    y = _blit(x, 1.0)
    for xi, yi in zip(x, y):
        turns = [torch.rot90(xi.flip(2) if flip else xi, k, (1, 2)) for flip in (0, 1) for k in range(4)]
        padded = [F.pad(t[None], (1, 1, 1, 1), mode="reflect")[0] for t in turns]
        shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        shifted = [t[:, 1 + dy:9 + dy, 1 + dx:9 + dx] for t in padded for dy, dx in shifts]
        assert any(torch.equal(yi, s) for s in shifted)


def test_spatial_ops_only_move_pixels():
    """A uniform image stays uniform: resampling with reflection padding invents no values."""
    y = augment(pipe_at(1.0), uniform(256, [0.6, -0.2, 0.1]))
    spread = y.flatten(2).amax(2) - y.flatten(2).amin(2)
    assert spread.max() < 1e-5


def test_colour_ops_follow_ada_distributions():
    """On uniform images, with the same random draws: grey stays grey; the grey level maps as
    ±c·(v + b), brightness b ~ N(0, 0.2²), contrast log2 c ~ N(0, 0.5²), luma flip half the
    time at p = 1; a chroma vector's length scales by c·s with saturation log2 s ~ N(0, 1)."""
    n, pipe = 4096, pipe_at(1.0)
    y0 = augment(pipe, uniform(n, [0.0, 0.0, 0.0])).mean((2, 3))  # [N, 3]
    y1 = augment(pipe, uniform(n, [0.5, 0.5, 0.5])).mean((2, 3))
    tinted = augment(pipe, uniform(n, (0.3 * E1).tolist())).mean((2, 3))
    assert (y1 - y1.mean(1, keepdim=True)).abs().max() < 1e-5
    gain = (y1 - y0)[:, 0] / 0.5  # ±c
    brightness = y0[:, 0] / gain
    contrast = gain.abs().log2()
    saturation = ((tinted - tinted.mean(1, keepdim=True)).norm(dim=1) / (0.3 * gain.abs())).log2()
    assert abs(brightness.mean()) < 0.02 and abs(brightness.std() - 0.2) < 0.02
    assert abs(contrast.mean()) < 0.05 and abs(contrast.std() - 0.5) < 0.05
    assert abs((gain < 0).float().mean() - 0.5) < 0.05
    assert abs(saturation.mean()) < 0.1 and abs(saturation.std() - 1.0) < 0.1


def test_x_flip_mirrors_a_quarter_of_the_samples_at_p_half():
    """Every op but the x-flip keeps orientation, so a sample is mirrored iff its chroma, laid out
    as the pixel position (a colour wheel), turns the other way round: the sign of the signed
    area of the image in the chroma plane. At p = 0.5 the flip is on for half the samples and
    mirrors half of those."""
    n, r = 2048, 32
    c = (torch.arange(r) * 2 - (r - 1)) / r
    wheel = 0.8 * (c.view(1, 1, r) * E1.view(3, 1, 1) + c.view(1, r, 1) * E2.view(3, 1, 1))
    y = augment(pipe_at(0.5), wheel.expand(n, 3, r, r).contiguous())
    u, v = torch.einsum("nchw,c->nhw", y, E1), torch.einsum("nchw,c->nhw", y, E2)
    du_dx, du_dy = u[:, :-1, 1:] - u[:, :-1, :-1], u[:, 1:, :-1] - u[:, :-1, :-1]
    dv_dx, dv_dy = v[:, :-1, 1:] - v[:, :-1, :-1], v[:, 1:, :-1] - v[:, :-1, :-1]
    mirrored = (du_dx * dv_dy - du_dy * dv_dx).sum((1, 2)) < 0
    assert abs(mirrored.float().mean() - 0.25) < 0.05  # 5 standard errors


def test_rejects_non_square_or_non_rgb():
    with pytest.raises(ValueError, match="N, 3, R, R"):
        pipe_at(0.5)(torch.zeros(2, 3, 8, 6))
    with pytest.raises(ValueError, match="N, 3, R, R"):
        pipe_at(0.5)(torch.zeros(2, 1, 8, 8))


def run_controller(ada: AdaptiveP, pipe: AugmentPipe, logits: torch.Tensor, updates: int) -> None:
    for _ in range(updates):
        for _ in range(ada.interval):
            ada.accumulate(logits)
        ada.update(pipe, ada.stats)


def test_adaptive_p_raises_p_when_d_overfits():
    ada, pipe = AdaptiveP(ada_kimg=1.0), AugmentPipe()
    run_controller(ada, pipe, torch.ones(16, 1), updates=1)
    assert ada.rt == 1.0
    assert float(pipe.p) == pytest.approx(16 * 4 / 1000)  # batch · interval / (ada_kimg · 1000)
    assert ada.stats.tolist() == [0.0, 0.0]
    run_controller(ada, pipe, torch.ones(16, 1), updates=20)
    assert float(pipe.p) == 1.0


def test_adaptive_p_lowers_p_and_clamps_at_zero():
    ada, pipe = AdaptiveP(ada_kimg=1.0), pipe_at(0.1)
    logits = torch.tensor([[-2.0], [-1.0], [0.5], [-0.1]])  # r_t = -0.5 < 0.6
    run_controller(ada, pipe, logits, updates=1)
    assert ada.rt == -0.5
    assert float(pipe.p) == pytest.approx(0.1 - 4 * 4 / 1000)
    run_controller(ada, pipe, logits, updates=10)
    assert float(pipe.p) == 0.0


def test_adaptive_p_holds_at_target_and_steps_by_the_global_count():
    ada, pipe = AdaptiveP(target=0.5, interval=1, ada_kimg=1.0), pipe_at(0.3)
    ada.accumulate(torch.tensor([1.0, 1.0, 1.0, -1.0]))  # r_t = 0.5
    ada.update(pipe, ada.stats)
    assert float(pipe.p) == pytest.approx(0.3)
    ada.accumulate(torch.ones(8))
    other_process = torch.tensor([8.0, 8.0])
    ada.update(pipe, ada.stats + other_process)  # what all_reduce(SUM) over two processes gives
    assert float(pipe.p) == pytest.approx(0.3 + 16 / 1000)


def test_adaptive_p_rejects_bad_use():
    with pytest.raises(ValueError, match="ada_kimg"):
        AdaptiveP(ada_kimg=0)
    with pytest.raises(ValueError, match="interval"):
        AdaptiveP(interval=0)
    with pytest.raises(RuntimeError, match="no real logits"):
        AdaptiveP().update(AugmentPipe(), torch.zeros(2))
