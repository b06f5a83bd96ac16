"""avsync: is the sound of a video in sync with its picture, by how much, and fix it.

Sign convention: ``offset_sec > 0`` means the audio is ahead of the picture; fixing it means delaying
the audio by ``offset_sec``.
"""

from __future__ import annotations

__version__ = "0.1.0"
