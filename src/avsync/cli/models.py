"""``avsync models``: list the built-in model configs with their parameter counts."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``models`` subcommand."""
    p = subparsers.add_parser("models", help="list the available models and their parameter counts",
                              description="List the built-in model configs with their trainable parameter counts.")
    p.add_argument("--format", choices=["table", "json"], default="table", help="output format (default: table)")
    p.set_defaults(func=run)


def model_rows() -> list[dict]:
    """One dict a model: name, arch, frame size, window, classes and parameter counts."""
    import torch

    from avsync.models import available_models, count_parameters, create

    rows = []
    with torch.device("meta"):  # counts need shapes only: nothing is allocated or initialised
        for name in available_models():
            model = create(name)
            c = model.config
            rows.append({"name": name, "arch": c.arch, "frame_size": c.frame_size, "duration_sec": c.duration_sec,
                         "classes": c.grid.num_classes, "params": count_parameters(model), "description": c.description})
    return rows


def run(args: argparse.Namespace) -> int:
    """Print the model list as a rich table or as JSON."""
    rows = model_rows()
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="avsync models", caption="trainable parameters in millions; rest = selectors, transformer, heads")
    table.add_column("name", no_wrap=True)
    for col in ("frame", "window", "cls", "total", "visual", "audio", "rest"):
        table.add_column(col, justify="right")
    for r in rows:
        p = {k: f"{v / 1e6:.2f}" for k, v in r["params"].items()}
        table.add_row(r["name"], f"{r['frame_size']} px", f"{r['duration_sec']:g} s", str(r["classes"]),
                      p["total"], p["visual"], p["audio"], p["transformer"])
    Console().print(table)
    return 0
