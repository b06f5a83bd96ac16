"""The ``avsync`` command line: a thin layer over the Python API.

Each module in this package registers its subcommands with ``register(subparsers)`` and must not
import torch at module level, so that ``avsync --help`` and ``avsync probe`` start fast. A command
function receives the parsed arguments and returns the exit status.

Exit status: 0 when everything asked for was done, 1 when some input failed, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from typing import Sequence

from avsync.errors import AvsyncError, UsageError

# One module a pipeline stage; their subcommands appear in this order in --help.
COMMAND_MODULES = ["media", "synth", "cache", "models", "train", "check", "fix", "demo", "calibrate", "audit"]

# Training is an extra (`pip install 'avsync[train]'`): checking files needs none of these packages.
TRAIN_EXTRA = ("lightning", "torchmetrics", "omegaconf")
TRAIN_COMMANDS = ("train", "evaluate", "audit")  # they train or use the training stack
NEEDS_TRAIN_EXTRA = "training needs the train extra: pip install 'avsync[train]'"


def train_extra_missing() -> bool:
    """Whether a package of the train extra is not installed (looked up, not imported)."""
    for name in TRAIN_EXTRA:
        try:
            if importlib.util.find_spec(name) is None:
                return True
        except (ImportError, ValueError):
            return True
    return False


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 on usage errors; keep it one line
        self.print_usage(sys.stderr)
        print(f"avsync: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered subcommand."""
    from avsync import __version__

    parser = _Parser(prog="avsync", description="Audio-visual synchronisation: check, explain and fix offsets.")
    parser.add_argument("--version", action="version", version=f"avsync {__version__}", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"avsync.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"avsync.cli.{name}":
                raise
            continue  # a stage not built yet
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``avsync`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        if args.command in TRAIN_COMMANDS and train_extra_missing():
            raise UsageError(NEEDS_TRAIN_EXTRA)
        return int(args.func(args) or 0)
    except ModuleNotFoundError as e:
        if (e.name or "").partition(".")[0] not in TRAIN_EXTRA:
            raise
        print(f"avsync: error: {NEEDS_TRAIN_EXTRA}", file=sys.stderr)
        return 2
    except UsageError as e:
        print(f"avsync: error: {e}", file=sys.stderr)
        return 2
    except AvsyncError as e:
        print(f"avsync: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # every failure to write an output: one line naming the path
        where = e.filename if e.filename is not None else "output"
        print(f"avsync: error: {where}: {e.strerror or e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("avsync: interrupted", file=sys.stderr)
        return 130


def run() -> None:
    """The ``avsync`` console script (and ``python -m avsync``): :func:`main`, then the process ends at once,
    without the interpreter's teardown, which only unloads modules (with torch loaded it takes 0.27 s,
    4 % of checking a 4-minute file). Every command closes what it opened before it returns; the training
    commands, whose worker processes and loggers finish in exit handlers, end the usual way."""
    code = main()
    command = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    if command in TRAIN_COMMANDS:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):   # a closed pipe (``| head``) or stream: nothing more can reach it
            pass
    os._exit(code)


if __name__ == "__main__":
    run()
