"""The console script as a user runs it: its process ends without the interpreter's teardown, so what a
command printed must be flushed first, into a pipe as much as to a terminal."""

import json
import os
import subprocess
import sys

from sync_clips import make_clip

# stdout into a pipe is block-buffered, as for users (this environment may set PYTHONUNBUFFERED)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def test_console_script_output_and_status_survive_the_quick_exit(tmp_path):
    good = make_clip(tmp_path / "good.mp4", 6, 0.4, seed=3)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    for argv, status in (([good], 0), ([good, bad], 1)):
        p = subprocess.run([sys.executable, "-m", "avsync", "check", *map(str, argv), "--method", "xcorr",
                            "--format", "json"], capture_output=True, text=True, timeout=120, env=ENV)
        assert p.returncode == status, p.stderr
        records = json.loads(p.stdout)          # the whole JSON document reached the pipe
        assert [r["path"] for r in records] == [str(a) for a in argv]
        assert "Traceback" not in p.stderr and f"checked {len(argv)} file(s)" in p.stderr


def test_printed_json_is_flushed_before_the_process_ends(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", 8, 0.4, seed=4)
    p = subprocess.run([sys.executable, "-m", "avsync", "timeline", str(clip), "--method", "xcorr", "--format", "json"],
                       capture_output=True, text=True, timeout=120, env=ENV)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["path"] == str(clip)
