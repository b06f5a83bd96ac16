"""How fast is ``avsync check``? Seconds to check a 10 s and a 10 min video, next to the time PyAV
alone needs to decode the same file and the time of ``ffmpeg -threads 2 -i F -f null -`` (issue 15's bar;
the ffmpeg binary of ``pip install imageio-ffmpeg`` or one on PATH), and files per minute over a folder
of 100 clips.

    .venv/bin/python benchmarks/check_speed.py [--model NAME|PATH] [--files 100] [--minutes 10] [--size 640x360]

The test videos (H.264 25 fps at ``--size``, AAC 48 kHz stereo; made by ``read_clip.py``'s generator) are
cached in benchmarks/.cache/. The folder of clips holds copies of the 10 s video with their audio
shifted by different offsets (``avsync.media.shift_audio``). "check" times are the checker alone
(model loaded, in this process); "CLI" times are the whole ``avsync check`` process, including
Python start-up, ``import torch`` and loading the model. Each process's CPU time (user + system, all its threads)
is recorded beside its wall time: CPU-s / wall s is the cores it kept busy, so a check that is bound by the
machine's cores (rather than waiting) shows it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from read_clip import CACHE, decode_everything, make_long_video



def timed(fn, repeats: int = 1) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls, and the last result."""
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def video(minutes: float, size: tuple[int, int]) -> Path:
    """The cached test video of ``minutes`` at ``size`` (height, width), generated on first use."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"check_{minutes * 60:g}s_{size[1]}x{size[0]}.mp4"
    if not path.is_file():
        make_long_video(path, minutes, size=size)
    return path


def ffmpeg_exe() -> str | None:
    """An ffmpeg binary: imageio-ffmpeg's if installed, else one on PATH, else None."""
    try:
        import imageio_ffmpeg
        return imageio_ffmpeg.get_ffmpeg_exe()
    except ImportError:
        return shutil.which("ffmpeg")


def process_times(cmd: list[str], **kw: object) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system over all its threads) of one process run to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, **kw)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def ffmpeg_null(exe: str, path: Path) -> tuple[float, float]:
    """Wall and CPU time of ``ffmpeg -threads 2 -i path -f null -`` (decode everything, write nothing)."""
    return process_times([exe, "-v", "error", "-threads", "2", "-i", str(path), "-f", "null", "-"])


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


def cli(args: list[str]) -> tuple[float, float]:
    """Wall and CPU time of one ``avsync`` process."""
    return process_times([sys.executable, "-m", "avsync", *args], stdout=subprocess.DEVNULL)


def main() -> None:
    """Measure and print a markdown table (and the raw numbers as JSON)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model name or path (default: the shipped default model)")
    ap.add_argument("--files", type=int, default=100, help="clips in the folder (0: no folder)")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--size", default="640x360", help="WIDTHxHEIGHT of the long video (the 10 s one is 640x360)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--long-repeats", type=int, default=1,
                    help="runs of each timing on the long file; the CLI and ffmpeg alternate, the ratio is their pairs' median")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args()

    import compileall

    import avsync

    # the package's bytecode, as `pip install` (or setup.sh) leaves it: where PYTHONDONTWRITEBYTECODE is set, an
    # uncompiled editable checkout compiles itself on every start (0.1 s of each whole-CLI time)
    compileall.compile_dir(Path(avsync.__file__).parent, quiet=1)
    width, height = (int(v) for v in args.size.split("x"))
    short, long = video(10 / 60, (360, 640)), video(args.minutes, (height, width))
    exe = ffmpeg_exe()
    t_load, checker = timed(lambda: avsync.load_model(args.model))
    checker.check(short)  # warm-up
    model_args = ["--method", "xcorr"] if args.model == "xcorr" else (["--model", args.model] if args.model else [])
    rows = {}
    for name, path, reps in (("10 s 640x360", short, args.repeats), (f"{args.minutes:g} min {args.size}", long,
                                                                     args.long_repeats)):
        t_dec, _ = timed(lambda: decode_everything(path), reps)
        t_chk, r = timed(lambda: checker.check(path), reps)
        clis, nulls = [], []
        for _ in range(reps):        # alternately, so that both see the same load; the ratio of each pair
            clis.append(cli(["check", str(path), "--format", "json", *model_args]))
            if exe:
                nulls.append(ffmpeg_null(exe, path))
        row = {"decode_sec": round(t_dec, 3), "check_sec": round(t_chk, 3),
               "cli_sec": round(statistics.median(w for w, _ in clis), 3),
               "cli_cpu_sec": round(statistics.median(c for _, c in clis), 2),
               "windows": r.windows, "offset_sec": r.offset_sec, "ratio_decode": round(t_chk / t_dec, 2)}
        if exe:
            ratios = [c[0] / n[0] for c, n in zip(clis, nulls)]
            row.update(ffmpeg_null_sec=round(statistics.median(w for w, _ in nulls), 3),
                       ffmpeg_cpu_sec=round(statistics.median(c for _, c in nulls), 2),
                       ratio_cli_ffmpeg=round(statistics.median(ratios), 2),
                       ratios_cli_ffmpeg=[round(x, 3) for x in ratios],
                       ratio_cpu_cli_ffmpeg=round(statistics.median(c[1] / n[1] for c, n in zip(clis, nulls)), 2))
        rows[name] = row
    result = {"command": " ".join(sys.argv), "model": checker.name, "ffmpeg": exe,
              "load_model_sec": round(t_load, 3), "rows": rows, "load_average": os.getloadavg()[0],
              "threads": __import__("torch").get_num_threads()}
    if args.files:
        folder = folder_of_clips(short, args.files)
        with tempfile.TemporaryDirectory() as tmp:
            t_folder, _ = cli(["check", str(folder), "--format", "jsonl", "--out", f"{tmp}/r.jsonl", *model_args])
        result.update(folder_files=args.files, folder_sec=round(t_folder, 2),
                      files_per_min=round(args.files / t_folder * 60, 1))
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    print("\n| video | ffmpeg -f null s (CPU-s) | PyAV decode s | check s | whole CLI s (CPU-s) | CLI / ffmpeg | "
          "CPU-s CLI / ffmpeg | check / PyAV |\n|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r.get('ffmpeg_null_sec', '-')} ({r.get('ffmpeg_cpu_sec', '-')}) | {r['decode_sec']:.2f} | "
              f"{r['check_sec']:.2f} | {r['cli_sec']:.2f} ({r['cli_cpu_sec']:.2f}) | {r.get('ratio_cli_ffmpeg', '-')}x | "
              f"{r.get('ratio_cpu_cli_ffmpeg', '-')}x | {r['ratio_decode']:.1f}x |")
    if args.files:
        print(f"\n{args.files} clips of 10 s: {result['folder_sec']:.1f} s for the whole `avsync check` run, "
              f"{result['files_per_min']:.0f} files/min (model {checker.name}, load average {result['load_average']:.1f})")


if __name__ == "__main__":
    main()
