"""Training config: YAML + key=value overrides, type coercion, unknown keys, shipped configs."""

from pathlib import Path

import pytest

from avsync.errors import UsageError
from avsync.models import available_models
from avsync.train.config import load_config, parse_overrides

CONFIGS = sorted((Path(__file__).parents[2] / "configs" / "train").rglob("*.yaml"))


def test_overrides_are_yaml_values_with_dotted_keys() -> None:
    tree = parse_overrides(["trainer.max_steps=7", "data.train=[a.csv, b/]", "optim.lr=3e-4", "model.overrides.frame_size=32"])
    assert tree == {"trainer": {"max_steps": 7}, "data": {"train": ["a.csv", "b/"]}, "optim": {"lr": "3e-4"},
                    "model": {"overrides": {"frame_size": 32}}}
    cfg = load_config(None, ["trainer.max_steps=7", "optim.lr=3e-4", "data.augment.hflip=0", "model.overrides.frame_size=32"])
    assert cfg.trainer.max_steps == 7 and cfg.optim.lr == pytest.approx(3e-4) and isinstance(cfg.optim.lr, float)
    assert cfg.data.augment.hflip == 0 and cfg.model.overrides == {"frame_size": 32}


def test_unknown_and_bad_keys_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="trainer.max_stepz"):
        load_config(None, ["trainer.max_stepz=3"])
    with pytest.raises(UsageError, match="not a number"):
        load_config(None, ["optim.lr=fast"])
    with pytest.raises(UsageError, match="key=value"):
        load_config(None, ["trainer.max_steps"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(UsageError, match="bad.yaml"):
        load_config(bad)


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_shipped_configs_load_and_name_real_models(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.model.name in available_models()
    assert cfg.trainer.max_steps > 0 and cfg.data.train
