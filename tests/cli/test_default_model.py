"""End-to-end tests of the shipped default model (``load_model()`` with no argument) on generated
synthetic clips from a seed that no training set uses: it loads offline with the calibration fitted
for these very weights, recovers known shifts to within 0.1 s, ``fix`` brings a shifted clip back to
about 0, and it never reports a confident wrong offset (every answer is right or flagged not
synchronisable; a still picture is refused)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_run import jsonl, run
from sync_clips import synthetic_clip

import avsync
from avsync.checker import weights_digest
from avsync.media import shift_audio

SHIFTS = [-1.2, -0.3, 0.0, 0.7, 1.4]


@pytest.fixture(scope="module")
def shifted(tmp_path_factory) -> Path:
    """A folder of one dense clip at known shifts."""
    d = tmp_path_factory.mktemp("shifted")
    clip = synthetic_clip(d.parent / "dense.mp4", "dense", 0)
    for s in SHIFTS:
        shift_audio(clip, d / f"shift_{s:+.1f}.mp4", s)
    return d


def test_default_model_loads_offline_with_its_own_calibration():
    checker = avsync.load_model()
    assert checker.name == "default" and "default" in avsync.available_models()
    assert checker.calibration.fitted.get("weights_sha256") == weights_digest(avsync.MODEL_DIR / "default.safetensors"), \
        "the shipped calibration was fitted for other weights: run avsync calibrate (docs/checker.md)"


def test_default_model_never_reports_a_confident_wrong_offset(capsys, shifted, tmp_path):
    code, out, _ = run(capsys, "check", shifted, "--format", "jsonl")
    recs = jsonl(out)
    assert code == 0 and len(recs) == len(SHIFTS) and all(r["method"] == "default" for r in recs)
    for r in recs:
        true = float(Path(r["path"]).stem.split("_")[1])
        assert r["offset_sec"] is not None and 0 < r["confidence"] <= 1 and len(r["top"]) == 5
        assert not r["synchronisable"] or abs(r["offset_sec"] - true) <= 0.1, r
    static = avsync.load_model().check(synthetic_clip(tmp_path / "static.mp4", "static", 0))
    assert not static.synchronisable and static.reason


def test_default_model_recovers_known_shifts_and_fix_brings_them_back(capsys, shifted, tmp_path):
    code, out, _ = run(capsys, "check", shifted, "--format", "jsonl")
    for r in jsonl(out):
        true = float(Path(r["path"]).stem.split("_")[1])
        assert r["synchronisable"] and abs(r["offset_sec"] - true) <= 0.1, r
    code, out, _ = run(capsys, "fix", shifted / "shift_+0.7.mp4", "-o", tmp_path / "fixed.mp4", "--format", "json")
    assert code == 0 and abs(json.loads(out)["offset_sec"] - 0.7) <= 0.1
    code, out, _ = run(capsys, "check", tmp_path / "fixed.mp4", "--format", "jsonl")
    assert jsonl(out)[0]["synchronisable"] and abs(jsonl(out)[0]["offset_sec"]) <= 0.1
