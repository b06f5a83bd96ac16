"""Audio of any channel count (5.1 and 7.1 films, AAC or PCM) is read as mono and shifted without
crashing: PyAV lists 9 planes for a planar 8-channel frame, which killed the process before."""

import numpy as np
import pytest

from avsync.media import probe, read_clip, shift_audio, write_video


@pytest.mark.parametrize("channels, acodec, suffix", [(6, "aac", ".mp4"), (8, "aac", ".mp4"),
                                                      (6, "pcm_s16le", ".mkv"), (8, "pcm_s16le", ".mkv")])
def test_many_channels_read_as_mono_and_shift(tmp_path, channels, acodec, suffix):
    frames = np.zeros((50, 32, 32, 3), np.uint8)
    audio = np.zeros((channels, 32000), np.float32)
    audio[channels - 1, 8000:8200] = 0.8                    # a click on the last channel only, at 0.5 s
    src = write_video(tmp_path / f"src{suffix}", frames, audio, sample_rate=16000, acodec=acodec)
    assert probe(src).audio.channels == channels
    clip = read_clip(src, 0.0, 2.0)
    assert abs(int(clip.audio.abs().argmax()) - 8000) < 400  # AAC's encoder delay is compensated
    assert float(clip.audio.abs().max()) == pytest.approx(0.8 / channels, rel=0.3)   # the channels' mean
    out = shift_audio(src, tmp_path / f"shifted{suffix}", 0.3)
    assert probe(out).audio.channels == channels
    shifted = read_clip(out, 0.0, 1.5)
    assert abs(int(shifted.audio.abs().argmax()) - 3200) < 400   # 0.3 s ahead: heard at 0.2 s
