"""prepare: the paper's format, sync kept, parallel, resumable, inputs untouched, failures listed."""

import hashlib

import av
import pytest
from helpers import click_time, flash_time, make_video

from avsync.cli import main
from avsync.errors import UsageError
from avsync.media import prepare_folder, probe, read_clip


def digest(folder) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def in_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("in")
    make_video(d / "a.mp4", seconds=1.5, fps=30, size=(36, 64), channels=2, sample_rate=44100,
               flash_at=[1.0], click_at=[1.0])
    make_video(d / "sub" / "b.mkv", seconds=1.5, fps=12, size=(64, 36), rotation=90, audio_start_sec=0.5,
               flash_at=[1.0], click_at=[1.0])
    make_video(d / "vfr.mov", seconds=1.5, vfr=True, channels=6, sample_rate=48000, flash_at=[1.0], click_at=[1.0])
    make_video(d / "silent.mp4", seconds=1.0, audio=False)
    (d / "notes.mp4").write_text("not a video")
    (d / "readme.txt").write_text("ignored: not a video suffix")
    return d


def test_prepare_folder(tmp_path, in_dir):
    before = digest(in_dir)
    out = tmp_path / "out"
    summary = prepare_folder(in_dir, out, workers=2)
    assert sorted(summary.done) == sorted(str(out / n) for n in ("a.mp4", "sub/b.mp4", "vfr.mp4"))
    assert sorted(e.split(":")[0] for _, e in summary.failed) == sorted(str(in_dir / n) for n in ("notes.mp4", "silent.mp4"))
    assert digest(in_dir) == before
    for path in summary.done:
        info = probe(path)
        v, a = info.video, info.audio
        assert (v.codec, v.fps, v.variable_fps, min(v.width, v.height)) == ("h264", 25.0, False, 256)
        assert v.width % 2 == 0 and v.height % 2 == 0 and v.rotation == 0
        assert (a.codec, a.sample_rate, a.channels) == ("aac", 16000, 1)
        with av.open(path) as c:
            assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"
        clip = read_clip(path, 0.0, 1.4)
        assert flash_time(clip.frames, 25) == pytest.approx(1.0, abs=0.041)
        assert click_time(clip.audio, 16000) == pytest.approx(1.0, abs=2e-3)
    assert (probe(out / "a.mp4").video.width, probe(out / "a.mp4").video.height) == (456, 256)
    b = probe(out / "sub" / "b.mp4")
    assert (b.video.width, b.video.height) == (456, 256)  # 36x64 turned upright: landscape
    assert b.audio.start_sec == pytest.approx(0.5, abs=0.07)  # late audio stays late

    (out / "a.mp4").unlink()  # as if interrupted before a.mp4 was renamed into place
    (out / ".a.99999.tmp.mp4").write_bytes(b"partial")
    again = prepare_folder(in_dir, out, workers=1)
    assert again.done == [str(out / "a.mp4")] and len(again.skipped) == 2 and len(again.failed) == 2


def test_cli_prepare_reports_failures(tmp_path, in_dir, capsys):
    assert main(["prepare", str(in_dir), str(tmp_path / "o"), "--workers", "2", "--size", "64"]) == 1
    captured = capsys.readouterr()
    assert "3 written, 0 already done, 2 failed" in captured.out
    assert "notes.mp4: not a media file" in captured.err and "silent.mp4: no audio stream" in captured.err
    assert min(probe(tmp_path / "o" / "a.mp4").video.width, probe(tmp_path / "o" / "a.mp4").video.height) == 64


def test_refuses_output_inside_input(in_dir):
    with pytest.raises(UsageError):
        prepare_folder(in_dir, in_dir / "out")
    with pytest.raises(UsageError):
        prepare_folder(in_dir / "nope", in_dir.parent / "x")
    assert main(["prepare", str(in_dir), str(in_dir / "o"), "--workers", "0"]) == 2
