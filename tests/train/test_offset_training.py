"""The engine's training path end to end on a tiny real-media bank: the feature cache (synthetic
`real`-kind clips read back as checked files are, TRAIN pieces, never a DEV source), a few LagNet
steps from it, the exported model checking a file, and a resumed run continuing its steps."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/fake_bank.py, tests/sync_clips.py
from fake_bank import make_bank  # noqa: E402
from sync_clips import make_clip  # noqa: E402

import avsync  # noqa: E402
from avsync.checker import OffsetChecker  # noqa: E402
from avsync.data.feature_cache import CacheSpec, build_cache, load_cache  # noqa: E402
from avsync.errors import UsageError  # noqa: E402
from avsync.train.config import load_config  # noqa: E402
from avsync.train.losses import offset_infonce  # noqa: E402
from avsync.train.runner import train  # noqa: E402

SPEC = CacheSpec(clip_sec=4.0, height=32, width=48, synth_clips=4, shard=2)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("engine")
    bank = make_bank(root / "real")
    return build_cache(root / "cache", SPEC, bank)


def test_cache_holds_synthetic_clips_and_train_pieces_only(cache):
    clips = load_cache(cache)
    names = sorted(set(clips.shard))
    assert names == ["real-train_a", "real-train_b", "synth-0000", "synth-0001"]     # the DEV clip is not there
    assert clips.frames.shape == (6, 100, 32, 48) and clips.frames.dtype == np.uint8
    assert clips.audio.shape == (6, 64000) and int(clips.real.sum()) == 2
    assert all(float(np.abs(a).max()) > 0.01 for a in clips.audio)                  # every clip has sound
    before = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    build_cache(cache, SPEC, cache.parent / "real")                                    # a rerun keeps every shard
    assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir() if p.name != "cache.json"} == \
        {k: v for k, v in before.items() if k != "cache.json"}
    with pytest.raises(UsageError, match="other settings"):
        build_cache(cache, CacheSpec(clip_sec=5.0), cache.parent / "real")


def test_the_loss_wants_offset_zero():
    offsets = torch.arange(-10, 11)
    scores = torch.zeros(2, 6, 21)
    good, _ = offset_infonce(scores.clone().index_fill_(2, torch.tensor([10]), 8.0), offsets, 1.0)
    bad, evidence = offset_infonce(scores.clone().index_fill_(2, torch.tensor([3]), 8.0), offsets, 1.0)
    assert float(good) < float(bad)
    assert int(offsets[evidence.argmax(-1)][0]) == -7


def _overrides(cache: Path, run: Path, steps: int) -> list[str]:
    return [f"data.feature_cache={cache}", "data.video_sec=1.0", "data.val_clips=1", "data.real_share=0.5",
            "model.name=lagnet-default", "model.overrides.widths=[8,8]", "model.overrides.feature_dim=8",
            "model.overrides.frame_dim=8", "model.overrides.hidden=8", "model.overrides.dim=8",
            "loss.max_offset_sec=0.5", f"trainer.max_steps={steps}", "trainer.batch_size=3", "trainer.val_every=2",
            "trainer.ckpt_every=2", "trainer.log_every=1", "trainer.progress=false", f"run_dir={run}"]


def test_a_few_steps_then_the_model_checks_a_file_and_a_run_resumes(cache, tmp_path):
    run = tmp_path / "run"
    train(load_config(None, _overrides(cache, run, 2)))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["global_step"] == 2 and np.isfinite(summary["final_train_loss"])
    assert "acc1" in summary["val"] and summary["loss_kind"] == "offsets"
    checker = avsync.load_model(run / "model.safetensors")
    assert isinstance(checker, OffsetChecker)
    r = checker.check(make_clip(tmp_path / "c.mp4", seconds=6.0, offset=0.3))
    assert r.error is None and r.search_sec == 3.0 and r.offset_sec is not None
    train(load_config(None, _overrides(cache, run, 4)), resume=True)
    assert json.loads((run / "summary.json").read_text())["global_step"] == 4
