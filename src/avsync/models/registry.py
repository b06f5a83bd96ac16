"""The named model configs (YAML files in ``configs/``), the builder from a config to a model, and its
parameter counts.

Below :mod:`avsync.models.io` (which builds the model a weights file describes) and below the
package's ``__init__`` (which re-exports everything): nothing here imports either, so the modules of
``avsync.models`` import each other in one direction only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from avsync.errors import UsageError
from avsync.models.avst import AVST
from avsync.models.config import ModelConfig
from avsync.models.lagnet import LagNet, LagNetConfig
from avsync.models.lips import LipNet
from avsync.models.layers import SyncModel
from avsync.models.sparsesync import SparseSync

AnyConfig = ModelConfig | LagNetConfig

CONFIG_DIR = Path(__file__).parent / "configs"


def available_models() -> list[str]:
    """Names of the built-in model configs."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def config_from_dict(data: dict[str, Any]) -> AnyConfig:
    """The config a dict describes: a :class:`LagNetConfig` for arch ``lagnet`` (the engine's
    model) and ``lipnet`` (the speech expert's lip scorer), else a :class:`ModelConfig` (SparseSync / AVST)."""
    return LagNetConfig.from_dict(data) if data.get("arch") in ("lagnet", "lipnet") else ModelConfig.from_dict(data)


def get_config(name: str, **overrides: Any) -> AnyConfig:
    """The named config with ``overrides`` applied (UsageError for an unknown name or key)."""
    path = CONFIG_DIR / f"{name}.yaml"
    if not path.is_file():
        raise UsageError(f"unknown model {name!r}; available: {', '.join(available_models())}")
    data = yaml.safe_load(path.read_text())
    return config_from_dict({**data, "name": name, **overrides})


def build_model(config: AnyConfig) -> SyncModel | LagNet:
    """A freshly initialised model for ``config``."""
    if isinstance(config, LagNetConfig):
        return LipNet(config) if config.arch == "lipnet" else LagNet(config)
    return SparseSync(config) if config.arch == "sparsesync" else AVST(config)


def create(name: str, **overrides: Any) -> SyncModel | LagNet:
    """A freshly initialised model from the named config, e.g. ``create("sparsesync-tiny", frame_size=96)``."""
    return build_model(get_config(name, **overrides))


def count_parameters(model: SyncModel | LagNet) -> dict[str, int]:
    """Trainable parameters: ``total`` and per part (``visual``, ``audio``, ``transformer`` = the rest)."""
    if isinstance(model, LagNet):
        parts = {"visual": (model.frame_cnn, model.attention, model.pool_proj, model.video_time),
                 "audio": (model.audio_time,)}
    else:
        parts = {"visual": (model.visual,), "audio": (model.audio,)}
    visual, audio = (sum(p.numel() for m in parts[k] for p in m.parameters()) for k in ("visual", "audio"))
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total": total, "visual": visual, "audio": audio, "transformer": total - visual - audio}
