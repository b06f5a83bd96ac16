"""Media I/O on PyAV: probe files, read clips at a constant frame rate, write and shift videos, fix a
file's audio keeping all else, and re-encode folders for training. torch is imported only by the
functions that return tensors."""

from avsync.media.edit import shift_audio
from avsync.media.fix import FixReport, KeptStream, fix_audio
from avsync.media.prepare import PrepareConfig, PrepareSummary, prepare_file, prepare_folder
from avsync.media.probe import AudioInfo, MediaInfo, VideoInfo, probe
from avsync.media.reader import Clip, read_clip
from avsync.media.writer import write_video

__all__ = ["AudioInfo", "Clip", "FixReport", "KeptStream", "MediaInfo", "PrepareConfig", "PrepareSummary", "VideoInfo",
           "fix_audio", "prepare_file", "prepare_folder", "probe", "read_clip", "shift_audio", "write_video"]
