"""The shipped default model is a named config (sparsesync-default-32) with one recipe file per
training stage: the config is exactly the shipped weights' own, the recipes name it instead of
repeating its fields, and both stages run with ``avsync train --config FILE``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import make_dense_clip, write_manifest

import avsync
from avsync.cli import main
from avsync.models import ModelConfig, available_models, get_config, load_model_file
from avsync.train.config import load_config

NAME = "sparsesync-default-32"
TRAIN = Path(__file__).parents[2] / "configs" / "train"
STAGE1, STAGE2 = TRAIN / "default-model.yaml", TRAIN / "default-model-stage2.yaml"


def shipped() -> ModelConfig:
    return ModelConfig.from_dict(json.loads((avsync.MODEL_DIR / "default.json").read_text()))


def recipe_model(path: Path) -> ModelConfig:
    cfg = load_config(path)
    return get_config(cfg.model.name, **cfg.model.overrides)


def test_named_config_is_the_shipped_weights_config() -> None:
    assert NAME in available_models()
    config = get_config(NAME)
    assert config == shipped()  # every field, the name included (default.json names its config)
    assert config.frame_size == 32 and "32 px" in config.description
    load_model_file(avsync.MODEL_DIR / "default.safetensors")  # the weights still load strictly


def test_models_list_describes_the_shipped_model_as_it_is(capsys: pytest.CaptureFixture) -> None:
    assert main(["models", "--format", "json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["default"]["frame_size"] == 32 and "32 px" in rows["default"]["description"]
    assert "64 px" not in rows["default"]["description"]
    assert rows[NAME]["use"] == "train --model" and rows[NAME]["params"] == rows["default"]["params"]


def test_recipes_name_the_model_instead_of_repeating_its_fields() -> None:
    stage1, stage2 = load_config(STAGE1), load_config(STAGE2)
    assert stage1.model.name == stage2.model.name == NAME
    # stage 1 scored each class at the lag nearest its centre; stage 2 is the shipped model as named
    assert stage1.model.overrides == {"corr_bin_max": False} and stage2.model.overrides == {}
    assert recipe_model(STAGE2) == shipped()
    assert recipe_model(STAGE1) == shipped().replace(corr_bin_max=False)
    compare = load_config(TRAIN / "compare" / "sparsesync.yaml")
    assert compare.model.name == NAME and compare.model.overrides == {"corr_bin_max": False}
    for path in sorted(TRAIN.rglob("*.yaml")):
        assert "visual_diff" not in load_config(path).model.overrides or "avst" in load_config(path).model.name, path


def test_stage2_recipe_is_the_documented_fine_tune() -> None:
    """docs/results.md: init_from=runs/default-v2 model.overrides.corr_bin_max=true data.jitter_sec=0.1
    trainer.max_steps=400 optim.lr=1.0e-3 optim.warmup_steps=20 trainer.val_every=100
    trainer.ckpt_every=100 run_dir=runs/default-v2-ft, everything else as stage 1."""
    stage1, stage2 = load_config(STAGE1), load_config(STAGE2)
    assert stage1.run_dir == "runs/default-v2" and stage2.init_from == stage1.run_dir
    assert (stage2.data.jitter_sec, stage2.trainer.max_steps, stage2.optim.lr, stage2.optim.warmup_steps) == \
        (0.1, 400, 1.0e-3, 20)
    assert (stage2.trainer.val_every, stage2.trainer.ckpt_every, stage2.run_dir) == (100, 100, "runs/default-v2-ft")
    expected = stage1.to_dict()
    expected["model"]["overrides"] = {}
    expected["data"]["jitter_sec"] = 0.1
    expected["optim"].update(lr=1.0e-3, warmup_steps=20)
    expected["trainer"].update(max_steps=400, val_every=100, ckpt_every=100)
    expected.update(init_from="runs/default-v2", run_dir="runs/default-v2-ft")
    assert stage2.to_dict() == expected


@pytest.fixture(scope="module")
def long_clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three 8 s dense clips (5 s windows need 7.1 s with stage 2's jitter): 2 train, 1 val."""
    folder = tmp_path_factory.mktemp("long")
    rows = []
    for i in range(3):
        make_dense_clip(folder / f"clip{i}.mp4", 8.0, seed=10 + i)
        rows.append((f"clip{i}.mp4", "train" if i < 2 else "val", "dense"))
    return write_manifest(folder, rows)


def test_both_stages_train_from_their_recipe_files(long_clips: Path, tmp_path: Path) -> None:
    """Two steps of each recipe as written, on tiny data; stage 2 starts from stage 1's run."""
    small = [f"data.train=[{long_clips}]", "data.workers=0", "trainer.max_steps=2", "trainer.batch_size=2",
             "trainer.val_every=2", "trainer.ckpt_every=2", "trainer.log_every=1"]
    first, second = tmp_path / "stage1", tmp_path / "stage2"
    assert main(["train", "--config", str(STAGE1), *small, f"run_dir={first}"]) == 0
    assert main(["train", "--config", str(STAGE2), *small, f"run_dir={second}", f"init_from={first}"]) == 0
    assert "initialised" in (second / "train.log").read_text()
    for run in (first, second):
        assert json.loads((run / "summary.json").read_text())["global_step"] == 2
    trained = load_model_file(second / "model.safetensors")
    assert trained.config == shipped()  # stage 2 writes a model of the shipped config
    assert load_model_file(first / "model.safetensors").config == shipped().replace(corr_bin_max=False)
