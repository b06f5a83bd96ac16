"""Synthetic audio-visual sync datasets: dense (talking mouths), sparse (rare events), static, and
real (real recordings timed to events over real pictures, from the real-media bank: synth_real).

``make_clip(kind, seed, index, config)`` returns a SynthClip in memory (frames uint8 (T, H, W, 3),
audio float32 (S,), the ground-truth events); ``generate_set`` encodes many of them in parallel
processes into a folder with a manifest. Each clip draws all its randomness from
``numpy.random.default_rng([seed, index, kind])``, so a clip is the same whoever renders it and whenever.

An event is a dict: ``t`` (s, the audible onset), ``dur`` (s), ``visual`` (what the picture does, or
None for a sound without a visible cause), ``sound`` (its timbre family), ``box`` ([x0, y0, x1, y1]
as fractions of the frame width/height at time ``t``, or None). Dense clips list one continuous
event a talker (``visual`` "mouth", ``t`` 0, ``dur`` the clip).
"""

from __future__ import annotations

import json
import math
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from avsync.data import synth_audio as sa
from avsync.data import synth_real
from avsync.data import synth_video as sv
from avsync.data.manifest import ManifestRow, write_manifest
from avsync.data.synth_config import SynthConfig
from avsync.errors import AvsyncError, MediaError, UsageError
from avsync.fileio import write_text_atomic

KINDS = ("dense", "sparse", "static")   # made from numpy alone
BANK_KINDS = ("real",)                  # made from the real-media bank (avsync.data.synth_real)
ALL_KINDS = KINDS + BANK_KINDS
VISUAL_EVENTS = ("flash", "colour", "jump", "hit", "appear", "disappear")
SPLITS = ("train",) * 8 + ("val", "test")   # by index modulo 10: 80/10/10


@dataclass
class SynthClip:
    """One generated clip in memory."""

    kind: str
    frames: np.ndarray               # uint8 (T, H, W, 3)
    audio: np.ndarray                # float32 (S,)
    events: list[dict[str, Any]]
    fps: float
    sample_rate: int
    seed: int
    index: int
    scene: "Scene | None" = None     # what drew the picture (its layers can be inspected)


def clip_rng(kind: str, seed: int, index: int) -> np.random.Generator:
    """The random generator of clip ``index`` of the ``kind`` set made with ``seed``."""
    return np.random.default_rng([int(seed), int(index), ALL_KINDS.index(kind) + 1])


def split_of(index: int) -> str:
    """Deterministic split of clip ``index``: 80 % train, 10 % val, 10 % test."""
    return SPLITS[index % len(SPLITS)]


# --- scene objects: each draws itself on the canvas at time t -------------------------------------

@dataclass
class Mover:
    """A silent distractor: a smooth Lissajous path, a slow spin, a pulsing size and a drifting colour."""

    shape: sv.Shape
    radius: float
    centre: tuple[float, float]
    amp: tuple[float, float]
    freq: tuple[float, float]
    phase: tuple[float, float, float]
    spin: float
    colours: tuple[np.ndarray, np.ndarray]
    colour_freq: float

    def state(self, t: float) -> np.ndarray:
        """What is drawn at time ``t``: x, y, radius, angle, r, g, b (a smooth function of t)."""
        x = self.centre[0] + self.amp[0] * math.sin(2 * math.pi * self.freq[0] * t + self.phase[0])
        y = self.centre[1] + self.amp[1] * math.sin(2 * math.pi * self.freq[1] * t + self.phase[1])
        m = 0.5 - 0.5 * math.cos(2 * math.pi * self.colour_freq * t + self.phase[2])
        colour = self.colours[0] * (1 - m) + self.colours[1] * m
        r = self.radius * (1 + 0.15 * math.sin(2 * math.pi * self.colour_freq * 1.3 * t))
        return np.array([x, y, r, self.spin * t, *colour], np.float64)

    def draw(self, canvas: np.ndarray, t: float) -> None:
        """Paint the mover at time ``t``."""
        x, y, r, angle, *colour = self.state(t)
        sv.paint(canvas, self.shape, x, y, r, np.array(colour, np.float32), angle=angle)


def random_mover(rng: np.random.Generator, canvas: int, size: int) -> Mover:
    """A distractor somewhere on the canvas, moving at most 0.3 frame widths a second."""
    radius = size * rng.uniform(0.03, 0.12)
    amp = tuple(float(a) for a in rng.uniform(0.02, 0.3, 2) * size)
    freq = tuple(float(min(rng.uniform(0.05, 0.5), 0.3 * size / (2 * math.pi * a))) for a in amp)
    return Mover(sv.random_shape(rng), radius, tuple(float(c) for c in rng.uniform(0, canvas, 2)), amp, freq,
                 tuple(float(p) for p in rng.uniform(0, 2 * math.pi, 3)), float(rng.uniform(-1.5, 1.5)),
                 (sv.random_colour(rng), sv.random_colour(rng)), float(rng.uniform(0.02, 0.3)))


@dataclass
class Actor:
    """The object of one audio-visual event at time ``t``. Before and after it the actor is still;
    at ``t`` it flashes, changes colour, jumps, is hit by a striker, appears or disappears."""

    visual: str
    t: float                         # audible onset (s)
    t_frame: float                   # time of the first frame that shows a discrete change
    shape: sv.Shape
    cx: float
    cy: float
    radius: float
    colour: np.ndarray
    other: np.ndarray                # flash or new colour
    angle: float
    decay: float                     # s, how fast the change fades
    direction: tuple[float, float]   # unit vector: jump direction or where the striker comes from
    reach: float                     # px: jump height or striker start distance
    lead: float                      # s: how long the striker takes to come
    striker: sv.Shape | None = None
    striker_colour: np.ndarray | None = None

    def _striker_pos(self, t: float) -> tuple[float, float]:
        d = sv.strike_distance(t - self.t, self.lead, self.reach)
        gap = self.radius * 1.6 + d
        return self.cx + self.direction[0] * gap, self.cy + self.direction[1] * gap

    def state(self, t: float) -> np.ndarray:
        """What is drawn at time ``t``: x, y, r, g, b, alpha, sx, sy and the striker's x, y."""
        tau, tau_f = t - self.t, t - self.t_frame
        x, y, colour, alpha, sx, sy = self.cx, self.cy, self.colour, 1.0, 1.0, 1.0
        if self.visual == "flash" and tau_f >= 0:
            colour = self.colour + (self.other - self.colour) * math.exp(-tau_f / self.decay)
        elif self.visual == "colour" and tau_f >= 0:
            colour = self.other
        elif self.visual == "appear":
            alpha = float(tau_f >= 0)
        elif self.visual == "disappear":
            alpha = float(tau_f < 0)
        elif self.visual == "jump" and tau >= 0:
            lift = self.reach * 1.25 * (math.exp(-tau / self.decay) - math.exp(-tau / 0.02))
            x, y = x + self.direction[0] * lift, y + self.direction[1] * lift
        elif self.visual == "hit" and tau >= 0:        # dents and lights up where it is struck
            e = math.exp(-tau / self.decay)
            sx, sy = 1 + 0.4 * e, 1 - 0.5 * e
            colour = self.colour + (self.other - self.colour) * 0.6 * e
        px, py = self._striker_pos(t) if self.striker is not None else (0.0, 0.0)
        return np.array([x, y, *colour, alpha, sx, sy, px, py], np.float64)

    def draw(self, canvas: np.ndarray, t: float) -> None:
        """Paint the actor (and its striker) at time ``t``."""
        x, y, r, g, b, alpha, sx, sy, px, py = self.state(t)
        angle = math.atan2(self.direction[1], self.direction[0]) if self.visual == "hit" else self.angle
        sv.paint(canvas, self.shape, x, y, self.radius, np.array([r, g, b], np.float32), angle=angle,
                 alpha=alpha, sx=sx, sy=sy)
        if self.striker is not None:
            sv.paint(canvas, self.striker, px, py, self.radius * 0.6, self.striker_colour)

    def box(self) -> tuple[float, float, float, float]:
        """Canvas box (x0, y0, x1, y1) of the pixels the event changes."""
        e = self.radius * 1.6
        xs, ys = [self.cx - e, self.cx + e], [self.cy - e, self.cy + e]
        if self.visual in ("jump", "hit"):
            gap = self.reach if self.visual == "jump" else self.radius * 1.6 + 0.4 * self.reach
            ex, ey = self.cx + self.direction[0] * gap, self.cy + self.direction[1] * gap
            e2 = e if self.visual == "jump" else self.radius
            xs += [ex - e2, ex + e2]
            ys += [ey - e2, ey + e2]
        return min(xs), min(ys), max(xs), max(ys)


@dataclass
class Talker:
    """A mouth whose opening follows its own voice: in a face (head, blinking eyes, lips) or alone as
    an abstract shape that stretches with the sound."""

    opening: np.ndarray              # per frame, 0..1
    cx: float
    cy: float
    radius: float                    # head radius (face) or mouth size (abstract)
    face: bool
    head: sv.Shape
    colours: tuple[np.ndarray, np.ndarray, np.ndarray]   # head/shape, lips, interior
    sway: tuple[float, float, float]                      # px amplitude, Hz, phase
    blinks: tuple[float, ...]
    fps: float
    _head: sv.Stamp | None = field(default=None, repr=False)

    def mouth_centre(self, t: float) -> tuple[float, float]:
        """Where the mouth is at time ``t`` (canvas px)."""
        dx = self.sway[0] * math.sin(2 * math.pi * self.sway[1] * t + self.sway[2])
        dy = 0.5 * self.sway[0] * math.sin(2 * math.pi * self.sway[1] * 0.7 * t)
        return self.cx + dx, self.cy + dy + (0.42 * self.radius if self.face else 0.0)

    def draw(self, canvas: np.ndarray, t: float) -> None:
        """Paint the talker at time ``t``."""
        k = min(int(round(t * self.fps)), len(self.opening) - 1)
        o = float(self.opening[k])
        mx, my = self.mouth_centre(t)
        skin, lips, inside = self.colours
        if not self.face:
            sv.paint(canvas, self.head, mx, my, self.radius, skin, sx=1.0 + 0.2 * o, sy=0.25 + 1.1 * o)
            return
        hx, hy = mx, my - 0.42 * self.radius
        if self._head is None:
            self._head = sv.stamp(self.head, self.radius, skin)
        self._head.paste(canvas, hx, hy)
        closed = max((1 - abs(t - b) / 0.08 for b in self.blinks if abs(t - b) < 0.08), default=0.0)
        eye = sv.Shape()
        for side in (-1, 1):
            sv.paint(canvas, eye, hx + side * 0.36 * self.radius, hy - 0.2 * self.radius, 0.11 * self.radius,
                     inside, sy=max(1 - closed, 0.1))
        mw = 0.38 * self.radius
        sv.paint(canvas, eye, mx, my, mw, lips, sx=1.0 - 0.15 * o, sy=0.22 + 0.75 * o)
        sv.paint(canvas, eye, mx, my, mw * 0.8, inside, sx=1.0 - 0.15 * o, sy=0.02 + 0.72 * o)

    def box(self) -> tuple[float, float, float, float]:
        """Canvas box of the mouth (at rest position, widened by the sway)."""
        mx, my = self.cx, self.cy + (0.42 * self.radius if self.face else 0.0)
        e = (0.4 if self.face else 1.3) * self.radius + self.sway[0]
        return mx - e, my - e, mx + e, my + e


@dataclass
class Bouncer:
    """A musician stand-in: a ball bouncing on a drum, hitting it on every (irregular) beat; the drum
    skin lights up and dents at each hit."""

    beats: np.ndarray                # s, increasing, the first one before 0 and the last after the end
    fps: float
    x: float
    floor: float                     # canvas y of the drum skin
    radius: float
    height: float                    # px of the highest bounce
    shape: sv.Shape
    colour: np.ndarray
    drum: np.ndarray                 # drum colour
    lit: np.ndarray                  # its colour when struck

    def state(self, t: float) -> np.ndarray:
        """Ball x, y, squash and the drum's glow at time ``t`` (parabolic flights between beats)."""
        i = int(np.searchsorted(self.beats, t, side="right")) - 1
        b0, b1 = self.beats[i], self.beats[i + 1]
        u = (t - b0) / (b1 - b0)
        span = (b1 - b0) / float(np.max(np.diff(self.beats)))
        lift = self.height * span * span * 4 * u * (1 - u)
        squash = 0.4 * math.exp(-(t - b0) / 0.04)
        shown = np.round(self.beats * self.fps) / self.fps          # the frame that shows each hit
        j = int(np.searchsorted(shown, t + 1e-9, side="right")) - 1
        glow = math.exp(-(t - shown[j]) / 0.08) if j >= 0 else 0.0
        return np.array([self.x, self.floor - self.radius * (1 - squash) - lift, squash, glow])

    def draw(self, canvas: np.ndarray, t: float) -> None:
        """Paint the drum and the ball at time ``t``."""
        x, y, squash, glow = self.state(t)
        skin = self.drum + (self.lit - self.drum) * glow
        sv.paint(canvas, sv.Shape(), x, self.floor + self.radius * 0.3, self.radius * 2.2, skin, sy=0.15 + 0.1 * glow)
        sv.paint(canvas, self.shape, x, y, self.radius, self.colour, sx=1 + squash, sy=1 - squash)

    def box(self) -> tuple[float, float, float, float]:
        """Canvas box of the ball where it hits the drum, and the drum."""
        e = self.radius * 2.4
        return self.x - e, self.floor - 2 * self.radius * 1.4, self.x + e, self.floor + self.radius


# --- the kinds ------------------------------------------------------------------------------------

@dataclass
class Scene:
    """A clip's picture: a backdrop, layers drawn in order, a camera path and the sensor."""

    cfg: SynthConfig
    backdrop: np.ndarray
    camera: sv.Camera
    sensor: sv.Sensor
    layers: list[Any] = field(default_factory=list)

    @property
    def canvas(self) -> int:
        """Side of the canvas in px: the frame plus the camera's margin on every side."""
        return self.cfg.size + 2 * self.camera.margin

    def frame_box(self, box: tuple[float, float, float, float], t: float) -> list[float]:
        """A canvas box as fractions of the frame at time ``t`` (clipped to the frame)."""
        oy, ox = self.camera.offset(t, self.cfg.duration_sec)
        s = self.cfg.size
        x0, y0, x1, y1 = box
        return [round(float(np.clip(v, 0, 1)), 4) for v in ((x0 - ox) / s, (y0 - oy) / s, (x1 - ox) / s, (y1 - oy) / s)]

    def render_frame(self, t: float, noise: np.ndarray | None = None) -> np.ndarray:
        """The frame at time ``t``, uint8 (H, W, 3), with ``noise`` (unit std) as sensor noise."""
        canvas = self.backdrop.copy()
        for layer in self.layers:
            layer.draw(canvas, t)
        oy, ox = self.camera.offset(t, self.cfg.duration_sec)
        return self.sensor.apply(sv.crop_at(canvas, oy, ox, self.cfg.size, self.cfg.size), noise)

    def render(self, rng: np.random.Generator) -> np.ndarray:
        """All frames, uint8 (T, H, W, 3), with fresh sensor noise drawn from ``rng``."""
        cfg = self.cfg
        frames = np.empty((cfg.num_frames, cfg.size, cfg.size, 3), np.uint8)
        bank = sv.NoiseBank(rng, cfg.size, cfg.size) if self.sensor.noise > 0 else None
        for k in range(cfg.num_frames):
            frames[k] = self.render_frame(k / cfg.fps, None if bank is None else bank.next())
        return frames


def _new_scene(rng: np.random.Generator, cfg: SynthConfig, still: bool = False) -> Scene:
    camera = sv.random_camera(rng, cfg.size, still)
    c = cfg.size + 2 * camera.margin
    sensor = sv.random_sensor(rng, cfg.size)
    return Scene(cfg, sv.background(rng, c + 1, c + 1, cfg.size), camera, sensor)


def _event_times(rng: np.random.Generator, n: int, duration: float, taken: list[float], gap: float) -> list[float]:
    """Up to ``n`` aperiodic times in [0.3, duration - 0.5], each ``gap`` s from the others and
    ``taken`` (as many as fit)."""
    out: list[float] = []
    for _ in range(n):
        for _try in range(200):
            t = float(rng.uniform(0.3, duration - 0.5))
            if all(abs(t - u) >= gap for u in taken + out):
                out.append(round(t, 4))
                break
    return sorted(out)


def _actor(rng: np.random.Generator, scene: Scene, visual: str, t: float) -> Actor:
    cfg, m, s = scene.cfg, scene.camera.margin, scene.cfg.size
    radius = s * rng.uniform(0.035, 0.065) * cfg.object_scale
    reach = radius * rng.uniform(1.2, 2.2)
    pad = radius * 1.6 + reach + radius * 1.2
    lo, hi = 2 * m + pad, s - pad
    cx, cy = (rng.uniform(lo, hi, 2) if hi > lo else np.full(2, (s + 2 * m) / 2))
    under = scene.backdrop[int(cy), int(cx)]
    colour = sv.random_colour(rng, under, 110)
    corners = np.array([[0, 0, 0], [255, 255, 255]], np.float32)
    other = (corners[np.argmax(np.linalg.norm(corners - colour, axis=1))] if visual == "flash"
             else sv.random_colour(rng, colour, 130))
    a = rng.uniform(0, 2 * math.pi)
    direction = (0.0, -1.0) if visual == "jump" and rng.random() < 0.6 else (math.cos(a), math.sin(a))
    striker = sv.random_shape(rng) if visual == "hit" else None
    return Actor(visual, t, round(t * cfg.fps) / cfg.fps, sv.random_shape(rng), float(cx), float(cy), float(radius),
                 colour, other, float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(0.06, 0.25)), direction,
                 float(reach), float(rng.uniform(0.25, 0.6)), striker,
                 None if striker is None else sv.random_colour(rng, under, 90))


def _level(rng: np.random.Generator, audio: np.ndarray) -> np.ndarray:
    """Scale to a random loudness (RMS -30..-18 dBFS), never above 0.95 peak."""
    rms = max(float(np.sqrt(np.mean(audio ** 2))), 1e-9)
    audio = audio * (10 ** (rng.uniform(-30, -18) / 20) / rms)
    peak = float(np.abs(audio).max())
    return (audio * (0.95 / peak) if peak > 0.95 else audio).astype(np.float32)


def _sparse(rng: np.random.Generator, cfg: SynthConfig) -> tuple[Scene, np.ndarray, list[dict[str, Any]]]:
    scene = _new_scene(rng, cfg)
    c, s, sr = scene.canvas, cfg.size, cfg.sample_rate
    scene.layers += [random_mover(rng, c, s) for _ in range(int(rng.integers(1, cfg.distractors + 1)) if cfg.distractors else 0)]
    for _ in range(int(rng.integers(0, 4))):     # still decoys like the event objects, part of the backdrop
        x, y = rng.uniform(0, c, 2)
        sv.paint(scene.backdrop, sv.random_shape(rng), x, y, s * rng.uniform(0.03, 0.07) * cfg.object_scale,
                 sv.random_colour(rng), angle=rng.uniform(0, 2 * math.pi))
    times = _event_times(rng, int(rng.integers(cfg.min_events, cfg.max_events + 1)), cfg.duration_sec, [], 0.8)
    if len(times) < cfg.min_events:
        raise UsageError(f"{cfg.duration_sec:g} s clips cannot hold {cfg.min_events} events 0.8 s apart")
    quiet = _event_times(rng, int(rng.integers(0, cfg.unexplained + 1)), cfg.duration_sec, times, 0.8)
    audio = sa.ambience(rng, cfg.num_samples, sr)
    events = []
    for t in times + quiet:
        sound = str(rng.choice(sa.SOUNDS))
        wave = sa.event_sound(rng, sound, sr)
        sa.place(audio, wave, t, sr, 10 ** ((cfg.snr_db + rng.uniform(-6, 6)) / 20))
        event = {"t": t, "dur": round(len(wave) / sr, 4), "visual": None, "sound": sound, "box": None}
        if t in times:
            actor = _actor(rng, scene, str(rng.choice(VISUAL_EVENTS)), t)
            scene.layers.append(actor)
            event.update(visual=actor.visual, box=scene.frame_box(actor.box(), t))
        events.append(event)
    return scene, audio, sorted(events, key=lambda e: e["t"])


def _dense(rng: np.random.Generator, cfg: SynthConfig) -> tuple[Scene, np.ndarray, list[dict[str, Any]]]:
    scene = _new_scene(rng, cfg)
    c, s, sr, n = scene.canvas, cfg.size, cfg.sample_rate, cfg.num_samples
    scene.layers += [random_mover(rng, c, s) for _ in range(int(rng.integers(0, min(cfg.distractors, 2) + 1)))]
    audio = sa.ambience(rng, n, sr) * 10 ** (-(cfg.snr_db + rng.uniform(-6, 6)) / 20)
    if rng.random() < cfg.music:
        return scene, audio, _musician(rng, scene, audio)
    speakers = int(rng.integers(1, cfg.speakers + 1))
    frame_idx = np.minimum((np.arange(cfg.num_frames) / cfg.fps * sr).astype(int), n - 1)
    events = []
    for i, active in enumerate(sa.turns(rng, cfg.duration_sec, speakers)):
        voice, opening = sa.speech(rng, n, sr, active)
        audio += voice * 10 ** (rng.uniform(-3, 3) / 20)
        face = rng.random() < 0.7
        radius = s * cfg.object_scale * (rng.uniform(0.22, 0.34) if face else rng.uniform(0.1, 0.2)) / math.sqrt(speakers)
        slot = (i + 0.5) / speakers
        cx = scene.camera.margin + s * (slot + rng.uniform(-0.08, 0.08) / speakers)
        cy = scene.camera.margin + s * rng.uniform(0.4, 0.55)
        skin = sv.random_colour(rng, scene.backdrop[int(cy), int(cx)], 100)
        talker = Talker(opening[frame_idx], float(cx), float(cy), float(radius), face, sv.random_shape(rng),
                        (skin, sv.random_colour(rng, skin, 90), sv.random_colour(rng, skin, 140) * 0.4),
                        (float(rng.uniform(0, 0.03) * s), float(rng.uniform(0.1, 0.5)), float(rng.uniform(0, 6.3))),
                        tuple(float(b) for b in rng.uniform(0, cfg.duration_sec, int(rng.integers(0, 4)))), cfg.fps)
        scene.layers.append(talker)
        events.append({"t": 0.0, "dur": float(cfg.duration_sec), "visual": "mouth", "sound": "speech",
                       "box": scene.frame_box(talker.box(), 0.0)})
    return scene, audio, events


def _musician(rng: np.random.Generator, scene: Scene, audio: np.ndarray) -> list[dict[str, Any]]:
    """Add a bouncing ball and its beat sounds (irregular intervals, 0.6-1.3 x a 0.3-0.7 s period)."""
    cfg, s, m, sr = scene.cfg, scene.cfg.size, scene.camera.margin, scene.cfg.sample_rate
    period = rng.uniform(0.3, 0.7)
    beats = [-rng.uniform(0.1, period)]
    while beats[-1] <= cfg.duration_sec + 0.1:
        beats.append(beats[-1] + period * rng.uniform(0.6, 1.3))
    radius = s * cfg.object_scale * rng.uniform(0.05, 0.1)
    floor = m + s * rng.uniform(0.7, 0.85)
    x = m + s * rng.uniform(0.3, 0.7)
    drum = sv.random_colour(rng, scene.backdrop[int(floor), int(x)], 90)
    corners = np.array([[0, 0, 0], [255, 255, 255]], np.float32)
    ball = Bouncer(np.array(beats), cfg.fps, float(x), float(floor), float(radius), float(s * rng.uniform(0.25, 0.45)),
                   sv.random_shape(rng), sv.random_colour(rng, scene.backdrop[int(floor) - int(radius), int(x)], 110),
                   drum, corners[np.argmax(np.linalg.norm(corners - drum, axis=1))])
    scene.layers.append(ball)
    kind = str(rng.choice(["impact", "click", "noise"]))
    hit = sa.event_sound(rng, kind, sr)
    level = 10 ** (rng.uniform(-3, 3) / 20)       # beats at the set SNR over the ambience, like speech
    events = []
    for b in beats:
        if 0 <= b < cfg.duration_sec:
            sa.place(audio, hit, b, sr, level * 10 ** (rng.uniform(-3, 3) / 20))
            events.append({"t": round(float(b), 4), "dur": round(len(hit) / sr, 4), "visual": "bounce",
                           "sound": kind, "box": scene.frame_box(ball.box(), b)})
    return events


def _static(rng: np.random.Generator, cfg: SynthConfig) -> tuple[Scene, np.ndarray, list[dict[str, Any]]]:
    scene = _new_scene(rng, cfg, still=True)
    c, s = scene.canvas, cfg.size
    scene.layers += [random_mover(rng, c, s) for _ in range(int(rng.integers(1, 6)))]
    return scene, sa.ambience(rng, cfg.num_samples, cfg.sample_rate), []


def _real(rng: np.random.Generator, cfg: SynthConfig) -> tuple[Any, np.ndarray, list[dict[str, Any]]]:
    return synth_real.build(rng, cfg)


_BUILDERS: dict[str, Callable[..., tuple[Any, np.ndarray, list[dict[str, Any]]]]] = {
    "dense": _dense, "sparse": _sparse, "static": _static, "real": _real}


def make_clip(kind: str, seed: int, index: int, cfg: SynthConfig = SynthConfig()) -> SynthClip:
    """Generate clip ``index`` of the ``kind`` set made with ``seed``: frames, audio and events."""
    if kind not in _BUILDERS:
        raise ValueError(f"unknown synthetic kind {kind!r} (choose from {', '.join(ALL_KINDS)})")
    rng = clip_rng(kind, seed, index)
    scene, audio, events = _BUILDERS[kind](rng, cfg)
    if kind == "static":                        # one still picture, repeated
        one = scene.render_frame(0.0)
        frames = np.broadcast_to(one, (cfg.num_frames, *one.shape)).copy()
    else:
        frames = scene.render(rng)
    return SynthClip(kind, frames, _level(rng, audio), events, cfg.fps, cfg.sample_rate, int(seed), int(index), scene)


# --- writing sets ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Encoding:
    """How clips are encoded (passed to avsync.media.write_video). ``crf``: one quality for every
    clip, a (low, high) range to draw each clip's from (varied compression), or None for the
    codec's default; only x264/x265 use it."""

    vcodec: str = "h264"
    acodec: str = "aac"
    crf: float | tuple[float, float] | None = (18.0, 30.0)
    container: str = "mp4"

    def crf_for(self, kind: str, seed: int, index: int) -> float | None:
        """The quality of one clip (from its own generator, apart from its content's)."""
        if self.crf is None or self.vcodec not in ("h264", "libx264", "hevc", "libx265"):
            return None
        if isinstance(self.crf, (int, float)):
            return float(self.crf)
        lo, hi = self.crf
        return round(float(np.random.default_rng([int(seed), int(index), ALL_KINDS.index(kind) + 1, 7]).uniform(lo, hi)), 1)

    def check(self, size: int) -> None:
        """UsageError unless PyAV can encode with these codecs at ``size`` px (even for yuv420p)."""
        import av

        for name, what in ((self.vcodec, "video"), (self.acodec, "audio")):
            try:
                codec = av.codec.Codec(name, "w")
            except Exception:  # noqa: BLE001 - PyAV raises several kinds for unknown names
                raise UsageError(f"unknown {what} encoder {name!r}") from None
            if codec.type != what:
                raise UsageError(f"{name!r} is not a {what} encoder")
        if size % 2:
            raise UsageError(f"frame size {size} must be even for yuv420p video")


def clip_name(kind: str, index: int, encoding: Encoding = Encoding()) -> str:
    """File name of clip ``index`` in a set folder."""
    return f"{kind}_{index:06d}.{encoding.container}"


def _settings(kind: str, seed: int, index: int, cfg: SynthConfig, encoding: Encoding) -> dict[str, Any]:
    return json.loads(json.dumps({"kind": kind, "seed": int(seed), "index": int(index), "config": asdict(cfg),
                                  "encoding": asdict(encoding)}))   # as the side-car stores them


def _check_sidecar(sidecar: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """The side-car's content; UsageError when it was made with other settings than ``settings``."""
    try:
        done = json.loads(sidecar.read_text())
    except ValueError:
        raise UsageError(f"{sidecar}: unreadable side-car; delete it to regenerate the clip") from None
    if {k: done.get(k) for k in settings} != settings:
        raise UsageError(f"{sidecar}: made with other settings; write the new set to another folder")
    return done


def write_clip(out_dir: str | Path, kind: str, seed: int, index: int, cfg: SynthConfig,
               encoding: Encoding = Encoding()) -> ManifestRow:
    """Generate and encode one clip into ``out_dir`` with a JSON side-car of its events and settings;
    a clip already there (both files, same settings) is kept. Returns its manifest row."""
    import av

    from avsync.media import write_video

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    video = out_dir / clip_name(kind, index, encoding)
    sidecar = video.with_suffix(".json")
    settings = _settings(kind, seed, index, cfg, encoding)
    if video.is_file() and sidecar.is_file():
        done = _check_sidecar(sidecar, settings)
        return ManifestRow(str(video), split_of(index), kind, cfg.duration_sec, done["events"])
    clip = make_clip(kind, seed, index, cfg)
    try:
        write_video(video, clip.frames, clip.audio, cfg.fps, cfg.sample_rate, encoding.vcodec, encoding.acodec,
                    crf=encoding.crf_for(kind, seed, index))
    except av.error.FFmpegError as e:
        raise MediaError(video, f"cannot encode: {e}") from None
    write_text_atomic(sidecar, json.dumps({**settings, "events": clip.events}, indent=1))
    return ManifestRow(str(video), split_of(index), kind, cfg.duration_sec, clip.events)


def generate_set(out_dir: str | Path, kind: str, n: int, seed: int = 0, cfg: SynthConfig = SynthConfig(),
                 encoding: Encoding = Encoding(), workers: int = 1,
                 progress: Callable[[int, str | None], None] | None = None) -> tuple[Path, list[str]]:
    """Write clips 0..n-1 of a ``kind`` set into ``out_dir`` (in ``workers`` processes, resuming
    where a previous run stopped) and ``out_dir/manifest.csv``. ``progress(index, error)`` is
    called as each clip finishes. Returns the manifest path and the failures (one line each)."""
    if kind not in ALL_KINDS:
        raise UsageError(f"unknown synthetic kind {kind!r} (choose from {', '.join(ALL_KINDS)})")
    encoding.check(cfg.size)
    if getattr(cfg, "width", None):              # the real kind may be wider than high
        encoding.check(cfg.width)
    if kind in BANK_KINDS:                        # a missing bank: one error, before any work
        from avsync.data.banks import load_banks

        load_banks(getattr(cfg, "real_dir", None))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for i in range(n):                              # refuse to mix settings before doing any work
        sidecar = (out_dir / clip_name(kind, i, encoding)).with_suffix(".json")
        if sidecar.is_file():
            _check_sidecar(sidecar, _settings(kind, seed, i, cfg, encoding))
    rows: dict[int, ManifestRow] = {}
    failures: list[str] = []

    def finish(i: int, job: Callable[[], ManifestRow]) -> None:
        try:
            rows[i] = job()
            err = None
        except AvsyncError as e:
            err = str(e)
            failures.append(err)
        if progress:
            progress(i, err)

    if workers <= 1:
        for i in range(n):
            finish(i, lambda i=i: write_clip(out_dir, kind, seed, i, cfg, encoding))
    else:
        with ProcessPoolExecutor(workers) as pool:
            futures = {pool.submit(write_clip, out_dir, kind, seed, i, cfg, encoding): i for i in range(n)}
            for fut in as_completed(futures):
                finish(futures[fut], fut.result)
    manifest = write_manifest([rows[i] for i in sorted(rows)], out_dir / "manifest.csv")
    return manifest, failures
