"""read_streams: one pass over a whole file, grey frames scaled in FFmpeg with the aspect ratio kept,
constant fps by presentation time, sound on the same timeline."""

import numpy as np
import pytest
from helpers import clip_indices, click_time, flash_time, frame_level, make_video

from avsync.errors import MediaError, NoAudioStreamError, NoVideoStreamError
from avsync.media import write_video
from avsync.media.stream import read_streams, scaled_size


def test_scaled_size_keeps_the_aspect_ratio_and_caps_the_width():
    assert scaled_size(1280, 720, 64, 160) == (114, 64)
    assert scaled_size(640, 480, 64, 160) == (86, 64)
    assert scaled_size(720, 1280, 64, 160) == (36, 64)          # portrait: 64 rows, narrow
    assert scaled_size(4000, 1000, 64, 160) == (160, 40)        # very wide: width capped, height follows


def test_flash_and_click_stay_together_and_frames_are_grey(media_dir):
    path = make_video(media_dir / "stream_sync.mp4", seconds=3.0, size=(90, 160), flash_at=[1.52], click_at=[1.52])
    s = read_streams(path, height=64)
    assert s.frames.dtype == np.uint8 and s.frames.shape == (75, 64, 114)
    assert s.audio.dtype == np.float32 and len(s.audio) == 3 * 16000
    # grey frames: flash_time expects (T, H, W, 3); a grey frame is its own mean
    assert abs(flash_time(s.frames[..., None], s.fps) - click_time(s.audio, s.sample_rate)) < 0.045


def test_frames_are_resampled_to_constant_fps_by_presentation_time(media_dir):
    path = make_video(media_dir / "stream_30.mp4", seconds=2.0, fps=30.0, size=(48, 64))
    s = read_streams(path, fps=25.0, height=48)
    assert len(s.frames) == 50 and s.source_fps == pytest.approx(30.0)
    # frame k at 25 fps shows source frame floor(k * 30 / 25)
    got = clip_indices(np.repeat(s.frames[..., None], 3, -1))
    assert got == [int(k * 30 / 25 + 1e-9) for k in range(50)]
    assert s.frames[0, 24, 32] == pytest.approx(frame_level(0), abs=3)


def test_late_audio_reads_as_silence_before_it_starts(media_dir):
    path = make_video(media_dir / "stream_late.mp4", seconds=3.0, audio_start_sec=1.0, click_at=[1.5])
    s = read_streams(path)
    assert np.abs(s.audio[:int(0.9 * 16000)]).max() < 1e-3
    assert click_time(s.audio, 16000) == pytest.approx(1.5, abs=0.03)


def test_eight_channels_are_read(tmp_path):
    audio = np.zeros((8, 32000), np.float32)
    audio[7, 16000:16200] = 0.8                                  # a click on the last channel only, at 1 s
    s = read_streams(write_video(tmp_path / "71.mp4", np.zeros((50, 32, 32, 3), np.uint8), audio))
    assert abs(int(np.abs(s.audio).argmax()) - 16000) < 400


def test_missing_streams_and_bad_files_are_one_error(media_dir, tmp_path):
    with pytest.raises(NoAudioStreamError):
        read_streams(make_video(media_dir / "stream_mute.mp4", audio=False))
    with pytest.raises(NoVideoStreamError):
        read_streams(make_video(media_dir / "stream_audio.m4a", video=False))
    bad = tmp_path / "junk.mp4"
    bad.write_bytes(b"not a video at all" * 10)
    with pytest.raises(MediaError):
        read_streams(bad)


def test_frames_converted_ahead_on_a_thread_are_those_of_converting_each_in_turn(tmp_path):
    import av

    path = make_video(tmp_path / "v.mp4", seconds=2.4, fps=25.0, size=(90, 160), flash_at=[0.5, 1.7], gop=5)
    with av.open(str(path)) as c:
        reference = np.stack([f.reformat(width=114, height=64, format="gray", interpolation="AREA").to_ndarray()
                              for f in c.decode(c.streams.video[0])])
    seen = []

    def hook(k, t, frame, turns):       # uses the same decoded frames while the thread converts them
        seen.append(frame.reformat(width=32, height=18, format="rgb24").to_ndarray().mean())

    plain, hooked = read_streams(path), read_streams(path, on_frame=hook)
    assert plain.frames.shape == reference.shape and np.array_equal(plain.frames, reference)
    assert np.array_equal(hooked.frames, reference) and len(seen) == len(reference)


def test_stretches_hold_what_read_streams_reads_a_bounded_piece_at_a_time(tmp_path):
    from avsync.media.stream import read_stretches

    path = make_video(tmp_path / "long.mkv", seconds=12.0, size=(90, 160), flash_at=[2.0, 7.3], click_at=[2.0, 7.3],
                      tone_hz=300.0, acodec="pcm_s16le")
    whole = read_streams(path)
    pieces = list(read_stretches(path, stretch_frames=50, margin_frames=8, audio_margin_frames=20))
    assert len(pieces) == 5 and [p.last for p in pieces] == [False] * 4 + [True]
    assert [p.own for p in pieces] == [(0, 50), (50, 100), (100, 150), (150, 200), (200, 300)]
    assert pieces[-1].info.frame_count == 300 and pieces[-1].info.duration_sec == pytest.approx(12.0)
    spf = 16000 // 25
    for p in pieces:
        lo, hi = p.own
        assert p.first == max(0, lo - 8) and len(p.frames) == min(300, hi + 8) - p.first     # context both sides
        assert np.array_equal(p.frames, whole.frames[p.first:p.first + len(p.frames)])
        assert p.audio_first == max(0, lo - 20)
        assert np.array_equal(p.audio, whole.audio[p.audio_first * spf:min(300, hi + 20) * spf])
    one = list(read_stretches(path, stretch_frames=200))          # shorter than two stretches: one, exactly read_streams
    assert len(one) == 1 and np.array_equal(one[0].frames, whole.frames) and np.array_equal(one[0].audio, whole.audio)
