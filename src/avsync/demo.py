"""The demo: the shipped example clips (package data) shifted by known offsets and checked, so anyone
can see what a checker gets right and wrong before trusting it with their own files."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from avsync.errors import AvsyncError, UsageError

if TYPE_CHECKING:
    from avsync.checker import SyncChecker

EXAMPLES_DIR = Path(__file__).parent / "assets" / "examples"
DEMO_SHIFTS = (-1.2, -0.4, 0.0, 0.6, 1.4)
CLOSE_SEC = 0.1


def example_clips(folder: str | Path | None = None) -> list[Path]:
    """The ``.mp4`` clips of ``folder`` (default: the shipped examples), sorted by name."""
    folder = Path(folder) if folder is not None else EXAMPLES_DIR
    clips = sorted(folder.glob("*.mp4"))
    if not clips:
        raise UsageError(f"{folder}: no .mp4 clips")
    return clips


def run_demo(checker: "SyncChecker", clips: Sequence[Path], shifts: Sequence[float] = DEMO_SHIFTS,
             window: float | None = None, stride: float | None = None,
             progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """One row per clip and shift: the clip's audio moved ``shift`` s ahead (``shift_audio``), then
    checked. Rows: clip, true_sec, and predicted_sec/confidence/synchronisable/error_sec, or error."""
    from avsync.media import shift_audio

    rows = []
    with tempfile.TemporaryDirectory(prefix="avsync-demo-") as tmp:
        for clip in clips:
            for s in shifts:
                if progress:
                    progress(f"{clip.name} {s:+.1f} s")
                shifted = Path(tmp) / f"{clip.stem}_{s:+.1f}.mp4"
                try:
                    shift_audio(clip, shifted, float(s))
                    r = checker.check(shifted, window=window, stride=stride)
                except AvsyncError as e:
                    rows.append({"clip": clip.name, "true_sec": float(s), "error": str(e)})
                    continue
                rows.append({"clip": clip.name, "true_sec": float(s), "predicted_sec": r.offset_sec,
                             "confidence": r.confidence, "synchronisable": r.synchronisable,
                             "error_sec": None if r.offset_sec is None else round(r.offset_sec - s, 3)})
    return rows


def summarise_demo(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many rows, how many were answered, how many within 0.1 s of the truth."""
    answered = [r for r in rows if r.get("error_sec") is not None]
    return {"cases": len(rows), "answered": len(answered),
            "within_0.1s": sum(abs(r["error_sec"]) <= CLOSE_SEC for r in answered)}
