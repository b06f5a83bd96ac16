"""probe and the errors every media function raises for files it cannot use."""

import json

import av
import numpy as np
import pytest
from helpers import make_video

from avsync.errors import CorruptMediaError, FileMissingError, NotMediaError
from avsync.media import probe


def test_fields_of_a_plain_file(impulse):
    info = probe(impulse)
    assert info.duration_sec == pytest.approx(3.0, abs=0.01)
    v, a = info.video, info.audio
    assert (v.codec, v.width, v.height, v.fps, v.variable_fps, v.rotation) == ("h264", 64, 48, 25.0, False, 0)
    assert (v.start_sec, v.duration_sec, v.num_frames) == (0.0, 3.0, 75)
    assert (a.codec, a.sample_rate, a.channels, a.start_sec) == ("aac", 16000, 1, 0.0)
    assert a.duration_sec == pytest.approx(3.0, abs=0.01)
    json.dumps(info.to_dict())


@pytest.mark.parametrize("fps", [30.0, 12.0])
def test_frame_rates(tmp_path, fps):
    v = probe(make_video(tmp_path / "v.mp4", seconds=1.0, fps=fps, audio=False)).video
    assert v.fps == fps and not v.variable_fps and v.num_frames == int(fps)


def test_variable_frame_rate(tmp_path):
    v = probe(make_video(tmp_path / "vfr.mp4", seconds=2.0, vfr=True, audio=False)).video
    assert v.variable_fps and v.num_frames == 50


def test_odd_size_and_rotation(tmp_path):
    v = probe(make_video(tmp_path / "r.mp4", seconds=0.4, size=(45, 61), pix_fmt="yuv444p", rotation=90)).video
    assert (v.width, v.height, v.rotation) == (45, 61, 90)  # as displayed: portrait


@pytest.mark.parametrize("rate, channels", [(8000, 1), (44100, 2), (48000, 6)])
def test_audio_rates_and_layouts(tmp_path, rate, channels):
    a = probe(make_video(tmp_path / "a.mp4", seconds=0.5, sample_rate=rate, channels=channels)).audio
    assert (a.sample_rate, a.channels) == (rate, channels)


def test_audio_starting_after_video(tmp_path):
    exact = probe(make_video(tmp_path / "late.mkv", seconds=2.0, audio_start_sec=0.5))
    assert exact.video.start_sec == 0.0 and exact.audio.start_sec == pytest.approx(0.5, abs=1e-3)
    # in MP4 the AAC encoder's priming frame (1024 samples) comes first: it starts up to one frame early
    mp4 = probe(make_video(tmp_path / "late.mp4", seconds=2.0, audio_start_sec=0.5))
    assert 0.5 - 1024 / 16000 - 1e-3 <= mp4.audio.start_sec <= 0.5 + 1e-3


def test_audio_only_and_video_only(tmp_path):
    audio_only = probe(make_video(tmp_path / "a.m4a", seconds=0.5, video=False))
    assert audio_only.video is None and audio_only.audio.sample_rate == 16000
    video_only = probe(make_video(tmp_path / "v.mp4", seconds=0.5, audio=False))
    assert video_only.audio is None and video_only.video.num_frames == 12


def test_missing_empty_and_not_media(tmp_path):
    with pytest.raises(FileMissingError, match="no such file"):
        probe(tmp_path / "nope.mp4")
    with pytest.raises(FileMissingError, match="not a regular file"):
        probe(tmp_path)
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(NotMediaError, match="empty"):
        probe(tmp_path / "empty.mp4")
    (tmp_path / "notes.mp4").write_text("these are not the frames you are looking for\n" * 50)
    with pytest.raises(NotMediaError, match="not a media file"):
        probe(tmp_path / "notes.mp4")
    (tmp_path / "sub.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nhello\n")
    with pytest.raises(NotMediaError):
        probe(tmp_path / "sub.srt")


def test_truncated_mp4(tmp_path, impulse):
    data = impulse.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])  # the index (moov) is at the end: gone
    with pytest.raises(CorruptMediaError, match="cut.mp4: damaged or truncated"):
        probe(tmp_path / "cut.mp4")


def test_truncated_mp4_with_index_first(tmp_path):
    path = tmp_path / "fast.mp4"
    with av.open(str(path), "w", options={"movflags": "faststart"}) as c:
        s = c.add_stream("h264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(100):
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 2, np.uint8), format="rgb24")
            f.pts = i
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    data = path.read_bytes()
    (tmp_path / "fast_cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptMediaError, match="fast_cut.mp4"):
        probe(tmp_path / "fast_cut.mp4")


def test_constant_rate_with_b_frames_beyond_the_scanned_packets_is_not_variable(tmp_path):
    """The scan stops after a few hundred packets in decode order; frames shown just after them are
    still to come, which once read as a gap ("(variable)" for a constant-rate file)."""
    v = probe(make_video(tmp_path / "long.mp4", seconds=12.0, fps=29.97, audio=False)).video
    assert v.num_frames > 300 and not v.variable_fps
