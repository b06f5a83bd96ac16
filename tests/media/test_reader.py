"""read_clip: the right source frames at a constant rate, audio in the right place, clear errors."""

import numpy as np
import pytest
import torch
from helpers import (
    IMPULSE_SEC,
    click_time,
    clip_indices,
    flash_time,
    frame_times,
    make_video,
)

from avsync.errors import (
    CorruptMediaError,
    NoAudioStreamError,
    NoVideoStreamError,
    TooShortError,
    UsageError,
    WindowError,
)
from avsync.media import Clip, probe, read_clip
from avsync.media.reader import AUDIO_CHUNK, mono_chunks


def held_indices(times: np.ndarray, start: float, count: int, fps: float) -> list[int]:
    """Expected source frame of each output frame: the last one shown at or before its time."""
    targets = start + np.arange(count) / fps
    return [int(np.searchsorted(times, t + 1e-6, side="right") - 1) for t in targets]


def test_clip_fields(impulse):
    clip = read_clip(impulse, 1.0, 1.0)
    assert isinstance(clip, Clip)
    assert clip.frames.dtype == torch.uint8 and clip.frames.shape == (25, 48, 64, 3)
    assert clip.audio.dtype == torch.float32 and clip.audio.shape == (16000,)
    assert (clip.fps, clip.sample_rate, clip.start_sec, clip.audio_offset_sec) == (25.0, 16000, 1.0, 0.0)
    assert clip.path == str(impulse) and not clip.silent and clip.duration_sec == 1.0


def test_flash_and_click_line_up(impulse):
    clip = read_clip(impulse, 1.0, 1.0)
    assert flash_time(clip.frames, 25, 1.0) == pytest.approx(IMPULSE_SEC, abs=1e-6)
    assert click_time(clip.audio, 16000, 1.0) == pytest.approx(IMPULSE_SEC, abs=1e-3)


def test_audio_offset_moves_the_audio_window(impulse):
    clip = read_clip(impulse, 1.0, 1.0, audio_offset_sec=0.4)  # audio crop = [1.4, 2.4)
    assert click_time(clip.audio, 16000, 1.4) == pytest.approx(IMPULSE_SEC, abs=1e-3)
    assert flash_time(clip.frames, 25, 1.0) == pytest.approx(IMPULSE_SEC, abs=1e-6)


@pytest.mark.parametrize("start", [0.0, 1.2, 2.96 - 0.96])
def test_seek_gives_the_same_frames_as_decoding_from_the_start(toned, start):
    clip = read_clip(toned, start, 1.0)
    assert clip_indices(clip.frames, near=int(start * 25)) == held_indices(frame_times(4.0, 25), start, 25, 25)


@pytest.mark.parametrize("fps, out_fps", [(30.0, 25.0), (12.0, 25.0), (25.0, 10.0)])
def test_resampling_to_a_constant_rate(tmp_path, fps, out_fps):
    path = make_video(tmp_path / "v.mp4", seconds=2.0, fps=fps)
    clip = read_clip(path, 0.6, 1.0, fps=out_fps)
    expected = held_indices(frame_times(2.0, fps), 0.6, int(out_fps), out_fps)
    assert clip_indices(clip.frames, near=int(0.6 * fps)) == [e for e in expected]


def test_variable_frame_rate(tmp_path):
    path = make_video(tmp_path / "vfr.mkv", seconds=3.0, vfr=True, click_at=[1.6])
    times = frame_times(3.0, 25, vfr=True)
    clip = read_clip(path, 0.5, 2.0, fps=30)
    assert clip_indices(clip.frames, near=12) == held_indices(times, 0.5, 60, 30)
    assert click_time(clip.audio, 16000, 0.5) == pytest.approx(1.6, abs=1e-3)


def test_resize_short_side_then_centre_crop(tmp_path):
    path = make_video(tmp_path / "odd.mp4", seconds=0.4, size=(45, 61), pix_fmt="yuv444p", marker=True)
    clip = read_clip(path, 0, 0.4, size=30)
    assert clip.frames.shape == (10, 30, 41, 3)  # 45x61 -> 30x40.7
    clip = read_clip(path, 0, 0.4, size=30, crop=(20, 24))
    assert clip.frames.shape == (10, 20, 24, 3)
    assert read_clip(path, 0, 0.4, crop=9).frames.shape == (10, 9, 9, 3)
    with pytest.raises(UsageError):
        read_clip(path, 0, 0.4, size=30, crop=31)


def test_rotation_is_applied(tmp_path):
    path = make_video(tmp_path / "rot.mp4", seconds=0.4, size=(48, 64), rotation=90, marker=True)
    frames = read_clip(path, 0, 0.4).frames
    assert frames.shape == (10, 64, 48, 3)  # displayed upright: portrait
    corner = frames[0, :, :, 0].float()
    # the marker (top-left of the coded picture) is bottom-left once turned 90 degrees counter-clockwise
    assert corner[-8:, :6].mean() < 8 and corner[:8, :6].mean() > 12 and corner[-8:, -6:].mean() > 12


@pytest.mark.parametrize("rate, channels", [(8000, 1), (44100, 2), (48000, 6)])
def test_audio_resampled_to_mono(tmp_path, rate, channels):
    path = make_video(tmp_path / "a.mkv", seconds=2.0, sample_rate=rate, channels=channels, click_at=[1.2])
    clip = read_clip(path, 0.5, 1.0, sample_rate=16000)
    assert clip.audio.shape == (16000,)
    assert click_time(clip.audio, 16000, 0.5) == pytest.approx(1.2, abs=1e-3)
    assert 0.5 < clip.audio.abs().max() < 2.5  # the mean of the channels (a sum would reach 6 x 0.8)


@pytest.mark.parametrize("suffix, rate, channels", [(".mp4", 48000, 2), (".mkv", 44100, 6)])
def test_mono_chunks_are_the_frame_by_frame_samples_regrouped(tmp_path, suffix, rate, channels):
    import itertools

    import av

    path = make_video(tmp_path / f"a{suffix}", seconds=3.0, sample_rate=rate, channels=channels, click_at=[1.2])
    with av.open(str(path)) as c:    # the reference: one resampled chunk per decoded frame
        resampler = av.AudioResampler(format="flt", rate=16000)
        frames = [o.to_ndarray().reshape(-1, channels).mean(1, dtype=np.float32)
                  for f in itertools.chain(c.decode(audio=0), [None]) for o in resampler.resample(f)]
    with av.open(str(path)) as c:
        chunks = list(mono_chunks(c, c.streams.audio[0], 16000))
    assert [len(s) for _, s in chunks[:-1]] == [AUDIO_CHUNK] * (len(chunks) - 1) and len(chunks) > 2
    assert np.array_equal(np.concatenate([s for _, s in chunks]), np.concatenate(frames))
    assert all(b[0] == pytest.approx(a[0] + AUDIO_CHUNK / 16000) for a, b in zip(chunks, chunks[1:]))


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_audio_starting_late_reads_as_silence_before_it(tmp_path, suffix):
    path = make_video(tmp_path / f"late{suffix}", seconds=2.0, audio_start_sec=0.5, tone_hz=440,
                      flash_at=[1.2], click_at=[1.2])
    clip = read_clip(path, 0.0, 2.0)
    assert click_time(clip.audio, 16000) == pytest.approx(1.2, abs=1e-3)
    assert flash_time(clip.frames, 25) == pytest.approx(1.2, abs=1e-6)
    assert clip.audio[: int(0.43 * 16000)].abs().max() == 0  # no data there: zeros
    assert clip.audio[int(0.55 * 16000): int(0.6 * 16000)].abs().max() > 0.01  # tone from 0.5 s
    inside = read_clip(path, 0.45, 1.0)  # a window that starts just before the audio does
    assert click_time(inside.audio, 16000, 0.45) == pytest.approx(1.2, abs=1e-3)


def test_video_starting_late_reads_as_black_before_it(tmp_path):
    path = make_video(tmp_path / "late_video.mkv", seconds=2.0, video_start_sec=0.4, flash_at=[1.2], click_at=[1.2])
    assert probe(path).video.start_sec == pytest.approx(0.4, abs=1e-3)
    clip = read_clip(path, 0.0, 2.0)
    levels = clip.frames.float().mean((1, 2, 3))
    assert levels[:10].max() == 0 and levels[10] > 10  # no picture before 0.4 s, frame 0 from then on
    assert flash_time(clip.frames, 25) == pytest.approx(1.2, abs=1e-6)
    assert click_time(clip.audio, 16000) == pytest.approx(1.2, abs=1e-3)


def test_windows_at_the_very_start_and_end(toned):
    first = read_clip(toned, 0.0, 1.0)
    assert clip_indices(first.frames) == list(range(25))
    assert first.audio[:160].abs().max() > 0.01  # the tone, from the first sample
    last = read_clip(toned, 3.0, 1.0)
    assert clip_indices(last.frames, near=87) == list(range(75, 100))
    assert last.audio[-160:].abs().max() > 0.01  # real audio up to the last sample, not padding


def test_silent_audio_is_a_flag_not_an_error(tmp_path):
    clip = read_clip(make_video(tmp_path / "quiet.mp4", seconds=1.0), 0, 1.0)
    assert clip.silent and clip.audio.shape == (16000,)


@pytest.mark.parametrize("start, dur, offset", [(-0.1, 1.0, 0.0), (2.5, 1.0, 0.0), (0.0, 1.0, -0.2), (2.0, 1.0, 0.5)])
def test_window_outside_the_file(impulse, start, dur, offset):
    with pytest.raises(WindowError, match="impulse.mp4: .*outside the file"):
        read_clip(impulse, start, dur, audio_offset_sec=offset)


def test_file_shorter_than_the_window(impulse):
    with pytest.raises(TooShortError, match="shorter than the 5.00 s window"):
        read_clip(impulse, 0.0, 5.0)


def test_missing_streams(tmp_path):
    with pytest.raises(NoAudioStreamError, match="no audio stream"):
        read_clip(make_video(tmp_path / "v.mp4", seconds=1.0, audio=False), 0, 0.5)
    with pytest.raises(NoVideoStreamError, match="no video stream"):
        read_clip(make_video(tmp_path / "a.m4a", seconds=1.0, video=False), 0, 0.5)


def test_truncated_file(tmp_path):
    data = make_video(tmp_path / "full.mkv", seconds=4.0, tone_hz=440).read_bytes()
    (tmp_path / "cut.mkv").write_bytes(data[: len(data) // 2])
    assert read_clip(tmp_path / "cut.mkv", 0.0, 1.0).frames.shape[0] == 25  # the part still there reads
    with pytest.raises(CorruptMediaError, match="cut.mkv: .*truncated"):
        read_clip(tmp_path / "cut.mkv", 2.8, 1.0)


def test_bad_arguments(impulse):
    with pytest.raises(UsageError):
        read_clip(impulse, 0.0, 0.0)
    with pytest.raises(UsageError, match="holds no frame"):
        read_clip(impulse, 0.0, 0.01)


def test_frames_scaled_in_ffmpeg_as_decoded_match_antialiased_scaling(tmp_path):
    """read_clip scales each frame in swscale as it is decoded (memory: no frame held at source size;
    speed: no conversion at source size): the pixels are, within rounding, those of antialiased
    bilinear scaling of the full-size frames afterwards, rotation included. Fine stripes tell
    antialiased scaling from picking pixels (which aliases them into bars)."""
    import torch.nn.functional as F

    from avsync.media.reader import centre_box, short_side_size
    from avsync.media.writer import write_video

    def resize_crop(frames, size, crop):
        """torch's antialiased bilinear scaling of uint8 (T, H, W, 3) frames, short side ``size``, then the centre crop."""
        new = frames.shape[1:3] if size is None else short_side_size(frames.shape[2], frames.shape[1], size)[::-1]
        if tuple(new) != tuple(frames.shape[1:3]):
            frames = F.interpolate(frames.permute(0, 3, 1, 2), size=new, mode="bilinear", antialias=True,
                                   align_corners=False).permute(0, 2, 3, 1)
        return frames[(slice(None), *centre_box(*frames.shape[1:3], crop))]

    for rotation in (0, 90):
        path = make_video(tmp_path / f"r{rotation}.mp4", seconds=2.0, size=(120, 160), rotation=rotation,
                          flash_at=[0.5], click_at=[0.5])
        small = read_clip(path, 0.2, 1.2, size=36, crop=32).frames
        full = read_clip(path, 0.2, 1.2).frames
        assert small.shape == (30, 32, 32, 3)
        assert (small.int() - resize_crop(full, 36, 32).int()).abs().float().mean() < 1.5
    rows = torch.arange(120)[:, None, None]
    stripes = ((rows // 2) % 2 * 160 + 40).expand(120, 160, 3).to(torch.uint8)       # 2 px stripes
    path = write_video(tmp_path / "stripes.mp4", torch.stack([stripes.roll(k, 0) for k in range(30)]),
                       torch.zeros(16000 * 30 // 25), crf=0)
    small = read_clip(path, 0.0, 1.2, size=36, crop=32).frames.int()
    full = read_clip(path, 0.0, 1.2).frames
    assert (small - resize_crop(full, 36, 32).int()).abs().float().mean() < 1.5
    picked = F.interpolate(full.permute(0, 3, 1, 2).float(), size=(36, 48), mode="nearest").permute(0, 2, 3, 1)
    assert (small - resize_crop(picked.to(torch.uint8), None, 32).int()).abs().float().mean() > 20


def test_model_decoding_skips_deblocking_only_where_nothing_is_predicted_from(tmp_path):
    """decode_for_model skips the loop filter of non-reference frames only: every I and P frame (others
    are predicted from them) is decoded bit for bit as in full, so nothing drifts; the rest move slightly."""
    import av

    from avsync.media.reader import decode_for_model

    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (96, 160, 3), dtype=np.uint8)
    path = tmp_path / "b_frames.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25, options={"crf": "38", "bframes": "3", "b-pyramid": "none"})
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for k in range(40):
            frame = av.VideoFrame.from_ndarray(np.roll(texture, 2 * k, axis=1), "rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())

    def decoded(fast: bool) -> list[tuple[str, np.ndarray]]:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if fast:
                decode_for_model(stream)
            return [(av.video.frame.PictureType(f.pict_type).name, f.to_ndarray(format="rgb24").astype(int)) for f in container.decode(stream)]

    full, fast = decoded(False), decoded(True)
    assert [t for t, _ in full] == [t for t, _ in fast] and {"I", "P", "B"} <= {t for t, _ in full}
    for (kind, a), (_, b) in zip(full, fast):
        if kind in ("I", "P"):
            assert np.array_equal(a, b), kind
    diffs = [np.abs(a - b).mean() for (_, a), (_, b) in zip(full, fast)]
    assert 0 < max(diffs) and np.mean(diffs) < 2.0
