"""Does the data loader keep the model fed? Clips/s of the training loader against the clips/s one
training step consumes, for the tiny and the paper model configs on this machine.

    python benchmarks/loader.py --data data/dense/manifest.csv [--models sparsesync-tiny sparsesync-paper]

For each model: the loader (``CropDataset`` with augmentations, ``workers`` processes, with and
without the decoded-source cache) is timed over ``--batches`` batches after one warm-up batch; the
training step (forward + backward + Adam on a batch of the same shape) is timed over ``--steps``
steps. The loader is the bottleneck when its clips/s is below the step's.
"""

from __future__ import annotations

import argparse
import itertools
import time

import torch
from torch.utils.data import DataLoader

from avsync.clip import ClipSpec
from avsync.data.augment import AugmentConfig
from avsync.data.datasets import (
    CropDataset,
    RunSampler,
    collate,
    load_sources,
    with_durations,
)
from avsync.models import create
from avsync.offsets import CropSampler


def loader_rate(dataset: CropDataset, batch: int, workers: int, batches: int) -> float:
    """Clips per second delivered by a DataLoader over ``dataset`` (first batch not counted)."""
    loader = DataLoader(dataset, batch_size=batch, sampler=RunSampler(batches + 1, batch), num_workers=workers,
                        collate_fn=collate, prefetch_factor=4 if workers else None)
    it = iter(loader)
    next(it)
    t0 = time.perf_counter()
    n = sum(len(b["target"]) for b in itertools.islice(it, batches))
    return n / (time.perf_counter() - t0)


def step_rate(model: torch.nn.Module, spec: ClipSpec, batch: int, steps: int) -> float:
    """Clips per second consumed by training steps (forward, backward, Adam) on random inputs."""
    video = torch.rand(batch, spec.num_frames, 3, spec.frame_size, spec.frame_size)
    audio = torch.randn(batch, spec.num_samples)
    target = torch.randint(0, spec.grid.num_classes, (batch,))
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(model(video, audio).logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - t0)


def main() -> None:
    """Print a markdown table: loader clips/s (per setting) vs training clips/s."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, nargs="+", help="manifest(s) or folder(s) of videos")
    ap.add_argument("--models", nargs="+", default=["sparsesync-tiny", "sparsesync-paper"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--batches", type=int, default=6)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    args = ap.parse_args()
    print(f"torch threads {torch.get_num_threads()}, batch {args.batch}")
    print("| model | input | loader setting | loader clips/s | training clips/s | loader / training |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in args.models:
        model = create(name)
        spec = ClipSpec.from_model_config(model.config)
        need = CropSampler(spec.grid, spec.window_sec).min_duration()
        sources, _ = with_durations(load_sources(args.data, "train"), need)
        train = step_rate(model, spec, args.batch, args.steps)
        shape = f"{spec.window_sec:g} s, {spec.frame_size} px"
        settings = [(w, False) for w in args.workers] + [(0, True)]
        for workers, cache in settings:
            ds = CropDataset(sources, spec, seed=0, augment=AugmentConfig(), cache=cache)
            if cache:  # each loader process fills its own cache once; time it warm
                for k in range(len(sources)):
                    ds[k]
            rate = loader_rate(ds, args.batch, workers, args.batches)
            setting = "1 process, warm decoded-source cache" if cache else f"{workers} workers, decode each clip"
            print(f"| {name} | {shape} | {setting} | {rate:.1f} | {train:.1f} | {rate / train:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
