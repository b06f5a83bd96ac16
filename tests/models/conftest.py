"""Shared helpers for the model tests: random inputs of a given length and frame size."""

from __future__ import annotations

import pytest
import torch


def _make_inputs(seconds: float, frame: int, batch: int = 1, fps: float = 25.0, sr: int = 16000,
                seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random video (B, T, 3, frame, frame) in [0, 1] and audio (B, S) of ``seconds``."""
    g = torch.Generator().manual_seed(seed)
    video = torch.rand(batch, round(seconds * fps), 3, frame, frame, generator=g)
    audio = torch.randn(batch, round(seconds * sr), generator=g) * 0.1
    return video, audio


@pytest.fixture(name="make_inputs")
def make_inputs_fixture():
    """The input maker, as a fixture (tests call ``make_inputs(seconds, frame, ...)``)."""
    return _make_inputs


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
