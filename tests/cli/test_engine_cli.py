"""The command line with an engine model (a LagNet, untrained here: the plumbing is what is tested):
check records say what was searched and honour --max-offset, timeline / desync / explain run on the
same evidence, and --max-offset is refused for a model that classifies a fixed grid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_run import jsonl, run
from sync_clips import make_clip

from avsync.models import create, save_model


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Path:
    model = create("lagnet-default", widths=[8, 8], feature_dim=8, frame_dim=8, hidden=8, dim=8)
    return save_model(model, tmp_path_factory.mktemp("engine") / "engine")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "c.mp4", seconds=12.0, offset=0.4, seed=2)


def test_check_records_the_searched_range(capsys, engine, clip):
    code, out, _ = run(capsys, "check", clip, "--model", engine, "--format", "jsonl")
    r = jsonl(out)[0]
    assert code == 0 and r["search_sec"] == 5.0 and r["method"] == "engine" and r["error"] is None
    code, out, _ = run(capsys, "check", clip, "--model", engine, "--format", "jsonl", "--max-offset", "1.5")
    assert code == 0 and jsonl(out)[0]["search_sec"] == 1.5
    assert run(capsys, "check", clip, "--model", engine, "--max-offset", "0")[0] == 2


def test_max_offset_and_experts_need_the_engine(capsys, clip):
    code, _, err = run(capsys, "check", clip, "--method", "xcorr", "--max-offset", "3")
    assert code == 2 and "--max-offset" in err and "fixed grid" in err
    code, _, err = run(capsys, "check", clip, "--method", "xcorr", "--experts", "motion-onset")
    assert code == 2 and "--experts" in err


def test_experts_join_the_engine_and_are_listed(capsys, engine, clip):
    code, out, _ = run(capsys, "check", clip, "--model", engine, "--experts", "motion-onset", "--format", "jsonl")
    assert code == 0 and jsonl(out)[0]["experts"] == ["engine", "motion-onset"]


def test_the_speech_expert_runs_in_the_same_pass_and_says_what_it_found(capsys, engine, clip):
    code, out, err = run(capsys, "check", clip, "--model", engine, "--speech", "on", "--format", "jsonl")
    r = jsonl(out)[0]
    assert code == 0 and r["error"] is None and "INFO" not in err
    assert r["speech"]["face_tracks"] == 0 and r["experts"] == ["engine"]      # no face in a generated clip
    code, out, _ = run(capsys, "check", clip, "--model", engine, "--format", "jsonl")
    assert jsonl(out)[0]["speech"] is None                                     # off by default


def test_speech_on_needs_the_engine(capsys, clip):
    code, _, err = run(capsys, "check", clip, "--method", "xcorr", "--speech", "on")
    assert code == 2 and "--speech on" in err and len(err.strip().splitlines()) == 1


def test_timeline_desync_and_explain_run_on_the_engine(capsys, engine, clip, tmp_path):
    code, out, _ = run(capsys, "timeline", clip, "--model", engine, "--format", "json")
    tl = json.loads(out)
    assert code == 0 and "segments" in tl and "no_evidence" in tl and tl["search_sec"] == 5.0
    code, out, _ = run(capsys, "desync", clip, "--model", engine, "--format", "json")
    assert code == 0 and json.loads(out)["window_sec"] == 5.0
    png = tmp_path / "map.png"
    code, out, _ = run(capsys, "explain", clip, "--model", engine, "--out", png, "--format", "json", "--frames", "3")
    assert code == 0 and png.stat().st_size > 1000 and json.loads(out)["end_sec"] > json.loads(out)["start_sec"]
