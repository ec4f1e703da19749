"""InferenceWorker: every torch call of the GUI, on a thread of its own.

The GUI thread only submits requests and receives results through Qt signals, so it never
waits on the generator. Renders are newest-wins: while one renders, a newer request
replaces the pending one, so dragging a slider renders as often as the device allows and
always ends on the last position; so are the views of a 3D face as it is turned. Photo
encodes, refinements, exports and 3D faces run in the order submitted; renders asked for
meanwhile run between their frames and steps.

This is the one module outside ``explorer.gui`` that imports Qt.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PySide6.QtCore import QObject, QThread, Signal, Slot

from explorer.errors import UserError
from explorer.export import (
    TURNTABLE,
    check_export_path,
    export_frames,
    export_turntable,
    face_mesh,
    mesh_sidecar,
    morph_frames,
    morph_sidecar,
    read_session,
    render_at,
    save_mesh,
    save_still,
    still_sidecar,
    upscale_method,
)
from explorer.face3d import FaceMesh, FaceMeshModel, render_mesh
from explorer.photos import EncodedPhoto, encode_photo, refine_photo
from explorer.session import Session, render
from explorer.weights import ModelBundle


class RenderResult(NamedTuple):
    """What ``InferenceWorker.rendered`` carries: the request's id, its session, the uint8
    image [R, R, 3] and the render time in milliseconds."""

    request_id: int
    session: Session
    image: np.ndarray
    ms: float


class MeshView(NamedTuple):
    """What ``InferenceWorker.mesh_viewed`` carries: the mesh, the view's turn and tilt in
    degrees (``face3d.render_mesh``) and the uint8 picture [side, side, 3]."""

    mesh: FaceMesh
    yaw: float
    pitch: float
    image: np.ndarray


class _Stopped(Exception):
    """Raised inside a job when the worker stops; the job's temporary files are removed on the way out."""


class InferenceWorker(QObject):
    """Owns the ModelBundle and runs renders, photo encodes and exports on its own QThread.

    Signals:
        rendered(RenderResult): a render finished.
        encoded(slot, EncodedPhoto): a photo was encoded for ``slot`` ("A" or "B").
        refine_progress(slot, step, steps): a refinement step finished.
        refined(slot, EncodedPhoto | None): a refinement ended: the photo with its refined W+,
            or None when it was cancelled or failed (``failed`` then says why).
        progress(done, total): export frames written so far.
        exported(path): an export or a saved still finished.
        copied(image): the face asked for by ``submit_copy``, uint8 [S, S, 3].
        opened(path, session, thumbnails): a saved session was read; thumbnails maps "A" / "B"
            to the uint8 [R, R, 3] render of that keyframe, for the keyframes set.
        seeds_rendered(seeds, images): the faces of a list of seeds, uint8 [N, R, R, 3].
        meshed(session, mesh): the 3D face (``face3d.FaceMesh``) of a session.
        mesh_viewed(MeshView): a picture of a 3D face from one side.
        failed(message): a one-line UserError message from any request.

    Attributes:
        dropped: renders replaced by a newer request before they started (for tests).
    """

    rendered = Signal(object)
    encoded = Signal(str, object)
    refine_progress = Signal(str, int, int)
    refined = Signal(str, object)
    progress = Signal(int, int)
    exported = Signal(str)
    copied = Signal(object)
    opened = Signal(str, object, object)
    seeds_rendered = Signal(object, object)
    meshed = Signal(object, object)
    mesh_viewed = Signal(object)
    failed = Signal(str)
    _wake = Signal()

    def __init__(self, bundle: ModelBundle):
        super().__init__()
        self.bundle = bundle
        self.dropped = 0
        self._lock = threading.Lock()
        self._pending: tuple[int, Session] | None = None
        self._pending_view: tuple[FaceMesh, float, float, int] | None = None
        self._face_mesh_model: FaceMeshModel | None = None
        self._jobs: deque = deque()
        self._cancelled: set[str] = set()
        self._stopping = False
        self._sharp_view = False
        self._next_id = 0
        self._thread = QThread()
        self._thread.setObjectName("InferenceWorker")
        self.moveToThread(self._thread)
        self._wake.connect(self._drain)
        self._thread.start()

    def submit_render(self, session: Session) -> int:
        """Ask for ``session`` to be rendered, replacing any render not yet started.
        Thread-safe. Returns the request id that ``rendered`` will carry."""
        with self._lock:
            self._next_id += 1
            if self._pending is not None:
                self.dropped += 1
            self._pending = (self._next_id, session)
            request_id = self._next_id
        self._wake.emit()
        return request_id

    def set_sharp_view(self, on: bool) -> None:
        """From the next render on, ``rendered`` carries the face enlarged 2× by the bundle's face
        super-resolution network (``export.render_at``, as exports are made) when ``on``, or as
        the generator made it. Thread-safe."""
        self._sharp_view = on

    def submit_encode(self, slot: str, path: str, face: int = 0) -> None:
        """Encode face ``face`` (0: the largest) of the photo at ``path`` for keyframe ``slot``;
        answers with ``encoded`` or ``failed``."""
        self._queue(self._encode, slot, path, face)

    def submit_refine(self, slot: str, photo: EncodedPhoto, steps: int) -> None:
        """Refine ``photo``'s W+ for keyframe ``slot`` by ``steps`` of projection
        (``photos.refine_photo``); answers with ``refine_progress`` after each step, then
        ``refined``. A pending ``cancel_refine(slot)`` is forgotten."""
        with self._lock:
            self._cancelled.discard(slot)
        self._queue(self._refine, slot, photo, steps)

    def cancel_refine(self, slot: str) -> None:
        """Stop ``slot``'s refinement after its current step (a queued one after its first);
        it answers ``refined(slot, None)`` and the W+ found so far is dropped. Thread-safe."""
        with self._lock:
            self._cancelled.add(slot)

    def submit_export(self, session: Session, num_frames: int, out_path: str, fps: int,
                      size: int | None = None, upscale: str = "lanczos") -> None:
        """Export the session's morph as ``num_frames`` frames of ``size``² px (default: the
        generator's; larger ones made with ``upscale``, see ``export.render_at``) to ``out_path``
        (folder, .gif or .mp4); answers with ``progress`` then ``exported`` or ``failed``."""
        self._queue(self._export, session, num_frames, out_path, fps, size, upscale)

    def submit_save(self, session: Session, out_path: str, size: int) -> None:
        """Render ``session`` at ``size``² px, enlarged as exports are by default
        (``export.render_at`` with ``upscale_method``), and save it as a still PNG at
        ``out_path`` with its sidecar (``export.save_still``, ``still_sidecar``); answers with
        ``exported`` or ``failed``."""
        self._queue(self._save, session, out_path, size)

    def submit_copy(self, session: Session, size: int) -> None:
        """Render ``session`` at ``size``² px as ``submit_save`` does; answers with ``copied``."""
        self._queue(self._copy, session, size)

    def submit_open(self, path: str) -> None:
        """Read the session saved with a still or an export (``export.read_session``) and render
        its end keyframes; answers with ``opened`` or ``failed``."""
        self._queue(self._open, path)

    def submit_seeds(self, seeds: list[int], psi: float) -> None:
        """Render the faces of ``seeds`` at truncation ``psi`` (no sliders); answers with
        ``seeds_rendered``."""
        self._queue(self._seeds, seeds, psi)

    def submit_mesh(self, session: Session) -> None:
        """Make the 3D face of ``session`` as the view shows it, textured with its render at twice
        the generator's resolution (``export.face_mesh``); answers with ``meshed`` or ``failed``."""
        self._queue(self._mesh, session)

    def submit_mesh_view(self, mesh: FaceMesh, yaw: float, pitch: float, side: int) -> None:
        """Draw ``mesh`` turned by ``yaw`` and ``pitch`` degrees at ``side``² px
        (``face3d.render_mesh``), replacing any view not yet started, as renders are replaced;
        answers with ``mesh_viewed``. Thread-safe."""
        with self._lock:
            self._pending_view = (mesh, yaw, pitch, side)
        self._wake.emit()

    def submit_save_mesh(self, session: Session, mesh: FaceMesh, out_path: str) -> None:
        """Save ``mesh``, the 3D face of ``session``, as ``out_path`` (.obj, with .mtl, .png and
        .json beside it: ``export.save_mesh``); answers with ``exported`` or ``failed``."""
        self._queue(self._save_mesh, session, mesh, out_path)

    def submit_turntable(self, session: Session, mesh: FaceMesh, out_path: str) -> None:
        """Export the looping turntable of ``mesh`` (``export.export_turntable``) to ``out_path``
        (.mp4, .gif or a folder) with the mesh's sidecar; answers with ``progress`` then
        ``exported`` or ``failed``."""
        self._queue(self._turntable, session, mesh, out_path)

    def stop(self) -> None:
        """End the thread after the request in progress: a refinement stops after its current
        step, an export or turntable after its current frame, leaving no file behind (they are
        written under temporary names). Pending requests are dropped. Idempotent."""
        with self._lock:
            self._stopping = True
            self._jobs.clear()
        self._thread.quit()
        self._thread.wait()

    def _queue(self, job, *args) -> None:
        with self._lock:
            self._jobs.append((job, args))
        self._wake.emit()

    @Slot()
    def _drain(self) -> None:
        """Run the pending render, then the queued jobs one by one, renders first each time."""
        while True:
            self._render_pending()
            with self._lock:
                if not self._jobs:
                    return
                job, args = self._jobs.popleft()
            self._guarded(job, *args)

    def _render_pending(self) -> None:
        with self._lock:
            request, self._pending = self._pending, None
            view, self._pending_view = self._pending_view, None
        if request is not None:
            self._guarded(self._render, *request)
        if view is not None:
            self._guarded(self._mesh_view, *view)

    def _guarded(self, job, *args) -> None:
        """Run ``job``; a UserError becomes ``failed``. Bugs are reported too, then re-raised."""
        try:
            job(*args)
        except _Stopped:
            pass
        except UserError as e:
            self.failed.emit(str(e))
        except Exception as e:
            self.failed.emit(f"internal error: {type(e).__name__}: {e}")
            raise

    def _render(self, request_id: int, session: Session) -> None:
        start = time.perf_counter()
        image = self._view_image(session.ws(self.bundle))
        self.rendered.emit(RenderResult(request_id, session, image, (time.perf_counter() - start) * 1000))

    def _encode(self, slot: str, path: str, face: int) -> None:
        self.encoded.emit(slot, encode_photo(self.bundle, Path(path), face=face))

    def _refine(self, slot: str, photo: EncodedPhoto, steps: int) -> None:
        def on_step(step: int, loss: float) -> bool:
            self.refine_progress.emit(slot, step, steps)
            self._render_pending()
            with self._lock:
                return slot not in self._cancelled and not self._stopping

        refined = None
        try:
            refined = refine_photo(self.bundle, photo, steps, on_step)
        finally:
            with self._lock:
                if slot in self._cancelled:
                    refined = None
                    self._cancelled.discard(slot)
            self.refined.emit(slot, refined)

    def _export(self, session: Session, num_frames: int, out_path: str, fps: int, size: int | None,
                upscale: str) -> None:
        def on_frame(done: int) -> None:
            self._check_stopping()
            self.progress.emit(done, num_frames)
            self._render_pending()

        check_export_path(Path(out_path))                  # a taken name fails before the frames are spaced
        self.progress.emit(0, num_frames)
        times = session.frame_times(self.bundle, num_frames)
        sidecar = morph_sidecar(self.bundle, session, times, fps, size, upscale)
        frames = morph_frames(self.bundle, session, times, on_frame, size, upscale)
        self.exported.emit(str(export_frames(frames, Path(out_path), fps=fps, sidecar=sidecar)))

    def _check_stopping(self) -> None:
        """Raise ``_Stopped`` once ``stop`` was called: a long job's way out between frames."""
        with self._lock:
            if self._stopping:
                raise _Stopped

    def _view_image(self, ws: torch.Tensor) -> np.ndarray:
        """The face of W+ [1, num_ws, w_dim] as the view shows it (``set_sharp_view``): uint8 [S, S, 3]."""
        if self._sharp_view:
            return render_at(self.bundle, ws, 2 * self.bundle.resolution, "superres")[0]
        return render(self.bundle, ws)[0]

    def _still(self, session: Session, size: int) -> tuple[torch.Tensor, np.ndarray, str]:
        """W+ [1, num_ws, w_dim] of ``session``, its face at ``size``² px (uint8 [size, size, 3])
        and how it was enlarged."""
        ws = session.ws(self.bundle)
        upscale = upscale_method(self.bundle)
        return ws, render_at(self.bundle, ws, size, upscale)[0], upscale

    def _save(self, session: Session, out_path: str, size: int) -> None:
        ws, image, upscale = self._still(session, size)
        sidecar = still_sidecar(self.bundle, session, ws, size, upscale)
        self.exported.emit(str(save_still(image, Path(out_path), sidecar=sidecar)))

    def _copy(self, session: Session, size: int) -> None:
        self.copied.emit(self._still(session, size)[1])

    def _open(self, path: str) -> None:
        session = read_session(self.bundle, Path(path))
        ends = {"A": session.key_a, "B": session.key_b}
        thumbnails = {slot: render(self.bundle, session.keyframe_ws(self.bundle, key))[0]
                      for slot, key in ends.items() if key is not None}
        self.opened.emit(str(path), session, thumbnails)

    def _mesh(self, session: Session) -> None:
        if self._face_mesh_model is None:
            self._face_mesh_model = FaceMeshModel()
        self.meshed.emit(session, face_mesh(self.bundle, self._face_mesh_model, session.ws(self.bundle)))

    def _mesh_view(self, mesh: FaceMesh, yaw: float, pitch: float, side: int) -> None:
        self.mesh_viewed.emit(MeshView(mesh, yaw, pitch, render_mesh(mesh, yaw, pitch, side)))

    def _mesh_sidecar(self, session: Session, mesh: FaceMesh) -> dict:
        """The sidecar of ``mesh``, made by ``_mesh`` with the bundle's default upscaling."""
        return mesh_sidecar(self.bundle, session, session.ws(self.bundle), mesh, upscale_method(self.bundle))

    def _save_mesh(self, session: Session, mesh: FaceMesh, out_path: str) -> None:
        self.exported.emit(str(save_mesh(mesh, Path(out_path), sidecar=self._mesh_sidecar(session, mesh))))

    def _turntable(self, session: Session, mesh: FaceMesh, out_path: str) -> None:
        def on_frame(done: int) -> None:
            self._check_stopping()
            self.progress.emit(done, TURNTABLE["frames"])
            self._render_pending()

        out = export_turntable(mesh, Path(out_path), sidecar=self._mesh_sidecar(session, mesh), on_frame=on_frame)
        self.exported.emit(str(out))

    def _seeds(self, seeds: list[int], psi: float) -> None:
        ws = torch.cat([Session(seed=seed, psi=psi).ws(self.bundle) for seed in seeds])
        self.seeds_rendered.emit(list(seeds), render(self.bundle, ws))
