"""Sounds for the synthetic datasets, all numpy: speech-like babble, short event sounds, ambience.

Every function returns float32 mono audio at ``sr`` Hz. Event sounds start at sample 0 with an
attack of at most 2 ms, so the listed event time is the audible onset.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

SOUNDS = ("impact", "click", "blip", "noise", "bark")
_HOP = 128  # STFT hop of the formant filter (8 ms at 16 kHz)


def _ramp(n: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(np.linspace(0, math.pi, max(n, 1), dtype=np.float32))


def _smooth(x: np.ndarray, n: int) -> np.ndarray:
    if n <= 1:
        return x
    k = np.hanning(n + 2)[1:-1]
    return np.convolve(x, k / k.sum(), mode="same").astype(np.float32)


def coloured_noise(rng: np.random.Generator, n: int, sr: int, tilt_db_oct: float = 0.0,
                   band: tuple[float, float] | None = None) -> np.ndarray:
    """Gaussian noise of unit RMS with a spectral slope of ``tilt_db_oct`` dB/octave (0 white,
    -3 pink, -6 brown), optionally limited to ``band`` (lo, hi) Hz."""
    spec = np.fft.rfft(rng.standard_normal(n).astype(np.float32))
    f = np.fft.rfftfreq(n, 1 / sr)
    gain = (np.maximum(f, 20.0) / 1000.0) ** (tilt_db_oct / 6.02)
    if band is not None:
        lo, hi = band
        gain = gain * np.exp(-0.5 * (np.log2(np.maximum(f, 1) / math.sqrt(lo * hi)) / max(math.log2(hi / lo) / 2, 0.2)) ** 4)
    x = np.fft.irfft(spec * gain, n).astype(np.float32)
    return x / max(float(np.sqrt(np.mean(x ** 2))), 1e-9)


# --- ambience -------------------------------------------------------------------------------------

def ambience(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Stationary background sound of unit RMS: coloured noise, sometimes with a steady hum."""
    x = coloured_noise(rng, n, sr, float(rng.uniform(-7, 0)))
    if rng.random() < 0.4:
        t = np.arange(n, dtype=np.float32) / sr
        f0 = rng.uniform(50, 300)
        hum = sum(np.sin(2 * math.pi * f0 * k * t + rng.uniform(0, 6.3)) / k for k in range(1, 4))
        x = x + hum.astype(np.float32) * rng.uniform(0.2, 1.0)
    return (x / max(float(np.sqrt(np.mean(x ** 2))), 1e-9)).astype(np.float32)


# --- short event sounds ---------------------------------------------------------------------------

def event_sound(rng: np.random.Generator, kind: str, sr: int) -> np.ndarray:
    """One short sound of ``kind`` (see SOUNDS) starting at sample 0, RMS 1 over its first 50 ms."""
    if kind == "impact":      # a struck object: a noise transient exciting a few damped resonances
        n = int(sr * rng.uniform(0.15, 0.45))
        t = np.arange(n, dtype=np.float32) / sr
        x = np.zeros(n, np.float32)
        for _ in range(int(rng.integers(2, 6))):
            f, tau = rng.uniform(90, 3500), rng.uniform(0.02, 0.12)
            x += rng.uniform(0.3, 1) * np.sin(2 * math.pi * f * t + rng.uniform(0, 6.3)) * np.exp(-t / tau)
        burst = coloured_noise(rng, n, sr, rng.uniform(-4, 2)) * np.exp(-t / rng.uniform(0.003, 0.015))
        x = x + burst * rng.uniform(0.5, 2.0)
    elif kind == "click":     # a very short broadband tick
        n = int(sr * rng.uniform(0.004, 0.02))
        x = coloured_noise(rng, n, sr, rng.uniform(-3, 3)) * np.exp(-np.arange(n) / (n / 4))
    elif kind == "blip":      # a tonal beep, sometimes gliding, sine to square-ish timbre
        n = int(sr * rng.uniform(0.05, 0.3))
        t = np.arange(n, dtype=np.float32) / sr
        f = rng.uniform(250, 2500) * np.exp(rng.uniform(-1, 1) * t / t[-1])
        phase = 2 * math.pi * np.cumsum(f) / sr
        x = np.tanh(rng.uniform(0.5, 6) * np.sin(phase)).astype(np.float32)
        x *= np.exp(-t / rng.uniform(0.03, 1.0)) if rng.random() < 0.5 else 1.0
    elif kind == "noise":     # a band of noise: a hiss, a thud or a crash
        n = int(sr * rng.uniform(0.05, 0.4))
        lo = rng.uniform(80, 3000)
        x = coloured_noise(rng, n, sr, 0.0, (lo, min(lo * rng.uniform(1.5, 6), sr * 0.45)))
        t = np.arange(n, dtype=np.float32) / sr
        x *= np.exp(-t / rng.uniform(0.02, 0.3)) if rng.random() < 0.6 else 1.0
    elif kind == "bark":      # a voiced burst with a falling pitch: an animal call
        n = int(sr * rng.uniform(0.1, 0.3))
        t = np.arange(n, dtype=np.float32) / sr
        f0 = rng.uniform(150, 700) * np.exp(-rng.uniform(0, 1.5) * t / t[-1])
        phase = 2 * math.pi * np.cumsum(f0) / sr
        x = sum(np.sin(k * phase) / k ** rng.uniform(0.5, 1.5) for k in range(1, 9)).astype(np.float32)
        x += 0.3 * coloured_noise(rng, n, sr) * rng.random()
        x *= np.exp(-t / rng.uniform(0.05, 0.2))
    else:
        raise ValueError(f"unknown sound kind {kind!r}")
    x = x.astype(np.float32)
    x[: int(sr * 0.002)] *= _ramp(int(sr * 0.002))          # 2 ms attack: no click before the onset
    tail = min(len(x) // 3, int(sr * 0.01))
    x[len(x) - tail:] *= _ramp(tail)[::-1]
    head = x[: int(sr * 0.05)]
    return x / max(float(np.sqrt(np.mean(head ** 2))), 1e-9)


def place(track: np.ndarray, sound: np.ndarray, t: float, sr: int, gain: float) -> None:
    """Add ``sound`` * ``gain`` into ``track`` starting at ``t`` seconds (in place, clipped at the end)."""
    i = int(round(t * sr))
    n = min(len(sound), len(track) - i)
    if n > 0:
        track[i:i + n] += sound[:n] * gain


# --- speech-like babble ---------------------------------------------------------------------------

def syllable_envelopes(rng: np.random.Generator, n: int, sr: int,
                       active: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voiced amplitude, fricative amplitude and first-formant contour (per sample) of an irregular
    syllable sequence (3-7 syllables/s, pauses) inside the ``active`` (start, end) intervals."""
    voiced, fric, f1 = np.zeros(n, np.float32), np.zeros(n, np.float32), np.full(n, 500.0, np.float32)
    for start, end in active:
        t = start + rng.uniform(0, 0.15)
        while t < end - 0.1:
            if rng.random() < 0.12:                                   # a pause
                t += rng.uniform(0.15, 0.6)
                continue
            if rng.random() < 0.35:                                   # a fricative or a plosive first
                d = rng.uniform(0.03, 0.12) if rng.random() < 0.7 else rng.uniform(0.008, 0.02)
                i0, i1 = int(t * sr), min(int((t + d) * sr), n)
                fric[i0:i1] = np.maximum(fric[i0:i1], rng.uniform(0.3, 0.8) * np.hanning(i1 - i0 + 2)[1:-1][: i1 - i0])
                t += d * rng.uniform(0.6, 1.0)
            d = rng.uniform(0.09, 0.3)
            i0, i1 = int(t * sr), min(int((t + d) * sr), n)
            if i1 - i0 > 8:
                m = i1 - i0
                att, rel = int(m * rng.uniform(0.15, 0.4)), int(m * rng.uniform(0.2, 0.5))
                env = np.ones(m, np.float32)
                env[:att] = _ramp(att)
                env[m - rel:] = _ramp(rel)[::-1]
                voiced[i0:i1] = np.maximum(voiced[i0:i1], env * rng.uniform(0.45, 1.0))
                f1[i0:i1] = rng.uniform(280, 850)
            t += d + rng.uniform(0.0, 0.08)
    return voiced, fric, _smooth(f1, int(sr * 0.04))


def _formant_gain(freqs: np.ndarray, formants: np.ndarray, widths: np.ndarray) -> np.ndarray:
    # freqs (F,), formants/widths (K, T) -> (F, T): sum of resonance peaks, -12 dB/oct tilt
    d = (freqs[:, None, None] - formants[None]) / widths[None]
    peaks = (1.0 / (1.0 + d ** 2)).sum(axis=1)
    return peaks * (1.0 / (1.0 + (freqs[:, None] / 500.0) ** 2)) ** 0.5 + 0.01


def speech(rng: np.random.Generator, n: int, sr: int,
           active: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Speech-like babble of ``n`` samples: a harmonic source with a drifting, jittered pitch,
    filtered by moving formants, amplitude-modulated at syllable rate, plus fricative noise.
    Returns (audio with peak-normalised level, mouth opening per sample in 0..1)."""
    voiced, fric, f1 = syllable_envelopes(rng, n, sr, active)
    t = np.arange(n, dtype=np.float32) / sr
    base = rng.uniform(85, 260)
    wander = _smooth(rng.standard_normal(n // 400 + 2).astype(np.float32), 5)
    f0 = base * np.exp(0.15 * np.interp(t, np.linspace(0, t[-1], len(wander)), wander) - 0.1 * t / max(t[-1], 1e-6))
    f0 = f0 * (1 + 0.01 * rng.standard_normal(n).astype(np.float32))
    phase = np.mod(np.cumsum(f0 / sr), 1.0)
    source = (1 - 2 * phase) + 0.05 * rng.standard_normal(n).astype(np.float32)   # sawtooth-like pulses

    _, _, spec = signal.stft(source, nperseg=4 * _HOP, noverlap=3 * _HOP)
    frames = spec.shape[1]
    ft = np.clip(np.arange(frames) * _HOP, 0, n - 1)
    formants = np.stack([f1[ft], rng.uniform(0.9, 1.1) * (900 + 1.6 * f1[ft] * rng.uniform(0.8, 1.6)),
                         np.full(frames, rng.uniform(2300, 3100))])
    widths = np.array([[70.0], [110.0], [170.0]]) * rng.uniform(0.8, 1.4)
    freqs = np.fft.rfftfreq(4 * _HOP, 1 / sr)
    _, y = signal.istft(spec * _formant_gain(freqs, formants, widths), nperseg=4 * _HOP, noverlap=3 * _HOP)
    y = y[:n].astype(np.float32)
    y /= max(float(np.sqrt(np.mean(y ** 2))), 1e-9)
    hiss = coloured_noise(rng, n, sr, 0.0, (rng.uniform(2500, 4000), min(7500, sr * 0.45)))
    audio = y * voiced + hiss * fric * rng.uniform(0.3, 0.7)
    loud = np.sqrt(_smooth(audio ** 2, int(sr * 0.03)))                 # the voice's own envelope
    opening = (loud / max(float(np.percentile(loud, 97)), 1e-9)) ** 0.7 * (0.7 + 0.3 * (f1 - 280) / 570)
    return audio.astype(np.float32), np.clip(opening, 0, 1).astype(np.float32)


def turns(rng: np.random.Generator, duration: float, speakers: int) -> list[list[tuple[float, float]]]:
    """Who speaks when: one talker throughout, or several taking turns of 1-3.5 s (short overlaps)."""
    if speakers == 1:
        return [[(0.0, duration)]]
    out: list[list[tuple[float, float]]] = [[] for _ in range(speakers)]
    t, who = 0.0, int(rng.integers(speakers))
    while t < duration:
        d = rng.uniform(1.0, 3.5)
        out[who].append((max(t - rng.uniform(0, 0.3), 0.0), min(t + d, duration)))
        t += d
        who = (who + int(rng.integers(1, speakers))) % speakers
    return out
