"""offsets: the class grid, the SparseSync crop sampler and fixed offset lists."""

import random

import pytest

from avsync.offsets import (
    Crop,
    CropSampler,
    OffsetGrid,
    make_fixed_offsets,
    read_fixed_offsets,
    write_fixed_offsets,
)


def test_default_grid_is_the_papers():
    grid = OffsetGrid()
    assert grid.num_classes == 21 and grid.zero_class == 10
    assert grid.seconds[0] == -2.0 and grid.seconds[-1] == 2.0 and grid.seconds[10] == 0.0
    assert grid.seconds[11] == 0.2 and len(set(grid.seconds)) == 21


@pytest.mark.parametrize("max_sec, step, n", [(2.0, 0.2, 21), (1.0, 0.25, 9), (0.0, 0.1, 1), (0.6, 0.2, 7)])
def test_class_seconds_round_trip(max_sec, step, n):
    grid = OffsetGrid(max_sec, step)
    assert grid.num_classes == n
    for cls in range(n):
        assert grid.to_class(grid.to_seconds(cls)) == cls
    assert grid.to_dict() == {"max_sec": max_sec, "step_sec": step}


def test_to_class_rounds_to_the_nearest_and_refuses_outside():
    grid = OffsetGrid()
    assert grid.to_seconds(grid.to_class(0.29)) == 0.2 and grid.to_seconds(grid.to_class(-0.31)) == -0.4
    assert grid.to_class(2.05) == 20
    with pytest.raises(ValueError, match="outside the grid"):
        grid.to_class(2.2)
    with pytest.raises(ValueError):
        grid.to_seconds(21)
    with pytest.raises(ValueError):
        grid.to_seconds(-1)


@pytest.mark.parametrize("max_sec, step", [(1.0, 0.3), (1.0, 0.0), (-1.0, 0.2)])
def test_bad_grids(max_sec, step):
    with pytest.raises(ValueError):
        OffsetGrid(max_sec, step)


def test_crop_audio_start_follows_the_sign_convention():
    assert Crop("a.mp4", offset_sec=0.6, vstart_sec=3.0).astart_sec == pytest.approx(3.6)  # audio ahead
    assert Crop("a.mp4", offset_sec=-0.4, vstart_sec=3.0).astart_sec == pytest.approx(2.6)


def test_sampler_crops_lie_inside_the_source_and_cover_every_class():
    grid, fps, window, duration = OffsetGrid(), 25.0, 4.8, 10.0
    sampler = CropSampler(grid, window, fps=fps, jitter_sec=0.05)
    rng = random.Random(0)
    seen = set()
    for _ in range(2000):
        crop, cls = sampler.sample("v.mp4", duration, rng)
        seen.add(cls)
        assert abs(crop.offset_sec - grid.to_seconds(cls)) <= 0.05 + 1e-9
        assert 0.0 <= crop.vstart_sec and crop.vstart_sec + window <= duration + 1e-9
        assert 0.0 <= crop.astart_sec and crop.astart_sec + window <= duration + 1e-9
        assert abs(crop.vstart_sec * fps - round(crop.vstart_sec * fps)) < 1e-6  # snapped to a frame
    assert seen == set(range(21))


def test_sampler_uses_the_whole_feasible_range():
    sampler = CropSampler(OffsetGrid(), 4.8, jitter_sec=0.0)
    rng = random.Random(1)
    starts = [sampler.sample("v.mp4", 20.0, rng)[0].vstart_sec for _ in range(3000)]
    assert min(starts) < 0.5 and max(starts) > 13.0


def test_sampler_too_short_and_bad_jitter():
    sampler = CropSampler(OffsetGrid(), 4.8)
    assert sampler.min_duration() == pytest.approx(4.8 + 2.05)
    for seed in range(300):  # every class fits into a source of exactly the minimum length
        sampler.sample("v.mp4", sampler.min_duration(), random.Random(seed))
    with pytest.raises(ValueError, match="too short"):
        for seed in range(50):  # some offset class does not fit into 5 s
            sampler.sample("v.mp4", 5.0, random.Random(seed))
    with pytest.raises(ValueError, match="half a grid step"):
        CropSampler(OffsetGrid(), 4.8, jitter_sec=0.2)


def test_fixed_offsets_are_deterministic_and_round_trip(tmp_path):
    sampler = CropSampler(OffsetGrid(), 4.8)
    sources = [(f"v{i}.mp4", 10.0 + i) for i in range(20)] + [("short.mp4", 3.0)]
    crops = make_fixed_offsets(sources, sampler, seed=7, per_source=2)
    assert crops == make_fixed_offsets(sources, sampler, seed=7, per_source=2)
    assert crops != make_fixed_offsets(sources, sampler, seed=8, per_source=2)
    assert len(crops) == 40 and all(c.path != "short.mp4" for c in crops)
    grid = sampler.grid
    assert all(c.offset_sec in grid.seconds for c in crops)  # exactly on the grid: no jitter
    write_fixed_offsets(crops, tmp_path / "fixed.csv")
    assert (tmp_path / "fixed.csv").read_text().splitlines()[0] == "path,offset_sec,vstart_sec"
    assert read_fixed_offsets(tmp_path / "fixed.csv") == crops
    assert [p.name for p in tmp_path.iterdir()] == ["fixed.csv"]
