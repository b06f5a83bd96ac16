"""The LightningDataModule: training crops on the fly, validation on a fixed offset list.

The training stream is one long sequence of examples numbered ``0, 1, 2, ...`` (see
``data.datasets.RunSampler``); the data-sampler position (the next training step) is part of every
checkpoint, so a resumed run continues the stream where the killed one stopped, in every rank.
"""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from avsync.clip import ClipSpec
from avsync.data.datasets import (
    CropDataset,
    FixedDataset,
    RunSampler,
    Source,
    collate,
    load_sources,
    with_durations,
)
from avsync.errors import UsageError
from avsync.offsets import CropSampler, make_fixed_offsets, read_fixed_offsets
from avsync.train.config import DataSection

log = logging.getLogger("avsync.train")


class SyncDataModule(L.LightningDataModule):
    """Training and validation data for one run."""

    def __init__(self, data: DataSection, spec: ClipSpec, batch_size: int, max_steps: int, seed: int = 0) -> None:
        super().__init__()
        self.data, self.spec, self.batch_size, self.max_steps, self.seed = data, spec, batch_size, max_steps, seed
        self.start_step = 0
        self.train_set: CropDataset | FixedDataset | None = None
        self.val_set: FixedDataset | None = None

    def _sources(self, specs: list[str], split: str) -> list[Source]:
        sampler = CropSampler(self.spec.grid, self.spec.window_sec, self.spec.fps, self.data.jitter_sec)
        found = load_sources(specs, split, self.data.kinds, self.data.val_fraction)
        kept, dropped = with_durations(found, sampler.min_duration())
        for line in dropped[:5]:
            log.warning("skipped %s", line)
        if len(dropped) > 5:
            log.warning("skipped %d more sources", len(dropped) - 5)
        return kept

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None and stage in (None, "fit"):
            if not self.data.train:
                raise UsageError("data.train is empty: give a manifest or a folder of videos")
            if self.data.train_offsets:
                crops = read_fixed_offsets(self.data.train_offsets)
                self.train_set = FixedDataset(crops, self.spec, augment=self.data.augment)
                log.info("training on the %d fixed crops of %s (cycled)", len(crops), self.data.train_offsets)
                self.val_set = self.make_val_set()
                return
            train = self._sources(self.data.train, self.data.train_split)
            self.train_set = CropDataset(train, self.spec, self.seed, self.data.augment, self.data.jitter_sec,
                                         self.data.cache)
            log.info("training on %d sources (%s, split %s)", len(train), ", ".join(self.data.train),
                     self.data.train_split)
        if self.val_set is None:
            self.val_set = self.make_val_set()

    def make_val_set(self) -> FixedDataset | None:
        """The validation set: a given fixed list, or fixed crops of the val split's sources."""
        if self.data.val_offsets:
            crops = read_fixed_offsets(self.data.val_offsets)
            return FixedDataset(crops, self.spec)
        val = self._sources(self.data.val or self.data.train, self.data.val_split)
        if not val:
            log.warning("no validation sources (split %s): validation is off", self.data.val_split)
            return None
        sampler = CropSampler(self.spec.grid, self.spec.window_sec, self.spec.fps, 0.0)
        crops = make_fixed_offsets([(s.path, s.duration_sec) for s in val], sampler, self.seed + 1,
                                   self.data.val_per_source)
        log.info("validating on %d fixed crops of %d sources", len(crops), len(val))
        return FixedDataset(crops, self.spec, {s.path: s.kind for s in val})

    def _loader(self, dataset: Any, sampler: Any) -> DataLoader:
        w = self.data.workers
        return DataLoader(dataset, batch_size=self.batch_size, sampler=sampler, num_workers=w, collate_fn=collate,
                          persistent_workers=w > 0, prefetch_factor=4 if w > 0 else None, drop_last=False)

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        start = self.start_step or (trainer.global_step if trainer else 0)
        sampler = RunSampler(self.max_steps, self.batch_size, start, rank, world)
        return self._loader(self.train_set, sampler)

    def val_dataloader(self) -> DataLoader | list:
        if self.val_set is None:
            return []
        trainer = self.trainer
        sampler = None
        if trainer is not None and trainer.world_size > 1:
            sampler = DistributedSampler(self.val_set, trainer.world_size, trainer.global_rank, shuffle=False)
        return self._loader(self.val_set, sampler)

    def state_dict(self) -> dict[str, Any]:
        """The data-sampler position: the next step and the examples consumed so far (all ranks)."""
        step = self.trainer.global_step if self.trainer else self.start_step
        world = self.trainer.world_size if self.trainer else 1
        return {"next_step": step, "examples_seen": step * self.batch_size * world, "seed": self.seed,
                "batch_size": self.batch_size, "world_size": world}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue the training stream at the saved position."""
        if state.get("seed") != self.seed or state.get("batch_size") != self.batch_size:
            log.warning("resuming with a different seed or batch size than the checkpoint: the example stream changes")
        self.start_step = int(state["next_step"])
        log.info("data: resuming the example stream at step %d (%d examples seen)", self.start_step,
                 state["examples_seen"])
