"""avsync: is the sound of a video in sync with its picture, by how much, and fix it.

>>> import avsync
>>> checker = avsync.load_model()            # the shipped default model, offline
>>> r = checker.check("video.mp4")           # a CheckResult dataclass
>>> r.offset_sec, r.confidence, r.synchronisable

Sign convention: ``offset_sec > 0`` means the audio is ahead of the picture; fixing it means delaying
the audio by ``offset_sec``. Importing avsync is light: torch and PyAV load on first use.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from avsync.checker import CheckResult, SyncChecker
    from avsync.checker.offset_checker import OffsetChecker

MODEL_DIR = Path(__file__).parent / "assets" / "models"
DEFAULT_MODEL = "default"
BASELINE = "xcorr"

__all__ = ["load_model", "available_models", "resolve_weights", "check", "CheckResult", "SyncChecker", "__version__"]


def available_models() -> list[str]:
    """Names ``load_model`` accepts without a path: the shipped trained models and ``xcorr`` (the
    training-free baseline). Architecture configs (``avsync.models.available_models()``) have no
    trained weights; train one with ``avsync train`` and pass its ``.safetensors`` path."""
    shipped = sorted(p.name[: -len(".safetensors")] for p in MODEL_DIR.glob("*.safetensors"))
    return [n for n in shipped if n not in lip_scorers()] + [BASELINE]


def lip_scorers() -> list[str]:
    """Names of the shipped lip scorers (the speech expert's, ``--lips``): not models that check files."""
    import json

    return sorted(p.stem for p in MODEL_DIR.glob("*.json")
                  if not p.name.endswith(".calibration.json") and json.loads(p.read_text()).get("arch") == "lipnet")


def resolve_weights(name_or_path: str | os.PathLike | None) -> Path | None:
    """The weights file a model name or path means (default: the shipped default); None for
    ``xcorr``. A FileMissingError or UsageError says why there is none."""
    from avsync.errors import FileMissingError, UsageError

    name = str(name_or_path) if name_or_path is not None else DEFAULT_MODEL
    if name == BASELINE:
        return None
    shipped = MODEL_DIR / f"{name}.safetensors"
    if shipped.is_file():
        return shipped
    path = Path(name).expanduser()
    for candidate in (path, path.with_name(path.name + ".safetensors"), path / "model.safetensors"):
        if candidate.is_file():
            return candidate
    if name == DEFAULT_MODEL:
        raise FileMissingError(shipped, "the shipped default model is missing (reinstall avsync)")
    if path.suffix in (".safetensors", ".json") or os.sep in name:
        raise FileMissingError(path, "no such model file")
    raise UsageError(f"unknown model {name!r}; available: {', '.join(available_models())} "
                     f"(or the path of a .safetensors file written by `avsync train`)")


def load_model(name_or_path: str | os.PathLike | None = None, device: str = "cpu", batch_size: int = 8,
               workers: int = 2) -> "SyncChecker | OffsetChecker":
    """A :class:`~avsync.checker.SyncChecker` for a shipped model name (default: ``"default"``),
    ``"xcorr"`` (the training-free baseline), the path of a ``.safetensors`` file or of a training
    checkpoint folder (``runs/NAME/checkpoints/step-N/``); its calibration
    (``<name>.calibration.json`` beside the weights) is loaded when present."""
    from avsync.checker import (
        Calibration,
        ModelEstimator,
        SyncChecker,
        calibration_path,
    )

    weights = resolve_weights(name_or_path)
    if weights is None:
        from avsync.checker.xcorr import XcorrEstimator

        return SyncChecker(XcorrEstimator(), _calibration(MODEL_DIR / f"{BASELINE}.calibration.json", None,
                                                          Calibration()), batch_size=batch_size, workers=workers)
    else:
        from avsync.errors import UsageError
        from avsync.models import LagNet, load_model_file

        name = weights.name[: -len(".safetensors")] if weights.name.endswith(".safetensors") else weights.stem
        name = weights.parent.name if name == "model" else name  # a checkpoint folder: name it by its step
        model = load_model_file(weights, map_location=device)
        cal_file = calibration_path(weights)
        if isinstance(model, LagNet) and model.config.arch == "lipnet":
            raise UsageError(f"{weights}: a lip scorer (the speech expert's, --speech), not a model that checks files")
        if isinstance(model, LagNet):
            from avsync.checker.offset_checker import DEFAULT_CALIBRATION, OffsetChecker

            return OffsetChecker(model, _calibration(cal_file, weights, DEFAULT_CALIBRATION), device, name)
        estimator = ModelEstimator(model, device, name=name)
    return SyncChecker(estimator, _calibration(cal_file, weights, Calibration()), batch_size=batch_size,
                       workers=workers)


DEFAULT_LIPS = "lipnet-v2"   # the speech expert's shipped lip scorer (lipnet-v1 stays for comparison); "hand" is the hand-made one


def lip_scorer(name_or_path: str | os.PathLike | None = None, device: str = "cpu") -> Any:
    """The speech expert's lip scorer called ``name_or_path``: ``hand`` (nothing learnt:
    :class:`~avsync.models.handmade.HandLips`), a shipped name (default :data:`DEFAULT_LIPS`, see
    :func:`lip_scorers`) or the ``.safetensors`` path of a LipNet."""
    from avsync.errors import UsageError
    from avsync.models import load_model_file

    if name_or_path == "hand":
        from avsync.models.handmade import HandLips, expert

        return HandLips(expert("motion-onset").config).to(device).eval()
    name = str(name_or_path or DEFAULT_LIPS)
    shipped = MODEL_DIR / f"{name}.safetensors"
    model = load_model_file(shipped if shipped.is_file() else name, map_location=device)
    if model.config.arch != "lipnet":
        raise UsageError(f"--lips {name}: {model.config.name} is not a lip scorer (arch {model.config.arch})")
    return model


def _calibration(cal_file: Path, weights: Path | None, default: Any) -> Any:
    """The calibration in ``cal_file`` (``default`` when there is none); warns when it was fitted for
    other weights."""
    from avsync.checker import Calibration, weights_digest

    calibration = Calibration.load(cal_file) if cal_file.is_file() else default
    fitted_for = calibration.fitted.get("weights_sha256")
    if weights is not None and fitted_for and fitted_for != weights_digest(weights):
        import warnings

        warnings.warn(f"{cal_file} was fitted for other weights than {weights}; its confidences may be off "
                      f"(run `avsync calibrate`)", stacklevel=2)
    return calibration


@functools.lru_cache(maxsize=4)
def _cached(name_or_path: str | None, device: str) -> "SyncChecker":
    return load_model(name_or_path, device)


def check(path: str | os.PathLike, model: str | os.PathLike | None = None, device: str = "cpu",
          **kwargs: Any) -> "CheckResult":
    """Check one file with a (cached) model: ``avsync.check("video.mp4").offset_sec``. Keyword
    arguments go to :meth:`SyncChecker.check` (``window``, ``stride``)."""
    return _cached(None if model is None else str(model), device).check(path, **kwargs)


def __getattr__(name: str) -> Any:
    if name in ("CheckResult", "SyncChecker"):
        from avsync import checker

        return getattr(checker, name)
    raise AttributeError(f"module 'avsync' has no attribute {name!r}")
