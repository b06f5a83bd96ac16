"""``avsync fix`` end to end: the fixed file keeps every stream, tag, chapter and the whole picture,
--track picks a track, an existing output is refused without --overwrite, a stream the output
container cannot hold is a one-line error, and the output says what was kept and in which codec
each fixed track was written. (Named test_cli_fix.py: tests/media/test_fix.py has the basename
test_fix, and the test folders are not packages.)"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import pytest
from sync_clips import make_clip

from avsync.cli import main


def run(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # argparse: usage errors and --help
        code = e.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def make_film(path: Path, offset: float = 0.6, seconds: float = 8.0) -> Path:
    """An MKV with the picture, the clip's audio ``offset`` s ahead (English) and a copy of it as a
    second track (French commentary), a subtitle stream, two chapters and container tags."""
    clip = make_clip(path.with_suffix(".src.mp4"), seconds, offset, seed=21)
    with av.open(str(clip)) as src, av.open(str(path), "w") as out:
        out.metadata.update({"title": "Film", "creation_time": "2022-01-02T03:04:05.000000Z"})
        video = out.add_stream_from_template(src.streams.video[0])
        tracks = [out.add_stream_from_template(src.streams.audio[0]) for _ in range(2)]
        for t, (lang, title) in zip(tracks, (("eng", "Main"), ("fra", "Commentaire"))):
            t.metadata.update({"language": lang, "title": title})
        sub = out.add_stream("subrip")
        sub.codec_context.subtitle_header = b"[Script Info]\nScriptType: v4.00+\n"
        sub.metadata.update({"language": "deu", "title": "Untertitel"})
        out.set_chapters([{"id": 1, "start": 0, "end": 4000, "time_base": Fraction(1, 1000), "metadata": {"title": "A"}},
                          {"id": 2, "start": 4000, "end": 8000, "time_base": Fraction(1, 1000), "metadata": {"title": "B"}}])
        for packet in src.demux():
            if not packet.size:
                continue
            if packet.stream.type == "video":
                packet.stream = video
                out.mux(packet)
            else:
                for t in tracks:
                    copy = av.Packet(bytes(packet))
                    copy.pts, copy.dts, copy.time_base, copy.stream = packet.pts, packet.dts, packet.time_base, t
                    out.mux(copy)
        cue = av.subtitles.subtitle.SubtitleSet.create(b"0,0,Default,,0,0,0,,Hallo", 0, 1000, pts=1000)
        packet = sub.codec_context.encode_subtitle(cue)
        packet.stream, packet.pts, packet.dts, packet.duration = sub, 1000, 1000, 1000
        out.mux(packet)
    clip.unlink()
    return path


def video_packets(path: Path) -> list[tuple[Fraction, bytes]]:
    with av.open(str(path)) as c:
        return [(p.pts * p.time_base, bytes(p)) for p in c.demux(c.streams.video[0]) if p.size]


def audio_packets(path: Path, track: int) -> list[tuple[Fraction, bytes]]:
    with av.open(str(path)) as c:
        return [(p.pts * p.time_base, bytes(p)) for p in c.demux(c.streams.audio[track]) if p.size]


def test_fix_keeps_every_stream_and_says_what_it_kept(capsys, tmp_path):
    src = make_film(tmp_path / "film.mkv")
    code, out, _ = run(capsys, "fix", src, "-o", tmp_path / "fixed.mkv", "--offset", "0.6", "--format", "json")
    info = json.loads(out)
    assert code == 0 and info["offset_sec"] == 0.6 and not info["measured"] and info["confidence"] is None
    assert info["tracks"] == [0, 1] and info["codecs"] == {"0": "aac", "1": "aac"} and info["chapters"] == 2
    assert [(s["type"], s["action"], s["language"]) for s in info["streams"]] == [
        ("video", "copied", None), ("audio", "shifted", "eng"), ("audio", "shifted", "fra"), ("subtitle", "copied", "deu")]
    fixed = Path(info["out"])
    assert video_packets(fixed) == video_packets(src)   # the whole picture, byte for byte
    with av.open(str(fixed)) as c:
        assert [s.type for s in c.streams] == ["video", "audio", "audio", "subtitle"]
        assert [s.metadata.get("title") for s in c.streams][1:] == ["Main", "Commentaire", "Untertitel"]
        assert [ch["metadata"]["title"] for ch in c.chapters()] == ["A", "B"]
        assert c.metadata["title"] == "Film" and c.metadata["creation_time"].startswith("2022-01-02")
    code, out, _ = run(capsys, "fix", src, "-o", tmp_path / "table.mkv", "--offset", "0.6")
    assert code == 0 and "delayed audio tracks 0 (aac), 1 (aac) by 0.600 s" in out
    assert "kept all 4 streams (1 video, 2 audio, 1 subtitle" in out and "2 chapters" in out


def test_fix_track_picks_one_track(capsys, tmp_path):
    src = make_film(tmp_path / "film.mkv")
    code, out, _ = run(capsys, "fix", src, "-o", tmp_path / "fixed.mkv", "--offset", "-0.3", "--track", "1",
                       "--format", "json")
    info = json.loads(out)
    assert code == 0 and info["tracks"] == [1] and info["codecs"] == {"1": "aac"}
    assert [s["action"] for s in info["streams"]] == ["copied", "copied", "shifted", "copied"]
    assert audio_packets(tmp_path / "fixed.mkv", 0) == audio_packets(src, 0)
    assert audio_packets(tmp_path / "fixed.mkv", 1) != audio_packets(src, 1)
    code, _, err = run(capsys, "fix", src, "-o", tmp_path / "bad.mkv", "--offset", "0.3", "--track", "3")
    assert code == 2 and "no audio track 3" in err and not (tmp_path / "bad.mkv").exists()


def test_fix_refuses_an_existing_output_unless_overwrite(capsys, tmp_path):
    src = make_film(tmp_path / "film.mkv", seconds=4.0)
    dst = tmp_path / "fixed.mkv"
    dst.write_bytes(b"precious")
    code, _, err = run(capsys, "fix", src, "-o", dst, "--method", "xcorr")   # refused before measuring
    assert code == 2 and "already exists" in err and "--overwrite" in err and dst.read_bytes() == b"precious"
    code, _, _ = run(capsys, "fix", src, "-o", dst, "--offset", "0.6", "--overwrite")
    assert code == 0 and video_packets(dst) == video_packets(src)


def test_a_stream_the_output_cannot_hold_is_a_one_line_error(capsys, tmp_path):
    src = make_film(tmp_path / "film.mkv", seconds=4.0)
    code, _, err = run(capsys, "fix", src, "-o", tmp_path / "fixed.mp4", "--offset", "0.6")
    assert code == 1 and "stream #3 (subtitle subrip, deu, Untertitel)" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "fixed.mp4").exists()


def test_measured_fix_keeps_the_whole_picture_and_then_checks_in_sync(capsys, tmp_path):
    src = make_clip(tmp_path / "ahead.mp4", 10, 0.6, seed=11)
    code, out, _ = run(capsys, "fix", src, "-o", tmp_path / "fixed.mp4", "--method", "xcorr", "--format", "json")
    info = json.loads(out)
    assert code == 0 and info["measured"] and abs(info["offset_sec"] - 0.6) < 0.06
    assert video_packets(tmp_path / "fixed.mp4") == video_packets(src)   # was cut by 0.6 s
    assert info["codecs"] == {"0": "aac"} and info["video_copied"]
    code, out, _ = run(capsys, "check", tmp_path / "fixed.mp4", "--method", "xcorr", "--format", "jsonl")
    r = json.loads(out)
    assert code == 0 and r["synchronisable"] and abs(r["offset_sec"]) < 0.06


def test_help_says_fix_delays_the_audio_unlike_shift(capsys):
    code, out, _ = run(capsys, "fix", "--help")
    text = " ".join(out.split())
    assert code == 0
    assert "--offset 0.5` delays the audio by 0.5 s" in text and "opposite direction of `avsync shift" in text
    assert "--track N" in text and "--overwrite" in text and "--fix-confidence" in text


@pytest.mark.parametrize("option", ["--track", "--overwrite", "--offset", "--fix-confidence", "--output"])
def test_every_fix_option_has_help(option):
    from avsync.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction").choices["fix"]
    action = next(a for a in sub._actions if option in a.option_strings)
    assert action.help and len(action.help) > 15
