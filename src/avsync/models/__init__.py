"""Model factory in the spirit of open_clip / whisper: named configs are YAML files in ``configs/``.

>>> model = create("sparsesync-tiny", duration_sec=2.0)
>>> out = model(video, audio)            # video (B, T, 3, H, W) in [0, 1], audio (B, S)
>>> out.logits.shape                     # (B, model.grid.num_classes)
"""

from __future__ import annotations

from avsync.models.avst import AVST
from avsync.models.config import ModelConfig
from avsync.models.io import load_model_file, save_model
from avsync.models.lagnet import LagNet, LagNetConfig
from avsync.models.layers import SyncModel, SyncOutput
from avsync.models.registry import (
    CONFIG_DIR,
    available_models,
    build_model,
    config_from_dict,
    create,
    get_config,
)
from avsync.models.sparsesync import SparseSync

__all__ = ["create", "available_models", "get_config", "build_model", "save_model", "load_model_file",
           "count_parameters", "config_from_dict", "ModelConfig", "LagNet", "LagNetConfig", "SyncModel", "SyncOutput", "SparseSync", "AVST", "CONFIG_DIR"]


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
