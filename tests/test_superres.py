"""Face super-resolution: the network, its training on real faces, shipping it, and exports made with it."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explorer.cli import main
from explorer.errors import UserError
from explorer.export import morph_sidecar, render_at, upscale_method
from explorer.netio import load_tensors, read_json
from explorer.nets.superres import FaceSuperResolution, SuperResolutionConfig
from explorer.session import Keyframe, Session, render
from explorer.train.pack import add_superres
from explorer.train.superres import SuperResTrainConfig, gaussian_blur, train_superres
from explorer.weights import load_bundle, write_manifest

TINY = {"channels": 8, "blocks": 1, "batch": 8, "crop": 16, "tick_kimg": 0.016, "snapshot_kimg": 0.016}


@pytest.fixture(scope="module")
def faces128(utkface_subset, tmp_path_factory):
    """A 128² dataset of 48 real UTKFace photos."""
    return utkface_subset(tmp_path_factory.mktemp("faces") / "faces128.zip", 128)


@pytest.fixture(scope="module")
def superres_run(faces128, tmp_path_factory):
    """A few steps of a tiny network enlarging 64² faces, the shipped generator's size."""
    return train_superres(SuperResTrainConfig(data=str(faces128), kimg=0.032, **TINY),
                          tmp_path_factory.mktemp("superres"))


def test_an_untrained_network_enlarges_bicubically():
    torch.manual_seed(0)
    net = FaceSuperResolution(SuperResolutionConfig(resolution=16, channels=8, blocks=2))
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    torch.testing.assert_close(net(x), F.interpolate(x, scale_factor=2.0, mode="bicubic", align_corners=False))
    with pytest.raises(ValueError, match="channels"):
        SuperResolutionConfig(channels=0)


def test_training_inputs_are_blurred_by_their_own_sigma():
    torch.manual_seed(0)
    x = torch.rand(3, 3, 12, 12)
    out = gaussian_blur(x, torch.tensor([0.0, 0.5, 1.0]))
    torch.testing.assert_close(out[0], x[0])                            # σ 0: untouched
    energy = [(o[:, 1:] - o[:, :-1]).square().mean().item() for o in out]
    assert energy[0] > energy[1] > energy[2]                            # more σ, less detail
    torch.testing.assert_close(out.mean(dim=(2, 3)), x.mean(dim=(2, 3)), atol=0.02, rtol=0)


def test_a_run_on_real_faces_scores_itself_against_lanczos_and_resumes(superres_run, faces128):
    rows = [json.loads(line) for line in (superres_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["kimg"] for r in rows] == [0.016, 0.032]
    held_out = rows[-1]
    assert 0 < held_out["num_val"] < 48
    assert set(held_out) >= {"superres", "lanczos", "bicubic"}
    assert all(set(held_out[m]) == {"l1", "psnr", "lpips"} for m in ("superres", "lanczos", "bicubic"))
    assert held_out["superres"] != held_out["bicubic"]                   # it learned something off bicubic
    assert 15 < held_out["lanczos"]["psnr"] < 60
    assert list(superres_run.glob("preview*.png"))
    shipped = load_tensors(superres_run / "superres.safetensors")
    assert all(v.dtype == torch.float16 for v in shipped.values())
    assert read_json(superres_run / "superres.json")["config"]["resolution"] == 64
    with pytest.raises(UserError, match="holds a run already"):
        train_superres(SuperResTrainConfig(data=str(faces128), kimg=0.048, **TINY), superres_run)
    train_superres(SuperResTrainConfig(data=str(faces128), kimg=0.048, **TINY), superres_run, resume=True)
    assert json.loads((superres_run / "metrics.jsonl").read_text().splitlines()[-1])["kimg"] == 0.048


def test_crops_that_do_not_fit_are_refused(faces128, tmp_path):
    with pytest.raises(UserError, match="need faces of at least 160 px"):
        train_superres(SuperResTrainConfig(data=str(faces128), **{**TINY, "crop": 80}), tmp_path / "big")
    with pytest.raises(UserError, match="too small for LPIPS"):
        train_superres(SuperResTrainConfig(data=str(faces128), **{**TINY, "crop": 8}), tmp_path / "small")


def without_superres(folder: Path) -> Path:
    """``folder`` (a weights folder) with its face super-resolution network and its manifest entry removed."""
    for path in folder.glob("superres.*"):
        path.unlink()
    manifest = read_json(folder / "manifest.json")
    write_manifest(folder, {k: v for k, v in manifest["models"].items() if k != "superres"}, manifest["licence"],
                   manifest.get("evaluation"))
    return folder


def test_shipped_beside_the_weights_it_enlarges_exports(superres_run, weights_copy, tmp_path, utkface_subset, capsys):
    replaced = add_superres(weights_copy, superres_run, tmp_path / "replaced")      # the shipped one gives way
    assert replaced["models"]["superres"]["held_out"]["kimg"] == 0.048
    assert (tmp_path / "replaced" / "superres.safetensors").read_bytes() == \
        (superres_run / "superres.safetensors").read_bytes()
    weights_copy = without_superres(weights_copy)
    out = tmp_path / "with-superres"
    before = read_json(weights_copy / "manifest.json")
    manifest = add_superres(weights_copy, superres_run, out)
    bundle = load_bundle(out, "cpu")                                     # every checksum holds
    assert bundle.superres is not None and bundle.superres.cfg.resolution == bundle.resolution
    facts = manifest["models"]["superres"]
    assert facts["held_out"]["kimg"] == 0.048 and facts["command"].startswith("explorer train superres --data ")
    assert {k: v for k, v in manifest["models"].items() if k != "superres"} == before["models"]
    assert manifest["evaluation"] == before["evaluation"]
    assert read_json(weights_copy / "manifest.json") == before             # the base is left as it was
    with pytest.raises(UserError, match="already exists"):
        add_superres(weights_copy, superres_run, out)
    with pytest.raises(UserError, match="not a finished superres run"):
        add_superres(weights_copy, tmp_path, tmp_path / "other")
    small = train_superres(SuperResTrainConfig(data=str(utkface_subset(tmp_path / "faces64.zip", 64)), kimg=0.016,
                                               **TINY),
                           tmp_path / "small")
    with pytest.raises(UserError, match="enlarges 32² faces"):
        add_superres(weights_copy, small, tmp_path / "other")
    assert not (tmp_path / "other").exists()

    plain = load_bundle(weights_copy, "cpu")
    assert (upscale_method(bundle), upscale_method(plain)) == ("superres", "lanczos")
    with pytest.raises(UserError, match="no face super-resolution network"):
        upscale_method(plain, "superres")
    ws = Session(seed=3).ws(bundle)
    learned, smooth = render_at(bundle, ws, 256, "superres"), render_at(bundle, ws, 256, "lanczos")
    assert learned.shape == smooth.shape == (1, 256, 256, 3) and not np.array_equal(learned, smooth)
    assert np.array_equal(render_at(bundle, ws, None, "superres"), render(bundle, ws))   # as generated: untouched
    session = Session(keyframes=(Keyframe.from_seed(1), Keyframe.from_seed(2)))
    sidecar = morph_sidecar(bundle, session, [0.0, 1.0], 30, 256, "superres")
    assert sidecar["upscale"] == "superres"
    assert sidecar["superres_sha256"] == manifest["files"]["superres.safetensors"]["sha256"]
    assert "upscale" not in morph_sidecar(bundle, session, [0.0, 1.0], 30, None, "superres")

    gif = tmp_path / "m.gif"
    assert main(["morph", "seed:1", "seed:2", "--frames", "3", "--size", "128", "--out", str(gif),
                 "--weights", str(out)]) == 0
    assert read_json(tmp_path / "m.gif.json")["upscale"] == "superres"   # the default where the weights have it
    capsys.readouterr()
    assert main(["morph", "seed:1", "seed:2", "--frames", "3", "--size", "128", "--upscale", "superres",
                 "--out", str(tmp_path / "n.gif"), "--weights", str(weights_copy)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "explorer weights add-superres" in err
    assert not (tmp_path / "n.gif").exists()
