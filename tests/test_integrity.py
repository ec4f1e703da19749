"""Nothing lost, no tracebacks: NaN and inf are refused where they come in (command line, JSON,
tensor files) and before a rendered image is written, in one line naming the file and the field;
a file name read from JSON never leads out of its folder; checkpoints carry checksums; weights
without a manifest are said to be unverified."""

import json
import re

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from explorer.cli import main
from explorer.errors import UserError
from explorer.export import read_session, save_still, still_sidecar
from explorer.images import to_uint8
from explorer.netio import file_in_folder, file_sha256, read_json
from explorer.session import Keyframe, Session, render
from explorer.train.checkpoint import load_checkpoint, save_checkpoint
from explorer.weights import MANIFEST, load_bundle


def run(capsys, *argv):
    """Exit code and stderr of ``explorer argv``, usage errors (exit 2) included."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def bundle(weights_dir):
    return load_bundle(weights_dir, "cpu")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e30", "1e400", "-0.5", "1.6"])
def test_trunc_must_be_a_finite_psi_in_its_range(capsys, tmp_path, value):
    code, err = run(capsys, "generate", "--seeds", "0", f"--trunc={value}", "--outdir", tmp_path / "out")
    assert code == 2 and err.count("\n") == 1
    assert f"argument --trunc: expected a finite number in [0, 1.5], got '{value}'" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv", [["edit", "--seed", "1", "--set", "age=nan", "--outdir", "out"],
                                  ["train", "gan", "--lr", "inf", "--outdir", "out"],
                                  ["train", "gan", "--kimg", "-1", "--outdir", "out"],
                                  ["directions", "fit", "--top-percent", "nan"]])
def test_number_options_refuse_non_finite_values_in_one_line(capsys, argv):
    code, err = run(capsys, *argv)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "finite number" in err


@pytest.mark.parametrize("text, field", [('{"a": {"b": [1, NaN]}}', "a.b[1]"), ('{"x": Infinity}', "x"),
                                         ('{"x": -Infinity}', "x"), ('{"x": [1e400]}', "x[0]")])
def test_project_json_refuses_nan_and_infinity_naming_the_field(tmp_path, text, field):
    path = tmp_path / "some.json"
    path.write_text(text)
    with pytest.raises(UserError, match=rf"^{re.escape(f'{path}: {field}')} is not a finite number"):
        read_json(path)


def test_session_refuses_a_psi_that_is_not_finite_or_a_morph_time_out_of_range():
    for fields in [{"psi": float("nan")}, {"psi": float("inf")}, {"psi": "0.7"},
                   {"morph_t": float("nan")}, {"morph_t": 2.0}, {"sliders": {"age": float("inf")}}]:
        with pytest.raises(ValueError, match="must be a"):
            Session(**fields)
    with pytest.raises(ValueError, match="W\\+ holds NaN or inf"):
        Keyframe(label="a", ws=[[0.0, float("nan")]])


def _saved_still(bundle, tmp_path, session: Session):
    """A still saved with its sidecar; returns the sidecar's path."""
    ws = session.ws(bundle)
    save_still(render(bundle, ws)[0], tmp_path / "face.png", sidecar=still_sidecar(bundle, session, ws))
    return tmp_path / "face.png.json"


@pytest.mark.parametrize("edit, message", [
    (lambda s: s["session"].update(psi=float("nan")), "session.psi is not a finite number"),
    (lambda s: s["session"].update(morph_t=float("inf")), "session.morph_t is not a finite number"),
    (lambda s: s["session"]["keyframes"][0]["ws"][3].__setitem__(5, float("nan")),
     "session.keyframes.0..ws.3..5. is not a finite number"),
    (lambda s: s["session"].update(morph_t=7), "morph_t must be a finite number in .0, 1., got 7"),
])
def test_a_sidecar_with_nan_or_out_of_range_numbers_is_refused_naming_file_and_field(bundle, tmp_path, edit,
                                                                                        message):
    keyed = Session(psi=0.5).with_keyframe(0, Keyframe.from_photo("p.png", Session(seed=3).ws(bundle)))
    sidecar = _saved_still(bundle, tmp_path, keyed)
    data = json.loads(sidecar.read_text())
    edit(data)
    sidecar.write_text(json.dumps(data))                     # Python writes NaN and Infinity literals
    with pytest.raises(UserError, match=rf"^{re.escape(str(sidecar))}: .*{message}"):
        read_session(bundle, tmp_path / "face.png")


def test_nan_weights_are_refused_without_a_manifest_naming_the_tensor(weights_copy):
    (weights_copy / MANIFEST).unlink()
    path = weights_copy / "generator.safetensors"
    tensors = load_file(path)
    name = sorted(k for k, v in tensors.items() if v.is_floating_point())[0]
    tensors[name].view(-1)[0] = float("nan")
    path.unlink()
    save_file(tensors, path)
    with pytest.raises(UserError, match=rf"^{re.escape(f'{path}: tensor {name!r}')} holds NaN or inf"):
        load_bundle(weights_copy, "cpu")


@pytest.mark.parametrize("value", ["NaN", "1e999", '"nan"'])
def test_a_direction_scale_that_is_not_finite_is_refused(weights_copy, value):
    (weights_copy / MANIFEST).unlink()
    path = weights_copy / "directions.json"
    text = path.read_text()
    scale = json.loads(text)["directions"][0]["scale"]
    path.write_text(text.replace(f'"scale": {scale}', f'"scale": {value}', 1))
    with pytest.raises(UserError, match=rf"^{re.escape(str(path))}: .*(directions.0..scale is not a finite number|scale must be)"):
        load_bundle(weights_copy, "cpu")


def test_a_frame_with_nan_or_inf_is_refused_before_it_is_written(bundle, tmp_path):
    images = torch.zeros(2, 3, 4, 4)
    assert to_uint8(images).shape == (2, 4, 4, 3)
    for bad in (float("nan"), float("inf")):
        images[1, 0, 2, 2] = bad
        with pytest.raises(UserError, match="rendered image holds NaN or inf"):
            to_uint8(images)
    overflowing = Session(seed=1).ws(bundle) * 1e38                 # finite, but the generator overflows
    with pytest.raises(UserError, match="rendered image holds NaN or inf"):
        render(bundle, overflowing)
    assert np.isfinite(render(bundle, Session(seed=1).ws(bundle))).all()


# Integrity: a file name read from JSON stays in its folder; checksums are recorded and checked.

@pytest.mark.parametrize("name", ["../other/checkpoint.safetensors", "/etc/passwd", "a/../../x", "..", "", 5, None])
def test_a_file_name_from_json_must_stay_in_its_folder(tmp_path, name):
    with pytest.raises(UserError, match=rf"^{re.escape(str(tmp_path / 'm.json'))}: tensors {re.escape(repr(name))} "
                                        "is not a file inside"):
        file_in_folder(tmp_path, name, tmp_path / "m.json", "tensors")
    assert file_in_folder(tmp_path, "sub/a.safetensors", tmp_path / "m.json", "tensors") == tmp_path / "sub/a.safetensors"


def test_a_symlink_leading_out_of_the_folder_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "secret").write_text("x")
    (tmp_path / "run" / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(UserError, match="is not a file inside"):
        file_in_folder(tmp_path / "run", "link", tmp_path / "run" / "m.json", "tensors")


def test_a_manifest_entry_outside_the_weights_folder_is_refused(weights_copy):
    outside = weights_copy.parent / "x.json"
    outside.write_text("{}")
    manifest = json.loads((weights_copy / MANIFEST).read_text())
    manifest["files"]["../x.json"] = {"sha256": file_sha256(outside), "size": 2}
    (weights_copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(UserError, match=rf"^{re.escape(str(weights_copy / MANIFEST))}: files entry '../x.json' "
                                        "is not a plain file name"):
        load_bundle(weights_copy, "cpu")


def test_a_manifest_entry_that_is_a_symlink_to_the_same_content_still_loads(weights_copy):
    """Deduplicated or annexed weights (files linked from elsewhere) are checked by their sha256."""
    stored = weights_copy.parent / "store" / "generator.safetensors"
    stored.parent.mkdir()
    (weights_copy / "generator.safetensors").rename(stored)
    (weights_copy / "generator.safetensors").symlink_to(stored)
    assert load_bundle(weights_copy, "cpu").verified


def _checkpoint(run_dir, step: int = 1):
    """A small checkpoint in ``run_dir``: a linear layer "G" with its Adam state; returns it."""
    torch.manual_seed(step)
    net = torch.nn.Linear(4, 3)
    opt = torch.optim.Adam(net.parameters())
    net(torch.randn(2, 4)).sum().backward()
    opt.step()
    run_dir.mkdir()
    save_checkpoint(run_dir, {"G": net}, {"opt_G": opt}, {"lr": 0.001}, {"step": step, "nimg": 8 * step},
                    np.random.default_rng(step), "cpu")
    return net


def _load(run_dir):
    net = torch.nn.Linear(4, 3)
    load_checkpoint(run_dir, {"G": net}, {"opt_G": torch.optim.Adam(net.parameters())}, np.random.default_rng())
    return net


def test_a_checkpoint_records_its_sha256_and_a_flipped_byte_is_refused(tmp_path):
    run = tmp_path / "run"
    saved = _checkpoint(run)
    meta = json.loads((run / "checkpoint.json").read_text())
    tensors = run / meta["tensors"]
    assert meta["sha256"] == {meta["tensors"]: file_sha256(tensors)}
    assert torch.equal(_load(run).weight, saved.weight)
    data = bytearray(tensors.read_bytes())
    data[-1] ^= 0x01
    tensors.write_bytes(data)
    with pytest.raises(UserError, match=rf"^{re.escape(str(tensors))}: sha256 does not match"):
        _load(run)


def test_a_checkpoint_written_before_checksums_still_loads(tmp_path):
    run = tmp_path / "run"
    saved = _checkpoint(run)
    meta = json.loads((run / "checkpoint.json").read_text())
    del meta["sha256"]
    (run / "checkpoint.json").write_text(json.dumps(meta))
    assert torch.equal(_load(run).weight, saved.weight)


def test_a_checkpoint_naming_another_runs_tensors_is_refused(tmp_path):
    run, other = tmp_path / "run", tmp_path / "other"
    _checkpoint(run, 1)
    _checkpoint(other, 2)
    meta = json.loads((run / "checkpoint.json").read_text())
    name = json.loads((other / "checkpoint.json").read_text())["tensors"]
    meta["tensors"] = f"../other/{name}"
    meta["sha256"] = {}
    (run / "checkpoint.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match=rf"^{re.escape(str(run / 'checkpoint.json'))}: tensors '../other/"):
        _load(run)


def test_the_command_line_warns_when_the_weights_have_no_manifest(capsys, weights_copy):
    code, err = run(capsys, "directions", "list", "--weights", weights_copy, "--device", "cpu")
    assert code == 0 and err == ""
    (weights_copy / MANIFEST).unlink()
    code, err = run(capsys, "directions", "list", "--weights", weights_copy, "--device", "cpu")
    assert code == 0 and err == f"warning: {weights_copy}: no {MANIFEST} listing its files, so these weights are " \
                                "unverified (no sha256 was checked)\n"


def test_the_window_says_when_the_weights_are_unverified(qtbot, weights_copy):
    from explorer.gui.main_window import MainWindow
    (weights_copy / MANIFEST).unlink()
    window = MainWindow(load_bundle(weights_copy, "cpu"))
    qtbot.addWidget(window)
    assert window.status.is_error() and "weights are unverified" in window.status.message()
    window.close()


def test_a_session_saved_with_a_psi_beyond_the_sliders_range_still_opens():
    assert Session(psi=2.0).psi == 2.0
