"""Cost of bit-exact encoding: ``write_video`` deterministic (default) against the fast mode, on
synthetic clips at a training size. Prints the seconds per clip of each and their ratio, then how
many different files 8 re-encodes of the same clip give in each mode (read back between encodes, as
a synth run does; the fast mode's count depends on the memory x264 reads past the rows, so it varies).

    .venv/bin/python benchmarks/write_video.py --size 64 --n 12
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from avsync.data.synthetic import SynthConfig, make_clip
from avsync.media import write_video


def main() -> None:
    """Render ``--n`` sparse clips once (timed), encode them in both modes, print per-clip times and the ratio."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=64, help="frame side in px")
    ap.add_argument("--n", type=int, default=12, help="clips of 5 s")
    args = ap.parse_args()
    cfg = SynthConfig(duration_sec=5.0, size=args.size)
    start = time.perf_counter()
    clips = [make_clip("sparse", 1, i, cfg) for i in range(args.n)]
    render = (time.perf_counter() - start) / args.n
    out = Path(tempfile.mkdtemp())
    seconds = {}
    for deterministic in (True, False):
        start = time.perf_counter()
        for i, c in enumerate(clips):
            write_video(out / f"{deterministic}{i}.mp4", c.frames, c.audio, cfg.fps, cfg.sample_rate,
                        deterministic=deterministic)
        seconds[deterministic] = (time.perf_counter() - start) / args.n
    print(f"{args.size} px, 5 s clips: rendering {render:.3f} s/clip; encoding deterministic {seconds[True]:.3f} "
          f"s/clip, fast {seconds[False]:.3f} s/clip, ratio {seconds[True] / seconds[False]:.2f}x")
    print(f"8 re-encodes of one {args.size} px clip: deterministic {distinct_files(True, args.size)} different "
          f"file(s), fast {distinct_files(False, args.size)}")


def distinct_files(deterministic: bool, size: int, repeats: int = 8) -> int:
    """How many different files ``repeats`` encodes of one clip give."""
    from avsync.media import read_clip

    clip = make_clip("sparse", 2, 0, SynthConfig(duration_sec=2.0, size=size))
    out, seen = Path(tempfile.mkdtemp()), set()
    for i in range(repeats):
        path = write_video(out / f"{i}.mp4", clip.frames, clip.audio, 25.0, 16000, crf=23,
                           deterministic=deterministic)
        read_clip(path, 0.0, 1.0)
        seen.add(path.read_bytes())
    return len(seen)


if __name__ == "__main__":
    main()
