"""The sync checker's commands: ``check``, ``timeline``, ``desync``, ``explain``, ``demo`` and
``calibrate`` (``fix`` is in :mod:`avsync.cli.fix`). A thin layer over :mod:`avsync.checker`; torch
loads only inside the commands.

Exit status: 0 when every input was checked, 1 when any input failed, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from avsync.demo import DEMO_SHIFTS
from avsync.errors import UsageError
from avsync.fileio import ensure_writable, write_text_atomic

if TYPE_CHECKING:
    from avsync.checker import SyncChecker

FORMATS = ("table", "json", "jsonl", "csv")


# --------------------------------------------------------------------------------------------------
# shared arguments and helpers


def _model_args(p: argparse.ArgumentParser, windows: bool = True) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--model", default=None, metavar="NAME|PATH",
                   help="shipped model name or .safetensors path (default: the shipped default model)")
    g.add_argument("--method", choices=["model", "xcorr"], default="model",
                   help="'model' (learned, default) or 'xcorr' (training-free cross-correlation baseline)")
    g.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    g.add_argument("--min-confidence", type=float, default=None, metavar="C",
                   help="report 'not synchronisable' under this calibrated confidence (default: the model's, 0.2)")
    g.add_argument("--batch-size", type=int, default=8, metavar="B", help="windows per forward pass (default: 8)")
    g.add_argument("--workers", type=int, default=2, metavar="K",
                   help="threads decoding windows ahead of the model (default: 2; 0 = none)")
    if windows:
        g.add_argument("--window", type=float, default=None, metavar="SEC",
                       help="window length in seconds (default: the model's, 5 s for the shipped one)")
        g.add_argument("--stride", type=float, default=None, metavar="SEC",
                       help="seconds between window starts (default: half a window; timeline: a fifth)")


def check_device(device: str) -> None:
    """UsageError unless ``device`` names a torch device that is there (``cuda`` needs a GPU)."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise UsageError(f"--device {device}: not a device (use cpu, cuda or cuda:N)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {device}: no CUDA GPU is available to this torch {torch.__version__}; use --device cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise UsageError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s)")
    if dev.type not in ("cpu", "cuda"):
        raise UsageError(f"--device {device}: only cpu and cuda are supported")


def load_checker(args: argparse.Namespace) -> "SyncChecker":
    """The checker the arguments ask for."""
    import avsync

    if args.batch_size < 1 or args.workers < 0:
        raise UsageError("--batch-size must be >= 1 and --workers >= 0")
    if getattr(args, "window", None) is not None and args.window <= 0:
        raise UsageError("--window must be > 0")
    if getattr(args, "stride", None) is not None and args.stride <= 0:
        raise UsageError("--stride must be > 0")
    if args.method == "xcorr" and args.model not in (None, "xcorr"):
        raise UsageError("--method xcorr uses no model: drop --model")
    name = "xcorr" if args.method == "xcorr" else args.model
    check_device(args.device)
    checker = avsync.load_model(name, device=args.device, batch_size=args.batch_size, workers=args.workers)
    if args.min_confidence is not None:
        if not 0 <= args.min_confidence <= 1:
            raise UsageError("--min-confidence must lie in 0..1")
        cal = checker.calibration
        checker.calibration = replace(cal, min_confidence=args.min_confidence,
                                      fix_min_confidence=max(args.min_confidence, cal.fix_min_confidence))
    return checker


def expand_paths(specs: Sequence[str]) -> list[str]:
    """Files named, videos under folders (recursive, by extension), and glob matches; order kept,
    duplicates dropped. A name that matches nothing is kept, so it gets its own error record."""
    from avsync.media.prepare import VIDEO_SUFFIXES

    out: list[str] = []
    for spec in specs:
        p = Path(spec)
        if p.is_dir():
            out += sorted(str(f) for f in p.rglob("*") if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES)
        elif not p.exists() and glob.has_magic(spec):
            for m in sorted(glob.glob(spec, recursive=True)):
                out += expand_paths([m]) if Path(m).is_dir() else [m]
        else:
            out.append(spec)
    seen: set[str] = set()
    return [x for x in out if not (os.path.abspath(x) in seen or seen.add(os.path.abspath(x)))]


def _progress(total: int, what: str) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    bar = Progress(TextColumn(f"[bold]{what}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TimeRemainingColumn(), TextColumn("{task.fields[name]}"), console=console,
                   disable=total <= 1 or not console.is_terminal)
    return bar


def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=1))


# --------------------------------------------------------------------------------------------------
# check


def cmd_check(args: argparse.Namespace) -> int:
    """Check files, folders and globs; one record per input; resumable with --out."""
    from avsync.writers import open_writer, output_format, path_key, verdict

    paths = expand_paths(args.paths)
    if not paths:
        raise UsageError(f"no video files under {' '.join(args.paths)}")
    writer = open_writer(output_format(args.format, args.out), args.out)
    checker = load_checker(args)
    done = writer.done()
    todo = [p for p in paths if path_key(p) not in done]
    if len(todo) < len(paths):
        _err(f"avsync: {len(paths) - len(todo)} file(s) already in {args.out}: skipped")
    counts: dict[str, int] = {}
    failures: list[str] = []
    with writer, _progress(len(todo), "checking") as bar:
        task = bar.add_task("check", total=len(todo), name="")
        for r in checker.check_many(todo, window=args.window, stride=args.stride):
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
    _err(f"avsync: checked {len(todo)} file(s)" + (f": {summary}" if summary else "")
         + (f" (records in {args.out})" if args.out else ""))
    for f in failures:
        _err(f"avsync: error: {f}")
    return 1 if failures else 0


# --------------------------------------------------------------------------------------------------
# timeline


def cmd_timeline(args: argparse.Namespace) -> int:
    """Offset distribution and confidence over time, drift and no-evidence stretches."""
    from avsync.plots import timeline_plot

    checker = load_checker(args)
    tl = checker.timeline(args.video, window=args.window, stride=args.stride)
    if args.format == "json":       # the results first: a plot that cannot be written loses nothing
        _print_json(tl.to_dict())
    else:
        _timeline_table(tl)
    if args.plot:
        timeline_plot(tl, args.plot, checker.calibration.min_confidence)
        _err(f"avsync: timeline plot written to {args.plot}")
    return 0


def _timeline_table(tl: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    r, console = tl.result, Console()
    head = (f"{r.path}: offset {r.offset_sec:+.3f} s, confidence {r.confidence:.2f}" if r.offset_sec is not None
            else f"{r.path}: no answer ({r.reason})")
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
    with _progress(len(paths), "desync") as bar:
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
        _print_json({"clips": [r.to_dict() for r in results], "checked": scored, "unusable": len(unusable),
                     "failed": len(failed), "desync_sec": None if overall is None else round(overall, 4),
                     "window_sec": args.window or checker.estimator.window_sec, "method": checker.name})
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
        _err(f"avsync: error: {r.error}")
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
        _print_json(info)
    else:
        print(f"{args.video}: window {info['start_sec']:.2f}-{info['end_sec']:.2f} s, offset {info['offset_sec']:+.3f} s "
              f"(confidence {info['confidence']:.2f}); heat-map: {info['out']}")
    explain_plot(expl, args.out)
    return 0


# --------------------------------------------------------------------------------------------------
# demo


def cmd_demo(args: argparse.Namespace) -> int:
    """Shift the example clips by known offsets and print predicted vs true offsets."""
    from avsync.demo import example_clips, run_demo

    clips = example_clips(args.examples)
    checker = load_checker(args)
    shifts = [float(s) for s in args.shifts]
    with _progress(len(clips) * len(shifts), "demo") as bar:
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
        _print_json({"rows": rows, **summary})
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


# --------------------------------------------------------------------------------------------------
# calibrate


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Fit the temperature and refinement on one split, measure on another, write the calibration."""
    import avsync
    from avsync.checker import Calibration, weights_digest
    from avsync.checker.calibration import calibration_target
    from avsync.checker.fitting import calibrate, per_kind
    from avsync.data.datasets import load_sources
    from avsync.plots import reliability_plot

    checker = load_checker(args)
    weights = None if checker.name == "xcorr" else avsync.resolve_weights(args.model)
    out = calibration_target(args.out, weights, avsync.MODEL_DIR)
    ensure_writable(out)
    fit = per_kind(load_sources(args.data, split=args.fit_split), args.max_clips)
    test = per_kind(load_sources(args.data, split=args.test_split), args.max_clips)
    if not fit or not test:
        raise UsageError(f"{' '.join(args.data)}: needs clips in the splits {args.fit_split!r} and {args.test_split!r}")
    min_conf = 0.2 if args.min_confidence is None else args.min_confidence
    base = Calibration(min_confidence=min_conf, fix_min_confidence=max(min_conf, Calibration().fix_min_confidence))
    provenance = {"data": [str(d) for d in args.data], "fit_split": args.fit_split, "test_split": args.test_split}
    if weights is not None:
        provenance.update(weights=weights.name, weights_sha256=weights_digest(weights))
    bars = []

    def progress(what: str):
        sources = fit if what == "fitting" else test
        bar = _progress(len(sources), f"{what} on {args.fit_split if what == 'fitting' else args.test_split}")
        bar.start()
        bars.append(bar)
        task = bar.add_task(what, total=len(sources), name="")
        return lambda: bar.advance(task)

    try:
        run = calibrate(checker, fit, test, args.per_clip, args.seed, args.window, args.stride, base, provenance,
                        progress)
    finally:
        for bar in bars:
            bar.stop()
    for f in run.skipped:
        _err(f"avsync: skipped {f}")
    cal, before, after = run.calibration, run.before, run.after
    cal.save(out)
    if args.report:
        report = {"method": checker.name, "calibration": str(out), "temperature": cal.temperature,
                  "refine": cal.refine, "before": before, "after": after}
        write_text_atomic(args.report, json.dumps(report, indent=1) + "\n")
    if args.plot:
        reliability_plot(after["all"]["reliability"], args.plot, before=before["all"]["reliability"],
                         title=f"{checker.name}: {args.test_split} split, {after['all']['usable']} files")
    a = after["all"]
    print(f"{checker.name}: temperature {cal.temperature:.3f}, refine {cal.refine} -> {out}")
    print(f"{args.test_split}: {a['usable']} files, acc@1 {a['acc1']:.3f}, within 1 class {a['acc1_pm1']:.3f}, "
          f"within 0.1 s {a['within_100ms']:.3f}, median |error| {a['median_abs_error_ms']} ms (class centre only: "
          f"{a['median_abs_error_ms_class']} ms), ECE {before['all']['ece']:.3f} -> {a['ece']:.3f}")
    if run.worse:
        _err(f"avsync: warning: the fitted calibration is WORSE on {args.test_split} than none "
             f"(ECE {before['all']['ece']:.3f} -> {a['ece']:.3f}); do not use {out}")
    if a["usable"] < 50:
        _err(f"avsync: warning: measured on only {a['usable']} files: the calibration is not reliable")
    return 0


# --------------------------------------------------------------------------------------------------
# registration


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add check, timeline, desync, explain, demo and calibrate."""
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
    _model_args(p)
    p.set_defaults(func=cmd_check)

    p = subparsers.add_parser("timeline", help="offset and confidence over time: drift and stretches without evidence",
                              description="Windows every --stride seconds (default: a fifth of the window); "
                                          "segments of constant offset (drift when more than one) and stretches "
                                          "without evidence (silent, still or low confidence).")
    p.add_argument("video", metavar="VIDEO", help="the video file")
    p.add_argument("--plot", metavar="PNG", help="write the heat-map of class probabilities over time")
    p.add_argument("--format", choices=["table", "json"], default="table", help="output format (default: table)")
    _model_args(p)
    p.set_defaults(func=cmd_timeline)

    p = subparsers.add_parser("desync", help="DeSync score for video-to-audio generation (first and last window)",
                              description="Per clip: |offset| of the first and of the last window, averaged; "
                                          "overall: the mean over clips (as in video-to-audio generation papers).")
    p.add_argument("paths", nargs="+", metavar="PATH", help="generated clips: files, folders (recursive) or globs")
    p.add_argument("--format", choices=["table", "json"], default="table", help="output format (default: table)")
    _model_args(p)
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
    _model_args(p)
    p.set_defaults(func=cmd_explain)

    p = subparsers.add_parser("demo", help="check the shipped example clips at known shifts",
                              description="Shift every example clip by known offsets (in a temporary folder) "
                                          "and print predicted against true offsets.")
    p.add_argument("--examples", metavar="DIR", help="folder of .mp4 clips (default: the shipped examples)")
    p.add_argument("--shifts", type=float, nargs="+", default=list(DEMO_SHIFTS), metavar="SEC",
                   help=f"offsets the clips are shifted by (> 0: audio ahead; default: {' '.join(map(str, DEMO_SHIFTS))})")
    p.add_argument("--format", choices=["table", "json"], default="table", help="output format (default: table)")
    _model_args(p)
    p.set_defaults(func=cmd_demo)

    p = subparsers.add_parser("calibrate", help="fit the confidence calibration of a model on a labelled split",
                              description="Simulate files at random offsets from one split (default val), fit "
                                          "the temperature and the sub-class refinement, measure on another "
                                          "split (default test), write <model>.calibration.json.")
    p.add_argument("--data", required=True, nargs="+", metavar="MANIFEST",
                   help="manifest CSV(s) (path, split, kind) or folders of in-sync videos")
    p.add_argument("--fit-split", default="val", help="split the calibration is fitted on (default: val)")
    p.add_argument("--test-split", default="test", help="split it is measured on (default: test)")
    p.add_argument("--per-clip", type=int, default=4, help="offsets drawn per clip (default: 4)")
    p.add_argument("--max-clips", type=int, default=None, help="use at most this many clips of each kind per split")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulated offsets (default: 0)")
    p.add_argument("--out", metavar="JSON", help="calibration file (required for the shipped models and xcorr; "
                                                 "default for your own model: beside its weights)")
    p.add_argument("--report", metavar="JSON", help="write the measurements here")
    p.add_argument("--plot", metavar="PNG", help="write the reliability diagram here")
    _model_args(p)
    p.set_defaults(func=cmd_calibrate)
