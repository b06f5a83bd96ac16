"""The second-generation checker: evidence for every offset over the whole picture and the whole file.

1. the file is read once (:func:`avsync.media.stream.read_streams`: grey frames of 64 rows at 25 fps,
   16 kHz mono), every frame and every 10 ms of sound encoded once by a :class:`~avsync.models.LagNet`;
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

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch

from avsync.checker.calibration import Calibration
from avsync.checker.evidence import Evidence, Posterior, best_path, drift_fit, posterior
from avsync.checker.results import CheckResult, DesyncResult, Segment, Timeline, WindowResult, call_safely
from avsync.errors import TooShortError
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
        if s.duration_sec < MIN_SEC:
            raise TooShortError(path, f"{s.duration_sec:.2f} s of picture is too short to check (at least {MIN_SEC:g} s)")
        return s

    def evidence(self, path: str | os.PathLike, max_offset_sec: float | None = None) -> tuple[Evidence, Any]:
        """(per-second evidence over the candidate offsets, the file's :class:`Streams`)."""
        s = self.read(path)
        return self.evidence_of(s, max_offset_sec), s

    def evidence_of(self, s: Any, max_offset_sec: float | None = None) -> Evidence:
        """Per-second evidence of decoded streams over the candidate offsets."""
        c = self.model.config
        wanted = max_offset_sec if max_offset_sec is not None else self.max_offset_sec
        wanted = DEFAULT_RANGE_SEC if wanted is None else float(wanted)
        asked = search_range(s.duration_sec, wanted)
        reach = search_range(s.duration_sec, wanted + max(1.0, 0.5 * wanted))    # to see past the edge
        steps = int(round(reach / c.step_sec))
        offsets = torch.arange(-steps, steps + 1, device=self.device)
        frames = torch.from_numpy(s.frames)[None].to(self.device)
        audio = torch.from_numpy(s.audio)[None].to(self.device)
        moving = self._moving(s.frames)
        vc, ac = c.video_context, c.audio_context
        moving[:vc] = False                   # embeddings that reach past the file's ends (zero padding)
        moving[len(moving) - vc:] = False     # look alike on both sides and would all agree on offset 0
        block = max(1, int(round(c.fps)))
        n_blocks = (len(s.frames) + block - 1) // block
        logp = np.zeros((n_blocks, len(offsets)))
        count = np.zeros((n_blocks, len(offsets)))
        with torch.inference_mode():
            models = [self.model, *self.experts.values()]
            embedded = []
            for m in models:
                a = m.embed_audio(audio)
                embedded.append((m, m.embed_video(frames), a[:, ac:max(ac, a.shape[1] - ac)]))  # clear of the ends
            speech = self._speech_evidence(s)
            band = block * 8
            for i in range(0, len(s.frames), band):
                first = torch.tensor([i], device=self.device)
                lp = sum(filled_log_probs(m.offset_scores(v[:, i:i + band], inner, offsets + ac, first)[0].double())
                         for m, v, inner in embedded)
                if speech is not None:
                    lp = lp + speech.band(i, min(band, len(s.frames) - i), offsets)
                ok = torch.from_numpy(moving[i:i + band])[:, None].to(self.device) & torch.isfinite(lp)
                lp = lp.masked_fill(~ok, 0.0).cpu().numpy()
                okn = ok.cpu().numpy()
                for j in range(0, len(lp), block):
                    n = (i + j) // block
                    logp[n] += lp[j:j + block].sum(0)
                    count[n] += okn[j:j + block].sum(0)
                if self.on_progress is not None:
                    self.on_progress(int(min(len(s.frames), i + band) / c.fps), int(s.duration_sec))
        usable = np.add.reduceat(moving.astype(np.int64), np.arange(0, len(moving), block))
        if self._silent(s):
            usable[:] = 0
            logp[:] = 0
            count[:] = 0
        return Evidence(offsets.cpu().numpy() * c.step_sec, logp, count, usable, block / c.fps, s.start_sec, asked)

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

    def _silent(self, s: Any) -> bool:
        """Whether the decoded sound is digital silence (peak under ``min_audio_peak``)."""
        return float(np.abs(s.audio).max(initial=0.0)) < self.calibration.min_audio_peak

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
        silent = self._silent(s)
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
        is scored, a thread decodes the next one."""
        paths = [str(p) for p in paths]

        def read(path: str) -> Any:
            try:
                return self.read(path)
            except Exception as e:  # re-raised below, where safe() turns it into the file's record
                return e

        def finish(path: str, streams: Any) -> CheckResult:
            if isinstance(streams, BaseException):
                raise streams
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
        silent = self._silent(s)
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
