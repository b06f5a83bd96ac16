"""``avsync fix``: write a copy of a video with its audio delayed by the measured (or given) offset
and everything else kept: every stream, their languages, titles and dispositions, the chapters, the
container's tags and the whole picture (stream-copied). A thin layer over
:func:`avsync.media.fix_audio`; the checker (and torch) load only when the offset is measured.

Exit status: 0 when the file was written, 1 when it could not be (or the offset could not be
measured with enough confidence), 2 for a usage error.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avsync.cli.common import checker_reading, checker_spec, model_args, print_json
from avsync.errors import AvsyncError

if TYPE_CHECKING:
    from avsync.media.fix import FixReport

DESCRIPTION = """\
Write OUT: VIDEO with its audio DELAYED by the file's offset (> 0: the audio
is ahead of the picture), measured by the model on the first audio track
unless --offset is given. So `avsync fix VIDEO -o OUT --offset 0.5` delays the
audio by 0.5 s, undoing an audio-ahead offset of 0.5 s: the opposite direction
of `avsync shift VIDEO OUT --offset 0.5`, which moves the audio 0.5 s ahead. A
negative offset advances the audio.

Nothing else changes: every stream (all video, audio and subtitle tracks, data
streams, attachments), their languages, titles and default/forced flags, the
chapters and the container's tags are kept. The video is stream-copied (never
re-encoded, never cut): OUT lasts as long as VIDEO. The tracks fixed (--track;
default: all audio tracks) are re-encoded in their own codec, sample rate and
channel layout where FFmpeg has an encoder for it (else in one the container
takes, and the output says which): a delayed track starts with silence, an
advanced one loses its first seconds and ends with silence. The other audio
tracks are stream-copied. A stream OUT's container cannot hold is an error,
never silently dropped. OUT is written to a temporary file beside it, then
renamed; it may not be VIDEO, and an existing OUT is replaced only with
--overwrite."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``fix``."""
    p = subparsers.add_parser("fix", help="delay the audio by the measured (or given) offset, keeping all else",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("video", metavar="VIDEO", help="the video to fix (never written)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="the fixed copy; its extension picks the container (.mp4, .mkv, .mov, .webm, .avi...)")
    p.add_argument("--offset", type=float, default=None, metavar="SEC",
                   help="the file's offset instead of measuring it: > 0 means the audio is AHEAD, and fix "
                        "DELAYS the audio by SEC (--offset 0.5 undoes audio 0.5 s ahead; the opposite of "
                        "`avsync shift --offset 0.5`); < 0 advances it")
    p.add_argument("--track", type=int, action="append", default=None, metavar="N",
                   help="audio track to fix, 0-based among the file's audio tracks; repeat for several "
                        "(default: every audio track, by the same offset). The offset is measured on track 0")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists (default: refuse)")
    p.add_argument("--fix-confidence", type=float, default=None, metavar="P",
                   help="apply a measured offset only at this calibrated confidence or more (default: the "
                        "model's fix_min_confidence, 0.7, stricter than check's 0.2)")
    p.add_argument("--format", choices=["table", "json"], default="table",
                   help="table: one line saying what was written and kept; json: the whole report")
    model_args(p)
    p.set_defaults(func=cmd_fix)


def cmd_fix(args: argparse.Namespace) -> int:
    """Measure the offset (unless given), then write the fixed copy and say what it holds."""
    from avsync.errors import UsageError
    from avsync.media.fix import check_fix, fix_audio

    src, dst = Path(args.video), Path(args.output)
    if args.fix_confidence is not None and not 0 <= args.fix_confidence <= 1:
        raise UsageError("--fix-confidence must lie in 0..1")
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise UsageError(f"{dst}: refusing to write over the input; choose another -o")
    tracks = check_fix(src, dst, args.track, args.overwrite)  # before the (slow) measurement
    measured = None
    if args.offset is None:
        with checker_reading(checker_spec(args), str(src), args.window, args.stride) as checker:
            measured = checker.check(src, window=args.window, stride=args.stride)
        if not measured.synchronisable:
            raise AvsyncError(f"{src}: not synchronisable ({measured.reason}); nothing fixed "
                              f"(give --offset to shift it anyway)")
        needed = checker.calibration.fix_min_confidence if args.fix_confidence is None else args.fix_confidence
        if measured.confidence < needed:
            raise AvsyncError(f"{src}: measured {measured.offset_sec:+.3f} s at confidence {measured.confidence:.2f}, "
                              f"under the {needed:.2f} that fix needs; nothing fixed (give --offset to shift it anyway)")
        offset = float(measured.offset_sec)
    else:
        offset = float(args.offset)
    report = fix_audio(src, dst, offset, tracks=tracks, overwrite=args.overwrite)
    if args.format == "json":
        print_json(_record(report, measured))
    else:
        how = f"measured, confidence {measured.confidence:.2f}" if measured else "given"
        print(_line(report, how))
        for note in report.notes:
            print(f"  note: {note}")
    return 0


def _record(report: "FixReport", measured: Any) -> dict[str, Any]:
    d = report.to_dict()
    return {"path": d.pop("src"), "out": d.pop("dst"), "offset_sec": round(d.pop("offset_sec"), 4),
            "measured": measured is not None,
            "confidence": None if measured is None else round(measured.confidence, 4), **d}


def _line(r: "FixReport", how: str) -> str:
    """One line: the offset, what was done to which track in which codec, what was kept."""
    side = "ahead of" if r.offset_sec >= 0 else "behind"
    verb = "delayed" if r.offset_sec >= 0 else "advanced"
    tracks = ", ".join(f"{t} ({r.codecs[t]})" for t in r.tracks)
    kinds = Counter(s.type for s in r.streams)
    kept = ", ".join(f"{n} {kind}" for kind, n in kinds.items())
    return (f"{r.src}: audio {abs(r.offset_sec):.3f} s {side} the picture ({how}); {verb} audio "
            f"track{'s' if len(r.tracks) > 1 else ''} {tracks} by {abs(r.offset_sec):.3f} s -> {r.dst}; "
            f"kept all {len(r.streams)} streams ({kept}; video stream-copied, whole), "
            f"{r.chapters} chapter{'' if r.chapters == 1 else 's'} and the tags")
