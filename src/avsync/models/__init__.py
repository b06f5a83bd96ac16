"""Model factory in the spirit of open_clip / whisper: named configs are YAML files in ``configs/``.

>>> model = create("sparsesync-tiny", duration_sec=2.0)
>>> out = model(video, audio)            # video (B, T, 3, H, W) in [0, 1], audio (B, S)
>>> out.logits.shape                     # (B, model.grid.num_classes)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from avsync.errors import UsageError
from avsync.models.avst import AVST
from avsync.models.config import ModelConfig
from avsync.models.io import load_model_file, save_model
from avsync.models.layers import SyncModel, SyncOutput
from avsync.models.sparsesync import SparseSync

CONFIG_DIR = Path(__file__).parent / "configs"

__all__ = ["create", "available_models", "get_config", "build_model", "save_model", "load_model_file",
           "count_parameters", "ModelConfig", "SyncModel", "SyncOutput", "SparseSync", "AVST"]


def available_models() -> list[str]:
    """Names of the built-in model configs."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def get_config(name: str, **overrides: Any) -> ModelConfig:
    """The named config with ``overrides`` applied (UsageError for an unknown name or key)."""
    path = CONFIG_DIR / f"{name}.yaml"
    if not path.is_file():
        raise UsageError(f"unknown model {name!r}; available: {', '.join(available_models())}")
    data = yaml.safe_load(path.read_text())
    return ModelConfig.from_dict({**data, "name": name, **overrides})


def build_model(config: ModelConfig) -> SyncModel:
    """A freshly initialised model for ``config``."""
    return SparseSync(config) if config.arch == "sparsesync" else AVST(config)


def create(name: str, **overrides: Any) -> SyncModel:
    """A freshly initialised model from the named config, e.g. ``create("sparsesync-tiny", frame_size=96)``."""
    return build_model(get_config(name, **overrides))


def count_parameters(model: SyncModel) -> dict[str, int]:
    """Trainable parameters: ``total`` and per part (``visual``, ``audio``, ``transformer`` = the rest)."""
    visual = sum(p.numel() for p in model.visual.parameters())
    audio = sum(p.numel() for p in model.audio.parameters())
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total": total, "visual": visual, "audio": audio, "transformer": total - visual - audio}
