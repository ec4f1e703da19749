"""dlib's face descriptor network in PyTorch: the file reader, the network and its shipped weights."""

import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.dlib_dnn import DlibFormatError, read_dlib_network
from explorer.metrics.face_descriptor import chip_descriptors, face_chips
from explorer.metrics.face_descriptor_convert import default_source, expected_kinds, state_from_dlib
from explorer.nets.face_descriptor import SAME_PERSON_DISTANCE, FaceDescriptorNet, add_padded


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Each test converts into its own cache and loads the network afresh."""
    import explorer.metrics.face_descriptor as module

    monkeypatch.setenv("EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(module, "_models", {})
    return tmp_path / "cache" / "face_descriptor"


@pytest.fixture(scope="module")
def dat_bytes() -> bytes:
    return default_source().read_bytes()


def test_add_padded_zero_pads_the_smaller_operand_at_the_end():
    a = torch.ones(1, 2, 3, 3)
    b = torch.full((1, 4, 4, 4), 10.0)
    out = add_padded(a, b)
    assert out.shape == (1, 4, 4, 4)
    assert torch.all(out[:, :2, :3, :3] == 11) and torch.all(out[:, 2:] == 10) and torch.all(out[:, :, 3] == 10)


def test_network_sizes_follow_dlib():
    net = FaceDescriptorNet()
    assert net(torch.rand(2, 3, 150, 150)).shape == (2, 128)
    assert net(torch.rand(1, 3, 103, 103)).shape == (1, 128)
    for bad in (torch.rand(2, 150, 150), torch.rand(1, 3, 102, 150)):
        with pytest.raises(ValueError, match=r"\[N, 3, H, W\] with H, W >= 103"):
            net(bad)


def test_reader_parses_the_whole_file_into_the_expected_layers():
    net = read_dlib_network(default_source())
    assert net.loss == "loss_metric_2" and net.input_size == (150, 150)
    assert [layer.kind for layer in net.layers] == expected_kinds()
    state = state_from_dlib(net, "dat")
    assert sum(v.numel() for v in state.values()) == sum(p.numel() for p in FaceDescriptorNet().parameters())


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:len(b) // 2], "file ends inside"),
    (lambda b: b"\x7f" + b[1:], "bad integer header"),
    (lambda b: b + b"\x00", "bytes left after the network"),
    (lambda b: b[:4] + b"loss_other___" + b[17:], "'loss_other___' where 'loss_metric_2' was expected"),
    (lambda b: b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "not a dlib network"),
])
def test_reader_refuses_damaged_files_naming_them(tmp_path, dat_bytes, damage, message):
    path = tmp_path / "model.dat"
    path.write_bytes(damage(dat_bytes))
    with pytest.raises(DlibFormatError, match=message) as e:
        read_dlib_network(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_reader_refuses_a_missing_file(tmp_path):
    with pytest.raises(Exception, match="cannot read"):
        read_dlib_network(tmp_path / "absent.dat")


def test_the_network_is_converted_once_into_the_cache_and_from_memory_where_it_cannot_be_written(own_cache, monkeypatch):
    import explorer.metrics.face_descriptor as module
    from explorer.metrics.face_descriptor import load_face_descriptor

    chips = torch.rand(2, 3, 150, 150)
    first = load_face_descriptor()(chips)
    assert (own_cache / "face_descriptor.safetensors").is_file()
    (own_cache / "face_descriptor.safetensors").write_bytes(b"damaged")
    monkeypatch.setattr(module, "_models", {})
    assert torch.equal(load_face_descriptor()(chips), first)                 # converted again
    blocked = own_cache.parent.parent / "blocked"
    blocked.write_text("a file where the cache folder would go")
    monkeypatch.setenv("EXPLORER_CACHE", str(blocked / "cache"))
    monkeypatch.setattr(module, "_models", {})
    assert torch.equal(load_face_descriptor()(chips), first)


def _faces(shared_data, utkface: int, celeba: int) -> list[np.ndarray]:
    images = []
    for name, count in (("utkface.zip", utkface), ("celeba_attrs.zip", celeba)):
        if not count:
            continue
        with zipfile.ZipFile(shared_data / name) as z:
            members = [m for m in z.namelist() if m.lower().endswith(".jpg")]
            for m in members[::max(1, len(members) // count)][:count]:
                images.append(np.array(Image.open(io.BytesIO(z.read(m))).convert("RGB")))
    return images


def _pairwise(x: np.ndarray) -> np.ndarray:
    return np.linalg.norm(x[:, None] - x[None], axis=-1)[np.triu_indices(len(x), 1)]


def test_shipped_network_matches_dlib_on_real_faces(shared_data):
    """The converted weights against dlib's own compute_face_descriptor on ≥ 200 faces:
    cosine ≥ 0.999 each, and the same same/different decision at 0.6 for every pair."""
    import dlib
    from explorer.metrics.face_descriptor_convert import default_source as dat

    chips, _, _ = face_chips(_faces(shared_data, utkface=150, celeba=75))
    assert len(chips) >= 200
    reference = np.array([list(d) for d in dlib.face_recognition_model_v1(str(dat())).compute_face_descriptor(list(chips))])
    ours = chip_descriptors(chips)
    cosine = (reference * ours).sum(1) / np.linalg.norm(reference, axis=1) / np.linalg.norm(ours, axis=1)
    assert cosine.min() >= 0.999, cosine.min()
    same_ref, same_ours = _pairwise(reference) < SAME_PERSON_DISTANCE, _pairwise(ours) < SAME_PERSON_DISTANCE
    assert same_ref.any() and np.array_equal(same_ref, same_ours)


def test_fd_face_is_zero_against_itself_positive_against_others_and_refuses_faceless_sets(tmp_path, shared_data):
    from explorer.errors import UserError
    from explorer.metrics.registry import compute

    faces = _faces(shared_data, utkface=24, celeba=0)
    folders = {name: tmp_path / name for name in ("a", "b", "blank")}
    for folder in folders.values():
        folder.mkdir()
    for i, face in enumerate(faces):
        Image.fromarray(face).save(folders["a" if i % 2 else "b"] / f"{i:03d}.png")
        Image.new("RGB", (128, 128), (128, 120, 110)).save(folders["blank"] / f"{i:03d}.png")
    same = compute("fd_face", folders["a"], folders["a"], resolution=128)[0]
    other = compute("fd_face", folders["a"], folders["b"], resolution=128)[0]
    assert abs(same["value"]) < 1e-6 and other["value"] > 0.01
    assert other["faces"] >= 10 and other["detection_rate"] > 0.8
    with pytest.raises(UserError, match="at least 2 images with a face"):
        compute("fd_face", folders["a"], folders["blank"], resolution=128)
