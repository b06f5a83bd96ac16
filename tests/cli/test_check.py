"""The checker's command line end to end on tiny generated clips: check (folders, bad files, formats,
resume), fix, timeline, desync, explain, demo. Most use the fast xcorr baseline; the shipped model
has its own tests at the end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from cli_run import jsonl, run
from helpers import make_video
from sync_clips import make_clip, make_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("mixed")
    make_folder(d, [0.0, 0.6])
    sub = d / "sub"
    sub.mkdir()
    make_clip(sub / "late.mkv", 8, -0.8, seed=7)
    (d / "junk.mp4").write_bytes(b"this is not a video" * 20)
    (d / "empty.mov").write_bytes(b"")
    make_video(d / "noaudio.mp4", seconds=6, audio=False)
    (d / "notes.txt").write_text("not a video, and not listed by extension")
    return d


def test_folder_with_good_and_bad_files_gives_one_record_each_and_exit_1(capsys, folder, tmp_path):
    code, out, err = run(capsys, "check", folder, tmp_path / "missing.mp4", "--method", "xcorr", "--format", "jsonl")
    recs = {Path(r["path"]).name: r for r in jsonl(out)}
    assert code == 1
    assert set(recs) == {"clip_+0.0.mp4", "clip_+0.6.mp4", "late.mkv", "junk.mp4", "empty.mov", "noaudio.mp4",
                         "missing.mp4"}
    for name, true in (("clip_+0.0.mp4", 0.0), ("clip_+0.6.mp4", 0.6), ("late.mkv", -0.8)):
        r = recs[name]
        assert r["error"] is None and r["synchronisable"] and abs(r["offset_sec"] - true) < 0.06
        assert r["offset_frames"] == round(r["offset_sec"] * 25) and 0 <= r["confidence"] <= 1
        assert r["windows"] >= 2 and len(r["per_window"]) == r["windows"] and r["top"][0]["prob"] > 0
    for name in ("junk.mp4", "empty.mov", "noaudio.mp4", "missing.mp4"):
        r = recs[name]
        assert r["error"] and name in r["error"] and r["offset_sec"] is None and r["confidence"] is None
    assert "4 failed" in err and err.count("avsync: error:") == 4


def test_table_csv_and_json_formats(capsys, folder):
    good = [folder / "clip_+0.0.mp4", folder / "clip_+0.6.mp4"]
    code, out, _ = run(capsys, "check", *good, "--method", "xcorr")
    assert code == 0 and "clip_+0.6.mp4" in out and "audio ahead" in out and "in sync" in out
    code, out, _ = run(capsys, "check", *good, "--method", "xcorr", "--format", "csv")
    rows = list(csv.DictReader(out.splitlines()))
    assert code == 0 and [Path(r["path"]).name for r in rows] == ["clip_+0.0.mp4", "clip_+0.6.mp4"]
    assert abs(float(rows[1]["offset_sec"]) - 0.6) < 0.06 and json.loads(rows[1]["top"])[0]["prob"] > 0.5
    code, out, _ = run(capsys, "check", str(folder / "clip_+0.*.mp4"), "--method", "xcorr", "--format", "json")
    assert code == 0 and len(json.loads(out)) == 2


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "json"])
def test_out_resumes_and_survives_a_cut_line(capsys, folder, tmp_path, fmt):
    out = tmp_path / f"records.{fmt}"
    first = [folder / "clip_+0.0.mp4", folder / "junk.mp4"]
    code, _, _ = run(capsys, "check", *first, "--method", "xcorr", "--format", fmt, "--out", out)
    assert code == 1
    if fmt != "json":
        with out.open("a") as f:
            f.write('{"path": "' + str(folder / "clip_+0.6.mp4") if fmt == "jsonl" else str(folder / "clip_+0.6"))
    code, stdout, err = run(capsys, "check", folder, "--method", "xcorr", "--format", fmt, "--out", out)
    assert "2 file(s) already in" in err and "checked 4 file(s)" in err
    if fmt == "jsonl":
        paths = [r["path"] for r in jsonl(out.read_text())]
    elif fmt == "csv":
        paths = [r["path"] for r in csv.DictReader(out.read_text().splitlines())]
    else:
        paths = [r["path"] for r in json.loads(out.read_text())]
    assert len(paths) == len(set(paths)) == 6 and stdout == ""
    code, _, err = run(capsys, "check", folder, "--method", "xcorr", "--format", fmt, "--out", out)
    assert code == 0 and "6 file(s) already in" in err and "checked 0 file(s)" in err


def test_fix_a_clip_with_audio_ahead_then_it_checks_as_in_sync(capsys, tmp_path):
    src = make_clip(tmp_path / "ahead.mp4", 10, 0.8, seed=11)
    code, out, _ = run(capsys, "fix", src, "-o", tmp_path / "fixed.mp4", "--method", "xcorr", "--format", "json")
    info = json.loads(out)
    assert code == 0 and info["measured"] and abs(info["offset_sec"] - 0.8) < 0.06
    code, out, _ = run(capsys, "check", tmp_path / "fixed.mp4", "--method", "xcorr", "--format", "jsonl")
    r = jsonl(out)[0]
    assert code == 0 and r["synchronisable"] and abs(r["offset_sec"]) < 0.06
    code, _, _ = run(capsys, "fix", src, "-o", tmp_path / "given.mp4", "--offset", "0.8")
    assert code == 0 and (tmp_path / "given.mp4").stat().st_size > 0


def test_fix_refuses_to_write_over_the_input_and_unsynchronisable_files(capsys, tmp_path):
    src = make_clip(tmp_path / "a.mp4", 8, 0.4, seed=12)
    before = src.read_bytes()
    code, _, err = run(capsys, "fix", src, "-o", src, "--offset", "0.4")
    assert code == 2 and "refusing to write over the input" in err and src.read_bytes() == before
    silent = make_clip(tmp_path / "silent.mp4", 8, 0.0, seed=12, silent=True)
    code, _, err = run(capsys, "fix", silent, "-o", tmp_path / "out.mp4", "--method", "xcorr")
    assert code == 1 and "not synchronisable" in err and not (tmp_path / "out.mp4").exists()


def test_timeline_shows_an_offset_that_changes_halfway(capsys, tmp_path):
    clip = make_clip(tmp_path / "drift.mp4", 20, 0.0, seed=5, change_at=10.0, offset2=0.8)
    png = tmp_path / "timeline.png"
    code, out, err = run(capsys, "timeline", clip, "--method", "xcorr", "--format", "json", "--plot", png)
    tl = json.loads(out)
    assert code == 0 and tl["drift"] is True and png.stat().st_size > 5000
    offsets = [s["offset_sec"] for s in tl["segments"]]
    assert any(abs(o) < 0.06 for o in offsets) and any(abs(o - 0.8) < 0.06 for o in offsets)
    first, last = tl["segments"][0], tl["segments"][-1]
    assert abs(first["offset_sec"]) < 0.06 and abs(last["offset_sec"] - 0.8) < 0.06
    assert 7.0 < first["end_sec"] < 13.0
    assert len(tl["per_window"]) >= 15 and len(tl["per_window"][0]["probs"]) == len(tl["grid"])
    code, out, _ = run(capsys, "timeline", clip, "--method", "xcorr")
    assert code == 0 and "drift: yes" in out


def test_timeline_marks_a_stretch_without_evidence(capsys, tmp_path):
    import numpy as np

    from avsync.media import read_clip, write_video

    a = make_clip(tmp_path / "a.mp4", 12, 0.0, seed=6)
    clip = read_clip(a, 0.0, 12.0)
    audio = clip.audio.numpy().copy()
    audio[5 * 16000:] = 0.0  # silence from 5 s on
    write_video(tmp_path / "half.mp4", clip.frames.numpy(), audio)
    code, out, _ = run(capsys, "timeline", tmp_path / "half.mp4", "--method", "xcorr", "--format", "json")
    tl = json.loads(out)
    assert code == 0 and any(s["reason"] == "silent audio" and s["end_sec"] > 11 for s in tl["no_evidence"])
    assert tl["synchronisable"] and abs(tl["offset_sec"]) < 0.06 and not np.isnan(tl["confidence"])


def test_desync_per_clip_and_overall(capsys, folder):
    clips = [folder / "clip_+0.0.mp4", folder / "clip_+0.6.mp4", folder / "junk.mp4"]
    code, out, err = run(capsys, "desync", *clips, "--method", "xcorr", "--format", "json")
    d = json.loads(out)
    assert code == 1 and d["checked"] == 2 and d["failed"] == 1
    by = {Path(c["path"]).name: c for c in d["clips"]}
    assert by["clip_+0.0.mp4"]["desync_sec"] < 0.06 and abs(by["clip_+0.6.mp4"]["desync_sec"] - 0.6) < 0.06
    assert d["desync_sec"] == pytest.approx((by["clip_+0.0.mp4"]["desync_sec"] + by["clip_+0.6.mp4"]["desync_sec"]) / 2,
                                            abs=1e-3)


def test_usage_errors_exit_2(capsys, tmp_path):
    assert run(capsys, "check", tmp_path, "--method", "xcorr")[0] == 2            # an empty folder
    assert run(capsys, "check", "x.mp4", "--format", "xml")[0] == 2
    assert run(capsys, "check", "x.mp4", "--stride", "0", "--method", "xcorr")[0] == 2
    code, _, err = run(capsys, "check", "x.mp4", "--model", "no-such-model")
    assert code == 2 and "unknown model" in err
    assert run(capsys, "check", "x.mp4", "--method", "xcorr", "--min-confidence", "1.5")[0] == 2


def test_min_confidence_decides_synchronisable(capsys, folder):
    clip = folder / "clip_+0.6.mp4"
    code, out, _ = run(capsys, "check", clip, "--method", "xcorr", "--format", "jsonl", "--min-confidence", "0.999")
    r = jsonl(out)[0]
    assert code == 0 and not r["synchronisable"] and "low confidence" in r["reason"] and r["offset_sec"] is not None


def test_explain_writes_a_heat_map(capsys, tmp_path):
    from avsync.models import create, save_model

    weights = save_model(create("sparsesync-tiny", duration_sec=2.0, frame_size=32), tmp_path / "tiny")
    clip = make_clip(tmp_path / "a.mp4", 4, 0.0, seed=8)
    png = tmp_path / "explain.png"
    code, out, _ = run(capsys, "explain", clip, "--model", weights, "--out", png, "--format", "json", "--frames", "4")
    info = json.loads(out)
    assert code == 0 and png.stat().st_size > 5000 and 0 <= info["start_sec"] <= 2.0 and info["out"] == str(png)
    assert run(capsys, "explain", clip, "--method", "xcorr", "--out", png)[0] == 2


def test_demo_on_a_folder_of_clips(capsys, tmp_path):
    make_clip(tmp_path / "ex.mp4", 10, 0.0, seed=9)
    code, out, _ = run(capsys, "demo", "--examples", tmp_path, "--method", "xcorr", "--shifts", "-0.6", "1.0",
                       "--format", "json")
    d = json.loads(out)
    assert code == 0 and d["cases"] == 2 and d["within_0.1s"] == 2
    assert [r["true_sec"] for r in d["rows"]] == [-0.6, 1.0]


def test_calibrate_fits_and_measures_on_a_manifest(capsys, tmp_path):
    rows = ["path,split,kind"]
    for i, split in enumerate(["val", "val", "test", "test"]):
        make_clip(tmp_path / f"c{i}.mp4", 9, 0.0, seed=20 + i)
        rows.append(f"c{i}.mp4,{split},flash")
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n")
    cal, rep, png = tmp_path / "cal.json", tmp_path / "report.json", tmp_path / "rel.png"
    code, out, _ = run(capsys, "calibrate", "--data", tmp_path / "manifest.csv", "--method", "xcorr", "--per-clip", "2",
                       "--out", cal, "--report", rep, "--plot", png)
    assert code == 0 and "temperature" in out and png.stat().st_size > 5000
    c, r = json.loads(cal.read_text()), json.loads(rep.read_text())
    assert c["temperature"] > 0 and c["fitted"]["records"] == 4 and c["fitted"]["test_split"] == "test"
    assert r["after"]["all"]["files"] == 4 and r["after"]["all"]["acc1_pm1"] == 1.0
    assert r["after"]["all"]["median_abs_error_ms"] < 40


def test_fix_applies_a_measured_offset_only_at_its_stricter_confidence(capsys, tmp_path):
    src = make_clip(tmp_path / "ahead.mp4", 10, 0.6, seed=13)
    code, out, _ = run(capsys, "check", src, "--method", "xcorr", "--format", "jsonl")
    conf = jsonl(out)[0]["confidence"]
    assert code == 0 and 0.2 <= conf < 0.999
    code, _, err = run(capsys, "fix", src, "-o", tmp_path / "no.mp4", "--method", "xcorr",
                       "--fix-confidence", f"{conf + 0.001:.4f}")
    assert code == 1 and "nothing fixed" in err and not (tmp_path / "no.mp4").exists()
    code, _, _ = run(capsys, "fix", src, "-o", tmp_path / "yes.mp4", "--method", "xcorr",
                     "--fix-confidence", f"{conf - 0.001:.4f}")
    assert code == 0 and (tmp_path / "yes.mp4").is_file()
    from avsync.checker import Calibration
    assert Calibration().fix_min_confidence > Calibration().min_confidence


def test_calibrate_never_writes_into_the_package(capsys, tmp_path):
    import avsync

    shipped = avsync.MODEL_DIR / "xcorr.calibration.json"
    before = shipped.read_bytes()
    (tmp_path / "manifest.csv").write_text("path,split,kind\nc.mp4,val,flash\nc.mp4,test,flash\n")
    make_clip(tmp_path / "c.mp4", 9, 0.0, seed=3)
    code, _, err = run(capsys, "calibrate", "--data", tmp_path / "manifest.csv", "--method", "xcorr")
    assert code == 2 and "--out is required" in err and shipped.read_bytes() == before


def test_offset_frames_count_the_files_own_frames_and_low_rates_warn(capsys, tmp_path):
    fast = make_clip(tmp_path / "fifty.mp4", 10, 0.6, seed=14, fps=50.0)
    code, out, _ = run(capsys, "check", fast, "--method", "xcorr", "--format", "jsonl")
    r = jsonl(out)[0]
    assert code == 0 and r["frame_rate"] == 50.0 and r["offset_frames"] == round(r["offset_sec"] * 50)
    assert abs(r["offset_sec"] - 0.6) < 0.06 and r["warning"] is None
    slow = make_clip(tmp_path / "one.mp4", 12, 0.0, seed=15, fps=1.0)
    code, out, err = run(capsys, "check", slow, "--method", "xcorr", "--format", "jsonl")
    r = jsonl(out)[0]
    assert "low frame rate" in r["warning"] and r["precision_sec"] == 0.5 and "low frame rate" in err


def test_desync_leaves_out_clips_without_evidence(capsys, tmp_path):
    good = make_clip(tmp_path / "good.mp4", 8, 0.4, seed=16)
    silent = make_clip(tmp_path / "silent.mp4", 8, 0.0, seed=16, silent=True)
    still = make_clip(tmp_path / "still.mp4", 8, 0.0, seed=17, still=True)
    code, out, _ = run(capsys, "desync", good, silent, still, "--method", "xcorr", "--format", "json")
    d = json.loads(out)
    by = {Path(c["path"]).name: c for c in d["clips"]}
    assert by["silent.mp4"]["reason"] and by["silent.mp4"]["desync_sec"] is None
    assert by["still.mp4"]["reason"] and by["still.mp4"]["desync_sec"] is None
    assert d["unusable"] == 2 and d["checked"] == 1 and d["desync_sec"] == pytest.approx(by["good.mp4"]["desync_sec"])


def test_a_too_short_file_gets_no_advice_that_does_not_work(capsys, tmp_path):
    short = make_clip(tmp_path / "short.mp4", 2, 0.0, seed=18)
    code, out, err = run(capsys, "check", short, "--method", "xcorr", "--format", "jsonl")
    assert code == 1 and "too short to check" in jsonl(out)[0]["error"] and "--window" not in err
