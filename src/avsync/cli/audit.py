"""``avsync audit``: does an encoding leak the offset through compression artefacts?

Encodes clips with no sync signal with exactly the given settings, trains a small SparseSync probe
on them and tests its held-out accuracy against chance (see ``avsync.audit`` and docs/audit.md).
"""

from __future__ import annotations

import argparse

_PROBE_NAMES = {"video": "video only", "audio": "audio only", "both": "both"}


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _bitrate(text: str) -> int:
    """``200000``, ``200k`` or ``2M`` -> bits per second."""
    t = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    try:
        return int(float(t[:-1] if scale > 1 else t) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a bitrate: {text!r} (e.g. 200k, 2M)") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``audit`` subcommand."""
    p = subparsers.add_parser(
        "audit", help="check whether an encoding leaks the offset through codec artefacts",
        description="Encode clips that carry no sync signal with exactly these settings, train a small "
                    "SparseSync probe with offsets made on the fly, and test its held-out accuracy against "
                    "chance (exact binomial test). Verdicts for 'video only' (audio replaced by fresh noise), "
                    "'audio only' (video replaced by a fresh still) and 'both'. See docs/audit.md.")
    enc = p.add_argument_group("encoding (passed unchanged to the encoder; unset = the encoder's default)")
    enc.add_argument("--vcodec", default="h264", help="video encoder, e.g. h264, mpeg4, libvpx (default h264)")
    enc.add_argument("--acodec", default="aac", help="audio encoder, e.g. aac, libopus, libmp3lame (default aac)")
    enc.add_argument("--sample-rate", type=_positive_int, default=16000, help="audio sample rate in Hz (default 16000)")
    enc.add_argument("--gop", type=_positive_int, help="keyframe interval in frames")
    rate = enc.add_mutually_exclusive_group()
    rate.add_argument("--crf", type=float, help="constant rate factor (x264/x265/libvpx)")
    rate.add_argument("--bitrate", type=_bitrate, help="video bitrate, e.g. 200k")
    enc.add_argument("--audio-bitrate", type=_bitrate, help="audio bitrate, e.g. 64k")
    enc.add_argument("--pix-fmt", default="yuv420p", help="pixel format (default yuv420p)")
    src = p.add_argument_group("clips and probe")
    src.add_argument("--from-video", metavar="PATH", help="take still frames and the noise spectrum from this "
                                                          "video instead of the synthetic 'static' kind")
    src.add_argument("--steps", type=_positive_int, default=150, help="training steps per probe (default 150)")
    src.add_argument("--clips", type=_positive_int, default=24, help="training clips (default 24)")
    src.add_argument("--test-clips", type=_positive_int, default=200,
                     help="held-out clips, one test example each per probe (default 200)")
    src.add_argument("--probes", default="video,audio,both",
                     help="comma list of video, audio, both (default all three)")
    src.add_argument("--window", type=float, help="crop length in seconds (default 0.6 s, or one GOP + 0.2 s)")
    src.add_argument("--jitter", type=float, default=0.0,
                     help="audio jitter of the 'both' probe in seconds (default 0: exact-grid crops)")
    src.add_argument("--size", type=int, default=64, help="encoded frame size in px (default 64)")
    src.add_argument("--frame-noise", type=float, default=2.0,
                     help="per-frame sensor noise std (0..255) added to the still pictures (default 2)")
    src.add_argument("--residual-gain", type=float, default=8.0,
                     help="the probe sees 0.5 + gain * (frame - mean frame of the crop); 0: raw frames (default 8)")
    src.add_argument("--keep", metavar="DIR", help="keep the encoded clips in DIR")
    p.add_argument("--out", metavar="JSON", help="write the report here")
    p.add_argument("--workers", type=int, default=1, help="data loader processes (default 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=run)


def _probes(text: str) -> tuple[str, ...]:
    from avsync.errors import UsageError

    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in _PROBE_NAMES]
    if bad or not names:
        raise UsageError(f"--probes: unknown {', '.join(bad) or '(empty)'}; choose from video, audio, both")
    return tuple(dict.fromkeys(_PROBE_NAMES[n] for n in names))


def run(args: argparse.Namespace) -> int:
    """Run the audit, print one verdict line a probe and a table, write the JSON report."""
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    from avsync.audit import (
        LEAKS,
        Encoding,
        ProbeConfig,
        run_audit,
        still_maker,
        write_report,
    )
    from avsync.errors import UsageError

    if args.out and args.from_video and Path(args.out).resolve() == Path(args.from_video).resolve():
        raise UsageError(f"{args.out}: --out would overwrite the input video")
    encoding = Encoding(args.vcodec, args.acodec, args.sample_rate, args.gop, args.crf, args.bitrate,
                        args.audio_bitrate, args.pix_fmt)
    cfg = ProbeConfig(size=args.size, window_sec=args.window, jitter_sec=args.jitter, frame_noise=args.frame_noise,
                      residual_gain=args.residual_gain,
                      clips=args.clips, test_clips=args.test_clips, steps=args.steps,
                      workers=max(0, args.workers), seed=args.seed, probes=_probes(args.probes))
    maker = still_maker(args.from_video, args.seed) if args.from_video else None
    console = Console(stderr=True)
    console.print(f"audit of {encoding.label()} ({'stills of ' + args.from_video if args.from_video else 'static clips'}): "
                  f"{cfg.clips} + {cfg.test_clips} clips, {cfg.grid.num_classes} offset classes, "
                  f"{cfg.window(encoding):g} s crops, {cfg.steps} steps a probe")

    def show(r) -> None:
        style = "bold red" if r.verdict == LEAKS else "green"
        console.print(f"  [{style}]{r.verdict}[/] {r.probe}: acc@1 {r.accuracy:.1%} vs chance {r.chance:.1%} "
                      f"({r.correct}/{r.n}, p = {r.p_value:.2g}, {r.wall_sec:.0f} s)")

    with console.status("encoding clips and training probes..."):
        report = run_audit(encoding, cfg, maker, args.from_video or "static", args.keep, on_result=show)
    table = Table(title=f"codec-artefact audit: {encoding.label()}",
                  caption=f"LEAKS: p < {cfg.alpha} (exact one-sided binomial) and acc@1 >= chance + {cfg.min_effect:.0%}")
    for col in ("probe", "acc@1", "chance", "correct", "p-value", "verdict"):
        table.add_column(col, justify="left" if col == "probe" else "right")
    for r in report.results:
        table.add_row(r.probe, f"{r.accuracy:.1%}", f"{r.chance:.1%}", f"{r.correct}/{r.n}", f"{r.p_value:.2g}",
                      f"[bold red]{r.verdict}[/]" if r.verdict == LEAKS else f"[green]{r.verdict}[/]")
    Console().print(table)
    print(f"verdict: {report.verdict} ({encoding.label()})")
    if args.out:
        write_report(report, args.out)
    return 0
