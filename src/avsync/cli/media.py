"""``avsync probe``, ``avsync shift`` and ``avsync prepare``: the media commands."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``probe``, ``shift`` and ``prepare`` subcommands."""
    p = subparsers.add_parser("probe", help="show the streams of media files",
                              description="Duration, frame rate (and whether it varies), size, rotation, "
                                          "codecs, sample rate, channels and stream start times.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="media files")
    p.add_argument("--format", choices=["table", "json"], default="table", help="output format (default: table)")
    p.set_defaults(func=run_probe)

    p = subparsers.add_parser("shift", help="write a copy whose audio is moved against the picture",
                              description="Write OUT, a copy of IN whose audio is OFFSET seconds AHEAD of the "
                                          "picture compared to IN (negative: behind). The video is stream-copied "
                                          "where possible; the output covers the overlap of audio and picture.")
    p.add_argument("src", metavar="IN", help="input video")
    p.add_argument("dst", metavar="OUT", help="output video (must differ from IN)")
    p.add_argument("--offset", type=float, required=True, metavar="S",
                   help="seconds the audio moves AHEAD of the picture (negative: behind): this MAKES an offset "
                        "of S (for test material); `avsync fix --offset S` undoes one, moving the audio the "
                        "other way")
    p.set_defaults(func=run_shift)

    p = subparsers.add_parser("prepare", help="re-encode a folder of videos for training",
                              description="Re-encode every video under IN_DIR into OUT_DIR (same layout, .mp4): "
                                          "H.264 yuv420p at a constant 25 fps, short side 256, AAC 16 kHz mono. "
                                          "Finished outputs are skipped, so an interrupted run resumes.")
    p.add_argument("in_dir", metavar="IN_DIR", help="folder of input videos (searched recursively)")
    p.add_argument("out_dir", metavar="OUT_DIR", help="output folder (outside IN_DIR)")
    p.add_argument("--workers", type=int, default=None, metavar="K", help="worker processes (default: min(4, CPUs))")
    p.add_argument("--fps", type=float, default=25.0, help="output frame rate (default: 25)")
    p.add_argument("--size", type=int, default=256, help="output short side in pixels (default: 256)")
    p.add_argument("--sample-rate", type=int, default=16000, help="output audio sample rate (default: 16000)")
    p.set_defaults(func=run_prepare)


def _probe_table(infos: list) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="avsync probe")
    table.add_column("path", overflow="fold")
    table.add_column("duration", justify="right")
    table.add_column("video")
    table.add_column("audio")
    for i in infos:
        v, a = i.video, i.audio
        video = "-" if v is None else (
            f"{v.codec} {v.width}x{v.height} {v.fps:.3f} fps" + (" (variable)" if v.variable_fps else "")
            + (f" rotated {v.rotation}" if v.rotation else "") + f", {v.num_frames} frames from {v.start_sec:.3f} s")
        audio = "-" if a is None else f"{a.codec} {a.sample_rate} Hz {a.channels} ch from {a.start_sec:.3f} s"
        table.add_row(i.path, f"{i.duration_sec:.3f} s", video, audio)
    Console().print(table)


def run_probe(args: argparse.Namespace) -> int:
    """Probe every path; print a table or JSON. Files that fail are reported and skipped."""
    from avsync.errors import AvsyncError
    from avsync.media.probe import probe

    infos, failed = [], []
    for path in args.paths:
        try:
            infos.append(probe(path))
        except AvsyncError as e:
            failed.append((path, str(e)))
    if args.format == "json":
        rows = [i.to_dict() for i in infos] + [{"path": p, "error": e} for p, e in failed]
        print(json.dumps(rows, indent=2))
    else:
        if infos:
            _probe_table(infos)
        for _, e in failed:
            print(f"avsync: error: {e}", file=sys.stderr)
    return 1 if failed else 0


def run_shift(args: argparse.Namespace) -> int:
    """Write the shifted copy and say what was written."""
    from avsync.media.edit import shift_audio
    from avsync.media.probe import probe

    dst = shift_audio(args.src, args.dst, args.offset)
    side = "ahead of" if args.offset >= 0 else "behind"
    print(f"{dst}: audio {abs(args.offset):.3f} s {side} the picture compared to {args.src}, "
          f"{probe(dst).duration_sec:.2f} s long")
    return 0


def run_prepare(args: argparse.Namespace) -> int:
    """Re-encode the folder, then summarise: written, skipped, failed (each failure on its own line)."""
    from avsync.cli.common import progress_bar
    from avsync.errors import UsageError
    from avsync.media.prepare import PrepareConfig, prepare_folder

    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    cfg = PrepareConfig(fps=args.fps, size=args.size, sample_rate=args.sample_rate)
    with progress_bar(2, "prepare") as bar:      # its total is known once the folder is planned
        task = bar.add_task("prepare", total=None, name="")
        summary = prepare_folder(args.in_dir, args.out_dir, args.workers, cfg,
                                 progress=lambda done, total: bar.update(task, completed=done, total=total))
    print(f"prepare: {len(summary.done)} written, {len(summary.skipped)} already done, "
          f"{len(summary.failed)} failed")
    for _, error in summary.failed:
        print(f"avsync: error: {error}", file=sys.stderr)
    return 1 if summary.failed else 0
