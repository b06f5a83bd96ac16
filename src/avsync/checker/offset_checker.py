"""The second-generation checker: evidence for every offset over the whole picture and the whole file.

1. the file is read once (:func:`avsync.media.stream.read_streams`: grey frames of 64 rows at 25 fps,
   16 kHz mono), every frame and every 10 ms of sound encoded once by a :class:`~avsync.models.LagNet`;
   a file longer than about 5 minutes is read and scored in stretches of 150 s as it decodes
   (:func:`~avsync.media.stream.read_stretches`, each stretch normalised on its own), so memory stays flat;
2. every frame scores every candidate offset (default +-5 s, less where the file is too short: the
   record says ``search_sec``; a margin beyond it is scored too, so that a peak past the edge is
   seen and reported as such); frames without motion count for nothing;
3. the per-frame log-probabilities are summed per second (:class:`~avsync.checker.evidence.Evidence`)
   and accumulated over the file: the answer is the peak, refined below the 10 ms step, its
   confidence the calibrated probability that the offset is within 0.1 s;
4. honest answers: "no evidence" (silent, still, or no clear peak) and "outside the searched range"
   (the peak sits at the edge of the range) are not synchronisable; ``fix`` asks for more confidence;
5. ``timeline`` finds the offset over time from the same evidence (a best path allowing slow drift and
   sudden jumps), ``desync`` scores the first and the last seconds.

Sign convention: ``offset_sec > 0`` means the audio is ahead of the picture.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch

from avsync.checker.calibration import Calibration
from avsync.checker.evidence import Evidence, Posterior, best_path, drift_fit, posterior
from avsync.checker.results import CheckResult, DesyncResult, Segment, Timeline, WindowResult, call_safely
from avsync.errors import TooShortError
from avsync.media.stream import Stretch
from avsync.models.lagnet import LagNet, filled_log_probs

LOW_FPS = 10.0
DEFAULT_CALIBRATION = Calibration(temperature=4.0, sharpness=2.0, min_confidence=0.3, fix_min_confidence=0.7)
DEFAULT_RANGE_SEC = 5.0      # searched both ways where the file is long enough
MIN_OVERLAP = 0.5            # at the range's edge at least this share of the file still overlaps...
MIN_OVERLAP_SEC = 2.0        # ... and at least this many seconds
MIN_SEC = 2.0                # shorter files are too short to check
MIN_MOVING_SEC = 1.0         # a stretch with less moving picture than this holds no evidence (a still with keyframe flicker)
TOLERANCE_SEC = 0.1          # confidence: the probability that the offset is within this of the truth
WINDOW_SEC = 8.0             # local stretches (per-window records, timeline, DeSync: 5 s)
DESYNC_SEC = 5.0             # DeSync: the first and the last this many seconds
MIN_SEGMENT_SEC = 3.0        # a timeline segment rests on at least this many seconds of evidence
JUMP_SEC = 0.06              # a path step larger than this starts a new timeline segment
STRETCH_BLOCKS = 150         # a file longer than two stretches of this many seconds and a margin is scored stretch by stretch
PREFETCH_SEC = 300.0         # check_many decodes the next file whole while one is scored when it is at most this long


def search_range(length_sec: float, wanted_sec: float) -> float:
    """The offsets searched both ways in a file of ``length_sec``: ``wanted_sec``, but no more than
    keeps half the file (and 2 s) overlapping at the edge."""
    return max(0.0, min(float(wanted_sec), length_sec - max(MIN_OVERLAP * length_sec, MIN_OVERLAP_SEC)))


class OffsetChecker:
    """Checks files with a LagNet (``avsync.load_model()`` builds one for the shipped model).

    >>> checker = avsync.load_model()
    >>> r = checker.check("video.mp4")          # CheckResult
    >>> r.offset_sec, r.confidence, r.synchronisable, r.search_sec
    """

    def __init__(self, model: LagNet, calibration: Calibration | None = None, device: str = "cpu",
                 name: str = "default", max_offset_sec: float | None = None,
                 experts: dict[str, LagNet] | None = None, speech: Any = None) -> None:
        self.model = model.to(device).eval()
        # more models whose per-frame evidence is added to the model's (same frames, same offsets)
        self.experts = {k: m.to(device).eval() for k, m in (experts or {}).items()}
        self.speech = speech          # a SpeechExpert (faces + speech + lips), or None
        self.calibration = calibration or DEFAULT_CALIBRATION
        self.device, self.name, self.max_offset_sec = device, name, max_offset_sec
        # called as frames are encoded: (seconds done, seconds of the file); a progress bar over a long file
        self.on_progress: Callable[[int, int], None] | None = None

    @property
    def window_sec(self) -> float:
        """Length of the local stretches of per-window records and timelines."""
        return WINDOW_SEC

    @property
    def desync_window_sec(self) -> float:
        """Length of DeSync's first and last stretches."""
        return DESYNC_SEC

    # ---- evidence

    def read(self, path: str | os.PathLike) -> Any:
        """The file's :class:`~avsync.media.stream.Streams` as the model takes them (TooShortError under 2 s)."""
        from avsync.media.stream import read_streams

        c = self.model.config
        finder, activity = self.speech.finder(str(path)) if self.speech is not None else (None, None)
        s = read_streams(path, c.fps, c.height, c.max_width, c.sample_rate, on_frame=finder)
        if finder is not None:
            s.extras["faces"], s.extras["speech_activity"] = finder.faces, activity
        self._check_length(str(path), s.duration_sec)
        return s

    def evidence(self, path: str | os.PathLike, max_offset_sec: float | None = None) -> tuple[Evidence, Any]:
        """(per-second evidence over the candidate offsets, the file's :class:`Streams`, or its
        :class:`StreamsInfo` when it was long enough to be scored in stretches as it decoded)."""
        if self.speech is not None:          # the face finder's tracks span the whole file
            s = self.read(path)
            return self.evidence_of(s, max_offset_sec), s
        return self._streamed(str(path), max_offset_sec)

    def evidence_of(self, s: Any, max_offset_sec: float | None = None) -> Evidence:
        """Per-second evidence of a whole file's decoded streams over the candidate offsets."""
        asked, offsets = self._offsets(s.duration_sec, max_offset_sec)
        whole = Stretch(s.frames, 0, (0, len(s.frames)), s.audio, 0)
        part = self._score(whole, offsets, at_start=True, at_end=True, speech=self._speech_evidence(s),
                           total_sec=s.duration_sec)
        return self._evidence([part], offsets, s.start_sec, asked)

    def _streamed(self, path: str, max_offset_sec: float | None) -> tuple[Evidence, Any]:
        """Evidence of a file read in stretches (:func:`avsync.media.stream.read_stretches`) while the
        previous one is scored: a file shorter than two stretches is one, read and scored whole as
        :meth:`evidence_of` does; a longer one is scored stretch by stretch, each with its own
        normalisation (memory does not grow with the file's length)."""
        from avsync.media.stream import read_stretches
        from avsync.media.windows import read_ahead

        c = self.model.config
        wanted = self._wanted(max_offset_sec)
        block = self._block
        reach = int(math.ceil((wanted + max(1.0, 0.5 * wanted)) * c.fps))
        audio_margin = reach + int(math.ceil(c.audio_context / c.steps_per_frame)) + 2
        size = block * max(STRETCH_BLOCKS, int(math.ceil(2 * audio_margin / block)))
        stretches = read_stretches(path, c.fps, c.height, c.max_width, c.sample_rate, size, c.video_context + 1, audio_margin)
        total = self._probed_seconds(path) if self.on_progress is not None else None   # only a progress bar needs it
        parts: list[tuple[np.ndarray, ...]] = []
        offsets = asked = None
        for piece in read_ahead(stretches, 1):
            if piece.last and not parts:       # one stretch: the whole file, exactly as read() reads it
                s = piece.streams()
                self._check_length(path, s.duration_sec)
                return self.evidence_of(s, max_offset_sec), s
            if offsets is None:              # longer than two stretches: the range is what was asked
                asked, offsets = self._offsets(2 * size / c.fps, max_offset_sec)
            parts.append(self._score(piece, offsets, at_start=not parts, at_end=piece.last, total_sec=total))
        return self._evidence(parts, offsets, piece.info.start_sec, asked), piece.info

    @property
    def _block(self) -> int:
        """Frames per block of evidence (one second)."""
        return max(1, int(round(self.model.config.fps)))

    def _wanted(self, max_offset_sec: float | None) -> float:
        """The offsets asked for both ways: the call's, else the checker's, else the default range."""
        wanted = max_offset_sec if max_offset_sec is not None else self.max_offset_sec
        return DEFAULT_RANGE_SEC if wanted is None else float(wanted)

    def _offsets(self, duration_sec: float, max_offset_sec: float | None) -> tuple[float, torch.Tensor]:
        """(the range searched in a file of ``duration_sec``, the offsets scored in audio steps: that range
        and a margin past it, so that a peak beyond its edge is seen)."""
        c = self.model.config
        wanted = self._wanted(max_offset_sec)
        asked = search_range(duration_sec, wanted)
        reach = search_range(duration_sec, wanted + max(1.0, 0.5 * wanted))
        steps = int(round(reach / c.step_sec))
        return asked, torch.arange(-steps, steps + 1, device=self.device)

    def _score(self, piece: Any, offsets: torch.Tensor, at_start: bool, at_end: bool, speech: Any = None,
               total_sec: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """(log-probabilities summed per block and offset, frames counted per block and offset, moving
        frames per block, the sound's peak) of the frames a stretch answers for. Frames without motion
        count for nothing, and neither do those whose embeddings reach past the file's ends (zero padding
        makes both ends look alike: on short files they would all vote for offset 0)."""
        c = self.model.config
        lo, hi = piece.own
        moving = self._moving(piece.frames)[lo - piece.first:hi - piece.first].copy()
        vc, ac = c.video_context, c.audio_context
        if at_start:
            moving[:vc] = False
        if at_end:
            moving[max(0, len(moving) - vc):] = False
        block = self._block
        n_blocks = (hi - lo + block - 1) // block
        logp = np.zeros((n_blocks, len(offsets)), np.float32)        # 2 h at +-7.5 s: 43 MB (float64: 86)
        count = np.zeros((n_blocks, len(offsets)), np.uint16)
        frames = torch.from_numpy(piece.frames)[None].to(self.device)
        audio = torch.from_numpy(piece.audio)[None].to(self.device)
        with torch.inference_mode():
            embedded = []
            for m in [self.model, *self.experts.values()]:
                a = m.embed_audio(audio)
                embedded.append((m, m.embed_video(frames), a[:, ac:max(ac, a.shape[1] - ac)]))  # clear of the ends
            band = block * 8
            for i in range(lo, hi, band):
                n = min(band, hi - i)
                first = torch.tensor([i - piece.audio_first], device=self.device)
                j = i - piece.first
                lp = sum(filled_log_probs(m.offset_scores(v[:, j:j + n], inner, offsets + ac, first)[0].double())
                         for m, v, inner in embedded)
                if speech is not None:
                    lp = lp + speech.band(i, n, offsets)
                ok = torch.from_numpy(moving[i - lo:i - lo + n])[:, None].to(self.device) & torch.isfinite(lp)
                lp = lp.masked_fill(~ok, 0.0).cpu().numpy()
                okn = ok.cpu().numpy()
                for k in range(0, n, block):
                    b = (i - lo + k) // block
                    logp[b] += lp[k:k + block].sum(0).astype(np.float32)
                    count[b] += okn[k:k + block].sum(0).astype(np.uint16)
                if self.on_progress is not None and total_sec:
                    self.on_progress(int(min((i + n) / c.fps, total_sec)), int(total_sec))
        usable = np.add.reduceat(moving.astype(np.int64), np.arange(0, len(moving), block))
        return logp, count, usable, float(np.abs(piece.audio).max(initial=0.0))

    def _evidence(self, parts: list[tuple[np.ndarray, ...]], offsets: torch.Tensor, start_sec: float,
                  asked: float) -> Evidence:
        """The file's evidence from its stretches. parts, in order (none at all where the sound is silent)."""
        c = self.model.config
        logp, count, usable = (np.concatenate([p[i] for p in parts]) for i in range(3))
        silent = max(p[3] for p in parts) < self.calibration.min_audio_peak
        if silent:
            usable[:] = 0
            logp[:] = 0
            count[:] = 0
        block = self._block
        return Evidence(offsets.cpu().numpy() * c.step_sec, logp, count, usable, block / c.fps, start_sec, asked, silent)

    @staticmethod
    def _probed_seconds(path: str) -> float | None:
        """The file's declared length (for a progress bar while it streams), None when unknown."""
        from avsync.media import probe

        try:
            return probe(path).duration_sec
        except Exception:  # the reading itself reports what is wrong with the file
            return None

    @staticmethod
    def _check_length(path: str, seconds: float) -> None:
        if seconds < MIN_SEC:
            raise TooShortError(path, f"{seconds:.2f} s of picture is too short to check (at least {MIN_SEC:g} s)")

    def _speech_evidence(self, s: Any) -> Any:
        """The speech expert's evidence for streams read with its face finder (kept in ``s.extras``)."""
        if self.speech is None or "faces" not in s.extras:
            return None
        ev = self.speech.prepare(s, s.extras["faces"], self.speech.scorer.config.audio_context,
                                 s.extras.get("speech_activity"))
        s.extras["speech"] = ev
        return ev

    @staticmethod
    def _speech_contributed(s: Any) -> list[str]:
        """["speech"] when the speech expert had evidence in the file (faces while someone spoke)."""
        from avsync.checker.speech_expert import MIN_EVIDENCE_SEC

        ev = s.extras.get("speech")
        return ["speech"] if ev is not None and ev.evidence_sec >= MIN_EVIDENCE_SEC else []

    def _moving(self, frames: np.ndarray) -> np.ndarray:
        """Per frame: whether the picture moves there (mean |difference| from the previous frame, 0..1,
        at least ``min_motion``; the first frame follows the second)."""
        if len(frames) < 2:
            return np.zeros(len(frames), bool)
        diff = np.empty(len(frames) - 1)
        for i in range(0, len(diff), 1024):          # a chunk at a time: never a second copy of a long file
            part = frames[i:i + 1025].astype(np.int16)
            diff[i:i + len(part) - 1] = np.abs(np.diff(part, axis=0)).mean(axis=(1, 2)) / 255.0
        return np.concatenate([diff[:1], diff]) >= self.calibration.min_motion

    # ---- answers

    def _post(self, ev: Evidence, lo: int = 0, hi: int | None = None) -> Posterior:
        cal = self.calibration
        return posterior(ev, lo, ev.blocks if hi is None else hi, cal.temperature, TOLERANCE_SEC, sharpness=cal.sharpness)

    def _reason(self, ev: Evidence, post: Posterior, audio_silent: bool, min_confidence: float) -> str | None:
        """Why a stretch gives no answer, or None when it does."""
        if audio_silent:
            return "no evidence: silent audio"
        if post.frames < MIN_MOVING_SEC * self.model.config.fps:
            return "no evidence: still picture"
        if post.at_edge:
            reach = min(ev.search_sec, float(np.abs(ev.offsets_sec).max()))
            return (f"outside the searched range: the evidence peaks at {post.offset_sec:+.2f} s, at or beyond "
                    f"the edge of +-{reach:.2f} s (search further with --max-offset, or check a longer stretch)")
        if post.confidence < min_confidence:
            return (f"no evidence: no clear peak (confidence {post.confidence:.2f} < {min_confidence:.2f})")
        return None

    def _windows(self, ev: Evidence, window: float, stride: float, silent: bool) -> list[WindowResult]:
        """Local stretches of ``window`` s every ``stride`` s (the last ends at the file's end)."""
        w = max(1, int(round(window / ev.block_sec)))
        st = max(1, int(round(stride / ev.block_sec)))
        starts = list(range(0, max(1, ev.blocks - w + 1), st))
        if starts[-1] + w < ev.blocks:
            starts.append(ev.blocks - w)
        out = []
        for lo in starts:
            hi = min(ev.blocks, lo + w)
            p = self._post(ev, lo, hi)
            reason = self._reason(ev, p, silent, self.calibration.min_confidence)
            out.append(WindowResult(ev.block_time(lo), ev.block_time(hi), 0.0 if p.offset_sec is None else round(p.offset_sec, 4),
                                    round(p.confidence, 4), reason is None, reason))
        return out

    def answer(self, path: str, ev: Evidence, s: Any, window: float | None = None, stride: float | None = None) -> CheckResult:
        """The file's :class:`CheckResult` from its evidence."""
        cal = self.calibration
        silent = ev.silent
        fps = float(s.source_fps)
        window = float(window or WINDOW_SEC)
        r = CheckResult(path=path, duration_sec=s.duration_sec, window_sec=window, method=self.name,
                        experts=[self.name, *self.experts, *self._speech_contributed(s)], speech=_speech_summary(s),
                        frame_rate=round(fps, 3), precision_sec=round(max(0.5 / fps, 0.5 / self.model.config.fps), 3),
                        search_sec=round(min(ev.search_sec, float(np.abs(ev.offsets_sec).max())), 3))
        r.per_window = self._windows(ev, window, float(stride or window / 2), silent)
        r.windows = len(r.per_window)
        if fps < LOW_FPS:
            r.warning = (f"low frame rate ({fps:.3g} fps): the picture changes only every {1 / fps:.2f} s, "
                         f"so the offset is known to +-{0.5 / fps:.2f} s at best")
        post = self._post(ev)
        if post.offset_sec is not None and not silent:
            r.offset_sec = round(post.offset_sec, 4)
            r.offset_frames = int(round(post.offset_sec * fps))
            r.confidence = round(post.confidence, 4)
            r.top = _top(ev, post)
        r.reason = self._reason(ev, post, silent, cal.min_confidence)
        r.synchronisable = r.reason is None
        return r

    def check(self, path: str | os.PathLike, window: float | None = None, stride: float | None = None,
              max_offset_sec: float | None = None) -> CheckResult:
        """Check one file. Raises an AvsyncError when the file cannot be checked."""
        ev, s = self.evidence(path, max_offset_sec)
        return self.answer(str(path), ev, s, window, stride)

    def check_many(self, paths: Iterable[str | os.PathLike], window: float | None = None,
                   stride: float | None = None) -> Iterator[CheckResult]:
        """Check files in order, one record each (``error`` set for a file that fails). While one file
        is scored, a thread decodes the next one if it is short (up to ``PREFETCH_SEC``; a longer one
        streams in stretches when its turn comes)."""
        paths = [str(p) for p in paths]

        def read(path: str) -> Any:
            try:
                seconds = self._probed_seconds(path)
                return self.read(path) if seconds is not None and seconds <= PREFETCH_SEC else None
            except Exception as e:  # re-raised below, where safe() turns it into the file's record
                return e

        def finish(path: str, streams: Any) -> CheckResult:
            if isinstance(streams, BaseException):
                raise streams
            if streams is None:
                ev, streams = self.evidence(path)
                return self.answer(path, ev, streams, window, stride)
            return self.answer(path, self.evidence_of(streams), streams, window, stride)

        with ThreadPoolExecutor(1) as pool:
            ahead = pool.submit(read, paths[0]) if paths else None
            for i, path in enumerate(paths):
                streams = ahead.result()
                ahead = pool.submit(read, paths[i + 1]) if i + 1 < len(paths) else None
                yield self.safe(finish, path, streams=streams)

    def safe(self, fn: Callable[..., Any], path: str | os.PathLike, **kw: Any) -> Any:
        """``fn(path, **kw)``, or the failure record of ``path`` when it raises on a bad file."""
        return call_safely(fn, path, self.name, desync=fn == self.desync, **kw)

    def timeline(self, path: str | os.PathLike, window: float | None = None, stride: float | None = None,
                 max_offset_sec: float | None = None) -> Timeline:
        """Offset over time from the same evidence: segments of constant offset (an edit slip makes
        two), a drift rate where the offset moves steadily, and the stretches without evidence."""
        ev, s = self.evidence(path, max_offset_sec)
        window = float(window or WINDOW_SEC)
        result = self.answer(str(path), ev, s, window, stride or 1.0)
        path_ = best_path(ev, self.calibration.temperature)
        along = ev.offsets_sec[path_.state]
        w = max(1, int(round(window / ev.block_sec)))
        local = [self._post(ev, max(0, n - w // 2), min(ev.blocks, n + (w + 1) // 2)) for n in range(ev.blocks)]
        ok = np.array([p.frames >= MIN_MOVING_SEC * self.model.config.fps and p.confidence >= self.calibration.min_confidence
                       for p in local])
        segments, no_evidence = [], []
        cut = [0] + [n for n in range(1, ev.blocks) if abs(along[n] - along[n - 1]) > JUMP_SEC] + [ev.blocks]
        drift = None
        for lo, hi in zip(cut[:-1], cut[1:]):
            good = np.flatnonzero(ok[lo:hi]) + lo
            if len(good) < MIN_SEGMENT_SEC / ev.block_sec:
                ok[lo:hi] = False
                continue
            p = self._post(ev, int(good[0]), int(good[-1]) + 1)
            offset = float(np.median(along[good]))
            if p.confidence < self.calibration.min_confidence or abs(offset) > ev.search_sec:
                ok[lo:hi] = False                  # no clear peak over the stretch, or one past the range
                continue
            segments.append(Segment(ev.block_time(lo), ev.block_time(hi), round(offset, 4), round(p.confidence, 4), len(good)))
        if len(segments) == 1:
            good = np.flatnonzero(ok)
            times = np.array([ev.block_time(int(n)) + ev.block_sec / 2 for n in good])
            slope, _, resid = drift_fit(times, along[good])
            if abs(slope) * (times.max(initial=0) - times.min(initial=0)) >= 0.08 and resid < 0.05:
                drift = slope * 60_000.0
        for n in range(ev.blocks):
            if not ok[n]:
                if no_evidence and no_evidence[-1]["end_sec"] >= ev.block_time(n) - 1e-9:
                    no_evidence[-1]["end_sec"] = round(ev.block_time(n + 1), 3)
                else:
                    no_evidence.append({"start_sec": round(ev.block_time(n), 3), "end_sec": round(ev.block_time(n + 1), 3),
                                        "reason": local[n].frames == 0 and "no usable frames" or "no clear peak"})
        return Timeline(result, segments, no_evidence, drift)

    def desync(self, path: str | os.PathLike, window: float | None = None) -> DesyncResult:
        """DeSync of one clip: mean |offset| of the first and the last ``window`` s (default 5)."""
        ev, s = self.evidence(path)
        w = max(1, int(round(float(window or DESYNC_SEC) / ev.block_sec)))
        if ev.blocks < w:
            raise TooShortError(path, f"{s.duration_sec:.2f} s is shorter than the {w * ev.block_sec:g} s window")
        silent = ev.silent
        ends = []
        for where, lo in (("first", 0), ("last", ev.blocks - w)):
            p = self._post(ev, lo, lo + w)
            reason = self._reason(ev, p, silent, self.calibration.min_confidence)
            if reason is not None:
                return DesyncResult(str(path), reason=f"{where} window {ev.block_time(lo):.2f}-"
                                                      f"{ev.block_time(lo + w):.2f} s: {reason}")
            ends.append(abs(p.offset_sec))
        return DesyncResult(str(path), ends[0], ends[1], (ends[0] + ends[1]) / 2)


def _speech_summary(s: Any) -> dict[str, Any] | None:
    """What the speech expert found in the file (None when it did not run)."""
    ev = s.extras.get("speech")
    if ev is None:
        return None
    return {"face_tracks": ev.tracks, "speech_sec": round(ev.speech_sec, 2), "speech_with_face_sec": round(ev.evidence_sec, 2),
            "face_finding_sec": round(ev.cost_sec, 2)}


def _top(ev: Evidence, post: Posterior, k: int = 5) -> list[dict[str, float]]:
    """The ``k`` most probable offsets at least 0.2 s apart, with their probability within 0.1 s."""
    out: list[dict[str, float]] = []
    p = post.probs.copy()
    for _ in range(k):
        i = int(np.argmax(p))
        if p[i] <= 0:
            break
        near = np.abs(ev.offsets_sec - ev.offsets_sec[i]) <= TOLERANCE_SEC
        out.append({"offset_sec": round(float(ev.offsets_sec[i]), 3), "prob": round(float(post.probs[near].sum()), 4)})
        p[np.abs(ev.offsets_sec - ev.offsets_sec[i]) < 0.2] = 0
    return out
