"""A folder of every awkward file a user may have checks to one record per file in a real process
(exit 1, no traceback, no crash), and ``kill -9`` in the middle of a resumable run loses and
duplicates nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import make_video
from sync_clips import make_clip

from avsync.media import write_video

AVSYNC = [str(Path(sys.executable).with_name("avsync"))]   # the console script, as a user runs it


@pytest.fixture(scope="module")
def awkward(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("awkward")
    make_clip(d / "good.mp4", 8, 0.4, seed=1)
    make_clip(d / "silent.mp4", 8, 0.0, seed=2, silent=True)
    make_clip(d / "still.mp4", 8, 0.0, seed=3, still=True)
    make_clip(d / "one_fps.mp4", 12, 0.0, seed=4, fps=1.0)
    make_clip(d / "short.mp4", 1.5, 0.0, seed=5)
    (d / "junk.mp4").write_bytes(b"not a video at all " * 50)
    (d / "empty.mov").write_bytes(b"")
    whole = make_clip(d / "whole.mp4", 8, 0.0, seed=6).read_bytes()
    (d / "truncated.mp4").write_bytes(whole[: len(whole) // 2])
    (d / "whole.mp4").unlink()
    make_video(d / "audio_only.mp4", seconds=6, video=False)
    make_video(d / "video_only.mp4", seconds=6, audio=False)
    make_video(d / "late_audio.mkv", seconds=8, audio_start_sec=3.0, click_at=[4.0, 6.0], flash_at=[4.0, 6.0])
    frames = np.zeros((150, 32, 32, 3), np.uint8)
    for channels, codec, suffix in ((8, "aac", ".mp4"), (6, "pcm_s16le", ".mkv"), (8, "pcm_s16le", ".mkv")):
        audio = np.zeros((channels, 96000), np.float32)
        audio[:, ::8000] = 0.5
        write_video(d / f"ch{channels}_{codec}{suffix}", frames, audio, sample_rate=16000, acodec=codec)
    return d


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_every_awkward_file_gets_one_record_and_nothing_crashes(awkward, tmp_path):
    out = tmp_path / "r.jsonl"
    p = subprocess.run(AVSYNC + ["check", str(awkward), "--method", "xcorr", "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 1, p.stderr                      # some failed; the process did not crash
    assert "Traceback" not in p.stderr
    recs = {Path(r["path"]).name: r for r in _records(out)}
    files = {f.name for f in awkward.iterdir()}
    assert set(recs) == files and len(_records(out)) == len(files)
    for name in ("junk.mp4", "empty.mov", "truncated.mp4", "audio_only.mp4", "video_only.mp4", "short.mp4"):
        assert recs[name]["error"] and recs[name]["offset_sec"] is None, name
    for name in ("silent.mp4", "still.mp4"):
        assert not recs[name]["synchronisable"] and recs[name]["reason"], name
    assert recs["good.mp4"]["synchronisable"] and abs(recs["good.mp4"]["offset_sec"] - 0.4) < 0.06
    assert recs["one_fps.mp4"]["warning"]
    for name in ("ch8_aac.mp4", "ch6_pcm_s16le.mkv", "ch8_pcm_s16le.mkv"):
        assert recs[name]["error"] is None, recs[name]
    errors = [line for line in p.stderr.splitlines() if line.startswith("avsync: error:")]
    assert len(errors) == sum(1 for r in recs.values() if r["error"])


def test_kill_9_then_rerun_loses_and_duplicates_nothing(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(16):
        make_clip(folder / f"c{i:02d}.mp4", 8, round(0.1 * (i % 5), 1), seed=40 + i)
    out = tmp_path / "r.jsonl"
    cmd = AVSYNC + ["check", str(folder), "--method", "xcorr", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.is_file() and out.read_text().count("\n") >= 3:
            break
        time.sleep(0.05)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = _records(out)
    assert 3 <= len(partial)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    names = [Path(r["path"]).name for r in _records(out)]
    assert sorted(names) == sorted(f.name for f in folder.iterdir())      # nothing lost, nothing twice
    assert [Path(r["path"]).name for r in partial] == names[: len(partial)]  # what was written is kept as it was
