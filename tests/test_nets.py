"""Shapes, finiteness and the defining properties of the StyleGAN2 building blocks."""

import pytest
import torch
import torch.nn.functional as F

from explorer.nets.encoder import Encoder, EncoderConfig
from explorer.nets.layers import (
    ModulatedConv2d,
    conv2d_downsample,
    downsample2x,
    transposed_kernel,
    upsample2x,
    upsample_conv2d,
)
from explorer.nets.stylegan import (
    Discriminator,
    DiscriminatorConfig,
    Generator,
    GeneratorConfig,
)

SMALL = {"channel_base": 512, "channel_max": 64, "z_dim": 32, "w_dim": 32}


@pytest.mark.parametrize("resolution", [32, 64])
def test_generator_and_discriminator_shapes(resolution):
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(resolution=resolution, **SMALL))
    D = Discriminator(DiscriminatorConfig(resolution=resolution, channel_base=512, channel_max=64))
    z = torch.randn(5, 32)
    img = G(z)
    assert img.shape == (5, 3, resolution, resolution)
    assert torch.isfinite(img).all()
    assert G.num_ws == 2 * (resolution.bit_length() - 1) - 2
    logits = D(img)
    assert logits.shape == (5, 1) and torch.isfinite(logits).all()


def test_truncation_zero_gives_the_mean_face():
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(resolution=16, **SMALL))
    G.mapping.w_avg.normal_()
    w = G.mapping(torch.randn(3, 32), truncation_psi=0.0)
    assert torch.allclose(w, G.mapping.w_avg.expand(3, -1))


def test_const_noise_is_deterministic_and_random_noise_is_not():
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(resolution=16, **SMALL))
    for block in G.synthesis.blocks:
        block.conv1.noise.strength.data.fill_(0.5)
    z = torch.randn(2, 32)
    assert torch.equal(G(z, noise_mode="const"), G(z, noise_mode="const"))
    assert not torch.equal(G(z, noise_mode="random"), G(z, noise_mode="random"))


def test_modulated_conv_equals_per_sample_grouped_convolution():
    torch.manual_seed(0)
    conv = ModulatedConv2d(8, 6, 3, w_dim=16)
    x, w = torch.randn(3, 8, 5, 5), torch.randn(3, 16)
    styles = conv.affine(w)
    weight = conv.weight * conv.weight_gain * styles[:, None, :, None, None]     # [N, out, in, k, k]
    weight = weight * (weight.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8).rsqrt()
    ref = torch.nn.functional.conv2d(x.reshape(1, 24, 5, 5), weight.reshape(18, 8, 3, 3), padding=1, groups=3)
    assert torch.allclose(conv(x, w), ref.reshape(3, 6, 5, 5), atol=1e-5)


def test_a_frozen_generator_keeps_its_kernels_until_its_weights_change():
    """The kernels a frozen generator keeps follow load_state_dict, in-place steps and dtype
    changes, and those made under inference mode serve a later projection's backward pass."""
    torch.manual_seed(0)
    cfg = GeneratorConfig(resolution=16, **SMALL, resample="stylegan2")
    G, other = Generator(cfg).eval().requires_grad_(False), Generator(cfg).eval().requires_grad_(False)
    ws = torch.randn(1, G.num_ws, 32)
    with torch.inference_mode():
        first = G.synthesis(ws, noise_mode="const")
    G.load_state_dict(other.state_dict())
    torch.testing.assert_close(G.synthesis(ws, noise_mode="const"), other.synthesis(ws, noise_mode="const"))
    assert not torch.allclose(G.synthesis(ws, noise_mode="const"), first)
    with torch.no_grad():
        for p in G.parameters():
            p.mul_(0.5)
    halved = Generator(cfg).eval().requires_grad_(False)
    halved.load_state_dict({k: v * 0.5 if k in dict(other.named_parameters()) else v
                            for k, v in other.state_dict().items()})
    torch.testing.assert_close(G.synthesis(ws, noise_mode="const"), halved.synthesis(ws, noise_mode="const"))
    assert G.double().synthesis(ws.double(), noise_mode="const").dtype == torch.float64
    G.float()
    with torch.inference_mode():
        G.synthesis(ws, noise_mode="const")
    ws.requires_grad_(True)
    G.synthesis(ws, noise_mode="const").square().mean().backward()
    assert ws.grad is not None and ws.grad.abs().sum() > 0


def test_a_trained_generator_gets_gradients_through_its_kernels():
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(resolution=16, **SMALL, resample="stylegan2"))
    G.requires_grad_(False)
    G.synthesis(torch.randn(1, G.num_ws, 32), noise_mode="const")      # a D step keeps kernels
    G.requires_grad_(True)
    G.synthesis(torch.randn(1, G.num_ws, 32), noise_mode="const").square().mean().backward()
    assert all(block.conv0.conv.weight.grad is not None for block in G.synthesis.blocks if block.conv0 is not None)


def test_a_generator_frozen_in_turns_never_renders_kernels_from_before_a_step():
    """G is frozen while D trains; a fused Adam step between does not move the weight's version
    counter, and the frozen render after it must still use the stepped weights."""
    torch.manual_seed(0)
    cfg = GeneratorConfig(resolution=16, **SMALL, resample="stylegan2")
    G, reference = Generator(cfg), Generator(cfg).requires_grad_(False)
    ws = torch.randn(1, G.num_ws, 32)
    opt = torch.optim.Adam(G.parameters(), lr=0.1, fused=True)
    G.requires_grad_(False)
    G.synthesis(ws, noise_mode="const")                                   # D's step: kernels kept
    G.requires_grad_(True)
    G.synthesis(ws, noise_mode="const").square().mean().backward()        # G's step
    opt.step()
    G.requires_grad_(False)
    reference.load_state_dict(G.state_dict())
    torch.testing.assert_close(G.synthesis(ws, noise_mode="const"), reference.synthesis(ws, noise_mode="const"))


def test_demodulation_keeps_unit_variance():
    torch.manual_seed(0)
    conv = ModulatedConv2d(64, 64, 3, w_dim=16)
    y = conv(torch.randn(4, 64, 32, 32), torch.randn(4, 16) * 3)
    assert 0.8 < y[:, :, 1:-1, 1:-1].std().item() < 1.2


def test_resampling_preserves_the_mean_colour():
    x = torch.rand(2, 3, 16, 16)
    assert upsample2x(x).shape == (2, 3, 32, 32) and downsample2x(x).shape == (2, 3, 8, 8)
    assert torch.allclose(upsample2x(x).mean(), x.mean(), atol=1e-4)
    flat = torch.full((1, 3, 16, 16), 0.3)
    assert torch.allclose(downsample2x(flat)[..., 1:-1, 1:-1], flat[..., :6, :6])


def test_stylegan2_resampling_equals_interpolation_away_from_the_borders():
    """Transposed convolution + filter (and filter + strided convolution) compute the same
    operator as resampling around a full-resolution convolution; only the border rows differ."""
    torch.manual_seed(0)
    x, weight = torch.randn(2, 8, 8, 8), torch.randn(5, 8, 3, 3)
    up = upsample_conv2d(x, transposed_kernel(weight))
    assert up.shape == (2, 5, 16, 16)
    torch.testing.assert_close(up[..., 2:-2, 2:-2], F.conv2d(upsample2x(x), weight, padding=1)[..., 2:-2, 2:-2])
    down = conv2d_downsample(x, weight)
    assert down.shape == (2, 5, 4, 4)
    torch.testing.assert_close(down[..., 1:-1, 1:-1], downsample2x(F.conv2d(x, weight, padding=1))[..., 1:-1, 1:-1])


def test_generators_saved_before_the_resample_field_load_with_interpolation(tmp_path):
    from explorer.netio import save_network
    from explorer.weights import load_generator
    G = Generator(GeneratorConfig(resolution=16, **SMALL, resample="interpolate"))
    config = G.cfg.to_dict()
    del config["resample"]
    save_network(G, tmp_path / "old", "generator", config)
    assert load_generator(tmp_path / "old").cfg.resample == "interpolate"


def test_encoder_outputs_w_plus_around_w_avg():
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(resolution=32, **SMALL))
    E = Encoder(EncoderConfig(resolution=32, num_ws=G.num_ws, w_dim=32, channel_base=512, channel_max=64))
    ws = E(torch.rand(2, 3, 32, 32) * 2 - 1, G.mapping.w_avg)
    assert ws.shape == (2, G.num_ws, 32) and torch.isfinite(ws).all()
    assert G.synthesis(ws).shape == (2, 3, 32, 32)


def test_bad_configs_raise():
    with pytest.raises(ValueError, match="power of two"):
        GeneratorConfig(resolution=48)
    G = Generator(GeneratorConfig(resolution=16, **SMALL))
    with pytest.raises(ValueError, match="ws must be"):
        G.synthesis(torch.zeros(1, 3, 32))


@pytest.mark.parametrize("make, message", [
    (lambda: DiscriminatorConfig(resolution=48), "power of two ≥ 4"),
    (lambda: DiscriminatorConfig(resolution=2), "power of two ≥ 4"),
    (lambda: DiscriminatorConfig(resample="nearest"), "resample must be"),
    (lambda: EncoderConfig(resolution=16, num_ws=6), "power of two ≥ 32"),
    (lambda: EncoderConfig(resolution=48, num_ws=10), "power of two ≥ 32"),
    (lambda: EncoderConfig(resolution=64, num_ws=8), "num_ws must be 10 at resolution 64"),
], ids=["D-48", "D-2", "D-resample", "E-16", "E-48", "E-num_ws"])
def test_bad_discriminator_and_encoder_configs_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()
