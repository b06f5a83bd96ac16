"""Do two versions of the code give the same answers? Checks the shipped example clips and real case files
with a model and writes every offset; with ``--compare`` it lists the files whose offsets differ by more than
``--tolerance`` from an earlier run's.

    .venv/bin/python benchmarks/same_offsets.py --out new.json
    PYTHONPATH=/tmp/old/src .venv/bin/python benchmarks/same_offsets.py --out old.json   # a worktree of the old commit
    .venv/bin/python benchmarks/same_offsets.py --out new.json --compare old.json

The real case files (24 crop5 pieces and every whole stretch of ``data/real/cases/v1``) need
``scripts/get_real_media.py`` and the cases rendered (docs/benchmarks.md, "Real footage").
"""

from __future__ import annotations

import argparse
import glob
import json
import time
from pathlib import Path

import avsync

EXAMPLES = Path(avsync.__file__).parent / "assets" / "examples"


def files(cases: str) -> list[str]:
    """The example clips, then the first 24 crop5 cases and every whole case."""
    return (sorted(glob.glob(str(EXAMPLES / "*.mp4"))) + sorted(glob.glob(f"{cases}/*crop5*.mp4"))[:24]
            + sorted(glob.glob(f"{cases}/*whole*.mp4")))


def main() -> None:
    """Command line (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="*", help="files to check instead of the examples and the real cases")
    ap.add_argument("--cases", default="data/real/cases/v1", help="folder of rendered real case files")
    ap.add_argument("--model", default=None, help="model name or path (default: the shipped default)")
    ap.add_argument("--out", required=True, help="JSON of {file: [offset_sec, confidence]}")
    ap.add_argument("--compare", help="an earlier run's JSON")
    ap.add_argument("--tolerance", type=float, default=0.001, help="seconds (default 1 ms)")
    args = ap.parse_args()
    checker = avsync.load_model(args.model)
    t0 = time.perf_counter()
    out = {Path(f).name: (lambda r: [r.offset_sec, r.confidence])(checker.check(f)) for f in args.paths or files(args.cases)}
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"{len(out)} files in {time.perf_counter() - t0:.1f} s")
    if args.compare:
        old = json.loads(Path(args.compare).read_text())
        differ = [k for k in out if k in old and (out[k][0] is None) != (old[k][0] is None)
                  or k in old and out[k][0] is not None and old[k][0] is not None and abs(out[k][0] - old[k][0]) > args.tolerance]
        print(f"{len(out) - len(differ)} of {len(out)} within {args.tolerance * 1000:g} ms")
        for k in differ:
            print(f"  {k}: {old[k]} -> {out[k]}")


if __name__ == "__main__":
    main()
