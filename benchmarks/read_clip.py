"""How fast is ``read_clip`` on a long file? Reads a 5 s window from the middle of a >= 10 min file
(seeking to the keyframe before it) and compares with decoding the whole file.

    .venv/bin/python benchmarks/read_clip.py [--minutes 12] [--repeats 5]

The long file (low resolution, x264 defaults: a keyframe at most every 250 frames, AAC 48 kHz
stereo) is generated once and cached in benchmarks/.cache/.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from avsync.media import probe, read_clip
from avsync.media.writer import add_audio_stream, add_video_stream, output_container

CACHE = Path(__file__).parent / ".cache"


def make_long_video(path: Path, minutes: float, fps: int = 25, size: tuple[int, int] = (144, 256),
                    sample_rate: int = 48000) -> Path:
    """Stream a long synthetic video to ``path`` (moving gradient + noise patch, a tone with clicks)."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(0)
    with output_container(path) as out:
        vs = add_video_stream(out, w, h, fps)
        aus = add_audio_stream(out, sample_rate, 2)
        n_frames, chunk = int(minutes * 60 * fps), sample_rate // fps
        for i in range(n_frames):
            img = np.empty((h, w, 3), np.uint8)
            img[..., 0] = (xx + 3 * i) % 256
            img[..., 1] = (yy + i) % 256
            img[..., 2] = (i * 7) % 256
            img[:32, :32] = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            out.mux(vs.encode(frame))
            t = (i * chunk + np.arange(chunk)) / sample_rate
            tone = (0.1 * np.sin(2 * np.pi * 440 * t) + (0.5 if i % fps == 0 else 0.0)).astype(np.float32)
            af = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
            af.sample_rate, af.pts, af.time_base = sample_rate, i * chunk, Fraction(1, sample_rate)
            out.mux(aus.encode(af))
        out.mux(vs.encode(None))
        out.mux(aus.encode(None))
    return path


def decode_everything(path: Path) -> int:
    """Decode every video frame (to RGB, as read_clip does) and every audio frame; returns frames."""
    n = 0
    with av.open(str(path)) as c:
        c.streams.video[0].thread_type = "AUTO"
        for frame in c.decode(c.streams.video[0], c.streams.audio[0]):
            if isinstance(frame, av.VideoFrame):
                frame.to_ndarray(format="rgb24")
                n += 1
    return n


def main() -> None:
    """Generate (once), then time read_clip of 5 s from the middle and a full decode."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=12.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--window", type=float, default=5.0)
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"long_{args.minutes:g}min.mp4"
    if not path.exists():
        t0 = time.perf_counter()
        make_long_video(path, args.minutes)
        print(f"generated {path} in {time.perf_counter() - t0:.1f} s")
    info = probe(path)
    print(f"file: {info.duration_sec / 60:.1f} min, {info.video.width}x{info.video.height} {info.video.codec} "
          f"{info.video.fps:g} fps, {info.audio.codec} {info.audio.sample_rate} Hz {info.audio.channels} ch")
    middle = round(info.duration_sec / 2, 2)
    read_clip(path, middle, args.window)  # warm-up (imports, page cache)
    rows = [("native size", {}), ("size 224, crop 224", {"size": 224, "crop": 224})]
    clip_times = {}
    for name, kwargs in rows:
        times = []
        for r in range(args.repeats):
            t0 = time.perf_counter()
            clip = read_clip(path, middle + r * 0.4, args.window, **kwargs)
            times.append(time.perf_counter() - t0)
        assert clip.frames.shape[0] == int(args.window * 25) and clip.audio.shape == (int(args.window * 16000),)
        clip_times[name] = statistics.median(times)
        print(f"read_clip {args.window:g} s from the middle, {name}: median {clip_times[name]:.3f} s "
              f"(min {min(times):.3f}, max {max(times):.3f}, {args.repeats} runs)")
    t0 = time.perf_counter()
    frames = decode_everything(path)
    full = time.perf_counter() - t0
    print(f"decode the whole file ({frames} frames to RGB + all audio): {full:.2f} s")
    for name, t in clip_times.items():
        print(f"ratio, {name}: the 5 s window is {full / t:.0f}x faster than the full decode")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
