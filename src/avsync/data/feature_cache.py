"""The decoded-feature cache the engine trains from: clips decoded once, kept as the model reads them.

A cache folder holds shards (``.npz``: ``frames`` uint8 ``(N, T, H, W)`` grey, ``audio`` float32
``(N, S)`` mono) and ``cache.json`` (what was made, with which settings). Two kinds of shard:

- ``synth-NNNN.npz``: clips of the ``real`` synthetic kind (real recordings timed to visual events on
  TRAIN-source pictures), each encoded to H.264/AAC at a random quality and decoded again with
  :func:`avsync.media.stream.read_streams`, exactly as a checked file is read;
- ``real-<source>.npz``: the usable stretch of each TRAIN-group clip of the real-footage corpus,
  cut into ``clip_sec`` pieces (DEV sources are refused: they are what the engine is judged on).

Shards already there are kept, so an interrupted build resumes. Training then never decodes a file.
"""

from __future__ import annotations

import json
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from avsync.errors import UsageError


@dataclass(frozen=True)
class CacheSpec:
    """What the cached clips look like: ``clip_sec`` long, grey frames ``height`` x ``width`` at
    ``fps``, mono audio at ``sample_rate``; ``synth_clips`` synthetic clips in shards of ``shard``."""

    clip_sec: float = 8.0
    fps: float = 25.0
    height: int = 64
    width: int = 112
    sample_rate: int = 16000
    synth_clips: int = 1000
    shard: int = 25
    seed: int = 0

    @property
    def frames(self) -> int:
        """Frames per clip."""
        return int(round(self.clip_sec * self.fps))

    @property
    def samples(self) -> int:
        """Audio samples per clip."""
        return int(round(self.clip_sec * self.sample_rate))


def fit_width(frames: np.ndarray, width: int) -> np.ndarray:
    """Frames ``(T, H, W)`` centre-cropped or edge-padded to ``width`` columns."""
    w = frames.shape[2]
    if w >= width:
        x = (w - width) // 2
        return frames[:, :, x:x + width]
    left = (width - w) // 2
    return np.pad(frames, ((0, 0), (0, 0), (left, width - w - left)), mode="edge")


def _round_trip(frames_rgb: np.ndarray, audio: np.ndarray, spec: CacheSpec, crf: int) -> tuple[np.ndarray, np.ndarray]:
    """A clip encoded to H.264 (``crf``) + AAC in a temporary file and read back as the engine reads files."""
    from avsync.media import write_video
    from avsync.media.stream import read_streams

    with tempfile.TemporaryDirectory(prefix="avsync-cache-") as tmp:
        path = Path(tmp) / "clip.mp4"
        write_video(path, frames_rgb, np.clip(audio, -1, 1), spec.fps, spec.sample_rate, crf=crf)
        s = read_streams(path, spec.fps, spec.height, 4 * spec.width, spec.sample_rate)
    frames = fit_width(s.frames, spec.width)
    return _fit_time(frames, spec.frames), _fit_samples(s.audio, spec.samples)


def _fit_time(frames: np.ndarray, n: int) -> np.ndarray:
    if len(frames) >= n:
        return frames[:n]
    return np.concatenate([frames, np.repeat(frames[-1:], n - len(frames), 0)])


def _fit_samples(audio: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, np.float32)
    out[:min(n, len(audio))] = audio[:n]
    return out


def synth_shard(out: Path, spec: CacheSpec, index: int, real_dir: str | None) -> Path:
    """Write shard ``index`` of synthetic clips (kept when it is already there)."""
    from avsync.data.synth_real import RealConfig
    from avsync.data.synthetic import make_clip

    path = out / f"synth-{index:04d}.npz"
    if path.is_file():
        return path
    cfg = RealConfig(duration_sec=spec.clip_sec, size=spec.height, width=spec.width, fps=spec.fps,
                     sample_rate=spec.sample_rate, min_events=2, max_events=8, real_dir=real_dir)
    frames, audio = [], []
    for i in range(index * spec.shard, (index + 1) * spec.shard):
        clip = make_clip("real", spec.seed, i, cfg)
        crf = int(np.random.default_rng([spec.seed, i, 7919]).integers(18, 37))
        f, a = _round_trip(clip.frames, clip.audio, spec, crf)
        frames.append(f)
        audio.append(a)
    _save(path, np.stack(frames), np.stack(audio))
    return path


def _save(path: Path, frames: np.ndarray, audio: np.ndarray) -> None:
    tmp = path.with_name(path.stem + ".tmp.npz")     # np.savez keeps a name ending in .npz
    np.savez(tmp, frames=frames, audio=audio)
    tmp.replace(path)


def real_shards(out: Path, spec: CacheSpec, real_dir: str | Path) -> list[Path]:
    """One shard per TRAIN clip of the real corpus: its usable stretch in ``clip_sec`` pieces."""
    from avsync.data.real import read_corpus
    from avsync.media.stream import read_streams

    paths = []
    for clip in read_corpus(real_dir, group="train"):
        path = out / f"real-{Path(clip.path).stem}.npz"
        paths.append(path)
        if path.is_file():
            continue
        s = read_streams(clip.path, spec.fps, spec.height, 4 * spec.width, spec.sample_rate)
        k0 = int(round((clip.start_sec - s.start_sec) * spec.fps))
        k1 = min(len(s.frames), int(round((clip.end_sec - s.start_sec) * spec.fps)))
        frames = fit_width(s.frames[max(k0, 0):k1], spec.width)
        audio = s.audio[int(max(k0, 0) * spec.sample_rate / spec.fps):]
        n = len(frames) // spec.frames
        if n == 0:          # shorter than one piece: padded to one (its tail repeats the last frame)
            n, frames = 1, _fit_time(frames, spec.frames)
        per = spec.samples
        _save(path, frames[:n * spec.frames].reshape(n, spec.frames, *frames.shape[1:]),
              np.stack([_fit_samples(audio[j * per:(j + 1) * per], per) for j in range(n)]))
    return paths


def build_cache(out: str | Path, spec: CacheSpec, real_dir: str | Path, workers: int = 1,
                progress: Callable[[str], None] | None = None) -> Path:
    """Fill the cache folder ``out`` (resuming); returns it. ``real_dir`` is the real-media folder
    (its audio banks and TRAIN pictures make the synthetic clips; its TRAIN clips are cached too)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    meta = out / "cache.json"
    if meta.is_file() and json.loads(meta.read_text()).get("spec", {}) | {"synth_clips": 0} != asdict(spec) | {"synth_clips": 0}:
        raise UsageError(f"{out}: the cache was made with other settings ({meta}); use another folder")
    meta.write_text(json.dumps({"spec": asdict(spec)}, indent=1) + "\n")
    for p in real_shards(out, spec, real_dir):
        if progress:
            progress(p.name)
    shards = range((spec.synth_clips + spec.shard - 1) // spec.shard)
    if workers <= 1:
        for i in shards:
            p = synth_shard(out, spec, i, str(real_dir))
            if progress:
                progress(p.name)
    else:
        with ProcessPoolExecutor(workers) as pool:
            for p in pool.map(synth_shard, [out] * len(shards), [spec] * len(shards), shards,
                              [str(real_dir)] * len(shards)):
                if progress:
                    progress(p.name)
    return out


@dataclass
class CachedClips:
    """Every clip of a cache in memory: ``frames`` uint8 ``(N, T, H, W)``, ``audio`` ``(N, S)``, and
    for each clip whether it is real footage (``real``) and which shard it came from."""

    frames: np.ndarray
    audio: np.ndarray
    real: np.ndarray
    shard: list[str]
    spec: CacheSpec


def load_cache(folder: str | Path) -> CachedClips:
    """Read every shard of a cache folder (UsageError when there is none)."""
    folder = Path(folder)
    meta = folder / "cache.json"
    shards = [p for p in sorted(folder.glob("real-*.npz")) + sorted(folder.glob("synth-*.npz"))
              if not p.name.endswith(".tmp.npz")]
    if not meta.is_file() or not shards:
        raise UsageError(f"{folder}: no feature cache here (make one with `avsync cache`)")
    spec = CacheSpec(**json.loads(meta.read_text())["spec"])
    frames, audio, real, names = [], [], [], []
    for p in shards:
        with np.load(p) as z:
            frames.append(z["frames"])
            audio.append(z["audio"])
        real += [p.name.startswith("real-")] * len(frames[-1])
        names += [p.stem] * len(frames[-1])
    return CachedClips(np.concatenate(frames), np.concatenate(audio), np.array(real), names, spec)
