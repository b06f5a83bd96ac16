"""Where the model looked: the attention of its selectors over the frames of one window and over its
spectrogram, as data (:class:`Explanation`); :func:`avsync.plots.explain_plot` draws it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from avsync.checker.checker import SyncChecker
from avsync.checker.combine import refine_offset
from avsync.checker.estimators import ModelEstimator
from avsync.checker.offset_checker import OffsetChecker
from avsync.clip import read_window
from avsync.errors import UsageError


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


@dataclass
class Explanation:
    """One window as the model saw it: ``frames`` (N, H, W, 3) uint8 at ``times``, the visual
    attention ``heat`` (N, H, W) in [0, 1], the log ``spectrogram`` (F, T) with the audio attention
    ``audio_heat`` over it (None when the model has none), and the window's own answer."""

    path: str
    start_sec: float
    end_sec: float
    offset_sec: float
    confidence: float
    frames: Any
    heat: Any
    times: list[float]
    spectrogram: Any
    audio_heat: Any
    max_khz: float
    faces: list[dict[str, Any]] = field(default_factory=list)   # the speech expert's face tracks there, heaviest first

    @property
    def title(self) -> str:
        """A one-line caption."""
        return (f"{Path(self.path).name}  window {self.start_sec:.2f}-{self.end_sec:.2f} s  offset "
                f"{self.offset_sec:+.2f} s (confidence {self.confidence:.2f})  top: where the model looked; "
                f"bottom: what it listened to")

    def to_dict(self) -> dict[str, Any]:
        """The scalar facts (for JSON)."""
        return {"path": self.path, "start_sec": self.start_sec, "end_sec": self.end_sec,
                "offset_sec": round(self.offset_sec, 4), "confidence": round(self.confidence, 4), "faces": self.faces}


def explain(checker: SyncChecker | OffsetChecker, path: str | os.PathLike, start: float | None = None,
            window: float | None = None, frames: int = 8) -> Explanation:
    """The model's attention over ``frames`` frames of one window (default: the most confident
    usable window of the file) and over its spectrogram."""
    import numpy as np
    import torch.nn.functional as F

    from avsync.features import log_spectrogram

    if isinstance(checker, OffsetChecker):
        return _explain_engine(checker, path, start, window, frames)
    est = checker.estimator
    if not isinstance(est, ModelEstimator):
        raise UsageError("explain needs a learned model (the xcorr baseline has no attention)")
    window = float(window or est.window_sec)
    if start is None:
        r = checker.check(path, window)
        best = max(r.per_window, key=lambda w: (w.usable, w.confidence))
        start = best.start_sec
    video, audio = read_window(str(path), float(start), 0.0, checker.clip_spec(window))
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
    pics = (video[idx].permute(0, 2, 3, 1) * 255).round().clamp(0, 255).to(torch.uint8).numpy()
    return Explanation(str(path), float(start), float(start) + window,
                       refine_offset(logp, checker.grid, checker.calibration.refine), float(logp.exp().max()),
                       pics, heat.numpy(), [float(start) + i / est.fps for i in idx], spec.numpy(), aheat,
                       est.sample_rate / 2000)


def _explain_engine(checker: OffsetChecker, path: str | os.PathLike, start: float | None, window: float | None,
                    frames: int) -> Explanation:
    """The engine's spatial attention (mean over its heads) over ``frames`` frames of one stretch
    (default: the most confident one), the log-mel bands it listened to, and, when the speech expert
    ran, which face tracks carried the stretch (their attention and boxes)."""
    import numpy as np
    import torch.nn.functional as F

    window = float(window or checker.window_sec)
    s = checker.read(path)                                   # decoded once: the answer and the frames shown
    r = checker.answer(str(path), checker.evidence_of(s), s, window)
    if start is None:
        start = max(r.per_window, key=lambda w: (w.usable, w.confidence)).start_sec
    fps, sr = s.fps, s.sample_rate
    k0 = max(0, min(len(s.frames) - 1, int(round((float(start) - s.start_sec) * fps))))
    k1 = min(len(s.frames), k0 + max(1, int(round(window * fps))))
    clip = torch.from_numpy(s.frames[k0:k1])[None].to(checker.device)
    audio = torch.from_numpy(s.audio[int(k0 / fps * sr):int(k1 / fps * sr)])[None].to(checker.device)
    with torch.inference_mode():
        _, maps = checker.model.frame_features(clip)
        spec = checker.model.log_mel(audio)[0].cpu()
    idx = np.linspace(0, k1 - k0 - 1, max(1, frames)).round().astype(int)
    att = maps[0, idx].mean(1).cpu()                                            # (n, h, w)
    att = att / att.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]
    h, w = s.frames.shape[1:]
    heat = F.interpolate(att[:, None], size=(h, w), mode="bilinear", align_corners=False)[:, 0]
    pics = np.repeat(s.frames[k0:k1][idx][..., None], 3, axis=-1)
    where = next((wr for wr in r.per_window if abs(wr.start_sec - float(start)) < 1e-6), None)
    offset = where.offset_sec if where is not None else (r.offset_sec or 0.0)
    conf = where.confidence if where is not None else (r.confidence or 0.0)
    speech = s.extras.get("speech")
    faces = speech.carriers(k0, k1, [k0 + int(i) for i in idx]) if speech is not None else []
    return Explanation(str(path), s.start_sec + k0 / fps, s.start_sec + k1 / fps, float(offset), float(conf), pics,
                       heat.numpy(), [s.start_sec + (k0 + i) / fps for i in idx], spec.numpy(), None, 0.0,  # mel bands
                       faces)
