"""3D faces: the mesh of real and generated faces, its topology, preview, OBJ export and CLI."""

import json
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from explorer.cli import main as cli_main
from explorer.errors import UserError
from explorer.export import face_mesh, mesh_sidecar, read_session, render_at, save_mesh
from explorer.face3d import FaceMesh, FaceMeshModel, reconstruct_face, render_mesh, triangles
from explorer.faces import align_face
from explorer.images import load_photo
from explorer.session import Session
from explorer.weights import load_bundle

# MediaPipe Face Mesh vertex → iBUG 300-W point: outer eye corners, nose tip, mouth corners, chin
MESH_TO_IBUG = {33: 36, 263: 45, 1: 30, 61: 48, 291: 54, 152: 8}
NOSE_TIP, CHEEKS = 1, (234, 454)


@pytest.fixture(scope="module")
def model():
    return FaceMeshModel()


@pytest.fixture(scope="module")
def bundle(weights_dir):
    return load_bundle(weights_dir, "cpu")


def test_mesh_of_a_photo_lies_on_its_face(model, shared_data):
    """On a real portrait, the mesh's eye corners, nose tip, mouth corners and chin land on dlib's
    landmarks (within a tenth of the eye distance), and the nose stands out towards the viewer."""
    aligned = align_face(load_photo(shared_data / "portraits" / "grace_hopper.jpg"), 256, method="utkface")
    mesh = reconstruct_face(model, np.asarray(aligned.image))
    assert mesh.presence > 0.9
    eyes = np.linalg.norm(aligned.landmarks[45] - aligned.landmarks[36])
    for vertex, point in MESH_TO_IBUG.items():
        assert np.linalg.norm(mesh.vertices[vertex, :2] - aligned.landmarks[point]) < 0.1 * eyes, vertex
    assert mesh.vertices[NOSE_TIP, 2] > mesh.vertices[list(CHEEKS), 2].max() + 0.1 * eyes


def test_mesh_follows_the_face_in_the_picture(model, shared_data):
    """The second pass re-frames the face: the same face put off-centre in a larger picture gives
    the same mesh, shifted with it (the mesh does not depend on the crop's exact framing)."""
    face = np.asarray(align_face(load_photo(shared_data / "portraits" / "astronaut.png"), 128, method="utkface").image)
    canvas = np.zeros((176, 176, 3), np.uint8)
    canvas[:] = face[0, 0]
    canvas[40:168, 8:136] = face
    a = reconstruct_face(model, face).vertices
    b = reconstruct_face(model, canvas).vertices
    shifted = a[:, :2] + [8, 40]
    assert np.abs(b[:, :2] - shifted).mean() < 2.0


def test_no_face_is_refused(model, shared_data):
    flag = np.asarray(Image.open(shared_data / "portraits" / "grace_hopper.jpg").convert("RGB").crop((0, 0, 150, 400)))
    with pytest.raises(UserError, match="flag.png: no face found for a 3D mesh"):
        reconstruct_face(model, flag, "flag.png")


def test_triangles_close_the_eyes_and_mouth_and_wind_one_way():
    """898 triangles over 468 vertices; every edge but the face's outline is shared by exactly two
    triangles walking it in opposite directions (one orientation, no holes but the outline)."""
    tris = triangles()
    assert tris.shape == (898, 3) and tris.min() == 0 and tris.max() == 467
    directed = Counter((int(t[k]), int(t[(k + 1) % 3])) for t in tris for k in range(3))
    assert max(directed.values()) == 1                                      # no edge walked twice one way
    border = [e for e in directed if (e[1], e[0]) not in directed]
    assert len(border) == 36                                                # the outline: one loop
    assert len({v for e in border for v in e}) == 36


def test_preview_paints_the_front_and_hides_the_back():
    """A textured square facing the viewer: the left of the picture shows the left of the
    texture; turned 30° it covers less of the picture; turned 180° it faces away and is culled."""
    texture = np.zeros((32, 32, 3), np.uint8)
    texture[:, :16] = (255, 0, 0)
    texture[:, 16:] = (0, 0, 255)
    vertices = np.array([[0, 0, 0], [32, 0, 0], [32, 32, 0], [0, 32, 0]], np.float32)    # x right, y down
    square = FaceMesh(vertices, np.array([[0, 3, 2], [0, 2, 1]], np.int32), texture, 1.0)
    front = render_mesh(square, side=64).astype(int)
    assert front[32, 12, 0] > 2 * front[32, 12, 2]
    assert front[32, 52, 2] > 2 * front[32, 52, 0]
    background = front[0, 0]
    assert (render_mesh(square, yaw=180, side=64) == background).all()
    assert (render_mesh(square, yaw=30, side=64) != background).any(axis=2).mean() < \
        (front != background).any(axis=2).mean()


def test_save_mesh_writes_four_files_and_overwrites_nothing(model, bundle, tmp_path):
    session = Session(seed=3)
    ws = session.ws(bundle)
    mesh = face_mesh(bundle, model, ws)
    assert mesh.texture.shape == (2 * bundle.resolution, 2 * bundle.resolution, 3)
    out = save_mesh(mesh, tmp_path / "face.obj", sidecar=mesh_sidecar(bundle, session, ws, mesh, "superres"))
    lines = out.read_text().splitlines()
    assert sum(line.startswith("v ") for line in lines) == 468
    assert sum(line.startswith("vt ") for line in lines) == 468
    faces = [line for line in lines if line.startswith("f ")]
    assert len(faces) == 898
    indices = [int(part.split("/")[0]) for line in faces for part in line.split()[1:]]
    assert min(indices) == 1 and max(indices) == 468
    vertices = np.array([[float(x) for x in line.split()[1:]] for line in lines if line.startswith("v ")])
    assert np.ptp(vertices[:, 0]) == pytest.approx(1.0, abs=1e-4)               # face-width units
    assert vertices[NOSE_TIP, 1] > vertices[152, 1]                            # y up: the nose above the chin
    assert "map_Kd face.png" in (tmp_path / "face.mtl").read_text()
    assert Image.open(tmp_path / "face.png").text["Comment"].startswith("synthetic")
    assert read_session(bundle, out) == session                                 # the sidecar reopens the face
    assert json.loads((tmp_path / "face.obj.json").read_text())["mesh"]["triangles"] == 898
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(UserError, match="face.obj: already exists"):
        save_mesh(mesh, tmp_path / "face.obj", sidecar={})
    (tmp_path / "other.png").write_bytes(b"mine")
    with pytest.raises(UserError, match="other.png: already exists"):
        save_mesh(mesh, tmp_path / "other.obj", sidecar={})
    with pytest.raises(UserError, match="saved as .obj"):
        save_mesh(mesh, tmp_path / "face.ply", sidecar={})
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != "other.png"} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.mtl", "face.obj", "face.obj.json", "face.png",
                                                          "other.png"]
    (tmp_path / "face.obj.json").rename(tmp_path / "face.json")                # as older versions named it
    assert read_session(bundle, out) == session


def test_cli_mesh_of_an_edited_seed_and_of_bad_input(tmp_path, capsys, bundle, bad_photo):
    folder = tmp_path / "meshes"
    folder.mkdir()
    out = folder / "older.obj"
    assert cli_main(["mesh", "seed:11", "--set", "age=1.5", "--out", str(out), "--size", "192",
                     "--turntable", "mp4"]) == 0
    assert "898 triangles" in capsys.readouterr().out
    assert Image.open(folder / "older.png").size == (192, 192)
    assert json.loads((folder / "older-turntable.mp4.json").read_text())["turntable"]["frames"] == 72
    assert (folder / "older-turntable.mp4").stat().st_size > 0
    saved = read_session(bundle, out)
    assert saved.sliders == {"age": 1.5} and saved.key_a.seed == 11
    (folder / "new-turntable.gif").write_bytes(b"mine")
    for args, message in (([str(bad_photo("no-face")), "--out", str(folder / "x.obj")], "no-face.png: no face"),
                          (["seed:1", "--set", "age=9", "--out", str(folder / "y.obj")], "outside the slider range"),
                          (["seed:1", "--size", "8", "--out", str(folder / "z.obj")], "outside 16"),
                          (["seed:1", "--out", str(out)], "already exists"),
                          (["seed:1", "--out", str(tmp_path / "nowhere" / "m.obj")], "nowhere does not exist"),
                          (["seed:1", "--out", str(folder / "new.ply")], "new.ply: a 3D face is saved as .obj"),
                          (["seed:1", "--out", str(folder / "new.obj"), "--turntable", "gif"],
                           "new-turntable.gif: already exists")):
        assert cli_main(["mesh", *args]) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    assert (folder / "new-turntable.gif").read_bytes() == b"mine"            # and no new.obj beside it
    assert sorted(p.name for p in folder.iterdir()) == ["new-turntable.gif", "older-turntable.mp4",
                                                        "older-turntable.mp4.json", "older.mtl", "older.obj",
                                                        "older.obj.json", "older.png"]


def test_cli_mesh_of_a_photo(tmp_path, shared_data, bundle):
    """A photo is encoded, and its reconstruction is what the mesh is made of and textured with."""
    photo = shared_data / "portraits" / "astronaut.png"
    out = tmp_path / "astronaut.obj"
    assert cli_main(["mesh", str(photo), "--out", str(out)]) == 0
    saved = read_session(bundle, out)
    assert saved.key_a.photo == str(photo)
    texture = np.asarray(Image.open(tmp_path / "astronaut.png"))
    expected = render_at(bundle, saved.ws(bundle), 2 * bundle.resolution, "superres")[0]
    assert np.abs(texture.astype(int) - expected.astype(int)).max() <= 1


def test_cli_mesh_says_when_the_render_has_no_face(tmp_path, capsys, monkeypatch):
    from explorer import face3d
    monkeypatch.setattr(face3d, "MIN_PRESENCE", 1.1)                   # no face is ever sure enough
    assert cli_main(["mesh", "seed:5", "--out", str(tmp_path / "x.obj")]) == 1
    assert capsys.readouterr().err.startswith("error: seed:5 (as rendered): no face found for a 3D mesh")
    assert not any(tmp_path.iterdir())
