"""Contact sheets of the synthetic datasets: docs/img/synth_<kind>.png.

For each kind, a few clips (dense: talkers and one musician): a row of frames (listed event boxes drawn on the frames that show them)
above the waveform, with listed events marked (solid: sound with a visible cause, dashed: sound
without one, dotted green: a silent hard cut) and the shown frames' times as grey ticks.

    .venv/bin/python scripts/contact_sheets.py --out docs/img            # dense, sparse, static
    .venv/bin/python scripts/contact_sheets.py --out docs/img --kinds real   # needs data/real
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from avsync.data.synth_real import RealConfig  # noqa: E402
from avsync.data.synthetic import ALL_KINDS, KINDS, SynthClip, SynthConfig, make_clip  # noqa: E402


def frame_times(clip: SynthClip, n: int) -> list[int]:
    """Frames to show: each visual event's frame and the one before it, then evenly spread ones."""
    last = len(clip.frames) - 1
    picked: list[int] = []
    for e in clip.events:
        if e["visual"] and e["visual"] != "mouth" and len(picked) < n - 1:
            k = min(int(np.ceil(e["t"] * clip.fps)), last)
            picked += [max(k - 1, 0), k]
    spread = [int(round(x)) for x in np.linspace(0, last, n + 2)[1:-1]]
    for k in spread:
        if len(picked) >= n:
            break
        if all(abs(k - p) > 2 for p in picked):
            picked.append(k)
    return sorted(picked[:n])


def _continuous(clip: SynthClip, e: dict) -> bool:
    return e["visual"] == "mouth" and clip.kind == "dense"


def draw_clip(fig: plt.Figure, grid: matplotlib.gridspec.SubplotSpec, clip: SynthClip, n_frames: int) -> None:
    """One clip: frames on top, waveform with events below."""
    height, width = clip.frames.shape[1:3]
    sub = grid.subgridspec(2, n_frames, height_ratios=[height / width, 0.55], hspace=0.05, wspace=0.03)
    shown = frame_times(clip, n_frames)
    for col, k in enumerate(shown):
        ax = fig.add_subplot(sub[0, col])
        ax.imshow(clip.frames[k])
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{k / clip.fps:.2f} s", fontsize=7, pad=2)
        for e in clip.events:
            if e["box"] is None or e["visual"] == "cut":
                continue
            continuous = _continuous(clip, e)
            if continuous or abs(k - np.ceil(e["t"] * clip.fps)) < 1:
                x0, y0, x1, y1 = np.array(e["box"]) * [width, height, width, height]
                ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=1,
                                       ec="yellow" if continuous else "red"))
    ax = fig.add_subplot(sub[1, :])
    t = np.arange(len(clip.audio)) / clip.sample_rate
    ax.plot(t, clip.audio, lw=0.3, color="0.2")
    for k in shown:
        ax.axvline(k / clip.fps, color="0.7", lw=0.6, zorder=0)
    for e in clip.events:
        if _continuous(clip, e):
            continue
        cut = e["visual"] == "cut"
        colour = "tab:green" if cut else "red" if e["visual"] else "tab:blue"
        ax.axvline(e["t"], color=colour, ls=":" if cut else "-" if e["visual"] else "--", lw=0.9)
        if len(clip.events) <= 6:       # a musician's beats are too many to label
            label = "cut" if cut else f"{e['visual'] or 'off-screen'}/{e['sound']}"
            ax.text(e["t"], ax.get_ylim()[1], f" {label}", fontsize=6, va="top", rotation=0, color=colour)
    ax.set_xlim(0, t[-1])
    ax.set_yticks([])
    ax.tick_params(labelsize=7)
    ax.set_xlabel("time (s)", fontsize=7, labelpad=1)


def pick_clips(kind: str, seed: int, clips: int, cfg: SynthConfig) -> list[SynthClip]:
    """The first ``clips`` clips of the set, except that a dense sheet shows its first musician
    (ball on a drum) as the last row."""
    if kind != "dense":
        return [make_clip(kind, seed, i, cfg) for i in range(clips)]
    talkers, musician = [], None
    for i in range(50):
        clip = make_clip(kind, seed, i, cfg)
        is_music = clip.events[0]["visual"] == "bounce"
        if is_music and musician is None:
            musician = clip
        elif not is_music and len(talkers) < clips - 1:
            talkers.append(clip)
        if musician is not None and len(talkers) == clips - 1:
            break
    return talkers + ([musician] if musician is not None else [])


def contact_sheet(kind: str, out: Path, seed: int, clips: int, cfg: SynthConfig, n_frames: int = 8) -> Path:
    """Render the sheet of ``clips`` clips of ``kind`` and save it as out/synth_<kind>.png."""
    aspect = cfg.size / (getattr(cfg, "width", None) or cfg.size)
    fig = plt.figure(figsize=(n_frames * 1.3, clips * (1.0 + 1.3 * aspect)))
    outer = fig.add_gridspec(clips, 1, hspace=0.35)
    for row, clip in enumerate(pick_clips(kind, seed, clips, cfg)):
        draw_clip(fig, outer[row], clip, n_frames)
    fig.suptitle(f"avsync synth {kind} (seed {seed}, {cfg.size} px, {cfg.duration_sec:g} s)", fontsize=9)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"synth_{kind}.png"
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)
    return path


def main() -> None:
    """Write one contact sheet a kind."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="docs/img", help="output folder (default docs/img)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clips", type=int, default=3, help="clips a sheet (default 3)")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--width", type=int, default=None, help="real: frame width (default: square)")
    p.add_argument("--kinds", nargs="+", default=list(KINDS), choices=ALL_KINDS,
                   help="default dense sparse static; real needs the real-media bank (data/real)")
    args = p.parse_args()
    for kind in args.kinds:
        cfg = (RealConfig(duration_sec=args.duration, size=args.size, width=args.width) if kind == "real"
               else SynthConfig(duration_sec=args.duration, size=args.size))
        print(contact_sheet(kind, Path(args.out), args.seed, args.clips, cfg))


if __name__ == "__main__":
    main()
