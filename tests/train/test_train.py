"""Training end to end on tiny generated dense clips, the plateau monitor, and `avsync evaluate`."""

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import tiny_overrides

from avsync.cli import main
from avsync.data.datasets import load_sources, with_durations
from avsync.offsets import (
    CropSampler,
    OffsetGrid,
    make_fixed_offsets,
    write_fixed_offsets,
)
from avsync.train.module import PlateauMonitor

LN21 = math.log(21)


def test_plateau_monitor_warns_at_chance_and_reports_leaving_it() -> None:
    mon = PlateauMonitor(window=5, repeat_every=2)
    msgs = [mon.update(s, LN21 + (0.01 if s % 2 else -0.01), LN21) for s in range(30)]
    said = [m for m in msgs if m]
    assert "sits at chance" in said[0] and "ln(21) = 3.045" in said[0] and "warm-up plateau" in said[0]
    assert any("still on the ln(K) plateau since step 4" in m for m in said[1:])
    msgs = [mon.update(s, 1.0, LN21) for s in range(30, 40)]
    assert any(m and "left the chance plateau" in m for m in msgs)
    summary = mon.summary()
    assert summary["steps_at_chance"] == 26 and not summary["on_plateau_at_end"] and summary["left_plateau_at_step"]


def test_train_loss_falls_well_below_ln21_then_evaluate(dense_set: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    """sparsesync-tiny (shrunk to 32 px, 2 s windows) fits 8 fixed crops of 4 generated dense clips in a
    few dozen steps: the over-fitting check that data, targets, loss and optimiser are wired right.
    (Learning sync from random crops takes far longer: see docs/results.md for the plateau.)"""
    grid = OffsetGrid()
    sources, _ = with_durations(load_sources([str(dense_set)], "train"))
    crops = make_fixed_offsets([(s.path, s.duration_sec) for s in sources[:4]], CropSampler(grid, 2.0), 1, 2)
    fixed = tmp_path / "train_offsets.csv"
    write_fixed_offsets(crops, fixed)
    run = tmp_path / "run"
    args = tiny_overrides(dense_set, run, 20, **{"data.train_offsets": str(fixed), "data.augment.enabled": "false",
                                                 "optim.lr": "3.0e-3", "optim.warmup_steps": 1, "trainer.val_every": 20})
    assert main(["train", "--config", os.devnull, *args]) == 0
    with (run / "csv" / "metrics.csv").open() as f:
        losses = [float(r["train/loss"]) for r in csv.DictReader(f) if r.get("train/loss")]
    assert losses[-1] < losses[0] and sum(losses[-2:]) / 2 < 0.6 * LN21
    summary = json.loads((run / "summary.json").read_text())
    assert summary["global_step"] == 20 and summary["loss_kind"] == "ce" and "acc1" in summary["val"]
    for name in ("model.safetensors", "model.json", "best.safetensors", "config.yaml", "train.log"):
        assert (run / name).is_file()

    capsys.readouterr()
    report = tmp_path / "report.json"
    status = main(["evaluate", str(run), "--data", str(dense_set), "--offsets", str(fixed), "--out", str(report),
                   "--workers", "0"])
    assert status == 0
    rep = json.loads(report.read_text())
    assert rep["n_clips"] == 8 and rep["acc1"] >= 0.5 and report.with_suffix(".png").is_file()
    assert "acc@1" in capsys.readouterr().out


def test_init_from_loads_matching_tensors_and_skips_another_head(dense_set: Path, tmp_path: Path) -> None:
    """Dense pre-training -> fine-tuning with a finer grid (another head): partial loading, logged."""
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["train", "--config", os.devnull, *tiny_overrides(dense_set, first, 1)]) == 0
    args = tiny_overrides(dense_set, second, 1, **{"init_from": str(first), "model.overrides.offset_step_sec": 0.1})
    assert main(["train", "--config", os.devnull, *args]) == 0
    log = (second / "train.log").read_text()
    assert "initialised" in log and "head.weight (shape (21, 32) != (41, 32))" in log


def test_bad_config_is_a_one_line_usage_error(tmp_path: Path) -> None:
    # in a fresh process, and told before Lightning (about 8 s of imports on a slow CPU) is imported
    code = ("import sys; from avsync.cli import main\n"
            f"status = main(['train', '--config', {os.devnull!r}, 'trainer.max_stepz=3'])\n"
            "print('lightning imported:', 'lightning' in sys.modules); sys.exit(status)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 2 and "trainer.max_stepz" in out.stderr and "Traceback" not in out.stderr
    assert "lightning imported: False" in out.stdout


def test_evaluate_tells_missing_data_before_loading_its_metrics(tmp_path: Path) -> None:
    weights = Path(__file__).parents[2] / "src/avsync/assets/models/default.safetensors"
    code = ("import sys; from avsync.cli import main\n"
            f"status = main(['evaluate', {str(weights)!r}, '--data', {str(tmp_path / 'nowhere')!r}])\n"
            "print('torchmetrics imported:', 'torchmetrics' in sys.modules); sys.exit(status)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 2 and "nowhere" in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert "torchmetrics imported: False" in out.stdout
