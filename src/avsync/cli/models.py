"""``avsync models``: list the built-in model configs with their parameter counts."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``models`` subcommand."""
    p = subparsers.add_parser("models", help="list the models `check --model` accepts and the architectures to train",
                              description="List the trained models that check, timeline, fix, desync and explain "
                                          "accept with --model (and xcorr, the training-free baseline, "
                                          "--method xcorr), then the architecture configs that `avsync train "
                                          "--model` builds, with their trainable parameter counts.")
    p.add_argument("--format", choices=["table", "json"], default="table", help="output format (default: table)")
    p.set_defaults(func=run)


def _row(name: str, use: str, config, params: dict | None) -> dict:
    """One listed model. LagNet (the engine) has no window and no classes: it scores every 10 ms
    offset over the whole file; its frame is ``height`` rows at the file's aspect ratio."""
    engine = getattr(config, "arch", None) == "lagnet"
    return {"name": name, "use": use, "arch": getattr(config, "arch", None),
            "frame_size": config.height if engine else getattr(config, "frame_size", None),
            "duration_sec": None if engine else getattr(config, "duration_sec", None),
            "classes": None if engine or config is None else config.grid.num_classes, "params": params,
            "description": getattr(config, "description", "")}


def checker_rows() -> list[dict]:
    """The names ``--model`` accepts: each shipped trained model (its own config, read from its
    JSON beside the weights) and ``xcorr``."""
    import torch

    import avsync
    from avsync.models import build_model, config_from_dict, count_parameters

    rows = []
    for name in avsync.available_models():
        if name == avsync.BASELINE:
            rows.append({**_row(name, "check --method xcorr", None, None),
                         "description": "training-free: onset strength against motion energy, cross-correlated"})
            continue
        config = config_from_dict(json.loads((avsync.MODEL_DIR / f"{name}.json").read_text()))
        with torch.device("meta"):
            params = count_parameters(build_model(config))
        rows.append(_row(name, "check --model", config, params))
    return rows


def model_rows() -> list[dict]:
    """One dict an architecture config ``avsync train --model`` builds: name, arch, frame size,
    window, classes and parameter counts."""
    import torch

    from avsync.models import available_models, count_parameters, create

    rows = []
    with torch.device("meta"):  # counts need shapes only: nothing is allocated or initialised
        for name in available_models():
            model = create(name)
            rows.append(_row(name, "train --model", model.config, count_parameters(model)))
    return rows


def _table(title: str, rows: list[dict]):
    from rich.table import Table

    table = Table(title=title)
    table.add_column("name", no_wrap=True)
    for col in ("frame", "window", "cls", "total", "visual", "audio", "rest"):
        table.add_column(col, justify="right")
    for r in rows:
        if r["params"] is None:
            table.add_row(r["name"], "-", "any", "-", "-", "-", "-", "-")
            continue
        p = {k: f"{v / 1e6:.2f}" for k, v in r["params"].items()}
        window = "file" if r["duration_sec"] is None else f"{r['duration_sec']:g} s"
        table.add_row(r["name"], f"{r['frame_size']} px", window, str(r["classes"] or "10 ms"),
                      p["total"], p["visual"], p["audio"], p["transformer"])
    return table


def run(args: argparse.Namespace) -> int:
    """Print both lists as rich tables or as one JSON list (``use`` says which command takes each)."""
    checkers, archs = checker_rows(), model_rows()
    if args.format == "json":
        print(json.dumps(checkers + archs, indent=2))
        return 0
    from rich.console import Console

    console = Console()
    console.print(_table("trained models: avsync check/timeline/fix/desync --model NAME (xcorr: --method xcorr)", checkers))
    console.print(_table("architectures: avsync train --model NAME (no weights until trained)", archs))
    console.print("trainable parameters in millions; rest = selectors, transformer, heads")
    return 0
