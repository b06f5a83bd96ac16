"""``avsync synth``: generate a synthetic dense, sparse, static or real dataset with a manifest."""

from __future__ import annotations

import argparse
import os
import time

from avsync.errors import UsageError


def _crf(text: str) -> float | tuple[float, float] | None:
    if text == "default":
        return None
    try:
        lo, _, hi = text.partition("-")
        return (float(lo), float(hi)) if hi else float(lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number, a range LO-HI or 'default': {text!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``synth`` subcommand."""
    p = subparsers.add_parser(
        "synth", help="generate a synthetic sync dataset (dense / sparse / static / real)",
        description="Generate N encoded clips and DIR/manifest.csv. Clip i of a set depends only on "
                    "(kind, seed, i); clips already in DIR are kept, so an interrupted run resumes.")
    p.add_argument("kind", choices=["dense", "sparse", "static", "real"],
                   help="which dataset (real: real sounds and pictures from the real-media bank, see --real-dir)")
    p.add_argument("--n", type=int, required=True, help="number of clips")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=0, help="set seed (default 0)")
    p.add_argument("--duration", type=float, default=10.0, help="clip length in seconds (default 10)")
    p.add_argument("--size", type=int, default=256, help="frame height (= width, unless --width) in px (default 256)")
    p.add_argument("--width", type=int, default=None, help="real: frame width in px, e.g. 456 for 16:9 at --size 256 "
                   "(default: square)")
    p.add_argument("--real-dir", default=None,
                   help="real: the real-media folder (default: $AVSYNC_REAL_DIR, else data/real)")
    p.add_argument("--fps", type=float, default=25.0, help="frame rate (default 25)")
    p.add_argument("--sample-rate", type=int, default=16000, help="audio sample rate in Hz (default 16000)")
    p.add_argument("--vcodec", default="h264", help="video codec (default h264, yuv420p)")
    p.add_argument("--acodec", default="aac", help="audio codec (default aac)")
    p.add_argument("--crf", default="18-30", type=_crf,
                   help="x264 quality: a number, a range LO-HI drawn per clip, or 'default' (default 18-30)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: all cores)")
    g = p.add_argument_group("difficulty")
    g.add_argument("--min-events", type=int, default=1, help="sparse: fewest audio-visual events a clip (1)")
    g.add_argument("--max-events", type=int, default=3, help="sparse: most audio-visual events a clip (3)")
    g.add_argument("--object-scale", type=float, default=1.0, help="size of event objects and mouths (1.0)")
    g.add_argument("--distractors", type=int, default=4, help="most silent moving objects a clip (4)")
    g.add_argument("--snr-db", type=float, default=20.0, help="event/speech level over the ambience, dB (20)")
    g.add_argument("--unexplained", type=int, default=2, help="sparse: most sounds without visible cause (2)")
    g.add_argument("--speakers", type=int, default=2, help="dense: most talkers a clip (2)")
    g.add_argument("--music", type=float, default=0.25,
                   help="dense: share of clips with a ball bouncing on irregular beats instead of talkers (0.25)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate the set and print a summary; exit 1 if some clips failed."""
    from rich.console import Console

    from avsync.cli.common import progress_bar
    from avsync.data.synthetic import Encoding, SynthConfig, generate_set

    if args.n < 1 or args.workers < 1:
        raise UsageError("--n and --workers must be at least 1")
    if args.kind != "real" and (args.width is not None or args.real_dir is not None):
        raise UsageError("--width and --real-dir are for the real kind only")
    try:
        values = (args.duration, args.size, args.fps, args.sample_rate, args.min_events, args.max_events,
                  args.object_scale, args.distractors, args.snr_db, args.unexplained, args.speakers, args.music)
        if args.kind == "real":
            from avsync.data.synth_real import RealConfig

            cfg: SynthConfig = RealConfig(*values, width=args.width, real_dir=args.real_dir)
        else:
            cfg = SynthConfig(*values)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if args.kind == "real":                   # no bank: one line, before the progress bar
        from avsync.data.banks import load_banks

        load_banks(args.real_dir)
    console = Console(stderr=True)
    start = time.time()
    with progress_bar(args.n, f"synth {args.kind}", minimum=1) as bar:
        task = bar.add_task("clips", total=args.n, name="")
        manifest, failures = generate_set(args.out, args.kind, args.n, args.seed, cfg,
                                          Encoding(args.vcodec, args.acodec, args.crf), args.workers,
                                          progress=lambda i, err: bar.advance(task))
    minutes = (time.time() - start) / 60
    for line in failures:
        console.print(f"[red]failed:[/red] {line}")
    console.print(f"{args.n - len(failures)} clips in {minutes * 60:.1f} s "
                  f"({(args.n - len(failures)) / max(minutes, 1e-9):.1f} clips/min), manifest: {manifest}")
    return 1 if failures else 0
