"""The library apart from training: checking a file needs none of the train extra (lightning,
torchmetrics, omegaconf), and the training commands without it say so in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
TRAIN_EXTRA = ("lightning", "torchmetrics", "omegaconf")
TRAINING_ONLY = TRAIN_EXTRA + ("lightning_fabric", "pytorch_lightning", "lightning_utilities", "antlr4")
MESSAGE = "avsync: error: training needs the train extra: pip install 'avsync[train]'"


def _env(extra_path: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(extra_path)] if extra_path else []
    env["PYTHONPATH"] = os.pathsep.join(paths + [str(ROOT / "tests")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def test_checking_a_file_imports_nothing_of_the_train_extra(tmp_path: Path) -> None:
    code = f"""
import json, sys
from sync_clips import make_clip
clip = make_clip({str(tmp_path / 'clip.mp4')!r}, 7.0, 0.4, seed=3)
import avsync
answers = [avsync.load_model("xcorr").check(clip).offset_sec, avsync.load_model().check(clip).offset_sec]
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({list(TRAINING_ONLY)!r}))
print(json.dumps({{"answers": answers, "loaded": loaded}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert all(a is not None for a in result["answers"])
    assert result["loaded"] == [], f"checking a file imported {result['loaded']}"


@pytest.fixture()
def without_train_extra(tmp_path: Path) -> dict[str, str]:
    """An environment in which lightning, torchmetrics and omegaconf cannot be imported."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in TRAIN_EXTRA))
    return _env(site)


@pytest.mark.parametrize("argv", [["train", "--config", os.devnull, "trainer.max_steps=1"],
                                  ["evaluate", str(ROOT / "src/avsync/assets/models/default.safetensors"),
                                   "--data", "nowhere", "--out", "report.json"],
                                  ["audit", "--out", "report.json"]],
                         ids=["train", "evaluate", "audit"])
def test_training_commands_without_the_extra_say_so_in_one_line(without_train_extra: dict[str, str],
                                                                argv: list[str], tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "avsync", *argv], capture_output=True, text=True, cwd=tmp_path,
                         env=without_train_extra, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip() == MESSAGE and "Traceback" not in out.stderr
    assert list(tmp_path.iterdir()) == [tmp_path / "site"]  # refused before doing anything


def test_the_extra_is_really_blocked_and_checking_still_works_without_it(without_train_extra: dict[str, str]) -> None:
    code = ("import importlib\n"
            f"for name in {TRAIN_EXTRA!r}:\n"
            "    try:\n        importlib.import_module(name)\n    except ModuleNotFoundError:\n        continue\n"
            "    raise SystemExit(name + ' imported')\n"
            "import avsync, avsync.models\nfrom avsync.cli import main\n"
            "raise SystemExit(main(['models', '--format', 'json']))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=without_train_extra,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "default" in out.stdout


def test_training_packages_are_an_extra_not_a_dependency() -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = " ".join(project["dependencies"])
    train = " ".join(project["optional-dependencies"]["train"])
    for name in TRAIN_EXTRA:
        assert name not in base and name in train
    setup = (ROOT / "setup.sh").read_text()
    assert '-e ".[dev,train]"' in setup and "torch==2.13.0" in setup and "av==18.1.0" in setup
