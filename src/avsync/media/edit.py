"""``shift_audio``: a copy of a file whose audio is moved against its picture by a known offset.

The video is stream-copied (packets re-timed, not re-encoded) whenever the cut at the start falls on
a keyframe or the output container can hide the frames before it with an edit list (MP4/MOV);
otherwise it is re-encoded with H.264. The audio is always decoded and re-encoded, so the cut is
exact to the sample. The output covers only the time where shifted audio and picture overlap.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from avsync.errors import MediaError, TooShortError, UsageError
from avsync.media.probe import (
    audio_stream,
    frame_rotation,
    open_media,
    origin_sec,
    rewind,
    stream_span,
    video_stream,
)
from avsync.media.writer import add_audio_stream, add_video_stream, output_container

_EDIT_LIST_FORMATS = {".mp4", ".m4v", ".mov", ".3gp"}  # containers that hide leading frames
_AUDIO_PREROLL = 0.25  # seconds of audio decoded before the cut (codec priming and overlap)
_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}


@dataclass(frozen=True)
class _Plan:
    """Where to cut, on the source's timeline: output time t shows source video at ``cut + t`` and
    plays source audio from ``cut + t + offset``."""

    cut: float         # start of the output in source video time
    length: float      # output duration
    offset: float      # audio shift in seconds (> 0: audio moves ahead of the picture)
    keyframe: float    # source time of the keyframe at or before ``cut``
    copy_video: bool   # stream-copy the video packets
    rotation: int      # display rotation of the source video (kept when re-encoding)


def _keyframe_before(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
                     t: float) -> tuple[float, int]:
    """Source time of the keyframe at or before ``t`` (what a backward seek lands on), and the
    display rotation of the frame decoded from it."""
    origin = origin_sec(container)
    container.seek(max(0, int(math.floor((t + origin) / stream.time_base))), stream=stream, backward=True)
    keyframe = None
    for packet in container.demux(stream):
        if keyframe is None and packet.pts is not None and packet.is_keyframe:
            keyframe = float(packet.pts * stream.time_base) - origin
        for frame in packet.decode():
            return (t if keyframe is None else keyframe), frame_rotation(frame)
    return (t if keyframe is None else keyframe), 0


def _plan(container: av.container.InputContainer, src: Path, dst: Path, offset: float) -> _Plan:
    vstream, astream = video_stream(container), audio_stream(container)
    (v0, v1), (a0, a1) = stream_span(container, vstream), stream_span(container, astream)
    cut, end = max(v0, a0 - offset), min(v1, a1 - offset)
    if end - cut <= 0:
        raise TooShortError(src, f"an offset of {offset:+.2f} s leaves no overlap of audio and picture "
                                 f"(video {v0:.2f}-{v1:.2f} s, audio {a0:.2f}-{a1:.2f} s)")
    keyframe, rotation = _keyframe_before(container, vstream, cut)
    rate = vstream.average_rate or vstream.guessed_rate or 25
    on_keyframe = abs(cut - keyframe) < 0.5 / float(rate)
    copy = on_keyframe or dst.suffix.lower() in _EDIT_LIST_FORMATS
    return _Plan(cut, end - cut, offset, keyframe, copy, rotation)


class _VideoCopy:
    """Re-times the source's video packets onto the output (no decoding)."""

    def __init__(self, out: av.container.OutputContainer, src: av.video.stream.VideoStream,
                 plan: _Plan, origin: float) -> None:
        self.out, self.src, self.plan = out, src, plan
        self.stream = out.add_stream_from_template(src)
        self.shift = int(round((plan.cut + origin) / src.time_base))
        self.first = int(round((plan.keyframe + origin) / src.time_base))
        self.end = int(math.ceil((plan.cut + plan.length + origin) / src.time_base - 1e-6))
        self.started = False

    def feed(self, packet: av.Packet) -> bool:
        """Mux one source packet if it belongs to the output; False once past the end."""
        pts = packet.pts if packet.pts is not None else packet.dts
        if pts is None:
            return True
        dts = packet.dts if packet.dts is not None else pts
        if dts >= self.end:  # every reference of a frame before the end was decoded earlier
            return False
        self.started = self.started or (packet.is_keyframe and pts >= self.first)
        if self.started:
            packet.pts = None if packet.pts is None else packet.pts - self.shift
            packet.dts = None if packet.dts is None else packet.dts - self.shift
            packet.stream = self.stream
            self.out.mux(packet)
        return True

    def close(self) -> None:
        """Nothing is buffered when copying."""


class _VideoEncode:
    """Decodes the source's video and re-encodes the frames of the output window with H.264."""

    def __init__(self, out: av.container.OutputContainer, src: av.video.stream.VideoStream,
                 plan: _Plan, origin: float) -> None:
        ctx = src.codec_context
        even = ctx.width % 2 == 0 and ctx.height % 2 == 0
        rate = src.average_rate or src.guessed_rate or 25
        self.out, self.src = out, src
        self.stream = add_video_stream(out, ctx.width, ctx.height, float(rate), "h264",
                                       "yuv420p" if even else "yuv444p", crf=18)
        self.stream.codec_context.time_base = src.time_base
        self.shift = int(round((plan.cut + origin) / src.time_base))
        self.end = int(math.ceil((plan.cut + plan.length + origin) / src.time_base - 1e-6))
        if plan.rotation:  # before the first packet: the header carries it
            self.stream.set_display_rotation(plan.rotation)

    def feed(self, packet: av.Packet) -> bool:
        """Decode one packet and encode its frames inside the window; False once past the end."""
        for frame in packet.decode():
            if frame.pts is None or frame.pts < self.shift:
                continue
            if frame.pts >= self.end:
                return False
            frame.pts -= self.shift
            frame.pict_type = av.video.frame.PictureType.NONE
            self.out.mux(self.stream.encode(frame))
        return True

    def close(self) -> None:
        """Flush the encoder."""
        self.out.mux(self.stream.encode(None))


class _AudioShift:
    """Decodes the source's audio and encodes it moved by the offset, cut exactly to the output."""

    def __init__(self, out: av.container.OutputContainer, src: av.audio.stream.AudioStream,
                 plan: _Plan, origin: float, acodec: str) -> None:
        ctx = src.codec_context
        self.channels = ctx.channels if ctx.channels in _LAYOUTS else 2
        self.rate = ctx.sample_rate
        bitrate = ctx.bit_rate if ctx.name == acodec and ctx.bit_rate else None
        self.out, self.origin = out, origin
        self.stream = add_audio_stream(out, self.rate, self.channels, acodec, bitrate)
        # packed samples (one plane): PyAV lists 9 planes for planar 8-channel frames (7.1 crashed)
        self.resampler = av.AudioResampler(format="flt", layout=_LAYOUTS[self.channels], rate=self.rate)
        self.begin = plan.cut + plan.offset  # source time of the output's first sample
        self.total = int(round(plan.length * self.rate))
        self.pos: int | None = None  # output sample index of the next decoded sample

    def feed(self, packet: av.Packet) -> bool:
        """Decode one packet and encode the part of it inside the output; False once done."""
        for frame in packet.decode():
            for chunk in self.resampler.resample(frame):
                self._write(chunk)
        return self.pos is None or self.pos < self.total

    def _write(self, chunk: av.AudioFrame) -> None:
        if self.pos is None:
            t = float(chunk.pts * chunk.time_base) - self.origin if chunk.pts is not None else self.begin
            self.pos = int(round((t - self.begin) * self.rate))
            if self.pos > 0:  # the source's audio starts after the cut: lead with silence
                self._encode(np.zeros((self.channels, self.pos), np.float32), 0)
        data, pos = chunk.to_ndarray().reshape(-1, self.channels).T, self.pos
        self.pos += data.shape[1]
        lo, hi = max(0, -pos), min(data.shape[1], self.total - pos)
        if hi > lo:
            self._encode(data[:, lo:hi], pos + lo)

    def _encode(self, data: np.ndarray, pts: int) -> None:
        packed = np.ascontiguousarray(data.T, np.float32).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(packed, format="flt", layout=_LAYOUTS[self.channels])
        frame.sample_rate, frame.pts, frame.time_base = self.rate, pts, Fraction(1, self.rate)
        self.out.mux(self.stream.encode(frame))

    def close(self) -> None:
        """Flush the resampler, pad the end with silence if the source ran out, flush the encoder."""
        for chunk in self.resampler.resample(None):
            self._write(chunk)
        pos = self.pos or 0
        if pos < self.total:
            self._encode(np.zeros((self.channels, self.total - pos), np.float32), pos)
        self.out.mux(self.stream.encode(None))


def _audio_codec(dst: Path) -> str:
    return "libopus" if dst.suffix.lower() == ".webm" else "aac"


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))


def shift_audio(src: str | Path, dst: str | Path, offset_sec: float) -> Path:
    """Write ``dst``, a copy of ``src`` whose audio is ``offset_sec`` seconds AHEAD of the picture
    compared to ``src`` (negative: behind). Output time 0 is the first instant where the shifted
    audio and the picture overlap and the output lasts as long as that overlap. Stream-copied video
    can run on past it by the codec's reorder delay (a frame or two). Never writes over ``src``:
    the result is written to a temporary name beside ``dst``, then renamed."""
    src, dst = Path(src), Path(dst)
    if _same_file(src, dst):
        raise UsageError(f"{dst}: the output must not be the input")
    with open_media(src) as container:
        vsrc, asrc, origin = video_stream(container), audio_stream(container), origin_sec(container)
        vsrc.thread_type = "AUTO"
        plan = _plan(container, src, dst, float(offset_sec))
        try:
            with output_container(dst) as out:
                video = (_VideoCopy if plan.copy_video else _VideoEncode)(out, vsrc, plan, origin)
                audio = _AudioShift(out, asrc, plan, origin, _audio_codec(dst))
                _remux(container, plan, video, audio)
                video.close()
                audio.close()
        except av.error.FFmpegError as e:
            raise MediaError(dst, f"cannot write {src.name}'s streams as {dst.suffix} ({e.strerror})") from None
    return dst


def _remux(container: av.container.InputContainer, plan: _Plan, video, audio) -> None:
    """One pass over the source from just before the cut, feeding each stream's handler."""
    vsrc, asrc, origin = video_stream(container), audio_stream(container), origin_sec(container)
    first = min(plan.keyframe, plan.cut + plan.offset - _AUDIO_PREROLL)
    if first > 0:
        container.seek(int(math.floor((first + origin) / vsrc.time_base)), stream=vsrc, backward=True)
    else:
        rewind(container)
    busy = {vsrc.index: True, asrc.index: True}
    handlers = {vsrc.index: video, asrc.index: audio}
    for packet in container.demux(vsrc, asrc):
        index = packet.stream.index
        if busy[index] and (packet.size or packet.dts is None):
            busy[index] = handlers[index].feed(packet)
        if not any(busy.values()):
            break
