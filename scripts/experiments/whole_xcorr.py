"""Experiment: the reference's whole-file correlation (engine-v2.md): onset strength (log spectral flux)
against the busiest of 8 x 8 cells' motion energy, one normalised cross-correlation over the whole file,
lags +-R s. Prints the peak per case file against its truth.

    .venv/bin/python scripts/experiments/whole_xcorr.py data/real/cases/v1/*-{whole,beyond,original}-00.mp4
"""
import sys

import numpy as np
import torch

from avsync.media.stream import read_streams

FPS = 25.0


def onset(audio: np.ndarray, hop: int = 160) -> np.ndarray:
    """Positive log spectral flux every 10 ms (16 kHz sound)."""
    x = torch.from_numpy(audio)
    mag = torch.stft(x, 512, hop, window=torch.hann_window(512), return_complex=True).abs()
    lm = torch.log1p(100 * mag)
    flux = torch.relu(lm[:, 1:] - lm[:, :-1]).sum(0).numpy()
    flux = np.concatenate([[0.0], flux])
    return flux


def motion(frames: np.ndarray, grid: int = 8) -> np.ndarray:
    """Mean |difference| per cell of a grid x grid split, max over cells, per frame."""
    t, h, w = frames.shape
    out = np.zeros(t)
    for i in range(1, t):
        d = np.abs(frames[i].astype(np.int16) - frames[i - 1].astype(np.int16)).astype(np.float32)
        hh, ww = h // grid * grid, w // grid * grid
        cells = d[:hh, :ww].reshape(grid, hh // grid, grid, ww // grid).mean((1, 3))
        out[i] = cells.max()
    return out


def ncc(a: np.ndarray, m: np.ndarray, max_lag: int, min_overlap: int) -> np.ndarray:
    """Pearson r of a(t) with m(t + lag) for lag in -max_lag..max_lag (a and m on the same clock)."""
    out = np.full(2 * max_lag + 1, np.nan)
    for i, lag in enumerate(range(-max_lag, max_lag + 1)):
        lo, hi = max(0, -lag), min(len(a), len(m) - lag)
        if hi - lo < min_overlap:
            continue
        x, y = a[lo:hi], m[lo + lag:hi + lag]
        x, y = x - x.mean(), y - y.mean()
        den = np.sqrt((x * x).sum() * (y * y).sum())
        out[i] = (x * y).sum() / den if den > 0 else np.nan
    return out


def main(paths):
    for p in paths:
        s = read_streams(p)
        mo = motion(s.frames)
        on = onset(s.audio)                                       # 100 Hz
        mo100 = np.repeat(mo, 4)[:len(on)]                        # frame motion held over its 4 steps
        on = on[:len(mo100)]
        max_lag = int(min(5.0, s.duration_sec / 2) * 100)
        r = ncc(on, mo100, max_lag, len(on) // 2)
        k = int(np.nanargmax(r))
        lag = (k - max_lag) / 100.0        # audio at t meets motion at t + lag: audio ahead by lag
        print(f"{p.split('/')[-1]:50s} peak {lag:+.2f} s r={r[k]:.3f} (2nd-best far peak r=%.3f)" %
              max(r[j] for j in range(len(r)) if abs(j - k) > 20 and not np.isnan(r[j])))


if __name__ == "__main__":
    main(sys.argv[1:])
