"""Media I/O on PyAV: probe files, read clips at a constant frame rate, write and shift videos."""

from avsync.media.writer import write_video

__all__ = ["write_video"]
