"""Shared pytest fixtures."""

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only data folder (../shared/data next to the repo); skip when absent, fail on CI."""
    path = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not path.is_dir():
        message = f"../shared/data not found: {path}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def weights_dir(tmp_path_factory) -> Path:
    """The repository's weights/ when trained weights are there; else a small random-init set
    (32² generator, encoder and 5 SeFa directions) in a temporary folder."""
    bundled = Path(__file__).resolve().parents[1] / "weights"
    if (bundled / "generator.json").is_file():
        return bundled

    import torch

    from explorer.directions import save_directions, sefa
    from explorer.netio import save_network
    from explorer.nets.encoder import Encoder, EncoderConfig
    from explorer.nets.stylegan import Generator, GeneratorConfig
    from explorer.weights import file_sha256

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("weights")
    G = Generator(GeneratorConfig(resolution=32, channel_base=512, channel_max=64, z_dim=64, w_dim=64)).eval()
    E = Encoder(EncoderConfig(resolution=32, num_ws=G.num_ws, w_dim=64, channel_base=512, channel_max=64)).eval()
    save_network(G, folder / "generator", "generator", G.cfg.to_dict())
    save_network(E, folder / "encoder", "encoder", E.cfg.to_dict())
    save_directions(folder / "directions", sefa(G, range(4), 5), file_sha256(folder / "generator.safetensors"))
    return folder


@pytest.fixture(scope="session")
def requires():
    """``requires("module")``: skip the test when an optional package (the ``eval`` extra) is
    missing, saying which; under CI fail instead, because CI installs every extra."""
    import importlib.util

    def check(module: str) -> None:
        if importlib.util.find_spec(module) is None:
            message = f"{module} not installed (pip install -e '.[eval]')"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)

    return check
