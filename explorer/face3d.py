"""3D face modelling: a dense 3D mesh of a face image, its OBJ export and a shaded preview.

Geometry: MediaPipe Face Mesh (Kartynnik et al., 2019, "Real-time Facial Surface Geometry from
Monocular Video on Mobile GPUs"), a network that regresses 468 3D vertices of a fixed face
topology from a 192×192 crop. Its TensorFlow Lite model and triangles ship in
``assets/face_mesh`` (Apache-2.0; see the README there) and run with ai-edge-litert, without
mediapipe itself. As in MediaPipe's face-landmark graph, the face is located twice: once in the
whole image padded by ``FIRST_PAD`` (our images are face crops), then in a square of
``ROI_SCALE`` × the first landmarks' extent around them, so the mesh does not depend on how
tightly the face is cropped.

The mesh is textured with the image itself: each vertex's texture coordinate is where it lies
in the image, so the OBJ (``obj_text``, written by ``export.save_mesh``) opens in Blender or any
3D tool with the face painted on. The eyes and mouth, holes in MediaPipe's topology, are closed
by strips of triangles (``assets/face_mesh/make_assets.py``), so they are painted too.

The preview (``render_mesh``) is drawn in numpy, with a z-buffer and smooth shading, rather than
through OpenGL, so it looks the same in the dialog, offscreen, in tests and in turntable exports.

Coordinates of ``FaceMesh.vertices``: x right and y down in the texture's pixels; z is depth in
the same units, larger towards the viewer (MediaPipe's z is negated). Relative depth only: the
network predicts a weak-perspective shape, scaled with the face's width.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from explorer.errors import UserError

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "face_mesh"
MODEL = ASSETS / "face_landmark.tflite"
TRIANGLES = ASSETS / "triangles.json"
INPUT_SIDE = 192            # the network's input, px
NUM_VERTICES = 468
FIRST_PAD = 0.2             # first pass: the image padded by this share of its side on each side
ROI_SCALE = 1.5             # second pass: crop side over the first landmarks' larger extent
MIN_PRESENCE = 0.5          # below this face-presence probability there is no face
LIGHT = np.array([0.3, 0.4, 1.0]) / np.linalg.norm([0.3, 0.4, 1.0])   # preview light, from front left-above
AMBIENT = 0.35
PREVIEW_FILL = 0.8          # the preview face's taller side, of the picture's
BACKGROUND = (38, 38, 42)


@dataclass(frozen=True)
class FaceMesh:
    """A textured 3D face mesh.

    Attributes:
        vertices: float32 [468, 3]: x right, y down in ``texture`` pixels, z depth in the same
            units, larger towards the viewer.
        triangles: int32 [F, 3] vertex indices, counter-clockwise seen from the front
            (x right, y up, z towards the viewer).
        texture: uint8 [H, W, 3], the image the mesh was made from.
        presence: the network's face-presence probability, in [0, 1].
    """

    vertices: np.ndarray
    triangles: np.ndarray
    texture: np.ndarray
    presence: float

    def uv(self) -> np.ndarray:
        """float32 [468, 2] texture coordinates in [0, 1], v up (the OBJ convention)."""
        h, w = self.texture.shape[:2]
        return np.stack([self.vertices[:, 0] / w, 1 - self.vertices[:, 1] / h], axis=1).astype(np.float32)

    def model_vertices(self) -> np.ndarray:
        """float32 [468, 3]: x right, y up, z towards the viewer, centred on the vertices'
        mean and in units of the face's width (its x extent)."""
        v = self.vertices * np.array([1, -1, 1], np.float32)
        v = v - v.mean(axis=0)
        return (v / np.ptp(v[:, 0])).astype(np.float32)


@cache
def triangles() -> np.ndarray:
    """The mesh's triangles, int32 [898, 3]: MediaPipe's 852 faces and 46 that close the eyes and
    mouth (``assets/face_mesh/triangles.json``)."""
    return np.asarray(json.loads(TRIANGLES.read_text())["triangles"], dtype=np.int32)


class FaceMeshModel:
    """MediaPipe's face-landmark network, loaded once: about 8 ms a pass on a 2-core CPU with
    TensorFlow Lite's builtin kernels (its XNNPACK delegate takes 2 ms but announces itself on
    stderr at every start, which the CLI's users would read as a problem).

    Raises:
        UserError: ai-edge-litert is not installed.
    """

    def __init__(self):
        try:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType
        except ImportError:
            raise UserError("3D faces need ai-edge-litert: pip install ai-edge-litert") from None
        self._net = Interpreter(model_path=str(MODEL),
                                experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        self._net.allocate_tensors()
        self._input = self._net.get_input_details()[0]["index"]
        outputs = {int(np.prod(d["shape"])): d["index"] for d in self._net.get_output_details()}
        self._landmarks, self._presence = outputs[3 * NUM_VERTICES], outputs[1]

    def landmarks(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """The 468 landmarks of the face in ``image`` (uint8 [H, W, 3]) → (float32 [468, 3] with
        x, y in the image's pixels and z towards the viewer in the same units; the face-presence
        probability)."""
        h, w = image.shape[:2]
        pad = FIRST_PAD * max(h, w)
        first, _ = self._run(image, (w / 2, h / 2), max(h, w) + 2 * pad)
        lo, hi = first[:, :2].min(axis=0), first[:, :2].max(axis=0)
        return self._run(image, tuple((lo + hi) / 2), ROI_SCALE * float((hi - lo).max()))

    def _run(self, image: np.ndarray, centre: tuple[float, float], side: float) -> tuple[np.ndarray, float]:
        """One pass on the square of ``side`` px about ``centre`` (edge pixels repeated outside the image)."""
        crop = _square_crop(image, centre, side)
        self._net.set_tensor(self._input, (crop.astype(np.float32) / 255)[None])
        self._net.invoke()
        raw = self._net.get_tensor(self._landmarks).reshape(NUM_VERTICES, 3)    # 192-px crop units, z away
        logit = float(self._net.get_tensor(self._presence).reshape(()))
        scale = side / INPUT_SIDE
        points = np.empty_like(raw)
        points[:, 0] = centre[0] - side / 2 + raw[:, 0] * scale
        points[:, 1] = centre[1] - side / 2 + raw[:, 1] * scale
        points[:, 2] = -raw[:, 2] * scale
        return points, 1 / (1 + np.exp(-logit))


def _square_crop(image: np.ndarray, centre: tuple[float, float], side: float) -> np.ndarray:
    """uint8 [192, 192, 3]: the square of ``side`` px about ``centre``, bilinear, edges repeated."""
    h, w = image.shape[:2]
    step = side / INPUT_SIDE
    coords = (np.arange(INPUT_SIDE) + 0.5) * step - side / 2 - 0.5
    xs = np.clip(centre[0] + coords, 0, w - 1)
    ys = np.clip(centre[1] + coords, 0, h - 1)
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (xs - x0)[None, :, None], (ys - y0)[:, None, None]
    img = image.astype(np.float32)
    top = img[y0][:, x0] * (1 - fx) + img[y0][:, x1] * fx
    bottom = img[y1][:, x0] * (1 - fx) + img[y1][:, x1] * fx
    return np.clip(np.rint(top * (1 - fy) + bottom * fy), 0, 255).astype(np.uint8)


def reconstruct_face(model: FaceMeshModel, image: np.ndarray, source: str = "face") -> FaceMesh:
    """The textured 3D mesh of the face in ``image`` (uint8 [H, W, 3], a face crop such as a render).

    Raises:
        UserError: the network finds no face (presence below ``MIN_PRESENCE``); names ``source``.
    """
    vertices, presence = model.landmarks(image)
    if presence < MIN_PRESENCE:
        raise UserError(f"{source}: no face found for a 3D mesh (presence {presence:.2f})")
    return FaceMesh(vertices.astype(np.float32), triangles(), np.ascontiguousarray(image), float(presence))


def obj_text(mesh: FaceMesh, mtl_name: str) -> str:
    """The Wavefront OBJ of ``mesh``: ``FaceMesh.model_vertices`` (face-width units, y up), one
    texture coordinate per vertex, triangles as ``f a/a b/b c/c`` (1-based), material from ``mtl_name``."""
    lines = ["# 3D face (MediaPipe Face Mesh topology) of a synthetic image",
             f"mtllib {mtl_name}", "o face"]
    lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in mesh.model_vertices()]
    lines += [f"vt {u:.6f} {v:.6f}" for u, v in mesh.uv()]
    lines += ["usemtl face", "s 1"]
    lines += [f"f {a}/{a} {b}/{b} {c}/{c}" for a, b, c in mesh.triangles + 1]
    return "\n".join(lines) + "\n"


def mtl_text(texture_name: str) -> str:
    """The OBJ's material: matte (diffuse white, no specular), painted with ``texture_name``."""
    return f"newmtl face\nKd 1 1 1\nKa 0 0 0\nKs 0 0 0\nillum 1\nmap_Kd {texture_name}\n"


def render_mesh(mesh: FaceMesh, yaw: float = 0.0, pitch: float = 0.0, side: int = 256) -> np.ndarray:
    """A preview of the textured mesh turned by ``yaw`` (degrees; positive turns the face to its
    left, the viewer's right) then ``pitch`` (degrees; positive tilts the chin up), orthographic,
    with a z-buffer and Lambert shading of smooth vertex normals, about 50 ms at 256² on a
    2-core CPU.

    Returns:
        uint8 [side, side, 3]: the face, its taller side ``PREVIEW_FILL`` of ``side`` at yaw and
        pitch 0, centred on its bounding box.
    """
    v = mesh.model_vertices().astype(np.float64)
    v -= (v.min(axis=0) + v.max(axis=0)) / 2
    scale = PREVIEW_FILL * side / np.ptp(v[:, :2], axis=0).max()
    a, b = np.radians(yaw), np.radians(-pitch)
    turn = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    tilt = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    v = v @ (tilt @ turn).T                                          # [468, 3], y up, z to the viewer
    normals = _vertex_normals(v, mesh.triangles)
    screen = np.stack([side / 2 + scale * v[:, 0], side / 2 - scale * v[:, 1]], axis=1)
    owner, weights = _rasterize(screen, v[:, 2], mesh.triangles, side)
    image = np.empty((side, side, 3), np.float32)
    image[:] = BACKGROUND
    hit = owner >= 0
    corners = mesh.triangles[owner[hit]]                             # [P, 3] vertex indices
    w = weights[hit]                                                 # [P, 3]
    uv = np.einsum("pk,pkc->pc", w, mesh.uv()[corners])
    n = np.einsum("pk,pkc->pc", w, normals.astype(np.float32)[corners])
    shade = AMBIENT + (1 - AMBIENT) * np.clip((n @ LIGHT.astype(np.float32)) / (np.linalg.norm(n, axis=1) + 1e-12), 0, 1)
    image[hit] = _sample(mesh.texture, uv) * shade[:, None]
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def turntable_yaws(frames: int, max_yaw: float) -> np.ndarray:
    """float64 [frames] turns in degrees for a looping turntable: ``max_yaw`` · sin(2π i / frames),
    from the front to one side, back, to the other side and towards the front again, slowing at
    the sides; the frame after the last would be the first."""
    return max_yaw * np.sin(2 * np.pi * np.arange(frames) / frames)


def _vertex_normals(v: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals [V, 3] of counter-clockwise triangles, unit length."""
    face = np.cross(v[tris[:, 1]] - v[tris[:, 0]], v[tris[:, 2]] - v[tris[:, 0]])
    normals = np.zeros_like(v)
    for k in range(3):
        np.add.at(normals, tris[:, k], face)
    return normals / (np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12)


def _rasterize(screen: np.ndarray, depth: np.ndarray, tris: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, the nearest front-facing triangle covering its centre (int [side, side], -1 for
    none) and that pixel's barycentric weights (float [side, side, 3]). All triangles at once:
    every pixel of every triangle's bounding box is a candidate, and the nearest inside one wins."""
    screen = screen.astype(np.float32)
    p0, p1, p2 = screen[tris[:, 0]], screen[tris[:, 1]], screen[tris[:, 2]]     # [T, 2] each
    area = (p1[:, 0] - p0[:, 0]) * (p2[:, 1] - p0[:, 1]) - (p1[:, 1] - p0[:, 1]) * (p2[:, 0] - p0[:, 0])
    front = np.flatnonzero(area < 0)                                 # screen y is down: front faces turn clockwise
    lo = np.clip(np.floor(np.minimum(np.minimum(p0, p1), p2)[front]), 0, side).astype(np.int64)
    hi = np.clip(np.ceil(np.maximum(np.maximum(p0, p1), p2)[front]), 0, side).astype(np.int64)
    size = np.maximum(hi - lo, 0)                                    # [T', 2] bounding-box width, height
    counts = size[:, 0] * size[:, 1]
    owner_of = np.repeat(np.arange(len(front), dtype=np.int32), counts)   # [P] candidate → triangle
    local = np.arange(counts.sum(), dtype=np.int32) - np.repeat((np.cumsum(counts) - counts).astype(np.int32), counts)
    px = lo[owner_of, 0] + local % size[owner_of, 0]
    py = lo[owner_of, 1] + local // size[owner_of, 0]
    t = front[owner_of]
    a, b, c = p0[t], p1[t], p2[t]
    cx, cy = px.astype(np.float32) + 0.5, py.astype(np.float32) + 0.5
    w0 = ((b[:, 0] - cx) * (c[:, 1] - cy) - (b[:, 1] - cy) * (c[:, 0] - cx)) / area[t]
    w1 = ((c[:, 0] - cx) * (a[:, 1] - cy) - (c[:, 1] - cy) * (a[:, 0] - cx)) / area[t]
    w = np.stack([w0, w1, 1 - w0 - w1], axis=1)                      # [P, 3]
    inside = (w >= 0).all(axis=1)
    t, w, pixel = t[inside], w[inside], (py * side + px)[inside]
    z = (depth[tris[t]] * w).sum(axis=1)
    order = np.lexsort((z, pixel))                                   # by pixel, nearest last
    last = np.ones(len(order), bool)
    last[:-1] = pixel[order][1:] != pixel[order][:-1]
    nearest = order[last]
    owner = np.full(side * side, -1, np.int64)
    weights = np.zeros((side * side, 3), np.float32)
    owner[pixel[nearest]] = t[nearest]
    weights[pixel[nearest]] = w[nearest]
    return owner.reshape(side, side), weights.reshape(side, side, 3)


def _sample(texture: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear samples float [P, 3] of uint8 ``texture`` [H, W, 3] at ``uv`` [P, 2] (v up)."""
    h, w = texture.shape[:2]
    x = np.clip(uv[:, 0] * w - 0.5, 0, w - 1)
    y = np.clip((1 - uv[:, 1]) * h - 0.5, 0, h - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    t = texture.astype(np.float32)
    return (t[y0, x0] * (1 - fx) + t[y0, x1] * fx) * (1 - fy) + (t[y1, x0] * (1 - fx) + t[y1, x1] * fx) * fy

