"""Media I/O on PyAV: probe files, read clips at a constant frame rate, write and shift videos."""

from avsync.media.edit import shift_audio
from avsync.media.probe import AudioInfo, MediaInfo, VideoInfo, probe
from avsync.media.reader import Clip, read_clip
from avsync.media.writer import write_video

__all__ = ["AudioInfo", "Clip", "MediaInfo", "VideoInfo", "probe", "read_clip", "shift_audio", "write_video"]
