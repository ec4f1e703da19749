"""The regularizers, EMA and style mixing of GAN training against closed-form values."""

import pytest
import torch
from torch import nn

from explorer.nets.stylegan import Generator, GeneratorConfig
from explorer.train.gan import _generate, _update_ema, lazy_adam
from explorer.train.losses import PathLengthPenalty, gradient_penalty, r1_penalty


def linear_critic(a: torch.Tensor):
    """D(x) = <a, x> per sample: [N, *a.shape] → [N, 1]; its gradient is a everywhere."""
    return lambda x: (x * a).flatten(1).sum(dim=1, keepdim=True)


def test_r1_of_a_linear_critic_is_the_squared_norm_of_its_weights_anywhere():
    torch.manual_seed(0)
    a = torch.randn(3, 4, 4)
    D = linear_critic(a)
    for scale in (1.0, 10.0):
        x = (scale * torch.randn(5, 3, 4, 4)).requires_grad_(True)
        assert r1_penalty(x, D(x)).item() == pytest.approx(a.square().sum().item(), rel=1e-5)


def test_gradient_penalty_of_a_linear_critic_with_gradient_norm_two_is_one():
    torch.manual_seed(0)
    a = torch.randn(3, 4, 4)
    D = linear_critic(2 * a / a.norm())
    real, fake = torch.randn(6, 3, 4, 4), torch.randn(6, 3, 4, 4, dtype=torch.bfloat16)
    assert gradient_penalty(D, real, fake).item() == pytest.approx(1.0, rel=1e-5)


def test_path_lengths_of_a_linear_synthesis_are_those_of_its_transposed_matrix():
    n, num_ws, w_dim, res = 4, 3, 5, 4
    torch.manual_seed(0)
    M = torch.randn(num_ws * w_dim, 3 * res * res)
    ws = torch.randn(n, num_ws, w_dim, requires_grad=True)
    img = (ws.flatten(1) @ M).reshape(n, 3, res, res)
    torch.manual_seed(1)
    lengths = PathLengthPenalty().lengths(img, ws)
    torch.manual_seed(1)
    y = torch.randn(n, 3, res, res) / res                          # N(0, I) / sqrt(H·W)
    grad = (y.flatten(1) @ M.T).reshape(n, num_ws, w_dim)          # J_wᵀ y
    assert torch.allclose(lengths, grad.square().sum(dim=2).mean(dim=1).sqrt(), rtol=1e-5)


def test_path_length_mean_moves_by_the_decay_and_the_penalty_reads_it():
    pl = PathLengthPenalty(decay=0.01)
    pl.update(torch.tensor(5.0))
    assert pl.pl_mean.item() == pytest.approx(0.05)
    pl.update(torch.tensor(5.0))
    assert pl.pl_mean.item() == pytest.approx(0.05 + 0.01 * (5.0 - 0.05))
    assert pl.penalty(torch.tensor([1.0, 3.0])).item() == pytest.approx(((1 - 0.0995) ** 2 + (3 - 0.0995) ** 2) / 2)


def test_ema_goes_half_way_in_its_half_life():
    batch, ema_nimg = 4, 40
    G, G_ema = nn.Linear(2, 2), nn.Linear(2, 2)
    nn.init.ones_(G.weight), nn.init.zeros_(G_ema.weight)
    for _ in range(ema_nimg // batch):
        _update_ema(G_ema, G, 0.5 ** (batch / ema_nimg))
    assert torch.allclose(G_ema.weight, torch.full((2, 2), 0.5))


@torch.no_grad()
def test_style_mixing_gives_two_blocks_of_w_and_no_mixing_one():
    G = Generator(GeneratorConfig(resolution=16, z_dim=8, w_dim=8, channel_base=64, channel_max=8))
    cutoffs = set()
    for seed in range(8):
        torch.manual_seed(seed)
        _, ws = _generate(G, torch.randn(3, 8), mixing_prob=1.0)
        first = (ws == ws[:, :1]).all(dim=2)                        # [N, num_ws]: layer equals layer 0
        cutoff = int(first[0].sum())
        assert 1 <= cutoff < G.num_ws and first[:, :cutoff].all() and not first[:, cutoff:].any()
        assert (ws[:, cutoff:] == ws[:, cutoff:cutoff + 1]).all()
        cutoffs.add(cutoff)
    assert len(cutoffs) > 1
    _, ws = _generate(G, torch.randn(3, 8), mixing_prob=0.0)
    assert (ws == ws[:, :1]).all()


def test_lazy_adam_corrects_lr_and_betas_by_the_interval():
    params = [nn.Parameter(torch.zeros(2))]
    group = lazy_adam(params, 0.002, (0.5, 0.99), 4).param_groups[0]
    c = 4 / 5
    assert group["lr"] == pytest.approx(0.002 * c)
    assert group["betas"] == pytest.approx((0.5 ** c, 0.99 ** c))
    plain = lazy_adam(params, 0.002, (0.5, 0.99), None).param_groups[0]
    assert (plain["lr"], plain["betas"]) == (0.002, (0.5, 0.99))
