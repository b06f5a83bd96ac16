"""The sync checker's commands ``check``, ``timeline``, ``desync`` and ``explain`` (``fix``, ``demo`` and
``calibrate`` have their own modules). A thin layer over :mod:`avsync.checker`; torch
loads only inside the commands.

Exit status: 0 when every input was checked, 1 when any input failed, 2 for a usage error.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avsync.cli.common import (
    checker_reading,
    checker_spec,
    err,
    expand_paths,
    load_checker,
    model_args,
    print_json,
    progress_bar,
    seconds_progress,
)
from avsync.errors import UsageError

if TYPE_CHECKING:
    pass

FORMATS = ("table", "json", "jsonl", "csv")


# --------------------------------------------------------------------------------------------------
# check


def cmd_check(args: argparse.Namespace) -> int:
    """Check files, folders and globs; one record per input; resumable with --out."""
    from avsync.writers import open_writer, output_format, path_key, verdict

    paths = expand_paths(args.paths)
    if not paths:
        raise UsageError(f"no video files under {' '.join(args.paths)}")
    if args.jobs < 1:
        raise UsageError("--jobs must be >= 1")
    writer = open_writer(output_format(args.format, args.out), args.out)
    spec = checker_spec(args)
    done = writer.done()
    todo = [p for p in paths if path_key(p) not in done]
    if len(todo) < len(paths):
        err(f"avsync: {len(paths) - len(todo)} file(s) already in {args.out}: skipped")
    counts: dict[str, int] = {}
    failures: list[str] = []
    with writer, progress_bar(len(todo), "checking") as bar:
        task = bar.add_task("check", total=len(todo), name="")
        for r in _results(spec, todo, args):
            bar.update(task, name=Path(r.path).name)
            writer.write(r)
            v = verdict(r)
            counts[v] = counts.get(v, 0) + 1
            if r.error:
                failures.append(r.error)
            if r.warning:
                bar.console.print(f"avsync: warning: {r.path}: {r.warning}", highlight=False, soft_wrap=True)
            bar.advance(task)
    summary = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    err(f"avsync: checked {len(todo)} file(s)" + (f": {summary}" if summary else "")
         + (f" (records in {args.out})" if args.out else ""))
    for f in failures:
        err(f"avsync: error: {f}")
    return 1 if failures else 0


def _results(spec: Any, paths: list[str], args: argparse.Namespace) -> Any:
    """One record per path, in order: in this process, or in ``--jobs`` worker processes."""
    if len(paths) == 1:                 # one file: a progress bar over its seconds instead
        with checker_reading(spec, paths[0], args.window, args.stride) as checker, seconds_progress(checker, paths[0]):
            return [checker.safe(checker.check, paths[0], window=args.window, stride=args.stride)]
    if args.jobs == 1:
        return spec.load().check_many(paths, window=args.window, stride=args.stride)
    from avsync.pool import check_in_processes

    return check_in_processes(spec, paths, min(args.jobs, len(paths)), args.window, args.stride)


# --------------------------------------------------------------------------------------------------
# timeline


def cmd_timeline(args: argparse.Namespace) -> int:
    """Offset distribution and confidence over time, drift and no-evidence stretches."""
    from avsync.plots import timeline_plot

    with checker_reading(checker_spec(args), args.video, args.window, args.stride, per_window=5) as checker, \
            seconds_progress(checker, args.video):
        tl = checker.timeline(args.video, window=args.window, stride=args.stride)
    if args.format == "json":       # the results first: a plot that cannot be written loses nothing
        print_json(tl.to_dict())
    else:
        _timeline_table(tl)
    if args.plot:
        timeline_plot(tl, args.plot, checker.calibration.min_confidence)
        err(f"avsync: timeline plot written to {args.plot}")
    return 0


def _timeline_table(tl: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    r, console = tl.result, Console()
    head = (f"{r.path}: offset {r.offset_sec:+.3f} s, confidence {r.confidence:.2f}" if r.offset_sec is not None
            else f"{r.path}: no answer ({r.reason})")
    if r.offset_sec is not None and not r.synchronisable:
        head += f" - a best guess, not an answer ({r.reason})"
    drift = (f"drift: yes, {len(tl.segments)} segments" if tl.drift else "drift: none") + (
        f" (fitted slope {tl.drift_ms_per_min:+.0f} ms/min)" if tl.drift_ms_per_min is not None else "")
    console.print(head)
    console.print(drift)
    seg = Table(title="segments of constant offset")
    for c in ("from s", "to s", "offset s", "confidence", "windows"):
        seg.add_column(c, justify="right")
    for s in tl.segments:
        seg.add_row(f"{s.start_sec:.2f}", f"{s.end_sec:.2f}", f"{s.offset_sec:+.3f}", f"{s.confidence:.2f}", str(s.windows))
    console.print(seg)
    for st in tl.no_evidence:
        console.print(f"no evidence {st['start_sec']:.2f}-{st['end_sec']:.2f} s: {st['reason']}")
    win = Table(title="windows")
    for c in ("start s", "end s", "offset s", "confidence", "note"):
        win.add_column(c, justify="right")
    for w in r.per_window:
        win.add_row(f"{w.start_sec:.2f}", f"{w.end_sec:.2f}", f"{w.offset_sec:+.3f}", f"{w.confidence:.2f}", w.reason or "")
    console.print(win)


# --------------------------------------------------------------------------------------------------
# desync


def cmd_desync(args: argparse.Namespace) -> int:
    """DeSync per clip (|offset| of the first and last window, averaged) and overall."""
    from avsync.checker import mean_desync

    paths = expand_paths(args.paths)
    if not paths:
        raise UsageError(f"no video files under {' '.join(args.paths)}")
    checker = load_checker(args)
    results = []
    with progress_bar(len(paths), "desync") as bar:
        task = bar.add_task("desync", total=len(paths), name="")
        for p in paths:
            bar.update(task, name=Path(p).name)
            results.append(checker.safe(checker.desync, p, window=args.window))
            bar.advance(task)
    overall = mean_desync(results)
    failed = [r for r in results if r.error]
    unusable = [r for r in results if r.reason]
    scored = len(results) - len(failed) - len(unusable)
    if args.format == "json":
        print_json({"clips": [r.to_dict() for r in results], "checked": scored, "unusable": len(unusable),
                     "failed": len(failed), "desync_sec": None if overall is None else round(overall, 4),
                     "window_sec": args.window or checker.desync_window_sec, "method": checker.name})
    else:
        from rich.console import Console
        from rich.table import Table

        t = Table(title="DeSync: |offset| of the first and last window (seconds)")
        for c in ("clip", "first", "last", "desync"):
            t.add_column(c, justify="left" if c == "clip" else "right")
        for r in results:
            if r.error:
                t.add_row(r.path, "", "", f"[red]{r.error}[/red]")
            elif r.reason:
                t.add_row(r.path, "", "", f"[dim]left out: {r.reason}[/dim]")
            else:
                t.add_row(r.path, f"{r.first_sec:.3f}", f"{r.last_sec:.3f}", f"{r.desync_sec:.3f}")
        Console().print(t)
        print(f"DeSync over {scored} clip(s): " + ("n/a" if overall is None else f"{overall:.3f} s")
              + (f" ({len(unusable)} left out: no evidence)" if unusable else ""))
    for r in failed:
        err(f"avsync: error: {r.error}")
    return 1 if failed else 0


# --------------------------------------------------------------------------------------------------
# explain


def cmd_explain(args: argparse.Namespace) -> int:
    """Heat-maps of where the model looked, over frames of one window (and over the spectrogram)."""
    from avsync.checker.explain import explain
    from avsync.plots import explain_plot

    if args.method == "xcorr":
        raise UsageError("explain needs a learned model (the xcorr baseline has no attention)")
    checker = load_checker(args)
    expl = explain(checker, args.video, start=args.start, window=args.window, frames=args.frames)
    info = {**expl.to_dict(), "out": str(args.out)}
    if args.format == "json":       # the facts first: a heat-map that cannot be written loses nothing
        print_json(info)
    else:
        print(f"{args.video}: window {info['start_sec']:.2f}-{info['end_sec']:.2f} s, offset {info['offset_sec']:+.3f} s "
              f"(confidence {info['confidence']:.2f}); heat-map: {info['out']}")
    explain_plot(expl, args.out)
    return 0


# --------------------------------------------------------------------------------------------------
# registration


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add check, timeline, desync and explain."""
    p = subparsers.add_parser(
        "check", help="measure the audio-video offset of files, folders or globs",
        description="Slide the model's window over every file, combine the windows into one offset per "
                    "file (> 0: audio ahead of the picture) with a calibrated confidence. Exit status: "
                    "0 all checked, 1 some input failed, 2 usage error.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="video files, folders (recursive) or globs")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="output format (default: the one --out's extension names, .json/.jsonl/.csv; else table)")
    p.add_argument("--out", metavar="FILE", help="write records here; an existing file of the same format is resumed "
                                                 "(files already in it, by resolved path, are skipped)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="check N files at a time in N processes (records still in input order; default: 1)")
    model_args(p)
    p.set_defaults(func=cmd_check)

    p = subparsers.add_parser("timeline", help="offset and confidence over time: drift and stretches without evidence",
                              description="Windows every --stride seconds (default: a fifth of the window); "
                                          "segments of constant offset (drift when more than one) and stretches "
                                          "without evidence (silent, still or low confidence).")
    p.add_argument("video", metavar="VIDEO", help="the video file")
    p.add_argument("--plot", metavar="PNG", help="write the heat-map of class probabilities over time")
    p.add_argument("--format", choices=["table", "json"], default="table", help="output format (default: table)")
    model_args(p)
    p.set_defaults(func=cmd_timeline)

    p = subparsers.add_parser("desync", help="DeSync score for video-to-audio generation (first and last window)",
                              description="Per clip: |offset| of the first and of the last window, averaged; "
                                          "overall: the mean over clips (as in video-to-audio generation papers).")
    p.add_argument("paths", nargs="+", metavar="PATH", help="generated clips: files, folders (recursive) or globs")
    p.add_argument("--format", choices=["table", "json"], default="table", help="output format (default: table)")
    model_args(p)
    p.set_defaults(func=cmd_desync)

    p = subparsers.add_parser("explain", help="heat-maps of where the model looked",
                              description="Attention of the model's selectors (or AVST's cross-attention) over "
                                          "frames of one window and over its spectrogram, as a PNG.")
    p.add_argument("video", metavar="VIDEO", help="the video file")
    p.add_argument("--out", required=True, metavar="PNG", help="where to write the heat-map image")
    p.add_argument("--start", type=float, default=None, metavar="SEC",
                   help="window start (default: the most confident window)")
    p.add_argument("--frames", type=int, default=8, help="frames to show (default: 8)")
    p.add_argument("--format", choices=["table", "json"], default="table", help="output format (default: table)")
    model_args(p)
    p.set_defaults(func=cmd_explain)
