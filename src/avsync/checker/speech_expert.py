"""The speech expert: where there are faces and speech, each face track's mouth against the sound
at every offset, joined to the engine's evidence on the same frames.

1. Silero VAD marks where the sound holds speech (the sound is decoded for it first);
2. while the engine decodes the file, a :class:`~avsync.perception.faces.FaceFinder` sees the frames
   within 0.5 s of speech at a resolution the grey frames do not have (``read_streams(...,
   on_frame=...)``); footage without speech costs no face finding;
3. a lip scorer (:mod:`avsync.models.lips`) embeds every track's mouth signal and the sound and
   scores every offset per frame and track; a frame's evidence is the mixture over the tracks seen
   there, weighted by how much each looks like talking (attention over tracks: only the speaker's
   track should carry the moment), ``log sum_k w_k p_k(offset)``;
4. frames without speech (within 0.3 s: lips move before a word) or without a face add nothing, so
   on other footage the engine is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from avsync.models.lagnet import LagNet, filled_log_probs
from avsync.perception import require_speech, speech_available

SPEECH_MODES = ("auto", "on", "off")
MIN_TRACK_SEC = 1.0          # shorter face tracks are ignored
MIN_EVIDENCE_SEC = 1.0       # the expert "contributed" to a record when it had at least this much evidence


def speech_wanted(mode: str) -> bool:
    """Whether the expert runs under ``--speech mode``: ``on`` needs the extra (a one-line error if it
    is missing), ``auto`` uses it when installed, ``off`` never."""
    if mode not in SPEECH_MODES:
        from avsync.errors import UsageError

        raise UsageError(f"--speech must be one of {', '.join(SPEECH_MODES)}, not {mode!r}")
    if mode == "on":
        require_speech()
    return mode == "on" or (mode == "auto" and speech_available())


@dataclass
class SpeechEvidence:
    """One file's speech evidence, ready to be scored band by band on the engine's frames."""

    band: Callable[[int, int, torch.Tensor], torch.Tensor]   # (first frame, frames, offsets in steps) -> (n, K)
    tracks: int                  # face tracks used
    speech_sec: float            # seconds of the picture with speech around them
    evidence_sec: float          # of those, seconds with a face seen
    cost_sec: float              # time spent finding faces
    used: list[Any] = field(default_factory=list)             # the FaceTracks, in the order of ``weights``
    weights: Any = None          # (tracks, frames) attention over the tracks per frame (0 where not seen)
    where: Any = None            # (frames,) bool: speech and a face

    def carriers(self, lo: int, hi: int, shown: list[int]) -> list[dict[str, Any]]:
        """Which face tracks carried frames ``lo..hi``: per track its id, its mean attention over the frames
        there with speech and a face, and its box (x0, y0, x1, y1 as fractions of the picture) at each of
        the ``shown`` frames (None where it was not seen); the heaviest first, tracks with no weight left out."""
        if self.weights is None or not bool(self.where[lo:hi].any()):
            return []
        mean = self.weights[:, lo:hi][:, self.where[lo:hi]].mean(1)
        out = []
        for j in torch.argsort(mean, descending=True).tolist():
            if float(mean[j]) < 0.01:
                continue
            track = self.used[j]
            boxes = [_box_at(track, k) for k in shown]
            out.append({"track": track.id, "weight": round(float(mean[j]), 3), "boxes": boxes})
        return out


def _box_at(track: Any, k: int, max_gap: int = 12) -> list[float] | None:
    """The track's box at frame ``k``: its nearest measurement within ``max_gap`` frames, or None."""
    if not track.frames:
        return None
    i = int(np.argmin(np.abs(np.asarray(track.frames) - k)))
    if abs(track.frames[i] - k) > max_gap:
        return None
    return [round(float(v), 4) for v in track.boxes[i]]


class SpeechExpert:
    """Faces + speech activity + a lip scorer (see the module docstring)."""

    name = "speech"

    def __init__(self, scorer: LagNet, step: int = 2, detect_every: int = 5, vad: Any = None) -> None:
        if vad is None:
            from avsync.perception.vad import SileroVAD

            vad = SileroVAD()
        self.scorer = scorer.eval()
        self.vad = vad                # anything with probability(16 kHz audio) -> one value per 32 ms
        self.step, self.detect_every = step, detect_every

    def finder(self, path: str) -> tuple[Any, tuple[float, np.ndarray]]:
        """A fresh face finder for the file ``path`` (hand it to ``read_streams(on_frame=...)``) that
        looks only where its sound holds speech, and that speech activity (file time of its first
        chunk, probability per chunk) for :meth:`prepare`. The sound is decoded and Silero VAD run
        first: both cost little next to the faces, which are skipped entirely on footage without speech."""
        from avsync.media.stream import read_sound
        from avsync.perception.faces import FaceFinder
        from avsync.perception.vad import SAMPLE_RATE, speech_near

        first, audio = read_sound(path, SAMPLE_RATE)
        prob = self.vad.probability(audio)
        near = speech_near(prob, first)
        return FaceFinder(self.scorer.config.fps, self.step, self.detect_every, look_at=near), (first, prob)

    def prepare(self, s: Any, faces: Any, audio_context: int,
                activity: tuple[float, np.ndarray] | None = None) -> SpeechEvidence:
        """The evidence of decoded streams ``s`` with the ``faces`` found in them and the speech
        ``activity`` that :meth:`finder` measured (None: run the VAD on ``s.audio``); the scorer's sound
        embeddings are trimmed by ``audio_context`` steps at the ends, as the engine's are."""
        from avsync.perception.vad import speech_frames

        n, fps = len(s.frames), s.fps
        if activity is None:
            speech = speech_frames(self.vad.probability(s.audio), n, fps)
        else:
            speech = speech_frames(activity[1], n, fps, offset_sec=s.start_sec - activity[0])
        tracks = faces.long_tracks(MIN_TRACK_SEC)
        if not tracks or not speech.any():
            return SpeechEvidence(_nothing, len(tracks), float(speech.sum() / fps), 0.0, faces.seconds)
        pairs = [t.series(n) for t in tracks]
        series = torch.from_numpy(np.stack([p[0] for p in pairs]))
        seen = torch.from_numpy(np.stack([p[1] for p in pairs]))
        where = torch.from_numpy(speech) & seen.any(0)
        with torch.inference_mode():
            m = self.scorer
            v = m.embed_mouth(series, seen)
            a = m.embed_audio(torch.from_numpy(s.audio)[None])
            ac = audio_context
            a = a[:, ac:max(ac, a.shape[1] - ac)].expand(len(tracks), -1, -1)
            logw = torch.log_softmax(m.talking(series, seen).masked_fill(~seen, -1e9), 0).double()

        def band(i: int, count: int, offsets: torch.Tensor) -> torch.Tensor:
            here = seen[:, i:i + count]
            live = torch.nonzero(here.any(1)).flatten()       # only the tracks seen in this band are scored
            if len(live) == 0:
                return _nothing(i, count, offsets)
            first = torch.full((len(live),), i, dtype=torch.long)
            scores = m.offset_scores(v[live, i:i + count], a[live], offsets + ac, first)
            lp = filled_log_probs(scores.double())                                   # (tracks, n, K)
            w = logw[live, i:i + count, None].masked_fill(~here[live, :, None], -torch.inf)
            mixed = torch.logsumexp(w + lp, 0)
            return mixed.masked_fill(~(where[i:i + count, None] & torch.isfinite(mixed)), 0.0)

        return SpeechEvidence(band, len(tracks), float(speech.sum() / fps), float(where.sum() / fps), faces.seconds,
                              tracks, logw.exp().float() * seen, where)


def _nothing(i: int, count: int, offsets: torch.Tensor) -> torch.Tensor:
    """No evidence: zeros ``(count, K)``."""
    return torch.zeros(count, len(offsets), dtype=torch.float64)
