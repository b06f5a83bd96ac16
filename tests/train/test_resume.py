"""Fault tolerance: a run killed with SIGKILL mid-run resumes from its newest checkpoint and ends
with the same number of steps; the data stream continues where it stopped."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import tiny_overrides

STEPS = 12


def _train(manifest: Path, run_dir: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "avsync", "train", "--config", os.devnull,
           *tiny_overrides(manifest, run_dir, STEPS, **{"trainer.ckpt_every": 3, "trainer.batch_size": 4}), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_kill_and_resume(dense_set: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = _train(dense_set, run)
    deadline = time.time() + 240
    while not (run / "checkpoints" / "step-000006").is_dir():
        assert proc.poll() is None, proc.stdout.read()
        assert time.time() < deadline, "no checkpoint at step 6 within 4 minutes"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run / "summary.json").exists()
    done = sorted(p.name for p in (run / "checkpoints").iterdir() if not p.name.endswith(".tmp"))
    assert done and done[-1] < f"step-{STEPS:06d}"

    fresh = _train(dense_set, run)  # without --resume it must refuse to overwrite the run
    assert fresh.wait() == 2 and "--resume" in fresh.stdout.read()

    resumed = _train(dense_set, run, "--resume")
    out, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, out
    summary = json.loads((run / "summary.json").read_text())
    assert summary["global_step"] == STEPS
    start = int(Path(summary["resumed_from"]).name.split("-")[1])
    assert start >= 6 and summary["steps_this_run"] == STEPS - start
    assert summary["examples_seen"] == STEPS * 4
    log = (run / "train.log").read_text()
    assert f"resuming the example stream at step {start}" in log
    assert (run / "checkpoints" / f"step-{STEPS:06d}").is_dir() and (run / "model.safetensors").is_file()
