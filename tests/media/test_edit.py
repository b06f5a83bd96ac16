"""shift_audio: the sign convention end to end, the overlap, stream copy, and never touching IN."""

import hashlib

import av
import pytest
from helpers import IMPULSE_SEC, click_time, clip_indices, flash_time, make_video

from avsync.cli import main
from avsync.errors import NoAudioStreamError, TooShortError, UsageError
from avsync.media import probe, read_clip, shift_audio

FRAME = 1 / 25


def impulse_times(path) -> tuple[float, float]:
    """(flash time, click time) of a file, read with read_clip over (nearly) all of it."""
    clip = read_clip(path, 0.0, round(probe(path).audio.duration_sec - 0.1, 2))
    return flash_time(clip.frames, 25), click_time(clip.audio, 16000)


def test_cli_shift_puts_the_click_before_the_flash(tmp_path, impulse, capsys):
    """The sign convention, end to end: +0.6 s means the audio is heard 0.6 s before the picture."""
    out = tmp_path / "ahead.mp4"
    assert main(["shift", str(impulse), str(out), "--offset", "0.6"]) == 0
    assert "ahead of the picture" in capsys.readouterr().out
    flash, click = impulse_times(out)
    assert flash - click == pytest.approx(0.6, abs=FRAME)


@pytest.mark.parametrize("offset, suffix", [(0.6, ".mp4"), (-0.6, ".mp4"), (0.6, ".mkv"), (-0.6, ".mkv"), (-0.48, ".mkv"),
                                            (0.2, ".mov")])
def test_shift_sign_and_overlap(tmp_path, impulse, offset, suffix):
    out = shift_audio(impulse, tmp_path / f"out{suffix}", offset)
    flash, click = impulse_times(out)
    assert flash - click == pytest.approx(offset, abs=1e-3)
    assert flash == pytest.approx(IMPULSE_SEC - max(0.0, -offset), abs=1e-3)  # the picture's timeline
    info = probe(out)
    assert info.audio.start_sec == 0.0 and info.video.start_sec == 0.0
    assert info.audio.duration_sec == pytest.approx(3.0 - abs(offset), abs=0.07)  # overlap (+ AAC padding)
    assert 3.0 - abs(offset) - 1e-3 <= info.video.duration_sec <= 3.0 - abs(offset) + 3 * FRAME
    first = read_clip(out, 0.0, 0.2).frames
    assert clip_indices(first, near=round(max(0.0, -offset) * 25))[0] == round(max(0.0, -offset) * 25)


def video_packets(path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]


def test_video_is_stream_copied(tmp_path, impulse):
    src = video_packets(impulse)
    ahead = video_packets(shift_audio(impulse, tmp_path / "a.mp4", 0.6))  # cut at the end only
    assert ahead == src[: len(ahead)]
    behind = video_packets(shift_audio(impulse, tmp_path / "b.mp4", -0.6))  # edit list hides 0.48-0.6 s
    assert behind == src[12: 12 + len(behind)]  # from the keyframe at 0.48 s (every 12 frames)
    on_key = video_packets(shift_audio(impulse, tmp_path / "c.mkv", -0.48))  # cut on a keyframe
    assert on_key == src[12: 12 + len(on_key)]


@pytest.mark.parametrize("offset, suffix", [(0.2, ".mp4"), (-0.2, ".mkv")])  # copied, re-encoded
def test_rotation_is_kept(tmp_path, offset, suffix):
    src = make_video(tmp_path / "rot.mp4", seconds=1.0, rotation=90, gop=10)
    out = shift_audio(src, tmp_path / f"out{suffix}", offset)
    assert probe(out).video.rotation == 90 and read_clip(out, 0, 0.5).frames.shape[1:3] == (64, 48)


def test_input_is_never_touched(tmp_path, impulse):
    digest = hashlib.sha256(impulse.read_bytes()).hexdigest()
    with pytest.raises(UsageError, match="must not be the input"):
        shift_audio(impulse, impulse, 0.4)
    assert main(["shift", str(impulse), str(impulse), "--offset", "0.4"]) == 2
    shift_audio(impulse, tmp_path / "x.mp4", 0.4)
    assert hashlib.sha256(impulse.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.mp4"]  # no temp file left


def test_unknown_output_format(tmp_path, impulse):
    with pytest.raises(UsageError, match="unknown container format"):
        shift_audio(impulse, tmp_path / "x.what", 0.2)
    assert not list(tmp_path.iterdir())


def test_offset_longer_than_the_file(tmp_path, impulse):
    with pytest.raises(TooShortError, match="no overlap"):
        shift_audio(impulse, tmp_path / "x.mp4", 3.5)
    assert not (tmp_path / "x.mp4").exists()


def test_audio_starting_late_keeps_its_offset(tmp_path):
    src = make_video(tmp_path / "late.mkv", seconds=3.0, audio_start_sec=0.5, flash_at=[1.6], click_at=[1.6])
    out = shift_audio(src, tmp_path / "out.mkv", 0.22)  # overlap: video 0.28 .. 2.78 s (re-encoded)
    flash, click = impulse_times(out)
    assert flash - click == pytest.approx(0.22, abs=1e-3) and flash == pytest.approx(1.32, abs=1e-3)


def test_no_audio(tmp_path):
    src = make_video(tmp_path / "v.mp4", seconds=1.0, audio=False)
    with pytest.raises(NoAudioStreamError):
        shift_audio(src, tmp_path / "x.mp4", 0.2)
    assert main(["shift", str(src), str(tmp_path / "x.mp4"), "--offset", "0.2"]) == 1
