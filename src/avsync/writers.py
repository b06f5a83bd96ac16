"""Writing CheckResult records: a rich ``table``, ``json``, ``jsonl`` or ``csv``, to stdout or ``--out``.

With ``--out``, the ``jsonl``/``csv``/``json`` writers resume: records already in the file are kept
and :meth:`Writer.done` names their paths so the caller can skip them. ``jsonl`` and ``csv`` append one
flushed, fsynced line per record, and a line cut short by a crash is dropped on the next run, so a
crash loses nothing already written; ``json`` rewrites the whole file through a temp file + rename
after every record (fine for hundreds of files; use ``jsonl`` for thousands).
"""

from __future__ import annotations

import abc
import csv
import io
import json
import os
import sys
from pathlib import Path
from typing import IO, Any, Iterable

from avsync.checker.results import CheckResult
from avsync.errors import UsageError
from avsync.fileio import atomic_path, ensure_writable, write_text_atomic

FORMATS = ("table", "json", "jsonl", "csv")
CSV_FIELDS = ["path", "offset_sec", "offset_frames", "confidence", "synchronisable", "windows", "top",
              "reason", "error", "duration_sec", "method", "frame_rate", "precision_sec", "warning", "resolved_path"]
TABLE_TITLE = "avsync check  (offset > 0: audio ahead of the picture)"
# ITU-R BT.1359 acceptability: audio up to 90 ms ahead or 185 ms behind the picture passes.
ACCEPT_AHEAD_SEC, ACCEPT_LATE_SEC = 0.090, 0.185


def verdict(r: CheckResult) -> str:
    """A short human verdict: in sync / audio ahead / audio late (ITU-R BT.1359 acceptability),
    not synchronisable, or failed."""
    if r.error:
        return "failed"
    if not r.synchronisable or r.offset_sec is None:
        return "not synchronisable"
    if -ACCEPT_LATE_SEC <= r.offset_sec <= ACCEPT_AHEAD_SEC:
        return "in sync"
    return "audio ahead" if r.offset_sec > 0 else "audio late"


def path_key(path: str | os.PathLike) -> str:
    """The identity by which a resumed run recognises a file already done: its absolute path with
    links resolved, the same from whatever working folder."""
    return os.path.realpath(os.fspath(path))


SUFFIX_FORMATS = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


def output_format(fmt: str | None, out: str | os.PathLike | None) -> str:
    """The format to write: ``fmt`` when given, else the one ``out``'s extension names, else a
    table. A ``fmt`` that contradicts the extension is a UsageError (never a JSONL file of CSV)."""
    implied = SUFFIX_FORMATS.get(Path(out).suffix.lower()) if out is not None else None
    if fmt is None:
        return implied or "table"
    if implied is not None and fmt != implied:
        raise UsageError(f"{out}: the extension says {implied} but --format is {fmt}; "
                         f"make them agree (or drop --format)")
    return fmt


def _complete_lines(path: Path) -> list[str]:
    """The complete lines of ``path``; a trailing partial line (a crash mid-write) is cut off the file."""
    if not path.is_file():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with path.open("r+b") as f:
            f.truncate(end)
    return data[:end].decode("utf-8", errors="replace").splitlines()


class Writer(abc.ABC):
    """Base writer: ``write`` one record, ``close`` at the end; ``done`` = paths already in ``--out``."""

    def __init__(self, out: str | os.PathLike | None = None, stream: IO[str] | None = None,
                 windows: bool = False) -> None:
        self.out = Path(out) if out is not None else None
        self.stream = stream or sys.stdout
        self.windows = windows
        self._done: set[str] = set()

    def done(self) -> set[str]:
        """Absolute paths of the files whose records are already in ``--out``."""
        return set(self._done)

    def record(self, r: CheckResult) -> dict[str, Any]:
        """The dict written for one result (with ``resolved_path``, the file's identity for resuming)."""
        return {**r.to_dict(windows=self.windows), "resolved_path": path_key(r.path)}

    def refuse(self, why: str) -> None:
        """Refuse an existing ``--out`` that is not this format's: it is never overwritten."""
        raise UsageError(f"{self.out}: exists and {why}; it is left as it is: choose another --out "
                         f"or the format it holds")

    @abc.abstractmethod
    def write(self, r: CheckResult) -> None:
        """Write one record."""

    def close(self) -> None:
        """Finish the output."""

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _LineWriter(Writer):
    """Append-only line formats (jsonl, csv): one flushed + fsynced line per record."""

    def __init__(self, out: str | os.PathLike | None = None, stream: IO[str] | None = None,
                 windows: bool = False) -> None:
        super().__init__(out, stream, windows)
        self._file: IO[str] | None = None
        if self.out is not None:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            lines = _complete_lines(self.out)
            self._done = set(self.parse(lines))
            self._file = self.out.open("a", encoding="utf-8", newline="")
            if not lines:
                self.header()

    @abc.abstractmethod
    def parse(self, lines: list[str]) -> list[str]:
        """Identities of the records in existing lines; refuses lines of another format."""

    def header(self) -> None:
        """Write whatever starts a new file."""

    def line(self, text: str) -> None:
        """Write one line and make it durable."""
        target = self._file or self.stream
        target.write(text if text.endswith("\n") else text + "\n")
        target.flush()
        if self._file is not None:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class JsonlWriter(_LineWriter):
    """One JSON object a line."""

    def __init__(self, out: str | os.PathLike | None = None, stream: IO[str] | None = None,
                 windows: bool = True) -> None:
        super().__init__(out, stream, windows)

    def parse(self, lines: list[str]) -> list[str]:
        paths, damaged = [], 0
        for text in lines:
            try:
                d = json.loads(text)
                paths.append(d.get("resolved_path") or path_key(d["path"]))
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                damaged += 1  # a damaged line: that file is checked again
        if lines and damaged == len(lines):
            self.refuse("holds no JSONL records")
        return paths

    def write(self, r: CheckResult) -> None:
        self.line(json.dumps(self.record(r)))


class CsvWriter(_LineWriter):
    """Comma-separated values with a header; ``top`` as compact JSON."""

    def __init__(self, out: str | os.PathLike | None = None, stream: IO[str] | None = None) -> None:
        super().__init__(out, stream, windows=False)
        if self.out is None:
            self.header()

    def parse(self, lines: list[str]) -> list[str]:
        if lines and lines[0].split(",")[:1] != ["path"]:
            self.refuse("is not a CSV of check records (no path column first)")
        return [row.get("resolved_path") or path_key(row["path"]) for row in csv.DictReader(lines) if row.get("path")]

    def header(self) -> None:
        self.line(",".join(CSV_FIELDS))

    def write(self, r: CheckResult) -> None:
        d = self.record(r)
        d["top"] = json.dumps(d["top"], separators=(",", ":"))
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(["" if d[k] is None else d[k] for k in CSV_FIELDS])
        self.line(buf.getvalue())


class JsonWriter(Writer):
    """A JSON list; with ``--out`` the file is rewritten (temp + rename) after every record."""

    def __init__(self, out: str | os.PathLike | None = None, stream: IO[str] | None = None,
                 windows: bool = True) -> None:
        super().__init__(out, stream, windows)
        self.records: list[dict[str, Any]] = []
        if self.out is not None and self.out.is_file() and self.out.stat().st_size:
            try:
                self.records = list(json.loads(self.out.read_text()))
            except (json.JSONDecodeError, TypeError):
                self.refuse("is not a JSON list of records")
            self._done = {d.get("resolved_path") or path_key(d["path"])
                          for d in self.records if isinstance(d, dict) and "path" in d}
        if self.out is not None:
            ensure_writable(self.out)

    def write(self, r: CheckResult) -> None:
        self.records.append(self.record(r))
        if self.out is not None:
            write_text_atomic(self.out, json.dumps(self.records, indent=1) + "\n")

    def close(self) -> None:
        if self.out is None:
            self.stream.write(json.dumps(self.records, indent=1) + "\n")
            self.stream.flush()


class TableWriter(Writer):
    """A rich table printed at the end (to ``--out`` as plain text when given)."""

    def __init__(self, out: str | os.PathLike | None = None, stream: IO[str] | None = None) -> None:
        super().__init__(out, stream)
        self.results: list[CheckResult] = []
        if self.out is not None and self.out.is_file() and self.out.stat().st_size:
            with self.out.open(encoding="utf-8", errors="replace") as f:
                if TABLE_TITLE not in f.readline() + f.readline():
                    self.refuse("is not a table written by avsync check")
        if self.out is not None:
            ensure_writable(self.out)

    def write(self, r: CheckResult) -> None:
        self.results.append(r)

    def close(self) -> None:
        from rich.console import Console

        table = results_table(self.results)
        if self.out is None:
            tty = hasattr(self.stream, "isatty") and self.stream.isatty()
            Console(file=self.stream, width=None if tty else 200).print(table)
            return
        try:
            with atomic_path(self.out) as tmp, tmp.open("w", encoding="utf-8") as f:
                Console(file=f, width=160, color_system=None).print(table)
        except OSError:
            Console(file=self.stream, width=200).print(table)   # the results are kept: on stdout
            raise


_STYLE = {"in sync": "green", "audio ahead": "yellow", "audio late": "yellow",
          "not synchronisable": "dim", "failed": "red"}


def results_table(results: Iterable[CheckResult]) -> Any:
    """A rich Table of results: file, offset (s and frames), confidence, windows, verdict."""
    from rich.table import Table

    table = Table(title=TABLE_TITLE)
    for name, justify in (("file", "left"), ("offset s", "right"), ("frames", "right"),
                          ("confidence", "right"), ("windows", "right"), ("verdict", "left")):
        table.add_column(name, justify=justify, overflow="fold")
    for r in results:
        v = verdict(r)
        if r.error:
            table.add_row(r.path, "", "", "", "", f"[red]{r.error}[/red]")
            continue
        off = "" if r.offset_sec is None else f"{r.offset_sec:+.3f}"
        frames = "" if r.offset_frames is None else f"{r.offset_frames:+d}"
        conf = "" if r.confidence is None else f"{r.confidence:.2f}"
        note = f"{v} ({r.reason})" if r.reason else v
        note += f"; {r.warning}" if r.warning else ""
        table.add_row(r.path, off, frames, conf, str(r.windows), f"[{_STYLE[v]}]{note}[/{_STYLE[v]}]")
    return table


def open_writer(fmt: str, out: str | os.PathLike | None = None, stream: IO[str] | None = None,
                windows: bool = True) -> Writer:
    """The writer for ``fmt`` (one of FORMATS); ``windows`` adds per-window answers to JSON records."""
    if fmt == "table":
        return TableWriter(out, stream)
    if fmt == "json":
        return JsonWriter(out, stream, windows)
    if fmt == "jsonl":
        return JsonlWriter(out, stream, windows)
    if fmt == "csv":
        return CsvWriter(out, stream)
    raise UsageError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
