"""read_clips: every window what read_clip gives for it, from one decode pass; read_ahead: a bounded
producer thread whose errors reach the consumer."""

import threading
import time

import numpy as np
import pytest
import torch
from helpers import click_time, make_video

from avsync.errors import CorruptMediaError, UsageError, WindowError
from avsync.media import read_clip
from avsync.media.windows import read_ahead, read_clips


def assert_same_windows(path, starts, duration, audio_tol=1e-6, **kw):
    """read_clips' windows against read_clip's: identical pictures, the same audio (to ``audio_tol``)."""
    many = list(read_clips(path, starts, duration, **kw))
    assert [c.start_sec for c in many] == pytest.approx(starts)
    for s, got in zip(starts, many):
        want = read_clip(path, s, duration, **kw)
        assert got.frames.shape == want.frames.shape and got.frames.dtype == torch.uint8
        assert torch.equal(got.frames, want.frames), f"window at {s}"
        assert got.audio.shape == want.audio.shape
        assert float((got.audio - want.audio).abs().max()) <= audio_tol, f"window at {s}"
        assert got.silent == want.silent
    return many


def test_overlapping_windows_equal_read_clip(tmp_path):
    path = make_video(tmp_path / "v.mkv", seconds=4.0, tone_hz=300.0, click_at=[1.3, 2.9], flash_at=[1.3],
                      gop=12, acodec="pcm_s16le")
    starts = [0.0, 0.4, 0.8, 1.2, 2.0, 2.8, 3.0]          # overlapping, a gap, the very end
    assert_same_windows(path, starts, 1.0, size=20, crop=16)


def test_resampled_compressed_sound_keeps_its_timing(tmp_path):
    """44.1 kHz stereo AAC: the same pictures as read_clip; the sound decoded once and resampled once, so
    a click is at its file time in every window (read_clip restarts the resampler after each seek and
    places it a few samples off)."""
    path = make_video(tmp_path / "v.mp4", seconds=4.0, tone_hz=300.0, click_at=[1.3, 2.9], flash_at=[1.3],
                      gop=12, sample_rate=44100, channels=2)
    starts = [0.0, 0.4, 0.8, 1.2, 2.0, 2.8, 3.0]
    many = assert_same_windows(path, starts, 1.0, audio_tol=2.0, size=20, crop=16)
    checked = 0
    for s, clip in zip(starts, many):
        inside = [t for t in (1.3, 2.9) if s < t < s + 1.0]
        if inside:
            assert click_time(clip.audio, 16000, s) == pytest.approx(inside[0], abs=3e-4)
            checked += 1
    assert checked == 5


def test_audio_offset_and_scaling_follow_read_clip(tmp_path):
    path = make_video(tmp_path / "v.mkv", seconds=3.0, size=(45, 61), pix_fmt="yuv444p", click_at=[1.5], flash_at=[1.0], gop=5,
                      acodec="pcm_s16le")
    many = assert_same_windows(path, [0.2, 0.6, 1.0], 1.2, size=30, crop=(20, 24), audio_offset_sec=0.5)
    assert click_time(many[1].audio, 16000, 0.6 + 0.5) == pytest.approx(1.5, abs=1e-3)
    assert_same_windows(path, [1.0, 1.52], 1.0, size=30, audio_offset_sec=-0.8)


def test_rotation_and_late_streams(tmp_path):
    rotated = make_video(tmp_path / "rot.mp4", seconds=1.0, size=(48, 64), rotation=90, marker=True)
    assert assert_same_windows(rotated, [0.0, 0.2], 0.6, audio_tol=0.05, size=24, crop=20)[0].frames.shape[1:] == (20, 20, 3)
    late_video = make_video(tmp_path / "lv.mkv", seconds=2.0, video_start_sec=0.4, flash_at=[1.2], acodec="pcm_s16le")
    assert_same_windows(late_video, [0.0, 0.32, 1.0], 1.0, size=16)
    late_audio = make_video(tmp_path / "la.mkv", seconds=2.0, audio_start_sec=0.5, tone_hz=440, acodec="pcm_s16le")
    many = assert_same_windows(late_audio, [0.0, 0.4, 1.0], 1.0, size=16)
    assert many[0].audio[: int(0.45 * 16000)].abs().max() == 0


def test_errors_name_the_file(tmp_path, impulse):
    with pytest.raises(WindowError, match="impulse.mp4: .*outside the file"):
        list(read_clips(impulse, [0.0, 2.52], 1.0))
    with pytest.raises(UsageError, match="increasing"):
        list(read_clips(impulse, [1.0, 0.0], 1.0))
    with pytest.raises(UsageError, match="grid"):
        list(read_clips(impulse, [0.0, 0.013], 1.0))
    data = make_video(tmp_path / "full.mkv", seconds=4.0, tone_hz=440, acodec="pcm_s16le").read_bytes()
    (tmp_path / "cut.mkv").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptMediaError, match="cut.mkv: .*truncated"):
        list(read_clips(tmp_path / "cut.mkv", [0.0, 1.0, 2.0, 2.8], 1.0))


def test_nothing_held_beyond_the_windows_still_to_come(tmp_path):
    """Memory does not grow with the file: the reader holds the pictures of about one window."""
    import avsync.media.windows as w

    path = make_video(tmp_path / "long.mkv", seconds=12.0, acodec="pcm_s16le")
    seen = []
    real = w.SoundReader.take

    def take(self, start, count):
        out = real(self, start, count)
        seen.append(self._held)
        return out

    w.SoundReader.take = take
    try:
        clips = list(read_clips(path, [i * 0.48 for i in range(22)], 1.0, size=16))
    finally:
        w.SoundReader.take = real
    assert len(clips) == 22
    assert max(seen) < 16000 * 2.5       # samples held: a window and a stride (and a decoded chunk), not 12 s


def test_read_ahead_is_bounded_and_passes_errors_on():
    made = []

    def items():
        for i in range(10):
            made.append(i)
            yield i

    it = read_ahead(items(), 2)
    assert next(it) == 0
    time.sleep(0.3)
    assert len(made) <= 4                   # the one handed out, two waiting, one blocked on the queue
    assert list(it) == list(range(1, 10))

    def failing():
        yield 1
        raise CorruptMediaError("x.mp4", "cannot decode the video")

    with pytest.raises(CorruptMediaError, match="x.mp4"):
        list(read_ahead(failing(), 2))


def test_read_ahead_stops_its_producer_when_the_consumer_stops():
    def endless():
        i = 0
        while True:
            i += 1
            yield np.zeros(3) + i

    before = threading.active_count()
    it = read_ahead(endless(), 2)
    next(it)
    it.close()
    time.sleep(0.2)
    assert threading.active_count() == before
