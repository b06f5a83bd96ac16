"""Parts of a check timed against what they replaced, alternated in one process (this machine is shared and
noisy: a ratio of medians, taken round by round, means more than any single time).

* the sound: decoding alone, resampling frame by frame then the channels' mean (the reading before session 9),
  and ``mono_chunks`` (the resampler's output regrouped into ``AUDIO_CHUNK`` samples);
* the default model's visual encoder with its ``k x 1 x 1`` convolutions as 2D ones (``TemporalConv3d``) and
  through ``nn.Conv3d`` (torch's slow unfolding path), one batch of 8 windows, one torch thread;
* one training step of the same architecture (batch 16, cross-entropy, Adam, two torch threads), either way.

    .venv/bin/python benchmarks/check_parts.py benchmarks/.cache/check_240s_854x480.mp4 [--rounds 5]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from typing import Callable

import av
import numpy as np
import torch
from torch import nn

import avsync
from avsync.media.probe import audio_stream
from avsync.media.reader import mono_chunks
from avsync.models.encoders import TemporalConv3d


def sound_decode_only(path: str) -> None:
    """Every audio frame decoded, nothing else."""
    with av.open(path) as c:
        for _ in c.decode(audio_stream(c)):
            pass


def sound_frame_by_frame(path: str, rate: int = 16000) -> None:
    """The reading before session 9: one resampled chunk and one mean per decoded frame."""
    with av.open(path) as c:
        resampler = av.AudioResampler(format="flt", rate=rate)
        for frame in itertools.chain(c.decode(audio_stream(c)), [None]):
            for out in resampler.resample(frame):
                out.to_ndarray().reshape(-1, len(out.layout.channels)).mean(1, dtype=np.float32)


def sound_mono_chunks(path: str, rate: int = 16000) -> None:
    """What the readers use now."""
    with av.open(path) as c:
        for _ in mono_chunks(c, audio_stream(c), rate):
            pass


def alternate(steps: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds of each step, the steps run one after the other in every round."""
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            t = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - t)
    return {k: round(statistics.median(v), 4) for k, v in times.items()}


def either_way(label: str, body: Callable[[], object]) -> dict[str, Callable[[], object]]:
    """``body`` as two steps: with ``TemporalConv3d`` as it is, and with its convolutions through ``nn.Conv3d``."""
    fast = TemporalConv3d.forward

    def run(forward) -> Callable[[], object]:
        def step() -> object:
            TemporalConv3d.forward = forward
            try:
                return body()
            finally:
                TemporalConv3d.forward = fast
        return step

    run(fast)()     # warm up
    return {f"{label}, TemporalConv3d": run(fast), f"{label}, nn.Conv3d": run(lambda self, v: nn.Conv3d.forward(self, v))}


def visual_encoder_steps(model: nn.Module) -> dict[str, Callable[[], object]]:
    """``model``'s visual encoder on one batch of 8 windows, its temporal convolutions either way."""
    c = model.config
    x = torch.rand(8, 6 if c.visual_diff else 3, c.num_frames, c.frame_size, c.frame_size)

    def body() -> object:
        with torch.inference_mode():
            return model.visual(x)

    return either_way("visual encoder", body)


def training_step_steps(config_name: str) -> dict[str, Callable[[], object]]:
    """One optimiser step of a fresh model of the named config on a random batch of 16, either way."""
    from avsync.models import create

    model = create(config_name).train()
    c = model.config
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    v, a = torch.rand(16, c.num_frames, 3, c.frame_size, c.frame_size), torch.randn(16, c.num_samples)
    y = torch.randint(0, c.grid.num_classes, (16,))

    def body() -> object:
        loss = nn.functional.cross_entropy(model(v, a).logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return either_way("training step", body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", help="a file with an audio track (the 4 min file of check_speed.py)")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    sound = alternate({"sound: decode only": lambda: sound_decode_only(args.path),
                       "sound: resampled frame by frame": lambda: sound_frame_by_frame(args.path),
                       "sound: mono_chunks": lambda: sound_mono_chunks(args.path)}, args.rounds)
    default = avsync.load_model().estimator.model
    visual = alternate(visual_encoder_steps(default), 4 * args.rounds)
    torch.set_num_threads(2)
    training = alternate(training_step_steps(default.config.name), 2 * args.rounds)
    print(json.dumps({"file": args.path, "rounds": args.rounds, "median_sec": {**sound, **visual, **training}}, indent=1))


if __name__ == "__main__":
    main()
