"""Checking many files in several processes (``avsync check --jobs N``): one file per worker at a
time, results in input order, the same records as one process gives.

Each worker loads the checker once (from a :class:`CheckerSpec`, which pickles) and runs torch with
its share of the cores; files are handed out one at a time so a long file does not hold up the rest.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Sequence

if TYPE_CHECKING:
    from avsync.checker.checker import SyncChecker
    from avsync.checker.results import CheckResult
    from avsync.media.window_process import WindowProcess


@dataclass(frozen=True)
class CheckerSpec:
    """Everything that makes a checker: ``model`` is a shipped name, a weights path or ``xcorr``
    (None: the shipped default); ``min_confidence`` overrides the calibration's when given;
    ``max_offset_sec`` the engine's searched range, ``experts`` more evidence it joins, ``speech``
    the speech expert's switch (auto: when the speech extra is installed; on; off), ``lips`` its lip
    scorer (a shipped name or a weights path)."""

    model: str | None = None
    device: str = "cpu"
    batch_size: int = 8
    workers: int = 2
    min_confidence: float | None = None
    max_offset_sec: float | None = None
    experts: tuple[str, ...] = ()
    speech: str = "off"
    lips: str | None = None

    def early_windows(self, path: str, window: float | None = None, stride: float | None = None,
                      per_window: int = 2) -> "WindowProcess | None":
        """A process that starts decoding the windows this spec's checker will read of ``path`` now, before
        torch and the model load (:mod:`avsync.media.window_process`): windows of ``window`` s (default the
        model's) every ``stride`` s (default a window / ``per_window``: a check's 2, a timeline's 5); hand
        it to :meth:`load`. None where that cannot be done (not Linux, torch already loaded, the engine or
        xcorr, ``workers`` 0) or the plan fails: the check then reads the file itself and reports what is wrong."""
        import json

        from avsync.media.window_process import WindowProcess, can_start_early

        if not can_start_early() or self.workers == 0 or self.model == "xcorr":
            return None
        try:
            import avsync
            from avsync.checker.plan import plan_windows
            from avsync.clip import ClipSpec, window_request
            from avsync.models.config import ARCHS, ModelConfig, saved_paths

            data = json.loads(saved_paths(avsync.resolve_weights(self.model))[1].read_text())
            if data.get("arch") not in ARCHS:    # the engine and the lip scorers read otherwise
                return None
            spec = ClipSpec.from_model_config(ModelConfig.from_dict(data), window)
            _, starts = plan_windows(path, spec.window_sec, float(stride or spec.window_sec / per_window), spec.fps)
            return WindowProcess(window_request(path, starts, 0.0, spec))
        except Exception:  # the check itself says what is wrong with the file or the model, in its own words
            return None

    def load(self, early: "WindowProcess | None" = None) -> "SyncChecker":
        """The checker this spec describes; ``early`` (from :meth:`early_windows`) is handed to it for its
        next read (closed here if the checker reads otherwise; whoever started it closes it in the end too)."""
        import avsync

        checker = avsync.load_model(self.model, device=self.device, batch_size=self.batch_size,
                                    workers=self.workers)
        if early is not None:
            if hasattr(checker, "early"):
                checker.early = early
            else:
                early.close()
        if self.min_confidence is not None:
            checker.calibration = checker.calibration.with_min_confidence(self.min_confidence)
        engine = hasattr(checker, "max_offset_sec")
        for option, given in (("--max-offset", self.max_offset_sec is not None), ("--experts", bool(self.experts)),
                              ("--speech on", self.speech == "on")):
            if given and not engine:
                from avsync.errors import UsageError

                raise UsageError(f"{option}: {checker.name} classifies a fixed grid of offsets "
                                 f"(+-{checker.grid.max_sec:g} s); only the engine (--model engine-v2) takes it")
        if self.max_offset_sec is not None:
            checker.max_offset_sec = self.max_offset_sec
        if self.experts:
            from avsync.models.handmade import expert

            checker.experts = {name: expert(name).to(self.device) for name in self.experts}
        if engine:
            from avsync.checker.speech_expert import SpeechExpert, speech_wanted

            if speech_wanted(self.speech):
                checker.speech = SpeechExpert(avsync.lip_scorer(self.lips, self.device))
        return checker


_checker: "SyncChecker | None" = None


def _start(spec: CheckerSpec, threads: int) -> None:
    global _checker
    import torch

    torch.set_num_threads(threads)
    _checker = spec.load()


def _check(job: tuple[str, float | None, float | None]) -> "CheckResult":
    path, window, stride = job
    return _checker.safe(_checker.check, path, window=window, stride=stride)


def check_in_processes(spec: CheckerSpec, paths: Sequence[str], jobs: int, window: float | None = None,
                       stride: float | None = None) -> Iterator["CheckResult"]:
    """One record per path, in order, checked by ``jobs`` worker processes (each with
    ``cores // jobs`` torch threads, at least one)."""
    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")      # no fork of a process holding torch threads
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start, initargs=(spec, threads)) as pool:
        yield from pool.map(_check, [(str(p), window, stride) for p in paths], chunksize=1)
