"""The exceptions avsync raises on purpose: each carries a one-line message a user can act on."""

from __future__ import annotations


class AvsyncError(Exception):
    """Base of every error avsync reports to the user as one line (never a traceback)."""


class UsageError(AvsyncError):
    """The command line or the arguments of an API call make no sense (exit status 2)."""


class FetchError(AvsyncError):
    """A package registry could not deliver a file (no network, no such package or version, wrong
    checksum, no apt-get)."""


class MediaError(AvsyncError):
    """A media file could not be used. Subclasses say why; ``path`` names the file."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self) -> tuple:
        """Pickle by (path, reason), so the error crosses a process boundary (a decoding child's) intact."""
        return type(self), (self.path, self.reason)


class FileMissingError(MediaError):
    """The path does not exist or is not a regular file."""


class NotMediaError(MediaError):
    """The file is empty or not a container FFmpeg can open."""


class CorruptMediaError(MediaError):
    """The file opens but is truncated or its packets cannot be decoded."""


class NoVideoStreamError(MediaError):
    """The file has no video stream."""


class NoAudioStreamError(MediaError):
    """The file has no audio stream."""


class WindowError(MediaError):
    """The requested time window lies (partly) outside the file."""


class TooShortError(MediaError):
    """The file is shorter than the model's input window."""
