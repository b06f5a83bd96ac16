"""The second-generation checker's plumbing with a hand-made LagNet (flashes against sound onsets):
one pass over the file, the sign convention, the honest answers, the timeline and DeSync."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sync_clips import make_clip

from avsync.checker import Calibration, OffsetChecker
from avsync.checker.evidence import Evidence, best_path, drift_fit, posterior
from avsync.models import LagNet, get_config


class Flashes(LagNet):
    """A LagNet whose embeddings are made by hand: a frame's brightness rise, a 10 ms step's onset."""

    def embed_video(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames.float().mean(dim=(2, 3))
        rise = F.relu(torch.cat([torch.zeros_like(x[:, :1]), x[:, 1:] - x[:, :-1]], 1))
        rise = rise / (rise.amax(1, keepdim=True) + 1e-6)
        return F.normalize(torch.stack([rise, torch.full_like(rise, 0.05)], -1), dim=-1)

    def embed_audio(self, audio: torch.Tensor) -> torch.Tensor:
        hop = self.config.hop
        n = audio.shape[1] // hop + 1
        pad = F.pad(audio, (0, n * hop - audio.shape[1]))
        energy = torch.log(pad.view(audio.shape[0], n, hop).square().mean(-1) + 1e-4)   # a floor under the noise
        onset = F.relu(torch.cat([torch.zeros_like(energy[:, :1]), energy[:, 1:] - energy[:, :-1]], 1))
        onset = onset / (onset.amax(1, keepdim=True) + 1e-6)
        return F.normalize(torch.stack([onset, torch.full_like(onset, 0.05)], -1), dim=-1)


@pytest.fixture(scope="module")
def checker() -> OffsetChecker:
    model = Flashes(get_config("lagnet-default", widths=[4], feature_dim=4, frame_dim=4, hidden=4, dim=2))
    return OffsetChecker(model, Calibration(temperature=1.0), name="flashes")


@pytest.mark.parametrize("offset", [0.4, -1.3, 3.3])
def test_offsets_come_back_with_their_sign(checker, tmp_path, offset):
    path = make_clip(tmp_path / "c.mp4", seconds=14.0, offset=offset, seed=3)
    r = checker.check(path)
    assert r.synchronisable, r.reason
    assert r.offset_sec == pytest.approx(offset, abs=0.05)       # > 0: the audio is ahead
    assert r.search_sec == 5.0 and r.confidence > 0.5 and r.method == "flashes"
    assert r.offset_frames == round(r.offset_sec * 25)
    assert r.per_window and all(w.end_sec > w.start_sec for w in r.per_window)


def test_short_files_search_what_their_length_allows_and_say_so(checker, tmp_path):
    r = checker.check(make_clip(tmp_path / "c.mp4", seconds=6.0, offset=0.5, seed=1))
    assert r.search_sec == 3.0 and r.offset_sec == pytest.approx(0.5, abs=0.05)


def test_a_peak_beyond_the_searched_range_is_said_not_guessed(checker, tmp_path):
    path = make_clip(tmp_path / "c.mp4", seconds=14.0, offset=2.2, seed=4)
    r = checker.check(path, max_offset_sec=1.5)
    assert not r.synchronisable and "outside the searched range" in r.reason and "+2.2" in r.reason
    assert r.search_sec == 1.5
    assert checker.check(path).offset_sec == pytest.approx(2.2, abs=0.05)


@pytest.mark.parametrize("kind, reason", [("still", "still picture"), ("silent", "silent audio")])
def test_no_evidence_is_an_answer(checker, tmp_path, kind, reason):
    path = make_clip(tmp_path / "c.mp4", seconds=8.0, **{kind: True})
    r = checker.check(path)
    assert not r.synchronisable and reason in r.reason
    assert r.error is None


def test_too_short_and_broken_files_become_one_line_records(checker, tmp_path):
    short = make_clip(tmp_path / "short.mp4", seconds=1.0)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    records = list(checker.check_many([short, bad]))
    assert "too short" in records[0].error and str(short) in records[0].error
    assert records[1].error and str(bad) in records[1].error and "\n" not in records[1].error


def test_timeline_finds_an_edit_slip(checker, tmp_path):
    path = make_clip(tmp_path / "slip.mp4", seconds=30.0, offset=0.0, change_at=15.0, offset2=0.7, seed=5)
    tl = checker.timeline(path)
    assert len(tl.segments) == 2, tl.segments
    first, second = tl.segments
    assert first.offset_sec == pytest.approx(0.0, abs=0.05) and second.offset_sec == pytest.approx(0.7, abs=0.05)
    assert first.end_sec == pytest.approx(15.0, abs=2.0) and second.start_sec == pytest.approx(15.0, abs=2.0)
    assert tl.drift_ms_per_min is None


def test_desync_is_the_mean_of_the_first_and_last_seconds(checker, tmp_path):
    d = checker.desync(make_clip(tmp_path / "c.mp4", seconds=12.0, offset=-0.3, seed=6))
    assert d.first_sec == pytest.approx(0.3, abs=0.05) and d.desync_sec == pytest.approx(0.3, abs=0.05)


def _evidence(per_block_peak: list[float], offsets: np.ndarray, strength: float = 3.0) -> Evidence:
    """Evidence whose every block favours its own offset (25 usable frames a block)."""
    logp = np.stack([-strength * np.abs(offsets - p) * 25 for p in per_block_peak])
    return Evidence(offsets, logp, np.full_like(logp, 25.0), np.full(len(per_block_peak), 25), 1.0)


def test_posterior_refines_the_peak_and_flags_the_edge():
    offsets = np.round(np.arange(-100, 101) * 0.01, 2)
    ev = _evidence([0.234] * 10, offsets)
    p = posterior(ev, 0, 10, temperature=4.0)
    assert p.offset_sec == pytest.approx(0.234, abs=0.006) and p.confidence > 0.99 and not p.at_edge
    assert posterior(_evidence([0.995] * 10, offsets), 0, 10, 4.0).at_edge
    ev.search_sec = 0.2
    assert posterior(ev, 0, 10, 4.0).at_edge           # beyond the range asked for


def test_best_path_jumps_at_a_slip_and_moves_with_a_drift():
    offsets = np.round(np.arange(-100, 101) * 0.01, 2)
    slip = _evidence([0.0] * 20 + [0.7] * 20, offsets, strength=0.5)
    along = offsets[best_path(slip, 4.0).state]
    assert np.all(np.abs(along[:19]) < 0.03) and np.all(np.abs(along[21:] - 0.7) < 0.03)
    drift = [0.004 * t for t in range(60)]                          # 240 ms/min
    along = offsets[best_path(_evidence(drift, offsets, strength=0.5), 4.0).state]
    slope, _, resid = drift_fit(np.arange(60) + 0.5, along)
    assert slope * 60_000 == pytest.approx(240, rel=0.15) and resid < 0.03


def test_self_normalised_confidence_refuses_noise_and_keeps_a_clear_peak():
    offsets = np.round(np.arange(-300, 301) * 0.01, 2)
    rng = np.random.default_rng(0)
    noise = np.cumsum(rng.normal(0, 1, (30, len(offsets))), axis=1) * 5      # smooth, large, meaningless
    ev = Evidence(offsets, noise, np.full_like(noise, 25.0), np.full(30, 25), 1.0)
    assert posterior(ev, 0, 30, 4.0).confidence > 0.9                           # raw nats: a confident guess
    assert posterior(ev, 0, 30, 4.0, sharpness=2.0).confidence < 0.3            # against its own spread: none
    sharp = noise * 0.01 - 40.0 * (np.abs(offsets - 0.5) > 0.05)               # a narrow peak over a flat floor
    clear = Evidence(offsets, sharp, np.full_like(sharp, 25.0), np.full(30, 25), 1.0)
    p = posterior(clear, 0, 30, 4.0, sharpness=2.0)
    assert p.confidence > 0.9 and p.offset_sec == pytest.approx(0.5, abs=0.06)


def test_engine_calibration_fits_on_shifted_and_mismatched_files(checker, tmp_path):
    from avsync.checker.offset_fitting import calibrate_offsets

    paths = [make_clip(tmp_path / f"c{i}.mp4", seconds=10.0, seed=20 + i) for i in range(4)]
    run = calibrate_offsets(checker, [str(p) for p in paths[:2]], [str(p) for p in paths[2:]], per_clip=2,
                            base=Calibration(temperature=1.0, min_confidence=0.3), provenance={"data": "test"})
    cal, after = run.calibration, run.after
    assert cal.sharpness is not None and cal.fitted["data"] == "test" and cal.temperature == 1.0
    assert after["files"] == 4 and after["mismatched"] == 1
    assert after["within_0.1"] == 1.0 and after["mismatched_refused"] == 1.0


def test_timeline_finds_a_drifting_clock(checker, tmp_path):
    from avsync.media.render import clock_drift, render_retimed

    src = make_clip(tmp_path / "src.mp4", seconds=64.0, offset=0.0, seed=8)
    drifting = render_retimed(src, tmp_path / "drift.mp4", 0.0, 60.0, clock_drift(0.0, 0.004), size=None)
    tl = checker.timeline(drifting)
    assert len(tl.segments) == 1, tl.segments
    assert tl.drift_ms_per_min == pytest.approx(240, rel=0.25)


def test_a_joined_expert_adds_evidence_and_is_listed(checker, tmp_path):
    from avsync.models.handmade import expert

    path = make_clip(tmp_path / "c.mp4", seconds=14.0, offset=-0.7, seed=9)
    alone = OffsetChecker(expert("motion-onset"), Calibration(temperature=1.0), name="motion-onset")
    ev, _ = alone.evidence(path)
    assert ev.logp.shape == (14, len(ev.offsets_sec)) and np.isfinite(ev.logp).all()
    joined = OffsetChecker(checker.model, Calibration(temperature=1.0), name="flashes",
                           experts={"motion-onset": expert("motion-onset")}).check(path)
    assert joined.synchronisable and joined.offset_sec == pytest.approx(-0.7, abs=0.05)
    assert joined.experts == ["flashes", "motion-onset"] and joined.to_dict()["experts"] == joined.experts


def test_a_long_file_is_scored_stretch_by_stretch_as_it_decodes(checker, tmp_path, monkeypatch):
    """Files longer than two stretches are read and scored a stretch at a time (memory stays flat): the
    same answers as scoring the file whole, within a frame, and the same timeline."""
    import avsync.checker.offset_checker as oc
    from avsync.media.stream import Streams, StreamsInfo

    path = make_clip(tmp_path / "slip.mp4", seconds=40.0, offset=0.4, change_at=20.0, offset2=-0.6, seed=12)
    whole_ev, whole = checker.evidence(path, max_offset_sec=1.5)
    assert isinstance(whole, Streams)
    monkeypatch.setattr(oc, "STRETCH_BLOCKS", 4)                   # stretches of 6 s (the margin's minimum)
    ev, info = checker.evidence(path, max_offset_sec=1.5)
    assert isinstance(info, StreamsInfo) and info.duration_sec == pytest.approx(whole.duration_sec)
    assert ev.logp.shape == whole_ev.logp.shape and np.array_equal(ev.usable, whole_ev.usable)
    assert ev.search_sec == whole_ev.search_sec == 1.5
    per_block = np.abs(ev.offsets_sec[ev.logp.argmax(1)] - whole_ev.offsets_sec[whole_ev.logp.argmax(1)])
    assert np.median(per_block) <= 0.04
    tl = checker.timeline(path, max_offset_sec=1.5)
    assert [round(s.offset_sec, 1) for s in tl.segments] == [0.4, -0.6], tl.segments
    assert tl.segments[1].start_sec == pytest.approx(20.0, abs=2.0)
