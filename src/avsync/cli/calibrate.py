"""``avsync calibrate``: fit a model's confidence calibration on a labelled split (the work is
:func:`avsync.checker.fitting.calibrate`; this parses, writes and prints)."""

from __future__ import annotations

import argparse
import json

from avsync.cli.common import err, load_checker, model_args, progress_bar
from avsync.errors import UsageError
from avsync.fileio import ensure_writable, write_text_atomic


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Fit the temperature and refinement on one split, measure on another, write the calibration."""
    import avsync
    from avsync.checker import Calibration, OffsetChecker, weights_digest
    from avsync.checker.offset_fitting import calibrate_offsets
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
    provenance = {"data": [str(d) for d in args.data], "fit_split": args.fit_split, "test_split": args.test_split}
    if weights is not None:
        provenance.update(weights=weights.name, weights_sha256=weights_digest(weights))
    bars = []

    def progress(what: str):
        sources = fit if what == "fitting" else test
        bar = progress_bar(len(sources), f"{what} on {args.fit_split if what == 'fitting' else args.test_split}")
        bar.start()
        bars.append(bar)
        task = bar.add_task(what, total=len(sources), name="")
        return lambda: bar.advance(task)

    if isinstance(checker, OffsetChecker):
        base = checker.calibration if args.min_confidence is None else \
            checker.calibration.with_min_confidence(args.min_confidence)
        try:
            run = calibrate_offsets(checker, [s.path for s in fit], [s.path for s in test], args.per_clip, args.seed,
                                    base, provenance, progress)
        finally:
            for bar in bars:
                bar.stop()
        return _engine_report(args, checker, run, out)
    min_conf = 0.2 if args.min_confidence is None else args.min_confidence
    base = Calibration().with_min_confidence(min_conf)
    try:
        run = calibrate(checker, fit, test, args.per_clip, args.seed, args.window, args.stride, base, provenance,
                        progress)
    finally:
        for bar in bars:
            bar.stop()
    for f in run.skipped:
        err(f"avsync: skipped {f}")
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
        err(f"avsync: warning: the fitted calibration is WORSE on {args.test_split} than none "
             f"(ECE {before['all']['ece']:.3f} -> {a['ece']:.3f}); do not use {out}")
    if a["usable"] < 50:
        err(f"avsync: warning: measured on only {a['usable']} files: the calibration is not reliable")
    return 0


def _engine_report(args: argparse.Namespace, checker, run, out) -> int:
    """Write the engine's calibration (and report / plot) and print what it measured."""
    from avsync.plots import reliability_plot

    for f in run.skipped:
        err(f"avsync: skipped {f}")
    cal, before, after = run.calibration, run.before, run.after
    cal.save(out)
    if args.report:
        write_text_atomic(args.report, json.dumps({"method": checker.name, "calibration": str(out),
                                                   "sharpness": cal.sharpness, "before": before,
                                                   "after": after}, indent=1) + "\n")
    if args.plot:
        reliability_plot(after["reliability"], args.plot,
                         title=f"{checker.name}: {args.test_split} split, {after['files']} shifted files and "
                               f"{after['mismatched']} mismatched pairs (sharpness {cal.sharpness:.2f})")
    print(f"{checker.name}: sharpness {cal.sharpness:.3f} -> {out}")
    print(f"{args.test_split}: {after['files']} shifted files, within 0.1 s {after['within_0.1']}, median |error| "
          f"{after['median_abs_error_ms']} ms, ECE {before['ece']:.3f} -> {after['ece']:.3f}; answered "
          f"{after['answered']} (right {after['right_when_answered']}), fixable {after['fixable']} "
          f"(right {after['right_when_fixable']}); {after['mismatched']} mismatched pairs, refused "
          f"{after['mismatched_refused']}")
    if after["files"] < 50:
        err(f"avsync: warning: measured on only {after['files']} files: the calibration is not reliable")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``calibrate``."""
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
    model_args(p)
    p.set_defaults(func=cmd_calibrate)
