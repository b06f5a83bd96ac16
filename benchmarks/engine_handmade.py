"""The engine's accumulation with hand-made evidence instead of a learnt model, on the real benchmark.

    .venv/bin/python benchmarks/engine_handmade.py --data data/real --group dev --out benchmarks/results/real_dev_v1_engine_handmade.json

A LagNet whose embeddings are made by hand (nothing trained): a frame's motion (the largest mean absolute
difference from the previous frame over an 8 x 8 grid of cells, standardised over the file, rectified) and a
10 ms step's onset strength (rectified rise of the 300-3000 Hz log energy, standardised), each as a 2-d unit
vector with a small constant part, so that their cosine is high where both have an event. Everything else
(per-frame log-probabilities over every offset, per-second evidence, the self-normalised confidence with the
engine's default sharpness, timeline, refusals) is the engine's own. It says what the accumulation can do on
real footage with the simplest evidence there is; the calibration is the engine's default, not fitted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from real_dev import render_all, run_case  # noqa: E402

from avsync.checker import OffsetChecker  # noqa: E402
from avsync.data.real import read_corpus  # noqa: E402
from avsync.models import LagNet, get_config  # noqa: E402
from avsync.real_dev import build_cases, summarise  # noqa: E402


def _events(x: torch.Tensor) -> torch.Tensor:
    """Rectified standardised series ``(B, T)`` as 2-d unit vectors ``(B, T, 2)``."""
    z = F.relu((x - x.mean(1, keepdim=True)) / (x.std(1, keepdim=True) + 1e-6))
    return F.normalize(torch.stack([z, torch.full_like(z, 0.3)], -1), dim=-1)


class HandMade(LagNet):
    """Motion of the busiest cell against onset strength (see the module docstring)."""

    def embed_video(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames.float()
        diff = torch.cat([torch.zeros_like(x[:, :1]), (x[:, 1:] - x[:, :-1]).abs()], 1)
        cells = F.adaptive_avg_pool2d(diff.flatten(0, 1)[:, None], (8, 8)).view(*x.shape[:2], 64)
        return _events(cells.amax(-1))

    def embed_audio(self, audio: torch.Tensor) -> torch.Tensor:
        c = self.config
        spec = torch.stft(audio.float(), c.n_fft, c.hop, window=self.window, center=True, return_complex=True)
        freqs = torch.linspace(0, c.sample_rate / 2, spec.shape[1])
        band = (freqs >= 300) & (freqs <= 3000)
        energy = torch.log(spec.abs().square()[:, band].mean(1) + 1e-8)
        rise = torch.cat([torch.zeros_like(energy[:, :1]), energy[:, 1:] - energy[:, :-1]], 1)
        return _events(rise)


def main() -> int:
    """Run the real benchmark's cases with the hand-made engine; print and write the summary."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--group", choices=("dev", "train", "all"), default="dev")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    cases = [c for c in build_cases(read_corpus(args.data)) if args.group in ("all", c.group)]
    files = render_all(cases, args.data / "cases" / "v1")
    model = HandMade(get_config("lagnet-default", widths=[4], feature_dim=4, frame_dim=4, hidden=4, dim=2))
    checker = OffsetChecker(model, name="handmade")
    outcomes = [run_case(checker, c, files[c.id]) for c in cases]
    summary = summarise(outcomes)
    for key, row in summary["by_kind"].items():
        print(key, {k: row[k] for k in ("offset_cases", "within_0.1", "within_0.25", "confidently_wrong", "refused",
                                        "guess_within_0.25", "guess_median_abs_err_sec")})
    if args.out:
        args.out.write_text(json.dumps({"command": " ".join(sys.argv), "summary": summary,
                                        "outcomes": [o.to_dict() for o in outcomes]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
