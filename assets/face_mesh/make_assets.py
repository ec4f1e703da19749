"""Rebuild this folder's face_landmark.tflite, triangles.json and LICENSE from a mediapipe wheel.

    pip install --no-deps --target /tmp/mp mediapipe==0.10.21
    python assets/face_mesh/make_assets.py /tmp/mp

MediaPipe lists its face mesh only as edges (``FACEMESH_TESSELATION``). The triangles are the
edge graph's 3-cliques, less the two that are not faces (their three edges all border three
cliques: the mesh is a disc with three holes, eyes and mouth, so V − E + F = −2 picks 852).
The holes are then closed, so that the eyes and the mouth are painted rather than see-through:
each inner boundary loop is cut into a strip of triangles zig-zagging from its leftmost vertex
(an eye's or the mouth's corner) to the other. All are wound consistently across shared edges and
turned counter-clockwise seen from the front on a generated face.
"""

import importlib.util
import itertools
import json
import shutil
import sys
from collections import Counter, deque
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def clique_triangles(edges: set[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """The face triangles of the edge graph (sorted index triples)."""
    neighbours: dict[int, set[int]] = {}
    for a, b in edges:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    cliques = {tuple(sorted((a, b, c))) for a, b in edges for c in neighbours[a] & neighbours[b]}
    uses = Counter(e for t in cliques for e in itertools.combinations(t, 2))
    return sorted(t for t in cliques if not all(uses[e] == 3 for e in itertools.combinations(t, 2)))


def boundary_loops(tris: list[tuple[int, int, int]]) -> list[list[int]]:
    """The closed loops of edges that border one triangle only, each as its vertices in order."""
    uses = Counter(e for t in tris for e in itertools.combinations(t, 2))
    neighbours: dict[int, list[int]] = {}
    for (a, b), n in uses.items():
        if n == 1:
            neighbours.setdefault(a, []).append(b)
            neighbours.setdefault(b, []).append(a)
    loops, seen = [], set()
    for start in neighbours:
        if start in seen:
            continue
        loop, prev, here = [start], None, start
        seen.add(start)
        while True:
            nxt = next(v for v in neighbours[here] if v != prev)
            if nxt == start:
                break
            loop.append(nxt)
            seen.add(nxt)
            prev, here = here, nxt
        loops.append(loop)
    return loops


def strip_fill(loop: list[int], x: np.ndarray) -> list[tuple[int, int, int]]:
    """Triangles closing ``loop``: a zig-zag strip from its leftmost vertex (by ``x``) along both sides."""
    first = int(np.argmin(x[loop]))
    ring = loop[first:] + loop[:first]
    lo, hi, out = 0, len(ring) - 1, []
    while hi - lo > 1:
        if (hi - lo) % 2:
            out.append((ring[lo], ring[lo + 1], ring[hi]))
            lo += 1
        else:
            out.append((ring[lo], ring[hi - 1], ring[hi]))
            hi -= 1
    return out


def wind_consistently(tris: list[tuple[int, int, int]]) -> np.ndarray:
    """Flip triangles so that every shared edge is walked in opposite directions by its two triangles."""
    by_edge: dict[frozenset, list[int]] = {}
    for t, tri in enumerate(tris):
        for a, b in ((tri[0], tri[1]), (tri[1], tri[2]), (tri[2], tri[0])):
            by_edge.setdefault(frozenset((a, b)), []).append(t)
    out = [None] * len(tris)
    for start in range(len(tris)):
        if out[start] is not None:
            continue
        out[start] = tris[start]
        queue = deque([start])
        while queue:
            t = queue.popleft()
            a, b, c = out[t]
            for u, v in ((a, b), (b, c), (c, a)):
                for s in by_edge[frozenset((u, v))]:
                    if out[s] is None:
                        x, y, z = tris[s]
                        directed = {(x, y), (y, z), (z, x)}
                        out[s] = (x, y, z) if (v, u) in directed else (x, z, y)
                        queue.append(s)
    return np.array(out, dtype=np.int64)


def main() -> None:
    wheel = Path(sys.argv[1]) / "mediapipe"
    spec = importlib.util.spec_from_file_location("connections", wheel / "python/solutions/face_mesh_connections.py")
    connections = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(connections)
    edges = {tuple(sorted(e)) for e in connections.FACEMESH_TESSELATION}
    shutil.copyfile(wheel / "modules/face_landmark/face_landmark.tflite", HERE / "face_landmark.tflite")
    shutil.copyfile(next(Path(sys.argv[1]).glob("mediapipe-*.dist-info")) / "LICENSE", HERE / "LICENSE")

    from explorer.face3d import FaceMeshModel
    from explorer.session import Session, render
    from explorer.weights import load_bundle
    bundle = load_bundle(None, "cpu")
    points, _ = FaceMeshModel().landmarks(render(bundle, Session(seed=0).ws(bundle))[0])
    tris = clique_triangles(edges)
    loops = sorted(boundary_loops(tris), key=len)
    holes = loops[:-1]                                              # the longest loop is the face's outline
    tris = wind_consistently(tris + [t for loop in holes for t in strip_fill(loop, points[:, 0])])
    xy = points[:, :2] * np.array([1, -1])                          # y up
    p0, p1, p2 = xy[tris[:, 0]], xy[tris[:, 1]], xy[tris[:, 2]]
    signed = (p1[:, 0] - p0[:, 0]) * (p2[:, 1] - p0[:, 1]) - (p1[:, 1] - p0[:, 1]) * (p2[:, 0] - p0[:, 0])
    if (signed > 0).mean() < 0.5:
        tris = tris[:, [0, 2, 1]]
    (HERE / "triangles.json").write_text(json.dumps({
        "source": "mediapipe 0.10.21, python/solutions/face_mesh_connections.py FACEMESH_TESSELATION "
                  "(Apache-2.0); its 3-cliques and strips closing the eyes and mouth, wound "
                  "counter-clockwise seen from the front",
        "num_vertices": int(points.shape[0]), "triangles": tris.tolist()}, separators=(",", ":")) + "\n")
    print(f"{len(tris)} triangles ({len(tris) - sum(len(h) - 2 for h in holes)} faces of the edge graph, "
          f"holes of {[len(h) for h in holes]} vertices closed), outline of {len(loops[-1])}")


if __name__ == "__main__":
    main()
