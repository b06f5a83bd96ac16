"""Event detectors for synthetic clips, shared by the generators' tests: is a listed event audible
(and visible) where its list says, and where does the audio have sharp onsets. Definitions: the
docstring of tests/data/test_synthetic.py."""

from __future__ import annotations

import numpy as np

SR, FPS = 16000, 25.0


def audio_onsets(audio: np.ndarray, n: int = 320, hop: int = 160, rise: float = 8.0) -> list[float]:
    """Times (s, frame centres) of 20 ms frames whose energy above 150 Hz is > ``rise`` x the median
    of the previous 0.5 s."""
    frames = np.lib.stride_tricks.sliding_window_view(audio, n)[::hop] * np.hanning(n)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    energy = power[:, np.fft.rfftfreq(n, 1 / SR) >= 150].sum(1) + 1e-12
    ctx = int(0.5 * SR / hop)
    return [(k * hop + n / 2) / SR for k in range(1, len(energy))
            if energy[k] > rise * np.median(energy[max(0, k - ctx):k])]


def check_visible_and_audible(path: str, frames: np.ndarray, audio: np.ndarray, events: list[dict]) -> int:
    """Assert every listed event is audible, and visible when it has a picture; returns how many
    were visible. Windows shrink to half the gap to the next listed event."""
    env = np.sqrt(np.convolve(audio ** 2, np.ones(32) / 32, "same"))
    times = [e["t"] for e in events]
    visible = 0
    for e in events:
        t = e["t"]
        gap = min([abs(t - u) for u in times if u != t] + [0.8])
        before = env[max(0, int((t - min(0.3, gap)) * SR)):max(0, int((t - 0.02) * SR))]
        before = before if len(before) >= 160 else env[env <= np.percentile(env, 20)]   # at the very start
        pre, busy = np.median(before), np.percentile(before, 90)
        peak = env[int(t * SR):int((t + 0.05) * SR)].max()
        lo = max(0, int((t - 0.03) * SR))
        onset = (lo + np.argmax(env[lo:int((t + 0.05) * SR)] > (busy + peak) / 2)) / SR
        assert peak > 3 * pre and abs(onset - t) <= 0.010, (path, e, onset)
        if e["visual"] is None:
            continue
        x0, y0, x1, y1 = e["box"]
        h, w = frames.shape[1:3]
        box = frames[:, int(y0 * h):int(np.ceil(y1 * h)), int(x0 * w):int(np.ceil(x1 * w))]
        diff = np.abs(np.diff(box, axis=0)).mean(axis=(1, 2, 3))          # diff[k-1]: frames k-1 -> k
        half = min(0.4, gap / 2)
        k0, k1 = max(1, int(np.ceil((t - half) * FPS))), min(len(frames) - 1, int((t + half) * FPS))
        window = diff[k0 - 1:k1]
        k = k0 + int(np.argmax(window))
        assert abs((k - 0.5) - t * FPS) <= 1.0, (path, e, k)
        assert diff[k - 1] >= max(1.5 * np.median(window), 3.0), (path, e, diff[k - 1])
        visible += 1
    return visible


def state_breaks(layer: object, duration: float, scale: np.ndarray, h: float = 1e-3) -> list[float]:
    """Start times of the discontinuities (value or velocity) of a layer's drawn state, each
    component divided by ``scale`` first (positions by the frame size, colours by 255): a 1 ms step
    that jumps > 0.02 or whose second difference is > 2e-4; the first step of each cluster
    (clusters split by 50 ms of continuity)."""
    ts = np.arange(0.0, duration, h)
    s = np.stack([layer.state(t) for t in ts]) / scale
    flagged = np.union1d(np.flatnonzero(np.abs(np.diff(s, axis=0)).max(1) > 0.02),
                         np.flatnonzero(np.abs(np.diff(s, 2, axis=0)).max(1) > 2e-4))
    starts, last = [], -1e9
    for j in flagged:
        if ts[j] - last > 0.05:
            starts.append(float(ts[j]))
        last = ts[j]
    return starts
