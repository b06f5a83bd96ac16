"""save -> load gives the same outputs; the config travels as JSON beside the safetensors file."""

import json

import pytest
import torch

from avsync.errors import AvsyncError, FileMissingError
from avsync.models import create, load_model_file, save_model


@pytest.mark.parametrize("name,overrides", [("sparsesync-tiny", {"duration_sec": 2.0}),
                                            ("avst-dec-tiny", {"duration_sec": 1.6, "frame_size": 32,
                                                               "offset_max_sec": 0.8, "offset_step_sec": 0.4})])
def test_save_load_identical_outputs(tmp_path, make_inputs, name, overrides):
    model = create(name, **overrides).eval()
    c = model.config
    video, audio = make_inputs(c.duration_sec, c.frame_size)
    path = save_model(model, tmp_path / "m")
    assert path.name == "m.safetensors" and (tmp_path / "m.json").is_file()
    assert json.loads((tmp_path / "m.json").read_text())["name"] == name
    loaded = load_model_file(tmp_path / "m")
    assert loaded.config == c and not loaded.training
    with torch.no_grad():
        assert torch.equal(model(video, audio).logits, loaded(video, audio).logits)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]  # no temp files left


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(FileMissingError, match="nothere.safetensors"):
        load_model_file(tmp_path / "nothere.safetensors")
    model = create("sparsesync-tiny", duration_sec=2.0)
    save_model(model, tmp_path / "m.safetensors")
    (tmp_path / "m.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(AvsyncError, match="m.safetensors"):
        load_model_file(tmp_path / "m.safetensors")
    save_model(model, tmp_path / "m.safetensors")
    cfg = json.loads((tmp_path / "m.json").read_text())
    (tmp_path / "m.json").write_text(json.dumps({**cfg, "d_model": 64, "n_heads": 4}))
    with pytest.raises(AvsyncError, match="do not match"):
        load_model_file(tmp_path / "m.safetensors")
