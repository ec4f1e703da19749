"""Fitting directions: InterFaceGAN boundaries and conditioning, GANSpace, the pose score,
storage with the new fields, and `explorer directions fit` on a copy of the weights."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from explorer.cli import main
from explorer.directions import (
    Direction,
    condition,
    ganspace,
    load_directions,
    sample_w,
    save_directions,
    sefa,
    w_std_along,
)
from explorer.errors import UserError
from explorer.interfacegan import (
    Attribute,
    available_attributes,
    classifier_scorer,
    fit_directions,
    layer_range,
    parse_conditions,
)
from explorer.netio import save_network
from explorer.nets.classifier import (
    AttributeClassifier,
    AttributeHead,
    ClassifierConfig,
)
from explorer.nets.layers import ModulatedConv2d
from explorer.nets.stylegan import Generator, GeneratorConfig
from explorer.pose import yaw_from_landmarks, yaw_scores
from explorer.weights import add_directions, file_sha256, load_bundle, verify_manifest

W_DIM = 16


class WAsImage(nn.Module):
    """Stands in for the synthesis network: the "image" of W+ is its first w as a 4×4 map, so a
    linear function of the pixels is a known linear function of w."""

    def forward(self, ws: torch.Tensor, noise_mode: str = "none") -> torch.Tensor:
        return ws[:, 0].reshape(-1, 1, 4, 4)


@pytest.fixture(scope="module")
def tiny_G():
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(resolution=16, z_dim=W_DIM, w_dim=W_DIM, channel_base=64, channel_max=16))
    G.mapping.w_avg.copy_(sample_w(G, 2000, seed=1).mean(0))
    return G.eval().requires_grad_(False)


class Identity(nn.Module):
    """Stands in for the mapping network: w = z, an isotropic W."""

    def __init__(self, w_dim: int):
        super().__init__()
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z


@pytest.fixture(scope="module")
def w_image_G(tiny_G):
    """The tiny generator's (anisotropic) W, each face an image of its w."""
    G = Generator(tiny_G.cfg)
    G.load_state_dict(tiny_G.state_dict())
    G.synthesis = WAsImage()
    return G.eval().requires_grad_(False)


@pytest.fixture(scope="module")
def isotropic_G(tiny_G):
    """w = z ~ N(0, I), each face an image of its w."""
    G = Generator(tiny_G.cfg)
    G.mapping, G.synthesis = Identity(W_DIM), WAsImage()
    return G.eval().requires_grad_(False)


def unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm()


def linear_scorer(G, truths: dict[str, tuple[torch.Tensor, float]]):
    """Scores = w · d plus Gaussian noise of the given share of the score's std, read from
    WAsImage's images."""
    gen = torch.Generator().manual_seed(3)
    w = sample_w(G, 2000, seed=7)
    truths = {name: (d, share * float((w @ d).std())) for name, (d, share) in truths.items()}

    def score(images):
        w = images.flatten(1).double()
        return {name: (w @ d.double() + noise * torch.randn(len(w), generator=gen, dtype=torch.float64)).numpy()
                for name, (d, noise) in truths.items()}
    return score


ATTRIBUTES = [Attribute("smile", "Smiling", "Smile", "middle"), Attribute("age", "age", "Age", "coarse")]
KINDS = {"smile": "binary", "age": "regression"}


def test_interfacegan_recovers_a_known_linear_attribute(isotropic_G):
    gen = torch.Generator().manual_seed(0)
    d_smile, d_age = unit(torch.randn(W_DIM, generator=gen)), unit(torch.randn(W_DIM, generator=gen))
    score = linear_scorer(isotropic_G, {"smile": (d_smile, 0.05), "age": (d_age * 10, 0.3)})
    smile, age = fit_directions(isotropic_G, score, ATTRIBUTES, KINDS, {}, num_samples=2000, psi=0.7, top_percent=10)
    assert float(smile.vector @ d_smile) > 0.95 and float(age.vector @ d_age) > 0.95
    assert smile.method == "interfacegan" and smile.metrics["accuracy"] > 0.9 and age.metrics["r"] > 0.5
    assert smile.layers == layer_range("middle", isotropic_G.num_ws) and age.layers == range(2)
    # per_sigma: the age change of a +1σ slider step, 10 · σ along d_age
    assert age.metrics["per_sigma"] == pytest.approx(10 * age.scale, rel=0.1)
    assert abs(float(smile.vector.norm()) - 1) < 1e-5 and smile.scale == pytest.approx(1, rel=0.1)


def test_in_an_anisotropic_w_the_direction_is_the_steepest_ascent_per_mahalanobis_length(w_image_G):
    gen = torch.Generator().manual_seed(0)
    d_smile, d_age = unit(torch.randn(W_DIM, generator=gen)), unit(torch.randn(W_DIM, generator=gen))
    score = linear_scorer(w_image_G, {"smile": (d_smile, 0.05), "age": (d_age * 10, 0.3)})
    smile, age = fit_directions(w_image_G, score, ATTRIBUTES, KINDS, {}, num_samples=2000, psi=0.7, top_percent=10)
    cov = torch.cov(sample_w(w_image_G, 20_000, seed=9).T)
    assert float(smile.vector @ unit(cov @ d_smile)) > 0.95 and float(age.vector @ unit(cov @ d_age)) > 0.95
    assert age.metrics["per_sigma"] == pytest.approx(10 * float(age.vector @ d_age) * age.scale, rel=0.1)


def test_conditioning_makes_the_normal_orthogonal_to_the_conditioning_normals(w_image_G):
    gen = torch.Generator().manual_seed(1)
    d_gender = unit(torch.randn(W_DIM, generator=gen))
    d_age = unit(d_gender + 0.7 * unit(torch.randn(W_DIM, generator=gen)))     # age correlates with gender
    score = linear_scorer(w_image_G, {"age": (d_age * 10, 0.3), "gender": (d_gender, 0.05)})
    attributes = [Attribute("age", "age", "Age", "coarse"), Attribute("gender", "gender", "Gender", "coarse")]
    kinds = {"age": "regression", "gender": "binary"}
    age, gender = fit_directions(w_image_G, score, attributes, kinds, {"age": ["gender"]}, 2000, 0.7, top_percent=10)
    assert age.conditioning == ("gender",) and gender.conditioning == ()
    assert abs(float(age.vector @ gender.vector)) < 1e-4
    assert 0 < age.metrics["cosine_to_unconditioned"] < 0.95

    others = [unit(torch.randn(W_DIM, generator=gen)) for _ in range(3)]
    n = condition(unit(torch.randn(W_DIM, generator=gen)), others)
    assert float(n.norm()) == pytest.approx(1, abs=1e-6)
    assert max(abs(float(n @ m)) for m in others) < 1e-6
    with pytest.raises(ValueError, match="span"):
        condition(others[0] + others[1], others[:2])


def test_parse_conditions():
    names = {"age", "gender", "smile", "mouth_open"}
    assert parse_conditions(["age:gender", "smile:mouth_open,age"], names) == {"age": ["gender"],
                                                                                "smile": ["mouth_open", "age"]}
    for bad, message in (("age", "expected"), ("age:wings", "unknown attribute 'wings'"), ("age:age", "itself")):
        with pytest.raises(UserError, match=message):
            parse_conditions([bad], names)


@pytest.mark.parametrize("layers", [range(0, 2), range(1, 4), range(4, 6)], ids=str)
def test_sefa_factorizes_the_styles_of_the_convolutions_reading_the_range(tiny_G, layers):
    """Shen & Zhou's AᵀA over the row-normalised style affines of the 3×3 convolutions that read
    the range's W+ rows, with the last ToRGB for the last row and no intermediate ToRGB; which
    affine reads which row is found by rendering distinct rows."""
    ws = torch.randn(1, tiny_G.num_ws, W_DIM)
    reads = {}
    convs = [m for m in tiny_G.synthesis.modules() if isinstance(m, ModulatedConv2d)]
    hooks = [c.affine.register_forward_hook(lambda mod, inputs, out, c=c: reads.__setitem__(c, inputs[0][0]))
             for c in convs]
    tiny_G.synthesis(ws, noise_mode="none")
    for hook in hooks:
        hook.remove()
    row = {c: next(i for i in range(tiny_G.num_ws) if torch.equal(reads[c], ws[0, i])) for c in convs}
    last_torgb = tiny_G.synthesis.blocks[-1].torgb.conv
    chosen = [c for c in convs if row[c] in layers and (c.weight.shape[-1] == 3 or c is last_torgb)]
    A = torch.cat([c.affine.weight * c.affine.weight_gain for c in chosen])
    A = A / A.norm(dim=1, keepdim=True)
    expected = torch.linalg.eigh(A.T @ A).eigenvectors.flip(1)[:, :3].T
    found = torch.stack([d.vector for d in sefa(tiny_G, layers, 3)])
    assert torch.allclose((found * expected).sum(1).abs(), torch.ones(3), atol=1e-4)


def test_ganspace_components_are_orthonormal_ordered_by_variance_and_labelled_like_sefa(tiny_G):
    found = ganspace(tiny_G, range(2), 4, num_samples=3000)
    V = torch.stack([d.vector for d in found])
    assert torch.allclose(V @ V.T, torch.eye(4), atol=1e-5)
    var = (sample_w(tiny_G, 3000, seed=5) @ V.T).var(0)
    assert bool((var[:-1] >= var[1:]).all())
    ratios = [d.metrics["explained_variance_ratio"] for d in found]
    assert ratios == sorted(ratios, reverse=True)
    assert [d.label for d in found] == [f"Component {k} (layers 0–1)" for k in range(1, 5)]
    assert [d.label for d in sefa(tiny_G, range(2), 4)] == [d.label for d in found]
    assert found[0].name == "ganspace0-1_1" and found[0].method == "ganspace"


def test_pose_score_flips_sign_for_a_mirrored_face(shared_data):
    photo = Image.open(shared_data / "portraits" / "grace_hopper.jpg").convert("RGB")
    w, h = photo.size
    right = photo.crop((w // 2, 0, w, h)).resize((int(w // 2 * 0.6), h), Image.LANCZOS)   # as if turned
    turned = Image.new("RGB", (w // 2 + right.width, h))
    turned.paste(photo.crop((0, 0, w // 2, h)), (0, 0))
    turned.paste(right, (w // 2, 0))
    image = np.asarray(turned)
    yaw, mirrored = yaw_scores(np.stack([image, image[:, ::-1].copy()]))
    assert yaw > 0.1 and mirrored < -0.1 and abs(yaw + mirrored) < 0.05
    assert np.isnan(yaw_scores(np.zeros((1, 64, 64, 3), np.uint8))[0])         # no face
    frontal = np.zeros((68, 2))
    frontal[[0, 36, 30, 45, 16], 0] = [0, 30, 50, 70, 100]
    assert yaw_from_landmarks(frontal) == 0


def test_directions_round_trip_with_the_new_fields_and_old_files_still_load(tmp_path, weights_dir):
    d = Direction("age", "Age", unit(torch.randn(8)), range(4), 1.5, -3.0, 2.5, "interfacegan",
                  ("gender",), {"r": 0.8, "per_sigma": 6.1})
    save_directions(tmp_path / "dirs", [d], "abc")
    (back,) = load_directions(tmp_path / "dirs", "abc")
    assert back.describe() == d.describe() and torch.equal(back.vector, d.vector)
    assert json.loads((tmp_path / "dirs.json").read_text())["directions"][0]["conditioning"] == ["gender"]
    with pytest.raises(UserError, match="another generator"):
        load_directions(tmp_path / "dirs", "def")

    meta = json.loads((tmp_path / "dirs.json").read_text())     # a record written before the new fields
    for key in ("conditioning", "metrics"):
        del meta["directions"][0][key]
    (tmp_path / "dirs.json").write_text(json.dumps(meta))
    (old,) = load_directions(tmp_path / "dirs", "abc")
    assert old.conditioning == () and old.metrics == {}

    shipped = load_directions(weights_dir / "directions", file_sha256(weights_dir / "generator.safetensors"))
    methods = {s.name: s.method for s in shipped}
    assert sum(m == "sefa" for m in methods.values()) == 10
    assert {methods["age"], methods["gender"], methods["pose"]} == {"interfacegan", "pose"}


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def tiny_classifier(path, resolution: int):
    heads = (AttributeHead("age", "regression", mean=40, std=20), AttributeHead("gender", "binary"),
             AttributeHead("race", "categorical", classes=5))
    cfg = ClassifierConfig(resolution=resolution, heads=heads, channel_base=512, channel_max=16)
    torch.manual_seed(0)
    save_network(AttributeClassifier(cfg), path / "classifier", "classifier", cfg.to_dict())
    return path


def test_beard_reads_celebas_no_beard_head_the_other_way_round():
    cfg = ClassifierConfig(resolution=16, heads=(AttributeHead("No_Beard", "binary"),), channel_base=256, channel_max=8)
    torch.manual_seed(0)
    net = AttributeClassifier(cfg).eval()
    available = available_attributes({"cls": net})
    assert list(available) == ["beard"] and available["beard"][0].label == "Beard"
    images = torch.rand(4, 3, 16, 16) * 2 - 1
    beard = classifier_scorer({"cls": net}, [available["beard"][0]], {"beard": "cls"})(images)["beard"]
    with torch.no_grad():
        no_beard = net(images)["No_Beard"].double().numpy()
    np.testing.assert_allclose(beard, -no_beard)


def test_cli_fits_interfacegan_into_the_weights_folder_and_edit_uses_it(capsys, tmp_path, weights_copy):
    run_dir = tiny_classifier(tmp_path / "cls", 32)
    before = {p.name for p in weights_copy.iterdir()}
    shipped = {d.name for d in load_bundle(weights_copy, "cpu").directions}
    code, out, err = run(capsys, "directions", "fit", "--method", "interfacegan", "--classifier", run_dir,
                         "--attributes", "age,gender", "--condition", "age:gender", "--num-samples", 64,
                         "--top-percent", 25, "--weights", weights_copy, "--device", "cpu")
    assert code == 0, err
    assert {p.name for p in weights_copy.iterdir()} == before                       # no staging left behind
    manifest = verify_manifest(weights_copy)                                        # checksums updated
    assert manifest["models"]["directions"]["fits"][-1]["names"] == ["age", "gender"]
    code, out, _ = run(capsys, "directions", "list", "--weights", weights_copy)
    listed = {d["name"]: d for d in map(json.loads, out.splitlines())}
    assert listed.keys() == shipped | {"age", "gender"} and listed["age"]["conditioning"] == ["gender"]
    assert listed["age"]["method"] == "interfacegan" and {"r", "per_sigma"} <= listed["age"]["metrics"].keys()
    assert "accuracy" in listed["gender"]["metrics"] and listed["sefa0-3_1"]["conditioning"] == []
    code, _, err = run(capsys, "edit", "--seed", 1, "--set", "age=2", "--set", "gender=-1", "--weights", weights_copy,
                       "--outdir", tmp_path / "edit")
    assert code == 0, err
    original, edited = (np.asarray(Image.open(tmp_path / "edit" / f"seed0001_{k}.png"), dtype=int)
                        for k in ("original", "edited"))
    assert np.abs(original - edited).mean() > 1

    code, _, err = run(capsys, "directions", "fit", "--method", "ganspace", "--layers", "4-6", "--num", 2,
                       "--num-samples", 500, "--weights", weights_copy, "--device", "cpu")
    assert code == 0, err
    bundle = load_bundle(weights_copy, "cpu")
    assert [d.name for d in bundle.directions][-2:] == ["ganspace4-6_1", "ganspace4-6_2"]


@pytest.mark.parametrize("resolution, argv, message", [
    (32, ["--attributes", "age,nonsense"], "no attribute 'nonsense'"),
    (32, ["--attributes", "race"], "no attribute 'race'"),                         # categorical: no direction
    (32, ["--condition", "age:wings"], "unknown attribute 'wings'"),
    (128, [], "classifier made for 128² faces; the generator renders 64²"),
])
def test_cli_refuses_unknown_attributes_and_a_classifier_for_another_resolution(capsys, tmp_path, weights_copy,
                                                                                resolution, argv, message):
    run_dir = tiny_classifier(tmp_path / "cls", resolution)
    before = {p.name: p.read_bytes() for p in weights_copy.iterdir()}
    code, _, err = run(capsys, "directions", "fit", "--method", "interfacegan", "--classifier", run_dir,
                       *argv, "--num-samples", 50, "--weights", weights_copy, "--device", "cpu")
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in weights_copy.iterdir()} == before


def test_rename_gives_a_component_a_label_in_place(capsys, weights_copy):
    order = [d.name for d in load_bundle(weights_copy, "cpu").directions]
    code, out, err = run(capsys, "directions", "rename", "sefa0-3_2", "Hair length", "--weights", weights_copy)
    assert code == 0, err
    assert json.loads(out)["label"] == "Hair length"
    verify_manifest(weights_copy)                                                    # checksums updated
    bundle = load_bundle(weights_copy, "cpu")
    assert [d.name for d in bundle.directions] == order and bundle.direction("sefa0-3_2").label == "Hair length"
    before = {p.name: p.read_bytes() for p in weights_copy.iterdir()}
    for name, label, message in (("wings", "Wings", "no direction 'wings'"), ("sefa0-3_2", "  ", "cannot be empty")):
        code, _, err = run(capsys, "directions", "rename", name, label, "--weights", weights_copy)
        assert code == 1 and message in err and len(err.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in weights_copy.iterdir()} == before


def test_remove_deletes_directions_and_forgets_them_in_the_manifest(capsys, weights_copy):
    before_bundle = load_bundle(weights_copy, "cpu")
    order = [d.name for d in before_bundle.directions]
    code, out, err = run(capsys, "directions", "remove", "pose", "gender", "--weights", weights_copy)
    assert code == 0, err
    assert "removed 2 directions" in out
    verify_manifest(weights_copy)
    left = [d.name for d in load_bundle(weights_copy, "cpu").directions]
    assert left == [n for n in order if n not in ("pose", "gender")]
    fits = json.loads((weights_copy / "manifest.json").read_text())["models"]["directions"]["fits"]
    assert not any({"pose", "gender"} & set(f["names"]) for f in fits) and all(f["names"] for f in fits)
    add_directions(weights_copy, [before_bundle.direction("pose")], "a refit")       # comes back at the end
    assert [d.name for d in load_bundle(weights_copy, "cpu").directions][-1] == "pose"
    before = {p.name: p.read_bytes() for p in weights_copy.iterdir()}
    code, _, err = run(capsys, "directions", "remove", "age", "wings", "--weights", weights_copy)
    assert code == 1 and "no direction 'wings'" in err and len(err.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in weights_copy.iterdir()} == before


def test_a_slider_can_keep_other_attributes_unchanged(capsys, tmp_path, weights_dir):
    bundle = load_bundle(weights_dir, "cpu")
    age, pose, gender = (bundle.direction(n) for n in ("age", "pose", "gender"))
    kept = age.conditioned([pose], bundle.w_covariance())
    assert abs(float(kept.vector @ pose.vector)) < 1e-5 and abs(float(kept.vector.norm()) - 1) < 1e-5
    assert kept.conditioning == ("gender", "pose") and age.conditioned([], bundle.w_covariance()) is age
    assert kept.scale == pytest.approx(float(w_std_along(bundle.generator, kept.vector[None])[0]), rel=1e-3)
    assert abs(float(age.vector @ pose.vector)) > 10 * abs(float(kept.vector @ pose.vector))
    with pytest.raises(ValueError, match="span"):
        gender.conditioned([gender], bundle.w_covariance())

    code, _, err = run(capsys, "edit", "--seed", 3, "--set", "age=2", "--keep", "age:pose", "--weights", weights_dir,
                       "--outdir", tmp_path / "kept")
    assert code == 0, err
    session = json.loads((tmp_path / "kept" / "seed0003_edit.json").read_text())
    assert session["conditions"] == {"age": ["pose"]}
    code, _, err = run(capsys, "edit", "--seed", 3, "--set", "age=2", "--keep", "age:wings", "--weights", weights_dir,
                       "--outdir", tmp_path / "wings")
    assert code == 1 and "no direction named 'wings'" in err and not (tmp_path / "wings").exists()
    with pytest.raises(SystemExit) as usage:
        main(["edit", "--seed", "3", "--keep", "age", "--outdir", str(tmp_path / "x")])
    assert usage.value.code == 2
