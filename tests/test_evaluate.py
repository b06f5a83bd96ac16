"""Evaluation metrics on known predictions, the report, the confusion PNG and `avsync evaluate`."""

import json
from pathlib import Path

import pytest
import torch

from avsync.evaluate import (
    OffsetMetrics,
    Predictions,
    make_report,
    plot_confusion,
    write_report,
)
from avsync.offsets import OffsetGrid

GRID = OffsetGrid()


def _logits(pred: list[int], c: int = 21) -> torch.Tensor:
    """Logits whose ranking is pred first, then pred+1, pred-1, pred+2, ... (acc@5 is predictable)."""
    out = torch.zeros(len(pred), c)
    for i, p in enumerate(pred):
        for rank, k in enumerate([p, p + 1, p - 1, p + 2, p - 2, p + 3]):
            if 0 <= k < c:
                out[i, k] = 10.0 - rank
    return out


def test_metrics_on_known_predictions() -> None:
    target = torch.tensor([10, 10, 10, 0, 20, 5])
    pred = [10, 11, 14, 0, 17, 8]   # exact, +1 class, +4, exact, -3, +3
    offs = torch.tensor([GRID.to_seconds(t) for t in target.tolist()])
    m = OffsetMetrics(GRID)
    m.update(_logits(pred[:3]), target[:3], offs[:3])
    m.update(_logits(pred[3:]), target[3:], offs[3:])
    r = m.compute()
    assert r["acc1"] == pytest.approx(2 / 6)
    assert r["acc1_within1"] == pytest.approx(3 / 6)
    # top-5 of pred p is {p-2..p+2}: hits for targets 10 (pred 10, 11), 0 (pred 0); 14 and 17 and 8 miss
    assert r["acc5"] == pytest.approx(3 / 6)
    assert r["mae_sec"] == pytest.approx((0 + 0.2 + 0.8 + 0 + 0.6 + 0.6) / 6, abs=1e-6)


def test_report_per_kind_per_class_json_and_png(tmp_path: Path) -> None:
    target = torch.tensor([10, 10, 3, 3])
    preds = Predictions(_logits([10, 9, 3, 3]), target, torch.tensor([0.0, 0.0, -1.4, -1.4]),
                        ["dense", "dense", "sparse", "sparse"], ["a", "b", "c", "d"], ["e.mp4: broken"])
    rep = make_report(preds, GRID, "m.safetensors", "man.csv", None, wall_sec=2.0)
    assert rep.n_clips == 4 and rep.acc1 == pytest.approx(0.75) and rep.chance_acc1 == pytest.approx(1 / 21)
    assert rep.per_kind["dense"]["acc1"] == pytest.approx(0.5) and rep.per_kind["sparse"]["acc1"] == 1.0
    assert rep.per_class["+0.0"] == {"n": 2, "acc1": 0.5} and rep.per_class["-1.4"]["acc1"] == 1.0
    assert rep.confusion[10][9] == 1 and sum(map(sum, rep.confusion)) == 4 and rep.failed == ["e.mp4: broken"]
    out = write_report(rep, tmp_path / "r.json")
    assert json.loads(out.read_text())["per_kind"]["sparse"]["n"] == 2
    png = plot_confusion(rep, GRID, tmp_path / "r.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
