"""What the checker's commands share: the model options, loading the checker they ask for, expanding
paths, a progress bar on a terminal only, and printing."""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from avsync.errors import UsageError

if TYPE_CHECKING:
    from avsync.checker import SyncChecker
    from avsync.pool import CheckerSpec


def model_args(p: argparse.ArgumentParser, windows: bool = True) -> None:
    """Add the model options every checking command takes."""
    g = p.add_argument_group("model")
    g.add_argument("--model", default=None, metavar="NAME|PATH",
                   help="shipped model name or .safetensors path (default: the shipped default model)")
    g.add_argument("--method", choices=["model", "xcorr"], default="model",
                   help="'model' (learned, default) or 'xcorr' (training-free cross-correlation baseline)")
    g.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    g.add_argument("--max-offset", type=float, default=None, metavar="SEC",
                   help="search offsets up to +-SEC (default: 5 s where the file is long enough; the record's "
                        "search_sec says what was searched). The engine (the default model) only")
    g.add_argument("--experts", nargs="+", default=(), metavar="NAME", choices=["motion-onset"],
                   help="the engine only: add these experts' evidence to the model's (motion-onset: hand-made, "
                        "busiest-cell motion against onset strength); the record's experts lists them")
    g.add_argument("--speech", choices=["auto", "on", "off"], default="off",
                   help="the engine only: the speech expert (faces, lips and speech activity; needs the speech "
                        "extra): on, off (default, see docs/speech.md), or auto (on when the extra is installed)")
    g.add_argument("--lips", default=None, metavar="NAME|PATH",
                   help="the speech expert's lip scorer: a shipped name (default lipnet-v2; lipnet-v1), hand (nothing "
                        "learnt) or a .safetensors path")
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
    """UsageError unless ``device`` names a torch device that is there (``cuda`` needs a GPU); ``cpu`` is
    always there, and is told without loading torch (a check can start decoding meanwhile)."""
    if device == "cpu":
        return
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


def checker_spec(args: argparse.Namespace) -> "CheckerSpec":
    """The checker the arguments ask for, checked, as a spec that worker processes can load too."""
    from avsync.pool import CheckerSpec

    if args.batch_size < 1 or args.workers < 0:
        raise UsageError("--batch-size must be >= 1 and --workers >= 0")
    if getattr(args, "window", None) is not None and args.window <= 0:
        raise UsageError("--window must be > 0")
    if getattr(args, "stride", None) is not None and args.stride <= 0:
        raise UsageError("--stride must be > 0")
    if args.method == "xcorr" and args.model not in (None, "xcorr"):
        raise UsageError("--method xcorr uses no model: drop --model")
    if args.min_confidence is not None and not 0 <= args.min_confidence <= 1:
        raise UsageError("--min-confidence must lie in 0..1")
    max_offset = getattr(args, "max_offset", None)
    if max_offset is not None and max_offset <= 0:
        raise UsageError("--max-offset must be > 0")
    check_device(args.device)
    return CheckerSpec("xcorr" if args.method == "xcorr" else args.model, args.device, args.batch_size,
                       args.workers, args.min_confidence, max_offset, tuple(getattr(args, "experts", ()) or ()),
                       getattr(args, "speech", "off"), getattr(args, "lips", None))


def load_checker(args: argparse.Namespace) -> "SyncChecker":
    """The checker the arguments ask for."""
    return checker_spec(args).load()


@contextlib.contextmanager
def checker_reading(spec: "CheckerSpec", path: str, window: float | None, stride: float | None,
                    per_window: int = 2) -> Iterator["SyncChecker"]:
    """The checker of ``spec``, the windows of ``path`` it reads first (every ``stride`` s, default a window /
    ``per_window``) decoding in a child process since before torch loaded (:meth:`CheckerSpec.early_windows`),
    which is closed in the end whatever happens."""
    early = spec.early_windows(path, window, stride, per_window)
    try:
        yield spec.load(early)
    finally:
        if early is not None:
            early.close()


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


def progress_bar(total: int, what: str, minimum: int = 2) -> Any:
    """A rich progress bar on stderr, shown only on a terminal and for ``minimum`` items or more."""
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
                   disable=total < minimum or not console.is_terminal)
    return bar


@contextlib.contextmanager
def seconds_progress(checker: "SyncChecker", path: str) -> Iterator[None]:
    """A progress bar over the seconds of one file while ``checker`` scores it (terminal only)."""
    from avsync.media import probe

    try:
        seconds = max(1, int(round(probe(path).duration_sec)))
    except Exception:  # an unreadable file gets its one-line error from the check itself
        yield
        return
    with progress_bar(seconds, f"{Path(path).name} (s)", minimum=1) as bar:
        task = bar.add_task("seconds", total=seconds, name="")
        checker.on_progress = lambda done, total: bar.update(task, completed=round(seconds * done / max(1, total)))
        try:
            yield
        finally:
            checker.on_progress = None


def err(msg: str) -> None:
    """Print one line on stderr."""
    print(msg, file=sys.stderr)


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    print(json.dumps(data, indent=1))
