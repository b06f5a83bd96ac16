"""Writing files so that nothing a user owns is half-written or lost: every output goes to a
temporary name beside its destination and is renamed over it only once complete."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator


def temp_sibling(path: str | os.PathLike) -> Path:
    """A hidden temporary name in the folder of ``path`` that keeps its extension (writers such as
    FFmpeg and matplotlib pick the format by extension) and names this process."""
    path = Path(path)
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` (folders made as needed),
    on failure it is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(path)
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def ensure_writable(path: str | os.PathLike) -> None:
    """Fail now, before any work, when ``path`` cannot be written: an OSError naming the path
    (a read-only folder, a parent that is a file). Makes missing folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    probe = temp_sibling(path).with_suffix(".probe")
    probe.write_text("")
    probe.unlink()
