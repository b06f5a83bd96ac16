"""Dataset manifests: one CSV row a clip with ``path, split, kind, duration_sec, events``.

``path`` is stored relative to the manifest's folder (so a dataset folder can be moved) and read
back as an absolute path; ``events`` is a JSON list of event dicts (see avsync.data.synthetic).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from avsync.errors import FileMissingError, MediaError
from avsync.fileio import atomic_path

COLUMNS = ("path", "split", "kind", "duration_sec", "events")


@dataclass
class ManifestRow:
    """One clip of a dataset."""

    path: str
    split: str
    kind: str = ""
    duration_sec: float = 0.0
    events: list[dict[str, Any]] = field(default_factory=list)


def write_manifest(rows: Iterable[ManifestRow], path: str | Path) -> Path:
    """Write ``rows`` to the CSV ``path`` (temp file + rename); paths inside the manifest's folder
    are stored relative to it."""
    path = Path(path)
    root = path.parent.resolve()
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for r in rows:
            p = Path(r.path)
            p = p if p.is_absolute() else p.resolve()  # a relative path is relative to the working folder
            if p.resolve().is_relative_to(root):
                p = p.resolve().relative_to(root)
            w.writerow([p.as_posix(), r.split, r.kind, f"{r.duration_sec:.4f}", json.dumps(r.events, separators=(",", ":"))])
    return path


def read_manifest(path: str | Path, split: str | None = None) -> list[ManifestRow]:
    """The rows of the manifest ``path`` (only ``split`` when given), with absolute clip paths."""
    path = Path(path)
    if not path.is_file():
        raise FileMissingError(path, "no such manifest")
    rows = []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"path", "split"} <= set(reader.fieldnames):
            raise MediaError(path, "not a manifest: needs at least the columns path and split")
        for i, rec in enumerate(reader, start=2):
            try:
                events = json.loads(rec.get("events") or "[]")
                duration = float(rec.get("duration_sec") or 0.0)
            except ValueError as e:
                raise MediaError(path, f"line {i}: {e}") from None
            if split is not None and rec["split"] != split:
                continue
            clip = Path(rec["path"])
            clip = clip if clip.is_absolute() else path.parent.resolve() / clip
            rows.append(ManifestRow(str(clip), rec["split"], rec.get("kind") or "", duration, events))
    return rows
