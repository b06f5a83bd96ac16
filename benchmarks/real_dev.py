"""The real development benchmark: how well a checker finds known offsets in real footage.

    .venv/bin/python scripts/get_real_media.py data/real                       # once: the corpus
    .venv/bin/python benchmarks/real_dev.py --data data/real --method xcorr --out r.json
    .venv/bin/python benchmarks/real_dev.py --data data/real --method model [--model PATH] --out m.json

The cases (``avsync.real_dev``, version-numbered) are rendered once into ``DATA/cases/v<N>/`` and
reused. Every number is printed per group: DEV sources are the ones models are judged on and must
never be trained or tuned on; TRAIN sources may be trained on, so their numbers say little.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from avsync.data.real import read_corpus
from avsync.errors import AvsyncError
from avsync.real_dev import (
    VERSION,
    Case,
    Outcome,
    build_cases,
    render_case,
    score_check,
    score_timeline,
    summarise,
)

console = Console(stderr=True)
OUT = Console(width=160)


def render_all(cases: list[Case], folder: Path) -> dict[str, Path]:
    """The file of each case, rendered into ``folder`` where it is not there yet."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {c.id: folder / f"{c.id}.mp4" for c in cases}
    todo = [c for c in cases if not files[c.id].is_file()]
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"rendering {len(todo)} cases", total=len(todo))
        for case in todo:
            render_case(case, files[case.id])
            bar.advance(task)
    return files


def run_case(checker: Any, case: Case, path: Path) -> Outcome:
    """Check (or, for slip and drift, run the timeline over) one case file and score the answer."""
    try:
        if case.timeline:
            tl = checker.timeline(path)
            return score_timeline(case, [asdict(s) for s in tl.segments], tl.drift_ms_per_min)
        r = checker.check(path)
        return score_check(case, r.offset_sec, r.confidence, r.synchronisable)
    except AvsyncError as e:
        return (score_timeline(case, [], None, failure=str(e)) if case.timeline
                else score_check(case, None, None, False, failure=str(e)))


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f} %"


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{1000 * x:.0f} ms"


def print_table(title: str, rows: dict[str, dict[str, Any]]) -> None:
    """One rich table of summary rows (group/key -> metrics)."""
    t = Table(title=title)
    for col in ("group / " + title.split()[-1], "cases", "within 0.1 s", "within 0.25 s", "median |err|",
                "conf. wrong", "refused", "failed", "guess within 0.25 s", "guess median |err|"):
        t.add_column(col, justify="left" if col.startswith("group") else "right")
    for key, r in rows.items():
        t.add_row(key, str(r["offset_cases"] or r["cases"]), _pct(r["within_0.1"]), _pct(r["within_0.25"]),
                  _ms(r["median_abs_err_sec"]), str(r["confidently_wrong"]), str(r["refused"]), str(r["failed"]),
                  _pct(r["guess_within_0.25"]), _ms(r["guess_median_abs_err_sec"]))
    OUT.print(t)


def print_report(summary: dict[str, Any]) -> None:
    """Every table of the summary on stdout."""
    print_table("by content", summary["by_content"])
    print_table("by kind", summary["by_kind"])
    print_table("by source", summary["by_source"])
    t = Table(title="timeline cases")
    for col in ("case", "group", "found", "segments (start-end: offset)", "drift ms/min"):
        t.add_column(col)
    for r in summary["timeline"]:
        segs = ", ".join(f"{s['start_sec']:.0f}-{s['end_sec']:.0f}: {s['offset_sec']:+.2f}" for s in r["segments"])
        drift = r["drift_ms_per_min"]
        t.add_row(r["id"], r["group"], str(r["found"]), segs or "-", "-" if drift is None else f"{drift:.0f}")
    OUT.print(t)
    t = Table(title="no-evidence cases (still picture): the right answer is a refusal")
    for col in ("case", "group", "answered", "offset", "confidence"):
        t.add_column(col)
    for r in summary["still"]:
        t.add_row(r["id"], r["group"], str(r["answered"]), "-" if r["offset_sec"] is None else f"{r['offset_sec']:+.2f}",
                  "-" if r["confidence"] is None else f"{r['confidence']:.2f}")
    OUT.print(t)


def main() -> int:
    """Build (or reuse) the cases, run the chosen checker on each, print the tables, write ``--out``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, type=Path, help="the corpus folder written by scripts/get_real_media.py")
    ap.add_argument("--method", choices=("model", "xcorr"), default="model", help="a trained model or the xcorr baseline")
    ap.add_argument("--model", default=None, help="model name or .safetensors path (default: the shipped default)")
    ap.add_argument("--experts", nargs="+", default=(), help="the engine only: experts whose evidence joins the model's")
    ap.add_argument("--speech", choices=("auto", "on", "off"), default="off", help="the engine only: the speech expert")
    ap.add_argument("--lips", default=None, help="the speech expert's lip scorer (name, hand, or path)")
    ap.add_argument("--calibration", type=Path, default=None, help="a calibration JSON to use instead of the model's")
    ap.add_argument("--group", choices=("dev", "train", "all"), default="all", help="which sources' cases to run")
    ap.add_argument("--cases", type=Path, default=None, help=f"where case files are kept (default DATA/cases/v{VERSION})")
    ap.add_argument("--out", type=Path, default=None, help="write every outcome and the tables as JSON")
    args = ap.parse_args()
    try:
        cases = build_cases(read_corpus(args.data))
    except AvsyncError as e:
        print(f"real_dev: error: {e}", file=sys.stderr)
        return 1
    cases = [c for c in cases if args.group in ("all", c.group)]
    files = render_all(cases, args.cases or args.data / "cases" / f"v{VERSION}")
    from avsync.pool import CheckerSpec

    checker = CheckerSpec("xcorr" if args.method == "xcorr" else args.model, experts=tuple(args.experts),
                          speech=args.speech, lips=args.lips).load()
    if args.calibration:
        from avsync.checker import Calibration

        checker.calibration = Calibration.load(args.calibration)
    outcomes = []
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"checking with {checker.name}", total=len(cases))
        for case in cases:
            outcomes.append(run_case(checker, case, files[case.id]))
            bar.advance(task)
    summary = summarise(outcomes)
    print_report(summary)
    if args.out:
        report = {"command": " ".join(sys.argv), "method": args.method, "checker": checker.name,
                  "summary": summary, "outcomes": [o.to_dict() for o in outcomes]}
        args.out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
