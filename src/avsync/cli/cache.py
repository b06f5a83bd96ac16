"""``avsync cache``: decode the engine's training clips once into a feature cache."""

from __future__ import annotations

import argparse
import os

from avsync.cli.common import err
from avsync.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``cache`` subcommand."""
    p = subparsers.add_parser(
        "cache", help="make the feature cache the engine's model trains from (avsync.data.feature_cache)",
        description="Render synthetic `real`-kind clips (real recordings on TRAIN-source pictures), encode and decode "
                    "each as a checked file is read, and cut the TRAIN-group real clips into pieces; all kept as "
                    "grey frames and 16 kHz audio in OUT. Shards already there are kept, so a stopped run resumes.")
    p.add_argument("--out", required=True, help="cache folder (e.g. data/cache/engine-v2)")
    p.add_argument("--real", default="data/real", help="the real-media folder of scripts/get_real_media.py (default data/real)")
    p.add_argument("--synth-clips", type=int, default=1200, help="synthetic clips (default 1200)")
    p.add_argument("--clip-sec", type=float, default=8.0, help="seconds per clip (default 8)")
    p.add_argument("--seed", type=int, default=0, help="synthetic set seed (default 0)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: all cores)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build (or complete) the cache and say what it holds."""
    from avsync.data.feature_cache import CacheSpec, build_cache, load_cache

    if args.synth_clips < 0 or args.clip_sec < 4 or args.workers < 1:
        raise UsageError("--synth-clips must be >= 0, --clip-sec >= 4 and --workers >= 1")
    spec = CacheSpec(clip_sec=args.clip_sec, synth_clips=args.synth_clips, seed=args.seed)
    out = build_cache(args.out, spec, args.real, args.workers, progress=lambda name: err(f"avsync: cached {name}"))
    clips = load_cache(out)
    err(f"avsync: {out}: {len(clips.real)} clips of {spec.clip_sec:g} s ({int(clips.real.sum())} real pieces, "
        f"{int((~clips.real).sum())} synthetic)")
    return 0
