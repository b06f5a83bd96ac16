"""An honest 2-process data-parallel run on CPU (Lightning DDP over gloo): both ranks train, see
different examples, and end with identical weights (gradients were averaged across processes)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import tiny_overrides


def test_two_process_cpu_ddp(dense_set: Path, tmp_path: Path) -> None:
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "avsync", "train", "--config", os.devnull,
           *tiny_overrides(dense_set, run, 4, **{"trainer.accelerator": "cpu", "trainer.devices": 2,
                                                  "trainer.strategy": "ddp", "trainer.batch_size": 4})]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    s = json.loads((run / "summary.json").read_text())
    assert s["world_size"] == 2 and s["batches_per_rank"] == [4, 4] and s["global_step"] == 4
    assert s["examples_seen"] == 4 * 4 * 2
    assert len(s["replica_param_checksums"]) == 2 and s["replicas_identical"]
    assert s["dist_backend"] == "gloo" and s["accelerator"] == "CPUAccelerator"
