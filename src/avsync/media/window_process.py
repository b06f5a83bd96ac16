"""``WindowProcess``: one file's windows decoded in a child process started before torch is loaded.

Importing torch and loading a model keeps one core busy for a second or more (2.2-2.6 s on the 2-core
machine of docs/benchmarks.md), and threads of the same process barely run meanwhile: the import
holds the GIL. A child forked before that import decodes the file's windows
(:func:`~avsync.media.windows.decode_windows`, numpy only) on the other core in the meantime and
hands them to the parent through a bounded queue (:func:`windows_ahead`: at most 64 MB of windows
waiting, so memory stays bounded however long the file). The parent takes them through
:func:`~avsync.media.windows.read_clips` (``early=``), which uses them only when the child decodes
exactly the windows asked for (``request``) and otherwise closes it and reads the file itself.

Forking is safe only in a process that holds no other thread and has not loaded torch (whose thread
pools do not survive a fork), and only Linux forks such a process reliably: :func:`can_start_early`
says so, else nothing is started early and the windows are read in the parent as before. An error
in the child (a corrupt or truncated file, a window outside it) is raised in the parent when it
reaches that window; a child whose parent is gone stops by itself.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
from typing import Any, Iterator

import numpy as np

from avsync.errors import CorruptMediaError, UsageError
from avsync.media.windows import WindowRequest, decode_windows

AHEAD_BYTES = 64 * 2 ** 20   # decoded windows waiting for the parent take this much memory at most
AHEAD_MAX = 64               # and are this many at most (64 windows of 5 s at 32 px: 45 MB, about 160 s of video)
POLL_SEC = 1.0      # how often each side looks whether the other one is still there


def can_start_early() -> bool:
    """True where a decoding child can be forked now: Linux, torch not loaded, no other thread running."""
    return (sys.platform.startswith("linux") and "torch" not in sys.modules and threading.active_count() == 1
            and "fork" in multiprocessing.get_all_start_methods())


def windows_ahead(request: WindowRequest) -> int:
    """How many of ``request``'s windows may wait for the parent: ``AHEAD_MAX``, fewer where they are large
    (within ``AHEAD_BYTES``), at least 2. Enough to hold what the child decodes while torch loads."""
    frames = round(request.duration_sec * request.fps)
    crop = request.crop if request.crop is not None else (request.size or 1080)   # unknown size: as 1080 x 1080
    h, w = (crop, crop) if isinstance(crop, int) else crop
    nbytes = frames * h * w * 3 + round(request.duration_sec * request.sample_rate) * 4
    return max(2, min(AHEAD_MAX, AHEAD_BYTES // max(1, nbytes)))


class WindowProcess:
    """The windows of ``request`` decoded in a forked child (module docstring); iterate once for
    (frames uint8 ``(T, H, W, 3)``, audio float32 ``(S,)``) per window, ``close`` to stop it early."""

    def __init__(self, request: WindowRequest, ahead: int | None = None) -> None:
        if not can_start_early():
            raise UsageError("a decoding process is forked only on Linux, before torch loads, from one thread")
        context = multiprocessing.get_context("fork")
        self.request = request
        self._queue: Any = context.Queue(max(1, ahead or windows_ahead(request)))
        self._process = context.Process(target=_decode_into, args=(request, self._queue, os.getpid()),
                                        name="avsync-decode", daemon=True)
        self._process.start()
        self._read = False

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if self._read:
            raise UsageError("the windows of a WindowProcess are read once")
        self._read = True
        try:
            while True:
                kind, a, b = self._next()
                if kind == "error":
                    raise a
                if kind == "end":
                    self._process.join(timeout=5)     # it ends by itself once its queue is flushed
                    return
                yield a, b
        finally:
            self.close()

    def _next(self) -> tuple[str, Any, Any]:
        """The child's next message; a CorruptMediaError when the child died without saying why."""
        while True:
            try:
                return self._queue.get(timeout=POLL_SEC)
            except queue.Empty:
                if not self._process.is_alive():
                    try:
                        return self._queue.get(timeout=POLL_SEC)   # what it sent just before it ended
                    except queue.Empty:
                        raise CorruptMediaError(self.request.path, f"the decoding process ended unexpectedly "
                                                                   f"(exit code {self._process.exitcode})") from None

    def close(self) -> None:
        """Stop the child (when it still runs) and release the queue; safe to call more than once."""
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(timeout=5)
        self._queue.close()


def _decode_into(request: WindowRequest, out: Any, parent: int) -> None:
    """The child: every window of ``request`` into ``out``, then ("end",), or ("error", exception)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)      # Ctrl-C is the parent's to handle: it stops the child
    try:
        for frames, audio in decode_windows(request):
            if not _put(out, ("window", frames, audio), parent):
                return
        _put(out, ("end", None, None), parent)
    except Exception as e:  # handed to the parent, which raises it where the window was asked for
        _put(out, ("error", _picklable(e), None), parent)


def _put(out: Any, item: tuple, parent: int) -> bool:
    """Put ``item`` into ``out``, waiting while it is full; False once the parent is gone (and then the queue's
    feeder thread, blocked on a pipe nobody reads, is not waited for at exit)."""
    while os.getppid() == parent:
        try:
            out.put(item, timeout=POLL_SEC)
            return True
        except queue.Full:
            continue
    out.cancel_join_thread()
    return False


def _picklable(e: Exception) -> Exception:
    """``e`` itself when it crosses a process boundary intact, else a RuntimeError that says what it was."""
    try:
        pickle.loads(pickle.dumps(e))
        return e
    except Exception:
        return RuntimeError(f"{type(e).__name__}: {e}")
