"""Peak memory of ``avsync check`` on large frames: a generated 8 s 3840x2160 clip (and 1920x1080),
checked by the whole CLI process; prints peak resident memory and wall time: the larger of ru_maxrss (the
largest single process) and the peak of the sum over the CLI and its children (the process that decodes
while torch loads), sampled every 20 ms from /proc (pages they share count twice: an upper bound).

    .venv/bin/python benchmarks/check_memory.py [--sizes 3840x2160 1920x1080] [--seconds 8]

The clips (a moving block on a flat picture, quiet noise; H.264 CRF 30, AAC) are cached in
benchmarks/.cache/. Compare two versions of the code by running it with PYTHONPATH set to each.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from avsync.media.writer import add_audio_stream, add_video_stream, output_container

CACHE = Path(__file__).parent / ".cache"


def make_clip(path: Path, width: int, height: int, seconds: float, fps: int = 25, sample_rate: int = 48000) -> Path:
    """Stream a clip of large frames to ``path`` (one frame in memory at a time)."""
    rng = np.random.default_rng(0)
    with output_container(path) as out:
        vs, aus = add_video_stream(out, width, height, fps, crf=30), add_audio_stream(out, sample_rate, 2)
        base = np.full((height, width, 3), 60, np.uint8)
        for i in range(int(seconds * fps)):
            img = base.copy()
            x = (i * 37) % (width - 200)
            img[height // 4:height // 4 + 200, x:x + 200] = 250 if i % 13 == 0 else 120
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        audio = (rng.standard_normal((int(seconds * sample_rate), 2)) * 0.01).astype(np.float32)
        for i in range(0, len(audio), 4096):
            chunk = np.ascontiguousarray(audio[i:i + 4096]).reshape(1, -1)
            af = av.AudioFrame.from_ndarray(chunk, format="flt", layout="stereo")
            af.sample_rate, af.pts, af.time_base = sample_rate, i, Fraction(1, sample_rate)
            out.mux(aus.encode(af))
        out.mux(aus.encode(None))
    return path


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants now (0 for a process that is gone)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0)
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def peak_of_check(path: Path, model: str | None = None) -> tuple[float, float]:
    """(peak resident GB, wall seconds) of one ``avsync check`` on ``path``: the larger of its rusage peak and
    the peak of its process tree's sum (module docstring)."""
    start = time.perf_counter()
    extra = ["--model", model] if model else []
    proc = subprocess.Popen([sys.executable, "-m", "avsync", "check", str(path), "--format", "jsonl", *extra],
                            stdout=subprocess.DEVNULL)
    tree = 0
    while True:
        done, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if done:
            break
        tree = max(tree, tree_rss(proc.pid))
        time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"avsync check exited {proc.returncode}")
    return max(usage.ru_maxrss * 1024, tree) / 1024 ** 3, time.perf_counter() - start


def main() -> None:
    """Generate (or reuse) each clip and print the peak memory of checking it."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["3840x2160"], help="WIDTHxHEIGHT of the clips (largest first)")
    ap.add_argument("--seconds", type=float, default=8.0, help="length of each clip")
    ap.add_argument("--model", nargs="+", default=[None], help="model name(s) or path(s) (default: the shipped default)")
    ap.add_argument("--make", metavar="PATH", help=argparse.SUPPRESS)  # internal: write one clip and exit
    args = ap.parse_args()
    if args.make:
        w, h = map(int, args.sizes[0].split("x"))
        make_clip(Path(args.make), w, h, args.seconds)
        return
    CACHE.mkdir(exist_ok=True)
    for size in args.sizes:
        w, h = map(int, size.split("x"))
        path = CACHE / f"frames_{w}x{h}_{args.seconds:g}s.mp4"
        if not path.is_file():  # in another process: a child forked from a big parent counts its memory
            subprocess.run([sys.executable, __file__, "--make", str(path), "--sizes", size, "--seconds",
                            str(args.seconds)], check=True)
        for model in args.model:
            gb, sec = peak_of_check(path, model)
            print(f"{w}x{h}, {args.seconds:g} s, {model or 'default'}: peak {gb:.2f} GB, {sec:.1f} s")


if __name__ == "__main__":
    main()
