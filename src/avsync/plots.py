"""Figures (matplotlib, Agg backend, PNG): the offset timeline, explanation heat-maps over frames, and
reliability diagrams. Every function writes one file (temp file then rename) and returns its path."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from avsync.checker.timeline import owned_spans
from avsync.fileio import atomic_path

if TYPE_CHECKING:
    from avsync.checker.explain import Explanation
    from avsync.checker.results import Timeline


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | os.PathLike) -> Path:
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight")
    finally:
        _pyplot().close(fig)
    return Path(path)


def timeline_plot(tl: "Timeline", path: str | os.PathLike, min_confidence: float | None = None) -> Path:
    """Heat-map of the class probabilities of every window over time (offset on the y axis), the
    per-window offsets (dots), the constant-offset segments (red), stretches without evidence
    (hatched), and below it each window's confidence."""
    plt = _pyplot()
    r = tl.result
    wins = r.per_window
    grid = np.asarray(r.grid)
    step = float(grid[1] - grid[0]) if len(grid) > 1 else 1.0
    fig, (ax, axc) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]},
                                  layout="constrained")
    if wins:
        spans = owned_spans(wins)
        x_edges = np.array([a for a, _ in spans] + [spans[-1][1]])
        y_edges = np.append(grid - step / 2, grid[-1] + step / 2)
        probs = np.array([w.probs for w in wins]).T  # (C, W)
        shown = probs / np.maximum(probs.max(0, keepdims=True), 1e-12)  # each window scaled to its peak
        mesh = ax.pcolormesh(x_edges, y_edges, shown, cmap="magma", vmin=0, vmax=1, shading="flat")
        fig.colorbar(mesh, ax=ax, pad=0.01, fraction=0.03, label="probability / window's peak")
        centres = np.array([(a + b) / 2 for a, b in spans])
        ok = np.array([w.usable for w in wins])
        offs = np.array([w.offset_sec for w in wins])
        ax.plot(centres[ok], offs[ok], "o", ms=3, color="cyan", label="window offset")
        axc.plot(centres, [w.confidence for w in wins], "-o", ms=2.5, color="tab:blue")
    for s in tl.segments:
        ax.hlines(s.offset_sec, s.start_sec, s.end_sec, colors="red", lw=1.3, linestyles="--", alpha=0.9)
    ax.plot([], [], color="red", lw=1.3, ls="--", label="segment offset")
    for k, st in enumerate(tl.no_evidence):
        for a in (ax, axc):
            a.axvspan(st["start_sec"], st["end_sec"], facecolor="none", edgecolor="0.6", hatch="//", lw=0,
                      label="no evidence" if (a is ax and k == 0) else None)
    ax.axhline(0, color="white", lw=0.6, ls=":")
    ax.set_ylabel("offset s (> 0: audio ahead)")
    title = f"{Path(r.path).name}: offset {r.offset_sec:+.2f} s" if r.offset_sec is not None else Path(r.path).name
    ax.set_title(title + ("  (drift)" if tl.drift else ""))
    ax.legend(loc="upper right", fontsize=7, framealpha=0.6)
    if min_confidence is not None:
        axc.axhline(min_confidence, color="0.5", ls="--", lw=0.8)
    axc.set_ylim(0, 1.02)
    axc.set_ylabel("confidence")
    axc.set_xlabel("time s (each window drawn over the part of the file it speaks for)")
    return _save(fig, path)


def explain_plot(expl: "Explanation", path: str | os.PathLike) -> Path:
    """The explanation's frames with their attention heat-maps laid over them, and (when the model
    has one) its spectrogram with the audio attention over it, written to ``path``."""
    frames, heat, spec, audio_heat, times = expl.frames, expl.heat, expl.spectrogram, expl.audio_heat, expl.times
    time_range, max_khz, title = (expl.start_sec, expl.end_sec), expl.max_khz, expl.title
    plt = _pyplot()
    n = len(frames)
    rows = 2 if spec is not None else 1
    fig = plt.figure(figsize=(1.9 * n, 2.1 * rows + 0.4))
    for i in range(n):
        a = fig.add_subplot(rows, n, i + 1)
        a.imshow(frames[i])
        a.imshow(heat[i], cmap="jet", alpha=0.45, vmin=0, vmax=1, extent=(-0.5, frames[i].shape[1] - 0.5,
                                                                           frames[i].shape[0] - 0.5, -0.5))
        a.set_title(f"{times[i]:.2f} s", fontsize=8)
        _face_boxes(a, expl.faces, i, frames[i].shape[1], frames[i].shape[0])
        a.axis("off")
    if spec is not None:
        a = fig.add_subplot(rows, 1, 2)
        extent = ((time_range or (-0.5, spec.shape[1] - 0.5)) + ((0, max_khz) if max_khz else (-0.5, spec.shape[0] - 0.5)))
        a.imshow(spec, aspect="auto", origin="lower", cmap="gray", extent=extent)
        if audio_heat is not None:
            a.imshow(audio_heat, aspect="auto", origin="lower", cmap="jet", alpha=0.45, vmin=0, vmax=1, extent=extent)
        a.set_ylabel("kHz" if max_khz else "frequency bin")
        a.set_xlabel("time s" if time_range else "audio frame")
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def _face_boxes(ax: Any, faces: list[dict[str, Any]], i: int, width: int, height: int) -> None:
    """The speech expert's face tracks at shown frame ``i``: the heaviest in green, the others white, each
    labelled with its track id and its share of the attention."""
    from matplotlib.patches import Rectangle

    for rank, face in enumerate(faces[:4]):
        box = face["boxes"][i]
        if box is None:
            continue
        x0, y0, x1, y1 = box[0] * width, box[1] * height, box[2] * width, box[3] * height
        color = "lime" if rank == 0 else "white"
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color=color, lw=1))
        ax.text(x0, y0, f"{face['track']}: {face['weight']:.0%}", color=color, fontsize=5, va="bottom")


def reliability_plot(table: dict[str, Any], path: str | os.PathLike, title: str = "",
                     before: dict[str, Any] | None = None) -> Path:
    """Reliability diagram from :func:`avsync.checker.calibration.reliability`: accuracy against mean confidence
    per bin (the diagonal is perfect calibration), with counts; ``before`` adds the uncalibrated curve."""
    plt = _pyplot()
    fig, (ax, axn) = plt.subplots(2, 1, figsize=(5, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], ls="--", color="0.5", lw=1)
    curves = ([(before, "before (T = 1)", "tab:orange")] if before else []) + [(table, "calibrated", "tab:blue")]
    for t, label, color in curves:
        conf = [b["confidence"] for b in t["bins"]]
        acc = [b["accuracy"] for b in t["bins"]]
        ax.plot(conf, acc, "-o", color=color, label=f"{label}: ECE {t['ece']:.3f}")
    width = 1.0 / max(1, len(table["bins"]) and round(1 / (table["bins"][0]["hi"] - table["bins"][0]["lo"])))
    axn.bar([(b["lo"] + b["hi"]) / 2 for b in table["bins"]], [b["count"] for b in table["bins"]],
            width=width * 0.9, color="tab:blue")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title, fontsize=9)
    axn.set_xlabel("confidence")
    axn.set_ylabel("records")
    return _save(fig, path)
