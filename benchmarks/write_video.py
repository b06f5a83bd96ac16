"""Cost of bit-exact encoding: ``write_video`` deterministic (default) against the fast mode, on
synthetic clips at a training size. Prints the seconds per clip of each and their ratio.

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
    """Render ``--n`` sparse clips once, encode them in both modes, print per-clip times and the ratio."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=64, help="frame side in px")
    ap.add_argument("--n", type=int, default=12, help="clips of 5 s")
    args = ap.parse_args()
    cfg = SynthConfig(duration_sec=5.0, size=args.size)
    clips = [make_clip("sparse", 1, i, cfg) for i in range(args.n)]
    out = Path(tempfile.mkdtemp())
    seconds = {}
    for deterministic in (True, False):
        start = time.perf_counter()
        for i, c in enumerate(clips):
            write_video(out / f"{deterministic}{i}.mp4", c.frames, c.audio, cfg.fps, cfg.sample_rate,
                        deterministic=deterministic)
        seconds[deterministic] = (time.perf_counter() - start) / args.n
    print(f"{args.size} px, 5 s clips: deterministic {seconds[True]:.3f} s/clip, fast {seconds[False]:.3f} "
          f"s/clip, ratio {seconds[True] / seconds[False]:.2f}x")


if __name__ == "__main__":
    main()
