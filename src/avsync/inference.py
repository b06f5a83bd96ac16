"""Checking whole files: sliding windows, combining them into one answer, sub-class refinement,
calibrated confidence, synchronisability, the timeline (drift, no-evidence stretches) and DeSync.

Every estimator (a trained model, or the training-free cross-correlation baseline of
:mod:`avsync.baseline`) turns one window into offset-class scores; everything after that is shared:

1. windows of ``window`` seconds every ``stride`` seconds cover the file (the last one ends at its end);
   each is read with :func:`avsync.data.datasets.load_example`, exactly as evaluation reads a crop;
2. a window is *usable* unless its audio is silent or its picture is still (no evidence either way);
3. the file's answer is a product of experts over the usable windows: the sum of their log-probabilities,
   scaled by ``n_eff / n`` (``n_eff`` = the time the windows cover / the window length, so overlapping
   windows do not count their shared evidence twice), then divided by the fitted temperature;
4. the offset is refined below the class step by a parabola through the log-probabilities around the
   peak (or their centroid), and ``synchronisable`` is false without usable windows or when the
   calibrated confidence stays under ``min_confidence``.

Sign convention: ``offset_sec > 0`` means the audio is ahead of the picture.
"""

from __future__ import annotations

import json
import math
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Protocol, Sequence

import torch

from avsync.errors import (
    AvsyncError,
    NoAudioStreamError,
    NoVideoStreamError,
    TooShortError,
    UsageError,
)
from avsync.fileio import write_text_atomic
from avsync.offsets import Crop, OffsetGrid

LOW_FPS = 10.0             # below this frame rate a check warns and states a coarser precision
REFINE_METHODS = ("none", "parabolic", "centroid")
TOP_K = 5
CHUNK_BYTES = 400e6         # decoded frames held by one read (overlapping windows decode once)


# --------------------------------------------------------------------------------------------------
# results


class Span(NamedTuple):
    """The part of a file with both picture and sound: start and length in seconds, frame size in pixels."""

    start: float
    length: float
    pixels: int
    fps: float = 25.0


@dataclass
class WindowResult:
    """One window: where it starts, its own (calibrated, refined) answer, and whether it is usable."""

    start_sec: float
    end_sec: float
    offset_sec: float
    confidence: float
    usable: bool
    reason: str | None = None           # why not usable: "silent audio" / "still picture"
    motion: float = 0.0                 # mean absolute frame difference (0..1)
    audio_peak: float = 0.0             # peak absolute audio sample
    probs: list[float] = field(default_factory=list, repr=False)  # calibrated, over the grid

    def to_dict(self, probs: bool = False) -> dict[str, Any]:
        """Plain dict for JSON (the class distribution only when ``probs``)."""
        d = {"start_sec": round(self.start_sec, 3), "end_sec": round(self.end_sec, 3),
             "offset_sec": round(self.offset_sec, 3), "confidence": round(self.confidence, 4),
             "usable": self.usable, "reason": self.reason}
        if probs:
            d["probs"] = [round(p, 5) for p in self.probs]
        return d


@dataclass
class CheckResult:
    """The answer for one file. ``offset_sec`` > 0: audio ahead of the picture (delay the audio by it
    to fix). ``confidence`` is the calibrated probability that the offset class is right. When the
    file could not be read, ``error`` holds the one-line reason and there is no offset."""

    path: str
    offset_sec: float | None = None
    offset_frames: int | None = None    # in the file's own frames (``frame_rate``)
    confidence: float | None = None
    top: list[dict[str, float]] = field(default_factory=list)
    windows: int = 0
    synchronisable: bool = False
    error: str | None = None
    reason: str | None = None           # why not synchronisable
    duration_sec: float | None = None
    window_sec: float | None = None
    method: str = ""
    frame_rate: float | None = None     # of the file's picture
    precision_sec: float | None = None  # half a frame of the file, or the engine's own step if coarser
    warning: str | None = None          # e.g. a frame rate too low for the stated precision
    grid: list[float] = field(default_factory=list, repr=False)
    per_window: list[WindowResult] = field(default_factory=list, repr=False)

    @classmethod
    def failed(cls, path: str | os.PathLike, error: str, method: str = "") -> "CheckResult":
        """The record of a file that could not be checked."""
        return cls(path=str(path), error=error, method=method)

    def to_dict(self, windows: bool = True) -> dict[str, Any]:
        """Plain dict for JSON/JSONL (``per_window`` compact: no class distributions)."""
        d = {"path": self.path,
             "offset_sec": None if self.offset_sec is None else round(self.offset_sec, 3),
             "offset_frames": self.offset_frames,
             "confidence": None if self.confidence is None else round(self.confidence, 4),
             "top": self.top, "windows": self.windows, "synchronisable": self.synchronisable,
             "error": self.error, "reason": self.reason,
             "duration_sec": None if self.duration_sec is None else round(self.duration_sec, 3),
             "window_sec": self.window_sec, "method": self.method, "frame_rate": self.frame_rate,
             "precision_sec": self.precision_sec, "warning": self.warning}
        if windows:
            d["per_window"] = [w.to_dict() for w in self.per_window]
        return d


@dataclass
class Segment:
    """A stretch of the timeline with one offset."""

    start_sec: float
    end_sec: float
    offset_sec: float
    confidence: float
    windows: int


@dataclass
class Timeline:
    """Offset over time: the per-window answers (``result.per_window``), the segments of constant
    offset (more than one: drift), stretches without evidence and a fitted drift rate."""

    result: CheckResult
    segments: list[Segment]
    no_evidence: list[dict[str, Any]]
    drift_ms_per_min: float | None

    @property
    def drift(self) -> bool:
        """Whether the offset changes along the file."""
        return len(self.segments) > 1

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (per-window class distributions included)."""
        r = self.result
        return {**{k: v for k, v in r.to_dict(windows=False).items()},
                "drift": self.drift,
                "drift_ms_per_min": None if self.drift_ms_per_min is None else round(self.drift_ms_per_min, 1),
                "segments": [{k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(s).items()}
                             for s in self.segments],
                "no_evidence": self.no_evidence, "grid": r.grid,
                "per_window": [w.to_dict(probs=True) for w in r.per_window]}


@dataclass
class DesyncResult:
    """DeSync of one clip: |offset| of its first and of its last window, and their mean."""

    path: str
    first_sec: float | None = None
    last_sec: float | None = None
    desync_sec: float | None = None
    error: str | None = None
    reason: str | None = None           # why the clip cannot be scored (silent, still, no evidence): left out of the mean

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


# --------------------------------------------------------------------------------------------------
# calibration


@dataclass(frozen=True)
class Calibration:
    """How raw window scores become the reported answer; fitted by :func:`fit_calibration` and stored
    as ``<weights>.calibration.json`` beside a model (defaults when the file is absent)."""

    temperature: float = 1.0
    refine: str = "parabolic"
    min_confidence: float = 0.2      # below this calibrated confidence a file is not synchronisable
    fix_min_confidence: float = 0.7  # below this, `fix` refuses to apply a measured offset
    min_motion: float = 1e-4         # mean |frame difference| (0..1) below which a window is "still"
    min_audio_peak: float = 1e-4     # peak |sample| below which a window is "silent"
    fitted: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.min_confidence <= self.fix_min_confidence <= 1:
            raise UsageError("calibration needs 0 <= min_confidence <= fix_min_confidence <= 1, got "
                             f"{self.min_confidence} and {self.fix_min_confidence}")
        if self.temperature <= 0:
            raise UsageError(f"calibration temperature must be > 0, got {self.temperature}")
        if self.refine not in REFINE_METHODS:
            raise UsageError(f"refine must be one of {', '.join(REFINE_METHODS)}, got {self.refine!r}")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Calibration":
        """Read a calibration JSON (UsageError naming the file when it is not one)."""
        try:
            data = json.loads(Path(path).read_text())
            return cls(**data)
        except (OSError, json.JSONDecodeError, TypeError) as e:
            raise UsageError(f"{path}: not a calibration file ({e})") from None

    def save(self, path: str | os.PathLike) -> Path:
        """Write as JSON (temp file then rename)."""
        return write_text_atomic(path, json.dumps(asdict(self), indent=2) + "\n")


def weights_digest(weights: str | os.PathLike) -> str:
    """SHA-256 of a weights file: a calibration records the weights it was fitted for."""
    import hashlib

    h = hashlib.sha256()
    with open(weights, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def calibration_path(weights: str | os.PathLike) -> Path:
    """Where the calibration of a model's weights lives: ``<name>.calibration.json`` beside them."""
    weights = Path(weights)
    stem = weights.name[: -len(".safetensors")] if weights.name.endswith(".safetensors") else weights.name
    return weights.with_name(stem + ".calibration.json")


def fit_temperature(scores: torch.Tensor, targets: torch.Tensor, steps: int = 200) -> float:
    """Temperature T minimising the negative log-likelihood of ``softmax(scores / T)`` (LBFGS on log T)."""
    scores, targets = scores.double(), targets.long()
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(scores / log_t.exp(), targets)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp().clamp(0.05, 100.0))


def reliability(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10) -> dict[str, Any]:
    """Reliability table: per confidence bin the count, mean confidence and accuracy, plus the
    expected calibration error (ECE, count-weighted |accuracy - confidence|)."""
    conf = torch.tensor(list(confidence), dtype=torch.float64)
    ok = torch.tensor(list(correct), dtype=torch.float64)
    idx = (conf * bins).long().clamp(max=bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        m = idx == b
        n = int(m.sum())
        if n:
            c, a = float(conf[m].mean()), float(ok[m].mean())
            ece += n / len(conf) * abs(a - c)
            rows.append({"lo": b / bins, "hi": (b + 1) / bins, "count": n, "confidence": c, "accuracy": a})
    return {"bins": rows, "ece": ece, "count": len(conf), "accuracy": float(ok.mean()) if len(ok) else 0.0}


# --------------------------------------------------------------------------------------------------
# estimators


class Estimator(Protocol):
    """Turns windows into offset-class scores (logits) over ``grid``."""

    name: str
    grid: OffsetGrid
    window_sec: float      # default window length
    fps: float
    sample_rate: int
    frame_size: int
    resize: int | None     # short side before the centre crop (None: the model's convention)

    def scores(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, C)`` for video ``(B, T, 3, H, W)`` in [0, 1] and audio ``(B, S)``."""
        ...


class ModelEstimator:
    """A trained :class:`avsync.models.SyncModel` as an estimator."""

    def __init__(self, model: torch.nn.Module, device: str | torch.device = "cpu", name: str | None = None) -> None:
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        cfg = model.config
        self.name = name or cfg.name
        self.grid: OffsetGrid = cfg.grid
        self.window_sec, self.fps = float(cfg.duration_sec), float(cfg.fps)
        self.sample_rate, self.frame_size, self.resize = int(cfg.sample_rate), int(cfg.frame_size), None

    @torch.inference_mode()
    def scores(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """The model's offset logits (float32, on the CPU)."""
        return self.model(video.to(self.device), audio.to(self.device)).logits.float().cpu()


# --------------------------------------------------------------------------------------------------
# the maths shared by check, timeline and desync


def window_starts(duration_sec: float, window_sec: float, stride_sec: float, fps: float = 25.0,
                  t0: float = 0.0) -> list[float]:
    """Starts of windows of ``window_sec`` every ``stride_sec`` over ``[t0, t0 + duration_sec]``,
    snapped to frames; the last window ends at the end (added, or the last one moved when the gap
    is under half a stride)."""
    if stride_sec <= 0 or window_sec <= 0:
        raise UsageError("window and stride must be > 0")
    last = math.floor((duration_sec - window_sec) * fps + 1e-6) / fps
    if last < 0:
        return []
    n = int(math.floor(last / stride_sec + 1e-9)) + 1
    starts = [math.floor(i * stride_sec * fps + 1e-6) / fps for i in range(n)]
    gap = last - starts[-1]
    if gap > stride_sec / 2:
        starts.append(last)
    elif gap > 0.5 / fps and len(starts) > 1:
        starts[-1] = last  # a small remainder: move the last window to end at the end
    return [round(t0 + s, 6) for s in starts]


def refine_offset(log_probs: torch.Tensor, grid: OffsetGrid, method: str = "parabolic") -> float:
    """Offset in seconds from a log-distribution over the grid: the peak class, moved by at most half
    a step by a parabola through the peak and its neighbours (or the centroid of the three)."""
    k = int(log_probs.argmax())
    base = grid.to_seconds(k)
    if method == "none" or k == 0 or k == grid.num_classes - 1:
        return base
    y0, y1, y2 = (float(v) for v in log_probs[k - 1:k + 2])
    if method == "parabolic":
        denom = y0 - 2 * y1 + y2
        delta = 0.0 if denom >= -1e-12 else 0.5 * (y0 - y2) / denom
    else:
        p = torch.softmax(log_probs[k - 1:k + 2].double(), 0)
        delta = float(p[2] - p[0])
    return base + max(-0.5, min(0.5, delta)) * grid.step_sec


def combine(log_probs: torch.Tensor, starts: Sequence[float], window_sec: float) -> torch.Tensor:
    """Product of experts over windows: summed log-probabilities ``(C,)`` scaled by ``n_eff / n``,
    where ``n_eff`` is the covered time over the window length (at least 1)."""
    n = log_probs.shape[0]
    covered, end = 0.0, -math.inf
    for s in sorted(starts):
        covered += max(0.0, s + window_sec - max(s, end))
        end = max(end, s + window_sec)
    n_eff = max(1.0, covered / window_sec)
    return log_probs.sum(0) * (n_eff / n)


def posterior(log_probs: torch.Tensor, starts: Sequence[float], window_sec: float, temperature: float) -> torch.Tensor:
    """Calibrated log-posterior ``(C,)`` of a file from its windows' raw log-probabilities ``(W, C)``."""
    return torch.log_softmax(combine(log_probs, starts, window_sec) / temperature, -1)


def top_classes(probs: torch.Tensor, grid: OffsetGrid, k: int = TOP_K) -> list[dict[str, float]]:
    """The ``k`` most probable classes as ``{offset_sec, prob}``."""
    values, idx = probs.topk(min(k, probs.numel()))
    return [{"offset_sec": grid.to_seconds(int(i)), "prob": round(float(v), 4)} for v, i in zip(values, idx)]


def window_evidence(video: torch.Tensor, audio: torch.Tensor) -> tuple[float, float]:
    """(mean absolute frame difference, peak |audio|) of one window: video ``(T, 3, H, W)`` in [0, 1]."""
    motion = float((video[1:] - video[:-1]).abs().mean()) if video.shape[0] > 1 else 0.0
    return motion, float(audio.abs().max()) if audio.numel() else 0.0


def segment_offsets(log_probs: torch.Tensor, min_windows: int = 2, penalty: float | None = None) -> list[tuple[int, int, int]]:
    """Binary segmentation of a window sequence into runs of constant offset class: a run is split
    where two classes explain it better than one by more than ``penalty`` nats (default
    ``2 ln C + ln n``, BIC-like) and the two classes differ. Returns ``(first, end, class)`` runs in order."""
    n, c = log_probs.shape
    penalty = 2 * math.log(c) + math.log(max(n, 1)) if penalty is None else penalty
    prefix = torch.cat([torch.zeros(1, c, dtype=log_probs.dtype), log_probs.cumsum(0)])  # O(1) run sums

    def fit(lo: torch.Tensor, hi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Best log-likelihood and class of the runs [lo, hi) (vectorised over runs)."""
        return (prefix[hi] - prefix[lo]).max(-1)

    def split(lo: int, hi: int) -> list[tuple[int, int, int]]:
        whole, k = fit(torch.tensor(lo), torch.tensor(hi))
        cuts = torch.arange(lo + min_windows, hi - min_windows + 1)
        if len(cuts):
            left, kl = fit(torch.full_like(cuts, lo), cuts)
            right, kr = fit(cuts, torch.full_like(cuts, hi))
            gain = torch.where(kl != kr, left + right - whole, torch.full_like(left, -math.inf))
            best = int(gain.argmax())
            if float(gain[best]) > penalty:
                m = int(cuts[best])
                return split(lo, m) + split(m, hi)
        return [(lo, hi, int(k))]

    return split(0, n) if n else []


def _stretches(windows: Sequence[WindowResult], owned: Sequence[tuple[float, float]],
               flag: Callable[[WindowResult], str | None]) -> list[dict[str, Any]]:
    """Merge consecutive flagged windows into ``{start_sec, end_sec, reason}`` stretches."""
    out: list[dict[str, Any]] = []
    for w, (a, b) in zip(windows, owned):
        reason = flag(w)
        if reason is None:
            continue
        if out and abs(out[-1]["end_sec"] - a) < 1e-6 and out[-1]["reason"] == reason:
            out[-1]["end_sec"] = round(b, 3)
        else:
            out.append({"start_sec": round(a, 3), "end_sec": round(b, 3), "reason": reason})
    return out


def owned_spans(windows: Sequence[WindowResult]) -> list[tuple[float, float]]:
    """The part of the timeline each window speaks for: halfway to its neighbours' centres."""
    if not windows:
        return []
    centres = [(w.start_sec + w.end_sec) / 2 for w in windows]
    bounds = [windows[0].start_sec] + [(a + b) / 2 for a, b in zip(centres, centres[1:])] + [windows[-1].end_sec]
    return list(zip(bounds[:-1], bounds[1:]))


# --------------------------------------------------------------------------------------------------
# the checker


def _is_usable(cal: Calibration, motion: float, peak: float) -> str | None:
    if peak < cal.min_audio_peak:
        return "silent audio"
    if motion < cal.min_motion:
        return "still picture"
    return None


class SyncChecker:
    """Checks whole files with one estimator. ``avsync.load_model()`` builds one for the shipped model.

    >>> checker = avsync.load_model()
    >>> r = checker.check("video.mp4")          # CheckResult
    >>> r.offset_sec, r.confidence, r.synchronisable
    """

    def __init__(self, estimator: Estimator, calibration: Calibration | None = None, batch_size: int = 8,
                 workers: int = 2) -> None:
        self.estimator = estimator
        self.calibration = calibration or Calibration()
        self.batch_size, self.workers = max(1, int(batch_size)), max(0, int(workers))

    @property
    def grid(self) -> OffsetGrid:
        """The offset classes of the estimator."""
        return self.estimator.grid

    @property
    def name(self) -> str:
        """Name of the estimator (model name or ``xcorr``)."""
        return self.estimator.name

    # ---- reading and scoring windows

    def span(self, path: str | os.PathLike) -> Span:
        """Where the part of ``path`` with both picture and sound lies, and its frame size."""
        from avsync.media import probe

        info = probe(path)
        if info.video is None:
            raise NoVideoStreamError(path, "no video stream (audio-only file?)")
        if info.audio is None:
            raise NoAudioStreamError(path, "no audio stream: nothing to synchronise")
        v, a = info.video, info.audio
        start = max(0.0, v.start_sec)
        end = min(v.start_sec + v.duration_sec, a.start_sec + a.duration_sec, info.duration_sec)
        return Span(start, end - start, v.width * v.height, v.fps)

    def _load(self, path: str, start: float, window: float, audio_offset: float) -> tuple[torch.Tensor, torch.Tensor]:
        from avsync.data.datasets import ClipSpec, load_example

        e = self.estimator
        spec = ClipSpec(window, e.fps, e.sample_rate, e.frame_size, e.grid, e.resize)
        item = load_example(Crop(path, audio_offset, start), spec, 0)
        return item["video"], item["audio"]

    def _chunks(self, starts: Sequence[float], window: float, pixels: int) -> list[tuple[float, float, list[float]]]:
        """Group consecutive windows into stretches read with one ``read_clip`` each (overlapping
        windows are decoded once), each holding at most ``CHUNK_BYTES`` of decoded frames (source
        frames of ``pixels`` pixels as RGB + YUV while decoding, model-size float frames after):
        ``(chunk start, chunk length, window starts)``."""
        e = self.estimator
        frame_bytes = max(3 * 4 * e.frame_size ** 2, int(4.5 * pixels))
        max_sec = max(window, CHUNK_BYTES / (frame_bytes * e.fps))
        chunks: list[tuple[float, float, list[float]]] = []
        for s in starts:
            if chunks and s + window - chunks[-1][0] <= max_sec + 1e-9 and s >= chunks[-1][2][-1]:
                c0, _, group = chunks[-1]
                group.append(s)
                chunks[-1] = (c0, s + window - c0, group)
            else:
                chunks.append((s, window, [s]))
        return chunks

    def _read_chunk(self, path: str, chunk: tuple[float, float, list[float]], window: float,
                    audio_offset: float) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The windows of one chunk, sliced from a single decoded stretch."""
        c0, length, group = chunk
        video, audio = self._load(path, c0, length, audio_offset)
        e = self.estimator
        n, m = round(window * e.fps), round(window * e.sample_rate)
        out = []
        for s in group:
            i, j = round((s - c0) * e.fps), round((s - c0) * e.sample_rate)
            out.append((video[i:i + n], audio[j:j + m]))
        return out

    def _read(self, path: str, starts: Sequence[float], window: float, audio_offset: float, pixels: int
              ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Decoded windows in order; ``workers`` threads decode the next chunks ahead (bounded)."""
        chunks = self._chunks(starts, window, pixels)
        if self.workers == 0:
            for c in chunks:
                yield from self._read_chunk(path, c, window, audio_offset)
            return
        with ThreadPoolExecutor(self.workers) as pool:
            pending = deque(pool.submit(self._read_chunk, path, c, window, audio_offset)
                            for c in chunks[:self.workers])
            rest = iter(chunks[self.workers:])
            while pending:
                items = pending.popleft().result()
                nxt = next(rest, None)
                if nxt is not None:
                    pending.append(pool.submit(self._read_chunk, path, nxt, window, audio_offset))
                yield from items

    def score_windows(self, path: str | os.PathLike, starts: Sequence[float], window: float,
                      audio_offset: float = 0.0, pixels: int | None = None) -> tuple[torch.Tensor, list[tuple[float, float]]]:
        """Raw logits ``(W, C)`` of the windows at ``starts`` and each one's (motion, audio peak);
        ``audio_offset`` reads the audio that much later (simulates a file whose audio is that far
        ahead); ``pixels``: the source frame size (probed when not given)."""
        pixels = self.span(path).pixels if pixels is None else pixels
        return self._score(self._read(str(path), list(starts), window, audio_offset, pixels))

    def _score(self, items: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, list[tuple[float, float]]]:
        """Logits and evidence of decoded windows, in batches of ``batch_size``."""
        logits, evidence, batch = [], [], []

        def flush() -> None:
            logits.append(self.estimator.scores(torch.stack([b[0] for b in batch]), torch.stack([b[1] for b in batch])))
            batch.clear()

        for video, audio in items:
            evidence.append(window_evidence(video, audio))
            batch.append((video, audio))
            if len(batch) == self.batch_size:
                flush()
        if batch:
            flush()
        return torch.cat(logits) if logits else torch.zeros(0, self.grid.num_classes), evidence

    # ---- answers

    def _windows(self, logits: torch.Tensor, evidence: Sequence[tuple[float, float]], starts: Sequence[float],
                 window: float) -> list[WindowResult]:
        cal, grid = self.calibration, self.grid
        logp = torch.log_softmax(logits.double() / cal.temperature, -1)
        out = []
        for lp, (motion, peak), s in zip(logp, evidence, starts):
            reason = _is_usable(cal, motion, peak)
            probs = lp.exp()
            out.append(WindowResult(s, s + window, refine_offset(lp, grid, cal.refine), float(probs.max()),
                                    reason is None, reason, round(motion, 5), round(peak, 5),
                                    [float(p) for p in probs]))
        return out

    def answer(self, path: str, logits: torch.Tensor, evidence: Sequence[tuple[float, float]],
               starts: Sequence[float], window: float, duration: float | None = None,
               frame_rate: float | None = None) -> CheckResult:
        """Combine scored windows into the file's :class:`CheckResult` (``frame_rate``: the file's,
        for ``offset_frames`` and the stated precision; default the model's)."""
        cal, grid = self.calibration, self.grid
        per_window = self._windows(logits, evidence, starts, window)
        fps = float(frame_rate or self.estimator.fps)
        result = CheckResult(path=path, windows=len(per_window), duration_sec=duration, window_sec=window,
                             method=self.name, grid=grid.seconds, per_window=per_window, frame_rate=round(fps, 3),
                             precision_sec=round(max(0.5 / fps, 0.5 / self.estimator.fps), 3))
        if fps < LOW_FPS:
            result.warning = (f"low frame rate ({fps:.3g} fps): the picture changes only every {1 / fps:.2f} s, "
                              f"so the offset is known to +-{0.5 / fps:.2f} s at best")
        usable = [i for i, w in enumerate(per_window) if w.usable]
        if not usable:
            reasons = sorted({w.reason for w in per_window if w.reason})
            result.reason = "no usable window: " + (" / ".join(reasons) or "no windows")
            return result
        raw = torch.log_softmax(logits[usable].double(), -1)
        post = posterior(raw, [starts[i] for i in usable], window, cal.temperature)
        probs = post.exp()
        result.offset_sec = round(refine_offset(post, grid, cal.refine), 4)
        result.offset_frames = int(round(result.offset_sec * fps))
        result.confidence = float(probs.max())
        result.top = top_classes(probs, grid)
        result.synchronisable = result.confidence >= cal.min_confidence
        if not result.synchronisable:
            result.reason = f"low confidence ({result.confidence:.2f} < {cal.min_confidence:.2f}): flat distribution"
        return result

    def _plan(self, path: str | os.PathLike, window: float | None, stride: float | None
              ) -> tuple[float, Span, list[float]]:
        window = float(window or self.estimator.window_sec)
        stride = float(stride or window / 2)
        span = self.span(path)
        starts = window_starts(span.length, window, stride, self.estimator.fps, span.start)
        if not starts:
            raise TooShortError(path, f"{span.length:.2f} s of picture with sound is shorter than the "
                                      f"{window:g} s window: too short to check")
        return window, span, starts

    def check(self, path: str | os.PathLike, window: float | None = None, stride: float | None = None) -> CheckResult:
        """Check one file: windows of ``window`` s (default: the model's) every ``stride`` s (default
        half a window), combined. Raises an AvsyncError when the file cannot be checked."""
        window, span, starts = self._plan(path, window, stride)
        logits, evidence = self.score_windows(path, starts, window, pixels=span.pixels)
        return self.answer(str(path), logits, evidence, starts, window, span.length, span.fps)

    def check_many(self, paths: Iterable[str | os.PathLike], window: float | None = None,
                   stride: float | None = None) -> Iterator[CheckResult]:
        """Check files in order, one record each (``error`` set for a file that fails). While one file
        is scored, ``workers`` threads probe and decode the next ones (files of one chunk at most;
        longer files stream their chunks when their turn comes)."""
        paths = [str(p) for p in paths]

        def prepare(path: str) -> Any:
            try:
                w, span, starts = self._plan(path, window, stride)
                chunks = self._chunks(starts, w, span.pixels)
                items = self._read_chunk(path, chunks[0], w, 0.0) if len(chunks) == 1 else None
                return w, span, starts, items
            except Exception as e:  # re-raised in the consumer, where safe() turns it into a record
                return e

        def finish(path: str, prepared: Any) -> CheckResult:
            if isinstance(prepared, BaseException):
                raise prepared
            w, span, starts, items = prepared
            logits, evidence = (self._score(items) if items is not None
                                else self.score_windows(path, starts, w, pixels=span.pixels))
            return self.answer(path, logits, evidence, starts, w, span.length, span.fps)

        if self.workers == 0:
            for p in paths:
                yield self.safe(finish, p, prepared=prepare(p))
            return
        with ThreadPoolExecutor(self.workers) as pool:
            pending = deque(pool.submit(prepare, p) for p in paths[:self.workers])
            upcoming = iter(paths[self.workers:])
            for p in paths:
                prepared = pending.popleft().result()
                nxt = next(upcoming, None)
                if nxt is not None:
                    pending.append(pool.submit(prepare, nxt))
                yield self.safe(finish, p, prepared=prepared)

    def safe(self, fn: Callable[..., Any], path: str | os.PathLike, **kw: Any) -> Any:
        """``fn(path, **kw)``, or the failure record of ``path`` when it raises on a bad file."""
        try:
            return fn(path, **kw)
        except AvsyncError as e:
            msg = str(e) if str(path) in str(e) else f"{path}: {e}"
            return (DesyncResult(str(path), error=msg) if fn == self.desync
                    else CheckResult.failed(path, msg, self.name))
        except (OSError, RuntimeError, ValueError) as e:  # decoder or tensor trouble in one file
            msg = f"{path}: cannot check ({type(e).__name__}: {e})"
            return (DesyncResult(str(path), error=msg) if fn == self.desync
                    else CheckResult.failed(path, msg, self.name))

    def timeline(self, path: str | os.PathLike, window: float | None = None, stride: float | None = None,
                 min_windows: int = 2) -> Timeline:
        """Offset over time (default stride: a fifth of the window), with drift segments and the
        stretches without evidence."""
        window = float(window or self.estimator.window_sec)
        result = self.check(path, window, stride or window / 5)
        return analyse_timeline(result, self.grid, self.calibration, min_windows)

    def desync(self, path: str | os.PathLike, window: float | None = None) -> DesyncResult:
        """DeSync of one clip: mean |offset| of the first and the last window."""
        window = float(window or self.estimator.window_sec)
        span = self.span(path)
        if span.length < window - 1e-6:
            raise TooShortError(path, f"{span.length:.2f} s is shorter than the {window:g} s window")
        last = math.floor((span.length - window) * self.estimator.fps + 1e-6) / self.estimator.fps
        starts = [span.start, span.start + last]
        logits, evidence = self.score_windows(path, starts, window, pixels=span.pixels)
        windows = self._windows(logits, evidence, starts, window)
        bad = [w for w in windows if not w.usable]      # silent audio or a still picture: no evidence
        if bad:
            w = bad[0]
            where = "first" if w is windows[0] else "last"
            return DesyncResult(str(path), reason=f"{where} window {w.start_sec:.2f}-{w.end_sec:.2f} s: {w.reason}")
        first, end = (abs(w.offset_sec) for w in windows)
        return DesyncResult(str(path), first, end, (first + end) / 2)


def analyse_timeline(result: CheckResult, grid: OffsetGrid, cal: Calibration, min_windows: int = 2) -> Timeline:
    """Segments of constant offset (binary segmentation of the usable windows' log-probabilities),
    stretches without evidence (unusable or under ``min_confidence``), and a weighted linear drift rate."""
    windows = result.per_window
    owned = owned_spans(windows)
    usable = [i for i, w in enumerate(windows) if w.usable]
    segments: list[Segment] = []
    if usable:
        logp = torch.log(torch.tensor([windows[i].probs for i in usable], dtype=torch.float64).clamp_min(1e-12))
        for lo, hi, k in segment_offsets(logp, min_windows):
            idx = usable[lo:hi]
            raw = torch.log_softmax(logp[lo:hi] * cal.temperature, -1)  # undo the per-window temperature
            post = posterior(raw, [windows[i].start_sec for i in idx], result.window_sec or 1.0, cal.temperature)
            segments.append(Segment(round(owned[idx[0]][0], 3), round(owned[idx[-1]][1], 3),
                                    round(refine_offset(post, grid, cal.refine), 4), float(post.exp().max()),
                                    len(idx)))
    no_evidence = _stretches(windows, owned, lambda w: w.reason or (
        "low confidence" if w.confidence < cal.min_confidence else None))
    return Timeline(result, segments, no_evidence, _drift_rate(windows, cal))


def _drift_rate(windows: Sequence[WindowResult], cal: Calibration) -> float | None:
    """Confidence-weighted least-squares slope of the per-window offsets, in ms per minute."""
    pts = [((w.start_sec + w.end_sec) / 2, w.offset_sec, w.confidence) for w in windows
           if w.usable and w.confidence >= cal.min_confidence]
    if len(pts) < 3:
        return None
    t, y, wt = (torch.tensor(c, dtype=torch.float64) for c in zip(*pts))
    tm, ym = (wt * t).sum() / wt.sum(), (wt * y).sum() / wt.sum()
    var = (wt * (t - tm) ** 2).sum()
    if var <= 1e-9:
        return None
    return float((wt * (t - tm) * (y - ym)).sum() / var) * 60_000.0


def mean_desync(results: Sequence[DesyncResult]) -> float | None:
    """Mean DeSync over the clips that could be scored (failed and unusable clips left out)."""
    vals = [r.desync_sec for r in results if r.desync_sec is not None]
    return sum(vals) / len(vals) if vals else None


# --------------------------------------------------------------------------------------------------
# calibration and measurement on a labelled split: files with a known offset, simulated by reading
# each window's audio ``offset`` later (exactly what a file whose audio is that far ahead gives)


@dataclass
class SimRecord:
    """One simulated file: its true offset, the raw log-probabilities of its usable windows."""

    path: str
    kind: str
    true_sec: float
    target: int
    raw: torch.Tensor            # (usable windows, C) log_softmax of the logits
    starts: list[float]
    window: float


def simulate(checker: SyncChecker, sources: Sequence[Any], per_clip: int = 4, seed: int = 0,
             window: float | None = None, stride: float | None = None,
             progress: Callable[[], None] | None = None) -> tuple[list[SimRecord], list[str]]:
    """Check every source ``per_clip`` times at offsets drawn uniformly over the grid's range
    (continuous, not snapped to classes). Returns the records and one line per failed source."""
    import random

    rng = random.Random(seed)
    grid, fps = checker.grid, checker.estimator.fps
    window = float(window or checker.estimator.window_sec)
    stride = float(stride or window / 2)
    records, failed = [], []
    for src in sources:
        try:
            t0, length, pixels, _ = checker.span(src.path)
            for _ in range(per_clip):
                o = round(rng.uniform(-grid.max_sec, grid.max_sec), 4)
                lo, hi = max(0.0, -o) + 1e-3, length - max(0.0, o) - 1e-3
                starts = window_starts(hi - lo, window, stride, fps, t0 + lo)
                if not starts:
                    raise TooShortError(src.path, f"{length:.2f} s is too short for a {window:g} s window at {o:+.2f} s")
                logits, evidence = checker.score_windows(src.path, starts, window, audio_offset=o, pixels=pixels)
                keep = [i for i, (m, p) in enumerate(evidence) if _is_usable(checker.calibration, m, p) is None]
                records.append(SimRecord(src.path, getattr(src, "kind", ""), o, grid.to_class(o),
                                         torch.log_softmax(logits[keep].double(), -1), [starts[i] for i in keep],
                                         window))
        except AvsyncError as e:
            failed.append(str(e))
        if progress:
            progress()
    return records, failed


def _posteriors(records: Sequence[SimRecord], temperature: float) -> list[torch.Tensor]:
    return [posterior(r.raw, r.starts, r.window, temperature) for r in records]


def fit_calibration(records: Sequence[SimRecord], grid: OffsetGrid, base: Calibration | None = None) -> Calibration:
    """Fit the temperature (NLL of the true class over the files' combined scores) and pick the
    refinement with the lowest median absolute error; records without usable windows are left out."""
    base = base or Calibration()
    usable = [r for r in records if r.raw.shape[0]]
    if not usable:
        raise UsageError("no usable records to calibrate on (silent or still clips only?)")
    scores = torch.stack([combine(r.raw, r.starts, r.window) for r in usable])
    targets = torch.tensor([r.target for r in usable])
    temperature = fit_temperature(scores, targets)
    posts = _posteriors(usable, temperature)
    errors = {m: _median([abs(refine_offset(p, grid, m) - r.true_sec) for p, r in zip(posts, usable)])
              for m in REFINE_METHODS}
    best = min(errors, key=errors.get)
    fitted = {"records": len(usable), "median_abs_error_ms": {m: round(e * 1000, 1) for m, e in errors.items()}}
    return replace(base, temperature=round(temperature, 4), refine=best, fitted=fitted)


def _median(values: Sequence[float]) -> float:
    return float(torch.tensor(list(values), dtype=torch.float64).median()) if values else float("nan")


def measure(records: Sequence[SimRecord], grid: OffsetGrid, cal: Calibration) -> dict[str, Any]:
    """Accuracy, sub-class error, calibration and synchronisability of simulated files, overall and
    per kind: ``acc1`` (class right), ``acc1_pm1`` (within one class), ``median_abs_error_ms``
    (refined offset; ``_class`` for the class centre alone), ``ece`` and the reliability table;
    ``within_100ms`` / ``within_300ms`` (refined offset that close to the truth: comparable across
    grids); ``synchronisable`` is the fraction of files the checker would answer for."""
    def stats(rs: Sequence[SimRecord]) -> dict[str, Any]:
        usable = [r for r in rs if r.raw.shape[0]]
        posts = _posteriors(usable, cal.temperature)
        conf = [float(p.exp().max()) for p in posts]
        pred = [int(p.argmax()) for p in posts]
        ok = [k == r.target for k, r in zip(pred, usable)]
        sync = [c >= cal.min_confidence for c in conf]
        err = [abs(refine_offset(p, grid, cal.refine) - r.true_sec) for p, r in zip(posts, usable)]
        err_cls = [abs(grid.to_seconds(k) - r.true_sec) for k, r in zip(pred, usable)]
        n = max(1, len(usable))
        table = reliability(conf, ok)
        ms = lambda x: None if math.isnan(x) else round(x * 1000, 1)  # noqa: E731
        return {"files": len(rs), "usable": len(usable),
                "acc1": sum(ok) / n, "acc1_pm1": sum(abs(k - r.target) <= 1 for k, r in zip(pred, usable)) / n,
                "within_100ms": sum(e <= 0.1 for e in err) / n, "within_300ms": sum(e <= 0.3 for e in err) / n,
                "median_abs_error_ms": ms(_median(err)), "median_abs_error_ms_class": ms(_median(err_cls)),
                "ece": round(table["ece"], 4),
                "synchronisable": (sum(sync) / len(rs)) if rs else 0.0,
                "acc1_synchronisable": (sum(o for o, s in zip(ok, sync) if s) / max(1, sum(sync))),
                "reliability": table}

    kinds = sorted({r.kind for r in records})
    return {"all": stats(records), **{f"kind:{k}": stats([r for r in records if r.kind == k])
                                       for k in kinds if k and len(kinds) > 1}}


# --------------------------------------------------------------------------------------------------
# explanation: where the model looked


def attention_maps(attention: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The last layer's attention of one example as a visual map ``(t, h, w)`` and an audio map
    ``(f, t_a)`` (None when the model has none), each scaled to a maximum of 1. SparseSync: the mean
    over selectors; AVST: the CLS token's attention (AVST-dec: its cross-attention row)."""
    if "visual_selectors" in attention:
        vis = attention["visual_selectors"][0, -1].float().mean(0)
        aud = attention["audio_selectors"][0, -1].float().mean(0)
    elif "decoder_cross" in attention:
        vis, aud = attention["decoder_cross"][0, -1, 0].float(), None
    elif "cls_to_visual" in attention:
        vis = attention["cls_to_visual"][0, -1].float()
        f = attention["audio_grid"][0]
        aud = attention["cls_to_audio"][0, -1].float()[None].expand(f, -1) if "cls_to_audio" in attention else None
    else:
        raise UsageError(f"this model returns no attention maps I know ({', '.join(attention)})")

    def unit(x: torch.Tensor) -> torch.Tensor:
        x = x - x.min()
        return x / x.max().clamp_min(1e-12)

    return unit(vis), None if aud is None else unit(aud)


def explain(checker: SyncChecker, path: str | os.PathLike, out: str | os.PathLike, start: float | None = None,
            window: float | None = None, frames: int = 8) -> dict[str, Any]:
    """Write a PNG of the model's attention over ``frames`` frames of one window (default: the most
    confident usable window of the file) and over its spectrogram; returns what was shown."""
    import numpy as np
    import torch.nn.functional as F

    from avsync.features import log_spectrogram
    from avsync.plots import explain_plot

    est = checker.estimator
    if not isinstance(est, ModelEstimator):
        raise UsageError("explain needs a learned model (the xcorr baseline has no attention)")
    window = float(window or est.window_sec)
    if start is None:
        r = checker.check(path, window)
        best = max(r.per_window, key=lambda w: (w.usable, w.confidence))
        start = best.start_sec
    video, audio = checker._load(str(path), float(start), window, 0.0)
    with torch.inference_mode():
        o = est.model(video[None].to(est.device), audio[None].to(est.device), return_attention=True)
    logp = torch.log_softmax(o.logits[0].double().cpu() / checker.calibration.temperature, -1)
    vis, aud = attention_maps(o.attention)
    n, (h, w) = video.shape[0], video.shape[-2:]
    idx = np.linspace(0, n - 1, max(1, frames)).round().astype(int)
    t_idx = (idx * vis.shape[0] // n).clip(0, vis.shape[0] - 1)
    heat = F.interpolate(vis.cpu()[t_idx][:, None], size=(h, w), mode="bilinear", align_corners=False)[:, 0]
    spec = log_spectrogram(audio[None], est.model.config.n_fft, est.model.config.hop)[0, 0]
    aheat = None if aud is None else F.interpolate(aud.cpu()[None, None], size=spec.shape, mode="bilinear",
                                                   align_corners=False)[0, 0].numpy()
    offset = refine_offset(logp, checker.grid, checker.calibration.refine)
    conf = float(logp.exp().max())
    pics = (video[idx].permute(0, 2, 3, 1) * 255).round().clamp(0, 255).to(torch.uint8).numpy()
    times = [float(start) + i / est.fps for i in idx]
    title = (f"{Path(path).name}  window {start:.2f}-{start + window:.2f} s  offset {offset:+.2f} s "
             f"(confidence {conf:.2f})  top: where the model looked; bottom: what it listened to")
    explain_plot(pics, heat.numpy(), spec.numpy(), aheat, times, out, title, time_range=(float(start), float(start) + window),
                 max_khz=est.sample_rate / 2000)
    return {"path": str(path), "start_sec": float(start), "end_sec": float(start) + window, "offset_sec": round(offset, 4),
            "confidence": round(conf, 4), "out": str(out)}
