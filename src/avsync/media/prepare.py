"""``prepare``: re-encode a folder of videos the way SparseSync recommends (H.264 yuv420p at a
constant 25 fps, short side 256, AAC 16 kHz mono), in parallel worker processes, resumably."""

from __future__ import annotations

import math
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Iterator

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from avsync.errors import AvsyncError, CorruptMediaError, UsageError
from avsync.media.probe import (
    audio_stream,
    frame_rotation,
    open_media,
    rewind,
    stream_span,
    video_stream,
)
from avsync.media.reader import FrameClock, check_truncated, decoded_frames, mono_chunks
from avsync.media.writer import add_audio_stream, add_video_stream, output_container

VIDEO_SUFFIXES = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".ogv", ".flv", ".wmv", ".3gp"}


@dataclass(frozen=True)
class PrepareConfig:
    """The target format of ``prepare`` (defaults: the SparseSync paper's)."""

    fps: float = 25.0
    size: int = 256
    sample_rate: int = 16000
    crf: int = 20
    audio_bitrate: int = 64000


@dataclass
class PrepareSummary:
    """What ``prepare_folder`` did: outputs written, outputs already there, inputs that failed."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def _even_size(height: int, width: int, size: int) -> tuple[int, int]:
    """Frame size with the short side ``size`` and both sides even (yuv420p), aspect kept to a pixel."""
    scale = size / min(height, width)
    return max(2, 2 * round(height * scale / 2)), max(2, 2 * round(width * scale / 2))


def _encode_audio(container: av.container.InputContainer, out: av.container.OutputContainer,
                  cfg: PrepareConfig) -> list[av.Packet]:
    """All of the audio as AAC packets of the output (mono, cfg.sample_rate), keeping its start."""
    stream = audio_stream(container)
    start, end = stream_span(container, stream)
    astream = add_audio_stream(out, cfg.sample_rate, 1, "aac", cfg.audio_bitrate)
    rewind(container)
    packets, pos, t_end = [], None, -math.inf
    for t, samples in mono_chunks(container, stream, cfg.sample_rate):
        pos = max(0, int(round(t * cfg.sample_rate))) if pos is None else pos
        frame = av.AudioFrame.from_ndarray(samples[None], format="fltp", layout="mono")
        frame.sample_rate, frame.pts = cfg.sample_rate, pos
        packets += astream.encode(frame)
        pos += len(samples)
        t_end = t + len(samples) / cfg.sample_rate
    packets += astream.encode(None)
    check_truncated(container, "audio", t_end, end, end)
    return packets


def _resized_upright(reformatter: VideoReformatter, frame: av.VideoFrame, size: int) -> np.ndarray:
    """RGB (H, W, 3) turned upright, short side ``size`` (FFmpeg's area-averaging scaler: no torch
    in the worker processes, and no aliasing when shrinking; ``reformatter`` keeps its swscale context
    between frames)."""
    turns = frame_rotation(frame) // 90
    h, w = _even_size(frame.height, frame.width, size)
    if turns % 2:
        h, w = _even_size(frame.width, frame.height, size)[::-1]
    image = reformatter.reformat(frame, width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()
    return np.ascontiguousarray(np.rot90(image, k=turns))


def _constant_rate(clock: FrameClock, start: float, end: float, fps: float) -> Iterator[tuple[int, av.VideoFrame]]:
    """(output frame index, source frame on screen then) at a constant ``fps`` from the stream's
    start to its end (the last frame is held for one output period when the end is unknown)."""
    k = math.ceil(start * fps - 1e-6)
    while True:
        t = k / fps
        held = clock.at(t)
        if t >= end - 1e-3 or (clock.exhausted and (held is None or t >= held[0] + 1.0 / fps)):
            return
        if held is not None:
            yield k, held[1]
        k += 1


def _encode_video(container: av.container.InputContainer, out: av.container.OutputContainer,
                  cfg: PrepareConfig, audio: list[av.Packet]) -> None:
    """Video at a constant cfg.fps, upright and resized, muxed with the audio packets interleaved."""
    stream = video_stream(container)
    stream.thread_type = "AUTO"
    start, end = stream_span(container, stream)
    rewind(container)
    clock = FrameClock(decoded_frames(container, stream))
    vstream, last, image, reformatter = None, None, None, VideoReformatter()
    for k, source in _constant_rate(clock, start, end, cfg.fps):
        if source is not last:
            last, image = source, _resized_upright(reformatter, source, cfg.size)
        if vstream is None:
            vstream = add_video_stream(out, image.shape[1], image.shape[0], cfg.fps, "h264", "yuv420p", cfg.crf)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = k
        for packet in vstream.encode(frame):
            _mux_until(out, audio, float(packet.pts * packet.time_base))
            out.mux(packet)
    if vstream is None:
        raise CorruptMediaError(container.name, "no video frame could be decoded")
    out.mux(vstream.encode(None))
    _mux_until(out, audio, math.inf)
    check_truncated(container, "video", clock.current[0] + 1.0 / cfg.fps, end, end)


def _mux_until(out: av.container.OutputContainer, packets: list[av.Packet], t: float) -> None:
    """Mux (and drop from the list) the audio packets that start before ``t``."""
    n = 0
    while n < len(packets) and float(packets[n].pts * packets[n].time_base) <= t:
        n += 1
    out.mux(packets[:n])
    del packets[:n]


def prepare_file(src: str | Path, dst: str | Path, cfg: PrepareConfig = PrepareConfig()) -> Path:
    """Re-encode one video to the ``cfg`` format: frames turned upright, stream start times kept
    (so an existing offset is preserved, never hidden). Written to a temp file, then renamed."""
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise UsageError(f"{dst}: the output must not be the input")
    try:
        with open_media(src) as container:
            video_stream(container)
            with output_container(dst) as out:
                audio = _encode_audio(container, out, cfg)
                _encode_video(container, out, cfg, audio)
    except av.error.FFmpegError as e:
        raise CorruptMediaError(src, f"cannot be re-encoded ({e.strerror})") from None
    return dst


def _work(src: str, dst: str, cfg: PrepareConfig) -> str | None:
    """Worker-process entry: None on success, else the one-line error."""
    try:
        prepare_file(src, dst, cfg)
        return None
    except AvsyncError as e:
        return str(e)


def plan_folder(in_dir: Path, out_dir: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs: every video under ``in_dir`` -> the same relative path under
    ``out_dir`` with the suffix .mp4."""
    pairs = []
    for src in sorted(p for p in in_dir.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES):
        pairs.append((src, out_dir / src.relative_to(in_dir).with_suffix(".mp4")))
    return pairs


def prepare_folder(in_dir: str | Path, out_dir: str | Path, workers: int | None = None,
                   cfg: PrepareConfig = PrepareConfig(),
                   progress: Callable[[int, int], None] | None = None) -> PrepareSummary:
    """Re-encode every video under ``in_dir`` into ``out_dir`` (same layout, .mp4) with ``workers``
    processes. Outputs that already exist are skipped (they are complete: each is renamed into place
    only when finished), so an interrupted run resumes. Failures are collected, not raised.
    ``progress(done, total)`` is called as each file finishes."""
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if not in_dir.is_dir():
        raise UsageError(f"{in_dir}: not a folder")
    if out_dir.resolve() == in_dir.resolve() or in_dir.resolve() in out_dir.resolve().parents:
        raise UsageError(f"{out_dir}: the output folder must lie outside the input folder")
    summary, todo, claimed = PrepareSummary(), [], {}
    for src, dst in plan_folder(in_dir, out_dir):
        if dst in claimed:
            summary.failed.append((str(src), f"same output {dst} as {claimed[dst]}"))
        elif dst.exists():
            summary.skipped.append(str(dst))
        else:
            todo.append((src, dst))
        claimed.setdefault(dst, src)
    _run(todo, workers or min(4, os.cpu_count() or 1), cfg, summary, progress)
    return summary


def _run(todo: list[tuple[Path, Path]], workers: int, cfg: PrepareConfig, summary: PrepareSummary,
         progress: Callable[[int, int], None] | None) -> None:
    if not todo:
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(_work, str(src), str(dst), cfg): (src, dst) for src, dst in todo}
        for n, future in enumerate(as_completed(futures), start=1):
            src, dst = futures[future]
            error = future.result()
            if error is None:
                summary.done.append(str(dst))
            else:
                summary.failed.append((str(src), error))
            if progress is not None:
                progress(n, len(todo))
