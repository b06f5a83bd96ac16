"""The real development benchmark: the fixed case list (deterministic, covering every kind, offsets
off the class grid, audio inside the file), a rendered case really holding its offset, and the scorer."""

from dataclasses import replace

import numpy as np
import pytest
from sync_clips import FPS, SR, burst_times, flash_times, make_clip, matched_lags

from avsync.data.real import RealClip
from avsync.media import read_clip
from avsync.real_dev import (
    BEYOND_OFFSET,
    Case,
    build_cases,
    render_case,
    score_check,
    score_timeline,
    summarise,
)


def clip(source, seconds, content="speech", group="dev", start=0.0, end=None, path=None):
    return RealClip(path=path or f"/data/{source}.mp4", source=source, package=source, version="1", registry="pypi",
                    licence="MIT", duration_sec=seconds, content=content, start_sec=start,
                    end_sec=seconds if end is None else end, group=group)


CORPUS = [clip("talk", 61.0), clip("council", 181.0, start=22.0, end=146.0, group="train"),
          clip("band", 60.0, "music", "train"), clip("toy", 5.6, "other"), clip("tiny", 0.6, "other")]


def test_cases_are_fixed_and_cover_every_kind():
    cases = build_cases(CORPUS)
    assert cases == build_cases(list(reversed(CORPUS)))            # the manifest's order does not matter
    kinds = {c.kind for c in cases}
    assert kinds == {"crop5", "crop8", "whole", "beyond", "original", "slip", "drift", "still"}
    assert len({c.id for c in cases}) == len(cases)
    beyond = sorted(c.offset_sec for c in cases if c.kind == "beyond")
    assert beyond[0] == -BEYOND_OFFSET and beyond[-1] == BEYOND_OFFSET
    crops = [c for c in cases if c.kind.startswith("crop")]
    assert sum(c.source == "council" and c.kind == "crop5" for c in crops) == 24   # tiles 124 s of usable stretch
    offsets = np.array([c.offset_sec for c in crops if c.source != "toy"])
    assert np.abs(offsets).max() <= 2.0 and np.abs(offsets).max() > 1.5
    assert (np.abs(offsets / 0.2 - np.round(offsets / 0.2)) * 0.2 >= 0.029).all()   # off the 0.2 s grid
    assert len(set(np.round(offsets, 2))) > 0.8 * len(offsets)


def test_every_case_reads_inside_its_usable_stretch_or_file():
    src = {c.source: c for c in CORPUS}
    for case in build_cases(CORPUS):
        c = src[case.source]
        assert c.start_sec - 1e-6 <= case.start_sec and case.start_sec + case.duration_sec <= c.end_sec + 1e-6, case
        if case.offset_sec is not None and not case.timeline:
            assert 0 <= case.start_sec + case.offset_sec and \
                case.start_sec + case.offset_sec + case.duration_sec <= c.duration_sec + 1e-6, case
        if case.kind == "still":
            assert src[case.audio_source].content != case.content or case.content in ("music", "speech")
            assert case.group == "dev" or "dev" not in (c.group, src[case.audio_source].group)


def test_a_rendered_case_has_its_offset(tmp_path):
    src = make_clip(tmp_path / "src.mp4", seconds=20.0, offset=0.0, seed=5)
    cases = build_cases([clip("gen", 20.0, "other", path=str(src))])
    case = next(c for c in cases if c.kind == "crop8" and abs(c.offset_sec) > 0.3)
    out = render_case(case, tmp_path / "case.mp4", size=72)
    got = read_clip(out, 0.0, case.duration_sec, fps=FPS, sample_rate=SR)
    video, audio = flash_times(got.frames.numpy()), burst_times(got.audio.numpy())
    lags = matched_lags(video, audio, case.offset_sec)
    assert len(audio) >= 5 and len(lags) >= len(audio) - 2
    assert abs(float(np.median(lags)) - case.offset_sec) <= 0.02


def _case(kind="crop5", offset=0.5, **kw):
    return Case(id=f"x-{kind}", kind=kind, source="s", group="dev", content="speech", path="p", start_sec=0.0,
                duration_sec=60.0, offset_sec=offset, **kw)


def test_scoring_of_offsets_and_stills():
    right = score_check(_case(), 0.55, 0.9, True)
    wrong = score_check(_case(), -0.5, 0.9, True)
    refused = score_check(_case(), None, None, False)
    still_answered = score_check(_case("still", None), 0.4, 0.8, True)
    still_refused = score_check(_case("still", None), 0.4, 0.1, False)
    assert right.error_sec == pytest.approx(0.05) and not right.confidently_wrong
    assert wrong.confidently_wrong and not refused.answered and refused.error_sec is None
    assert still_answered.confidently_wrong and not still_refused.confidently_wrong
    rows = summarise([right, wrong, refused, still_answered, still_refused])
    r = rows["by_content"]["dev/speech"]
    assert r["offset_cases"] == 3 and r["within_0.1"] == pytest.approx(1 / 3) and r["within_0.25"] == pytest.approx(1 / 3)
    assert r["confidently_wrong"] == 2 and r["refused"] == 1
    assert r["median_abs_err_sec"] == pytest.approx(0.525)
    assert [s["answered"] for s in rows["still"]] == [True, False]


def test_scoring_of_timelines():
    slip = _case("slip", 0.7, change_sec=30.0)
    seg = lambda a, b, o: {"start_sec": a, "end_sec": b, "offset_sec": o, "confidence": 0.9, "windows": 5}
    assert score_timeline(slip, [seg(0, 31, 0.02), seg(31, 60, 0.68)], None).found
    assert not score_timeline(slip, [seg(0, 60, 0.35)], None).found
    assert not score_timeline(slip, [seg(0, 12, 0.0), seg(12, 60, 0.7)], None).found     # change dated wrong
    drift = replace(_case("drift", None), drift_ms_per_min=240.0)
    assert score_timeline(drift, [seg(0, 60, 0.1)], 230.0).found
    assert not score_timeline(drift, [seg(0, 60, 0.1)], 400.0).found
    assert not score_timeline(drift, [], None, failure="x").found
