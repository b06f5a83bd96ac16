"""Checkpoints without pickle: safetensors for every tensor, JSON for everything else.

A checkpoint is a folder ``step-000123/`` holding
- ``model.safetensors`` + ``model.json``: the model's weights and config, loadable on their own
  (``avsync evaluate``/``check`` take the folder or this file);
- ``state.safetensors`` + ``state.json``: the rest of Lightning's checkpoint (optimizer and scheduler
  state, loop progress, the data-sampler position, the training config) with tensors stored apart;
  ``state.json`` also lists the SHA-256 of every file, so a damaged checkpoint is detected.
It is written to ``step-000123.tmp/`` and renamed when complete: a run killed while saving leaves
the previous checkpoints intact. :func:`find_resumable` picks the newest checkpoint that verifies
and warns about every newer one it had to skip.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from avsync.errors import AvsyncError, UsageError

log = logging.getLogger("avsync.train")

FORMAT = "avsync-checkpoint-1"
_STEP_DIR = re.compile(r"^step-(\d+)$")


class CheckpointError(AvsyncError):
    """A checkpoint folder is missing, incomplete or damaged."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _encode(x: Any, tensors: dict[str, torch.Tensor], key: str) -> Any:
    """JSON-able copy of ``x``; tensors go to ``tensors`` and are replaced by a reference."""
    if isinstance(x, torch.Tensor):
        tensors[key] = x.detach().cpu().contiguous().clone()
        return {"__tensor__": key}
    if isinstance(x, dict):
        if all(isinstance(k, str) for k in x):
            return {k: _encode(v, tensors, f"{key}.{k}") for k, v in x.items()}
        return {"__items__": [[_encode(k, tensors, f"{key}.k{i}"), _encode(v, tensors, f"{key}.{i}")]
                              for i, (k, v) in enumerate(x.items())]}
    if isinstance(x, tuple):
        return {"__tuple__": [_encode(v, tensors, f"{key}.{i}") for i, v in enumerate(x)]}
    if isinstance(x, list):
        return [_encode(v, tensors, f"{key}.{i}") for i, v in enumerate(x)]
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    if hasattr(x, "item") and getattr(x, "ndim", 1) == 0:  # numpy scalars
        return x.item()
    if isinstance(x, os.PathLike):
        return os.fspath(x)
    raise TypeError(f"cannot store a {type(x).__name__} at {key} in a checkpoint")


def _decode(x: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(x, dict):
        if "__tensor__" in x:
            return tensors[x["__tensor__"]]
        if "__items__" in x:
            return {_decode(k, tensors): _decode(v, tensors) for k, v in x["__items__"]}
        if "__tuple__" in x:
            return tuple(_decode(v, tensors) for v in x["__tuple__"])
        return {k: _decode(v, tensors) for k, v in x.items()}
    if isinstance(x, list):
        return [_decode(v, tensors) for v in x]
    return x


def _write_json(path: Path, data: Any) -> None:
    with path.open("w") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())


def save_checkpoint_dir(checkpoint: dict[str, Any], path: str | Path, model_config: dict[str, Any] | None) -> Path:
    """Write a Lightning checkpoint dict as a checkpoint folder (temp folder, then rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    state = dict(checkpoint)
    weights = {k.removeprefix("model."): v.detach().cpu().contiguous().clone()
               for k, v in state.pop("state_dict").items()}
    save_file(weights, str(tmp / "model.safetensors"), metadata={"format": FORMAT})
    if model_config is not None:
        _write_json(tmp / "model.json", model_config)
    tensors: dict[str, torch.Tensor] = {}
    tree = _encode(state, tensors, "s")
    save_file(tensors, str(tmp / "state.safetensors"), metadata={"format": FORMAT})
    files = {p.name: _sha256(p) for p in sorted(tmp.iterdir())}
    _write_json(tmp / "state.json", {"format": FORMAT, "files": files, "tree": tree})
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)
    return path


def verify(path: str | Path) -> dict[str, Any]:
    """The parsed ``state.json`` of a checkpoint folder whose files all match their checksums."""
    path = Path(path)
    try:
        meta = json.loads((path / "state.json").read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path}: state.json is missing or unreadable ({e.__class__.__name__})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an avsync checkpoint (format {meta.get('format')!r})")
    for name, digest in meta["files"].items():
        f = path / name
        if not f.is_file() or _sha256(f) != digest:
            raise CheckpointError(f"{path}: {name} is missing or damaged (checksum mismatch)")
    return meta


def load_checkpoint_dir(path: str | Path) -> dict[str, Any]:
    """The Lightning checkpoint dict of a verified checkpoint folder (model keys prefixed ``model.``)."""
    path = Path(path)
    meta = verify(path)
    state = _decode(meta["tree"], load_file(str(path / "state.safetensors")))
    state["state_dict"] = {f"model.{k}": v for k, v in load_file(str(path / "model.safetensors")).items()}
    return state


def step_dirs(folder: str | Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of the checkpoint folders in ``folder``, newest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if p.is_dir() and (m := _STEP_DIR.match(p.name))]
    return sorted(found, reverse=True)


def refuse_overwrite(run_dir: str | Path, resume: bool) -> None:
    """UsageError when ``run_dir`` already holds checkpoints and the run is not resumed (``--resume``)."""
    if step_dirs(Path(run_dir) / "checkpoints") and not resume:
        raise UsageError(f"{run_dir} already holds checkpoints: pass --resume to continue it, or set run_dir=...")


def find_resumable(folder: str | Path) -> Path | None:
    """The newest checkpoint in ``folder`` that verifies; warns about each damaged newer one."""
    for step, path in step_dirs(folder):
        try:
            verify(path)
            return path
        except CheckpointError as e:
            log.warning("checkpoint at step %d is damaged, falling back to an older one: %s", step, e)
    return None


def prune(folder: str | Path, keep: int) -> None:
    """Delete all but the ``keep`` newest checkpoint folders, and leftover ``.tmp`` folders."""
    for _, path in step_dirs(folder)[keep:]:
        shutil.rmtree(path, ignore_errors=True)
    for tmp in Path(folder).glob("step-*.tmp"):
        shutil.rmtree(tmp, ignore_errors=True)


def model_weights_path(source: str | Path) -> Path:
    """The weights file of a checkpoint folder, a run folder (its newest checkpoint) or a file."""
    source = Path(source)
    if source.is_file():
        return source
    if (source / "model.safetensors").is_file():
        return source / "model.safetensors"
    newest = find_resumable(source / "checkpoints") if (source / "checkpoints").is_dir() else None
    if newest is None:
        raise CheckpointError(f"{source}: no model.safetensors and no usable checkpoint in it")
    return newest / "model.safetensors"


def load_partial(model: torch.nn.Module, source: str | Path) -> tuple[list[str], list[str]]:
    """Copy every tensor of ``source`` whose name and shape match into ``model`` (e.g. a dense
    pre-trained model into one with another head). Returns (loaded names, skipped with reasons)."""
    weights = load_file(str(model_weights_path(source)))
    own = model.state_dict()
    loaded, skipped = [], []
    for name, value in weights.items():
        if name not in own:
            skipped.append(f"{name} (not in this model)")
        elif own[name].shape != value.shape:
            skipped.append(f"{name} (shape {tuple(value.shape)} != {tuple(own[name].shape)})")
        else:
            own[name] = value
            loaded.append(name)
    missing = sorted(set(own) - set(weights))
    skipped += [f"{name} (not in {Path(source).name}: kept its initial value)" for name in missing]
    model.load_state_dict(own)
    return loaded, skipped
