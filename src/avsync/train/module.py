"""The LightningModule: one sync model, its loss, optimiser, schedule and validation metrics.

SparseSync trains with cross-entropy over the offset classes. AVST trains with InfoNCE in two
stages: for the first ``loss.easy_steps`` steps the negatives are the other videos of the batch,
then shifted crops of the same video. The learning rate warms up linearly from
``lr * warmup_start`` to ``lr`` over ``warmup_steps`` steps and then stays constant (as published).

The known failure mode of these models is a long stretch where the training loss sits at chance,
ln(number of candidates) (ln 21 = 3.04 for 21 offset classes). :class:`PlateauMonitor` says so in the
log while it happens and records when (and whether) the loss left it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import lightning as L
import torch

from avsync.evaluate import OffsetMetrics
from avsync.train.config import TrainConfig, config_from_dict
from avsync.train.losses import cross_entropy, cross_video_scores

log = logging.getLogger("avsync.train")


@dataclass
class PlateauMonitor:
    """Watches the running mean of the training loss against chance level ln(K)."""

    window: int = 50
    tolerance: float = 0.03          # within 3 % of ln(K) counts as "at chance"
    repeat_every: int = 10           # repeat the warning every this many windows
    history: list[float] = field(default_factory=list)
    chance: float = 0.0
    since: int | None = None         # step at which the current plateau started
    left_at: int | None = None       # step at which the loss last left it
    plateau_steps: int = 0
    _last_warn: int = -1

    def update(self, step: int, loss: float, chance: float) -> str | None:
        """Add one step's loss; returns a message for the log when something changed."""
        if chance != self.chance:
            self.history, self.chance = [], chance
        self.history.append(loss)
        if len(self.history) > self.window:
            del self.history[0]
        if len(self.history) < self.window:
            return None
        mean = sum(self.history) / len(self.history)
        at_chance = abs(mean - chance) <= self.tolerance * chance
        if at_chance:
            self.plateau_steps += 1
            if self.since is None:
                self.since, self._last_warn = step, step
                return (f"step {step}: the training loss ({mean:.3f}, mean of {self.window} steps) sits at chance, "
                        f"ln({round(math.exp(chance))}) = {chance:.3f}. This is the known warm-up plateau of "
                        f"SparseSync-style training: the model has not yet found the sync cue. It usually breaks "
                        f"after a while; if it does not, check that the sources are in sync and not silent, and "
                        f"try a higher lr or easier (dense) data first.")
            if step - self._last_warn >= self.repeat_every * self.window:
                self._last_warn = step
                return f"step {step}: still on the ln(K) plateau since step {self.since} (loss {mean:.3f})"
        elif self.since is not None and mean < chance * (1 - self.tolerance):
            msg = f"step {step}: the loss left the chance plateau ({mean:.3f} < {chance:.3f}) after {step - self.since} steps"
            self.since, self.left_at = None, step
            return msg
        return None

    def summary(self) -> dict[str, Any]:
        """What happened, for the run summary."""
        return {"chance_loss": round(self.chance, 4), "steps_at_chance": self.plateau_steps,
                "on_plateau_at_end": self.since is not None, "left_plateau_at_step": self.left_at}


class SyncModule(L.LightningModule):
    """A sync model with its training objective; built from a :class:`TrainConfig` dict."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        from avsync.models import create

        self.save_hyperparameters({"config": config})
        self.cfg: TrainConfig = config_from_dict(config)
        overrides = dict(self.cfg.model.overrides)
        if self.cfg.data.window_sec:
            overrides.setdefault("duration_sec", self.cfg.data.window_sec)
        self.model = create(self.cfg.model.name, **overrides)
        self.loss_kind = self.loss_name(self.model, self.cfg.loss.kind)
        self.val_metrics = OffsetMetrics(self.model.grid) if hasattr(self.model, "grid") else None
        self.plateau = PlateauMonitor(window=self.cfg.trainer.plateau_window)

    @staticmethod
    def loss_name(model: Any, kind: str) -> str:
        """The loss a run of ``model`` uses for ``loss.kind`` (``auto``: ce for SparseSync, infonce for AVST)."""
        name = ("ce" if model.config.arch == "sparsesync" else "infonce") if kind == "auto" else kind
        if name not in ("ce", "infonce"):
            from avsync.errors import UsageError
            raise UsageError(f"loss.kind must be auto, ce or infonce, not {kind!r}")
        return name

    def stage(self) -> str:
        """``easy`` (InfoNCE, negatives from other videos) or ``hard`` (shifted crops / CE)."""
        if self.loss_kind == "infonce" and self.global_step < self.cfg.loss.easy_steps:
            return "easy"
        return "hard"

    def forward(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """Offset-class logits."""
        return self.model(video, audio).logits

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        video, audio, target = batch["video"], batch["audio"], batch["target"]
        t = self.cfg.loss.temperature if self.loss_kind == "infonce" else 1.0
        if self.stage() == "easy" and video.shape[0] > 1:
            scores = cross_video_scores(self.model, video, audio, target)
            positive = torch.arange(video.shape[0], device=video.device)
        else:
            scores, positive = self(video, audio), target
        loss = cross_entropy(scores, positive, t)
        acc = (scores.argmax(-1) == positive).float().mean()
        bs = video.shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=bs)
        self.log("train/acc", acc, prog_bar=True, batch_size=bs)
        self.log("train/lr", self.optimizers().param_groups[0]["lr"], batch_size=bs)
        if self.trainer.is_global_zero and self.global_step % self.cfg.trainer.log_every == 0:
            log.info("step %d: loss %.3f, acc %.2f, lr %.2e (%s)", self.global_step, float(loss.detach()), float(acc),
                     self.optimizers().param_groups[0]["lr"], self.stage() if self.loss_kind == "infonce" else "ce")
        msg = self.plateau.update(self.global_step, float(loss.detach()), math.log(scores.shape[-1]))
        if msg and self.trainer.is_global_zero:
            log.warning(msg) if self.plateau.since is not None else log.info(msg)
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        logits = self(batch["video"], batch["audio"])
        loss = cross_entropy(logits, batch["target"])
        self.val_metrics.update(logits, batch["target"], batch["offset_sec"])
        self.log("val/loss", loss, batch_size=len(batch["target"]), sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        metrics = self.val_metrics.compute()
        self.val_metrics.reset()
        for k, v in metrics.items():
            self.log(f"val/{k}", v, prog_bar=k == "acc1", rank_zero_only=True)
        if self.trainer.is_global_zero and not self.trainer.sanity_checking:
            log.info("step %d: val acc@1 %.1f %%, within +-1 class %.1f %%, acc@5 %.1f %%, mean abs error %.3f s",
                     self.global_step, 100 * metrics["acc1"], 100 * metrics["acc1_within1"],
                     100 * metrics["acc5"], metrics["mae_sec"])

    def configure_optimizers(self) -> Any:
        o = self.cfg.optim
        opt = torch.optim.Adam(self.model.parameters(), lr=o.lr, betas=tuple(o.betas), weight_decay=o.weight_decay)
        warm, start = max(1, o.warmup_steps), o.warmup_start

        def factor(step: int) -> float:
            return start + (1 - start) * min(1.0, step / warm)

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
