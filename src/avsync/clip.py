"""One window of a file as a model eats it: the one clip module that training, evaluation and the
checker share (as whisper's ``audio.py`` serves both), so all of them see the same numbers.

:class:`ClipSpec` says what a model takes (window, frame rate, frame size, audio rate, offset grid);
:func:`read_window` reads a window of a file into model inputs: the picture from ``vstart`` with its
short side resized to ``spec.short_side`` and centre-cropped to ``frame_size``, the audio from
``vstart + audio_offset`` (``> 0``: the audio ahead), both trimmed or padded to the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from avsync.media import read_clip
from avsync.media.reader import Clip
from avsync.media.windows import WindowRequest, read_clips
from avsync.offsets import OffsetGrid

if TYPE_CHECKING:  # torch loads in the functions that make tensors: a spec and its request need none
    import torch

    from avsync.media.window_process import WindowProcess


@dataclass(frozen=True)
class ClipSpec:
    """What a model eats: window length, frame rate and size, audio rate, and the offset grid."""

    window_sec: float
    fps: float
    sample_rate: int
    frame_size: int
    grid: OffsetGrid
    resize: int | None = None  # short side before cropping (default: frame_size * 8 / 7, as 256 -> 224)

    @classmethod
    def from_model_config(cls, cfg: Any, window_sec: float | None = None) -> "ClipSpec":
        """The spec of a model config (``duration_sec``, ``fps``, ``sample_rate``, ``frame_size``)."""
        return cls(float(window_sec or cfg.duration_sec), float(cfg.fps), int(cfg.sample_rate),
                   int(cfg.frame_size), cfg.grid)

    @property
    def short_side(self) -> int:
        """Short side the frames are resized to before the (centre or random) crop."""
        return self.resize or round(self.frame_size * 8 / 7)

    @property
    def num_frames(self) -> int:
        """Frames in one window."""
        return round(self.window_sec * self.fps)

    @property
    def num_samples(self) -> int:
        """Audio samples in one window."""
        return round(self.window_sec * self.sample_rate)


def fit_length(x: torch.Tensor, n: int) -> torch.Tensor:
    """Trim or pad (repeating the last element) the first dimension to ``n``."""
    import torch

    if x.shape[0] >= n:
        return x[:n]
    pad = x[-1:].expand(n - x.shape[0], *x.shape[1:]) if x.shape[0] else torch.zeros(n, *x.shape[1:], dtype=x.dtype)
    return torch.cat([x, pad])


def center_crop(video: torch.Tensor, size: int) -> torch.Tensor:
    """Square centre crop of ``(T, 3, H, W)`` frames, resized to ``size`` when smaller."""
    h, w = video.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return resize_square(video[..., top:top + side, left:left + side], size)


def resize_square(video: torch.Tensor, size: int) -> torch.Tensor:
    """``(..., H, W)`` frames resized to ``size`` x ``size`` (bilinear, antialiased; unchanged when already so)."""
    import torch.nn.functional as F

    if video.shape[-2:] == (size, size):
        return video
    return F.interpolate(video, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def read_window(path: str, vstart_sec: float, audio_offset_sec: float, spec: ClipSpec,
                centre_crop: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Video float32 ``(T, 3, H, W)`` in [0, 1] and audio float32 ``(S,)`` of one window of ``path``
    (``centre_crop`` False: the resized frames uncropped, for a training augmentation to crop)."""
    clip = read_clip(path, vstart_sec, spec.window_sec, fps=spec.fps, sample_rate=spec.sample_rate,
                     size=spec.short_side, crop=spec.frame_size if centre_crop else None,
                     audio_offset_sec=audio_offset_sec)
    return _inputs(clip, spec, centre_crop)


def window_request(path: str, vstarts_sec: Sequence[float], audio_offset_sec: float, spec: ClipSpec) -> WindowRequest:
    """What :func:`read_windows` asks the media layer to decode for these windows (no torch needed)."""
    return WindowRequest.of(path, vstarts_sec, spec.window_sec, spec.fps, spec.sample_rate, spec.short_side,
                            spec.frame_size, audio_offset_sec)


def read_windows(path: str, vstarts_sec: Sequence[float], audio_offset_sec: float, spec: ClipSpec,
                 early: "WindowProcess | None" = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """:func:`read_window` of each of ``vstarts_sec`` (increasing, on one frame grid, as the checker's
    windows are), centre-cropped, from a single decode pass over the file
    (:func:`avsync.media.windows.read_clips`): what a whole file's windows cost is one decode. ``early``:
    a decoding process started before for :func:`window_request` of the same arguments (used when it is)."""
    r = window_request(path, vstarts_sec, audio_offset_sec, spec)
    for clip in read_clips(r.path, r.starts, r.duration_sec, fps=r.fps, sample_rate=r.sample_rate, size=r.size,
                           crop=r.crop, audio_offset_sec=r.audio_offset_sec, early=early):
        yield _inputs(clip, spec, True)


def _inputs(clip: Clip, spec: ClipSpec, centre_crop: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """A decoded window as model inputs: float frames ``(T, 3, H, W)`` and audio ``(S,)``, both fitted to the window."""
    from avsync.features import frames_to_tensor

    video = fit_length(frames_to_tensor(clip.frames), spec.num_frames)
    if centre_crop and video.shape[-2:] != (spec.frame_size, spec.frame_size):
        video = center_crop(video, spec.frame_size)
    return video, fit_length(clip.audio, spec.num_samples)
