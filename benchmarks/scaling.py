"""How the cost of a forward+backward pass grows with the input length, per architecture.

Two settings, batch 1, fp32, on this CPU:

* ``tiny`` - the whole model (CNNs included) of ``<arch>-tiny`` with 32 px frames (so that AVST-enc's
  dense visual tokens fit and finish at 20 s);
* ``paper`` - the part after the CNNs (bridges, selectors / transformer, head) at the published widths
  (``<arch>-paper``), fed the feature maps S3D and ResNet18 give for 224 px, 25 fps, 16 kHz input
  (t = ceil(T / 8) x 7 x 7 x 1024 visual, 9 x t_a x 512 audio). The CNNs are the same for all four
  architectures and convolutions are linear in length, so this is where the architectures differ.

AVST is timed on one (audio, video) pair of the given length (its offset-class forward runs one such
pair per candidate shift: a constant factor). Each point runs in a fresh subprocess. Time is the
process CPU time (``time.process_time``, one thread by default so that no spinning worker
thread is counted) of the best of up to 3 passes (at most ~20 s
spent a point): on a CPU shared with other jobs, wall-clock time mostly measures the other jobs.
Memory is the growth of the process's peak RSS (``resource.getrusage().ru_maxrss``) over its RSS just
before the first pass.

    nice -n 10 env PYTHONPATH=src .venv/bin/python benchmarks/scaling.py            # run, write docs
    nice -n 10 env PYTHONPATH=src .venv/bin/python benchmarks/scaling.py --quick    # 2 and 5 s only
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARCHS = ["sparsesync", "avst-enc", "avst-enc-mp", "avst-dec"]
SETTINGS = ["tiny", "paper"]
SECONDS = [2.0, 5.0, 10.0, 20.0]
TINY_FRAME = 32
PAPER_FRAME = 224
RESULTS = ROOT / "benchmarks" / "results" / "scaling.json"
PLOT = ROOT / "docs" / "img" / "scaling.png"
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- scaling:begin (written by benchmarks/scaling.py) -->", "<!-- scaling:end -->"


def _rss_mb() -> float:
    """Current resident set size of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _pass_fn(arch: str, setting: str, seconds: float):
    """Build the model and inputs for one point; returns a function running forward+backward."""
    import torch
    import torch.nn.functional as F

    from avsync.models import create

    # AVST's tables are sized for its scoring crop (window - offset_max_sec): make that crop `seconds`
    size = dict(duration_sec=seconds) if arch == "sparsesync" else \
        dict(duration_sec=seconds + 0.2, offset_max_sec=0.2, offset_step_sec=0.2)
    frames, samples = round(seconds * 25), round(seconds * 16000)
    if setting == "tiny":
        model = create(f"{arch}-tiny", frame_size=TINY_FRAME, **size).train()
        video = torch.rand(1, frames, 3, TINY_FRAME, TINY_FRAME)
        audio = torch.randn(1, samples) * 0.1
        if arch == "sparsesync":
            return lambda: F.cross_entropy(model(video, audio).logits, torch.tensor([0])).backward()
        return lambda: model.pair_score(video, audio).sum().backward()
    model = create(f"{arch}-paper", **size).train()
    grids = model.feature_grid(frames, PAPER_FRAME, PAPER_FRAME, samples)
    v = torch.randn(1, *grids["visual"], model.visual.out_channels)
    a = torch.randn(1, *grids["audio"], model.audio.out_channels)
    if arch == "sparsesync":
        return lambda: F.cross_entropy(model.from_features(v, a).logits, torch.tensor([0])).backward()
    return lambda: model.score_features(v, a)[0].sum().backward()


def measure_point(arch: str, setting: str, seconds: float, threads: int) -> dict:
    """Time and peak memory of forward+backward passes for one point (run inside a fresh process)."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    run = _pass_fn(arch, setting, seconds)
    base = _rss_mb()
    walls: list[float] = []
    cpus: list[float] = []
    start = time.perf_counter()
    while len(walls) < 3 and (not walls or time.perf_counter() - start < 8.0):
        t0, c0 = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"arch": arch, "setting": setting, "seconds": seconds, "time_s": min(cpus), "wall_s": min(walls),
            "passes": len(walls), "peak_mb": peak, "base_mb": base, "mem_mb": max(peak - base, 0.0)}


def run_point(arch: str, setting: str, seconds: float, threads: int) -> dict:
    """Measure one point in a fresh subprocess (so that its peak RSS is its own)."""
    cmd = [sys.executable, __file__, "--point", arch, setting, str(seconds), "--threads", str(threads)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def exponent(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log(y) against log(x)."""
    lx, ly = [math.log(x) for x in xs], [math.log(max(y, 1e-9)) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def series(results: list[dict], arch: str, setting: str, key: str) -> tuple[list[float], list[float]]:
    """(seconds, values) of one architecture and setting, by length."""
    rows = sorted((r for r in results if r["arch"] == arch and r["setting"] == setting), key=lambda r: r["seconds"])
    return [r["seconds"] for r in rows], [r[key] for r in rows]


def plot(results: list[dict], path: Path) -> None:
    """Log-log plot of time and memory against input length."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, label in ((axes[0], "time_s", "forward+backward CPU time (s)"), (axes[1], "mem_mb", "peak memory growth (MB)")):
        for i, arch in enumerate(ARCHS):
            for setting, style in (("tiny", "-o"), ("paper", "--s")):
                xs, ys = series(results, arch, setting, key)
                if xs:
                    ax.loglog(xs, ys, style, color=f"C{i}", label=f"{arch} {setting}")
        for p, ls in ((1, ":"), (2, "-.")):
            ax.loglog(SECONDS, [0.3 * (s / 2) ** p for s in SECONDS] if key == "time_s" else
                      [30 * (s / 2) ** p for s in SECONDS], ls, color="grey", lw=0.8, label=f"slope {p}")
        ax.set_xlabel("input length (s)")
        ax.set_ylabel(label)
        ax.set_xticks(SECONDS, [f"{s:g}" for s in SECONDS])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize=7, ncol=2)
    fig.suptitle("Cost of one forward+backward pass vs input length (tiny: whole model, 32 px; paper: after the CNNs, 224 px maps)",
                 fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def markdown(results: list[dict], meta: dict) -> str:
    """The generated part of the docs section: setup line, results table, fitted exponents."""
    lines = [f"Measured {meta['date']} on {meta['cpu']} ({meta['threads']} threads; load average "
             f"{meta['load_before']:.1f} before / {meta['load_after']:.1f} after the run, {meta['wall_s']:.0f} s in all).", "",
             "| arch | setting | " + " | ".join(f"{s:g} s: CPU time, mem" for s in SECONDS) + " |",
             "|---|---|" + "---|" * len(SECONDS)]
    for setting in SETTINGS:
        for arch in ARCHS:
            cells = []
            for s in SECONDS:
                r = next((r for r in results if (r["arch"], r["setting"], r["seconds"]) == (arch, setting, s)), None)
                cells.append(f"{r['time_s']:.3f} s, {r['mem_mb']:.0f} MB" if r else "-")
            lines.append(f"| {arch} | {setting} | " + " | ".join(cells) + " |")
    lines += ["", "Fitted log-log exponents (cost ~ length^k): over all lengths, and between the two longest.", "",
              "| arch | setting | time k (all) | time k (10->20 s) | memory k (all) | memory k (10->20 s) |",
              "|---|---|---|---|---|---|"]
    for setting in SETTINGS:
        for arch in ARCHS:
            xs, ts = series(results, arch, setting, "time_s")
            _, ms = series(results, arch, setting, "mem_mb")
            if len(xs) < 2:
                continue
            ks = [exponent(xs, ts), exponent(xs[-2:], ts[-2:]), exponent(xs, ms), exponent(xs[-2:], ms[-2:])]
            lines.append(f"| {arch} | {setting} | " + " | ".join(f"{k:.2f}" for k in ks) + " |")
    lines += ["", f"![time and memory vs input length](img/{PLOT.name})"]
    return "\n".join(lines)


def write_docs(text: str) -> None:
    """Replace the generated block of the scaling section in docs/benchmarks.md (temp file + rename)."""
    doc = DOC.read_text()
    if BEGIN in doc and END in doc:
        head, rest = doc.split(BEGIN, 1)
        doc = head + BEGIN + "\n" + text + "\n" + END + rest.split(END, 1)[1]
    else:
        doc = doc.rstrip("\n") + "\n\n## Scaling with input length\n\n" + BEGIN + "\n" + text + "\n" + END + "\n"
    tmp = DOC.with_name(DOC.name + ".tmp")
    tmp.write_text(doc)
    tmp.replace(DOC)


def main() -> int:
    """Run every point (or one, with --point), then write results, plot and docs."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--point", nargs=3, metavar=("ARCH", "SETTING", "SECONDS"), help="measure one point (internal)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads a point (default 1)")
    ap.add_argument("--quick", action="store_true", help="2 and 5 s only; do not write the docs")
    ap.add_argument("--no-docs", action="store_true", help="do not touch docs/benchmarks.md")
    ap.add_argument("--from-results", action="store_true",
                    help=f"measure nothing: redo the plot and docs from {RESULTS.relative_to(ROOT)}")
    args = ap.parse_args()
    if args.point:
        arch, setting, seconds = args.point
        print(json.dumps(measure_point(arch, setting, float(seconds), args.threads)))
        return 0
    import platform

    if args.from_results:
        saved = json.loads(RESULTS.read_text())
        plot(saved["results"], PLOT)
        write_docs(markdown(saved["results"], saved["meta"]))
        return 0
    seconds = SECONDS[:2] if args.quick else SECONDS
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "threads": args.threads,
            "cpu": f"{os.cpu_count()} CPU cores ({platform.machine()})", "load_before": os.getloadavg()[0]}
    start, results = time.perf_counter(), []
    for setting in SETTINGS:
        for arch in ARCHS:
            for s in seconds:
                r = run_point(arch, setting, s, args.threads)
                results.append(r)
                print(f"{arch:12s} {setting:6s} {s:5.1f} s  {r['time_s']:8.3f} s  {r['mem_mb']:8.1f} MB", flush=True)
    meta.update(wall_s=time.perf_counter() - start, load_after=os.getloadavg()[0])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
    plot(results, PLOT)
    text = markdown(results, meta)
    print(text)
    if not (args.quick or args.no_docs):
        write_docs(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
