"""Checking whole files: one module a stage.

- :mod:`~avsync.checker.results`: what a check returns (CheckResult, Timeline, DesyncResult);
- :mod:`~avsync.checker.estimators` / :mod:`~avsync.checker.xcorr`: what scores one window;
- :mod:`~avsync.checker.plan`: where a file's windows lie (no torch);
- :mod:`~avsync.checker.combine`: how the windows' scores combine and refine;
- :mod:`~avsync.checker.calibration`: temperature, refinement and thresholds (and their maths);
- :mod:`~avsync.checker.checker`: :class:`SyncChecker`, reading windows and answering;
- :mod:`~avsync.checker.timeline`: segments, no-evidence stretches, drift;
- :mod:`~avsync.checker.fitting`: fitting and measuring a calibration on a labelled split;
- :mod:`~avsync.checker.explain`: where the model looked, as data;
- :mod:`~avsync.checker.evidence` / :mod:`~avsync.checker.offset_checker`: the second-generation
  engine (LagNet): evidence for every offset over the whole file, its answers and its timeline.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> the module that defines it; each loads on first use, so a torch-free module of this package
# (results, plan) can be imported without torch
_EXPORTS = {
    "Calibration": "calibration", "calibration_path": "calibration", "weights_digest": "calibration",
    "SyncChecker": "checker", "Estimator": "estimators", "ModelEstimator": "estimators",
    "OffsetChecker": "offset_checker", "XcorrEstimator": "xcorr",
    "CheckResult": "results", "DesyncResult": "results", "Segment": "results", "Timeline": "results",
    "WindowResult": "results", "mean_desync": "results",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"avsync.checker.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'avsync.checker' has no attribute {name!r}")
