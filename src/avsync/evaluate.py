"""Evaluation on fixed offset lists: accuracy@1, accuracy@1 within +-1 class, accuracy@5, mean
absolute offset error in seconds, per-kind and per-class accuracy, a confusion matrix (PNG) and a
JSON report. The same metrics are logged for validation during training (:class:`OffsetMetrics`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import torch
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from avsync.fileio import atomic_path, write_text_atomic
from avsync.offsets import OffsetGrid


class _Closeness(Metric):
    """Share of predictions within +-1 class, and mean absolute offset error in seconds."""

    full_state_update = False

    def __init__(self, grid: OffsetGrid) -> None:
        super().__init__()
        self.register_buffer("seconds", torch.tensor(grid.seconds), persistent=False)
        self.add_state("within1", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("abs_err", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("total", torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, logits: torch.Tensor, target: torch.Tensor, offset_sec: torch.Tensor) -> None:
        pred = logits.argmax(-1)
        self.within1 += ((pred - target).abs() <= 1).sum()
        self.abs_err += (self.seconds.to(logits.device)[pred] - offset_sec.to(logits.device)).abs().double().sum()
        self.total += target.numel()

    def compute(self) -> dict[str, torch.Tensor]:
        n = self.total.clamp(min=1)
        return {"acc1_within1": self.within1 / n, "mae_sec": (self.abs_err / n).float()}


class OffsetMetrics(torch.nn.Module):
    """acc@1, acc@1 within +-1 class, acc@5 and mean absolute error (s); synced across DDP ranks."""

    def __init__(self, grid: OffsetGrid) -> None:
        super().__init__()
        c = grid.num_classes
        self.acc = MetricCollection({
            "acc1": MulticlassAccuracy(c, top_k=1, average="micro"),
            "acc5": MulticlassAccuracy(c, top_k=min(5, c), average="micro"),
        })
        self.close = _Closeness(grid)

    def update(self, logits: torch.Tensor, target: torch.Tensor, offset_sec: torch.Tensor) -> None:
        """Add a batch of logits ``(B, C)``, true classes and true offsets in seconds."""
        logits = logits.float()
        self.acc.update(logits, target)
        self.close.update(logits, target, offset_sec)

    def compute(self) -> dict[str, float]:
        """The metrics as plain floats."""
        out = {k: float(v) for k, v in self.acc.compute().items()}
        out.update({k: float(v) for k, v in self.close.compute().items()})
        return out

    def reset(self) -> None:
        """Start a new pass."""
        self.acc.reset()
        self.close.reset()


@dataclass
class Report:
    """What ``avsync evaluate`` measures; ``to_json`` writes it."""

    model: str
    data: str
    offsets: str | None
    n_clips: int
    acc1: float
    acc1_within1: float
    acc5: float
    mae_sec: float
    chance_acc1: float
    per_kind: dict[str, dict[str, float]] = field(default_factory=dict)
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion: list[list[int]] = field(default_factory=list)
    wall_sec: float = 0.0
    clips_per_sec: float = 0.0
    failed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)


@dataclass
class Predictions:
    """Per-clip outputs of a pass over a dataset."""

    logits: torch.Tensor                   # (N, C)
    target: torch.Tensor                   # (N,)
    offset_sec: torch.Tensor               # (N,)
    kinds: list[str]
    paths: list[str]
    errors: list[str] = field(default_factory=list)


@torch.no_grad()
def predict(model: torch.nn.Module, batches: Iterable[dict[str, Any]], device: str = "cpu",
            progress: Any = None) -> Predictions:
    """Run ``model`` over collated batches (see ``data.datasets.collate``) and keep every output."""
    model.eval().to(device)
    logits, target, offs, kinds, paths, errors = [], [], [], [], [], []
    for batch in batches:
        errors += batch.get("errors", [])
        if progress is not None:
            progress(len(batch.get("errors", [])))
        if "video" not in batch:
            continue
        out = model(batch["video"].to(device), batch["audio"].to(device))
        logits.append(out.logits.float().cpu())
        target.append(batch["target"])
        offs.append(batch["offset_sec"].float())
        kinds += list(batch["kind"])
        paths += list(batch["path"])
        if progress is not None:
            progress(len(batch["target"]))
    if not logits:
        from avsync.errors import AvsyncError
        raise AvsyncError(f"no clip could be evaluated; first error: {errors[0] if errors else 'empty dataset'}")
    return Predictions(torch.cat(logits), torch.cat(target), torch.cat(offs), kinds, paths, errors)


def _metrics(grid: OffsetGrid, logits: torch.Tensor, target: torch.Tensor, offs: torch.Tensor) -> dict[str, float]:
    m = OffsetMetrics(grid)
    m.update(logits, target, offs)
    return m.compute()


def make_report(preds: Predictions, grid: OffsetGrid, model: str, data: str, offsets: str | None,
                wall_sec: float = 0.0) -> Report:
    """All metrics of a prediction pass, overall, per kind and per true class."""
    c = grid.num_classes
    cm = MulticlassConfusionMatrix(c)(preds.logits.argmax(-1), preds.target)
    overall = _metrics(grid, preds.logits, preds.target, preds.offset_sec)
    per_kind = {}
    for kind in sorted(set(preds.kinds)):
        idx = torch.tensor([k == kind for k in preds.kinds])
        per_kind[kind or "-"] = {"n": int(idx.sum()), **_metrics(grid, preds.logits[idx], preds.target[idx],
                                                                  preds.offset_sec[idx])}
    per_class = {f"{grid.to_seconds(i):+.1f}": {"n": int(cm[i].sum()), "acc1": float(cm[i, i] / cm[i].sum())}
                 for i in range(c) if cm[i].sum() > 0}
    n = len(preds.target)
    return Report(model, data, offsets, n, overall["acc1"], overall["acc1_within1"], overall["acc5"],
                  overall["mae_sec"], 1.0 / c, per_kind, per_class, cm.tolist(), round(wall_sec, 2),
                  round(n / wall_sec, 2) if wall_sec > 0 else 0.0, preds.errors)


def plot_confusion(report: Report, grid: OffsetGrid, path: str | Path) -> Path:
    """Confusion matrix (rows: true offset, columns: predicted), row-normalised, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = torch.tensor(report.confusion, dtype=torch.float32)
    norm = cm / cm.sum(1, keepdim=True).clamp(min=1)
    labels = [f"{s:+.1f}" for s in grid.seconds]
    fig, ax = plt.subplots(figsize=(7, 6))
    im = ax.imshow(norm.numpy(), cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("predicted offset (s)")
    ax.set_ylabel("true offset (s)")
    ax.set_title(f"{Path(report.model).name}: acc@1 {report.acc1:.1%} on {report.n_clips} clips", fontsize=9)
    fig.colorbar(im, ax=ax, label="share of the true class")
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    return Path(path)


def write_report(report: Report, path: str | Path) -> Path:
    """Write the JSON report (temp file, then rename; folders made as needed)."""
    return write_text_atomic(path, json.dumps(report.to_dict(), indent=1) + "\n")


def evaluate(model: torch.nn.Module, dataset: torch.utils.data.Dataset, batch_size: int = 8, workers: int = 0,
             device: str = "cpu", model_name: str = "", data_name: str = "", offsets_name: str | None = None,
             progress: Any = None) -> Report:
    """Evaluate ``model`` on a (fixed-offset) dataset and return the report."""
    from avsync.data.datasets import collate

    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=collate)
    t0 = time.perf_counter()
    preds = predict(model, loader, device, progress)
    return make_report(preds, model.grid, model_name, data_name, offsets_name, time.perf_counter() - t0)
