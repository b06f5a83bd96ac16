"""fix_audio: the fixed track really moves by the offset, and nothing else a user owns is lost:
every stream (a second audio track, subtitles, attachments), their languages, titles and
dispositions, the chapters, the container's tags and the whole picture, stream-copied byte for byte,
in every container (MKV, MP4, MOV, WebM, AVI); PCM stays PCM (sample-exact), 8 channels work, the
input is never written and an existing output is not replaced unless asked.

The material is written here with PyAV: a flash (centre square) at irregular frame-aligned times,
the same events as noise bursts on audio track 0 ``LEAD`` s EARLY (audio ahead, as a file to fix)
and in sync on track 1 (a commentary, louder), a subtitle stream with two cues, two chapters and
container tags."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from helpers import make_video
from sync_clips import burst_times, event_times, flash_times, matched_lags

from avsync.errors import MediaError, UsageError
from avsync.media import FixReport, fix_audio, shift_audio

FPS, SR, SECONDS, LEAD = 25, 16000, 4.0, 0.5
LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}
SAMPLE_FORMATS = {"pcm_s16le": "s16", "flac": "s16", "pcm_s24le": "s32", "libopus": "flt"}
ASS_HEADER = (b"[Script Info]\nScriptType: v4.00+\n\n[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, "
              b"SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, "
              b"Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
              b"Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\n\n"
              b"[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n")
CUES = ((0.5, 1.5, "Guten Tag"), (2.2, 3.0, "Auf Wiedersehen"))


def events(seconds: float = SECONDS) -> list[float]:
    """Irregular event times on frame boundaries (so a flash starts exactly at its time)."""
    return sorted({round(t * FPS) / FPS for t in event_times(seconds, seed=3) if t > LEAD + 0.1})


VIDEO_OPTIONS = {"libvpx": {"deadline": "realtime", "cpu-used": "8"}, "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8"},
                 "libsvtav1": {"preset": "12"}}


def make_media(path: Path, vcodec: str = "h264", acodec: str = "aac", channels: tuple[int, ...] = (1, 2),
               rate: int = SR, sub: str | None = None, chapters: bool = True, tags: bool = True,
               attachment: bool = False, timecode: str | None = None, data: str | None = None) -> Path:
    """Write the test file (see the module's docstring); ``channels``: one entry per audio track;
    ``timecode``: a tag on the video (MOV/MP4 write a timecode track from it); ``data``: the codec
    of a data stream with four packets."""
    times, rng = events(), np.random.default_rng(7)
    with av.open(str(path), "w") as c:
        if tags:
            c.metadata.update({"title": "A film", "creation_time": "2021-03-04T05:06:07.000000Z",
                               "comment": "keep me"})
        v = c.add_stream(vcodec, rate=FPS, options=VIDEO_OPTIONS.get(vcodec, {}))
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        if timecode:
            v.metadata["timecode"] = timecode
        v.codec_context.gop_size = 12
        tracks = []
        for i, ch in enumerate(channels):
            a = c.add_stream(acodec, rate=rate, layout=LAYOUTS[ch])
            a.metadata.update({"language": ("eng", "fra")[i % 2], "title": ("Main", "Commentaire")[i % 2]})
            a.disposition = av.stream.Disposition.default if i == 0 else av.stream.Disposition.comment
            tracks.append(a)
        s = None
        if sub:
            s = c.add_stream(sub)
            s.codec_context.subtitle_header = ASS_HEADER
            s.metadata.update({"language": "deu", "title": "Untertitel"})
            s.disposition = av.stream.Disposition.forced
        if chapters:
            c.set_chapters([{"id": 1, "start": 0, "end": 2000, "time_base": Fraction(1, 1000),
                             "metadata": {"title": "Opening"}},
                            {"id": 2, "start": 2000, "end": 4000, "time_base": Fraction(1, 1000),
                             "metadata": {"title": "Ending"}}])
        if attachment:
            c.add_attachment("font.ttf", "font/ttf", b"\x00\x01FONT" * 50)
        d = c.add_data_stream(data) if data else None
        n = int(SECONDS * FPS)
        frames = np.full((n, 48, 64, 3), 70, np.uint8)
        frames[:, :, :32] = 110
        for t in times:
            i = int(round(t * FPS))
            for k, level in enumerate((250, 190, 150, 120)):
                if i + k < n:
                    frames[i + k, 16:32, 24:40] = level
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            c.mux(v.encode(frame))
        c.mux(v.encode(None))
        burst = rng.standard_normal(int(0.03 * rate)) * np.exp(-np.arange(int(0.03 * rate)) / (0.0075 * rate))
        for k, a in enumerate(tracks):
            ch = a.codec_context.channels
            x = (rng.standard_normal((int(SECONDS * rate), ch)) * 0.003).astype(np.float32)
            for t in times:
                j = int(round((t - (LEAD if k == 0 else 0.0)) * rate))
                x[j:j + len(burst)] += (0.5 if k == 0 else 0.7) * burst[:, None]
            fmt = SAMPLE_FORMATS.get(acodec, "flt")
            if fmt == "s16":
                x = np.round(np.clip(x, -1, 1) * 32767).astype(np.int16)
            elif fmt == "s32":
                x = (np.round(np.clip(x, -1, 1) * 8388607).astype(np.int32) << 8)
            for j in range(0, len(x), 1024):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x[j:j + 1024]).reshape(1, -1), format=fmt,
                                                   layout=LAYOUTS[ch])
                frame.sample_rate, frame.pts, frame.time_base = rate, j, Fraction(1, rate)
                c.mux(a.encode(frame))
            c.mux(a.encode(None))
        if s is not None:
            for j, (t0, t1, text) in enumerate(CUES):
                cue = av.subtitles.subtitle.SubtitleSet.create(f"{j},0,Default,,0,0,0,,{text}".encode(), 0,
                                                                int((t1 - t0) * 1000), pts=int(t0 / s.time_base))
                packet = s.codec_context.encode_subtitle(cue)
                packet.stream, packet.pts = s, int(t0 / s.time_base)
                packet.dts, packet.duration = packet.pts, int((t1 - t0) / s.time_base)
                c.mux(packet)
        if d is not None:
            for k in range(4):
                packet = av.Packet(b"KLV%d" % k)
                packet.stream, packet.time_base, packet.pts = d, Fraction(1, 1000), 500 + 1000 * k
                packet.dts = packet.pts
                c.mux(packet)
    return path


# --------------------------------------------------------------------------------------------------
# reading back


def packets(path: Path, kind: str, i: int = 0) -> list[tuple[Fraction | None, bytes]]:
    """(presentation time, bytes) of every packet of the i-th stream of a kind, in file order."""
    with av.open(str(path)) as c:
        s = getattr(c.streams, kind)[i]
        return [(None if p.pts is None else p.pts * p.time_base, bytes(p)) for p in c.demux(s) if p.size]


def cues(path: Path) -> list[tuple[float, bytes]]:
    """(time, text) of the subtitle packets that carry text (MP4 adds empty ones between cues)."""
    return [(round(float(t), 3), b) for t, b in packets(path, "subtitles") if b.strip(b"\x00")]


def audio(path: Path, track: int = 0) -> tuple[float, np.ndarray, int, av.audio.codeccontext.AudioCodecContext]:
    """(time of the first sample, float32 samples (S, C), sample rate, decoder) of an audio track."""
    with av.open(str(path)) as c:
        s = c.streams.audio[track]
        resampler = av.AudioResampler(format="flt")
        first, parts = None, []
        for frame in c.decode(s):
            for out in resampler.resample(frame):
                first = float(out.pts * out.time_base) if first is None else first
                parts.append(out.to_ndarray().reshape(-1, len(out.layout.channels)))
        return first, np.concatenate(parts), s.codec_context.sample_rate, s.codec_context


def onsets(path: Path, track: int = 0, channel: int = 0) -> list[float]:
    first, x, rate, _ = audio(path, track)
    return [first + t for t in burst_times(x[:, channel], rate, level=0.1)]


def flashes(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]
    return flash_times(np.stack(frames), FPS)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_moved(src: Path, out: Path, offset: float, track: int = 0, channel: int = 0) -> None:
    """Every burst of the track that still lies inside it sounds ``offset`` s later in ``out``."""
    before, after = onsets(src, track, channel), onsets(out, track, channel)
    first, x, rate, _ = audio(out, track)
    inside = [t + offset for t in before if first <= t + offset < first + len(x) / rate - 0.03]
    assert len(inside) >= 3
    assert len(after) == len(inside)
    assert np.abs(np.array(after) - np.array(inside)).max() < 2.5e-3   # lossy codecs move an onset ~1 ms


def assert_video_copied(src: Path, out: Path) -> None:
    """Same packets, byte for byte, at the same times: all of the picture, never re-encoded."""
    a, b = packets(src, "video"), packets(out, "video")
    assert len(a) == len(b) == SECONDS * FPS
    assert [x[1] for x in a] == [x[1] for x in b]
    assert [x[0] for x in a] == [x[0] for x in b]


# --------------------------------------------------------------------------------------------------
# tests


@pytest.mark.parametrize("suffix, sub", [(".mkv", "subrip"), (".mkv", "ass"), (".mp4", "mov_text"), (".mov", "mov_text")])
def test_fix_keeps_every_stream_its_tags_the_chapters_and_the_whole_picture(tmp_path, suffix, sub):
    src = make_media(tmp_path / f"src{suffix}", sub=sub)
    before = digest(src)
    report = fix_audio(src, tmp_path / f"out{suffix}", LEAD, tracks=[0])
    out = Path(report.dst)
    assert digest(src) == before
    with av.open(str(src)) as a, av.open(str(out)) as b:
        assert [(s.type, s.codec_context and s.codec_context.name) for s in a.streams] == \
               [(s.type, s.codec_context and s.codec_context.name) for s in b.streams]
        assert [s.type for s in b.streams][:4] == ["video", "audio", "audio", "subtitle"]
        for x, y in zip(a.streams, b.streams):
            assert int(x.disposition) == int(y.disposition)
            for key in ("language", "title", "name", "handler_name"):
                assert x.metadata.get(key) == y.metadata.get(key), (x.index, key)
        assert [b.streams.audio[i].metadata.get("language") for i in (0, 1)] == ["eng", "fra"]
        assert {k: v for k, v in a.metadata.items() if k.lower() != "encoder"} == \
               {k: v for k, v in b.metadata.items() if k.lower() != "encoder"}
        assert b.metadata.get("title") == "A film" and b.metadata.get("creation_time", "").startswith("2021-03-04")

        def chapters(c):
            return [(ch["start"] * ch["time_base"], ch["end"] * ch["time_base"], ch["metadata"].get("title"))
                    for ch in c.chapters()]

        assert chapters(b) == chapters(a) == [(0, 2, "Opening"), (2, 4, "Ending")]
    assert_video_copied(src, out)
    assert packets(out, "audio", 1) == packets(src, "audio", 1)   # the commentary: untouched
    assert cues(out) == cues(src) and [t for t, _ in cues(out)] == [0.5, 2.2]
    assert_moved(src, out, LEAD)
    lags = matched_lags(flashes(out), onsets(out), 0.0, tol=0.003)  # now in sync with the picture
    assert len(lags) == len(onsets(out)) >= 3
    assert isinstance(report, FixReport) and report.tracks == (0,) and report.codecs == {0: "aac"}
    assert [(s.index, s.type, s.action) for s in report.streams] == [
        (0, "video", "copied"), (1, "audio", "shifted"), (2, "audio", "copied"), (3, "subtitle", "copied")]
    assert report.chapters == 2 and report.offset_sec == LEAD and report.src == str(src)


@pytest.mark.parametrize("suffix, vcodec, acodec, offset", [
    (".mkv", "h264", "aac", LEAD), (".mp4", "h264", "aac", -0.3), (".mov", "h264", "pcm_s16le", LEAD),
    (".webm", "libvpx-vp9", "libopus", LEAD), (".webm", "libvpx", "libopus", -0.3),
    (".avi", "mpeg4", "pcm_s16le", LEAD), (".avi", "mpeg4", "libmp3lame", LEAD), (".mkv", "h264", "flac", -0.3),
    (".ts", "h264", "aac", LEAD), (".webm", "libsvtav1", "libopus", LEAD)])
def test_every_container_stream_copies_the_video_and_keeps_the_audio_codec(tmp_path, suffix, vcodec, acodec, offset):
    """(AV1 is decoded by libdav1d, and FFmpeg has no encoder of that name: copied all the same.)"""
    if vcodec not in av.codecs_available:
        pytest.skip(f"no {vcodec} encoder to make the test file")
    rate = 48000 if acodec == "libopus" else SR
    src = make_media(tmp_path / f"src{suffix}", vcodec, acodec, channels=(2, 1), rate=rate)
    report = fix_audio(src, tmp_path / f"out{suffix}", offset)   # both tracks
    out = Path(report.dst)
    assert_video_copied(src, out)
    assert report.tracks == (0, 1) and all("dropped" in n for n in report.notes)
    for track in (0, 1):
        _, x, rate0, a = audio(src, track)
        _, y, rate1, b = audio(out, track)
        assert (b.name, b.format.name, b.channels, rate1) == (a.name, a.format.name, a.channels, rate0)
        assert abs(len(y) - len(x)) <= 0.05 * rate0   # as long as before (a delay stops at the picture's end)
        assert_moved(src, out, offset, track)
    assert report.codecs[0] == {"libmp3lame": "libmp3lame", "libopus": "libopus"}.get(acodec, acodec)


@pytest.mark.parametrize("suffix, offset", [(".mkv", LEAD), (".mkv", -0.3), (".avi", 0.25), (".mov", -0.3)])
def test_pcm_stays_pcm_and_its_samples_move_exactly(tmp_path, suffix, offset):
    src = make_media(tmp_path / f"src{suffix}", "mpeg4" if suffix == ".avi" else "h264", "pcm_s16le", (1, 2))
    out = fix_audio(src, tmp_path / f"out{suffix}", offset, tracks=[0]).dst
    with av.open(str(src)) as a, av.open(str(out)) as b:
        assert b.streams.audio[0].codec_context.name == "pcm_s16le"
        x = np.concatenate([f.to_ndarray().reshape(-1) for f in a.decode(a.streams.audio[0])])
        y = np.concatenate([f.to_ndarray().reshape(-1) for f in b.decode(b.streams.audio[0])])
    assert y.dtype == x.dtype == np.int16 and len(y) == len(x)
    d = int(round(abs(offset) * SR))
    if offset > 0:   # silence, then the source; its last d samples would play after the picture
        assert not y[:d].any() and np.array_equal(y[d:], x[:len(x) - d])
    else:            # the source from d on, then silence
        assert np.array_equal(y[:len(x) - d], x[d:]) and not y[len(x) - d:].any()


def test_track_picks_one_track_and_the_other_stays_byte_identical(tmp_path):
    src = make_media(tmp_path / "src.mkv", sub="subrip")
    report = fix_audio(src, tmp_path / "out.mkv", -0.2, tracks=[1])
    assert report.tracks == (1,) and report.codecs == {1: "aac"}
    assert packets(report.dst, "audio", 0) == packets(src, "audio", 0)
    assert packets(report.dst, "audio", 1) != packets(src, "audio", 1)
    assert_moved(src, Path(report.dst), -0.2, track=1)
    assert [s.action for s in report.streams] == ["copied", "copied", "shifted", "copied"]
    assert any("first 0.200 s were dropped" in n for n in report.notes)
    with pytest.raises(UsageError, match="no audio track 2"):
        fix_audio(src, tmp_path / "bad.mkv", 0.2, tracks=[2])
    assert not (tmp_path / "bad.mkv").exists()


@pytest.mark.parametrize("suffix, acodec", [(".mp4", "aac"), (".mkv", "pcm_s16le"), (".mkv", "flac")])
def test_eight_channels(tmp_path, suffix, acodec):
    src = make_media(tmp_path / f"src{suffix}", acodec=acodec, channels=(8,), chapters=False)
    report = fix_audio(src, tmp_path / f"out{suffix}", LEAD)
    a = audio(src)[3]
    _, y, _, b = audio(Path(report.dst))
    assert y.shape[1] == b.channels == 8 and b.layout.name == a.layout.name and b.name == a.name
    for channel in (0, 7):
        assert_moved(src, Path(report.dst), LEAD, channel=channel)
    assert_video_copied(src, Path(report.dst))


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_audio_that_starts_late_keeps_its_start_and_the_picture_all_of_its(tmp_path, suffix):
    src = make_video(tmp_path / f"late{suffix}", seconds=5.0, audio_start_sec=1.0, click_at=[2.0], flash_at=[2.5],
                     gop=12)
    out = Path(fix_audio(src, tmp_path / f"out{suffix}", 0.5).dst)
    a, b = packets(src, "video"), packets(out, "video")
    assert a == b and len(b) == 125 and b[0][0] == 0
    (t0, x, rate, _), (t1, y, _, _) = audio(src), audio(out)
    assert t1 == pytest.approx(t0, abs=1e-3) and t0 == pytest.approx(1.0, abs=0.07)   # (MP4: AAC's priming first)
    click = t1 + np.flatnonzero(np.abs(y[:, 0]) > 0.3)[0] / rate
    assert click == pytest.approx(t0 + np.flatnonzero(np.abs(x[:, 0]) > 0.3)[0] / rate + 0.5, abs=1e-3)
    assert click == pytest.approx(2.5, abs=0.005)   # heard with its flash


def test_refuses_the_input_and_an_existing_output_unless_overwrite(tmp_path):
    src = make_media(tmp_path / "src.mkv", chapters=False)
    before = digest(src)
    with pytest.raises(UsageError, match="refusing to write over the input"):
        fix_audio(src, src, LEAD)
    link = tmp_path / "link.mkv"
    link.symlink_to(src)
    with pytest.raises(UsageError, match="refusing to write over the input"):
        fix_audio(src, link, LEAD)
    assert digest(src) == before
    dst = tmp_path / "out.mkv"
    dst.write_bytes(b"mine")
    with pytest.raises(UsageError, match="already exists"):
        fix_audio(src, dst, LEAD)
    assert dst.read_bytes() == b"mine"
    fix_audio(src, dst, LEAD, overwrite=True)
    assert_video_copied(src, dst)
    assert digest(src) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.mkv", "out.mkv", "src.mkv"]  # no temporary left


def test_a_stream_the_output_container_cannot_hold_is_an_error_naming_it(tmp_path):
    src = make_media(tmp_path / "src.mkv", sub="subrip")
    with pytest.raises(MediaError, match=r"stream #3 \(subtitle subrip, deu, Untertitel\).*cannot be stored in a \.mp4"):
        fix_audio(src, tmp_path / "out.mp4", LEAD)
    att = make_media(tmp_path / "att.mkv", attachment=True)
    with pytest.raises(MediaError, match=r"stream #3 .*attachment font\.ttf.*\.mp4"):
        fix_audio(att, tmp_path / "out.mp4", LEAD)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["att.mkv", "src.mkv"]


def test_attachments_are_kept(tmp_path):
    src = make_media(tmp_path / "src.mkv", attachment=True)
    report = fix_audio(src, tmp_path / "out.mkv", LEAD)
    with av.open(str(src)) as a, av.open(str(report.dst)) as b:
        x, y = a.streams[3], b.streams[3]
        assert y.type == "attachment" and (y.metadata.get("filename"), y.mimetype, bytes(y.data)) == \
               (x.metadata.get("filename"), x.mimetype, bytes(x.data)) == ("font.ttf", "font/ttf", b"\x00\x01FONT" * 50)
    assert report.streams[3].action == "attached"


def test_a_codec_the_output_cannot_take_falls_back_and_says_so(tmp_path):
    src = make_media(tmp_path / "src.webm", "libvpx", "libopus", channels=(2,), rate=48000, chapters=False)
    report = fix_audio(src, tmp_path / "out.avi", LEAD)   # AVI holds VP8 but not Opus
    assert report.codecs == {0: "pcm_s16le"} and any("opus" in n and "pcm_s16le" in n for n in report.notes)
    assert audio(Path(report.dst))[3].name == "pcm_s16le"
    assert_video_copied(src, Path(report.dst))
    assert_moved(src, Path(report.dst), LEAD)


def test_shift_audio_still_makes_test_material_as_before(tmp_path):
    """shift_audio (avsync shift) is unchanged: it cuts to the overlap, unlike fix."""
    src = make_media(tmp_path / "src.mp4", channels=(1,), chapters=False)
    cut = shift_audio(src, tmp_path / "cut.mp4", -LEAD)
    assert len(packets(cut, "video")) < len(packets(src, "video"))


def test_a_timecode_track_is_kept(tmp_path):
    src = make_media(tmp_path / "src.mov", channels=(1,), chapters=False, timecode="01:02:03:04")
    report = fix_audio(src, tmp_path / "out.mov", LEAD)
    with av.open(str(src)) as a, av.open(str(report.dst)) as b:
        assert [s.type for s in a.streams] == [s.type for s in b.streams] == ["video", "audio", "data"]
        assert b.streams[2].metadata.get("timecode") == a.streams[2].metadata.get("timecode") == "01:02:03:04"
        assert b.streams[0].metadata.get("timecode") == "01:02:03:04"
    assert any("timecode track" in n for n in report.notes)
    assert_video_copied(src, Path(report.dst))


def test_a_data_stream_is_copied(tmp_path):
    src = make_media(tmp_path / "src.ts", channels=(1,), chapters=False, tags=False, data="klv")
    report = fix_audio(src, tmp_path / "out.ts", LEAD)
    assert [(s.type, s.action) for s in report.streams] == [("video", "copied"), ("audio", "shifted"), ("data", "copied")]
    assert packets(report.dst, "data") == packets(src, "data") and len(packets(src, "data")) == 4
    assert_video_copied(src, Path(report.dst))
