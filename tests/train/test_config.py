"""Training config (OmegaConf over the dataclass schema): YAML + key=value overrides, type checks,
unknown keys, interpolation, the shipped configs."""

from pathlib import Path

import pytest

from avsync.errors import UsageError
from avsync.models import available_models
from avsync.train.config import config_from_dict, load_config, parse_overrides

CONFIGS = sorted((Path(__file__).parents[2] / "configs" / "train").rglob("*.yaml"))


def test_overrides_are_yaml_values_with_dotted_keys() -> None:
    tree = parse_overrides(["trainer.max_steps=7", "data.train=[a.csv, b/]", "optim.lr=3e-4", "model.overrides.frame_size=32"])
    # values are YAML as OmegaConf reads it: 3e-4 is a number (plain YAML 1.1 left it a string)
    assert tree == {"trainer": {"max_steps": 7}, "data": {"train": ["a.csv", "b/"]}, "optim": {"lr": 3e-4},
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
    assert cfg.trainer.max_steps > 0 and (cfg.data.train or cfg.data.feature_cache)


def _usage_error(*overrides: str, path: Path | None = None) -> str:
    with pytest.raises(UsageError) as e:
        load_config(path, overrides)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_values_are_checked_against_the_field_types() -> None:
    """Each of these went through the hand-written loader unchecked."""
    assert "trainer.max_steps" in _usage_error("trainer.max_steps=1.5") and "whole number" in _usage_error("trainer.max_steps=1.5")
    assert "trainer.progress: 'maybe' is not true or false" in _usage_error("trainer.progress=maybe")
    assert "trainer.max_steps cannot be empty" in _usage_error("trainer.max_steps=")
    assert "data.augment.crop_scale" in _usage_error("data.augment.crop_scale=[0.5,0.7,1.0]")
    assert "data.augment is a section" in _usage_error("data.augment=off")
    assert "model.overrides" in _usage_error("model.overrides=3")
    cfg = load_config(None, ["trainer.precision=32", "trainer.devices=2", "data.augment.crop_scale=[0.5,0.9]"])
    assert cfg.trainer.precision == "32" and cfg.trainer.devices == 2 and cfg.data.augment.crop_scale == (0.5, 0.9)


def test_unknown_keys_name_the_nearest_known_one(tmp_path: Path) -> None:
    assert _usage_error("optim.lrr=1") == "override: unknown config key optim.lrr (did you mean optim.lr?)"
    path = tmp_path / "typo.yaml"
    path.write_text("data:\n  augment:\n    hflipp: 0.5\n")
    assert _usage_error(path=path) == f"{path}: unknown config key data.augment.hflipp (did you mean data.augment.hflip?)"


def test_yaml_file_then_overrides_merge_and_interpolate(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("model:\n  name: sparsesync-tiny\n  overrides: {frame_size: 32, d_model: 64}\n"
                    "data:\n"             # an empty section means its defaults
                    "optim:\n  lr: 5e-6\n"  # a YAML 1.1 string, a number for the float field
                    "run_dir: runs/${model.name}-${trainer.max_steps}\n")
    cfg = load_config(path, ["model.overrides.n_heads=2", "model.overrides.d_model=32", "trainer.max_steps=9"])
    assert cfg.model.overrides == {"frame_size": 32, "d_model": 32, "n_heads": 2}
    assert cfg.optim.lr == 5e-6 and cfg.data.train == [] and cfg.run_dir == "runs/sparsesync-tiny-9"
    assert "${nope}" not in _usage_error("run_dir=${nope}") and "run_dir" in _usage_error("run_dir=${nope}")


def test_duplicate_yaml_keys_and_a_list_at_top_level_are_refused(tmp_path: Path) -> None:
    dup = tmp_path / "dup.yaml"
    dup.write_text("trainer:\n  max_steps: 3\n  max_steps: 4\n")
    assert "duplicate key max_steps" in _usage_error(path=dup)
    top = tmp_path / "list.yaml"
    top.write_text("- a\n- b\n")
    assert "top level must be a mapping" in _usage_error(path=top)


def test_config_round_trips_through_its_dict() -> None:
    """A run's config.yaml and a checkpoint's hyper-parameters are ``to_dict()``: they load back equal."""
    cfg = load_config(None, ["model.overrides.visual_widths=[8,16,16,32]", "data.augment.noise_snr_db=[5,20]",
                             "trainer.devices=[0,1]", "init_from=runs/x"])
    again = config_from_dict(cfg.to_dict())
    assert again == cfg and again.data.augment.noise_snr_db == (5.0, 20.0)
    assert config_from_dict(None) == load_config()
