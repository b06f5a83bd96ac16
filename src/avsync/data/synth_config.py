"""What every synthetic clip of a set looks like (shared by the generators of avsync.data.synthetic
and avsync.data.synth_real)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SynthConfig:
    """What every clip of a set looks like. Sizes in px follow ``size``; the difficulty knobs are
    the event counts, ``object_scale`` (event objects and mouths), ``distractors`` (most silent
    movers), ``snr_db`` (event or speech level over the ambience; each sound varies +-6 dB around
    it), ``unexplained`` (most sounds without a visible cause), ``speakers`` (most talkers in a dense
    clip) and ``music`` (the share of dense clips showing a ball bouncing on irregular beats instead)."""

    duration_sec: float = 10.0
    size: int = 256
    fps: float = 25.0
    sample_rate: int = 16000
    min_events: int = 1
    max_events: int = 3
    object_scale: float = 1.0
    distractors: int = 4
    snr_db: float = 20.0
    unexplained: int = 2
    speakers: int = 2
    music: float = 0.25

    def __post_init__(self) -> None:
        if not 1 <= self.min_events <= self.max_events:
            raise ValueError("need 1 <= min_events <= max_events")
        if self.size < 32 or self.duration_sec < 1.0 or self.fps <= 0 or self.sample_rate < 8000:
            raise ValueError("need size >= 32 px, duration >= 1 s, fps > 0, sample_rate >= 8000")
        if self.object_scale <= 0 or min(self.distractors, self.unexplained) < 0 or self.speakers < 1:
            raise ValueError("need object_scale > 0, distractors >= 0, unexplained >= 0, speakers >= 1")
        if not 0.0 <= self.music <= 1.0:
            raise ValueError("music is a share: 0..1")

    @property
    def num_frames(self) -> int:
        """Frames a clip has."""
        return int(round(self.duration_sec * self.fps))

    @property
    def num_samples(self) -> int:
        """Audio samples a clip has."""
        return int(round(self.duration_sec * self.sample_rate))
