"""Where the engine's time goes on one file: decoding the picture alone, with FFmpeg's grey + scale per frame,
with a view of the Y plane only, the sound, and the evidence (the model), each timed apart in this process.

    .venv/bin/python benchmarks/engine_profile.py benchmarks/.cache/check_240s_854x480.mp4 [--model engine-v2]
"""

from __future__ import annotations

import argparse
import json
import time

import av
import numpy as np

import avsync
from avsync.media.stream import scaled_size


def decode_seconds(path: str, per_frame) -> tuple[float, int]:
    """Wall time to decode every video frame (frame threads on), calling ``per_frame`` on each."""
    t = time.perf_counter()
    n = 0
    with av.open(path) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        for frame in c.decode(s):
            per_frame(frame)
            n += 1
    return time.perf_counter() - t, n


def y_plane_difference(path: str, w: int, h: int, at: int = 100) -> dict[str, float]:
    """How far frame ``at``'s Y plane is from FFmpeg's ``gray`` (full size) and, scaled by area averaging in
    torch, from ``reformat(gray, AREA)`` at the model's size (grey levels)."""
    import torch
    import torch.nn.functional as F

    with av.open(path) as c:
        for i, frame in enumerate(c.decode(c.streams.video[0])):
            if i == at:
                break
    plane = frame.planes[0]
    y = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, :frame.width].astype(np.float32)
    grey = frame.reformat(format="gray").to_ndarray().astype(np.float32)
    area = frame.reformat(width=w, height=h, format="gray", interpolation="AREA").to_ndarray().astype(np.float32)
    pooled = F.interpolate(torch.from_numpy(y)[None, None], size=(h, w), mode="area")[0, 0].numpy()
    return {"gray_vs_y_max_levels": float(np.abs(grey - y).max()), "area_vs_pooled_y_mean_levels": round(float(np.abs(area - pooled).mean()), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path")
    ap.add_argument("--model", default="engine-v2")
    args = ap.parse_args()
    checker = avsync.load_model(args.model)
    c = checker.model.config
    with av.open(args.path) as container:
        cc = container.streams.video[0].codec_context
        w, h = scaled_size(cc.width, cc.height, c.height, c.max_width)

    def y_plane(f):
        return np.frombuffer(f.planes[0], np.uint8)

    rows = {}
    rows["decode only"], frames = decode_seconds(args.path, lambda f: None)
    for interp in ("AREA", "FAST_BILINEAR"):
        rows[f"decode + grey {w}x{h} ({interp})"], _ = decode_seconds(
            args.path, lambda f: f.reformat(width=w, height=h, format="gray", interpolation=interp).to_ndarray())
    rows["decode + Y plane view"], _ = decode_seconds(args.path, y_plane)
    t = time.perf_counter()
    s = checker.read(args.path)
    rows["read_streams (picture + sound)"] = time.perf_counter() - t
    t = time.perf_counter()
    checker.evidence_of(s)
    rows["evidence (the model)"] = time.perf_counter() - t
    out = {"file": args.path, "frames": frames, "model": args.model, **{k: round(v, 2) for k, v in rows.items()},
           **y_plane_difference(args.path, w, h)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
