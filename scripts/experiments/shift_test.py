"""Experiment: does a window classifier's answer move with a known shift of the sound?

If a model reads sync, reading the sound ``s`` seconds later (``SyncChecker.score_windows(...,
audio_offset=s)``, which simulates a file whose offset is ``s`` larger) must move its answer from ``a`` to
``a + s``. Two uses of that are measured here, on the DEV cases of the real benchmark (never trained or
tuned on; nothing here is fitted):

- ``verify``: for each answered case, the answer's shift test. Shifts of 1 s that keep ``a + s`` inside
  the grid (+-1 s for ``|a| <= 0.6``, else 1 s and 2 s towards 0), scored on every window whose shifted
  sound lies inside the file ("all") and on at most 8 of them spread over the file ("k8"); a shift passes
  when the shifted answer is within 0.25 s of ``a + s``.
- ``tiles``: the classifier over +-6 s, reading the sound shifted by -4, -2, 0, +2 and +4 s, each tile's
  answer moved back by its shift; the tile with the highest calibrated confidence answers.

    .venv/bin/python benchmarks/real_dev.py --data data/real --group dev --method model --out dev.json
    .venv/bin/python scripts/experiments/shift_test.py verify dev.json data/real/cases/v1 --out verify.json
    .venv/bin/python scripts/experiments/shift_test.py tiles dev.json data/real/cases/v1 --out tiles.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import avsync
from avsync.checker.checker import SyncChecker

TOLERANCE = 0.25        # a shifted answer this close to a + s passes
TILES = (-4.0, -2.0, 0.0, 2.0, 4.0)
KEEP = 8                # windows of the "k8" variant
LONG = ("original", "whole", "beyond")   # the DEV kinds long enough for every tile


def shifts_for(answer: float, step: float = 1.0) -> list[float]:
    """Shifts that keep ``answer + s`` well inside a +-2 s grid."""
    if abs(answer) <= 0.6:
        return [step, -step]
    sign = 1.0 if answer > 0 else -1.0
    return [-sign * step, -sign * 2 * step]


def spread(starts: list[float], k: int = KEEP) -> list[float]:
    """At most ``k`` of ``starts``, evenly spread."""
    if len(starts) <= k:
        return list(starts)
    return [starts[i] for i in sorted({round(j * (len(starts) - 1) / (k - 1)) for j in range(k)})]


def room(starts: list[float], window: float, span: Any, shift: float) -> list[float]:
    """The window starts whose sound, read ``shift`` s later, lies inside the file."""
    end = span.start + span.length
    return [t for t in starts if t + shift >= span.start - 1e-6 and t + shift + window <= end + 1e-6]


def shifted_answer(checker: SyncChecker, path: str, starts: list[float], window: float, span: Any,
                   shift: float) -> tuple[float | None, float | None, int]:
    """(answer, confidence, windows) of ``starts`` with the sound read ``shift`` s later."""
    if not starts:
        return None, None, 0
    logits, evidence = checker.score_windows(path, starts, window, audio_offset=shift)
    r = checker.answer(path, logits, evidence, starts, window, span.length, span.fps)
    return r.offset_sec, r.confidence, len(starts)


def verify(checker: SyncChecker, case: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The shift test of one answered case (None when the checker refuses it)."""
    r = checker.check(path)
    if not r.synchronisable:
        return None
    window, span, starts = checker._plan(path, None, None)     # the windows the check read
    out: dict[str, Any] = {"id": case["id"], "truth": case["offset_sec"], "answer": r.offset_sec,
                           "confidence": r.confidence, "right": abs(r.offset_sec - case["offset_sec"]) <= TOLERANCE}
    for variant, pick in (("all", list), ("k8", spread)):
        tests = []
        for s in shifts_for(r.offset_sec):
            got, _, n = shifted_answer(checker, path, pick(room(starts, window, span, s)), window, span, s)
            tests.append({"shift": s, "windows": n, "shifted": got, "expected": r.offset_sec + s})
        tested = [t for t in tests if t["windows"]]
        out[variant] = {"tests": tests, "passed": bool(tested) and all(
            abs(t["shifted"] - t["expected"]) <= TOLERANCE for t in tested)}
    return out


def tiles(checker: SyncChecker, case: dict[str, Any], path: str) -> dict[str, Any]:
    """Every tile's answer (moved back by its shift) and the most confident one."""
    window, span, starts = checker._plan(path, None, None)
    rows = []
    for s in TILES:
        offset, confidence, n = shifted_answer(checker, path, room(starts, window, span, s), window, span, s)
        rows.append({"shift": s, "offset_sec": None if offset is None else offset - s, "confidence": confidence,
                     "windows": n})
    best = max((t for t in rows if t["windows"]), key=lambda t: t["confidence"])
    return {"id": case["id"], "truth": case["offset_sec"], "tiles": rows, "best": best["offset_sec"],
            "right": abs(best["offset_sec"] - case["offset_sec"]) <= TOLERANCE}


def main() -> None:
    """Run one experiment over the DEV cases of a real_dev.py outcome file; print and write the rows."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("experiment", choices=("verify", "tiles"))
    ap.add_argument("outcomes", type=Path, help="a real_dev.py --out file (which cases there are)")
    ap.add_argument("cases", type=Path, help="the folder of rendered case files")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    checker = avsync.load_model()
    kinds = LONG if args.experiment == "tiles" else LONG + ("crop5", "crop8")
    rows = []
    for o in json.loads(args.outcomes.read_text())["outcomes"]:
        case = o["case"]
        path = args.cases / f"{case['id']}.mp4"
        if case["group"] != "dev" or case["kind"] not in kinds or case["duration_sec"] < checker.window_sec:
            continue
        row = verify(checker, case, str(path)) if args.experiment == "verify" else tiles(checker, case, str(path))
        if row is not None:
            print(json.dumps(row), flush=True)
            rows.append(row)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
