"""How fast is ``avsync check``? Seconds to check a 10 s and a 10 min video, next to the time PyAV
alone needs to decode the same file, and files per minute over a folder of 100 clips.

    .venv/bin/python benchmarks/check_speed.py [--model NAME|PATH] [--files 100] [--minutes 10]

The test videos (640x360 H.264 25 fps, AAC 48 kHz stereo; made by ``read_clip.py``'s generator) are
cached in benchmarks/.cache/. The folder of clips holds copies of the 10 s video with their audio
shifted by different offsets (``avsync.media.shift_audio``). "check" times are the checker alone
(model loaded, in this process); "CLI" times are the whole ``avsync check`` process, including
Python start-up, ``import torch`` and loading the model.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from read_clip import CACHE, decode_everything, make_long_video

SIZE = (360, 640)


def timed(fn, repeats: int = 1) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls, and the last result."""
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def video(name: str, minutes: float) -> Path:
    """The cached test video, generated on first use."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / name
    if not path.is_file():
        make_long_video(path, minutes, size=SIZE)
    return path


def folder_of_clips(src: Path, n: int) -> Path:
    """``n`` copies of ``src`` with the audio shifted by offsets in -1.5..1.5 s."""
    from avsync.media import shift_audio

    folder = CACHE / f"clips_{n}"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        dst = folder / f"clip_{i:03d}.mp4"
        if not dst.is_file():
            shift_audio(src, dst, round(-1.5 + 3.0 * i / max(1, n - 1), 2))
    return folder


def cli_seconds(args: list[str]) -> float:
    """Wall time of one ``avsync`` process."""
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "avsync", *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    """Measure and print a markdown table (and the raw numbers as JSON)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model name or path (default: the shipped default model)")
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import avsync

    short, long = video("check_10s.mp4", 10 / 60), video(f"check_{args.minutes:g}min.mp4", args.minutes)
    t_load, checker = timed(lambda: avsync.load_model(args.model))
    checker.check(short)  # warm-up
    rows = {}
    for name, path, reps in (("10 s", short, args.repeats), (f"{args.minutes:g} min", long, 1)):
        t_dec, _ = timed(lambda: decode_everything(path), reps)
        t_chk, r = timed(lambda: checker.check(path), reps)
        rows[name] = {"decode_sec": round(t_dec, 3), "check_sec": round(t_chk, 3), "windows": r.windows,
                      "ratio": round(t_chk / t_dec, 2)}
    model_args = ["--method", "xcorr"] if args.model == "xcorr" else (["--model", args.model] if args.model else [])
    rows["10 s"]["cli_sec"] = round(statistics.median(
        cli_seconds(["check", str(short), "--format", "json", *model_args]) for _ in range(args.repeats)), 3)
    folder = folder_of_clips(short, args.files)
    with tempfile.TemporaryDirectory() as tmp:
        t_folder = cli_seconds(["check", str(folder), "--format", "jsonl", "--out", f"{tmp}/r.jsonl", *model_args])
    result = {"model": checker.name, "load_model_sec": round(t_load, 3), "rows": rows, "folder_files": args.files,
              "folder_sec": round(t_folder, 2), "files_per_min": round(args.files / t_folder * 60, 1),
              "load_average": os.getloadavg()[0], "threads": __import__("torch").get_num_threads()}
    print(json.dumps(result, indent=1))
    print("\n| video | PyAV decode s | check s | check / decode | windows | whole CLI s |\n|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['decode_sec']:.2f} | {r['check_sec']:.2f} | {r['ratio']:.1f}x | {r['windows']} | "
              f"{r.get('cli_sec', '')} |")
    print(f"\n{args.files} clips of 10 s: {t_folder:.1f} s for the whole `avsync check` run, "
          f"{result['files_per_min']:.0f} files/min (model {checker.name}, load average {result['load_average']:.1f})")


if __name__ == "__main__":
    main()
