"""``train(config)``: set up logging, data, model, callbacks and the Lightning trainer, and run.

A run lives in ``config.run_dir``: ``config.yaml`` (the resolved config), ``train.log`` (readable
log), ``csv/metrics.csv`` (every logged metric), ``checkpoints/step-NNNNNN/`` (see
``checkpoints.py``), ``model.safetensors`` + ``model.json`` (final weights), ``best.safetensors`` +
``best.json`` (best validation acc@1) and ``summary.json``. The same config runs on this CPU, one
GPU, or many GPUs / nodes (``trainer.strategy: ddp``, launched by Lightning, torchrun or SLURM).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import lightning as L
import torch
import yaml
from lightning.fabric.plugins.io.checkpoint_io import CheckpointIO
from lightning.pytorch.callbacks import Callback, RichProgressBar
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities import rank_zero_only

from avsync.clip import ClipSpec
from avsync.models import get_config
from avsync.train.checkpoints import (
    find_resumable,
    load_checkpoint_dir,
    load_partial,
    prune,
    refuse_overwrite,
    save_checkpoint_dir,
    step_dirs,
)
from avsync.train.config import TrainConfig
from avsync.train.datamodule import SyncDataModule
from avsync.train.module import SyncModule
from avsync.train.offset_data import OffsetDataModule
from avsync.train.offset_module import OffsetModule

log = logging.getLogger("avsync.train")


class SafetensorsCheckpointIO(CheckpointIO):
    """Lightning plugin: checkpoints as folders of safetensors + JSON (``avsync.train.checkpoints``)."""

    def __init__(self, model_config: Callable[[], dict[str, Any]] | None = None) -> None:
        self.model_config = model_config

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        save_checkpoint_dir(checkpoint, path, self.model_config() if self.model_config else None)

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: Any = None) -> dict[str, Any]:
        return load_checkpoint_dir(path)

    def remove_checkpoint(self, path: Any) -> None:
        shutil.rmtree(path, ignore_errors=True)


class _RankZero(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return (rank_zero_only.rank or 0) == 0


def setup_logging(run_dir: Path) -> None:
    """Log ``avsync.train`` to the console (rich) and to ``run_dir/train.log``, rank 0 only."""
    from rich.logging import RichHandler

    log.setLevel(logging.INFO)
    log.propagate = False
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()
    console = RichHandler(show_path=False, markup=False, log_time_format="%H:%M:%S")
    file = logging.FileHandler(run_dir / "train.log")
    file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    for h in (console, file):
        h.addFilter(_RankZero())
        log.addHandler(h)


class PeriodicCheckpoint(Callback):
    """Save a checkpoint every ``every`` steps and at the end; keep the ``keep`` newest."""

    def __init__(self, folder: Path, every: int, keep: int) -> None:
        self.folder, self.every, self.keep = folder, every, keep

    def _save(self, trainer: L.Trainer) -> None:
        step = trainer.global_step
        trainer.save_checkpoint(self.folder / f"step-{step:06d}")
        if trainer.is_global_zero:
            prune(self.folder, self.keep)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.every > 0 and trainer.global_step % self.every == 0:
            self._save(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        done = step_dirs(self.folder)
        if not done or done[0][0] != trainer.global_step:
            self._save(trainer)


class ExportModels(Callback):
    """Export the best model (validation acc@1) and the final one as safetensors + JSON."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir, self.best = run_dir, -1.0

    def on_validation_end(self, trainer: L.Trainer, pl_module: SyncModule) -> None:
        acc = trainer.callback_metrics.get("val/acc1")
        if trainer.sanity_checking or acc is None or not trainer.is_global_zero:
            return
        if float(acc) > self.best:
            from avsync.models import save_model

            self.best = float(acc)
            save_model(pl_module.model, self.run_dir / "best.safetensors")
            log.info("step %d: new best val acc@1 %.1f %% -> best.safetensors", trainer.global_step, 100 * self.best)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = float(state.get("best", -1.0))

    def on_train_end(self, trainer: L.Trainer, pl_module: SyncModule) -> None:
        if trainer.is_global_zero:
            from avsync.models import save_model

            save_model(pl_module.model, self.run_dir / "model.safetensors")


class Summary(Callback):
    """Write ``summary.json``: steps, time, examples, plateau, and a DDP replica check."""

    def __init__(self, run_dir: Path, resumed_from: str | None) -> None:
        self.run_dir, self.resumed_from = run_dir, resumed_from
        self.t0, self.start_step, self.batches = 0.0, 0, 0

    def on_train_start(self, trainer: L.Trainer, pl_module: SyncModule) -> None:
        self.t0, self.start_step = time.perf_counter(), trainer.global_step

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.batches += 1

    def on_train_end(self, trainer: L.Trainer, pl_module: SyncModule) -> None:
        wall = time.perf_counter() - self.t0
        checksum = torch.stack([p.detach().double().sum() for p in pl_module.model.parameters()]).sum()
        replicas = pl_module.all_gather(checksum.to(pl_module.device)).reshape(-1).tolist()
        batches = pl_module.all_gather(torch.tensor(self.batches, device=pl_module.device)).reshape(-1).tolist()
        if not trainer.is_global_zero:
            return
        steps = trainer.global_step - self.start_step
        summary = {
            "global_step": trainer.global_step, "steps_this_run": steps, "resumed_from": self.resumed_from,
            "wall_sec": round(wall, 2), "steps_per_sec": round(steps / wall, 3) if wall > 0 else None,
            "world_size": trainer.world_size, "batches_per_rank": batches,
            "dist_backend": torch.distributed.get_backend() if torch.distributed.is_initialized() else None,
            "examples_seen": trainer.global_step * trainer.datamodule.batch_size * trainer.world_size,
            "replica_param_checksums": replicas,
            "replicas_identical": max(replicas) - min(replicas) <= 1e-9 * max(1.0, abs(replicas[0])),
            "plateau": pl_module.plateau.summary(), "loss_kind": pl_module.loss_kind,
            "final_train_loss": float(trainer.callback_metrics.get("train/loss", float("nan"))),
            "val": {k.removeprefix("val/"): float(v) for k, v in trainer.callback_metrics.items()
                    if k.startswith("val/")},
            "precision": str(trainer.precision), "accelerator": type(trainer.accelerator).__name__,
        }
        (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        p = summary["plateau"]
        if p["on_plateau_at_end"]:
            log.warning("run ended ON the chance plateau (loss ~ %.3f = ln K): the model has not learnt the offset yet; "
                        "train longer or see docs/training.md", p["chance_loss"])
        log.info("done: %d steps in %.1f s (%s steps/s), world size %d", steps, wall, summary["steps_per_sec"],
                 trainer.world_size)


def _precision(cfg: TrainConfig) -> str:
    """Mixed precision on GPU only: ``auto`` -> bf16/16-mixed on CUDA, 32-true elsewhere."""
    t = cfg.trainer
    gpu = torch.cuda.is_available() and t.accelerator in ("auto", "gpu", "cuda")
    if t.precision == "auto":
        return ("bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed") if gpu else "32-true"
    if not gpu and "16" in str(t.precision):
        log.warning("precision %s asked for, but there is no GPU: training in 32-bit (mixed precision is GPU-only)",
                    t.precision)
        return "32-true"
    return str(t.precision)


def _data_module(cfg: TrainConfig, module: SyncModule) -> SyncDataModule:
    """The examples of a run: crops of a feature cache for LagNet, decoded windows otherwise."""
    t = cfg.trainer
    if isinstance(module, OffsetModule):
        return OffsetDataModule(cfg.data, module.model.config.fps, t.batch_size, t.max_steps, cfg.seed)
    spec = ClipSpec.from_model_config(module.model.config)
    spec = ClipSpec(spec.window_sec, spec.fps, spec.sample_rate, spec.frame_size, spec.grid, cfg.data.resize)
    return SyncDataModule(cfg.data, spec, t.batch_size, t.max_steps, cfg.seed)


def train(cfg: TrainConfig, resume: bool = False) -> Path:
    """Train (or resume) the run described by ``cfg``; returns the run folder."""
    run_dir = Path(cfg.run_dir)
    ckpt_dir = run_dir / "checkpoints"
    refuse_overwrite(run_dir, resume)
    run_dir.mkdir(parents=True, exist_ok=True)
    setup_logging(run_dir)
    ckpt = find_resumable(ckpt_dir) if resume else None
    if resume and ckpt is None:
        log.warning("--resume: no usable checkpoint in %s, starting from step 0", ckpt_dir)
    if rank_zero_only.rank == 0:
        (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    engine = get_config(cfg.model.name).arch == "lagnet"
    module = (OffsetModule if engine else SyncModule)(cfg.to_dict())
    if cfg.init_from and ckpt is None:
        loaded, skipped = load_partial(module.model, cfg.init_from)
        log.info("initialised %d tensors from %s; %d not loaded%s", len(loaded), cfg.init_from, len(skipped),
                 (": " + "; ".join(skipped[:6]) + (" ..." if len(skipped) > 6 else "")) if skipped else "")
    data = _data_module(cfg, module)
    t = cfg.trainer
    callbacks: list[Callback] = [PeriodicCheckpoint(ckpt_dir, t.ckpt_every, t.keep_checkpoints),
                                 ExportModels(run_dir), Summary(run_dir, str(ckpt) if ckpt else None)]
    if t.progress:
        callbacks.append(RichProgressBar(leave=True))
    trainer = L.Trainer(
        accelerator=t.accelerator, devices=t.devices, num_nodes=t.num_nodes, strategy=t.strategy,
        precision=_precision(cfg), max_steps=t.max_steps, max_epochs=-1, gradient_clip_val=cfg.optim.grad_clip or None,
        val_check_interval=min(t.val_every, t.max_steps) if t.val_every > 0 else None,
        limit_val_batches=None if t.val_every > 0 else 0, check_val_every_n_epoch=None, num_sanity_val_steps=0,
        log_every_n_steps=t.log_every, logger=CSVLogger(run_dir, name="", version="csv", flush_logs_every_n_steps=t.log_every),
        callbacks=callbacks, enable_checkpointing=False, enable_progress_bar=t.progress,
        enable_model_summary=False, use_distributed_sampler=False, deterministic=False,
        plugins=[SafetensorsCheckpointIO(lambda: module.model.config.to_dict())], default_root_dir=run_dir,
    )
    n_params = sum(p.numel() for p in module.model.parameters())
    log.info("model %s (%s, %.2f M parameters), loss %s, %d steps of batch %d on %s x%d, precision %s",
             module.model.config.name, module.model.config.arch, n_params / 1e6, module.loss_kind, t.max_steps,
             t.batch_size, type(trainer.accelerator).__name__, trainer.world_size, trainer.precision)
    if module.loss_kind == "ce":
        log.info("chance level: loss ln(%d) = %.3f, acc@1 %.1f %%", module.model.grid.num_classes,
                 math.log(module.model.grid.num_classes), 100 / module.model.grid.num_classes)
    trainer.fit(module, datamodule=data, ckpt_path=str(ckpt) if ckpt else None)
    return run_dir
