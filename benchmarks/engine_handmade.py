"""The engine's accumulation with hand-made evidence (``avsync.models.handmade``) instead of a learnt
model, on the real benchmark.

    .venv/bin/python benchmarks/engine_handmade.py --data data/real --group dev --out benchmarks/results/real_dev_v1_engine_handmade.json

The ``motion-onset`` expert alone (nothing trained): a frame's busiest-cell motion against a 10 ms step's
onset strength, as 2-d unit vectors whose cosine is high where both have an event. Everything else
(per-frame log-probabilities over every offset, per-second evidence, the self-normalised confidence with the
engine's default sharpness, timeline, refusals) is the engine's own. It says what the accumulation can do on
real footage with the simplest evidence there is; the calibration is the engine's default, not fitted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from real_dev import render_all, run_case  # noqa: E402

from avsync.checker import OffsetChecker  # noqa: E402
from avsync.data.real import read_corpus  # noqa: E402
from avsync.models.handmade import expert  # noqa: E402
from avsync.real_dev import build_cases, summarise  # noqa: E402


def main() -> int:
    """Run the real benchmark's cases with the hand-made engine; print and write the summary."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--group", choices=("dev", "train", "all"), default="dev")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    cases = [c for c in build_cases(read_corpus(args.data)) if args.group in ("all", c.group)]
    files = render_all(cases, args.data / "cases" / "v1")
    checker = OffsetChecker(expert("motion-onset"), name="motion-onset")
    outcomes = [run_case(checker, c, files[c.id]) for c in cases]
    summary = summarise(outcomes)
    for key, row in summary["by_kind"].items():
        print(key, {k: row[k] for k in ("offset_cases", "within_0.1", "within_0.25", "confidently_wrong", "refused",
                                        "guess_within_0.25", "guess_median_abs_err_sec")})
    if args.out:
        args.out.write_text(json.dumps({"command": " ".join(sys.argv), "summary": summary,
                                        "outcomes": [o.to_dict() for o in outcomes]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
