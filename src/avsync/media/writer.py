"""Writing videos with PyAV: frames (and optional audio) in memory -> an encoded file."""

from __future__ import annotations

import contextlib
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import av
import numpy as np

from avsync.errors import UsageError
from avsync.fileio import atomic_path

_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 6: "5.1", 8: "7.1"}
_AUDIO_CHUNK = 4096  # samples per frame handed to the encoder (it re-chunks to its own frame size)


def as_fraction(fps: float) -> Fraction:
    """A frame rate as an exact fraction: 29.97 -> 30000/1001, 25.0 -> 25."""
    return Fraction(fps).limit_denominator(1001)


@contextlib.contextmanager
def output_container(dst: str | Path) -> Iterator[av.container.OutputContainer]:
    """An output container in ``dst``'s format (by its suffix) that writes to a temporary name beside
    it; renamed over ``dst`` once the block ends and the container is closed, removed on failure."""
    dst = Path(dst)
    with atomic_path(dst) as tmp, open_output(tmp, dst) as out:
        yield out


def open_output(tmp: Path, dst: Path) -> av.container.OutputContainer:
    """Open the temporary file ``tmp`` for writing in the container format of ``dst``'s suffix."""
    try:
        return av.open(str(tmp), mode="w")
    except ValueError:
        raise UsageError(f"{dst}: unknown container format {dst.suffix!r} (use .mp4, .mkv or .mov)") from None


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _check_frames(frames: np.ndarray) -> np.ndarray:
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise UsageError(f"write_video needs frames of shape (T, H, W, 3), got {tuple(frames.shape)}")
    if frames.dtype != np.uint8:
        raise UsageError(f"write_video needs uint8 frames, got {frames.dtype}")
    return np.ascontiguousarray(frames)


def _check_audio(audio: np.ndarray) -> np.ndarray:
    audio = audio.astype(np.float32, copy=False)
    if audio.ndim == 1:
        audio = audio[None]
    if audio.ndim != 2 or audio.shape[0] not in _LAYOUTS:
        raise UsageError(f"write_video needs audio of shape (S,) or (C, S) with C in {sorted(_LAYOUTS)}, "
                         f"got {tuple(audio.shape)}")
    return np.ascontiguousarray(np.clip(audio, -1.0, 1.0))


def add_video_stream(container: av.container.OutputContainer, width: int, height: int, fps: float,
                     vcodec: str = "h264", pix_fmt: str = "yuv420p", crf: float | None = None,
                     bitrate: int | None = None, gop: int | None = None,
                     deterministic: bool = False) -> av.video.stream.VideoStream:
    """Add a configured video stream to an output container (shared by write_video and prepare).

    ``deterministic``: the same frames give the same bits. The encoder then runs on one thread and
    x264 without its SIMD code, which reads past the row ends of tightly packed frames, so that its
    output depended on whatever memory followed them (benchmarks/write_video.py counts the different
    files 8 re-encodes give: up to 5 in the fast mode here, varying from run to run, decoded pixels
    apart by up to 3 grey levels on average). Costs speed on large frames only."""
    if pix_fmt in ("yuv420p", "nv12", "yuvj420p") and (width % 2 or height % 2):
        raise UsageError(f"{pix_fmt} needs an even width and height, got {width}x{height} "
                         "(resize, or use pix_fmt='yuv444p')")
    options = {"crf": str(crf)} if crf is not None else {}
    if deterministic and vcodec in ("h264", "libx264"):
        options["x264-params"] = "asm=0:threads=1"
    stream = container.add_stream(vcodec, rate=as_fraction(fps), options=options)
    stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
    if bitrate is not None:
        stream.bit_rate = int(bitrate)
    if gop is not None:
        stream.codec_context.gop_size = int(gop)
    if deterministic:
        stream.codec_context.thread_count = 1
    else:
        stream.thread_type = "AUTO"
    return stream


def add_audio_stream(container: av.container.OutputContainer, sample_rate: int, channels: int,
                     acodec: str = "aac", bitrate: int | None = None) -> av.audio.stream.AudioStream:
    """Add a configured audio stream to an output container (shared by write_video and prepare)."""
    stream = container.add_stream(acodec, rate=int(sample_rate), layout=_LAYOUTS[channels])
    if bitrate is not None:
        stream.bit_rate = int(bitrate)
    return stream


def encode_audio_array(container: av.container.OutputContainer, stream: av.audio.stream.AudioStream,
                       audio: np.ndarray, sample_rate: int) -> None:
    """Encode float32 ``audio`` (C, S) into ``stream`` and flush it."""
    layout = _LAYOUTS[audio.shape[0]]
    for start in range(0, audio.shape[1], _AUDIO_CHUNK):
        chunk = np.ascontiguousarray(audio[:, start:start + _AUDIO_CHUNK].T).reshape(1, -1)  # packed: one plane
        frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout=layout)
        frame.sample_rate, frame.pts, frame.time_base = sample_rate, start, Fraction(1, sample_rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def write_video(path: str | Path, frames: Any, audio: Any = None, fps: float = 25.0,
                sample_rate: int = 16000, vcodec: str = "h264", acodec: str = "aac",
                pix_fmt: str = "yuv420p", crf: float | None = None, bitrate: int | None = None,
                gop: int | None = None, audio_bitrate: int | None = None, deterministic: bool = True) -> Path:
    """Encode ``frames`` (uint8 (T, H, W, 3), numpy or torch) and optional ``audio`` (float32 (S,)
    mono or (C, S), in [-1, 1]) into ``path``. Both streams start at 0. The file appears complete or
    not at all: it is written to a temporary name in the same folder, then renamed. By default the
    same input gives the same bytes (``deterministic``, see ``add_video_stream``); pass False to
    encode large frames faster."""
    path = Path(path)
    frames = _check_frames(_to_numpy(frames))
    audio = None if audio is None else _check_audio(_to_numpy(audio))
    with output_container(path) as container:
        height, width = frames.shape[1:3]
        vstream = add_video_stream(container, width, height, fps, vcodec, pix_fmt, crf, bitrate, gop, deterministic)
        astream = None if audio is None else add_audio_stream(
            container, sample_rate, audio.shape[0], acodec, audio_bitrate)
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            container.mux(vstream.encode(frame))
        container.mux(vstream.encode(None))
        if astream is not None:
            encode_audio_array(container, astream, audio, sample_rate)
    return path
