"""Model factory in the spirit of open_clip / whisper: named configs are YAML files in ``configs/``.

>>> model = create("sparsesync-tiny", duration_sec=2.0)
>>> out = model(video, audio)            # video (B, T, 3, H, W) in [0, 1], audio (B, S)
>>> out.logits.shape                     # (B, model.grid.num_classes)
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> the module that defines it; each loads on first use, so the torch-free config
# (``avsync.models.config``) can be read without torch
_EXPORTS = {
    "AVST": "avst", "ModelConfig": "config", "load_model_file": "io", "save_model": "io", "LagNet": "lagnet",
    "LagNetConfig": "lagnet", "SyncModel": "layers", "SyncOutput": "layers", "CONFIG_DIR": "registry",
    "available_models": "registry", "build_model": "registry", "config_from_dict": "registry", "create": "registry",
    "get_config": "registry", "count_parameters": "registry", "SparseSync": "sparsesync",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"avsync.models.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'avsync.models' has no attribute {name!r}")
