"""WindowProcess: a file's windows decoded in a forked child, exactly as in the parent; its errors
raised in the parent; stopped when closed or when its parent is gone. A child is forked only from a
process without torch, so each test runs its own fresh interpreter."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import make_video

from avsync.errors import CorruptMediaError, WindowError
from avsync.media.window_process import windows_ahead
from avsync.media.windows import WindowRequest

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a decoding child is forked on Linux only")


def run_fresh(code: str, timeout: float = 120) -> dict:
    """Run ``code`` in a fresh interpreter (torch not loaded); the JSON of its last line."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "tests")})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


PRELUDE = """
import json, sys
import numpy as np
from avsync.media.windows import WindowRequest, decode_windows
from avsync.media.window_process import WindowProcess, can_start_early
"""


def test_the_child_decodes_what_the_parent_would(tmp_path):
    path = make_video(tmp_path / "v.mp4", seconds=4.0, tone_hz=300.0, click_at=[1.3, 2.9], flash_at=[1.3], gop=12,
                      sample_rate=44100, channels=2)
    result = run_fresh(PRELUDE + f"""
request = WindowRequest.of({str(path)!r}, [0.0, 0.4, 0.8, 1.2, 2.0, 2.8, 3.0], 1.0, 25.0, 16000, 20, 16)
before = can_start_early()
process = WindowProcess(request, ahead=2)          # fewer waiting than there are windows: the child waits
got = list(process)
want = list(decode_windows(request))
same = [bool(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])) for a, b in zip(got, want)]
print(json.dumps({{"before": before, "n": [len(got), len(want)], "same": same, "shape": list(got[0][0].shape),
                  "alive": process._process.is_alive(), "torch": "torch" in sys.modules}}))
""")
    assert result["before"] and result["n"] == [7, 7] and all(result["same"])
    assert result["shape"] == [25, 16, 16, 3]
    assert not result["alive"] and not result["torch"]


def test_the_childs_errors_are_raised_in_the_parent(tmp_path):
    path = make_video(tmp_path / "v.mkv", seconds=3.0, tone_hz=440, acodec="pcm_s16le")
    data = make_video(tmp_path / "full.mkv", seconds=4.0, tone_hz=440, acodec="pcm_s16le").read_bytes()
    (tmp_path / "cut.mkv").write_bytes(data[: len(data) // 2])
    result = run_fresh(PRELUDE + f"""
def error(path, starts):
    try:
        list(WindowProcess(WindowRequest.of(path, starts, 1.0)))
    except Exception as e:
        return [type(e).__name__, str(e)]
print(json.dumps({{"outside": error({str(path)!r}, [0.0, 2.52]),
                  "cut": error({str(tmp_path / 'cut.mkv')!r}, [0.0, 1.0, 2.0, 2.8])}}))
""")
    assert result["outside"][0] == "WindowError" and "v.mkv: video window 2.52-3.52 s lies outside" in result["outside"][1]
    assert result["cut"][0] == "CorruptMediaError" and "cut.mkv: " in result["cut"][1]
    assert "truncated" in result["cut"][1]


def test_a_child_stops_when_closed_and_when_its_parent_is_gone(tmp_path):
    path = make_video(tmp_path / "v.mkv", seconds=6.0, acodec="pcm_s16le")
    starts = [round(i * 0.04, 2) for i in range(100)]
    closed = run_fresh(PRELUDE + f"""
process = WindowProcess(WindowRequest.of({str(path)!r}, {starts!r}, 0.4), ahead=2)
windows = iter(process)
next(windows)
process.close()
print(json.dumps({{"alive": process._process.is_alive()}}))
""")
    assert not closed["alive"]
    pid_file = tmp_path / "child.json"                 # not through a pipe: the child would hold it open
    subprocess.run([sys.executable, "-c", PRELUDE + f"""
import os                                          # windows of 1.5 MB, more than a pipe holds: the child's queue
process = WindowProcess(WindowRequest.of({str(path)!r}, {starts!r}, 0.4, size=256, crop=224), ahead=2)
open({str(pid_file)!r}, "w").write(json.dumps({{"child": process._process.pid}}))
import time
deadline = time.monotonic() + 30
while not process._queue.full() and time.monotonic() < deadline:   # the child waits, its feeder mid-window
    time.sleep(0.05)
os._exit(0)                                        # no close: the child finds itself alone and stops
"""], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60, check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT / "tests")})
    orphan = json.loads(pid_file.read_text())
    deadline = time.monotonic() + 15
    while _running(orphan["child"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(orphan["child"]), "the decoding child outlived its parent"


def _running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_a_child_is_forked_only_without_torch():
    import torch  # noqa: F401  (this test process has it; forking it could break torch's thread pools)

    from avsync.media.window_process import can_start_early

    assert not can_start_early()


def test_media_errors_cross_a_process_boundary_intact():
    e = pickle.loads(pickle.dumps(CorruptMediaError("a/b.mp4", "cannot decode the video (bad)")))
    assert type(e) is CorruptMediaError and e.path == "a/b.mp4" and e.reason == "cannot decode the video (bad)"
    assert str(e) == "a/b.mp4: cannot decode the video (bad)"
    assert str(pickle.loads(pickle.dumps(WindowError("x", "outside")))) == "x: outside"


def test_windows_waiting_stay_within_their_memory():
    small = WindowRequest.of("x.mp4", [0.0], 5.0, 25.0, 16000, 37, 32)
    large = WindowRequest.of("x.mp4", [0.0], 5.0, 25.0, 16000, 256, 224)
    assert windows_ahead(small) == 64                  # 0.7 MB a window
    assert windows_ahead(large) == 3                   # 19 MB a window: 64 MB hold 3
    assert windows_ahead(WindowRequest.of("x.mp4", [0.0], 60.0, 25.0, 16000, 1080, 1080)) == 2
