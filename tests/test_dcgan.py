"""The DCGAN baseline networks: shapes, ranges, the generator interface, the paper's
initialisation, and that the non-saturating losses can train them."""

import pytest
import torch

from explorer.nets.dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator
from explorer.train.losses import discriminator_loss, generator_loss


@pytest.mark.parametrize("resolution", [32, 64])
def test_shapes_and_ranges(resolution):
    torch.manual_seed(0)
    cfg = DCGANConfig(resolution=resolution, z_dim=16, channels=8)
    G, D = DCGANGenerator(cfg), DCGANDiscriminator(cfg)
    img = G(torch.randn(4, 16) * 10)
    assert img.shape == (4, 3, resolution, resolution)
    assert img.min() >= -1 and img.max() <= 1 and img.std() > 0
    logits = D(img)
    assert logits.shape == (4, 1) and torch.isfinite(logits).all()
    assert G.cfg.z_dim == 16


def test_channels_follow_the_paper_at_64():
    G = DCGANGenerator(DCGANConfig())
    widths = [m.out_channels for m in G.main if isinstance(m, torch.nn.ConvTranspose2d)]
    assert widths == [512, 256, 128, 64, 3]
    D = DCGANDiscriminator(DCGANConfig())
    widths = [m.out_channels for m in D.main if isinstance(m, torch.nn.Conv2d)]
    assert widths == [64, 128, 256, 512, 1]
    assert not isinstance(D.main[1], torch.nn.BatchNorm2d)


def test_weights_are_initialised_as_in_the_paper():
    torch.manual_seed(0)
    G = DCGANGenerator(DCGANConfig())
    conv = G.main[3].weight                                             # 512 → 256, ~2M weights
    bn = G.main[1]
    assert abs(conv.mean().item()) < 1e-3 and abs(conv.std().item() - 0.02) < 1e-3
    assert abs(bn.weight.mean().item() - 1) < 0.01 and bn.weight.std() > 0.01 and torch.all(bn.bias == 0)


def test_config_rejects_a_bad_resolution_and_round_trips():
    for bad in (8, 48, 100):
        with pytest.raises(ValueError, match="power of two ≥ 16"):
            DCGANConfig(resolution=bad)
    cfg = DCGANConfig(resolution=16, z_dim=8, channels=4)
    assert DCGANConfig(**cfg.to_dict()) == cfg


def test_truncation_is_refused_and_noise_mode_ignored():
    G = DCGANGenerator(DCGANConfig(resolution=16, z_dim=8, channels=4)).eval()
    with pytest.raises(ValueError, match="DCGAN has no W space"):
        G(torch.randn(2, 8), truncation_psi=0.7)
    z = torch.randn(2, 8)
    assert torch.equal(G(z, noise_mode="const"), G(z, noise_mode="random"))


def test_gradient_reaches_every_parameter():
    torch.manual_seed(0)
    cfg = DCGANConfig(resolution=32, z_dim=16, channels=8)
    G, D = DCGANGenerator(cfg), DCGANDiscriminator(cfg)
    D(G(torch.randn(4, 16))).square().sum().backward()
    for name, p in [*G.named_parameters(), *D.named_parameters()]:
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_adam_steps_on_the_non_saturating_loss_lower_the_losses():
    torch.manual_seed(0)
    cfg = DCGANConfig(resolution=32, z_dim=16, channels=8)
    G, D = DCGANGenerator(cfg), DCGANDiscriminator(cfg)
    real = torch.rand(8, 3, 32, 32) * 2 - 1
    z = torch.randn(8, 16)
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    with torch.no_grad():
        fake = G(z)
    losses = []
    for _ in range(10):
        loss = discriminator_loss(D(real), D(fake))
        opt_D.zero_grad()
        loss.backward()
        opt_D.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.1

    D.requires_grad_(False)
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    losses = []
    for _ in range(10):
        loss = generator_loss(D(G(z)))
        opt_G.zero_grad()
        loss.backward()
        opt_G.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
