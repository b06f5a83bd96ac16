"""Rendered test material really has the sync error it is made with (events found in the picture
and in the sound of the written file), and the still picture really is still."""

import numpy as np
import pytest
from sync_clips import (
    FPS,
    SR,
    burst_times,
    event_times,
    flash_times,
    make_clip,
    matched_lags,
)

from avsync.media import read_clip, render


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("render") / "src.mp4", seconds=16.0, offset=0.0, seed=3)


def _events(path, seconds):
    clip = read_clip(path, 0.0, seconds, fps=FPS, sample_rate=SR)
    return flash_times(clip.frames.numpy()), burst_times(clip.audio.numpy())


def test_constant_offset_is_in_the_file(source, tmp_path):
    out = render.render_retimed(source, tmp_path / "c.mp4", 2.0, 10.0, render.constant_offset(2.0, 0.37), size=None)
    video, audio = _events(out, 10.0)
    assert len(video) >= 6 and len(audio) >= 6
    lags = matched_lags(video, audio, 0.37)
    assert len(lags) >= len(audio) - 1          # the last sound may belong to a flash past the end
    assert abs(float(np.median(lags)) - 0.37) <= 0.02
    assert not matched_lags(video, audio, -0.37, tol=0.01)   # the other sign is not in the file


def test_the_picture_keeps_the_source_timeline(source, tmp_path):
    out = render.render_retimed(source, tmp_path / "p.mp4", 2.0, 10.0, render.constant_offset(2.0, -1.1), size=None)
    video, _ = _events(out, 10.0)
    expected = [round(t * FPS) / FPS - 2.0 for t in event_times(16.0, 3) if 2.0 <= round(t * FPS) / FPS < 12.0]
    assert len(video) == len(expected) and np.allclose(video, expected, atol=1e-6)


def test_edit_slip_changes_the_offset_at_the_cut(source, tmp_path):
    out = render.render_retimed(source, tmp_path / "s.mp4", 1.0, 14.0, render.edit_slip(1.0, 0.7, 7.0), size=None)
    video, audio = _events(out, 14.0)
    before, after = [t for t in audio if t < 6.5], [t for t in audio if 7.5 < t < 13.0]
    assert len(before) >= 4 and len(after) >= 4
    assert len(matched_lags(video, before, 0.0)) == len(before)      # in sync before the cut
    assert len(matched_lags(video, after, 0.7)) == len(after)        # 0.7 s ahead after it


def test_clock_drift_is_a_slope(source, tmp_path):
    out = render.render_retimed(source, tmp_path / "d.mp4", 0.5, 14.0, render.clock_drift(0.5, 0.02), size=None)
    video, audio = _events(out, 14.0)
    pairs = [(ta, lag) for ta in audio for lag in matched_lags(video, [ta], 0.02 * ta / (1.02), tol=0.03)]
    assert len(pairs) >= 8
    slope = np.polyfit(*zip(*pairs), 1)[0]
    assert abs(slope - 0.02) <= 0.006             # 20 ms per second of file


def test_still_picture_with_sound(tmp_path):
    image = np.zeros((36, 64, 3), np.uint8)
    image[:, :32], image[:18, :, 2] = 200, 120               # flat areas: chroma subsampling keeps them
    audio = np.sin(np.arange(3 * render.AUDIO_RATE) / 20).astype(np.float32) * 0.3
    out = render.render_still(tmp_path / "still.mp4", image, audio, fps=25.0)
    clip = read_clip(out, 0.0, 2.9, fps=25.0, sample_rate=16000)
    frames = clip.frames.numpy().astype(np.float32)
    assert frames.shape[0] == 72 and np.abs(np.diff(frames, axis=0)).max() == 0
    assert np.abs(frames[0] - image).mean() < 8 and clip.audio.abs().max() > 0.2
