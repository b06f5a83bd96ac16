"""Weights I/O: ``model.safetensors`` with ``model.json`` (the config) beside it; no pickle anywhere."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from avsync.errors import AvsyncError, FileMissingError
from avsync.models.config import saved_paths
from avsync.models.lagnet import LagNet
from avsync.models.layers import SyncModel
from avsync.models.registry import build_model, config_from_dict


def save_model(model: SyncModel | LagNet, path: str | os.PathLike) -> Path:
    """Write ``<path>.safetensors`` and ``<path>.json``; temp files then rename. Returns the weights path."""
    weights, meta = saved_paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp_w, tmp_m = weights.with_name(weights.name + ".tmp"), meta.with_name(meta.name + ".tmp")
    save_file(state, str(tmp_w), metadata={"format": "pt", "avsync_config": json.dumps(model.config.to_dict())})
    tmp_m.write_text(json.dumps(model.config.to_dict(), indent=2) + "\n")
    tmp_w.replace(weights)
    tmp_m.replace(meta)
    return weights


def load_model_file(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> SyncModel | LagNet:
    """Load a model saved by :func:`save_model` (eval mode). ``path`` may omit ``.safetensors``."""
    weights, meta = saved_paths(path)
    for p in (weights, meta):
        if not p.is_file():
            raise FileMissingError(p, "no such model file")
    try:
        config = config_from_dict(json.loads(meta.read_text()))
        state = load_file(str(weights), device=str(map_location))
    except (json.JSONDecodeError, SafetensorError, OSError) as e:
        raise AvsyncError(f"{weights}: not a readable avsync model ({e})") from None
    model = build_model(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        raise AvsyncError(f"{weights}: weights do not match the config ({first})") from None
    return model.to(map_location).eval()
