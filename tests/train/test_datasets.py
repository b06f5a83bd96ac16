"""Datasets: the sign convention through the whole item path, reproducible crops, resumable streams."""

from pathlib import Path

import pytest
import torch
from helpers import click_time, flash_time, make_video

from avsync.clip import ClipSpec
from avsync.data.augment import AugmentConfig
from avsync.data.datasets import (
    CropDataset,
    DecodedCache,
    FixedDataset,
    RunSampler,
    Source,
    collate,
    load_example,
    load_sources,
    scan_folder,
    with_durations,
)
from avsync.offsets import Crop, OffsetGrid

SPEC = ClipSpec(window_sec=2.0, fps=25.0, sample_rate=16000, frame_size=32, grid=OffsetGrid(), resize=36)
EVENT = 3.52  # flash and click together, on a frame boundary


@pytest.fixture(scope="module")
def impulse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("imp") / "imp.mp4", seconds=7.0, size=(40, 48),
                      flash_at=[EVENT], click_at=[EVENT])


@pytest.mark.parametrize("offset", [0.6, -0.4, 0.0])
def test_item_sign_convention(impulse: Path, offset: float) -> None:
    """Offset o > 0: audio ahead, so the click is heard o seconds before the flash is seen."""
    crop = Crop(str(impulse), offset, 2.6)
    for cache in (None, DecodedCache()):
        item = load_example(crop, SPEC, SPEC.grid.to_class(offset), cache=cache, duration_sec=7.0)
        assert item["video"].shape == (50, 3, 32, 32) and item["audio"].shape == (32000,)
        frames = (item["video"].permute(0, 2, 3, 1) * 255).round().to(torch.uint8)
        seen, heard = flash_time(frames, 25.0), click_time(item["audio"], 16000)
        assert heard - seen == pytest.approx(-offset, abs=0.045)
        assert item["target"] == SPEC.grid.to_class(offset)


def test_cache_gives_the_same_numbers_as_reading_the_window(impulse: Path) -> None:
    crop = Crop(str(impulse), -1.0, 3.2)
    a = load_example(crop, SPEC, 0)
    b = load_example(crop, SPEC, 0, cache=DecodedCache(), duration_sec=7.0)
    assert (a["video"] - b["video"]).abs().max() < 0.05
    assert (a["audio"] - b["audio"]).abs().max() < 1e-3


def test_crop_dataset_is_a_pure_function_of_the_example_number(impulse: Path) -> None:
    sources = [Source(str(impulse), "train", "x", 7.0)] * 3
    ds = CropDataset(sources, SPEC, seed=5, augment=AugmentConfig())
    again = CropDataset(sources, SPEC, seed=5, augment=AugmentConfig())
    other = CropDataset(sources, SPEC, seed=6, augment=AugmentConfig())
    a, b, c = ds[11], again[11], other[11]
    assert torch.equal(a["video"], b["video"]) and torch.equal(a["audio"], b["audio"]) and a["target"] == b["target"]
    assert (a["offset_sec"], a["vstart_sec"]) != (c["offset_sec"], c["vstart_sec"])
    targets = {ds.crop(k)[1] for k in range(200)}
    assert len(targets) == 21  # offsets uniform over the grid
    for k in range(50):
        crop, cls, _ = ds.crop(k)
        assert abs(crop.offset_sec - SPEC.grid.to_seconds(cls)) <= 0.05 + 1e-9
        assert 0 <= crop.vstart_sec and crop.vstart_sec + crop.offset_sec + 2.0 <= 7.0


def test_run_sampler_splits_ranks_and_resumes_exactly() -> None:
    full = list(RunSampler(6, 4))
    assert full == list(range(24)) and len(RunSampler(6, 4, start_step=2)) == 24
    assert list(RunSampler(6, 4, start_step=2)) == full[8:]
    r0, r1 = list(RunSampler(3, 2, rank=0, world=2)), list(RunSampler(3, 2, rank=1, world=2))
    assert not set(r0) & set(r1) and sorted(r0 + r1) == list(range(12))


def test_fixed_dataset_and_collate_report_bad_files(impulse: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    ds = FixedDataset([Crop(str(impulse), 0.4, 1.0), Crop(str(bad), 0.0, 1.0)], SPEC, {str(impulse): "dense"})
    batch = collate([ds[0], ds[1]])
    assert batch["video"].shape == (1, 50, 3, 32, 32) and batch["kind"] == ["dense"]
    assert len(batch["errors"]) == 1 and "bad.mp4" in batch["errors"][0]
    assert batch["target"].tolist() == [SPEC.grid.to_class(0.4)]


def test_sources_from_manifest_and_folder(impulse: Path, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("a.mp4", "sub/b.mkv"):
        (tmp_path / name).write_bytes(impulse.read_bytes())
    (tmp_path / "notes.txt").write_text("x")
    found = scan_folder(tmp_path, val_fraction=0.0)
    assert [Path(s.path).name for s in found] == ["a.mp4", "b.mkv"] and {s.split for s in found} == {"train"}
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,split,kind\na.mp4,train,dense\nsub/b.mkv,test,sparse\n")
    test = load_sources([str(manifest)], "test")
    assert [(Path(s.path).name, s.kind) for s in test] == [("b.mkv", "sparse")]
    kept, dropped = with_durations(load_sources([str(manifest)]), min_sec=6.5)
    assert len(kept) == 2 and kept[0].duration_sec == pytest.approx(7.0, abs=0.05) and not dropped
    kept, dropped = with_durations(load_sources([str(manifest)]), min_sec=9.0)
    assert not kept and len(dropped) == 2 and "shorter" in dropped[0]
