"""The LightningModule of the engine's model (LagNet): scores every candidate offset of in-sync
crops and learns to put each moment's and each clip's evidence on offset 0.

Validation scores the held-out crops the way the checker scores a file (the moments' evidence
accumulated per offset) and reports ``val/acc1``: the share of crops whose best offset is within
one video frame of 0, and ``val/mae_sec``. The rest of a run (warm-up schedule, plateau watch,
checkpoints, exports) is :class:`~avsync.train.module.SyncModule`'s.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import torch

from avsync.train.losses import offset_infonce
from avsync.train.module import SyncModule

log = logging.getLogger("avsync.train")


def other_clip_scores(model: Any, video: torch.Tensor, audio: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
    """Scores ``(B, T, B - 1)`` of each clip's frames against every other clip's sound at offset 0."""
    b, t, _ = video.shape
    r = model.config.steps_per_frame
    steps = (r * (first[:, None] + torch.arange(t, device=video.device)[None])).clamp(max=audio.shape[1] - 1)  # (B, T)
    aligned = audio[torch.arange(b, device=video.device)[:, None], steps]                                     # (B, T, D)
    sims = torch.einsum("btd,ctd->btc", video, aligned) * model.scale
    keep = ~torch.eye(b, dtype=torch.bool, device=video.device)
    return sims.masked_select(keep[:, None, :]).view(b, t, b - 1)


class OffsetModule(SyncModule):
    """LagNet with :func:`offset_infonce`; built from a :class:`TrainConfig` dict."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        c = self.model.config
        max_steps = round(self.cfg.loss.max_offset_sec / c.step_sec)
        self.register_buffer("offsets", torch.arange(-max_steps, max_steps + 1), persistent=False)
        self.sigma = self.cfg.loss.sigma_sec / c.step_sec
        self._val: list[torch.Tensor] = []

    @staticmethod
    def loss_name(model: Any, kind: str) -> str:
        """``offsets`` is LagNet's only loss."""
        if kind not in ("auto", "offsets"):
            from avsync.errors import UsageError
            raise UsageError(f"loss.kind for a LagNet model must be auto or offsets, not {kind!r}")
        return "offsets"

    def _evidence(self, batch: dict[str, Any], negatives: bool) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.model
        v, a = m.embed_video(batch["frames"]), m.embed_audio(batch["audio"])
        first = batch["first_frame"].to(v.device)
        scores = m.offset_scores(v, a, self.offsets, first)
        others = other_clip_scores(m, v, a, first) if negatives and v.shape[0] > 1 else None
        return offset_infonce(scores, self.offsets, self.sigma, others, self.cfg.loss.clip_weight)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        loss, evidence = self._evidence(batch, negatives=True)
        err = self._errors(evidence)
        bs = len(batch["frames"])
        acc = (err <= 1.0 / self.model.config.fps + 1e-9).float().mean()
        self.log("train/loss", loss, prog_bar=True, batch_size=bs)
        self.log("train/acc", acc, prog_bar=True, batch_size=bs)
        self.log("train/lr", self.optimizers().param_groups[0]["lr"], batch_size=bs)
        if self.trainer.is_global_zero and self.global_step % self.cfg.trainer.log_every == 0:
            log.info("step %d: loss %.3f, clip acc (+-1 frame) %.2f, scale %.1f, lr %.2e", self.global_step,
                     float(loss.detach()), float(acc), float(self.model.scale.detach()), self.optimizers().param_groups[0]["lr"])
        msg = self.plateau.update(self.global_step, float(loss.detach()), math.log(len(self.offsets)) * 1.5)
        if msg and self.trainer.is_global_zero:
            log.warning(msg) if self.plateau.since is not None else log.info(msg)
        return loss

    def _errors(self, evidence: torch.Tensor) -> torch.Tensor:
        """|best offset| in seconds of each clip's accumulated evidence ``(B, K)``."""
        best = self.offsets[evidence.argmax(-1)]
        return best.abs().float() * self.model.config.step_sec

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        loss, evidence = self._evidence(batch, negatives=False)
        self._val.append(self._errors(evidence).cpu())
        self.log("val/loss", loss, batch_size=len(batch["frames"]), sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        err = torch.cat(self._val) if self._val else torch.zeros(0)
        self._val.clear()
        if not len(err):
            return
        metrics = {"acc1": float((err <= 1.0 / self.model.config.fps + 1e-9).float().mean()),
                   "within_0.1": float((err <= 0.1).float().mean()), "mae_sec": float(err.mean())}
        for k, v in metrics.items():
            self.log(f"val/{k}", v, prog_bar=k == "acc1", rank_zero_only=True)
        if self.trainer.is_global_zero and not self.trainer.sanity_checking:
            log.info("step %d: val within one frame %.1f %%, within 0.1 s %.1f %%, mean abs error %.3f s",
                     self.global_step, 100 * metrics["acc1"], 100 * metrics["within_0.1"], metrics["mae_sec"])
