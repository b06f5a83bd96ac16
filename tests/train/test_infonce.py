"""AVST's InfoNCE training path: the easy stage (negatives: the other videos of the batch) and the
hard stage (negatives: shifted crops of the same video), through `avsync train` end to end."""

import json
import math
import os
from pathlib import Path

import torch
from conftest import tiny_overrides

from avsync.cli import main
from avsync.models import create
from avsync.train.losses import cross_entropy, cross_video_scores

AVST_TINY = {"model.name": "avst-enc-mp-tiny", "model.overrides.offset_max_sec": 0.4,
             "model.overrides.offset_step_sec": 0.2, "loss.kind": "auto", "loss.easy_steps": 3}


def test_cross_video_scores_hold_the_aligned_pairs_on_the_diagonal():
    torch.manual_seed(0)
    model = create("avst-enc-mp-tiny", frame_size=32, duration_sec=2.0, offset_max_sec=0.4, offset_step_sec=0.2).eval()
    c = model.config
    video = torch.rand(3, int(c.duration_sec * c.fps), 3, 32, 32)
    audio = torch.randn(3, int(c.duration_sec * c.sample_rate)) * 0.1
    target = torch.tensor([0, 2, 4])
    with torch.no_grad():
        scores = cross_video_scores(model, video, audio, target)
        vids, auds = model.candidate_pairs(video, audio)
        aligned = torch.stack([model.pair_score(vids[i, t][None], auds[i, t][None])[0] for i, t in enumerate(target)])
    assert scores.shape == (3, 3) and torch.allclose(scores.diagonal(), aligned, atol=1e-4)
    loss = cross_entropy(scores, torch.arange(3))
    assert math.isfinite(float(loss)) and float(loss) > 0


def test_avst_trains_through_both_stages(dense_set: Path, tmp_path: Path):
    run = tmp_path / "avst"
    args = tiny_overrides(dense_set, run, 6, **AVST_TINY)
    args = [a for a in args if not a.startswith(("model.overrides.n_selectors", "model.name=sparsesync"))]
    assert main(["train", "--config", os.devnull, *args]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["loss_kind"] == "infonce" and summary["global_step"] == 6
    log = (run / "train.log").read_text()
    assert "(easy)" in log and "(hard)" in log          # stage 1 then stage 2, as the curriculum says
    assert (run / "model.safetensors").is_file()
