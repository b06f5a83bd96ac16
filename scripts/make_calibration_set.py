"""The engine's calibration set: in-sync 8 s pieces of the TRAIN-group real clips (never a DEV source),
with a manifest whose split alternates train / val, beside the held-out synthetic set.

    avsync synth real --n 120 --seed 5 --duration 8 --size 64 --width 112 --out data/calib-real --workers 2
    .venv/bin/python scripts/make_calibration_set.py --real data/real --out data/calib-train-real
    avsync calibrate --model PATH --data data/calib-real/manifest.csv data/calib-train-real/manifest.csv \
        --fit-split train --test-split val --per-clip 4

The synthetic clips (seed 5) were never trained on. The real pieces were (they are the engine's only
real training footage), so their shifted copies flatter the engine; their mismatched pairs (one
piece's picture with another's sound) are what teaches the calibration to refuse real footage it
cannot read.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from avsync.data.real import read_corpus
from avsync.media.render import constant_offset, render_retimed

PIECE_SEC = 8.0


def main() -> int:
    """Cut every TRAIN clip's usable stretch into pieces and write ``OUT/manifest.csv``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", default="data/real", help="the real-media folder")
    ap.add_argument("--out", required=True, type=Path, help="output folder")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows, k = [], 0
    for clip in read_corpus(args.real, group="train"):
        t = clip.start_sec
        while t + PIECE_SEC <= clip.end_sec + 1e-6:
            name = f"{Path(clip.path).stem}_{t:06.1f}.mp4"
            dst = args.out / name
            if not dst.is_file():
                render_retimed(clip.path, dst, t, PIECE_SEC, constant_offset(t, 0.0), size=360)
            rows.append({"path": name, "split": "train" if k % 2 == 0 else "val", "kind": "real-train",
                         "duration_sec": f"{PIECE_SEC:.4f}"})
            t += PIECE_SEC
            k += 1
    with open(args.out / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["path", "split", "kind", "duration_sec"])
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} pieces of {PIECE_SEC:g} s in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
