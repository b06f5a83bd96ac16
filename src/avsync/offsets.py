"""Offsets: the class grid, the SparseSync crop sampler and fixed offset lists.

Sign convention, everywhere in avsync: ``offset_sec > 0`` means the audio is AHEAD of the picture
(a sound is heard before the frame that makes it is seen). The audio crop of a training example
starts at ``vstart_sec + offset_sec`` in the source file; fixing a file means delaying its audio by
``offset_sec``.
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from avsync.fileio import atomic_path


@dataclass(frozen=True)
class OffsetGrid:
    """Evenly spaced candidate offsets in seconds, e.g. -2.0, -1.8, ..., +2.0 (21 classes)."""

    max_sec: float = 2.0
    step_sec: float = 0.2

    def __post_init__(self) -> None:
        if self.step_sec <= 0 or self.max_sec < 0:
            raise ValueError("OffsetGrid needs step_sec > 0 and max_sec >= 0")
        ratio = self.max_sec / self.step_sec
        if abs(ratio - round(ratio)) > 1e-6:
            raise ValueError(f"max_sec {self.max_sec} is not a multiple of step_sec {self.step_sec}")

    @property
    def num_classes(self) -> int:
        """Number of offset classes (odd: the grid is symmetric around 0)."""
        return 2 * round(self.max_sec / self.step_sec) + 1

    @property
    def seconds(self) -> list[float]:
        """Offset in seconds of every class, in class order."""
        return [self.to_seconds(i) for i in range(self.num_classes)]

    @property
    def zero_class(self) -> int:
        """Class index of offset 0 (in sync)."""
        return self.num_classes // 2

    def to_seconds(self, cls: int) -> float:
        """Offset in seconds of class ``cls``."""
        if not 0 <= cls < self.num_classes:
            raise ValueError(f"class {cls} outside 0..{self.num_classes - 1}")
        return round((cls - self.zero_class) * self.step_sec, 6)

    def to_class(self, offset_sec: float) -> int:
        """Nearest class of ``offset_sec``; raises ValueError when it lies off the grid's range."""
        cls = round(offset_sec / self.step_sec) + self.zero_class
        if not 0 <= cls < self.num_classes:
            raise ValueError(f"offset {offset_sec:+.3f} s outside the grid +-{self.max_sec} s")
        return int(cls)

    def to_dict(self) -> dict[str, float]:
        """Plain dict for configs and JSON."""
        return {"max_sec": self.max_sec, "step_sec": self.step_sec}


@dataclass(frozen=True)
class Crop:
    """Where one training/evaluation example is cut from a source video."""

    path: str
    offset_sec: float
    vstart_sec: float

    @property
    def astart_sec(self) -> float:
        """Start of the audio crop in the source: audio ahead of the picture by ``offset_sec``."""
        return self.vstart_sec + self.offset_sec


class CropSampler:
    """SparseSync's on-the-fly crops: offset uniform over the grid, visual start uniform over the
    feasible range snapped to a frame, plus a small audio jitter (at most half a grid step)."""

    def __init__(
        self,
        grid: OffsetGrid,
        window_sec: float,
        fps: float = 25.0,
        jitter_sec: float = 0.05,
    ) -> None:
        if jitter_sec > grid.step_sec / 2 + 1e-9:
            raise ValueError("audio jitter must not exceed half a grid step")
        self.grid, self.window_sec, self.fps, self.jitter_sec = grid, window_sec, fps, jitter_sec

    def min_duration(self) -> float:
        """Shortest source video from which any grid offset can be cut: the window plus the largest
        offset and the jitter (a negative offset puts the audio first, a positive one the video)."""
        return self.window_sec + self.grid.max_sec + self.jitter_sec

    def feasible_vstart(self, duration_sec: float, offset_sec: float) -> tuple[float, float]:
        """Range of visual starts for which both crops (with jitter) lie inside the source."""
        lo = max(0.0, -offset_sec + self.jitter_sec)
        hi = min(duration_sec - self.window_sec, duration_sec - self.window_sec - offset_sec - self.jitter_sec)
        return lo, hi

    def sample(self, path: str, duration_sec: float, rng: random.Random) -> tuple[Crop, int]:
        """Draw one crop and its target class from a source of ``duration_sec`` seconds."""
        cls = rng.randrange(self.grid.num_classes)
        offset = self.grid.to_seconds(cls)
        lo, hi = self.feasible_vstart(duration_sec, offset)
        if hi < lo - 1e-9:
            raise ValueError(f"{path}: {duration_sec:.2f} s is too short for a {self.window_sec} s window "
                             f"at offset {offset:+.1f} s (needs {self.min_duration():.2f} s)")
        vstart = math.ceil(lo * self.fps) / self.fps
        last = math.floor(hi * self.fps) / self.fps
        vstart = vstart + round(rng.uniform(0, max(0.0, last - vstart)) * self.fps) / self.fps
        jitter = rng.uniform(-self.jitter_sec, self.jitter_sec)
        return Crop(path, round(offset + jitter, 6), round(vstart, 6)), cls


def write_fixed_offsets(crops: Iterable[Crop], path: str | Path) -> None:
    """Write a fixed offset list (CSV ``path,offset_sec,vstart_sec``) for reproducible evaluation."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "offset_sec", "vstart_sec"])
        for c in crops:
            w.writerow([c.path, f"{c.offset_sec:.6f}", f"{c.vstart_sec:.6f}"])


def read_fixed_offsets(path: str | Path) -> list[Crop]:
    """Read a fixed offset list written by :func:`write_fixed_offsets`."""
    with Path(path).open(newline="") as f:
        return [Crop(r["path"], float(r["offset_sec"]), float(r["vstart_sec"])) for r in csv.DictReader(f)]


def make_fixed_offsets(
    sources: Sequence[tuple[str, float]], sampler: CropSampler, seed: int = 0, per_source: int = 1
) -> list[Crop]:
    """Deterministic crops for ``(path, duration_sec)`` sources; jitter is dropped so each offset
    lies exactly on the grid. Sources too short for the window are skipped."""
    rng = random.Random(seed)
    crops = []
    for path, duration in sources:
        for _ in range(per_source):
            try:
                crop, _ = sampler.sample(path, duration, rng)
            except ValueError:
                continue
            exact = sampler.grid.to_seconds(sampler.grid.to_class(crop.offset_sec))
            crops.append(Crop(path, exact, crop.vstart_sec))
    return crops
