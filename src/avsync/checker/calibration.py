"""How raw window scores become a reported answer: the fitted temperature, the sub-class refinement
and the thresholds (``min_confidence`` for check, the stricter ``fix_min_confidence`` for fix), stored
as ``<weights>.calibration.json`` beside a model; and the maths of fitting and judging it."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import torch

from avsync.errors import UsageError
from avsync.fileio import write_text_atomic

REFINE_METHODS = ("none", "parabolic", "centroid")


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
    sharpness: float | None = None   # engine: confidence from the evidence curve in units of its own spread, times this
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

    def with_min_confidence(self, min_confidence: float) -> "Calibration":
        """This calibration reporting from ``min_confidence``; fix's threshold is raised to it when lower."""
        return replace(self, min_confidence=min_confidence,
                       fix_min_confidence=max(min_confidence, self.fix_min_confidence))

    def save(self, path: str | os.PathLike) -> Path:
        """Write as JSON (temp file then rename)."""
        return write_text_atomic(path, json.dumps(asdict(self), indent=2) + "\n")


def weights_digest(weights: str | os.PathLike) -> str:
    """SHA-256 of a weights file: a calibration records the weights it was fitted for."""
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


def calibration_target(out: str | os.PathLike | None, weights: Path | None, package_dir: Path) -> Path:
    """Where a new calibration goes: ``out``, or beside a user's own model file; never into the
    installed package (``package_dir``): the shipped models and xcorr (``weights`` None) need ``out``."""
    if out:
        return Path(out)
    if weights is None or weights.resolve().is_relative_to(package_dir.resolve()):
        raise UsageError("calibrate: --out is required for the shipped models and xcorr "
                         "(it never writes into the installed package)")
    return calibration_path(weights)
