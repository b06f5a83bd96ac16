"""``avsync demo``: the shipped example clips shifted by known offsets, predicted against true."""

from __future__ import annotations

import argparse
from typing import Any

from avsync.cli.common import load_checker, model_args, print_json, progress_bar
from avsync.demo import DEMO_SHIFTS


def cmd_demo(args: argparse.Namespace) -> int:
    """Shift the example clips by known offsets and print predicted vs true offsets."""
    from avsync.demo import example_clips, run_demo

    clips = example_clips(args.examples)
    checker = load_checker(args)
    shifts = [float(s) for s in args.shifts]
    with progress_bar(len(clips) * len(shifts), "demo") as bar:
        task = bar.add_task("demo", total=len(clips) * len(shifts), name="")

        def step(name: str) -> None:
            bar.update(task, name=name)
            bar.advance(task)

        rows = run_demo(checker, clips, shifts, args.window, args.stride, progress=step)
    _demo_report(rows, args.format, checker.name)
    return 1 if any("error" in r for r in rows) else 0


def _demo_report(rows: list[dict[str, Any]], fmt: str, method: str) -> None:
    from avsync.demo import summarise_demo

    summary = {"method": method, **summarise_demo(rows)}
    if fmt == "json":
        print_json({"rows": rows, **summary})
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"avsync demo ({method}): example clips shifted by known offsets (> 0: audio ahead)")
    for c in ("clip", "true s", "predicted s", "error s", "confidence", ""):
        t.add_column(c, justify="left" if c == "clip" else "right")
    for r in rows:
        if "error" in r:
            t.add_row(r["clip"], f"{r['true_sec']:+.2f}", "", "", "", f"[red]{r['error']}[/red]")
        elif r["predicted_sec"] is None:
            t.add_row(r["clip"], f"{r['true_sec']:+.2f}", "-", "", "", "not synchronisable")
        else:
            ok = abs(r["error_sec"]) <= 0.1
            mark = "[green]ok[/green]" if ok else "[red]off[/red]"
            if not r["synchronisable"]:
                mark += " (low confidence)"
            t.add_row(r["clip"], f"{r['true_sec']:+.2f}", f"{r['predicted_sec']:+.3f}", f"{r['error_sec']:+.3f}",
                      f"{r['confidence']:.2f}", mark)
    Console().print(t)
    print(f"{summary['within_0.1s']}/{len(rows)} within 0.1 s of the true offset")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``demo``."""
    p = subparsers.add_parser("demo", help="check the shipped example clips at known shifts",
                              description="Shift every example clip by known offsets (in a temporary folder) "
                                          "and print predicted against true offsets.")
    p.add_argument("--examples", metavar="DIR", help="folder of .mp4 clips (default: the shipped examples)")
    p.add_argument("--shifts", type=float, nargs="+", default=list(DEMO_SHIFTS), metavar="SEC",
                   help=f"offsets the clips are shifted by (> 0: audio ahead; default: {' '.join(map(str, DEMO_SHIFTS))})")
    p.add_argument("--format", choices=["table", "json"], default="table", help="output format (default: table)")
    model_args(p)
    p.set_defaults(func=cmd_demo)
