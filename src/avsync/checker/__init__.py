"""Checking whole files: one module a stage.

- :mod:`~avsync.checker.results`: what a check returns (CheckResult, Timeline, DesyncResult);
- :mod:`~avsync.checker.estimators` / :mod:`~avsync.checker.xcorr`: what scores one window;
- :mod:`~avsync.checker.combine`: windows' places and how their scores combine and refine;
- :mod:`~avsync.checker.calibration`: temperature, refinement and thresholds (and their maths);
- :mod:`~avsync.checker.checker`: :class:`SyncChecker`, reading windows and answering;
- :mod:`~avsync.checker.timeline`: segments, no-evidence stretches, drift;
- :mod:`~avsync.checker.fitting`: fitting and measuring a calibration on a labelled split;
- :mod:`~avsync.checker.explain`: where the model looked, as data;
- :mod:`~avsync.checker.evidence` / :mod:`~avsync.checker.offset_checker`: the second-generation
  engine (LagNet): evidence for every offset over the whole file, its answers and its timeline.
"""

from avsync.checker.calibration import Calibration, calibration_path, weights_digest
from avsync.checker.checker import SyncChecker
from avsync.checker.estimators import Estimator, ModelEstimator
from avsync.checker.offset_checker import OffsetChecker
from avsync.checker.results import CheckResult, DesyncResult, Segment, Timeline, WindowResult, mean_desync
from avsync.checker.xcorr import XcorrEstimator

__all__ = ["Calibration", "CheckResult", "DesyncResult", "Estimator", "ModelEstimator", "OffsetChecker", "Segment", "SyncChecker",
           "Timeline", "WindowResult", "XcorrEstimator", "calibration_path", "mean_desync", "weights_digest"]
