"""ModelConfig: every number that defines a model, as plain data (YAML in, JSON beside the weights)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avsync.errors import UsageError
from avsync.offsets import OffsetGrid


def saved_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """(weights, config) files of a model saved at ``path`` (``.safetensors`` may be omitted): the config is
    the JSON beside the weights, readable without torch."""
    path = Path(path)
    weights = path if path.suffix == ".safetensors" else path.with_name(path.name + ".safetensors")
    return weights, weights.with_suffix(".json")


ARCHS = ("sparsesync", "avst-enc", "avst-enc-mp", "avst-dec")
VISUAL_ENCODERS = ("s3d", "r2plus1d")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and input format of a sync model.

    Inputs: ``duration_sec`` of video at ``fps`` with square frames of ``frame_size`` pixels, and the
    same span of mono audio at ``sample_rate``. The positional embeddings are sized for these inputs
    and interpolated for any other length or frame size. Offsets are classified on the grid
    ``-offset_max_sec .. +offset_max_sec`` in steps of ``offset_step_sec``.
    """

    name: str
    arch: str = "sparsesync"
    fps: float = 25.0
    sample_rate: int = 16000
    duration_sec: float = 5.0
    frame_size: int = 224
    offset_max_sec: float = 2.0
    offset_step_sec: float = 0.2
    n_fft: int = 512
    hop: int = 128
    # visual encoder: "s3d" (paper) or "r2plus1d" (light (2+1)D CNN: the widths/blocks/strides below)
    visual_encoder: str = "s3d"
    visual_widths: tuple[int, ...] = (32, 64, 128, 256)
    visual_blocks: tuple[int, ...] = (1, 1, 1, 1)
    visual_sstrides: tuple[int, ...] = (1, 2, 2, 1)
    visual_tstrides: tuple[int, ...] = (1, 1, 1, 1)
    # audio encoder: ResNet18-style 2D CNN with a 1-channel stem
    audio_widths: tuple[int, ...] = (64, 128, 256, 512)
    audio_blocks: tuple[int, ...] = (2, 2, 2, 2)
    # time stride of each audio stage (frequency always halves after stage 1); the stem divides time by 4,
    # so (1, 2, 2, 2) is ResNet18's total stride 32 (256 ms tokens) and (1, 2, 1, 1) keeps 64 ms tokens
    audio_tstrides: tuple[int, ...] = (1, 2, 2, 2)
    # feed the visual encoder each frame's difference from the previous one as 3 more channels (motion)
    visual_diff: bool = False
    # transformer part
    d_model: int = 512
    n_heads: int = 8
    n_selectors: int = 16
    selector_layers: int = 3
    sync_layers: int = 3
    mlp_ratio: float = 4.0
    # > 0 adds a correlation head: per-time audio and visual embeddings of this width whose cosine
    # similarity is added to the scores: at every candidate lag to SparseSync's offset logits, at lag 0
    # to AVST's pair score (0: the papers' models)
    corr_dim: int = 0
    # SparseSync's correlation head scores each class by its best lag within the class's bin (robust to
    # offsets between class centres) instead of the lag nearest the class centre
    corr_bin_max: bool = False
    dropout: float = 0.1
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise UsageError(f"model {self.name}: unknown arch {self.arch!r} (choose from {', '.join(ARCHS)})")
        if self.visual_encoder not in VISUAL_ENCODERS:
            raise UsageError(f"model {self.name}: unknown visual_encoder {self.visual_encoder!r}")
        if self.d_model % self.n_heads:
            raise UsageError(f"model {self.name}: d_model {self.d_model} is not a multiple of n_heads {self.n_heads}")
        stages = {len(self.visual_widths), len(self.visual_blocks), len(self.visual_sstrides), len(self.visual_tstrides)}
        if len(stages) != 1 or len({len(self.audio_widths), len(self.audio_blocks), len(self.audio_tstrides)}) != 1:
            raise UsageError(f"model {self.name}: encoder stage lists differ in length")
        if max(self.visual_tstrides) > 2:
            raise UsageError(f"model {self.name}: a temporal stride above 2 cannot resolve a 40 ms offset")
        OffsetGrid(self.offset_max_sec, self.offset_step_sec)  # validates the grid

    @property
    def grid(self) -> OffsetGrid:
        """The offset classes this model predicts."""
        return OffsetGrid(self.offset_max_sec, self.offset_step_sec)

    @property
    def num_frames(self) -> int:
        """Video frames in one input window."""
        return round(self.duration_sec * self.fps)

    @property
    def num_samples(self) -> int:
        """Audio samples in one input window."""
        return round(self.duration_sec * self.sample_rate)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        """Build from a dict (YAML/JSON); unknown keys are a UsageError naming them."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise UsageError(f"unknown model config key(s): {', '.join(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    def replace(self, **overrides: Any) -> "ModelConfig":
        """A copy with some fields changed (validated like :meth:`from_dict`)."""
        return ModelConfig.from_dict({**self.to_dict(), **overrides})
