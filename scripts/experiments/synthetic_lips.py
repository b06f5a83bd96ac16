"""Experiment: does a lip scorer trained on many synthetic "speakers" as well as the TRAIN group's two real ones
read other people's lips? Synthetic mouth tracks are made from real speech recordings (the speech of the sound
banks: tuxpaint's spoken names, the cdp briefing's several speakers; never a DEV source): per "speaker" random
gains, a resting and a widest opening, an articulation lag (a first-order low-pass), a lead of the lips over the
voice drawn from 30-100 ms (natural speech; the real crops in the mix keep the model honest about it), lip
thickness, mouth width that narrows as the mouth opens, the mesh's jitter and slow pose drift, measured every
second frame and interpolated between (as the face finder's tracks are). Then the lipnet.py recipe, with half of
each batch synthetic. Measured as lipnet-v1 was: held-out real crops of the two TRAIN speakers, then
``speech_alone.py --lips runs/lipnet/lipnet-synth`` on the DEV speech cases.

    .venv/bin/python scripts/experiments/synthetic_lips.py --mouths data/mouths --audio data/real/audio \
        --out runs/lipnet/lipnet-synth --steps 3000
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
import lipnet  # noqa: E402
from lipnet import CROP, FPS, SR, batch, crops  # noqa: E402

from avsync.media.stream import read_sound  # noqa: E402
from avsync.models.lagnet import LagNetConfig  # noqa: E402
from avsync.models.lips import LipNet  # noqa: E402


def speech_bank(audio_dir: Path) -> np.ndarray:
    """Every speech recording of the sound banks, 16 kHz mono, joined with 0.3 s of silence between."""
    rows = list(csv.DictReader(open(audio_dir / "manifest.csv")))
    parts = []
    for r in rows:
        if r["category"] == "speech" or r["bank"] == "cdp-briefing":
            _, x = read_sound(audio_dir / r["path"], SR)
            if len(x):
                parts += [x / (np.abs(x).max() + 1e-6) * 0.5, np.zeros(int(0.3 * SR), np.float32)]
    return np.concatenate(parts).astype(np.float32)


def envelope(audio: np.ndarray) -> np.ndarray:
    """300-3000 Hz log energy on the 25 fps clock (mean over each frame's 640 samples)."""
    x = torch.from_numpy(audio)
    spec = torch.stft(x, 512, 160, window=torch.hann_window(512), return_complex=True).abs() ** 2
    f = torch.linspace(0, SR / 2, spec.shape[0])
    e = torch.log(spec[(f >= 300) & (f <= 3000)].mean(0) + 1e-8).numpy()
    n = len(e) // 4
    return e[:4 * n].reshape(n, 4).mean(1)


def synthetic_track(env: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(series (T, 3), seen (T,)) of one synthetic speaker saying what ``env`` (25 fps) says."""
    t = len(env)
    active = env > np.percentile(env, 25) + rng.uniform(1.0, 3.0)
    z = (env - env[active].mean()) / (env[active].std() + 1e-6) if active.any() else np.zeros(t)
    target = active / (1 + np.exp(-np.clip(rng.uniform(0.8, 2.0) * z + rng.uniform(-0.5, 1.0), -30, 30)))
    rest, wide = rng.uniform(0.0, 0.05), rng.uniform(0.2, 0.6)
    return articulate(rest + wide * target, rng)


def articulate(target: np.ndarray, rng: np.random.Generator, rounding: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """(series (T, 3), seen (T,)) of a mouth whose inner-lip opening aims at ``target`` (25 fps, eye units):
    a first-order articulation lag, the lips ahead of the voice, the outer opening and the width that go with
    it (``rounding`` >= 0 narrows the width further: rounded vowels), the mesh's jitter and slow drift, measured
    every second frame and interpolated between."""
    t = len(target)
    alpha = 1 - np.exp(-40.0 / rng.uniform(15, 60))                 # articulation: a low-pass of 15-60 ms
    lips = np.empty((t, 2))
    acc = np.array([target[0], 0.0 if rounding is None else rounding[0]])
    goal = np.stack([target, np.zeros(t) if rounding is None else rounding], 1)
    for i in range(t):
        acc += alpha * (goal[i] - acc)
        lips[i] = acc
    lead = rng.uniform(0.03, 0.10) * FPS                            # the lips move before the voice
    inner, narrow = (np.interp(np.arange(t) + lead, np.arange(t), lips[:, j]) for j in range(2))
    outer = inner + rng.uniform(0.15, 0.35) + rng.uniform(0.1, 0.4) * inner
    width = rng.uniform(0.85, 1.2) - rng.uniform(0.0, 0.3) * inner - narrow
    series = np.stack([inner, outer, width], 1)
    drift = np.cumsum(rng.normal(0, 0.003, (t, 3)), 0)
    series = series * (1 + drift) + rng.normal(0, rng.uniform(0.005, 0.04), (t, 3))
    phase = int(rng.integers(0, 2))                                 # measured every second frame, interpolated
    ks = np.arange(phase, t, 2)
    series = np.stack([np.interp(np.arange(t), ks, series[ks, j]) for j in range(3)], 1)
    return series.astype(np.float32), np.ones(t, bool)


def synthetic_item(bank: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One crop as lipnet.py's crops are: (series, seen) of CROP frames, sound with MARGIN frames each side."""
    while True:
        a0 = int(rng.integers(0, len(bank) - lipnet.AUDIO))
        audio = bank[a0:a0 + lipnet.AUDIO]
        env = envelope(audio)
        series, seen = synthetic_track(env, rng)
        m = lipnet.MARGIN
        s = series[m:m + CROP]
        if len(s) == CROP and (env[m:m + CROP] > np.percentile(env, 25) + 2).mean() > 0.4:
            return s, seen[m:m + CROP], audio


def training_parser(description: str) -> argparse.ArgumentParser:
    """The options every mixed (synthetic + real) lip scorer recipe takes."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--mouths", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--synthetic", type=float, default=0.5, help="share of each batch that is synthetic")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reach", type=float, default=1.0, help="offsets trained on, +- seconds (lipnet-v1: 1)")
    return ap


def set_reach(reach: float) -> None:
    """Crops carry sound for offsets of +-``reach`` s around them (before any crop is made)."""
    lipnet.MARGIN = int(round(reach * FPS))
    lipnet.AUDIO = int((CROP + 2 * lipnet.MARGIN) / FPS * SR)


def train_mixed(args: argparse.Namespace, synthetic, description: str) -> None:
    """lipnet.py's recipe with ``args.synthetic`` of each batch from ``synthetic(rng)`` and the rest real TRAIN
    crops; the best validation step's weights at ``args.out``, the log beside them."""
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    tr, va = crops(args.mouths, False), crops(args.mouths, True)
    print(f"{len(tr)} real train crops, {len(va)} validation crops", flush=True)
    config = LagNetConfig(name=args.out.name, arch="lipnet", n_mels=40, hidden=32, dim=16,
                          video_dilations=(1, 2, 4, 8), audio_dilations=(1, 2, 4, 8), description=description)
    model = LipNet(config)
    steps = int(round(args.reach * 100))
    n_syn = int(round(args.batch * args.synthetic))

    def next_batch():
        items = [synthetic(rng) for _ in range(n_syn)] + [tr[i] for i in rng.integers(0, len(tr), args.batch - n_syn)]
        return batch(items, range(len(items)), rng, True)

    log = lipnet.fit(model, next_batch, va, torch.arange(-steps, steps + 1), args.steps, args.out, every=250)
    Path(str(args.out) + ".log.json").write_text(json.dumps({"command": " ".join(sys.argv), "log": log}, indent=1))


def main() -> int:
    """Train (see the module docstring)."""
    ap = training_parser(__doc__.splitlines()[0])
    ap.add_argument("--audio", type=Path, required=True)
    args = ap.parse_args()
    set_reach(args.reach)
    bank = speech_bank(args.audio)
    print(f"speech bank {len(bank) / SR:.0f} s", flush=True)
    train_mixed(args, lambda rng: synthetic_item(bank, rng),
                "speech expert: learnt lip scorer, real TRAIN + synthetic speakers (experiment)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
