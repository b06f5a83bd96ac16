"""The shipped engine model (``--model engine-v2``) end to end: it loads offline with the calibration
fitted for these very weights, and on synthetic clips of a seed no training set uses it never reports a
confident wrong offset (every answer within 0.1 s or flagged not synchronisable) and refuses a still."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_run import jsonl, run
from sync_clips import synthetic_clip

import avsync
from avsync.checker import OffsetChecker, weights_digest
from avsync.media import shift_audio

SHIFTS = [-1.7, -0.3, 0.0, 0.8, 3.1]


def test_engine_model_loads_with_its_own_calibration():
    checker = avsync.load_model("engine-v2")
    assert isinstance(checker, OffsetChecker) and checker.name == "engine-v2"
    assert checker.calibration.sharpness and checker.calibration.fitted.get("weights_sha256") == \
        weights_digest(avsync.MODEL_DIR / "engine-v2.safetensors"), "run avsync calibrate (docs/engine.md)"


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_engine_model_is_never_confidently_wrong(capsys, tmp_path, kind):
    clip = synthetic_clip(tmp_path / f"{kind}.mp4", kind, 1, seconds=12.0)
    for s in SHIFTS:
        shift_audio(clip, tmp_path / f"shift_{s:+.1f}.mp4", s)
    code, out, _ = run(capsys, "check", *sorted(tmp_path.glob("shift_*.mp4")), "--model", "engine-v2", "--format", "jsonl")
    recs = jsonl(out)
    assert code == 0 and len(recs) == len(SHIFTS)
    for r in recs:
        true = float(Path(r["path"]).stem.split("_")[1])
        assert r["search_sec"] == pytest.approx(min(5.0, r["duration_sec"] / 2), abs=0.05) and r["offset_sec"] is not None
        assert not r["synchronisable"] or abs(r["offset_sec"] - true) <= 0.1, r
    still = avsync.load_model("engine-v2").check(synthetic_clip(tmp_path / "static.mp4", "static", 0))
    assert not still.synchronisable and "no evidence" in still.reason
