"""Speech activity: Silero VAD hears formant-synthesised vowels as speech and silence, a tone and noise
as none; the per-frame mask is widened as documented."""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from avsync.perception.vad import speech_frames, speech_near

SR = 16000
VOWELS = {"a": [(730, 90), (1090, 110), (2440, 170)], "i": [(270, 60), (2290, 100), (3010, 150)],
          "u": [(300, 60), (870, 90), (2240, 150)], "e": [(530, 70), (1840, 100), (2480, 150)],
          "o": [(570, 70), (840, 90), (2410, 150)]}


def _resonator(x: np.ndarray, freq: float, bandwidth: float) -> np.ndarray:
    r, theta = np.exp(-np.pi * bandwidth / SR), 2 * np.pi * freq / SR
    return lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], x)


def vowels(seconds: float, seed: int = 0) -> np.ndarray:
    """Syllables of 0.15-0.3 s: a falling glottal pulse train through three vowel formants, short pauses."""
    rng = np.random.default_rng(seed)
    out, k = [], 0
    while sum(len(o) for o in out) < seconds * SR:
        n = int(SR * rng.uniform(0.15, 0.3))
        f0 = rng.uniform(100, 140) * (1 - 0.2 * np.arange(n) / n)
        pulses = (np.diff(np.floor(np.cumsum(f0 / SR)), prepend=0) > 0).astype(float)
        source = lfilter([1], [1, -0.97], pulses) + 0.02 * rng.standard_normal(n)
        out.append(sum(_resonator(source, f, b) for f, b in VOWELS["aiueo"[k % 5]]) * np.hanning(n))
        out.append(0.003 * rng.standard_normal(int(SR * rng.uniform(0.03, 0.1))))
        k += 1
    x = np.concatenate(out)[: int(seconds * SR)]
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def test_silero_hears_vowels_and_not_silence_tones_or_noise():
    from avsync.perception.vad import SileroVAD

    vad = SileroVAD()
    t = np.arange(4 * SR) / SR
    assert (vad.probability(vowels(4.0)) >= 0.5).mean() > 0.8
    for quiet in (np.zeros(4 * SR, np.float32), (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),
                  (0.1 * np.random.default_rng(1).standard_normal(4 * SR)).astype(np.float32)):
        assert vad.probability(quiet).max() < 0.3
    assert len(vad.probability(np.zeros(SR, np.float32))) == SR // 512


def test_speech_frames_are_widened_by_the_pad():
    prob = np.zeros(100, np.float32)            # 3.2 s of 32 ms chunks
    prob[50] = 0.9                              # speech at 1.60-1.632 s
    mask = speech_frames(prob, 80, 25.0, pad_sec=0.2)
    frames = np.flatnonzero(mask)
    assert frames[0] == 40 - 5 and frames[-1] == 40 + 5          # frame 40 = 1.6 s, +-0.2 s = 5 frames
    assert not speech_frames(np.zeros(100), 80, 25.0).any()


def test_speech_near_is_a_function_of_file_time():
    prob = np.zeros(100, np.float32)
    prob[50] = 0.9                              # chunk 50: 1.60-1.632 s after the first sample
    near = speech_near(prob, first_sec=10.0, pad_sec=0.2)
    assert near(11.6) and near(11.45) and not near(11.2) and not near(1.6) and not near(20.0)
