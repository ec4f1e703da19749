"""The `explorer` command line as a user runs it: errors are one line `error: …` with exit 1 (2 for
usage), and nothing is overwritten."""

import io
import json
import zipfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PIL import Image

from explorer.cli import main, parse_seeds
from explorer.faces import align_face
from explorer.images import load_photo
from explorer.nets.stylegan import layer_groups


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_parse_seeds():
    assert parse_seeds("0-3,10") == [0, 1, 2, 3, 10]
    assert parse_seeds("7") == [7]


def test_generate_writes_deterministic_seed_images(capsys, tmp_path, weights_dir):
    code, _, err = run(capsys, "generate", "--seeds", "0-2", "--weights", weights_dir, "--outdir", tmp_path / "a")
    assert code == 0, err
    run(capsys, "generate", "--seeds", "1", "--weights", weights_dir, "--outdir", tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["seed0000.png", "seed0001.png", "seed0002.png"]
    a, b = (np.asarray(Image.open(tmp_path / d / "seed0001.png")) for d in "ab")
    assert np.array_equal(a, b)
    assert not np.array_equal(a, np.asarray(Image.open(tmp_path / "a" / "seed0000.png")))


def test_faces_come_at_the_size_asked_made_as_asked(capsys, tmp_path, weights_dir):
    from explorer.export import DEFAULT_SIZE_FACTOR, render_at
    from explorer.session import Session
    from explorer.weights import load_bundle
    bundle = load_bundle(weights_dir, "cpu")
    code, _, err = run(capsys, "generate", "--seeds", "1", "--weights", weights_dir, "--outdir", tmp_path / "g")
    assert code == 0, err
    big = np.asarray(Image.open(tmp_path / "g" / "seed0001.png"))   # by default as the window saves: 4×, superres
    assert DEFAULT_SIZE_FACTOR * bundle.resolution == 256 == big.shape[0]
    assert np.array_equal(big, render_at(bundle, Session(seed=1).ws(bundle), 256, "superres")[0])
    code, _, err = run(capsys, "generate", "--seeds", "1", "--size", "64", "--weights", weights_dir,
                       "--outdir", tmp_path / "small")
    assert code == 0, err
    small = np.asarray(Image.open(tmp_path / "small" / "seed0001.png"))
    assert np.array_equal(small, render_at(bundle, Session(seed=1).ws(bundle))[0])   # the generator's own pixels
    code, _, err = run(capsys, "edit", "--seed", "1", "--set", "age=1", "--size", "128", "--upscale", "lanczos",
                       "--weights", weights_dir, "--outdir", tmp_path / "e")
    assert code == 0, err
    original = np.asarray(Image.open(tmp_path / "e" / "seed0001_original.png"))
    assert np.array_equal(original, render_at(bundle, Session(seed=1).ws(bundle), 128, "lanczos")[0])
    code, _, err = run(capsys, "mix", "seed:1", "seed:2", "--size", "8", "--weights", weights_dir,
                       "--outdir", tmp_path / "m")
    assert code == 1 and "outside 16" in err and err.count("\n") == 1 and not (tmp_path / "m").exists()


def test_generate_refuses_a_used_outdir_and_keeps_its_files(capsys, tmp_path, weights_dir):
    (tmp_path / "keep.txt").write_text("mine")
    code, _, err = run(capsys, "generate", "--seeds", "0", "--weights", weights_dir, "--outdir", tmp_path)
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 1 and str(tmp_path) in err
    assert (tmp_path / "keep.txt").read_text() == "mine" and len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("command", [["generate", "--seeds", "1"], ["edit", "--seed", "1"],
                                     ["mix", "seed:1", "seed:2"]])
def test_an_interrupted_command_leaves_no_half_written_image(capsys, tmp_path, weights_dir, monkeypatch, command):
    def killed(image, path):
        Path(path).write_bytes(b"\x89PNG\r\n")                     # the first bytes, then the kill
        raise KeyboardInterrupt

    monkeypatch.setattr("explorer.commands.save_png", killed)
    code, _, err = run(capsys, *command, "--weights", weights_dir, "--outdir", tmp_path / "out")
    assert code == 130 and list((tmp_path / "out").iterdir()) == []


def test_encode_refuses_two_photos_of_one_name_before_any_work(capsys, tmp_path, weights_dir, shared_data):
    photos = [tmp_path / folder / "face.png" for folder in "ab"]
    for photo in photos:
        photo.parent.mkdir()
        photo.write_bytes((shared_data / "portraits" / "astronaut.png").read_bytes())
    code, _, err = run(capsys, "encode", *photos, "--weights", weights_dir, "--outdir", tmp_path / "out")
    assert code == 1 and err.startswith(f"error: {photos[1]}: ") and str(photos[0]) in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_usage_errors_exit_2_with_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--seeds", "0"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1


def test_encode_the_portraits(capsys, tmp_path, weights_dir, shared_data):
    photos = [shared_data / "portraits" / n for n in ("astronaut.png", "grace_hopper.jpg")]
    code, _, err = run(capsys, "encode", *photos, "--weights", weights_dir, "--outdir", tmp_path / "enc")
    assert code == 0, err
    cfg = json.loads((weights_dir / "generator.json").read_text())["config"]
    num_ws = 2 * (cfg["resolution"].bit_length() - 1) - 2
    for stem in ("astronaut", "grace_hopper"):
        ws = np.load(tmp_path / "enc" / f"{stem}_w.npy")
        assert ws.shape == (num_ws, cfg["w_dim"]) and np.isfinite(ws).all()
        for kind in ("aligned", "recon"):
            assert Image.open(tmp_path / "enc" / f"{stem}_{kind}.png").size == (cfg["resolution"],) * 2


def test_encode_picks_a_face_by_size(capsys, tmp_path, weights_dir, shared_data):
    photo = shared_data / "portraits" / "astronaut.png"                  # her face, then the mission patch
    crops = {}
    for face in (1, 2):
        code, _, err = run(capsys, "encode", photo, "--face", face, "--weights", weights_dir, "--outdir", tmp_path / f"f{face}")
        assert code == 0, err
        crops[face] = np.asarray(Image.open(tmp_path / f"f{face}" / "astronaut_aligned.png"), dtype=int)
    assert np.abs(crops[1] - crops[2]).mean() > 20
    code, _, err = run(capsys, "encode", photo, "--face", 3, "--weights", weights_dir, "--outdir", tmp_path / "f3")
    assert code == 1 and "has 2 face(s); there is no face 3" in err and not (tmp_path / "f3").exists()


@pytest.mark.parametrize("content, message", [(b"not an image", "not an image"),
                                              (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "corrupt")])
def test_encode_bad_files_fail_with_one_line(capsys, tmp_path, weights_dir, content, message):
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    code, _, err = run(capsys, "encode", bad, "--weights", weights_dir, "--outdir", tmp_path / "out")
    assert code == 1 and err.count("\n") == 1 and str(bad) in err and message in err
    assert not (tmp_path / "out").exists()


def test_encode_without_a_face(capsys, tmp_path, weights_dir):
    blank = tmp_path / "wall.png"
    Image.new("RGB", (256, 256), (120, 130, 140)).save(blank)
    code, _, err = run(capsys, "encode", blank, "--weights", weights_dir, "--outdir", tmp_path / "out")
    assert code == 1 and "no face found" in err


def test_dataset_build_align_skips_photos_without_a_face(capsys, tmp_path, shared_data):
    src = tmp_path / "photos"
    src.mkdir()
    with zipfile.ZipFile(shared_data / "utkface.zip") as zf:
        for name in sorted(zf.namelist())[1::2000][:10]:               # all ten have a face HOG finds
            (src / name).write_bytes(zf.read(name))
    load_photo(shared_data / "portraits" / "grace_hopper.jpg").crop((0, 0, 150, 400)).save(src / "zz_flag.png")
    out_zip = tmp_path / "aligned.zip"
    code, out, err = run(capsys, "dataset", "build", src, "--resolution", 64, "--align", "--out", out_zip)
    assert code == 0, err
    assert "wrote 10 images (64x64, aligned ffhq)" in out and "skipped: no face 1" in out
    assert "zz_flag.png: no face" in out
    with zipfile.ZipFile(out_zip) as zf:
        meta = json.loads(zf.read("dataset.json"))
        first = np.asarray(Image.open(io.BytesIO(zf.read("img00000000.png"))))
    assert (meta["alignment"], meta["count"]) == ("ffhq", 10)
    expected = align_face(load_photo(src / meta["labels"]["img00000000.png"]["file"]), 64, method="ffhq")
    assert np.array_equal(first, np.asarray(expected.image))           # the same code as photos


def test_morph_seeds_to_png_folder_and_photos_to_gif(capsys, tmp_path, weights_dir, shared_data):
    code, _, err = run(capsys, "morph", "seed:1", "seed:2", "--frames", 5, "--weights", weights_dir,
                       "--out", tmp_path / "frames")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "frames").glob("*.png")) == [f"frame{i:04d}.png" for i in range(5)]
    assert json.loads((tmp_path / "frames" / "morph.json").read_text())["num_frames"] == 5
    a, b = (shared_data / "portraits" / n for n in ("astronaut.png", "grace_hopper.jpg"))
    code, _, err = run(capsys, "morph", a, b, "--frames", 4, "--size", 200, "--weights", weights_dir,
                       "--out", tmp_path / "m.gif")
    assert code == 0, err
    assert iio.imread(tmp_path / "m.gif", index=None).shape == (4, 200, 200, 3)
    assert json.loads((tmp_path / "m.gif.json").read_text())["size"] == 200
    code, _, err = run(capsys, "morph", a, b, "--size", 9000, "--weights", weights_dir, "--out", tmp_path / "x.gif")
    assert code == 1 and err.strip() == "error: frame size 9000 px is outside 16 … 4096 px"
    assert not (tmp_path / "x.gif").exists() and not (tmp_path / "x.gif.json").exists()


def test_morph_refuses_a_taken_name_before_any_work(capsys, tmp_path, weights_dir, shared_data, monkeypatch):
    from explorer import photos
    monkeypatch.setattr(photos, "encode_photo", lambda *args, **kwargs: pytest.fail("a photo was encoded"))
    photo = shared_data / "portraits" / "astronaut.png"
    (tmp_path / "m.gif.json").write_text("{}")
    for out, taken in (("m.gif", "m.gif.json"), ("frames", "frames"), ("m.avi", None)):
        (tmp_path / "frames").mkdir(exist_ok=True)
        code, _, err = run(capsys, "morph", photo, "seed:2", "--refine", 300, "--weights", weights_dir,
                           "--out", tmp_path / out)
        assert code == 1 and err.count("\n") == 1, err
        assert f"{tmp_path / taken}: already exists" in err if taken else "unknown output type '.avi'" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames", "m.gif.json"]


def test_morph_through_three_keyframes_to_a_folder(capsys, tmp_path, weights_dir, shared_data):
    from explorer.session import render
    from explorer.weights import load_bundle
    photo = shared_data / "portraits" / "astronaut.png"
    out = tmp_path / "frames"
    code, _, err = run(capsys, "morph", "seed:1", photo, "seed:3", "--frames", 5, "--easing", "cubic", "--pace", "time",
                       "--times", "0,0.25,1", "--coarse", "0:0.5", "--fine", "0.5:1", "--size", 64,
                       "--weights", weights_dir, "--out", out)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [f"frame{i:04d}.png" for i in range(5)] + ["morph.json"]
    sidecar = json.loads((out / "morph.json").read_text())
    assert [(k["label"], k["time"]) for k in sidecar["keyframes"]] == [("seed 1", 0.0), ("astronaut.png", 0.25),
                                                                       ("seed 3", 1.0)]
    assert sidecar["easing"] == "cubic" and sidecar["num_frames"] == 5 and sidecar["fps"] == 30
    assert sidecar["windows"] == {"coarse": [0.0, 0.5], "middle": [0.0, 1.0], "fine": [0.5, 1.0]}
    bundle = load_bundle(weights_dir, "cpu")
    for i, key in ((0, 0), (1, 1), (4, 2)):                            # frames at the keyframes' times
        expected = render(bundle, torch.tensor(sidecar["keyframes"][key]["ws"]).unsqueeze(0))[0]
        frame = np.asarray(Image.open(out / f"frame{i:04d}.png"))
        assert np.abs(frame.astype(int) - expected).max() <= 1, i


def test_morph_refines_photo_keyframes_when_asked(capsys, tmp_path, weights_dir, shared_data):
    from explorer.photos import encode_photo
    from explorer.weights import load_bundle
    photo = shared_data / "portraits" / "astronaut.png"
    code, _, err = run(capsys, "morph", "seed:1", photo, "--frames", 2, "--refine", 3, "--weights", weights_dir,
                       "--out", tmp_path / "frames")
    assert code == 0, err
    ws = torch.tensor(json.loads((tmp_path / "frames" / "morph.json").read_text())["keyframes"][1]["ws"])
    bundle = load_bundle(weights_dir, "cpu")
    assert torch.allclose(ws, encode_photo(bundle, photo, 3).ws[0].float(), atol=1e-3)
    assert not torch.allclose(ws, encode_photo(bundle, photo).ws[0].float(), atol=1e-3)


@pytest.mark.parametrize("options", [["--frames", "1"], ["--fps", "0"], ["--refine", "-1"], ["--frames", "many"],
                                     ["--easing", "bounce"], ["--coarse", "0.6:0.2"], ["--fine", "0.5"], ["--middle", "0:1.5"],
                                     ["--times", "0,1.5"], ["--times", "0,x"], ["--pace", "fast"], []])
def test_morph_usage_errors_exit_2_with_one_line(capsys, tmp_path, options):
    keyframes = ["seed:1", "seed:2"] if options else ["seed:1"]        # [] : only one keyframe
    with pytest.raises(SystemExit) as exit_info:
        main(["morph", *keyframes, *options, "--out", str(tmp_path / "m.gif")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("kind, message", [
    ("truncated", "corrupt or truncated image"),
    ("huge", "9000x8000 is over the 64 megapixel limit"),
    ("tiny-face", "the face is only 36 px wide; at least 40 px needed"),
])
def test_encode_and_morph_refuse_bad_photos_with_one_line(capsys, tmp_path, weights_dir, bad_photo, kind, message):
    bad = bad_photo(kind)
    code, _, err = run(capsys, "encode", bad, "--weights", weights_dir, "--outdir", tmp_path / "out")
    assert code == 1 and err.startswith(f"error: {bad}: {message}") and err.count("\n") == 1
    code, _, err = run(capsys, "morph", "seed:1", bad, "--weights", weights_dir, "--out", tmp_path / "m.gif")
    assert code == 1 and str(bad) in err and message in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [bad.name]   # nothing written


@pytest.mark.parametrize("kind", ["cmyk", "16-bit", "animated-gif", "animated-png", "animated-webp"])
def test_encode_converts_cmyk_16_bit_and_takes_the_first_frame(capsys, tmp_path, weights_dir, bad_photo, kind):
    photo = bad_photo(kind)                  # animated: the portrait, then a blank frame without a face
    code, _, err = run(capsys, "encode", photo, "--weights", weights_dir, "--outdir", tmp_path / "out")
    assert code == 0, err
    assert (tmp_path / "out" / f"{photo.stem}_w.npy").is_file()


def test_edit_moves_the_face_and_rejects_unknown_names(capsys, tmp_path, weights_dir):
    code, out, _ = run(capsys, "directions", "list", "--weights", weights_dir)
    first = json.loads(out.splitlines()[0])
    assert code == 0 and {"name", "min", "max", "layers", "method"} <= first.keys()
    code, _, err = run(capsys, "edit", "--seed", 3, "--set", f"{first['name']}=2", "--weights", weights_dir,
                       "--outdir", tmp_path / "e")
    assert code == 0, err
    original, edited = (np.asarray(Image.open(tmp_path / "e" / f"seed0003_{k}.png")) for k in ("original", "edited"))
    assert np.abs(original.astype(int) - edited).mean() > 1
    code, _, err = run(capsys, "edit", "--seed", 3, "--set", "nonsense=1", "--weights", weights_dir,
                       "--outdir", tmp_path / "f")
    assert code == 1 and "no direction named 'nonsense'" in err


def test_mix_takes_the_chosen_layers_from_the_reference(capsys, tmp_path, weights_dir, shared_data):
    grace = shared_data / "portraits" / "grace_hopper.jpg"
    code, _, err = run(capsys, "mix", "seed:3", grace, "--layers", "middle+fine", "--weights", weights_dir,
                       "--outdir", tmp_path / "m")
    assert code == 0, err
    run(capsys, "generate", "--seeds", 3, "--weights", weights_dir, "--outdir", tmp_path / "g")
    run(capsys, "encode", grace, "--weights", weights_dir, "--outdir", tmp_path / "e")
    content, style, mix = (np.asarray(Image.open(tmp_path / "m" / f"{k}.png"), dtype=int)
                           for k in ("content", "style", "mix"))
    assert np.abs(content - np.asarray(Image.open(tmp_path / "g" / "seed0003.png"))).max() <= 1   # oneDNN rounding
    assert np.abs(mix - content).mean() > 1 and np.abs(mix - style).mean() > 1
    mixed, grace_ws = np.load(tmp_path / "m" / "mix_w.npy"), np.load(tmp_path / "e" / "grace_hopper_w.npy")
    middle = layer_groups(len(mixed))["middle"].start
    assert np.allclose(mixed[middle:], grace_ws[middle:], atol=1e-6)
    assert np.allclose(mixed[:middle], mixed[0]) and not np.allclose(mixed[:middle], grace_ws[:middle])


def test_mix_of_coarse_and_fine_leaves_the_middle_layers(capsys, tmp_path, weights_dir):
    code, _, err = run(capsys, "mix", "seed:3", "seed:12", "--layers", "coarse+fine", "--weights", weights_dir,
                       "--outdir", tmp_path / "m")
    assert code == 0, err
    run(capsys, "mix", "seed:3", "seed:12", "--layers", "0-9", "--weights", weights_dir, "--outdir", tmp_path / "all")
    mixed, style = np.load(tmp_path / "m" / "mix_w.npy"), np.load(tmp_path / "all" / "mix_w.npy")
    groups = layer_groups(len(mixed))
    for name, taken in (("coarse", True), ("middle", False), ("fine", True)):
        layers = slice(groups[name].start, groups[name].stop)
        assert np.allclose(mixed[layers], style[layers]) == taken, name


@pytest.mark.parametrize("layers, message", [("hair", "known groups are coarse, middle, fine"),
                                             ("3-1", "expected A-B with 0 ≤ A ≤ B ≤ 9"), ("0-10", "≤ 9")])
def test_mix_refuses_bad_layers_with_one_line(capsys, tmp_path, weights_dir, layers, message):
    code, _, err = run(capsys, "mix", "seed:3", "seed:4", "--layers", layers, "--weights", weights_dir,
                       "--outdir", tmp_path / "m")
    assert code == 1 and message in err and err.count("\n") == 1 and not (tmp_path / "m").exists()


def test_train_gan_dry_run(capsys, tmp_path):
    code, _, err = run(capsys, "train", "gan", "--dry-run", "--outdir", tmp_path / "run", "--device", "cpu")
    assert code == 0, err
    assert (tmp_path / "run" / "checkpoint.json").is_file() and (tmp_path / "run" / "generator.json").is_file()


@pytest.mark.parametrize("options, message", [
    (["--loss", "wgan-gp", "--augment", "ada"], "train gan: ADA steers by the sign of D's output"),
    (["--arch", "dcgan", "--pl-weight", "1"], "train gan: path-length regularization needs a StyleGAN2 generator"),
], ids=["ada-wgan", "pl-dcgan"])
def test_train_refuses_a_bad_combination_in_one_line(capsys, tmp_path, options, message):
    code, _, err = run(capsys, "train", "gan", "--dry-run", *options, "--outdir", tmp_path / "run", "--device", "cpu")
    assert code == 1 and message in err and err.count("\n") == 1 and not (tmp_path / "run").exists()


def test_a_file_system_error_no_command_caught_is_one_line(capsys, monkeypatch):
    from explorer import commands

    def fail(args):
        raise PermissionError(13, "Permission denied", "/somewhere/face.png")

    monkeypatch.setattr(commands, "run", fail)
    code, _, err = run(capsys, "generate", "--seeds", "0", "--outdir", "out")
    assert code == 1 and err == "error: /somewhere/face.png: permission denied\n"
