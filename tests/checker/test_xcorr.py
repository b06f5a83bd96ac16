"""The training-free cross-correlation baseline (``--method xcorr``)."""

from __future__ import annotations

import math

import pytest
import torch
from sync_clips import FPS, SR, make_clip

from avsync.checker import SyncChecker
from avsync.checker.xcorr import (
    XcorrEstimator,
    lagged_correlation,
    motion_energy,
    onset_strength,
)
from avsync.clip import read_window
from avsync.media import shift_audio


def test_lagged_correlation_sign_and_lag():
    """Onset at frame 10, motion at frame 15 of region 2: the best lag is +5 (audio 0.2 s ahead)."""
    t = 60
    onset = torch.zeros(1, t)
    onset[0, 10] = onset[0, 40] = 1.0
    motion = torch.rand(1, t, 4) * 0.05
    motion[0, 15, 2] = motion[0, 45, 2] = 1.0
    corr = lagged_correlation(onset, motion, max_lag=10, min_overlap=20)
    lag = int(corr.amax(-1)[0].argmax()) - 10
    assert lag == 5
    assert int(corr[0, 15].argmax()) == 2


def test_max_over_regions_finds_a_small_event_next_to_a_big_distractor():
    """A large region moving at random swamps the whole-frame average; the regional max does not."""
    gen = torch.Generator().manual_seed(0)
    t, true_lag = 125, -7
    events = [12, 31, 47, 70, 88, 109]
    onset = torch.zeros(1, t)
    for e in events:
        onset[0, e] = 1.0
    motion = torch.zeros(1, t, 17)
    motion[0, :, 0] = torch.rand(t, generator=gen) * 5.0        # distractor, loud motion
    for e in events:
        if 0 <= e + true_lag < t:
            motion[0, e + true_lag, 9] = 0.3                     # the small sounding object
    motion[0, :, 16] = motion[0, :, :16].mean(-1)                # the whole frame
    corr = lagged_correlation(onset, motion, max_lag=50, min_overlap=30)
    assert int(corr.amax(-1)[0].argmax()) - 50 == true_lag
    assert int(corr[0, :, 16].argmax()) - 50 != true_lag         # the global average alone misses it


def test_onset_and_motion_line_up_at_zero_offset(tmp_path):
    """A flash and a burst at the same instant peak in the same frame of both feature tracks."""
    clip = make_clip(tmp_path / "a.mp4", seconds=5, offset=0.0, seed=3)
    est = XcorrEstimator()
    checker = SyncChecker(est, workers=0)
    video, audio = read_window(str(clip), 0.0, 0.0, checker.clip_spec(5.0))
    onset = onset_strength(audio[None], SR, FPS, video.shape[0])[0]
    motion = motion_energy(video[None], est.regions)[0].amax(-1)
    on_peaks = set(torch.topk(onset, 3).indices.tolist())
    mo_peaks = set(torch.topk(motion, 6).indices.tolist())
    assert any(min(abs(a - b) for b in mo_peaks) <= 1 for a in on_peaks)


@pytest.mark.parametrize("shift", [0.6, -1.0])
def test_xcorr_recovers_a_shift_made_by_shift_audio(tmp_path, shift):
    src = make_clip(tmp_path / "src.mp4", seconds=10, offset=0.0, seed=1)
    dst = shift_audio(src, tmp_path / "shifted.mp4", shift)
    r = SyncChecker(XcorrEstimator(), workers=0).check(dst)
    assert r.error is None and r.synchronisable
    assert abs(r.offset_sec - shift) <= 1.5 / FPS
    assert r.top[0]["offset_sec"] == pytest.approx(round(shift * FPS) / FPS, abs=1.01 / FPS)


def test_xcorr_grid_is_one_frame():
    est = XcorrEstimator(max_sec=2.0, fps=25.0)
    assert est.grid.step_sec == pytest.approx(0.04)
    assert est.grid.num_classes == 101
    scores = est.scores(torch.rand(2, 125, 3, 32, 32), torch.randn(2, 5 * SR))
    assert scores.shape == (2, 101) and torch.isfinite(scores).all()
    assert not math.isclose(float(scores.std()), 0.0)
