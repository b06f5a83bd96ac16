"""Datasets of (video, audio, offset) examples cut from in-sync source videos.

Training is self-supervised: any in-sync video is data. :class:`CropDataset` draws SparseSync's crops
on the fly (offset uniform over the grid, visual start uniform over the feasible range, audio jitter)
and :class:`FixedDataset` reads a fixed offset list so evaluation is reproducible. Both return the
item dict of ``docs/design.md``: ``video`` float (T, 3, H, W) in [0, 1], ``audio`` float (S,),
``target`` (offset class), ``offset_sec``, ``path``, ``vstart_sec`` and ``kind``.

A crop with offset ``o`` takes the video at ``vstart`` and the audio at ``vstart + o`` (audio ahead
of the picture by ``o``), through ``media.read_clip(..., audio_offset_sec=o)``.

``CropDataset`` is indexed by the global example number ``k`` (any ``k >= 0``): the source is the
``k % n``-th of a per-epoch permutation and every random choice is seeded by ``(seed, k)``, so an
example does not depend on worker processes, and a resumed run draws exactly what it would have.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from torch.utils.data import Dataset, Sampler

from avsync.clip import ClipSpec, center_crop, fit_length, read_window
from avsync.data.augment import AugmentConfig, augment_audio, augment_video
from avsync.errors import AvsyncError, UsageError
from avsync.features import frames_to_tensor
from avsync.media.prepare import VIDEO_SUFFIXES
from avsync.offsets import Crop, CropSampler

log = logging.getLogger("avsync.train")


@dataclass(frozen=True)
class Source:
    """One in-sync source video: where it is, which split and kind it belongs to, how long it is."""

    path: str
    split: str = "train"
    kind: str = ""
    duration_sec: float | None = None


def _split_of(name: str, val_fraction: float, test_fraction: float) -> str:
    """Deterministic split of a file name (stable when files are added or removed)."""
    u = int(hashlib.sha1(name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if u < test_fraction else "val" if u < test_fraction + val_fraction else "train"


def read_manifest(path: str | Path) -> list[Source]:
    """Sources of a manifest CSV (see ``avsync.data.manifest``); relative paths are relative to it."""
    from avsync.data.manifest import read_manifest as read_rows

    return [Source(r.path, r.split, r.kind, r.duration_sec or None) for r in read_rows(path)]


def scan_folder(folder: str | Path, val_fraction: float = 0.1, test_fraction: float = 0.0) -> list[Source]:
    """Every video file under ``folder`` (recursive), split by a hash of its relative path."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    return [Source(str(p), _split_of(str(p.relative_to(folder)), val_fraction, test_fraction), p.parent.name)
            for p in files]


def load_sources(specs: str | Sequence[str], split: str | None = None, kinds: Sequence[str] | None = None,
                 val_fraction: float = 0.1) -> list[Source]:
    """Sources from manifests (``*.csv``) and/or folders of videos, filtered by split and kind."""
    specs = [specs] if isinstance(specs, (str, Path)) else list(specs)
    sources: list[Source] = []
    for spec in specs:
        p = Path(spec)
        if p.is_dir():
            sources += scan_folder(p, val_fraction)
        elif p.suffix.lower() == ".csv":
            sources += read_manifest(p)
        else:
            raise UsageError(f"{spec}: not a manifest (.csv) or a folder of videos")
    return [s for s in sources if (split is None or s.split == split) and (not kinds or s.kind in kinds)]


def with_durations(sources: Sequence[Source], min_sec: float = 0.0) -> tuple[list[Source], list[str]]:
    """Fill in missing durations with ``media.probe``; drop sources that cannot be read or are
    shorter than ``min_sec``. Returns the kept sources and one line per dropped file."""
    from avsync.media import probe

    kept, dropped = [], []
    for s in sources:
        try:
            dur = s.duration_sec if s.duration_sec is not None else probe(s.path).duration_sec
        except AvsyncError as e:
            dropped.append(str(e))
            continue
        if dur < min_sec:
            dropped.append(f"{s.path}: {dur:.2f} s is shorter than the {min_sec:.2f} s a crop needs")
            continue
        kept.append(Source(s.path, s.split, s.kind, dur))
    return kept, dropped


class DecodedCache:
    """Whole sources decoded once (frames at the short side, mono audio) and cropped in memory:
    the same numbers as ``read_clip`` of the window (frame-snapped starts), without decoding the
    file again for every example. Each loader process fills its own cache as it meets sources."""

    def __init__(self) -> None:
        self.store: dict[str, Any] = {}

    def read(self, crop: Crop, spec: ClipSpec, duration_sec: float) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 frames (T, H, W, 3) and audio (S,) of ``crop``, at the spec's short side."""
        from avsync.media import read_clip

        full = self.store.get(crop.path)
        if full is None:
            length = math.floor(duration_sec * spec.fps) / spec.fps
            clip = read_clip(crop.path, 0.0, length, fps=spec.fps, sample_rate=spec.sample_rate, size=spec.short_side)
            full = self.store[crop.path] = (clip.frames, clip.audio)
        i0 = round(crop.vstart_sec * spec.fps)
        s0 = round((crop.vstart_sec + crop.offset_sec) * spec.sample_rate)
        return full[0][i0:i0 + spec.num_frames], full[1][max(0, s0):s0 + spec.num_samples]


def load_example(crop: Crop, spec: ClipSpec, target: int, kind: str = "", augment: AugmentConfig | None = None,
                 gen: torch.Generator | None = None, cache: DecodedCache | None = None,
                 duration_sec: float | None = None) -> dict[str, Any]:
    """Decode one crop into a dataset item; ``augment`` (train) crops randomly, else centre crop."""
    train = augment is not None
    if cache is not None and duration_sec is not None:
        frames, audio = cache.read(crop, spec, duration_sec)
        video, audio = fit_length(frames_to_tensor(frames), spec.num_frames), fit_length(audio, spec.num_samples)
    else:
        video, audio = read_window(crop.path, crop.vstart_sec, crop.offset_sec, spec, centre_crop=not train)
    if train:
        gen = gen or torch.Generator().manual_seed(0)
        video = augment_video(video, spec.frame_size, augment, gen)
        audio = augment_audio(audio, spec.sample_rate, augment, gen)
    elif video.shape[-2:] != (spec.frame_size, spec.frame_size):   # cached frames are uncropped
        video = center_crop(video, spec.frame_size)
    return {"video": video.contiguous(), "audio": audio.contiguous().float(), "target": int(target),
            "offset_sec": float(crop.offset_sec), "path": crop.path, "vstart_sec": float(crop.vstart_sec),
            "kind": kind}


class CropDataset(Dataset):
    """On-the-fly training crops; item ``k`` is the ``k``-th example of the run (any ``k >= 0``)."""

    def __init__(self, sources: Sequence[Source], spec: ClipSpec, seed: int = 0,
                 augment: AugmentConfig | None = None, jitter_sec: float = 0.05, cache: bool = False) -> None:
        if not sources:
            raise UsageError("no training sources (check the manifest/folder, split and kinds)")
        self.sources, self.spec, self.seed = list(sources), spec, seed
        self.cache = DecodedCache() if cache else None
        self.augment = augment or AugmentConfig(enabled=False)
        self.sampler = CropSampler(spec.grid, spec.window_sec, spec.fps, jitter_sec)
        self._perms: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return len(self.sources)

    def _source(self, k: int) -> Source:
        epoch, pos = divmod(k, len(self.sources))
        if epoch not in self._perms:
            perm = list(range(len(self.sources)))
            random.Random(f"{self.seed}:epoch:{epoch}").shuffle(perm)
            self._perms = {epoch: perm}
        return self.sources[self._perms[epoch][pos]]

    def crop(self, k: int) -> tuple[Crop, int, Source]:
        """The crop and target class of example ``k`` (no decoding)."""
        src = self._source(k)
        crop, cls = self.sampler.sample(src.path, float(src.duration_sec), random.Random(f"{self.seed}:{k}"))
        return crop, cls, src

    def __getitem__(self, k: int) -> dict[str, Any]:
        for attempt in range(4):  # a source that fails to decode is replaced by another example
            j = k + attempt * 7919 * len(self.sources)
            crop, cls, src = self.crop(j)
            gen = torch.Generator().manual_seed(int(hashlib.sha1(f"{self.seed}:{j}".encode()).hexdigest()[:15], 16))
            try:
                return load_example(crop, self.spec, cls, src.kind, self.augment, gen, self.cache, src.duration_sec)
            except AvsyncError as e:
                log.warning("example %d: %s (drawing another)", k, e)
        raise AvsyncError(f"example {k}: four sources in a row failed to decode; check the data")


class FixedDataset(Dataset):
    """Crops of a fixed offset list. Evaluation: centre crop, no augmentation. With ``augment`` it
    serves as a training set that cycles through the list (item ``k`` is crop ``k % len``): the
    over-fitting check of a training set-up, or training on a published list of examples."""

    def __init__(self, crops: Sequence[Crop], spec: ClipSpec, kinds: dict[str, str] | None = None,
                 augment: AugmentConfig | None = None) -> None:
        self.crops, self.spec, self.kinds, self.augment = list(crops), spec, kinds or {}, augment
        off_grid = [c for c in self.crops if abs(c.offset_sec) > spec.grid.max_sec + 1e-6]
        if off_grid:
            raise UsageError(f"{off_grid[0].path}: offset {off_grid[0].offset_sec:+.2f} s is outside the model's "
                             f"+-{spec.grid.max_sec} s grid")

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, i: int) -> dict[str, Any]:
        c = self.crops[i % len(self.crops)]
        gen = torch.Generator().manual_seed(i) if self.augment is not None else None
        try:
            return load_example(c, self.spec, self.spec.grid.to_class(c.offset_sec), self.kinds.get(c.path, ""),
                                self.augment, gen)
        except AvsyncError as e:  # reported by evaluate(), which goes on with the other crops
            return {"error": str(e), "path": c.path}


class RunSampler(Sampler[int]):
    """Global example numbers for one rank: step ``s`` of rank ``r`` uses examples
    ``(s * world + r) * batch + j``. Starting at ``start_step`` resumes the stream exactly."""

    def __init__(self, total_steps: int, batch_size: int, start_step: int = 0, rank: int = 0, world: int = 1) -> None:
        self.total_steps, self.batch_size, self.start_step = total_steps, batch_size, start_step
        self.rank, self.world = rank, world

    def __len__(self) -> int:
        return self.total_steps * self.batch_size

    def __iter__(self) -> Iterator[int]:
        for s in range(self.start_step, self.total_steps):
            base = (s * self.world + self.rank) * self.batch_size
            yield from range(base, base + self.batch_size)


def collate(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack tensors and numbers of a list of items; strings stay lists. Items that failed to load
    (``{"error": ...}``) are left out and listed under ``errors``."""
    errors = [it["error"] for it in items if "error" in it]
    items = [it for it in items if "error" not in it]
    out: dict[str, Any] = {"errors": errors}
    for key in (items[0] if items else {}):
        vals = [it[key] for it in items]
        if isinstance(vals[0], torch.Tensor):
            out[key] = torch.stack(vals)
        elif isinstance(vals[0], (int, float)):
            out[key] = torch.tensor(vals)
        else:
            out[key] = vals
    return out
