"""The demo works from an installed package: the example clips are package data, not a checkout's files."""

from pathlib import Path

import avsync
from avsync.demo import EXAMPLES_DIR, example_clips, run_demo, summarise_demo


def test_the_examples_ship_inside_the_package():
    clips = example_clips()
    assert len(clips) == 6 and all(c.parent == EXAMPLES_DIR for c in clips)
    assert EXAMPLES_DIR.resolve().is_relative_to(Path(avsync.__file__).resolve().parent)
    assert (EXAMPLES_DIR / "ATTRIBUTION.md").is_file()


def test_run_demo_from_another_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    clips = [c for c in example_clips() if c.name.startswith("synthetic_dense")]
    rows = run_demo(avsync.load_model("xcorr"), clips, shifts=[0.6, -0.4])
    assert [r["true_sec"] for r in rows] == [0.6, -0.4] and all("error" not in r for r in rows)
    s = summarise_demo(rows)
    assert s["cases"] == 2 and s["answered"] == 2
