"""``fix_audio``: a copy of a file with some audio track(s) delayed by a measured offset and
everything else kept as it was.

Every stream of the source is written to the output: video, audio, subtitle and data streams are
stream-copied (their packets keep their bytes and timestamps; nothing is cut), attachments are
re-attached, the stream metadata (language, title...), the dispositions (default, forced...), the
container's metadata (title, creation_time...) and its chapters are copied. Only the audio tracks
being fixed are decoded and re-encoded, in their own codec where FFmpeg has an encoder for it, at
their sample rate and channel layout: a delayed track keeps its start and its length (silence leads
it; what would run past the end of the file is dropped), an advanced one loses its first |offset|
seconds and silence pads its end. A stream the output container cannot hold is an error, never a
silent drop.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Sequence

import av
import numpy as np

from avsync.errors import MediaError, NoAudioStreamError, UsageError
from avsync.fileio import ensure_writable
from avsync.media.probe import open_media
from avsync.media.writer import output_container

_DISCARD_ALL = 48  # AVDISCARD_ALL: a stream the demuxer hides (the text track of MP4 chapters)
_CHUNK = 4096      # samples per frame handed to the encoder (it re-chunks to its own frame size)
_GAP = 0.002       # a jump in the decoded audio's timestamps larger than this (seconds) is kept as such
# tags the muxer writes itself (copying them would describe the source), and the statistics mkvmerge
# writes, which no longer hold for a re-encoded track
_MUXER_TAGS = {"duration", "encoder"}
_STATISTICS_TAGS = {"bps", "number_of_frames", "number_of_bytes", "_statistics_tags", "_statistics_writing_app",
                    "_statistics_writing_date_utc"}
# encoders FFmpeg calls by another name than the codec, or that need strict=experimental
_ENCODERS = {"mp3": "libmp3lame", "opus": "libopus", "vorbis": "libvorbis"}
_FALLBACK = {".mp4": "aac", ".m4v": "aac", ".mov": "aac", ".3gp": "aac", ".mkv": "flac", ".mka": "flac",
             ".webm": "libopus", ".avi": "pcm_s16le", ".ogg": "libopus", ".ts": "aac", ".mts": "aac"}
_PACKED = {"u8p": "u8", "s16p": "s16", "s32p": "s32", "s64p": "s64", "fltp": "flt", "dblp": "dbl"}
_DTYPES = {"u8": np.uint8, "s16": np.int16, "s32": np.int32, "s64": np.int64, "flt": np.float32,
           "dbl": np.float64}


@dataclass(frozen=True)
class KeptStream:
    """One stream of the output: ``index`` in the source (the output keeps their order), what it is,
    and ``action``: "copied" (packets unchanged), "shifted" (re-encoded, moved by the offset) or
    "attached" (an attachment written into the header)."""

    index: int
    type: str
    codec: str
    action: str
    language: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class FixReport:
    """What :func:`fix_audio` wrote. ``tracks``: the audio tracks shifted (0-based among the source's
    audio streams); ``codecs``: the codec each of them was written in; ``streams``: every stream
    kept; ``notes``: what a user should know (a codec fallback, audio dropped at an edge)."""

    src: str
    dst: str
    offset_sec: float
    tracks: tuple[int, ...]
    codecs: dict[int, str]
    streams: tuple[KeptStream, ...]
    chapters: int
    video_copied: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (track numbers as string keys of ``codecs``)."""
        d = asdict(self)
        d["codecs"] = {str(k): v for k, v in self.codecs.items()}
        d["tracks"], d["notes"] = list(self.tracks), list(self.notes)
        d["streams"] = [asdict(s) for s in self.streams]
        return d


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))


def _codec_name(stream: av.stream.Stream) -> str:
    ctx = stream.codec_context
    if ctx is None or ctx.codec is None:
        return stream.type
    return ctx.codec.canonical_name


def _describe(stream: av.stream.Stream) -> str:
    md = stream.metadata
    extra = ", ".join(x for x in (md.get("language"), md.get("title") or md.get("name")) if x and x != "und")
    return f"stream #{stream.index} ({stream.type} {_codec_name(stream)}{', ' + extra if extra else ''})"


def _copy_tags(src: av.stream.Stream, dst: av.stream.Stream, reencoded: bool = False) -> None:
    """The stream's metadata (language, title, handler...) and its dispositions (default, forced...)."""
    md = dict(src.metadata)
    if "title" not in md and md.get("name"):  # MP4/MOV read a track's title as 'name'
        md["title"] = md["name"]
    drop = _MUXER_TAGS | (_STATISTICS_TAGS if reencoded else set())
    for key, value in md.items():
        if key.lower() not in drop:
            dst.metadata[key] = value
    dst.disposition = src.disposition


class _Copy:
    """Muxes a source stream's packets unchanged (bytes and timestamps)."""

    action = "copied"

    def __init__(self, out: av.container.OutputContainer, src: av.stream.Stream) -> None:
        self.out, self.src = out, src
        # opaque: take the decoder's context as it is (PyAV otherwise looks for an encoder of the
        # decoder's name, and there is none called libdav1d: AV1 could not be copied)
        self.stream = out.add_stream_from_template(src, opaque=True)
        _copy_tags(src, self.stream)
        self.codec = _codec_name(src)
        self.end: float | None = None  # end of its last packet, seconds

    def feed(self, packet: av.Packet) -> None:
        if not packet.size:  # the demuxer's end-of-stream marker
            return
        if packet.pts is not None and packet.time_base is not None:
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            self.end = end if self.end is None else max(self.end, end)
        packet.stream = self.stream
        self.out.mux(packet)

    def close(self, file_end: float | None) -> None:
        """Nothing is buffered when copying."""


@dataclass(frozen=True)
class _Encoding:
    """How a shifted track is encoded: ``codec`` (FFmpeg encoder), ``format`` (the packed sample
    format the samples are worked on in), ``padding`` (samples of encoder priming the first packet
    starts before the first sample fed)."""

    codec: str
    format: str
    layout: str
    bit_rate: int | None
    padding: int


def _configure(enc: av.codec.context.CodecContext, e: _Encoding, rate: int) -> None:
    enc.sample_rate, enc.layout = rate, e.layout
    formats = [f.name for f in (enc.codec.audio_formats or [])]
    if e.format in formats:
        enc.format = e.format
    elif e.format + "p" in formats:
        enc.format = e.format + "p"
    enc.time_base = Fraction(1, rate)
    if e.bit_rate:
        enc.bit_rate = e.bit_rate
    if e.codec in ("vorbis", "opus"):  # FFmpeg's own encoders for these are experimental
        enc.options = {"strict": "experimental"}


def _trial(name: str, src: av.audio.stream.AudioStream) -> _Encoding | None:
    """The encoding of ``src``'s samples with encoder ``name``, or None where it cannot (no such
    encoder, or not at this sample rate or channel layout). Encodes a little silence to learn the
    encoder's priming."""
    ctx = src.codec_context
    rate, channels = int(ctx.sample_rate), int(ctx.channels)
    try:
        codec = av.Codec(name, "w")
    except (ValueError, av.error.FFmpegError):
        return None
    if codec.type != "audio":
        return None
    formats = [f.name for f in (codec.audio_formats or [])]
    source = _PACKED.get(ctx.format.name, ctx.format.name) if ctx.format else "flt"
    # the source's own sample format (packed: one plane whatever the channel count; PyAV lists 9
    # planes for a planar 8-channel frame) when the encoder takes it, so PCM stays bit-exact
    fmt = source if source in formats or source + "p" in formats or not formats else \
        _PACKED.get(formats[0], formats[0])
    if fmt not in _DTYPES:
        fmt = "flt"
    layout = ctx.layout.name if ctx.layout is not None and ctx.layout.nb_channels == channels else \
        av.AudioLayout(channels).name
    lossy = not (codec.lossless or name.startswith("pcm_"))
    bit_rate = (ctx.bit_rate or _tag_bitrate(src)) if lossy else None
    e = _Encoding(codec.name, fmt, layout, int(bit_rate) if bit_rate else None, 0)
    try:
        enc = av.CodecContext.create(codec.name, "w")
        _configure(enc, e, rate)
        enc.open()
        n = max(enc.frame_size or 0, 1024)
        packets = []
        for k in range(4):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, n * channels), _DTYPES[fmt]), format=fmt, layout=layout)
            frame.sample_rate, frame.pts, frame.time_base = rate, k * n, Fraction(1, rate)
            packets += enc.encode(frame)
        packets += enc.encode(None)
    except (ValueError, av.error.FFmpegError):
        return None
    first = min((p.pts for p in packets if p.pts is not None), default=0)  # in 1/rate: the first frame was at 0
    return replace(e, padding=max(0, -int(first)))


def _takes(fmt: str, encoder: str) -> bool:
    """Whether a ``fmt`` container takes what ``encoder`` writes (PyAV refuses only the codecs
    FFmpeg knows the container does not take, as FFmpeg itself does)."""
    import io

    scratch = av.open(io.BytesIO(), "w", format=fmt)
    try:
        scratch.add_stream(encoder)
        return True
    except (ValueError, av.error.FFmpegError):
        return False
    finally:
        scratch.close()


def _encoding(src: av.audio.stream.AudioStream, suffix: str, fmt: str) -> tuple[_Encoding, str | None]:
    """How to encode a shifted track of ``src`` into a ``suffix`` file, and a note when it is not in
    its own codec: its own codec where FFmpeg has an encoder for it that the container takes, else
    the container's fallback."""
    codec = src.codec_context.codec.canonical_name
    own_encoder = False
    for name in dict.fromkeys(x for x in (_ENCODERS.get(codec), codec) if x):
        e = _trial(name, src)
        own_encoder = own_encoder or e is not None
        if e is not None and _takes(fmt, e.codec):
            return e, None
    for name in dict.fromkeys((_FALLBACK.get(suffix.lower(), "aac"), "flac", "aac", "pcm_s16le")):
        e = _trial(name, src)
        if e is not None and _takes(fmt, e.codec):
            return e, (f"a {suffix} file does not take {codec}: written as {e.codec}" if own_encoder else
                       f"no {codec} encoder here (or none for its {src.codec_context.sample_rate} Hz "
                       f"{src.codec_context.channels}-channel audio): written as {e.codec}")
    raise MediaError(src.container.name, f"{_describe(src)}: no encoder for a {suffix} file takes its "
                                         f"{src.codec_context.sample_rate} Hz {src.codec_context.channels}-channel audio")


class _Shift:
    """Decodes one audio track and encodes it moved by the offset, in (about) its own format."""

    action = "shifted"

    def __init__(self, out: av.container.OutputContainer, src: av.audio.stream.AudioStream, track: int,
                 offset: float, suffix: str, fmt: str, priming: str) -> None:
        ctx = src.codec_context
        self.out, self.src, self.track = out, src, track
        self.rate, self.channels = int(ctx.sample_rate), int(ctx.channels)
        e, self.note = _encoding(src, suffix, fmt)
        self.codec, self.format, self.layout = e.codec, e.format, e.layout
        self.stream = out.add_stream(e.codec, rate=self.rate, layout=e.layout)
        _configure(self.stream.codec_context, e, self.rate)
        _copy_tags(src, self.stream, reencoded=True)
        self.padding, self.priming = e.padding, priming
        self.skip = 0  # samples at the track's start that give way to the encoder's priming
        self.resampler = av.AudioResampler(format=self.format, layout=self.layout, rate=self.rate)
        self.dtype = _DTYPES[self.format]
        self.shift = int(round(offset * self.rate))  # samples the track moves later
        self.start: int | None = None  # sample index (1/rate) of the track's first sample: kept
        self.pos = 0                   # output sample index of the next sample queued
        self.written = 0               # output samples encoded so far (from self.start)
        self.held: list[np.ndarray] = []  # queued samples, from start + written on
        self.dropped_start = self.dropped_end = self.bad_packets = 0

    def notes(self) -> list[str]:
        """What was lost, for the report."""
        t, out = self.track, []
        if self.dropped_start:
            out.append(f"audio track {t}: its first {self.dropped_start / self.rate:.3f} s were dropped "
                       f"(they would play before the track starts)")
        if self.dropped_end:
            out.append(f"audio track {t}: its last {self.dropped_end / self.rate:.3f} s were dropped "
                       f"(they would play after the picture ends)")
        if self.skip > max(0, self.shift):
            out.append(f"audio track {t}: its first {(self.skip - max(0, self.shift)) / self.rate * 1000:.0f} ms "
                       f"give way to the {self.codec} encoder's priming (a {self.out.format.name} file cannot "
                       f"hide it)")
        if self.bad_packets:
            out.append(f"audio track {t}: {self.bad_packets} damaged packet(s) could not be decoded: silence "
                       f"in their place")
        return out

    # -- decoding
    def feed(self, packet: av.Packet) -> None:
        if not packet.size:  # the demuxer's end-of-stream marker: close() flushes the decoder
            return
        try:
            frames = self.src.codec_context.decode(packet)
        except av.error.InvalidDataError:  # a damaged packet: the next one's timestamp leaves a hole
            self.bad_packets += 1
            return
        for frame in frames:
            for chunk in self.resampler.resample(frame):
                self._take(chunk)

    def _take(self, chunk: av.AudioFrame) -> None:
        data = chunk.to_ndarray().reshape(-1, self.channels)  # (S, C) packed
        at = None if chunk.pts is None else int(round(float(chunk.pts * chunk.time_base) * self.rate))
        if self.start is None:
            self.start = 0 if at is None else at
            self.pos = self.start + min(0, self.shift)
            # Where the container cannot say "drop the encoder's priming" (AVI; MP4 and MOV say it
            # with an edit list only when the first packet starts before time 0), the priming would
            # play first and every sample after it late (or move every stream): start the packets
            # at the track's start instead, the priming in place of its first samples.
            if self.priming == "never" or (self.priming == "before-zero" and self.start >= self.padding):
                self.skip = self.padding
            if self.shift > 0:  # a delay: silence leads the track
                self._emit_silence(self.shift)
        expected = self.pos - self.shift  # source index of the next sample
        if at is not None and at - expected > _GAP * self.rate:  # a hole in the source: keep it
            self._emit_silence(at - expected)
        elif at is not None and expected - at > _GAP * self.rate:  # overlapping timestamps: drop the repeat
            data = data[expected - at:]
        self._emit(data)
        self._release(self.pos - max(0, self.shift))  # the track's own end so far is always kept

    def _silence(self, n: int) -> np.ndarray:
        return np.full((n, self.channels), 128 if self.format == "u8" else 0, self.dtype)

    def _emit_silence(self, n: int) -> None:
        for k in range(0, n, self.rate):  # a second at a time: a long delay needs no large array
            self._emit(self._silence(min(self.rate, n - k)))

    # -- encoding
    def _emit(self, data: np.ndarray) -> None:
        """Queue output samples at ``self.pos``: those before the track's start are dropped."""
        pos, self.pos = self.pos, self.pos + len(data)
        if pos < self.start:
            cut = min(len(data), self.start - pos)
            self.dropped_start += cut
            data = data[cut:]
        if len(data):
            self.held.append(data)

    def _release(self, upto: int) -> None:
        """Encode the queued samples before output index ``upto``."""
        while self.held and self.start + self.written < upto:
            data, pos = self.held[0], self.start + self.written
            take = min(len(data), upto - pos)
            self._encode(data[:take], pos)
            if take == len(data):
                self.held.pop(0)
            else:
                self.held[0] = data[take:]

    def _encode(self, data: np.ndarray, pos: int) -> None:
        if self.written < self.skip:  # these samples give way to the encoder's priming
            cut = min(len(data), self.skip - self.written)
            self.written += cut
            data, pos = data[cut:], pos + cut
        for s in range(0, len(data), _CHUNK):
            part = np.ascontiguousarray(data[s:s + _CHUNK]).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(part, format=self.format, layout=self.stream.layout.name)
            frame.sample_rate, frame.pts, frame.time_base = self.rate, pos + s, Fraction(1, self.rate)
            self.out.mux(self.stream.encode(frame))
        self.written += len(data)

    def close(self, file_end: float | None) -> None:
        """Flush the decoder; encode the held samples up to the file's end (a delayed track) or pad
        the end with silence to the track's length (an advanced one); flush the encoder."""
        for frame in self.src.codec_context.decode(None):
            for chunk in self.resampler.resample(frame):
                self._take(chunk)
        for chunk in self.resampler.resample(None):
            self._take(chunk)
        if self.start is not None:
            own_end = self.pos - self.shift  # output index where the source track ended
            end = own_end
            if self.shift > 0 and file_end is not None:  # run on to the end of the picture, not past it
                end = max(own_end, min(self.pos, int(math.floor(file_end * self.rate + 1e-6))))
            self._release(end)
            self.dropped_end = max(0, self.pos - max(end, self.start + self.shift))  # source samples, not silence
            self.held = []
            while self.start + self.written < end:  # an advanced track: silence pads its end
                self._encode(self._silence(min(self.rate, end - self.start - self.written)), self.start + self.written)
        self.out.mux(self.stream.encode(None))


def _planar(fmt: str) -> str:
    return fmt + "p"


def _tag_bitrate(stream: av.stream.Stream) -> int | None:
    try:
        return int(stream.metadata.get("BPS") or stream.metadata.get("bps") or 0) or None
    except ValueError:
        return None


def _attach(out: av.container.OutputContainer, src: av.stream.Stream, path: Path, dst: Path) -> KeptStream:
    """Re-attach an attachment (a font, a cover...): its bytes go into the output's header."""
    name = src.metadata.get("filename") or f"attachment{src.index}"
    mimetype = src.mimetype or src.metadata.get("mimetype") or "application/octet-stream"
    try:
        stream = out.add_attachment(name, mimetype, bytes(src.data))
    except (ValueError, av.error.FFmpegError):
        raise MediaError(dst, f"stream #{src.index} of {path.name} (attachment {name}) cannot be stored in a "
                              f"{dst.suffix} file; nothing written (write a {path.suffix} file, as the input is)") from None
    for key, value in src.metadata.items():
        if key not in ("filename", "mimetype"):
            stream.metadata[key] = value
    return KeptStream(src.index, "attachment", mimetype, "attached", None, name)


def check_fix(src: str | Path, dst: str | Path, tracks: Sequence[int] | int | None = None,
              overwrite: bool = False) -> tuple[int, ...]:
    """Raise what :func:`fix_audio` would raise about its arguments, before any work (the command
    line calls it before measuring the offset); return the audio tracks it would shift. Makes
    ``dst``'s folder if missing."""
    src, dst = Path(src), Path(dst)
    if dst.exists() and _same_file(src, dst):
        raise UsageError(f"{dst}: refusing to write over the input; choose another output")
    if dst.exists() and not overwrite:
        raise UsageError(f"{dst}: already exists; refusing to replace it (overwrite=True, --overwrite)")
    if dst.exists() and not dst.is_file():
        raise UsageError(f"{dst}: not a regular file")
    with open_media(src) as inp:
        picked = _tracks(inp, src, tracks)
    ensure_writable(dst)  # an OSError naming the path when it cannot be written; makes missing folders
    return picked


def _tracks(inp: av.container.InputContainer, src: Path, tracks: Sequence[int] | int | None) -> tuple[int, ...]:
    audio = list(inp.streams.audio)
    if not audio:
        raise NoAudioStreamError(src, "no audio stream to fix")
    if isinstance(tracks, int):
        tracks = [tracks]
    picked = tuple(sorted(set(range(len(audio)) if tracks is None else (int(t) for t in tracks))))
    if not picked:
        raise UsageError(f"{src}: no audio track chosen")
    bad = [t for t in picked if not 0 <= t < len(audio)]
    if bad:
        raise UsageError(f"{src}: no audio track {bad[0]} (it has {len(audio)}: "
                         f"{', '.join(str(i) for i in range(len(audio)))})")
    for t in picked:
        ctx = audio[t].codec_context
        if ctx is None or ctx.codec is None or not ctx.sample_rate or not ctx.channels:
            raise MediaError(src, f"audio track {t} ({_describe(audio[t])}) cannot be decoded here")
    return picked


def fix_audio(src: str | Path, dst: str | Path, offset_sec: float, tracks: Sequence[int] | int | None = None,
              overwrite: bool = False) -> FixReport:
    """Write ``dst``: ``src`` with its audio track(s) ``tracks`` (0-based among its audio streams;
    default: all) delayed by ``offset_sec`` seconds (negative: advanced), which undoes an offset of
    ``offset_sec`` (> 0: audio ahead of the picture). Everything else is kept (see the module's
    docstring); the video is always stream-copied and the output lasts as long as the input.
    Refuses to write over ``src``, and over an existing ``dst`` unless ``overwrite``; writes a
    temporary file beside ``dst``, then renames it, so ``dst`` appears complete or not at all."""
    src, dst = Path(src), Path(dst)
    offset = float(offset_sec)
    if not math.isfinite(offset):
        raise UsageError(f"the offset must be a number of seconds, got {offset_sec!r}")
    check_fix(src, dst, None, overwrite)
    with open_media(src) as inp:
        picked = _tracks(inp, src, tracks)
        audio = list(inp.streams.audio)
        shifted = {audio[t].index: t for t in picked}
        try:
            with output_container(dst) as out:
                report = _write(inp, out, src, dst, offset, shifted)
        except av.error.FFmpegError as e:
            raise MediaError(dst, f"cannot write {src.name}'s streams as {dst.suffix} ({e.strerror}); "
                                  f"nothing written") from None
    return report


def _unstorable(s: av.stream.Stream, src: Path, dst: Path) -> MediaError:
    return MediaError(dst, f"{_describe(s)} of {src.name} cannot be stored in a {dst.suffix} file; nothing "
                           f"written (write a {src.suffix} file, as the input is)")


def _culprit(inp: av.container.InputContainer, fmt: str, copied: list[int], src: Path, dst: Path) -> MediaError | None:
    """The copied stream (or attachment) that the output's container refuses, found by writing
    each alone into a scratch file in memory; None if each is fine alone."""
    import io

    for i in copied:
        s = inp.streams[i]
        try:
            with av.open(io.BytesIO(), "w", format=fmt) as scratch:
                if s.type == "attachment":
                    scratch.add_attachment(s.metadata.get("filename") or "attachment", s.mimetype or "", bytes(s.data))
                else:
                    scratch.add_stream_from_template(s, opaque=True)
                scratch.start_encoding()
        except (ValueError, av.error.FFmpegError):
            if s.type == "attachment":
                return MediaError(dst, f"stream #{i} of {src.name} (attachment {s.metadata.get('filename')}) cannot "
                                       f"be stored in a {dst.suffix} file; nothing written (write a {src.suffix} "
                                       f"file, as the input is)")
            return _unstorable(s, src, dst)
    return None


def _write(inp: av.container.InputContainer, out: av.container.OutputContainer, src: Path, dst: Path,
           offset: float, shifted: dict[int, int]) -> FixReport:
    # how the container hides an encoder's priming: Matroska always (its tracks' codec delay), MP4,
    # MOV and Ogg when the track's first packet starts before time 0, others never
    if out.format.name in ("matroska", "webm"):
        priming = "always"
    elif out.format.flags & av.format.Flags.ts_negative.value:
        priming = "before-zero"
    else:
        priming = "never"
    handlers: dict[int, Any] = {}
    kept: list[KeptStream] = []
    notes: list[str] = []
    timecodes = {v.metadata.get("timecode") for v in inp.streams.video} - {None}
    for s in inp.streams:
        if s.discard == _DISCARD_ALL:  # MP4's chapter text track: the muxer rebuilds it from the chapters
            continue
        if s.type == "data" and s.metadata.get("timecode") in timecodes:
            # a MOV/MP4 timecode track: the video stream's 'timecode' tag (copied) holds the same
            # timecode, and the muxer writes the track again from it (Matroska: as a tag)
            notes.append(f"stream #{s.index} (the timecode track, {s.metadata['timecode']}) is written again "
                         f"from the video's timecode tag")
            continue
        if s.type == "attachment":
            kept.append(_attach(out, s, src, dst))
            continue
        try:  # PyAV refuses a codec the container does not take (ValueError)
            if s.index in shifted:
                h = _Shift(out, s, shifted[s.index], offset, dst.suffix, out.format.name, priming)
                if h.note:
                    notes.append(f"audio track {shifted[s.index]}: {h.note}")
            else:
                h = _Copy(out, s)
        except (ValueError, av.error.FFmpegError):
            raise _unstorable(s, src, dst) from None
        handlers[s.index] = h
        md = s.metadata
        kept.append(KeptStream(s.index, s.type, h.codec, h.action, md.get("language"),
                               md.get("title") or md.get("name")))
    for key, value in inp.metadata.items():
        if key.lower() not in _MUXER_TAGS:
            out.metadata[key] = value
    chapters = inp.chapters()
    if chapters:
        out.set_chapters(chapters)
    try:
        out.start_encoding()
    except av.error.FFmpegError as e:
        copied = [k.index for k in kept if k.action in ("copied", "attached")]
        raise _culprit(inp, out.format.name, copied, src, dst) or MediaError(
            dst, f"cannot write the streams of {src.name} as {dst.suffix} ({e.strerror}); nothing written") from None
    # read from where the file was opened, not after a seek: a seek to the start of a WebM file
    # skips the packets before time 0 (Opus's priming)
    for packet in inp.demux([inp.streams[i] for i in handlers]):
        handlers[packet.stream.index].feed(packet)
    ends = [h.end for h in handlers.values() if isinstance(h, _Copy) and h.src.type == "video" and h.end is not None]
    file_end = max(ends) if ends else None
    for h in handlers.values():
        h.close(file_end)
    for h in handlers.values():
        if isinstance(h, _Shift):
            notes += h.notes()
    return FixReport(str(src), str(dst), offset, tuple(sorted(shifted.values())),
                     {h.track: h.codec for h in handlers.values() if isinstance(h, _Shift)}, tuple(kept),
                     len(chapters), True, tuple(notes))
