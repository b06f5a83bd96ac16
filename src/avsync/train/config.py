"""The training configuration: a YAML file, overridable with ``key=value`` on the command line.

Sections: ``model`` (a named model config plus overrides), ``data`` (sources, splits, window,
loader, augmentations), ``optim`` (Adam, warm-up then constant LR, gradient clipping), ``loss``
(cross-entropy over offset classes, or AVST's InfoNCE with the two-stage curriculum), ``trainer``
(steps, batch, devices, strategy, precision, logging and checkpoint intervals). Unknown keys are an
error that names them, so a typo never silently trains the wrong thing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import yaml

from avsync.data.augment import AugmentConfig
from avsync.errors import UsageError


@dataclass
class ModelSection:
    """``name`` from ``avsync.models.available_models()``; ``overrides`` change single fields."""

    name: str = "sparsesync-tiny"
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataSection:
    """Where examples come from. ``train``/``val``/``test``: manifests (CSV) or folders of videos."""

    train: list[str] = field(default_factory=list)
    val: list[str] | None = None          # default: the same sources as train
    train_split: str = "train"
    val_split: str = "val"
    kinds: list[str] | None = None        # keep only these manifest kinds (None: all)
    train_offsets: str | None = None      # train on this fixed offset list (cycled) instead of random crops
    val_offsets: str | None = None        # a fixed offset list (CSV); default: made from the val split
    val_per_source: int = 2               # fixed crops per val source when no list is given
    val_fraction: float = 0.1             # folders: share of files (by name hash) held out for val
    window_sec: float | None = None       # default: the model's duration_sec
    resize: int | None = None             # short side before cropping (default frame_size * 8 / 7)
    jitter_sec: float = 0.05
    workers: int = 2
    cache: bool = False                   # keep decoded training sources in memory (small data sets)
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass
class OptimSection:
    """Adam with a linear warm-up from ``lr * warmup_start`` to ``lr``, then constant (as published)."""

    lr: float = 5e-6
    warmup_steps: int = 1000
    warmup_start: float = 0.01
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float = 1.0


@dataclass
class LossSection:
    """``ce``: cross-entropy over offset classes (SparseSync). ``infonce``: AVST's contrastive loss;
    stage 1 (``easy_steps``) takes negatives from other videos of the batch, stage 2 from shifted
    crops of the same video. ``auto`` picks by the model's arch."""

    kind: str = "auto"
    easy_steps: int = 1000
    temperature: float = 1.0


@dataclass
class TrainerSection:
    """Lightning trainer settings; ``precision: auto`` is 16-bit mixed on GPU, 32-bit on CPU."""

    max_steps: int = 1000
    batch_size: int = 10
    accelerator: str = "auto"
    devices: Any = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "auto"
    val_every: int = 500
    ckpt_every: int = 500
    keep_checkpoints: int = 3
    log_every: int = 10
    progress: bool = True
    plateau_window: int = 50              # steps averaged when checking for the ln(C) plateau


@dataclass
class TrainConfig:
    """Everything a training run needs; saved beside every checkpoint."""

    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    optim: OptimSection = field(default_factory=OptimSection)
    loss: LossSection = field(default_factory=LossSection)
    trainer: TrainerSection = field(default_factory=TrainerSection)
    seed: int = 0
    run_dir: str = "runs/default"
    init_from: str | None = None          # checkpoint dir or model .safetensors; matching tensors load

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (YAML/JSON ready)."""
        return _plain(dataclasses.asdict(self))


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def _build(cls: type, data: Any, where: str) -> Any:
    """Dataclass ``cls`` from a dict, recursing into dataclass-typed fields; unknown keys fail."""
    if data is None:
        return cls()
    if not isinstance(data, dict):
        raise UsageError(f"config section {where or 'top level'} must be a mapping")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise UsageError(f"unknown config key(s) {', '.join(f'{where}{k}' for k in unknown)}")
    kwargs = {}
    for name, value in data.items():
        default = fields[name].default_factory() if fields[name].default_factory is not dataclasses.MISSING else None
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value, f"{where}{name}.")
        elif isinstance(value, list) and isinstance(fields[name].default, tuple):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = _coerce(value, fields[name].default, f"{where}{name}")
    return cls(**kwargs)


def _coerce(value: Any, default: Any, key: str) -> Any:
    """Numbers written like ``5e-6`` load from YAML as strings: convert them to the default's type."""
    if isinstance(value, str) and isinstance(default, (int, float)) and not isinstance(default, bool):
        try:
            return type(default)(float(value)) if isinstance(default, int) else float(value)
        except ValueError:
            raise UsageError(f"config key {key}: {value!r} is not a number") from None
    return value


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        node = tree.get(k)
        if node is None:
            node = tree[k] = {}
        if not isinstance(node, dict):
            raise UsageError(f"override {dotted}: {k} is not a section")
        tree = node
    tree[keys[-1]] = value


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """``["trainer.max_steps=100", "data.train=[a.csv,b.csv]"]`` -> nested dict (values as YAML)."""
    tree: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"override {pair!r} is not key=value")
        _set(tree, key.strip(), yaml.safe_load(raw) if raw.strip() else None)
    return tree


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a YAML config (``None``: all defaults) and apply ``key=value`` overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except OSError as e:
            raise UsageError(f"{path}: cannot read config ({e.strerror})") from None
        except yaml.YAMLError as e:
            raise UsageError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    try:
        return _build(TrainConfig, _merge(data, parse_overrides(overrides)), "")
    except TypeError as e:
        raise UsageError(f"{path or 'config'}: {e}") from None
