"""Experiment (not in the package yet): can a small learnt lip scorer (avsync.models.lips.LipNet) learn
mouth-vs-sound timing from the TRAIN group's talking footage alone? Needs the speech extra.

    .venv/bin/python scripts/experiments/lipnet.py extract --data data/real --out data/mouths
    .venv/bin/python scripts/experiments/lipnet.py train --mouths data/mouths --out runs/lipnet/lipnet --steps 1500

``extract``: every TRAIN speech source (never DEV, never reserved) read once with the face finder:
each face track's mouth signal on the 25 fps clock, where it was seen, Silero VAD's speech mask and
the 16 kHz sound, cut to the source's span in the corpus manifest -> one .npz per source.
``train``: in-sync 4 s crops of a track where it is seen and someone speaks, the sound with 1 s
margins, offset_infonce over +-1 s with the other crops' sound as negatives; psychopy_testMovie and
the last fifth of every other source are held out for validation.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from avsync.data.real import read_corpus
from avsync.media.stream import read_streams
from avsync.models import save_model
from avsync.models.lagnet import LagNetConfig
from avsync.models.lips import LipNet
from avsync.train.losses import offset_infonce
from avsync.train.offset_module import other_clip_scores

FPS, SR = 25.0, 16000
CROP, MARGIN = 100, 25          # frames of picture; frames of sound each side
AUDIO = int((CROP + 2 * MARGIN) / FPS * SR)


def extract(args: argparse.Namespace) -> int:
    from avsync.perception.faces import FaceFinder
    from avsync.perception.vad import SileroVAD, speech_frames

    vad = SileroVAD()
    args.out.mkdir(parents=True, exist_ok=True)
    for clip in read_corpus(args.data, group="train"):
        if clip.content != "speech":
            continue
        finder = FaceFinder()
        s = read_streams(args.data / clip.path, on_frame=finder)
        lo, hi = int(clip.start_sec * FPS), int(min(clip.end_sec, s.duration_sec) * FPS)
        tracks = finder.faces.long_tracks(1.0)
        pairs = [t.series(len(s.frames)) for t in tracks]
        speech = speech_frames(vad.probability(s.audio), len(s.frames), FPS)
        np.savez(args.out / f"{Path(clip.path).stem}.npz",
                 series=np.stack([p[0] for p in pairs])[:, lo:hi], seen=np.stack([p[1] for p in pairs])[:, lo:hi],
                 speech=speech[lo:hi], audio=s.audio[int(lo / FPS * SR):int(hi / FPS * SR)])
        print(clip.path, len(tracks), "tracks", hi - lo, "frames", flush=True)
    return 0


def crops(mouths: Path, val: bool) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every usable (series, seen, audio) crop start of the train or the validation part."""
    out = []
    for f in sorted(mouths.glob("*.npz")):
        d = np.load(f)
        n = d["series"].shape[1]
        held = f.stem == "psychopy_testMovie"
        cut = n if held else int(0.8 * n)
        span = (0, cut) if not val else ((0, n) if held else (cut, n))
        if (not val and held) or span[1] - span[0] < CROP + 2 * MARGIN:
            continue
        for k in range(len(d["series"])):
            for start in range(span[0] + MARGIN, span[1] - CROP - MARGIN, 5):
                seen, speech = d["seen"][k, start:start + CROP], d["speech"][start:start + CROP]
                if seen.mean() >= 0.8 and speech.mean() >= 0.5:
                    a0 = int(round((start - MARGIN) / FPS * SR))
                    out.append((d["series"][k, start:start + CROP], seen, d["audio"][a0:a0 + AUDIO]))
    return out


def batch(items, idx, rng, augment: bool):
    series = torch.from_numpy(np.stack([items[i][0] for i in idx])).float()
    seen = torch.from_numpy(np.stack([items[i][1] for i in idx]))
    audio = torch.from_numpy(np.stack([items[i][2] for i in idx])).float()
    if augment:
        series = series * torch.from_numpy(rng.uniform(0.8, 1.25, (len(idx), 1, 3))).float()
        series = series + 0.01 * torch.randn_like(series)
        audio = audio * torch.from_numpy(rng.uniform(0.3, 3.0, (len(idx), 1))).float()
        audio = audio + 0.003 * torch.randn_like(audio) * torch.from_numpy(rng.uniform(0, 1, (len(idx), 1))).float()
    return series, seen, audio


def evaluate(model, items, offsets) -> float:
    """Share of validation crops whose evidence peaks within 0.1 s of 0."""
    model.eval()
    hits = []
    with torch.no_grad():
        for i in range(0, len(items), 32):
            s, w, a = batch(items, range(i, min(len(items), i + 32)), None, False)
            v, e = model.embed_mouth(s, w), model.embed_audio(a)
            sc = model.offset_scores(v, e, offsets, torch.full((len(s),), MARGIN))   # MARGIN read at call time
            _, ev = offset_infonce(sc, offsets, 2.0)
            hits += (offsets[ev.argmax(-1)].abs() * 0.01 <= 0.1).tolist()
    model.train()
    return float(np.mean(hits))


def fit(model: LipNet, next_batch, va, offsets: torch.Tensor, steps: int, out: Path, lr: float = 2e-3,
        every: int = 100) -> list[dict]:
    """Train ``model`` on ``next_batch()`` (series, seen, audio) with offset_infonce over ``offsets``, the other
    crops' sound as negatives; every ``every`` steps measure the validation crops and keep the best step's weights
    at ``out``. Returns the log."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    best, log, t0 = -1.0, [], time.time()
    for step in range(1, steps + 1):
        s, w, a = next_batch()
        v, e = model.embed_mouth(s, w), model.embed_audio(a)
        first = torch.full((len(s),), MARGIN)
        scores = model.offset_scores(v, e, offsets, first)
        loss, _ = offset_infonce(scores, offsets, 2.0, other_clip_scores(model, v, e, first), 0.5)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % every == 0 or step == steps:
            acc = evaluate(model, va, offsets)
            log.append({"step": step, "loss": float(loss.detach()), "val_acc_0.1s": acc, "sec": round(time.time() - t0, 1)})
            print(log[-1], flush=True)
            if acc > best:
                best = acc
                save_model(model, out)
    return log


def train(args: argparse.Namespace) -> int:
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    tr, va = crops(args.mouths, False), crops(args.mouths, True)
    print(f"{len(tr)} train crops, {len(va)} validation crops", flush=True)
    config = LagNetConfig(name=args.out.name, arch="lipnet", n_mels=args.mels, hidden=args.hidden, dim=args.dim,
                          video_dilations=(1, 2, 4, 8), audio_dilations=(1, 2, 4, 8),
                          description="speech expert: learnt lip scorer (mouth track vs sound)")
    model = LipNet(config)
    log = fit(model, lambda: batch(tr, rng.integers(0, len(tr), args.batch), rng, True), va, torch.arange(-100, 101),
              args.steps, args.out, args.lr, every=100)
    Path(str(args.out) + ".log.json").write_text(json.dumps({"command": " ".join(sys.argv), "log": log}, indent=1))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("extract")
    e.add_argument("--data", type=Path, required=True)
    e.add_argument("--out", type=Path, required=True)
    t = sub.add_parser("train")
    t.add_argument("--mouths", type=Path, required=True)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--steps", type=int, default=1500)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--hidden", type=int, default=32)
    t.add_argument("--dim", type=int, default=16)
    t.add_argument("--mels", type=int, default=40)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    return extract(args) if args.cmd == "extract" else train(args)


if __name__ == "__main__":
    sys.exit(main())
