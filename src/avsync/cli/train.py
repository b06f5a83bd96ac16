"""``avsync train``, ``avsync evaluate`` and ``avsync offsets``: training runs, reproducible
evaluation on fixed offset lists, and making those lists."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the train, evaluate and offsets subcommands."""
    p = sub.add_parser("train", help="train a sync model on a manifest or a folder of in-sync videos",
                       description="Self-supervised training: offsets are made on the fly from in-sync videos. "
                                   "Overrides: dotted keys, e.g. trainer.max_steps=200 data.train=[my_videos/].")
    p.add_argument("--config", required=True, help="training config YAML (see configs/train/)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="override config values (YAML syntax)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in run_dir from its newest intact checkpoint (start fresh when none)")
    p.set_defaults(func=run_train)

    e = sub.add_parser("evaluate", help="accuracy of a model on fixed offsets of a test split",
                       description="Accuracy@1, @1 within +-1 class, @5, mean absolute offset error, per kind "
                                   "and per class, a confusion-matrix PNG and a JSON report.")
    e.add_argument("checkpoint", help="a checkpoint folder, a run folder, or a model .safetensors")
    e.add_argument("--data", required=True, nargs="+", help="manifest(s) CSV or folder(s) of videos")
    e.add_argument("--split", default="test", help="manifest split to evaluate when no --offsets (default test)")
    e.add_argument("--kinds", nargs="*", help="only these manifest kinds")
    e.add_argument("--offsets", help="fixed offset list CSV (from `avsync offsets`); default: made with --seed")
    e.add_argument("--per-source", type=int, default=2, help="fixed crops per source without --offsets (default 2)")
    e.add_argument("--seed", type=int, default=0, help="seed of the drawn crops when no --offsets list is given (default: 0)")
    e.add_argument("--out", help="JSON report path; the confusion matrix goes beside it as .png")
    e.add_argument("--batch-size", type=int, default=8, help="clips per forward pass (default: 8)")
    e.add_argument("--workers", type=int, default=2, help="data-loading processes (default: 2)")
    e.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    e.set_defaults(func=run_evaluate)

    o = sub.add_parser("offsets", help="write a fixed offset list (CSV) for reproducible evaluation")
    o.add_argument("data", nargs="+", help="manifest(s) CSV or folder(s) of videos")
    o.add_argument("--out", required=True, help="CSV to write (path,offset_sec,vstart_sec)")
    o.add_argument("--split", default="test", help="which split of the data to draw crops from (default: test)")
    o.add_argument("--kinds", nargs="*", help="only sources of these kinds (default: all)")
    o.add_argument("--window", type=float, default=5.0, help="model input length in seconds (default 5)")
    o.add_argument("--max-offset", type=float, default=2.0, help="largest |offset| in seconds (default: 2.0)")
    o.add_argument("--step", type=float, default=0.2, help="spacing of the offsets in seconds (default: 0.2, the class grid)")
    o.add_argument("--per-source", type=int, default=2, help="crops drawn from each source (default: 2)")
    o.add_argument("--seed", type=int, default=0, help="seed of the drawn crops (default: 0)")
    o.set_defaults(func=run_offsets)


def run_train(args: argparse.Namespace) -> int:
    """Load the config, apply overrides, train."""
    from avsync.train.checkpoints import refuse_overwrite
    from avsync.train.config import load_config

    cfg = load_config(args.config, args.overrides)   # a bad config or run folder is told before Lightning's
    refuse_overwrite(cfg.run_dir, args.resume)        # imports (8 s on a slow CPU)
    from avsync.train.runner import train

    run_dir = train(cfg, resume=args.resume)
    print(f"run folder: {run_dir}")
    return 0


def _fixed_crops(data: list[str], split: str, kinds: list[str] | None, window: float, grid: object,
                 per_source: int, seed: int) -> list:
    from avsync.data.datasets import load_sources, with_durations
    from avsync.offsets import CropSampler, make_fixed_offsets

    sampler = CropSampler(grid, window, 25.0, 0.0)
    sources, dropped = with_durations(load_sources(data, split, kinds), sampler.min_duration())
    for line in dropped:
        print(f"avsync: skipped {line}")
    if not sources:
        from avsync.errors import UsageError
        raise UsageError(f"no usable sources in {', '.join(data)} (split {split})")
    return make_fixed_offsets([(s.path, s.duration_sec) for s in sources], sampler, seed, per_source)


def run_offsets(args: argparse.Namespace) -> int:
    """Write a fixed offset list."""
    from avsync.offsets import OffsetGrid, write_fixed_offsets

    crops = _fixed_crops(args.data, args.split, args.kinds, args.window, OffsetGrid(args.max_offset, args.step),
                         args.per_source, args.seed)
    write_fixed_offsets(crops, args.out)
    print(f"{len(crops)} fixed crops -> {args.out}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate a model on fixed offsets; print a table, write the report and the confusion PNG."""
    from rich.console import Console
    from rich.table import Table

    from avsync.cli.common import progress_bar
    from avsync.clip import ClipSpec
    from avsync.data.datasets import FixedDataset, load_sources
    from avsync.models import load_model_file
    from avsync.offsets import read_fixed_offsets
    from avsync.train.checkpoints import model_weights_path

    weights = model_weights_path(args.checkpoint)
    model = load_model_file(weights)
    spec = ClipSpec.from_model_config(model.config)
    if args.offsets:
        crops = read_fixed_offsets(args.offsets)
    else:
        crops = _fixed_crops(args.data, args.split, args.kinds, spec.window_sec, spec.grid, args.per_source, args.seed)
    kinds = {s.path: s.kind for s in load_sources(args.data, None, None)}
    dataset = FixedDataset(crops, spec, kinds)
    from avsync.evaluate import evaluate, plot_confusion, write_report   # torchmetrics: after the data is found

    with progress_bar(len(dataset), "evaluating") as bar:
        task = bar.add_task("evaluating", total=len(dataset), name="")
        report = evaluate(model, dataset, args.batch_size, args.workers, args.device, str(weights),
                          ", ".join(args.data), args.offsets, progress=lambda n: bar.advance(task, n))
    table = Table(title=f"{Path(weights).name} on {report.n_clips} clips")
    for col in ("kind", "n", "acc@1", "acc@1 +-1", "acc@5", "mean |err| s"):
        table.add_column(col, justify="right")
    rows = {"all": {"n": report.n_clips, "acc1": report.acc1, "acc1_within1": report.acc1_within1,
                    "acc5": report.acc5, "mae_sec": report.mae_sec}, **report.per_kind}
    for kind, m in rows.items():
        table.add_row(kind, str(m["n"]), f"{m['acc1']:.1%}", f"{m['acc1_within1']:.1%}", f"{m['acc5']:.1%}",
                      f"{m['mae_sec']:.3f}")
    Console().print(table)
    print(f"chance acc@1 {report.chance_acc1:.1%}; {report.wall_sec:.1f} s ({report.clips_per_sec} clips/s)")
    if args.out:
        write_report(report, args.out)
        png = plot_confusion(report, spec.grid, Path(args.out).with_suffix(".png"))
        print(f"report: {args.out}, confusion matrix: {png}")
    for line in report.failed:
        print(f"avsync: failed: {line}")
    return 1 if report.failed else 0
