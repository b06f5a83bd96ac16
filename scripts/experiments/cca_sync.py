"""Experiment: per-file canonical correlation (nothing trained beforehand) on the real benchmark's cases.

For every candidate lag, the file's own frames teach which picture cells and which sound bands move
together (a regularised CCA between per-cell motion and per-band onset strength), and the lag is scored by
how well that holds on frames it was not fitted on (K contiguous folds). Prints the best lag per case and
a summary per kind of case (best guesses within 0.1 / 0.25 s).

    .venv/bin/python scripts/experiments/cca_sync.py --data data/real --group dev [--height 64] [--out r.json]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import numpy as np
import torch

from avsync.data.real import read_corpus
from avsync.media.stream import read_streams
from avsync.real_dev import VERSION, build_cases

FPS = 25.0
SR = 16000
HOP = 160           # 10 ms


def cell_motion(frames: np.ndarray, rows: int) -> np.ndarray:
    """Grey frames (T, H, W) -> log mean |difference| per cell of a grid with ``rows`` rows (square cells), (T, P)."""
    x = torch.from_numpy(frames).float()
    d = torch.cat([torch.zeros_like(x[:1]), (x[1:] - x[:-1]).abs()])
    cols = max(1, round(rows * x.shape[2] / x.shape[1]))
    cells = torch.nn.functional.adaptive_avg_pool2d(d[:, None], (rows, cols)).flatten(1)
    return torch.log1p(cells).numpy()


def band_onsets(audio: np.ndarray, n_frames: int, bands: int) -> np.ndarray:
    """16 kHz sound -> positive log spectral flux in ``bands`` log-spaced bands, summed over each frame's 40 ms, (T, Q)."""
    x = torch.from_numpy(audio).float()
    mag = torch.stft(x, 512, HOP, window=torch.hann_window(512), return_complex=True).abs()
    lm = torch.log1p(100 * mag)                                # (F, S)
    flux = torch.relu(lm[:, 1:] - lm[:, :-1])
    flux = torch.cat([torch.zeros_like(flux[:, :1]), flux], 1)
    freqs = torch.linspace(0, SR / 2, mag.shape[0])
    edges = np.geomspace(80, 8000, bands + 1) if bands > 1 else np.array([0.0, 8001.0])
    fb = torch.stack([((freqs >= lo) & (freqs < hi)).float() for lo, hi in zip(edges[:-1], edges[1:])])
    on = (fb @ flux).T.numpy()                                 # (S, Q), step s covers s*10 ms
    steps = int(round(SR / HOP / FPS))
    n = min(n_frames, len(on) // steps)
    out = on[: n * steps].reshape(n, steps, -1).sum(1)
    return np.vstack([out, np.zeros((n_frames - n, out.shape[1]))])


def _standardise(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(0)) / (x.std(0) + 1e-6)


def _whiten(c: np.ndarray, lam: float) -> np.ndarray:
    w, v = np.linalg.eigh(c + lam * np.trace(c) / len(c) * np.eye(len(c)))
    return v @ np.diag(1 / np.sqrt(np.maximum(w, 1e-9))) @ v.T


def cv_cca(v: np.ndarray, a: np.ndarray, lags: range, folds: int, lam: float, comps: int) -> np.ndarray:
    """Held-out canonical correlation (sum of the first ``comps``) of v(t) with a(t + lag) per lag."""
    t = len(v)
    fold = np.arange(t) * folds // t
    out = np.full(len(lags), np.nan)
    for i, lag in enumerate(lags):
        lo, hi = max(0, -lag), min(t, t - lag)
        x, y, f = v[lo:hi], a[lo + lag:hi + lag], fold[lo:hi]
        score = 0.0
        for k in range(folds):
            tr, te = f != k, f == k
            if te.sum() < 3 or tr.sum() < 10:
                continue
            xm, ym = x[tr].mean(0), y[tr].mean(0)
            xt, yt = x[tr] - xm, y[tr] - ym
            wx, wy = _whiten(xt.T @ xt / len(xt), lam), _whiten(yt.T @ yt / len(yt), lam)
            u, _, vt = np.linalg.svd(wx @ (xt.T @ yt / len(xt)) @ wy)
            px, py = (x[te] - xm) @ wx @ u[:, :comps], (y[te] - ym) @ wy @ vt.T[:, :comps]
            px, py = px - px.mean(0), py - py.mean(0)
            r = (px * py).sum(0) / np.sqrt((px * px).sum(0) * (py * py).sum(0) + 1e-12)
            score += te.sum() * r.sum()
        out[i] = score / len(x)
    return out


def best_lag(path: Path, height: int, rows: int, bands: int, folds: int, lam: float, comps: int,
             max_sec: float) -> tuple[float, float, float]:
    """(best lag in seconds, its score, the best score more than 0.25 s from it) for one file."""
    s = read_streams(path, FPS, height, 4 * height, SR)
    v = _standardise(cell_motion(s.frames, rows))
    a = _standardise(band_onsets(s.audio, len(v), bands))
    reach = int(min(max_sec, max(0.0, s.duration_sec - max(0.5 * s.duration_sec, 2.0))) * FPS)
    lags = range(-reach, reach + 1)
    # a(t + lag) with v(t): the sound of frame t heard lag frames later -> the audio is behind; offset = -lag
    sc = cv_cca(v, a, lags, folds, lam, comps)
    k = int(np.nanargmax(sc))
    far = [sc[j] for j in range(len(sc)) if abs(j - k) > 0.25 * FPS]
    return -lags[k] / FPS, float(sc[k]), float(max(far)) if far else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--group", default="dev")
    ap.add_argument("--height", type=int, default=64)
    ap.add_argument("--rows", type=int, default=8)
    ap.add_argument("--bands", type=int, default=16)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--lam", type=float, default=0.1)
    ap.add_argument("--comps", type=int, default=1)
    ap.add_argument("--kinds", nargs="+", default=("crop5", "crop8", "whole", "beyond", "original"))
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    cases = [c for c in build_cases(read_corpus(args.data)) if c.group == args.group and c.kind in args.kinds]
    rows, table = [], collections.defaultdict(list)
    for case in cases:
        path = args.data / "cases" / f"v{VERSION}" / f"{case.id}.mp4"
        max_sec = 5.0 if case.kind in ("whole", "beyond", "original") else 2.5
        try:
            lag, score, far = best_lag(path, args.height, args.rows, args.bands, args.folds, args.lam, args.comps, max_sec)
        except Exception as e:  # noqa: BLE001 - an experiment: report and go on
            print(case.id, "failed:", e, file=sys.stderr)
            continue
        err = abs(lag - case.offset_sec)
        rows.append({"case": case.id, "kind": case.kind, "content": case.content, "truth": case.offset_sec,
                     "guess": lag, "score": score, "far": far, "err": err})
        table[case.kind].append(err)
        table[case.content].append(err)
        print(f"{case.id:55s} truth {case.offset_sec:+.2f} guess {lag:+.2f} score {score:.3f} far {far:.3f}", flush=True)
    summary = {k: f"{sum(e <= 0.1 for e in v)}/{sum(e <= 0.25 for e in v)}/{len(v)}" for k, v in sorted(table.items())}
    print("within 0.1 / within 0.25 / cases:", summary)
    if args.out:
        args.out.write_text(json.dumps({"command": " ".join(sys.argv), "summary": summary, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
