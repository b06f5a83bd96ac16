"""Codec-artefact audit: can a model read the offset from compression artefacts alone?

SparseSync (BMVC 2022) found that a sync model learns to "predict" offsets from clips that carry no
sync signal at all when the video is MPEG-4 Part 2: the artefacts show where a crop starts relative
to the codec's grid (keyframes every GOP, AAC frames of 1024 samples), and the offset is a function
of where the crops start. This module measures that for any encoding:

1. make clips with NO sync signal (the ``static`` synthetic kind: one still picture and stationary
   noise; or still frames and noise of the spectrum of the user's own video) and encode them with
   exactly the given settings (``media.write_video``);
2. train a small SparseSync probe (``sparsesync-tiny``, the training module of ``avsync.train``) on
   crops with offsets made on the fly, in three probes:

   - ``video only``: the audio is replaced by fresh noise at load time; the audio crop is pinned at
     an anchor time and the video crop starts at ``anchor - offset``, so the offset is exactly "where
     the video crop starts" (the crop's phase against the GOP grid moves with the offset);
   - ``audio only``: the video is replaced by a fresh still frame; the video crop is pinned at the
     anchor and the audio crop starts at ``anchor + offset``;
   - ``both``: both streams as decoded, crops placed as in training (``offsets.CropSampler``: random
     frame-snapped video start, audio at ``vstart + offset`` plus ``jitter_sec``). Here only the
     relative phase of the two streams' codec grids (and any file-edge effect) can leak;

3. evaluate on held-out clips (``evaluate.evaluate``), ONE example a clip, and test the accuracy
   against chance ``1 / num_classes`` with an exact one-sided binomial test. The target class is
   drawn uniformly, and with no leak the crop of an independently made clip looks the same whatever
   the class, so each prediction is right with probability exactly ``1 / num_classes``,
   independently of the others. (Several crops of one clip would not do: the crop of a given clip
   at a given offset is one fixed input, right or wrong every time it is drawn, so a lucky probe
   would look significant.) Verdict ``LEAKS`` when ``p < alpha`` and the accuracy is at least
   ``min_effect`` above chance; otherwise ``CLEAN`` (this probe, at this budget, found no leak).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from avsync.clip import ClipSpec
from avsync.data.datasets import DecodedCache, Source, collate, load_example
from avsync.errors import UsageError
from avsync.offsets import Crop, CropSampler, OffsetGrid

PROBES = ("video only", "audio only", "both")
LEAKS, CLEAN = "LEAKS", "CLEAN"

# (frames uint8 (T, size, size, 3), audio float32 (S,)) of clip ``index``, ``duration_sec`` long
ClipMaker = Callable[[int, float, float, int, int], tuple[np.ndarray, np.ndarray]]

_VIDEO_ONLY_CONTAINERS = {"libvpx": ".webm", "libvpx-vp9": ".webm", "libaom-av1": ".webm", "libsvtav1": ".webm"}
_WEBM_AUDIO = ("libopus", "opus", "libvorbis")


@dataclass(frozen=True)
class Encoding:
    """Exactly the settings handed to ``media.write_video`` (None: the encoder's own default)."""

    vcodec: str = "h264"
    acodec: str = "aac"
    sample_rate: int = 16000
    gop: int | None = None
    crf: float | None = None
    bitrate: int | None = None
    audio_bitrate: int | None = None
    pix_fmt: str = "yuv420p"

    @property
    def suffix(self) -> str:
        """Container extension: .webm for VP8/VP9/AV1 with Opus/Vorbis, .mp4 for the MPEG family
        with AAC/MP3, else .mkv (which holds any pair)."""
        if self.vcodec in _VIDEO_ONLY_CONTAINERS and self.acodec in _WEBM_AUDIO:
            return ".webm"
        if self.vcodec in ("h264", "libx264", "mpeg4", "hevc", "libx265") and self.acodec in ("aac", "libmp3lame", "mp3"):
            return ".mp4"
        return ".mkv"

    def label(self) -> str:
        """Short human description, e.g. ``mpeg4 gop 12 + aac 16 kHz``."""
        v = [self.vcodec] + [f"{k} {v}" for k, v in (("gop", self.gop), ("crf", self.crf), ("bitrate", self.bitrate))
                             if v is not None]
        a = [self.acodec, f"{self.sample_rate / 1000:g} kHz"] + ([f"{self.audio_bitrate // 1000} kb/s"]
                                                                 if self.audio_bitrate else [])
        return f"{' '.join(v)} + {' '.join(a)}"

    def write(self, path: Path, frames: np.ndarray, audio: np.ndarray, fps: float) -> Path:
        """Encode one clip with these settings (temp file + rename, as write_video does)."""
        from avsync.media import write_video

        return write_video(path, frames, audio, fps=fps, sample_rate=self.sample_rate, vcodec=self.vcodec,
                           acodec=self.acodec, pix_fmt=self.pix_fmt, crf=self.crf, bitrate=self.bitrate,
                           gop=self.gop, audio_bitrate=self.audio_bitrate)


@dataclass(frozen=True)
class ProbeConfig:
    """How the probe is run. Clips are encoded at ``size`` px and read at the model's ``frame_size``;
    ``window_sec`` None picks 0.6 s (more than MPEG-4 Part 2's default GOP of 12 frames), or one GOP
    plus a grid step when ``gop`` is given (a crop must hold a keyframe for the GOP phase to be
    visible), at most 5 s."""

    model: str = "sparsesync-tiny"
    size: int = 64
    frame_size: int = 32
    window_sec: float | None = None
    offset_max_sec: float = 1.0   # 11 classes; what leaks is the crop's phase, set by the step (not the width)
    offset_step_sec: float = 0.2
    fps: float = 25.0
    lead_sec: float = 1.0          # clip time before the earliest per-stream crop (keeps file-start effects out)
    tail_sec: float = 0.2
    jitter_sec: float = 0.0        # audio jitter of the ``both`` probe (training uses up to half a step)
    frame_noise: float = 2.0       # per-frame sensor noise (0..255 std) added to the still pictures
    residual_gain: float = 8.0     # the probe sees 0.5 + gain * (frame - the crop's mean frame); 0: raw frames
    clips: int = 24
    test_clips: int = 200         # held-out clips; each gives ONE example a probe (see the module doc)
    steps: int = 150
    batch_size: int = 16
    lr: float = 2e-3
    warmup_steps: int = 30
    workers: int = 1
    threads: int = 1               # torch threads; more than one thrashes a small CPU shared with the loader
    alpha: float = 0.01
    min_effect: float = 0.05       # accuracy - chance (absolute) below which a significant result is still CLEAN
    seed: int = 0
    probes: tuple[str, ...] = PROBES

    def __post_init__(self) -> None:
        unknown = [p for p in self.probes if p not in PROBES]
        if unknown or not self.probes:
            raise UsageError(f"unknown probe(s) {unknown}; choose from {', '.join(PROBES)}")
        if self.clips < 1 or self.test_clips < 1 or self.steps < 1:
            raise UsageError("the audit needs clips, test_clips and steps >= 1")
        if not 0 < self.alpha < 1:
            raise UsageError(f"alpha must lie in (0, 1), not {self.alpha}")
        if self.size < 32 or self.size % 2 or self.frame_size > self.size:
            raise UsageError(f"size must be an even number >= 32 and >= frame_size ({self.frame_size})")
        self.grid  # validates the offset grid

    @property
    def grid(self) -> OffsetGrid:
        """Offset classes of the probe."""
        try:
            return OffsetGrid(self.offset_max_sec, self.offset_step_sec)
        except ValueError as e:
            raise UsageError(str(e)) from None

    def window(self, encoding: Encoding) -> float:
        """Crop length in seconds (frame-aligned)."""
        w = self.window_sec
        if w is None:
            w = 0.6 if encoding.gop is None else min(5.0, max(0.6, encoding.gop / self.fps + self.offset_step_sec))
        return round(w * self.fps) / self.fps

    def duration(self, encoding: Encoding) -> float:
        """Length of every generated clip: lead-in, all crop positions of the per-stream probes, tail."""
        d = self.lead_sec + self.window(encoding) + 2 * self.offset_max_sec + self.tail_sec
        return math.ceil(d * self.fps) / self.fps

    def anchor(self) -> float:
        """Where the pinned stream's crop starts in the per-stream probes."""
        return self.lead_sec + self.offset_max_sec


@dataclass
class ProbeResult:
    """Outcome of one probe."""

    probe: str
    n: int
    correct: int
    accuracy: float
    chance: float
    p_value: float
    verdict: str
    acc1_within1: float
    train_loss: float
    wall_sec: float


@dataclass
class AuditReport:
    """What ``avsync audit`` measured; ``to_dict`` is the JSON report."""

    encoding: Encoding
    config: ProbeConfig
    source: str
    results: list[ProbeResult] = field(default_factory=list)
    wall_sec: float = 0.0

    @property
    def verdict(self) -> str:
        """LEAKS when any probe leaks."""
        return LEAKS if any(r.verdict == LEAKS for r in self.results) else CLEAN

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        cfg = asdict(self.config)
        cfg["window_sec"] = self.config.window(self.encoding)
        return {"encoding": asdict(self.encoding), "label": self.encoding.label(), "source": self.source,
                "config": cfg, "num_classes": self.config.grid.num_classes, "verdict": self.verdict,
                "results": [asdict(r) for r in self.results], "wall_sec": round(self.wall_sec, 1)}

    def lines(self) -> list[str]:
        """One line a probe: verdict, accuracy vs chance, p-value."""
        return [f"{r.probe:>10}: {r.verdict}  acc@1 {r.accuracy:.1%} vs chance {r.chance:.1%} "
                f"({r.correct}/{r.n}, p = {r.p_value:.2g})" for r in self.results]


def leak_test(correct: int, n: int, num_classes: int, alpha: float = 0.01,
              min_effect: float = 0.05) -> tuple[float, str]:
    """Exact one-sided binomial test of ``correct`` out of ``n`` against chance ``1/num_classes``:
    the p-value and LEAKS (p < alpha and accuracy >= chance + min_effect) or CLEAN."""
    from scipy.stats import binomtest

    if n < 1 or not 0 <= correct <= n or num_classes < 2:
        raise ValueError(f"need 0 <= correct <= n, n >= 1 and >= 2 classes (got {correct}/{n}, {num_classes})")
    chance = 1.0 / num_classes
    p = float(binomtest(int(correct), int(n), chance, alternative="greater").pvalue)
    return p, LEAKS if p < alpha and correct / n - chance >= min_effect else CLEAN


# --- clips with no sync signal -------------------------------------------------------------------

def static_maker(seed: int = 0) -> ClipMaker:
    """Clips of the ``static`` synthetic kind: one still picture repeated, stationary ambience."""
    from avsync.data.synthetic import SynthConfig, make_clip

    def make(index: int, duration_sec: float, fps: float, sample_rate: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        cfg = SynthConfig(duration_sec=duration_sec, size=size, fps=fps, sample_rate=sample_rate)
        clip = make_clip("static", seed, index, cfg)
        return clip.frames, clip.audio

    return make


def _spectrum_noise(rng: np.random.Generator, n: int, power: np.ndarray, rms: float) -> np.ndarray:
    """Gaussian noise of ``n`` samples whose power spectrum follows ``power`` (rfft bins of any length)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    gain = np.sqrt(np.interp(np.linspace(0, 1, len(spec)), np.linspace(0, 1, len(power)), power))
    x = np.fft.irfft(spec * gain, n)
    return (x * rms / max(float(np.sqrt(np.mean(x ** 2))), 1e-12)).astype(np.float32)


def still_maker(path: str | Path, seed: int = 0) -> ClipMaker:
    """Clips made from the user's video: a still frame (clip ``index`` takes its own time in the
    file) and stationary noise with the long-term spectrum and level of the file's audio."""
    from scipy.signal import welch

    from avsync.errors import TooShortError
    from avsync.media import probe, read_clip

    info = probe(path)
    if info.video is None or info.audio is None:
        raise UsageError(f"{path}: --from-video needs a file with both a video and an audio stream")
    span = min(info.duration_sec, 10.0)
    if span < 0.2:
        raise TooShortError(path, f"file is {info.duration_sec:.2f} s long, too short to take stills and noise from")
    cache: dict[int, tuple[np.ndarray, float]] = {}

    def audio_profile(sample_rate: int) -> tuple[np.ndarray, float]:
        if sample_rate not in cache:
            a = read_clip(path, 0.0, span - 0.05, sample_rate=sample_rate).audio.numpy().astype(np.float64)
            _, power = welch(a, nperseg=min(2048, len(a)))
            cache[sample_rate] = (power, float(np.sqrt(np.mean(a ** 2))) or 0.05)
        return cache[sample_rate]

    def make(index: int, duration_sec: float, fps: float, sample_rate: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        t = ((index * 0.6180339887 + 0.5 / (index + 2)) % 1.0) * (info.duration_sec - 0.2)
        frame = read_clip(path, t, 1.0 / fps, fps=fps, sample_rate=sample_rate, size=size, crop=size).frames[0]
        frames = np.broadcast_to(frame.numpy(), (round(duration_sec * fps), size, size, 3)).copy()
        power, rms = audio_profile(sample_rate)
        rng = np.random.default_rng([seed, index, 7])
        return frames, _spectrum_noise(rng, round(duration_sec * sample_rate), power, rms)

    return make


def add_frame_noise(frames: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Fresh Gaussian sensor noise (std ``sigma`` in 0..255 units) on every frame."""
    if sigma <= 0:
        return frames
    noisy = frames.astype(np.float32) + rng.standard_normal(frames.shape, dtype=np.float32) * sigma
    return np.clip(noisy + 0.5, 0, 255).astype(np.uint8)


def make_sources(folder: Path, maker: ClipMaker, encoding: Encoding, cfg: ProbeConfig,
                 indices: Sequence[int], split: str) -> list[Source]:
    """Generate and encode clips ``indices`` into ``folder``; one Source each."""
    duration = cfg.duration(encoding)
    sources = []
    for i in indices:
        frames, audio = maker(i, duration, cfg.fps, encoding.sample_rate, cfg.size)
        frames = add_frame_noise(frames, cfg.frame_noise, np.random.default_rng([cfg.seed, i, 11]))
        path = encoding.write(folder / f"{split}{i:04d}{encoding.suffix}", frames, audio, cfg.fps)
        sources.append(Source(str(path), split, "audit", duration))
    return sources


# --- the probe's examples ------------------------------------------------------------------------

def _seed_of(*parts: Any) -> int:
    return int(hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()[:15], 16)


def fresh_noise(like: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """White noise with the level of ``like`` (a clip with no energy gets a fixed level)."""
    rms = float(like.square().mean().sqrt()) or 0.05
    return torch.randn(like.shape, generator=gen) * rms


def fresh_still(like: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A new smooth random picture (never encoded), repeated for every frame of ``like`` (T, 3, H, W)."""
    t, c, h, w = like.shape
    coarse = torch.rand(1, c, 4, 4, generator=gen)
    image = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)[0]
    return image.expand(t, c, h, w).contiguous()


def temporal_residual(video: torch.Tensor, gain: float) -> torch.Tensor:
    """What changes over the crop, amplified: ``0.5 + gain * (frame - mean frame)``, clamped to
    [0, 1]. A still picture carries no offset information, so removing it loses none and leaves
    the codec's temporal artefacts (a keyframe refresh, a quality drift) as the whole input."""
    return (0.5 + gain * (video - video.mean(dim=0, keepdim=True))).clamp_(0.0, 1.0)


class ProbeDataset(Dataset):
    """Example ``k`` of one probe: its crop placement and stream replacement (see the module doc).
    Every random choice is seeded by ``(seed, probe, k)``; the target class is uniform and i.i.d."""

    def __init__(self, sources: Sequence[Source], spec: ClipSpec, probe: str, anchor_sec: float,
                 length: int, seed: int = 0, jitter_sec: float = 0.0, cache: bool = True,
                 residual_gain: float = 0.0) -> None:
        if probe not in PROBES:
            raise UsageError(f"unknown probe {probe!r}; choose from {', '.join(PROBES)}")
        self.sources, self.spec, self.probe, self.anchor = list(sources), spec, probe, anchor_sec
        self.length, self.seed, self.residual_gain = length, seed, residual_gain
        self.sampler = CropSampler(spec.grid, spec.window_sec, spec.fps, jitter_sec)
        # training reuses sources: decode each once (per loader process) and cut crops in memory
        self.cache = DecodedCache() if cache else None

    def __len__(self) -> int:
        return self.length

    def crop(self, k: int) -> tuple[Crop, int]:
        """The crop and target class of example ``k`` (no decoding)."""
        src = self.sources[k % len(self.sources)]
        rng = random.Random(_seed_of(self.seed, self.probe, k))
        if self.probe == "both":
            return self.sampler.sample(src.path, float(src.duration_sec), rng)
        cls = rng.randrange(self.spec.grid.num_classes)
        offset = self.spec.grid.to_seconds(cls)
        vstart = self.anchor - offset if self.probe == "video only" else self.anchor
        return Crop(src.path, offset, round(vstart, 6)), cls

    def __getitem__(self, k: int) -> dict[str, Any]:
        crop, cls = self.crop(k)
        duration = self.sources[k % len(self.sources)].duration_sec
        item = load_example(crop, self.spec, cls, self.probe, cache=self.cache, duration_sec=duration)
        gen = torch.Generator().manual_seed(_seed_of(self.seed, self.probe, k, "fresh"))
        if self.probe == "video only":
            item["audio"] = fresh_noise(item["audio"], gen)
        elif self.probe == "audio only":
            item["video"] = fresh_still(item["video"], gen)
        if self.residual_gain > 0:
            item["video"] = temporal_residual(item["video"], self.residual_gain)
        return item


# --- training and testing one probe --------------------------------------------------------------

def _overrides(cfg: ProbeConfig, window: float) -> dict[str, Any]:
    """Model config fields the probe sets (input window, frame size, frame rate, offset grid)."""
    return {"duration_sec": window, "frame_size": cfg.frame_size, "fps": cfg.fps,
            "offset_max_sec": cfg.offset_max_sec, "offset_step_sec": cfg.offset_step_sec}


def _module_config(cfg: ProbeConfig, window: float) -> dict[str, Any]:
    """The training config (``avsync.train``) of the probe model."""
    return {"model": {"name": cfg.model, "overrides": _overrides(cfg, window)},
            "optim": {"lr": cfg.lr, "warmup_steps": cfg.warmup_steps, "warmup_start": 0.01, "grad_clip": 1.0},
            "loss": {"kind": "ce"}, "trainer": {"max_steps": cfg.steps, "batch_size": cfg.batch_size},
            "seed": cfg.seed}


def train_probe(train_set: Dataset, cfg: ProbeConfig, window: float, workdir: Path) -> tuple[torch.nn.Module, float]:
    """Train a fresh probe model with the training module of ``avsync.train`` (cross-entropy, Adam,
    warm-up, gradient clipping) for ``cfg.steps`` steps; returns the model and its last loss."""
    import warnings

    # Lightning's start-up notes, "no val_dataloader" and the ln(K) plateau warnings are expected here
    loggers = [logging.getLogger(n) for n in ("lightning.pytorch", "lightning.fabric", "avsync.train")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="lightning")
            return _fit(train_set, cfg, window, workdir)
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _fit(train_set: Dataset, cfg: ProbeConfig, window: float, workdir: Path) -> tuple[torch.nn.Module, float]:
    import lightning as L

    from avsync.train.module import SyncModule

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    module = SyncModule(_module_config(cfg, window))
    loader = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=False, num_workers=cfg.workers,
                        collate_fn=collate, persistent_workers=False)
    trainer = L.Trainer(accelerator="auto", devices=1, max_steps=cfg.steps, max_epochs=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        gradient_clip_val=1.0, num_sanity_val_steps=0, limit_val_batches=0,
                        default_root_dir=str(workdir))
    trainer.fit(module, train_dataloaders=loader)
    loss = trainer.callback_metrics.get("train/loss")
    return module.model.cpu().eval(), float(loss) if loss is not None else float("nan")


def run_probe(probe: str, train_sources: Sequence[Source], test_sources: Sequence[Source], encoding: Encoding,
              cfg: ProbeConfig, workdir: Path) -> ProbeResult:
    """Train and test one probe; the binomial test decides the verdict."""
    from avsync.evaluate import evaluate
    from avsync.models import get_config

    t0 = time.perf_counter()
    window = cfg.window(encoding)
    mc = get_config(cfg.model, **_overrides(cfg, window))
    spec = ClipSpec(window, mc.fps, mc.sample_rate, mc.frame_size, mc.grid, resize=mc.frame_size)
    train_set = ProbeDataset(train_sources, spec, probe, cfg.anchor(), cfg.steps * cfg.batch_size,
                             cfg.seed, cfg.jitter_sec, residual_gain=cfg.residual_gain)
    model, loss = train_probe(train_set, cfg, window, workdir)
    test_set = ProbeDataset(test_sources, spec, probe, cfg.anchor(), len(test_sources), cfg.seed + 1_000_003,
                            cfg.jitter_sec, cache=False,  # one example a held-out clip: independent trials
                            residual_gain=cfg.residual_gain)
    report = evaluate(model, test_set, batch_size=32, workers=cfg.workers)
    n = report.n_clips
    correct = int(round(report.acc1 * n))
    p, verdict = leak_test(correct, n, cfg.grid.num_classes, cfg.alpha, cfg.min_effect)
    return ProbeResult(probe, n, correct, correct / n, 1.0 / cfg.grid.num_classes, p, verdict,
                       report.acc1_within1, round(loss, 4), round(time.perf_counter() - t0, 1))


def run_audit(encoding: Encoding, cfg: ProbeConfig = ProbeConfig(), maker: ClipMaker | None = None,
              source: str = "static", workdir: str | Path | None = None,
              on_result: Callable[[ProbeResult], None] | None = None) -> AuditReport:
    """The whole audit: encode ``cfg.clips`` training and ``cfg.test_clips`` held-out clips made by
    ``maker`` (default: the static synthetic kind), run every probe of ``cfg.probes``. The clips live
    in ``workdir`` (default: a temporary folder, removed afterwards)."""
    t0 = time.perf_counter()
    maker = maker or static_maker(cfg.seed)
    report = AuditReport(encoding, cfg, source)
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        with tempfile.TemporaryDirectory(prefix="avsync-audit-") as tmp:
            _run_probes(report, maker, folder=Path(workdir) if workdir is not None else Path(tmp),
                        tmp=Path(tmp), on_result=on_result)
    finally:
        torch.set_num_threads(threads)
    report.wall_sec = time.perf_counter() - t0
    return report


def _run_probes(report: AuditReport, maker: ClipMaker, folder: Path, tmp: Path,
                on_result: Callable[[ProbeResult], None] | None) -> None:
    """Encode the training and held-out clips into ``folder``, then run every probe into ``report``."""
    encoding, cfg = report.encoding, report.config
    folder.mkdir(parents=True, exist_ok=True)
    train = make_sources(folder, maker, encoding, cfg, range(cfg.clips), "train")
    test = make_sources(folder, maker, encoding, cfg, range(cfg.clips, cfg.clips + cfg.test_clips), "test")
    for probe in cfg.probes:
        result = run_probe(probe, train, test, encoding, cfg, tmp)
        report.results.append(result)
        if on_result is not None:
            on_result(result)


def write_report(report: AuditReport, path: str | Path) -> Path:
    """Write the JSON report (temp file in the same folder, then rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(report.to_dict(), indent=1) + "\n")
    tmp.replace(path)
    return path
