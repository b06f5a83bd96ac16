"""Outputs a user owns: ``--out`` takes its format from the extension and never overwrites a file of
another format, resumes by the file's identity from any working folder, and every output path that
cannot be written (or a device that is not there) is one ``avsync: error:`` line, found before the work."""

from __future__ import annotations

import json
import os

import pytest
from cli_run import jsonl, run
from sync_clips import make_folder


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("outs")
    make_folder(d, [0.0, 0.6, -0.4])
    return d


def test_out_format_follows_the_extension(capsys, clips, tmp_path):
    out = tmp_path / "results.jsonl"
    code, _, _ = run(capsys, "check", clips, "--method", "xcorr", "--out", out)
    assert code == 0 and len(jsonl(out.read_text())) == 3
    csv_out = tmp_path / "results.csv"
    code, _, _ = run(capsys, "check", clips, "--method", "xcorr", "--out", csv_out)
    assert code == 0 and csv_out.read_text().startswith("path,")


def test_an_existing_file_of_another_format_is_refused_and_kept(capsys, clips, tmp_path):
    out = tmp_path / "results.jsonl"
    run(capsys, "check", clips, "--method", "xcorr", "--out", out)
    before = out.read_bytes()
    code, _, err = run(capsys, "check", clips, "--method", "xcorr", "--out", out, "--format", "csv")
    assert code == 2 and "extension says jsonl" in err and out.read_bytes() == before
    code, _, err = run(capsys, "check", clips, "--method", "xcorr", "--out", out, "--format", "table")
    assert code == 2 and out.read_bytes() == before
    renamed = tmp_path / "results.txt"
    renamed.write_bytes(before)                                   # JSONL records under a table's name
    code, _, err = run(capsys, "check", clips, "--method", "xcorr", "--out", renamed)
    assert code == 2 and "not a table" in err and renamed.read_bytes() == before
    not_csv = tmp_path / "other.csv"
    not_csv.write_text("name;value\nx;1\n")
    code, _, err = run(capsys, "check", clips, "--method", "xcorr", "--out", not_csv)
    assert code == 2 and not_csv.read_text() == "name;value\nx;1\n"


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".json"])
def test_resume_from_another_working_folder_skips_what_is_done(capsys, clips, tmp_path, monkeypatch, suffix):
    out = tmp_path / f"results{suffix}"
    monkeypatch.chdir(clips)
    run(capsys, "check", ".", "--method", "xcorr", "--out", out)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "check", clips, "--method", "xcorr", "--out", out)
    assert code == 0 and "3 file(s) already in" in err and "checked 0 file(s)" in err


@pytest.mark.parametrize("option", ["--out", "--plot"])
def test_an_output_under_a_file_is_one_line_before_the_work(capsys, clips, tmp_path, option):
    blocker = tmp_path / "file"
    blocker.write_text("I am a file")
    target = blocker / ("x.jsonl" if option == "--out" else "x.png")
    clip = sorted(clips.glob("*.mp4"))[0]
    argv = (["check", clip] if option == "--out" else ["timeline", clip, "--format", "json"]) + [option, target]
    code, out, err = run(capsys, *argv, "--method", "xcorr")
    assert code == 1 and err.strip().splitlines()[-1].startswith(f"avsync: error: {blocker}")
    if option == "--plot":                                       # the timeline was printed before the plot failed
        assert json.loads(out)["segments"]


@pytest.mark.parametrize("device, says", [("cuda", "no CUDA GPU"), ("gpu", "not a device"), ("mps", "only cpu and cuda")])
def test_a_device_that_is_not_there_is_a_usage_error(capsys, clips, device, says):
    import torch

    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("a GPU is there")
    code, _, err = run(capsys, "check", clips, "--device", device)
    assert code == 2 and says in err and "model" not in err.split("error:")[1]


def test_evaluate_report_into_a_missing_folder(tmp_path):
    from avsync.evaluate import write_report

    class Report:
        def to_dict(self):
            return {"acc1": 0.5}

    path = write_report(Report(), tmp_path / "new" / "deeper" / "r.json")
    assert json.loads(path.read_text()) == {"acc1": 0.5} and not [p for p in path.parent.iterdir() if p != path]
    assert os.path.isfile(path)


def test_jobs_give_the_same_records_in_the_same_order(capsys, clips, tmp_path):
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    files = sorted(clips.glob("*.mp4")) + [tmp_path / "missing.mp4"]
    run(capsys, "check", *files, "--method", "xcorr", "--out", one)
    code, _, err = run(capsys, "check", *files, "--method", "xcorr", "--out", two, "--jobs", "2")
    assert code == 1 and "missing.mp4" in err
    strip = lambda recs: [{k: v for k, v in r.items() if k != "per_window"} for r in recs]
    assert strip(jsonl(two.read_text())) == strip(jsonl(one.read_text()))
    assert [r["per_window"] for r in jsonl(two.read_text())] == [r["per_window"] for r in jsonl(one.read_text())]
