"""Experiment (not in the package): the speech expert ALONE on the real benchmark's speech cases (a main
model with no opinion, so only the lips decide), per kind of case; best guesses within 0.25 s.

    .venv/bin/python scripts/experiments/speech_alone.py --data data/real --group dev [--lips hand|NAME|PATH] \
        --out benchmarks/results/speech_alone_dev_lipnet_v1.json
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import torch

from avsync import lip_scorer
from avsync.checker import OffsetChecker
from avsync.checker.speech_expert import SpeechExpert
from avsync.data.real import read_corpus
from avsync.models.handmade import MotionOnset, expert
from avsync.real_dev import VERSION, build_cases, score_check


class NoOpinion(MotionOnset):
    """Every offset scores the same: the engine's evidence is the speech expert's alone."""

    def offset_scores(self, video, audio, offsets, first_frame=None, band=256):
        return torch.zeros(video.shape[0], video.shape[1], len(offsets))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--group", default="dev")
    ap.add_argument("--lips", default=None)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    cases = [c for c in build_cases(read_corpus(args.data)) if c.group == args.group and c.content == "speech"
             and not c.timeline and c.kind != "still"]
    checker = OffsetChecker(NoOpinion(expert("motion-onset").config), name="no-opinion",
                            speech=SpeechExpert(lip_scorer(args.lips)))
    rows = []
    for case in cases:
        r = checker.check(args.data / "cases" / f"v{VERSION}" / f"{case.id}.mp4")
        o = score_check(case, r.offset_sec, r.confidence, r.synchronisable)
        rows.append({"case": case.id, "kind": case.kind, "source": case.source, "truth": case.offset_sec,
                     "offset": r.offset_sec, "guess_error": o.guess_error_sec, "speech": r.speech})
        print(rows[-1], flush=True)
    table = collections.defaultdict(list)
    for row in rows:
        table[row["kind"]].append(row["guess_error"] is not None and row["guess_error"] <= 0.25)
    summary = {kind: f"{sum(v)}/{len(v)}" for kind, v in sorted(table.items())}
    print(summary)
    if args.out:
        args.out.write_text(json.dumps({"command": " ".join(sys.argv), "summary": summary, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
