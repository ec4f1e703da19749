"""The VAE option of the photo encoder: the variance heads, the KL to the generator's W prior,
and `explorer train encoder --kl BETA` end to end."""

import json

import pytest
import torch

from explorer.cli import main
from explorer.data.dataset import make_synthetic_dataset
from explorer.netio import load_tensors, read_json, save_network
from explorer.nets.encoder import Encoder, EncoderConfig
from explorer.nets.stylegan import Generator, GeneratorConfig
from explorer.train.encoder import gaussian_kl
from explorer.weights import load_encoder

TINY = {"resolution": 32, "num_ws": 8, "w_dim": 16, "channel_base": 256, "channel_max": 32}


def test_kl_is_zero_at_the_prior_and_positive_elsewhere():
    torch.manual_seed(0)
    prior_mean, prior_logvar = torch.randn(16), torch.randn(16)
    mean = prior_mean.expand(3, 8, 16)
    logvar = prior_logvar.expand(3, 8, 16)
    assert torch.allclose(gaussian_kl(mean, logvar, prior_mean, prior_logvar), torch.zeros(3), atol=1e-6)
    shifted = gaussian_kl(mean + 0.1, logvar, prior_mean, prior_logvar)
    narrower = gaussian_kl(mean, logvar - 1, prior_mean, prior_logvar)
    assert shifted.shape == (3,) and (shifted > 0).all() and (narrower > 0).all()


def test_kl_matches_torch_distributions_averaged_over_elements():
    torch.manual_seed(0)
    mean, logvar = torch.randn(2, 8, 16), torch.randn(2, 8, 16)
    prior_mean, prior_logvar = torch.randn(16), torch.randn(16)
    q = torch.distributions.Normal(mean, (logvar / 2).exp())
    p = torch.distributions.Normal(prior_mean, (prior_logvar / 2).exp())
    expected = torch.distributions.kl_divergence(q, p).flatten(1).mean(dim=1)
    assert torch.allclose(gaussian_kl(mean, logvar, prior_mean, prior_logvar), expected, atol=1e-5)


def test_variance_heads_exist_only_in_a_variational_encoder():
    torch.manual_seed(0)
    plain, vae = Encoder(EncoderConfig(**TINY)), Encoder(EncoderConfig(**TINY, variational=True))
    assert not any("logvar" in k for k in plain.state_dict())
    assert set(plain.state_dict()) < set(vae.state_dict())
    img, w_avg = torch.rand(2, 3, 32, 32) * 2 - 1, torch.randn(16)
    mean, logvar = vae.encode_distribution(img, w_avg)
    assert mean.shape == logvar.shape == (2, 8, 16)
    assert torch.equal(mean, vae(img, w_avg))
    with pytest.raises(ValueError, match="variational=True"):
        plain.encode_distribution(img, w_avg)


def test_train_encoder_kl_writes_a_variational_encoder(capsys, tmp_path):
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(resolution=32, z_dim=16, w_dim=16, channel_base=256, channel_max=32))
    save_network(G, tmp_path / "generator", "generator", G.cfg.to_dict())
    data = make_synthetic_dataset(tmp_path / "blobs.zip", 16, 32)
    run = tmp_path / "run"
    code = main(["train", "encoder", "--data", str(data), "--generator", str(tmp_path / "generator"),
                 "--kl", "0.1", "--kimg", "0.032", "--batch", "8", "--outdir", str(run), "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    E = load_encoder(run / "encoder")
    assert E.cfg.variational
    assert any(".logvar_heads." in k for k in load_tensors(run / "encoder.safetensors"))
    meta = read_json(run / "checkpoint.json")
    assert meta["config"]["kl"] == 0.1
    assert any(k.startswith("E.") and ".logvar_heads." in k for k in load_tensors(run / meta["tensors"]))
    stats = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert stats and all(0 <= s["kl"] < float("inf") for s in stats)


def test_a_negative_kl_is_refused(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "encoder", "--data", str(tmp_path / "d.zip"), "--generator", str(tmp_path / "g"),
              "--kl", "-1", "--outdir", str(tmp_path / "run")])
    assert exit_.value.code == 2                                         # a usage error, caught by argparse
    assert "argument --kl: expected a finite number ≥ 0, got '-1'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
