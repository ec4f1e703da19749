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
def weights_dir() -> Path:
    """The bundled weights/ (generator, encoder, directions) that the app ships."""
    path = Path(__file__).resolve().parents[1] / "weights"
    assert (path / "generator.json").is_file(), f"{path}: the shipped weights are missing"
    return path


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
