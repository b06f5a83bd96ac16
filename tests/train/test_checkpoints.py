"""Checkpoints: lossless round trip without pickle, damage detection with fallback, partial init."""

import logging
from pathlib import Path

import pytest
import torch

from avsync.models import create, load_model_file
from avsync.train.checkpoints import (
    CheckpointError,
    find_resumable,
    load_checkpoint_dir,
    load_partial,
    prune,
    save_checkpoint_dir,
    verify,
)

TINY = dict(frame_size=32, duration_sec=2.0, visual_widths=[8, 8, 16, 16], audio_widths=[8, 8, 16, 16],
            d_model=32, n_heads=2, n_selectors=4, selector_layers=1, sync_layers=1)


def _lightning_like(model: torch.nn.Module, step: int) -> dict:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
    model(torch.rand(2, 50, 3, 32, 32), torch.randn(2, 32000)).logits.sum().backward()
    opt.step()
    return {"epoch": 0, "global_step": step, "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
            "optimizer_states": [opt.state_dict()], "loops": {"fit_loop": {"progress": {"total": step}}},
            "hyper_parameters": {"config": {"a": [1, 2.5, None, "x"]}}, "nan": float("inf")}


def test_round_trip_is_exact_and_model_loads_alone(tmp_path: Path) -> None:
    model = create("sparsesync-tiny", **TINY)
    ckpt = _lightning_like(model, 7)
    path = save_checkpoint_dir(ckpt, tmp_path / "step-000007", model.config.to_dict())
    back = load_checkpoint_dir(path)
    assert back["global_step"] == 7 and back["nan"] == float("inf") and back["hyper_parameters"] == ckpt["hyper_parameters"]
    opt, opt_back = ckpt["optimizer_states"][0], back["optimizer_states"][0]
    assert opt_back["param_groups"][0]["betas"] == (0.9, 0.99) and set(opt_back["state"]) == set(opt["state"])
    for i, st in opt["state"].items():
        assert all(torch.equal(st[k], opt_back["state"][i][k]) for k in st)
    assert all(torch.equal(v, back["state_dict"][k]) for k, v in ckpt["state_dict"].items())
    alone = load_model_file(path / "model.safetensors")
    assert all(torch.equal(v, alone.state_dict()[k]) for k, v in model.state_dict().items())
    assert not list(tmp_path.glob("*.tmp")) and not any(p.suffix in (".pt", ".ckpt", ".pkl") for p in path.iterdir())


def test_damaged_newest_checkpoint_falls_back_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = create("sparsesync-tiny", **TINY)
    ckpt = _lightning_like(model, 5)
    for step in (5, 10, 15):
        save_checkpoint_dir({**ckpt, "global_step": step}, tmp_path / f"step-{step:06d}", model.config.to_dict())
    weights = tmp_path / "step-000015" / "state.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    (tmp_path / "step-000020.tmp").mkdir()  # a save killed half-way
    with pytest.raises(CheckpointError, match="damaged"):
        verify(tmp_path / "step-000015")
    with caplog.at_level(logging.WARNING, logger="avsync.train"):
        assert find_resumable(tmp_path) == tmp_path / "step-000010"
    assert "step 15 is damaged" in caplog.text
    (tmp_path / "step-000010" / "state.json").write_text("{trunc")
    assert find_resumable(tmp_path) == tmp_path / "step-000005"
    prune(tmp_path, keep=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-000015"]


def test_partial_init_skips_a_different_head(tmp_path: Path) -> None:
    dense = create("sparsesync-tiny", **TINY)
    save_checkpoint_dir(_lightning_like(dense, 1), tmp_path / "step-000001", dense.config.to_dict())
    finer = create("sparsesync-tiny", **TINY, offset_step_sec=0.1)  # 41 classes: another head
    loaded, skipped = load_partial(finer, tmp_path / "step-000001")
    own = dense.state_dict()
    assert skipped and all("shape" in s for s in skipped) and len(loaded) == len(own) - len(skipped)
    for name in loaded:
        assert torch.equal(finer.state_dict()[name], own[name])
    head = [s.split(" ")[0] for s in skipped]
    assert all(not torch.equal(finer.state_dict()[n], own[n]) for n in head if finer.state_dict()[n].numel() > 1)
