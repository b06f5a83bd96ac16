"""Building the real-footage corpus folder from cached archives, one catalogue entry at a time.

Layout of the folder ``root``: ``av/<name>`` (clips with sound) and ``manifest.csv``;
``audio/<bank>/<path>`` and ``audio/manifest.csv``; ``.downloads/`` (the archives, so that reruns
are offline); ``.state/<entry>.json`` (what an entry wrote: its catalogue record, each file's size
and sha256, its manifest rows and the reserved members it skipped). An entry whose state matches
the catalogue and whose files are all there, unchanged, is not touched again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import av

from avsync.data.archives import Extraction, extract, extract_members, sha256_of
from avsync.data.real import (
    AudioSample,
    CatalogueBank,
    CatalogueClip,
    CatalogueSource,
    RealClip,
)
from avsync.errors import MediaError
from avsync.fileio import write_text_atomic
from avsync.media import probe

Tick = Callable[[], None]
_END_SLACK_SEC = 0.5  # a catalogued end may pass the file's end by this much (rounding of lengths)


@dataclass
class State:
    """What one catalogue entry put into the corpus folder."""

    spec: dict[str, Any]
    files: dict[str, list[Any]] = field(default_factory=dict)   # path (relative to root) -> [size, sha256]
    clips: list[dict[str, Any]] = field(default_factory=list)   # RealClip fields, path relative to root
    sounds: list[dict[str, Any]] = field(default_factory=list)  # AudioSample fields, path relative to audio/
    reserved: list[list[str]] = field(default_factory=list)     # [member, reason]


def entry_key(entry: CatalogueSource | CatalogueBank) -> str:
    """The state file's stem: ``av-<id>`` or ``audio-<id>``."""
    return f"{'av' if isinstance(entry, CatalogueSource) else 'audio'}-{entry.id}"


def spec_of(entry: CatalogueSource | CatalogueBank) -> dict[str, Any]:
    """The entry's catalogue record as plain JSON data (a change to it rebuilds the entry)."""
    return json.loads(json.dumps(asdict(entry)))


def state_path(root: Path, entry: CatalogueSource | CatalogueBank) -> Path:
    """Where the state of ``entry`` is kept."""
    return root / ".state" / f"{entry_key(entry)}.json"


def load_state(root: Path, entry: CatalogueSource | CatalogueBank) -> State | None:
    """The entry's state if it matches the catalogue and every file it lists is there unchanged."""
    path = state_path(root, entry)
    try:
        state = State(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if state.spec != spec_of(entry):
        return None
    for rel, (size, digest) in state.files.items():
        f = root / rel
        if not f.is_file() or f.stat().st_size != size or sha256_of(f) != digest:
            return None
    return state


def save_state(root: Path, entry: CatalogueSource | CatalogueBank, state: State) -> None:
    """Write the entry's state (temp file + rename)."""
    write_text_atomic(state_path(root, entry), json.dumps(asdict(state), indent=1))


def _record(root: Path, state: State, path: Path) -> str:
    rel = path.relative_to(root).as_posix()
    state.files[rel] = [path.stat().st_size, sha256_of(path)]
    return rel


def audio_duration(path: str | Path) -> float:
    """Seconds of sound in ``path``: the container's length, or (when it has none) the decoded samples."""
    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            if c.duration is not None:
                return c.duration / 1e6
            stream = c.streams.audio[0]
            return sum(frame.samples for frame in c.decode(stream)) / stream.codec_context.sample_rate
    except (av.error.FFmpegError, IndexError) as e:
        raise MediaError(path, f"cannot read the audio ({e})") from None


def _clip_row(path: Path, source: CatalogueSource, clip: CatalogueClip) -> RealClip:
    """The manifest row of one extracted clip, after checking it has picture and sound."""
    info = probe(path)
    if info.video is None or info.audio is None:
        raise MediaError(path, "needs both a video and an audio stream")
    end = info.duration_sec if clip.end_sec is None else clip.end_sec
    if end > info.duration_sec + _END_SLACK_SEC or not 0 <= clip.start_sec < end:
        raise MediaError(path, f"usable stretch {clip.start_sec}-{end} s does not fit a "
                                    f"{info.duration_sec:.1f} s file")
    a = source.archive
    return RealClip(str(path), source.id, a.package, a.version, a.registry, a.licence,
                    info.duration_sec, clip.content, clip.start_sec, min(end, info.duration_sec), source.group)


def build_source(root: Path, source: CatalogueSource, archive: Path, tick: Tick = lambda: None) -> State:
    """Take the source's clips out of its archive into ``root/av`` and describe them."""
    wanted = {c.member: root / "av" / c.name for c in source.clips}
    got = extract_members(archive, wanted)
    state = State(spec_of(source), reserved=[list(r) for r in got.reserved])
    for clip in source.clips:
        if clip.member not in got.written:
            continue  # refused as reserved: listed in state.reserved
        path = got.written[clip.member]
        row = _clip_row(path, source, clip)
        state.clips.append(asdict(replace(row, path=_record(root, state, path))))
        tick()
    return state


def _inner_archive(root: Path, bank: CatalogueBank, archive: Path, reserved: list[list[str]]) -> Path:
    """The archive inside ``archive`` that the bank reads (e.g. a game's .pk3), cached in .downloads."""
    dest = root / ".downloads" / bank.id / Path(bank.inner).name
    got = extract_members(archive, {bank.inner: dest})
    reserved += [list(r) for r in got.reserved]
    if bank.inner not in got.written:
        raise MediaError(archive, f"{bank.inner} is reserved material: not opened")
    return dest


def _chooser(bank: CatalogueBank, base: Path, tick: Tick) -> tuple[Callable[[str], Path | None], dict[str, str]]:
    """choose(member) -> where a bank member goes (None: not taken), and the categories it chose."""
    categories: dict[str, str] = {}

    def choose(name: str) -> Path | None:
        if not name.startswith(bank.root):
            return None
        rel = name[len(bank.root):]
        category = bank.category(rel)
        dest = (base / rel).resolve()
        if category is None or not dest.is_relative_to(base.resolve()):
            return None
        categories[name] = category
        tick()
        return dest

    return choose, categories


def build_bank(root: Path, bank: CatalogueBank, archive: Path, tick: Tick = lambda: None) -> State:
    """Take the bank's sounds out of its archive into ``root/audio/<bank>`` and describe them."""
    state = State(spec_of(bank))
    source = _inner_archive(root, bank, archive, state.reserved) if bank.inner else archive
    base = root / "audio" / bank.id
    choose, categories = _chooser(bank, base, tick)
    got: Extraction = extract(source, choose)
    state.reserved += [list(r) for r in got.reserved]
    a = bank.archive
    for member, path in sorted(got.written.items()):
        rel = _record(root, state, path)
        state.sounds.append(asdict(AudioSample(Path(rel).relative_to("audio").as_posix(), bank.id, a.package,
                                               a.version, a.licence, categories[member], audio_duration(path))))
    return state


def clips_of(root: Path, state: State) -> list[RealClip]:
    """The state's clips with absolute paths."""
    return [RealClip(**{**c, "path": str(root / c["path"])}) for c in state.clips]


def sounds_of(root: Path, state: State) -> list[AudioSample]:
    """The state's sounds with absolute paths."""
    return [AudioSample(**{**s, "path": str(root / "audio" / s["path"])}) for s in state.sounds]
