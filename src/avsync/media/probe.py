"""Opening media files with clear errors, and ``probe``: what a file holds, without decoding it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av

from avsync.errors import (
    CorruptMediaError,
    FileMissingError,
    NoAudioStreamError,
    NotMediaError,
    NoVideoStreamError,
)

# First bytes of the containers FFmpeg writes most often: a file that starts like one of these but
# does not open is damaged, anything else that does not open is not media at all.
_MAGIC = (b"RIFF", b"\x1aE\xdf\xa3", b"OggS", b"ID3", b"fLaC", b"FLV", b"\x00\x00\x01\xba", b"\xff\xfb",
          b"\xff\xf3", b"\xff\xf1", b"\xff\xf9", b"#!AMR", b"0&\xb2u")
_VFR_PACKETS = 240  # video packets whose timestamps decide whether the frame rate varies
_REORDER_DEPTH = 16  # at most this many frames are shown out of decode order (H.264's largest DPB)


@dataclass(frozen=True)
class VideoInfo:
    """The first video stream. ``width``/``height`` are as displayed (after ``rotation``, the
    counter-clockwise turn the player applies); times are on the file's timeline (0 = file start)."""

    codec: str
    width: int
    height: int
    fps: float
    variable_fps: bool
    rotation: int
    start_sec: float
    duration_sec: float
    num_frames: int


@dataclass(frozen=True)
class AudioInfo:
    """The first audio stream; ``start_sec`` > 0 when the audio starts after the file does."""

    codec: str
    sample_rate: int
    channels: int
    start_sec: float
    duration_sec: float


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`probe` found in one file."""

    path: str
    duration_sec: float
    format: str
    video: VideoInfo | None
    audio: AudioInfo | None

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (for JSON)."""
        return asdict(self)


def _looks_like_media(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(12)
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide") or head.startswith(_MAGIC) \
        or head[:1] == b"\x47"


def open_media(path: str | Path) -> av.container.InputContainer:
    """Open ``path`` for reading, or raise the MediaError that says why it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise FileMissingError(path, "no such file" if not path.exists() else "not a regular file")
    if path.stat().st_size == 0:
        raise NotMediaError(path, "empty file (0 bytes)")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as e:
        if _looks_like_media(path):
            raise CorruptMediaError(path, f"damaged or truncated media file ({e.strerror})") from None
        raise NotMediaError(path, "not a media file FFmpeg can read") from None
    if not container.streams.video and not container.streams.audio:
        container.close()
        if _looks_like_media(path):
            raise CorruptMediaError(path, "damaged or truncated media file (no audio or video stream found)")
        raise NotMediaError(path, "no audio or video stream")
    return container


def video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream:
    """The first video stream (attached cover pictures are skipped), or NoVideoStreamError."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    raise NoVideoStreamError(container.name, "no video stream (audio-only file?)")


def audio_stream(container: av.container.InputContainer) -> av.audio.stream.AudioStream:
    """The first audio stream, or NoAudioStreamError."""
    if not container.streams.audio:
        raise NoAudioStreamError(container.name, "no audio stream (silent video?)")
    return container.streams.audio[0]


def rewind(container: av.container.InputContainer) -> None:
    """Go back to the very first packet of every stream, including packets before time 0 such as
    AAC's priming frame (seeking a stream to its time 0 skips it and garbles the first frame)."""
    try:
        container.seek(-(1 << 40), backward=True)
    except av.error.FFmpegError:
        container.seek(0, backward=True)


def origin_sec(container: av.container.InputContainer) -> float:
    """Absolute time of the file's start: every avsync time is measured from it."""
    return container.start_time / 1e6 if container.start_time is not None else 0.0


def file_duration(container: av.container.InputContainer) -> float:
    """Length of the file's timeline in seconds (0 = the earliest stream start)."""
    if container.duration is not None:
        return container.duration / 1e6
    ends = [stream_span(container, s)[1] for s in container.streams if s.type in ("audio", "video")]
    return max(ends, default=0.0)


def _tag_seconds(value: str | None) -> float | None:
    """Seconds from a Matroska ``DURATION`` tag such as ``00:01:02.500000000``."""
    try:
        h, m, s = (value or "").split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)
    except ValueError:
        return None


def stream_span(container: av.container.InputContainer, stream: av.stream.Stream) -> tuple[float, float]:
    """(start, end) of a stream on the file's timeline, from the container's header and index."""
    tb = stream.time_base
    start = float(stream.start_time * tb) - origin_sec(container) if stream.start_time is not None else 0.0
    if stream.duration is not None and stream.duration > 0:
        return start, start + float(stream.duration * tb)
    tagged = _tag_seconds(stream.metadata.get("DURATION") or stream.metadata.get("duration"))
    if tagged is not None:  # FFmpeg's Matroska muxer stores the stream's end time there
        return start, max(start, tagged - origin_sec(container))
    total = container.duration / 1e6 if container.duration is not None else start
    return start, total


def frame_rotation(frame: av.VideoFrame) -> int:
    """The counter-clockwise turn (0, 90, 180 or 270 degrees) a player applies to ``frame``."""
    return int(round(frame.rotation / 90.0)) % 4 * 90


def _scan_video(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> tuple[int, bool]:
    """Rotation (from the first decoded frame) and whether packet timestamps are irregular."""
    rotation, pts, cut_short = None, [], False
    rewind(container)
    try:
        for packet in container.demux(stream):
            if packet.pts is not None:
                pts.append(packet.pts)
            if rotation is None:
                for frame in packet.decode():
                    rotation = frame_rotation(frame)
            if len(pts) >= _VFR_PACKETS and rotation is not None:
                cut_short = True
                break
    except av.error.FFmpegError as e:
        raise CorruptMediaError(container.name, f"cannot decode the video ({e.strerror})") from None
    pts.sort()
    if cut_short:  # packets come in decode order: frames shown just after the last ones read are still to come
        pts = pts[: max(2, len(pts) - _REORDER_DEPTH)]
    steps = [b - a for a, b in zip(pts, pts[1:]) if b > a]
    if len(steps) < 2:
        return rotation or 0, False
    steps.sort()
    median = steps[len(steps) // 2]
    return rotation or 0, (steps[-1] - steps[0]) > 0.1 * median


def _video_info(container: av.container.InputContainer) -> VideoInfo | None:
    try:
        stream = video_stream(container)
    except NoVideoStreamError:
        return None
    start, end = stream_span(container, stream)
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    rotation, variable = _scan_video(container, stream)
    width, height = stream.codec_context.width, stream.codec_context.height
    if rotation in (90, 270):
        width, height = height, width
    num_frames = stream.frames or int(round((end - start) * fps))
    return VideoInfo(stream.codec_context.name, width, height, round(fps, 6), variable, rotation,
                     round(start, 6), round(end - start, 6), num_frames)


def _first_audio_time(container: av.container.InputContainer, stream: av.audio.stream.AudioStream) -> float | None:
    """File time of the first decoded audio sample (codec priming excluded), None if none decodes."""
    rewind(container)
    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                if frame.pts is not None:
                    return float(frame.pts * frame.time_base) - origin_sec(container)
    except av.error.FFmpegError as e:
        raise CorruptMediaError(container.name, f"cannot decode the audio ({e.strerror})") from None
    return None


def _audio_info(container: av.container.InputContainer) -> AudioInfo | None:
    if not container.streams.audio:
        return None
    stream = container.streams.audio[0]
    start, end = stream_span(container, stream)
    first = _first_audio_time(container, stream)
    start = start if first is None else max(start, first)
    ctx = stream.codec_context
    return AudioInfo(ctx.name, int(ctx.sample_rate), int(ctx.channels), round(start, 6), round(end - start, 6))


def probe(path: str | Path) -> MediaInfo:
    """Duration, format and the first video and audio stream of ``path`` (reads headers and the
    first few hundred video packets; decodes one frame to learn the rotation)."""
    with open_media(path) as container:
        audio = _audio_info(container)
        video = _video_info(container)
        return MediaInfo(str(path), round(file_duration(container), 6), container.format.name, video, audio)
