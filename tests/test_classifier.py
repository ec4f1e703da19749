"""The attribute classifier: heads from dataset labels, masked losses, held-out splits, a tiny
run on real UTKFace faces, resume and the CLI dry run."""

import json

import numpy as np
import pytest
import torch

from explorer.cli import main
from explorer.data.dataset import make_synthetic_dataset, split_rows
from explorer.data.dataset_tool import build_dataset
from explorer.errors import UserError
from explorer.nets.classifier import (
    AttributeClassifier,
    AttributeHead,
    ClassifierConfig,
)
from explorer.train.classifier import (
    ClassifierTrainConfig,
    classifier_loss,
    label_heads,
    label_targets,
    train_classifier,
)
from explorer.weights import load_classifier

TINY = {"batch": 16, "channel_base": 256, "channel_max": 32, "tick_kimg": 0.032, "snapshot_kimg": 0.032}


@pytest.fixture(scope="module")
def utk32(utkface_subset, tmp_path_factory):
    """A 32² dataset of 64 real UTKFace faces labelled with age, gender and race."""
    return utkface_subset(tmp_path_factory.mktemp("utk") / "utk32.zip", 32, slice(None, 64 * 300, 300), labels=True)


@pytest.fixture(scope="module")
def utk_run(utk32, tmp_path_factory):
    run = tmp_path_factory.mktemp("classifier")
    return train_classifier(ClassifierTrainConfig(data=str(utk32), kimg=0.064, val_percent=25, **TINY), run)


def test_a_tiny_run_on_real_faces_writes_weights_and_held_out_metrics(utk_run, utk32):
    net = load_classifier(utk_run / "classifier")
    cfg = net.cfg
    assert [(h.name, h.kind) for h in cfg.heads] == [("age", "regression"), ("gender", "binary"),
                                                     ("race", "categorical")]
    assert cfg.resolution == 32 and cfg.alignment == "none" and cfg.source == "src.zip"
    assert cfg.heads[2].classes == 5 and 10 < cfg.heads[0].mean < 80
    out = net(torch.zeros(2, 3, 32, 32))
    assert out["age"].shape == (2,) and out["gender"].shape == (2,) and out["race"].shape == (2, 5)
    reports = [json.loads(line) for line in (utk_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["kimg"] for r in reports] == [0.032, 0.064]
    last = reports[-1]
    assert last["split"] == "file" and 0 < last["num_val"] < 64
    assert last["attributes"]["age"]["mae"] > 0 and 0 <= last["attributes"]["gender"]["accuracy"] <= 1
    assert {"accuracy", "majority", "num"} <= last["attributes"]["race"].keys()
    with pytest.raises(UserError, match="holds a run already"):
        train_classifier(ClassifierTrainConfig(data=str(utk32), kimg=0.064, **TINY), utk_run)


def test_resume_continues_the_run(utk_run, utk32):
    train_classifier(ClassifierTrainConfig(data=str(utk32), kimg=0.08, val_percent=25, **TINY), utk_run, resume=True)
    reports = [json.loads(line) for line in (utk_run / "metrics.jsonl").read_text().splitlines()]
    assert reports[-1]["kimg"] == 0.08


def test_label_heads_and_targets_skip_missing_values_and_non_attributes():
    labels = [{"file": "a", "identity": 7, "age": 30, "race": 4, "Smiling": 1, "note": "x"},
              {"file": "b", "identity": 9, "age": 50, "race": None, "Smiling": 0, "note": "y"}]
    heads = label_heads(labels)
    assert [(h.name, h.kind, h.classes) for h in heads] == [("age", "regression", 2), ("race", "categorical", 5),
                                                            ("Smiling", "binary", 2)]
    targets = label_targets(labels, heads)
    assert targets.shape == (2, 3) and np.isnan(targets[1, 1]) and targets[0].tolist() == [30, 4, 1]


def test_masked_loss_ignores_missing_labels():
    heads = (AttributeHead("age", "regression", mean=40, std=10), AttributeHead("Smiling", "binary"),
             AttributeHead("race", "categorical", classes=3))
    nan = float("nan")
    targets = torch.tensor([[35.0, 1.0, 2.0], [nan, 0.0, nan], [nan, nan, nan]])
    pred = {"age": torch.tensor([30.0, 50.0, 99.0], requires_grad=True),
            "Smiling": torch.tensor([2.0, -1.0, 5.0], requires_grad=True),
            "race": torch.randn(3, 3, requires_grad=True)}
    loss = classifier_loss(pred, targets, heads)
    loss.backward()
    assert torch.isfinite(loss)
    assert pred["age"].grad[1:].abs().sum() == 0 and pred["Smiling"].grad[2] == 0
    assert pred["race"].grad[1:].abs().sum() == 0
    # Only the first two rows are labelled at all: the third changes nothing.
    assert torch.allclose(classifier_loss({k: v[:2] for k, v in pred.items()}, targets[:2], heads), loss)
    # A head without any label in the batch drops out of the mean instead of counting as 0.
    only_smile = classifier_loss(pred, targets[1:2].expand(3, 3).clone(), heads)
    assert torch.allclose(only_smile, torch.nn.functional.binary_cross_entropy_with_logits(
        pred["Smiling"], torch.zeros(3)))


def test_split_is_deterministic_and_keeps_each_identity_on_one_side():
    labels = [{"file": f"{i}.jpg", "identity": i % 40} for i in range(400)]
    train, val, key = split_rows(labels, 10)
    assert key == "identity" and 0 < len(val) < 100
    assert not {labels[i]["identity"] for i in train} & {labels[i]["identity"] for i in val}
    again = split_rows(list(reversed(labels)), 10)[1]
    assert sorted(labels[::-1][i]["file"] for i in again) == sorted(labels[i]["file"] for i in val)
    assert split_rows([{"file": "a.jpg"}, {"file": "b.jpg"}], 50)[2] == "file"


def test_config_round_trips_and_rejects_bad_heads():
    cfg = ClassifierConfig(resolution=16, heads=(AttributeHead("age", "regression", mean=3, std=2),),
                           alignment="ffhq", channel_base=64, channel_max=8)
    again = ClassifierConfig(**json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and isinstance(again.heads[0], AttributeHead)
    assert AttributeClassifier(again)(torch.zeros(1, 3, 16, 16))["age"].shape == (1,)
    for heads in ((), (AttributeHead("a", "binary"), AttributeHead("a", "binary"))):
        with pytest.raises(ValueError):
            ClassifierConfig(resolution=16, heads=heads)
    with pytest.raises(ValueError, match="kind"):
        AttributeHead("a", "ordinal")


def test_cli_dry_run_and_data_without_labels(capsys, tmp_path):
    code = main(["train", "classifier", "--dry-run", "--outdir", str(tmp_path / "run"), "--device", "cpu"])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert (tmp_path / "run" / "classifier.json").is_file() and (tmp_path / "run" / "metrics.jsonl").is_file()
    assert {h.name for h in load_classifier(tmp_path / "run" / "classifier").cfg.heads} == {"age", "gender"}
    source = make_synthetic_dataset(tmp_path / "blobs.zip", 8, 8)
    data = tmp_path / "plain.zip"
    build_dataset(source, data, 8)                        # no --labels: only "file"
    code = main(["train", "classifier", "--data", str(data), "--outdir", str(tmp_path / "run2"), "--device", "cpu"])
    _, err = capsys.readouterr()
    assert code == 1 and "no attribute labels" in err
