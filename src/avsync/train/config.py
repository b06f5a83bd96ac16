"""The training configuration: a YAML file, overridable with ``key=value`` on the command line.

Sections: ``model`` (a named model config plus overrides), ``data`` (sources, splits, window,
loader, augmentations), ``optim`` (Adam, warm-up then constant LR, gradient clipping), ``loss``
(cross-entropy over offset classes, or AVST's InfoNCE with the two-stage curriculum), ``trainer``
(steps, batch, devices, strategy, precision, logging and checkpoint intervals).

The dataclasses below are the schema: OmegaConf builds a structured config from
:class:`TrainConfig`, merges the YAML file and then the ``key=value`` overrides
(``OmegaConf.from_dotlist``) into it, checks and converts every value to its field's type, and
resolves ``${...}`` interpolations. Unknown keys and values of the wrong type are a one-line
:class:`~avsync.errors.UsageError` that names the key, so a typo never silently trains the wrong
thing. OmegaConf is part of the ``train`` extra, like everything in ``avsync.train``.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

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
    feature_cache: str | None = None      # LagNet: a folder made by `avsync cache` (avsync.data.feature_cache)
    video_sec: float = 3.0                # LagNet: seconds of picture per example (its clip's sound around it)
    real_share: float = 0.25              # LagNet: share of examples drawn from real footage
    val_clips: int = 25                   # LagNet: synthetic clips held out for validation
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
    crops of the same video. ``offsets``: LagNet's per-moment and per-clip InfoNCE over candidate
    offsets (:func:`avsync.train.losses.offset_infonce`). ``auto`` picks by the model's arch."""

    kind: str = "auto"
    easy_steps: int = 1000
    temperature: float = 1.0
    max_offset_sec: float = 2.0           # offsets: candidates scored in training (+-, every audio step)
    sigma_sec: float = 0.02               # offsets: width of the soft target around 0
    clip_weight: float = 0.5              # offsets: weight of the per-clip (accumulated) term


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


def _sections(cls: type) -> dict[str, type]:
    """The fields of dataclass ``cls`` that are sections (dataclasses themselves), with their types."""
    out = {}
    for f in dataclasses.fields(cls):
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
            if dataclasses.is_dataclass(default):
                out[f.name] = type(default)
    return out


def _tidy(cls: type, data: Mapping[str, Any], source: str, where: str = "") -> dict[str, Any]:
    """``data`` with empty sections (``data:`` and nothing under it) left out, as if absent; a
    section given a plain value is a UsageError naming it."""
    sections = _sections(cls)
    out = {}
    for key, value in data.items():
        if key in sections:
            if value is None:
                continue
            if not isinstance(value, Mapping):
                raise UsageError(f"{source}config key {where}{key} is a section: give it keys, not {value!r}")
            value = _tidy(sections[key], value, source, f"{where}{key}.")
        out[key] = value
    return out


def _known_keys(key: str) -> list[str]:
    """The dotted keys beside ``key`` in the schema (for 'did you mean')."""
    parent, _, _ = key.rpartition(".")
    cls: type = TrainConfig
    for part in parent.split(".") if parent else []:
        cls = _sections(cls).get(part)
        if cls is None:
            return []
    prefix = f"{parent}." if parent else ""
    return [prefix + f.name for f in dataclasses.fields(cls)]


_CONVERT = re.compile(r"Value '(.*)' of type '\w+' could not be converted to (\w+)")
_BOOL = re.compile(r"Value '(.*)' is not a valid bool")
_NULL = re.compile(r"Incompatible value 'None'|is not Optional")
_KINDS = {"Float": "a number", "Integer": "a whole number", "Boolean": "true or false", "String": "a string"}


def _message(e: OmegaConfBaseException) -> str:
    """One line naming the key for an OmegaConf merge or conversion error."""
    key = getattr(e, "full_key", None) or getattr(e, "key", None) or ""
    msg = str(getattr(e, "msg", None) or e).splitlines()[0]
    if isinstance(e, ConfigKeyError):
        close = difflib.get_close_matches(key, _known_keys(key), n=1)
        return f"unknown config key {key}" + (f" (did you mean {close[0]}?)" if close else "")
    m = _CONVERT.search(msg)
    if m and m.group(2) in _KINDS:
        return f"config key {key}: {m.group(1)!r} is not {_KINDS[m.group(2)]}"
    if m := _BOOL.search(msg):
        return f"config key {key}: {m.group(1)!r} is not true or false"
    if _NULL.search(msg):
        return f"config key {key} cannot be empty (null)"
    return f"config key {key}: {msg}" if key else msg


def _merge(base: DictConfig, layer: Mapping[str, Any], source: str) -> DictConfig:
    """``layer`` (from ``source``: a file name, ``override`` or empty) merged into ``base``."""
    prefix = f"{source}: " if source else ""
    try:
        return OmegaConf.merge(base, _tidy(TrainConfig, layer, prefix))
    except OmegaConfBaseException as e:
        raise UsageError(prefix + _message(e)) from None


def _finish(cfg: DictConfig, source: str) -> TrainConfig:
    """The :class:`TrainConfig` instance of a merged structured config (interpolations resolved)."""
    try:
        out = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as e:
        raise UsageError((f"{source}: " if source else "") + _message(e)) from None
    assert isinstance(out, TrainConfig)
    return out


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """``["trainer.max_steps=100", "data.train=[a.csv,b.csv]"]`` -> nested dict. Values are YAML as
    OmegaConf reads it (``3e-4`` is a number); ``${key}`` refers to another value of the config."""
    layers = []
    for pair in pairs:
        key, sep, _ = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"override {pair!r} is not key=value")
        try:
            layers.append(OmegaConf.from_dotlist([pair.strip()]))
        except (OmegaConfBaseException, yaml.YAMLError) as e:
            raise UsageError(f"override {pair!r}: not valid YAML ({_yaml_problem(e)})") from None
    try:
        tree = OmegaConf.to_container(OmegaConf.merge(*layers) if layers else OmegaConf.create({}), resolve=False)
    except OmegaConfBaseException as e:  # e.g. a=3 and then a.b=1
        raise UsageError(f"override: {_message(e)}") from None
    assert isinstance(tree, dict)
    return tree


def _yaml_problem(e: Exception) -> str:
    """The gist of a YAML error, e.g. ``found duplicate key max_steps (line 3)``."""
    if isinstance(e, yaml.MarkedYAMLError) and e.problem:
        return e.problem + (f" (line {e.problem_mark.line + 1})" if e.problem_mark is not None else "")
    return str(e).splitlines()[0]


def _read_yaml(path: str | Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise UsageError(f"{path}: cannot read config ({e.strerror})") from None
    try:
        data = OmegaConf.create(text) if text.strip() else OmegaConf.create({})
    except (OmegaConfBaseException, yaml.YAMLError) as e:
        raise UsageError(f"{path}: not valid YAML ({_yaml_problem(e)})") from None
    if not isinstance(data, DictConfig):
        raise UsageError(f"{path}: the top level must be a mapping of sections (model:, data:, ...)")
    tree = OmegaConf.to_container(data, resolve=False)
    assert isinstance(tree, dict)
    return tree


def config_from_dict(data: Mapping[str, Any] | None, source: str = "") -> TrainConfig:
    """A :class:`TrainConfig` from a nested dict (e.g. ``TrainConfig.to_dict()``, a run's
    ``config.yaml``, a checkpoint's hyper-parameters), checked like a YAML file."""
    return _finish(_merge(OmegaConf.structured(TrainConfig), data or {}, source), source)


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a YAML config (``None``: all defaults) and apply ``key=value`` overrides."""
    cfg = OmegaConf.structured(TrainConfig)
    if path is not None:
        cfg = _merge(cfg, _read_yaml(path), str(path))
    if overrides:
        cfg = _merge(cfg, parse_overrides(overrides), "override")
    return _finish(cfg, str(path) if path is not None else "")
