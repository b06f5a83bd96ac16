"""Media fixtures: tiny files generated once per test session with PyAV (see tests/helpers.py)."""

from pathlib import Path

import pytest
from helpers import IMPULSE_SEC, make_video


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide folder for generated media."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def impulse(media_dir: Path) -> Path:
    """3 s, 25 fps, 16 kHz mono, a flash and a click together at IMPULSE_SEC, keyframe every 12."""
    return make_video(media_dir / "impulse.mp4", seconds=3.0, flash_at=[IMPULSE_SEC], click_at=[IMPULSE_SEC], gop=12)


@pytest.fixture(scope="session")
def toned(media_dir: Path) -> Path:
    """4 s, 25 fps, keyframe every 12 frames, a quiet 440 Hz tone under the whole audio."""
    return make_video(media_dir / "toned.mp4", seconds=4.0, tone_hz=440.0, gop=12)
