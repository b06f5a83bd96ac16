"""The ``real`` synthetic kind: real recordings timed to visual events, over real pictures.

Made to transfer to real footage, unlike the flat-colour kinds: every visible event (an object is
hit, bounces, appears, disappears, flashes, a key is pressed, a mouth opens) sounds with a real
recording of the audio bank chosen by event type, its onset (found in the recording, see
:func:`avsync.data.banks.onsets`) on the event's exact time; backgrounds and object textures are
cut from frames of the TRAIN group of the real-footage corpus only (:mod:`avsync.data.banks`),
seen through a slowly panning, zooming and shaking camera. Distractors: silent moving things,
sounds without a visible cause (``visual`` None), music / ambience / room tone under everything,
and hard cuts to another background (silent, listed with ``visual`` "cut" and ``sound`` None).
The camera blurs, adds sensor noise, vignettes and drifts in brightness; ``generate_set`` then
encodes with a random CRF like the other kinds.

Each event also names the recording it used (``file``, relative to the bank's ``audio/`` folder).
All randomness comes from the clip's generator, and the banks are read in a fixed order, so the
same (seed, index, settings, bank) gives the same clip.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from avsync.data import synth_audio as sa
from avsync.data import synth_video as sv
from avsync.data.banks import (
    EVENT_CATEGORIES,
    Banks,
    Onset,
    Recording,
    load_banks,
    loop_to,
)
from avsync.data.synth_config import SynthConfig
from avsync.errors import UsageError

VISUALS = ("hit", "bounce", "appear", "disappear", "flash", "press", "mouth")
_WEIGHTS = np.array([0.2, 0.14, 0.12, 0.08, 0.14, 0.12, 0.2])
# which bank categories may sound for each visual event (first those the bank has; then any event sound)
SOUNDS_FOR: dict[str | None, tuple[str, ...]] = {
    "hit": ("impacts", "percussion", "instruments", "effects"),
    "bounce": ("percussion", "impacts", "footsteps"),
    "appear": ("effects", "electronic"),
    "disappear": ("effects", "electronic"),
    "flash": ("effects", "electronic", "instruments"),
    "press": ("keyboard",),
    "mouth": ("speech", "animal", "vocals", "human"),
    None: EVENT_CATEGORIES,
}
NOT_FROM_A_MOUTH = re.compile(r"footstep|snap|party|gallop|clap", re.IGNORECASE)   # of human / animal files
MAX_SOUND_SEC = 0.8          # event sounds are cut (15 ms fade) after this; mouths after 1.6 s
MAX_MOUTH_SEC = 1.6
MAX_RISE_SEC = 0.010         # only recordings whose envelope gets half-way up to its 50 ms peak within 10 ms
MAX_ATTACK_SEC = 0.015       # of the onset, and 80 % of the way within 15 ms (a sharp, datable onset)
PRE_QUIET = 0.3              # no other event sound in the 0.3 s before an onset
OFFSCREEN_GAP = 0.8          # off-screen sounds this far from visible events
CUT_GAP = 0.6                # cuts this far from every listed sound


@dataclass(frozen=True)
class RealConfig(SynthConfig):
    """SynthConfig plus what only the ``real`` kind has: ``width`` (frame width in px; None: square,
    ``size`` is the height), ``real_dir`` (the real-media folder; None: ``$AVSYNC_REAL_DIR`` or
    ``data/real``) and ``cuts`` (share of clips with a hard cut)."""

    width: int | None = None
    real_dir: str | None = None
    cuts: float = 0.4

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.width is not None and self.width < 32:
            raise ValueError("need width >= 32 px")
        if not 0.0 <= self.cuts <= 1.0:
            raise ValueError("cuts is a share: 0..1")


def frame_shape(cfg: SynthConfig) -> tuple[int, int]:
    """(height, width) of the frames of a ``real`` clip."""
    return cfg.size, int(getattr(cfg, "width", None) or cfg.size)


# --- pictures -------------------------------------------------------------------------------------

def _halve(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2
    x = img[:h, :w]
    return (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2]) * 0.25


def _bilinear_grid(img: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``img`` sampled at every (row, col) of two coordinate vectors (separable bilinear)."""
    h, w = img.shape[:2]
    rows = np.clip(rows, 0, h - 1.001)
    cols = np.clip(cols, 0, w - 1.001)
    r0, c0 = rows.astype(np.int64), cols.astype(np.int64)
    fr, fc = (rows - r0).astype(np.float32)[:, None, None], (cols - c0).astype(np.float32)[None, :, None]
    top = img[r0]
    bot = img[r0 + 1]
    a = top[:, c0] * (1 - fc) + top[:, c0 + 1] * fc
    b = bot[:, c0] * (1 - fc) + bot[:, c0 + 1] * fc
    return (a * (1 - fr) + b * fr).astype(np.float32)


def resample(img: np.ndarray, y0: float, x0: float, h: float, w: float, out_h: int, out_w: int,
             flip: bool = False) -> np.ndarray:
    """The window (y0, x0, h, w) of ``img`` resized to (out_h, out_w) float32: area-halved while it
    is over twice the output, then bilinear."""
    iy0, ix0 = int(max(math.floor(y0), 0)), int(max(math.floor(x0), 0))
    iy1, ix1 = int(min(math.ceil(y0 + h) + 1, img.shape[0])), int(min(math.ceil(x0 + w) + 1, img.shape[1]))
    crop = img[iy0:iy1, ix0:ix1].astype(np.float32)
    fy, fx, scale = y0 - iy0, x0 - ix0, 1.0
    while crop.shape[0] >= 4 * out_h / 2 + 2 and crop.shape[1] >= 4 * out_w / 2 + 2:
        crop, scale = _halve(crop), scale * 2
    rows = (fy + (np.arange(out_h) + 0.5) * h / out_h) / scale - 0.5
    cols = (fx + (np.arange(out_w) + 0.5) * w / out_w) / scale - 0.5
    out = _bilinear_grid(crop, rows, cols)
    return out[:, ::-1].copy() if flip else out


def background(rng: np.random.Generator, banks: Banks, h: int, w: int) -> tuple[np.ndarray, str]:
    """A (h, w, 3) float32 background cut from a random train picture (45-100 % of its height,
    the aspect of the output, sometimes mirrored), and where it came from."""
    pics = banks.pictures
    pic = pics[int(rng.integers(len(pics)))]
    ph, pw = pic.image.shape[:2]
    ch = min(ph, pw * h / w) * rng.uniform(0.45, 1.0)
    cw = ch * w / h
    y0, x0 = rng.uniform(0, ph - ch), rng.uniform(0, pw - cw)
    return resample(pic.image, y0, x0, ch, cw, h, w, bool(rng.random() < 0.5)), f"{pic.source}@{pic.time:g}s"


def texture(rng: np.random.Generator, banks: Banks, n: int, under: np.ndarray | None) -> np.ndarray:
    """An (n, n, 3) float32 patch of a random train picture (10-40 % of its short side); made darker
    or lighter when its mean lies under 70 RGB units from ``under`` (the colour behind it)."""
    pics = banks.pictures
    pic = pics[int(rng.integers(len(pics)))]
    ph, pw = pic.image.shape[:2]
    side = min(ph, pw) * rng.uniform(0.1, 0.4)
    tex = resample(pic.image, rng.uniform(0, ph - side), rng.uniform(0, pw - side), side, side, n, n,
                   bool(rng.random() < 0.5))
    if under is not None and np.linalg.norm(tex.reshape(-1, 3).mean(0) - under) < 70:
        if float(np.mean(under)) > 110:
            tex = tex * rng.uniform(0.3, 0.5)
        else:
            tex = tex * rng.uniform(0.5, 0.7) + rng.uniform(100, 140)
    return np.clip(tex, 0, 255).astype(np.float32)


def _bilinear_at(tex: np.ndarray, r: np.ndarray, c: np.ndarray) -> np.ndarray:
    n0, n1 = tex.shape[:2]
    r = np.clip(r, 0, n0 - 1.001)
    c = np.clip(c, 0, n1 - 1.001)
    r0, c0 = r.astype(np.int64), c.astype(np.int64)
    fr, fc = (r - r0)[..., None], (c - c0)[..., None]
    top = tex[r0, c0] * (1 - fc) + tex[r0, c0 + 1] * fc
    bot = tex[r0 + 1, c0] * (1 - fc) + tex[r0 + 1, c0 + 1] * fc
    return top * (1 - fr) + bot * fr


def paint_texture(canvas: np.ndarray, shape: sv.Shape, cx: float, cy: float, radius: float, tex: np.ndarray,
                  base_radius: float, angle: float = 0.0, alpha: float = 1.0, sx: float = 1.0, sy: float = 1.0,
                  tint: np.ndarray | None = None, mix: float = 0.0) -> None:
    """Like synth_video.paint, but filled with ``tex`` (its centre on the shape's, ``base_radius``
    px of the texture = ``radius`` px on the canvas, turning and stretching with the shape),
    mixed by ``mix`` towards ``tint``."""
    cover = None if alpha <= 0 else sv.shape_cover(shape, cx, cy, radius, *canvas.shape[:2], angle, sx, sy)
    if cover is None:
        return
    (y0, y1, x0, x1), u, v, a = cover
    a = (a * alpha)[..., None]
    k = base_radius / radius
    mid = (tex.shape[0] - 1) / 2
    colour = _bilinear_at(tex, mid + v * k, mid + u * k)
    if tint is not None and mix:
        colour = colour + (np.asarray(tint, np.float32) - colour) * mix
    region = canvas[y0:y1, x0:x1]
    region += (colour - region) * a


@dataclass
class Sprite:
    """A textured shape with a soft drop shadow."""

    shape: sv.Shape
    radius: float
    tex: np.ndarray
    shadow: float

    def draw(self, canvas: np.ndarray, x: float, y: float, angle: float = 0.0, alpha: float = 1.0, sx: float = 1.0,
             sy: float = 1.0, scale: float = 1.0, tint: np.ndarray | None = None, mix: float = 0.0) -> None:
        """Paint it centred at (x, y)."""
        r = self.radius * scale
        if self.shadow > 0:
            sv.paint(canvas, self.shape, x + 0.12 * r, y + 0.2 * r, r * 1.02, np.zeros(3, np.float32), angle,
                     alpha * self.shadow, sx, sy)
        paint_texture(canvas, self.shape, x, y, r, self.tex, self.radius, angle, alpha, sx, sy, tint, mix)


def sprite(rng: np.random.Generator, banks: Banks, radius: float, under: np.ndarray | None,
           shape: sv.Shape | None = None, stretch: float = 1.6) -> Sprite:
    """A random shape of ``radius`` px textured from a train picture, contrasting with ``under``."""
    shape = shape or sv.random_shape(rng)
    n = int(math.ceil(2 * sv._reach(shape) * radius * stretch * max(shape.aspect, 1 / shape.aspect))) + 5
    return Sprite(shape, float(radius), texture(rng, banks, n, under),
                  float(rng.uniform(0.2, 0.45)) if rng.random() < 0.7 else 0.0)


@dataclass(frozen=True)
class Rect(sv.Shape):
    """A rounded rectangle (a superellipse) whose sides lie along its own axes, so ``aspect``
    makes it wide or tall."""

    sides: int = 4

    def profile(self, theta: np.ndarray) -> np.ndarray:
        """Radius in direction ``theta``."""
        c, s = np.abs(np.cos(theta)), np.abs(np.sin(theta))
        return 0.9 / (c ** 6 + s ** 6) ** (1 / 6)


def rect(rng: np.random.Generator, half_w: float, half_h: float) -> tuple[Rect, float]:
    """A Rect and the radius that give it those half sides."""
    return Rect(aspect=float(math.sqrt(half_w / half_h))), float(math.sqrt(half_w * half_h) / 0.9)


def _far_corner(colour: np.ndarray) -> np.ndarray:
    corners = np.array([[0, 0, 0], [255, 255, 255]], np.float32)
    return corners[np.argmax(np.linalg.norm(corners - colour, axis=1))]


# --- camera and sensor ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Camera:
    """A camera over a canvas ``margin`` px larger than the frame on every side: a slow pan, a
    slow zoom (1 .. 1.1), a hand-held shake (a few sinusoids up to 3 Hz). Smooth: no jolts."""

    height: int
    width: int
    margin: int
    duration: float
    pan: tuple[float, float]
    zoom: tuple[float, float]
    shake: tuple[tuple[float, float, float, float, float], ...]   # amp y, amp x (px), Hz, phase y, phase x

    def view(self, t: float) -> tuple[float, float, float]:
        """Canvas (row, col) of the frame's centre and the zoom at time ``t``."""
        u = min(max(t / max(self.duration, 1e-6), 0.0), 1.0)
        smooth = u * u * (3 - 2 * u)
        oy, ox = self.pan[0] * (u - 0.5), self.pan[1] * (u - 0.5)
        for ay, ax, f, py, px in self.shake:
            oy += ay * math.sin(2 * math.pi * f * t + py)
            ox += ax * math.sin(2 * math.pi * f * 0.83 * t + px)
        lim = self.margin - 1.5
        oy, ox = min(max(oy, -lim), lim), min(max(ox, -lim), lim)
        z = self.zoom[0] + (self.zoom[1] - self.zoom[0]) * smooth
        return self.margin + (self.height - 1) / 2 + oy, self.margin + (self.width - 1) / 2 + ox, z

    def shoot(self, canvas: np.ndarray, t: float) -> np.ndarray:
        """The (height, width, 3) frame the camera sees of ``canvas`` at ``t``."""
        cy, cx, z = self.view(t)
        rows = cy + (np.arange(self.height) - (self.height - 1) / 2) / z
        cols = cx + (np.arange(self.width) - (self.width - 1) / 2) / z
        return _bilinear_grid(canvas, rows, cols)

    def to_canvas(self, fy: float, fx: float, t: float) -> tuple[float, float]:
        """Canvas (row, col) of the frame point at fractions (fy, fx) at time ``t``."""
        cy, cx, z = self.view(t)
        return (cy + (fy * self.height - 0.5 - (self.height - 1) / 2) / z,
                cx + (fx * self.width - 0.5 - (self.width - 1) / 2) / z)

    def frame_box(self, box: tuple[float, float, float, float], t: float) -> list[float]:
        """A canvas box (x0, y0, x1, y1) as fractions of the frame at ``t`` (clipped to it)."""
        cy, cx, z = self.view(t)
        x0, y0, x1, y1 = box
        fx = [((x - cx) * z + (self.width - 1) / 2 + 0.5) / self.width for x in (x0, x1)]
        fy = [((y - cy) * z + (self.height - 1) / 2 + 0.5) / self.height for y in (y0, y1)]
        return [round(float(np.clip(v, 0, 1)), 4) for v in (fx[0], fy[0], fx[1], fy[1])]


def random_camera(rng: np.random.Generator, h: int, w: int, duration: float) -> Camera:
    """Still (20 %) or panning up to 5 % of the frame, zooming by up to 10 %, shaking up to 0.8 %."""
    s = min(h, w)
    margin = int(math.ceil(0.08 * s)) + 2
    if rng.random() < 0.2:
        return Camera(h, w, margin, duration, (0.0, 0.0), (1.0, 1.0), ())
    pan = tuple(float(v) for v in rng.uniform(-0.05, 0.05, 2) * s)
    z0 = float(rng.uniform(1.0, 1.05))
    zoom = (z0, float(np.clip(z0 + rng.uniform(-0.05, 0.05), 1.0, 1.1))) if rng.random() < 0.6 else (z0, z0)
    shake = tuple((float(rng.uniform(0, 0.008) * s), float(rng.uniform(0, 0.008) * s), float(rng.uniform(0.2, 3.0)),
                   float(rng.uniform(0, 6.3)), float(rng.uniform(0, 6.3))) for _ in range(int(rng.integers(0, 4))))
    return Camera(h, w, margin, duration, pan, zoom, shake)


@dataclass(frozen=True)
class Sensor:
    """Lens blur, a vignette, a slowly drifting exposure, an offset and per-frame noise."""

    blur: float
    noise: float
    gain: float
    drift: tuple[float, float, float]      # relative amplitude, Hz, phase
    bias: float
    vignette: float

    def gain_at(self, t: float) -> float:
        """Exposure gain at ``t`` (smooth)."""
        a, f, p = self.drift
        return self.gain * (1 + a * math.sin(2 * math.pi * f * t + p))

    def apply(self, frame: np.ndarray, t: float, noise: np.ndarray | None, mask: np.ndarray | None) -> np.ndarray:
        """The recorded uint8 frame."""
        if self.blur > 0.3:
            frame = ndimage.gaussian_filter(frame, (self.blur, self.blur, 0), truncate=2.5)
        frame = frame * self.gain_at(t) + self.bias
        if mask is not None:
            frame = frame * mask
        if self.noise > 0 and noise is not None:
            frame = frame + noise * self.noise
        return np.clip(frame + 0.5, 0, 255).astype(np.uint8)


def random_sensor(rng: np.random.Generator, size: int) -> Sensor:
    """Blur (40 %), noise up to 5 levels (80 %), a gain drifting by up to 12 %, a vignette (50 %)."""
    blur = float(rng.uniform(0.3, 1.2) * size / 128) if rng.random() < 0.4 else 0.0
    noise = float(rng.uniform(0.5, 5)) if rng.random() < 0.8 else 0.0
    drift = (float(rng.uniform(0, 0.12)), float(rng.uniform(0.05, 0.3)), float(rng.uniform(0, 6.3)))
    vignette = float(rng.uniform(0.1, 0.4)) if rng.random() < 0.5 else 0.0
    return Sensor(blur, noise, float(rng.uniform(0.8, 1.15)), drift, float(rng.uniform(-12, 12)), vignette)


# --- things in the scene: each has state(t) (what is drawn) and draw(canvas, t) -------------------

@dataclass
class Mover:
    """A silent distractor: a textured thing on a smooth Lissajous path, turning, pulsing a little."""

    sprite: Sprite
    centre: tuple[float, float]
    amp: tuple[float, float]
    freq: tuple[float, float]
    phase: tuple[float, float, float]
    spin: float
    silent: bool = True

    def state(self, t: float) -> np.ndarray:
        """x, y, scale, angle at ``t`` (a smooth function of t)."""
        x = self.centre[0] + self.amp[0] * math.sin(2 * math.pi * self.freq[0] * t + self.phase[0])
        y = self.centre[1] + self.amp[1] * math.sin(2 * math.pi * self.freq[1] * t + self.phase[1])
        return np.array([x, y, 1 + 0.1 * math.sin(2 * math.pi * 0.2 * t + self.phase[2]), self.spin * t])

    def draw(self, canvas: np.ndarray, t: float) -> None:
        """Paint it at ``t``."""
        x, y, scale, angle = self.state(t)
        self.sprite.draw(canvas, x, y, angle, scale=scale)


def random_mover(rng: np.random.Generator, banks: Banks, ch: int, cw: int, s: int) -> Mover:
    """A distractor somewhere on the (ch, cw) canvas, at most 0.3 frame heights a second."""
    radius = s * rng.uniform(0.04, 0.14)
    amp = tuple(float(a) for a in rng.uniform(0.02, 0.3, 2) * s)
    freq = tuple(float(min(rng.uniform(0.05, 0.5), 0.3 * s / (2 * math.pi * a))) for a in amp)
    return Mover(sprite(rng, banks, radius, None), (float(rng.uniform(0, cw)), float(rng.uniform(0, ch))), amp, freq,
                 tuple(float(p) for p in rng.uniform(0, 2 * math.pi, 3)), float(rng.uniform(-1.0, 1.0)))


@dataclass
class Prop:
    """The object of one visual event at ``t``: still before and after; at ``t`` it flashes,
    appears, disappears, is pressed down (a key: it sinks and lights up or shades), or is hit by a
    striker (dents, lights up, recoils)."""

    visual: str
    t: float                          # the sound's onset (s)
    t_frame: float                    # the first frame showing an instant change
    sprite: Sprite
    cx: float
    cy: float
    angle: float
    tint: np.ndarray                  # what a flash / hit / press mixes towards
    decay: float
    direction: tuple[float, float]    # unit vector from the object to the striker
    reach: float
    lead: float
    striker: Sprite | None = None
    base: Sprite | None = None        # a key's socket

    def _striker_pos(self, t: float) -> tuple[float, float]:
        d = sv.strike_distance(t - self.t, self.lead, self.reach)
        gap = self.sprite.radius * 1.5 + (self.striker.radius if self.striker else 0) * 0.8 + d
        return self.cx + self.direction[0] * gap, self.cy + self.direction[1] * gap

    def state(self, t: float) -> np.ndarray:
        """x, y, alpha, sx, sy, mix, striker x, y at ``t``."""
        tau, tau_f = t - self.t, t - self.t_frame
        x, y, alpha, sx, sy, mix = self.cx, self.cy, 1.0, 1.0, 1.0, 0.0
        if self.visual == "flash" and tau_f >= 0:
            mix = 0.85 * math.exp(-tau_f / self.decay)
        elif self.visual == "appear":
            alpha = float(tau_f >= 0)
            if tau_f >= 0:
                sx = sy = 1 + 0.25 * math.exp(-tau_f / 0.05)
        elif self.visual == "disappear":
            alpha = float(tau_f < 0)
        elif self.visual == "press" and tau_f >= 0:
            p = math.exp(-(tau_f / self.decay) ** 2)               # down at once, back up smoothly
            y, mix, sy = y + 0.25 * self.sprite.radius * p, 0.6 * p, 1 - 0.15 * p
        elif self.visual == "hit" and tau >= 0:
            e = math.exp(-tau / self.decay)
            sx, sy, mix = 1 + 0.3 * e, 1 - 0.35 * e, 0.5 * e
            x -= self.direction[0] * 0.25 * self.sprite.radius * e
            y -= self.direction[1] * 0.25 * self.sprite.radius * e
        px, py = self._striker_pos(t) if self.striker is not None else (0.0, 0.0)
        return np.array([x, y, alpha, sx, sy, mix, px, py], np.float64)

    def draw(self, canvas: np.ndarray, t: float) -> None:
        """Paint it (and its striker or socket) at ``t``."""
        x, y, alpha, sx, sy, mix, px, py = self.state(t)
        if self.base is not None:
            self.base.draw(canvas, self.cx, self.cy + 0.2 * self.sprite.radius, self.angle)
        angle = math.atan2(self.direction[1], self.direction[0]) if self.visual == "hit" else self.angle
        self.sprite.draw(canvas, x, y, angle, alpha, sx, sy, tint=self.tint, mix=mix)
        if self.striker is not None:
            self.striker.draw(canvas, px, py)

    def box(self) -> tuple[float, float, float, float]:
        """Canvas box (x0, y0, x1, y1) of the pixels the event changes."""
        e = self.sprite.radius * (1.4 if self.visual == "press" else 1.7) * sv._reach(self.sprite.shape)
        xs, ys = [self.cx - e, self.cx + e], [self.cy - e, self.cy + e]
        if self.striker is not None:
            px, py = self._striker_pos(self.t + 1.0)
            e2 = self.striker.radius * 1.3 * sv._reach(self.striker.shape)
            xs += [px - e2, px + e2]
            ys += [py - e2, py + e2]
        return min(xs), min(ys), max(xs), max(ys)


@dataclass
class Bouncer:
    """A ball falling in from above the canvas onto a slab, bouncing (each contact a listed event)
    and coming to rest at its last contact; the ball squashes and the slab lights up at each."""

    contacts: tuple[float, ...]
    fps: float
    x0: float
    vx: float
    floor: float                      # canvas row of the slab's top
    gravity: float                    # px / s^2
    ball: Sprite
    slab: Sprite
    slab_x: float
    slab_h: float                     # half height of the slab
    tint: np.ndarray

    def _x(self, t: float) -> float:
        return self.x0 + self.vx * (min(max(t, self.contacts[0] - 2.0), self.contacts[-1]) - self.contacts[0])

    def state(self, t: float) -> np.ndarray:
        """Ball x, y, squash and the slab's glow at ``t``."""
        c, r = self.contacts, self.ball.radius
        i = int(np.searchsorted(c, t, side="right")) - 1
        if i < 0:
            lift = 0.5 * self.gravity * (c[0] - t) ** 2
        elif i >= len(c) - 1:
            lift = 0.0
        else:
            lift = 0.5 * self.gravity * (t - c[i]) * (c[i + 1] - t)
        squash = 0.35 * math.exp(-(t - c[i]) / 0.04) if i >= 0 else 0.0
        shown = [round(x * self.fps) / self.fps for x in c]
        j = int(np.searchsorted(shown, t + 1e-9, side="right")) - 1
        glow = 0.6 * math.exp(-(t - shown[j]) / 0.08) if j >= 0 else 0.0
        return np.array([self._x(t), self.floor - r * (1 - squash) - lift, squash, glow])

    def draw(self, canvas: np.ndarray, t: float) -> None:
        """Paint the slab and the ball at ``t``."""
        x, y, squash, glow = self.state(t)
        self.slab.draw(canvas, self.slab_x, self.floor + self.slab_h, tint=self.tint, mix=glow)
        if y > -3 * self.ball.radius:
            self.ball.draw(canvas, x, y, sx=1 + squash, sy=1 - squash)

    def box(self, t: float) -> tuple[float, float, float, float]:
        """Canvas box of the ball at its contact at ``t`` and the slab under it."""
        x, e = self._x(t), self.ball.radius * 2.4
        return x - e, self.floor - 2.6 * self.ball.radius, x + e, self.floor + 2.2 * self.slab_h


@dataclass
class Creature:
    """A textured head with eyes and a mouth that opens at each utterance's onset and then follows
    the loudness of its own sound (50 ms RMS), closing when it ends."""

    head: Sprite
    cx: float
    cy: float
    sway: tuple[float, float, float]  # px, Hz, phase
    opening: np.ndarray               # per frame, 0..1 (filled in once the sounds are placed)
    fps: float
    lips: np.ndarray
    inside: np.ndarray
    utterances: list[tuple[float, float]] = field(default_factory=list)   # (onset, seconds)

    def mouth_centre(self, t: float) -> tuple[float, float]:
        """Canvas position of the mouth at ``t``."""
        dx = self.sway[0] * math.sin(2 * math.pi * self.sway[1] * t + self.sway[2])
        dy = 0.5 * self.sway[0] * math.sin(2 * math.pi * self.sway[1] * 0.7 * t)
        return self.cx + dx, self.cy + dy + 0.42 * self.head.radius

    def state(self, t: float) -> np.ndarray:
        """Mouth x, y and opening at ``t``."""
        k = min(max(int(round(t * self.fps)), 0), len(self.opening) - 1)
        return np.array([*self.mouth_centre(t), float(self.opening[k])])

    def draw(self, canvas: np.ndarray, t: float) -> None:
        """Paint the head, eyes and mouth at ``t``."""
        mx, my, o = self.state(t)
        r = self.head.radius
        hx, hy = mx, my - 0.42 * r
        self.head.draw(canvas, hx, hy)
        eye = sv.Shape()
        for side in (-1, 1):
            sv.paint(canvas, eye, hx + side * 0.33 * r, hy - 0.18 * r, 0.13 * r, np.full(3, 235, np.float32))
            sv.paint(canvas, eye, hx + side * 0.33 * r, hy - 0.16 * r, 0.07 * r, np.full(3, 20, np.float32))
        mw = 0.36 * r
        sv.paint(canvas, eye, mx, my, mw, self.lips, sx=1.0 - 0.15 * o, sy=0.22 + 0.75 * o)
        sv.paint(canvas, eye, mx, my, mw * 0.8, self.inside, sx=1.0 - 0.15 * o, sy=0.02 + 0.72 * o)

    def box(self) -> tuple[float, float, float, float]:
        """Canvas box of the mouth, widened by the sway."""
        mx, my = self.cx, self.cy + 0.42 * self.head.radius
        e = 0.45 * self.head.radius + self.sway[0]
        return mx - e, my - e, mx + e, my + e


# --- the scene ------------------------------------------------------------------------------------

@dataclass
class RealScene:
    """A ``real`` clip's picture: background shots (a hard cut starts each but the first), layers
    drawn in order, the camera and the sensor. ``stems`` keeps each listed sound as placed (for
    inspection): event index -> (first sample, samples)."""

    cfg: SynthConfig
    height: int
    width: int
    shots: list[tuple[float, np.ndarray]]      # (start time, canvas background)
    sources: list[str]
    camera: Camera
    sensor: Sensor
    layers: list[Any] = field(default_factory=list)
    stems: dict[int, tuple[int, np.ndarray]] = field(default_factory=dict)
    bed: np.ndarray | None = None

    @property
    def cuts(self) -> list[float]:
        """Times of the hard cuts (the first frame of each new shot)."""
        return [t for t, _ in self.shots[1:]]

    def backdrop_at(self, t: float) -> np.ndarray:
        """The background shot shown at ``t``."""
        k = max(i for i, (start, _) in enumerate(self.shots) if start <= t + 1e-9)
        return self.shots[k][1]

    def colour_under(self, x: float, y: float, t: float, r: float) -> np.ndarray:
        """Mean background colour around canvas (x, y) within ``r`` px at ``t``."""
        bg = self.backdrop_at(t)
        y0, y1 = int(max(y - r, 0)), int(min(y + r + 1, bg.shape[0]))
        x0, x1 = int(max(x - r, 0)), int(min(x + r + 1, bg.shape[1]))
        return bg[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)].reshape(-1, 3).mean(0)

    def render_frame(self, t: float, noise: np.ndarray | None = None, mask: np.ndarray | None = None) -> np.ndarray:
        """The frame at ``t``, uint8 (H, W, 3)."""
        canvas = self.backdrop_at(t).copy()
        for layer in self.layers:
            layer.draw(canvas, t)
        return self.sensor.apply(self.camera.shoot(canvas, t), t, noise, mask)

    def render(self, rng: np.random.Generator) -> np.ndarray:
        """All frames, uint8 (T, H, W, 3), with fresh sensor noise from ``rng``."""
        cfg, h, w = self.cfg, self.height, self.width
        frames = np.empty((cfg.num_frames, h, w, 3), np.uint8)
        bank = sv.NoiseBank(rng, h, w) if self.sensor.noise > 0 else None
        mask = None
        if self.sensor.vignette:
            yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
            d2 = ((yy - (h - 1) / 2) / (h / 2)) ** 2 + ((xx - (w - 1) / 2) / (w / 2)) ** 2
            mask = (1 - self.sensor.vignette * d2 / 2)[..., None].astype(np.float32)
        for k in range(cfg.num_frames):
            frames[k] = self.render_frame(k / cfg.fps, None if bank is None else bank.next(), mask)
        return frames


# --- sounds ---------------------------------------------------------------------------------------

@dataclass
class Take:
    """A recording cut for one event: ``wave`` starts ``pre`` samples before its onset."""

    rec: Recording
    onset: Onset
    wave: np.ndarray
    pre: int

    @property
    def dur(self) -> float:
        """Seconds from the onset to the end."""
        return (len(self.wave) - self.pre) / self.rec.sr


def _cut(rec: Recording, onset: Onset, max_sec: float) -> Take:
    sr = rec.sr
    pre = min(onset.sample, int(0.005 * sr))
    length = min(onset.end - onset.sample + int(0.02 * sr), int(max_sec * sr), len(rec.wave) - onset.sample)
    wave = rec.wave[onset.sample - pre:onset.sample + length].astype(np.float32).copy()
    if pre:
        wave[:pre] *= sa._ramp(pre)
    tail = min(int(0.015 * sr), length // 3)
    if tail:
        wave[len(wave) - tail:] *= sa._ramp(tail)[::-1]
    head = wave[pre:pre + int(0.05 * sr)]
    wave /= max(float(np.sqrt(np.mean(head ** 2))), 1e-9)
    return Take(rec, onset, wave, pre)


def shorten(take: Take, max_sec: float) -> Take:
    """The same take ending after ``max_sec`` s (15 ms fade)."""
    n = take.pre + max(int(max_sec * take.rec.sr), 1)
    if n >= len(take.wave):
        return take
    wave = take.wave[:n].copy()
    tail = min(int(0.015 * take.rec.sr), (n - take.pre) // 3)
    if tail:
        wave[n - tail:] *= sa._ramp(tail)[::-1]
    return Take(take.rec, take.onset, wave, take.pre)


def pick_sound(rng: np.random.Generator, banks: Banks, visual: str | None, sr: int) -> Take:
    """A recording for ``visual`` (see SOUNDS_FOR) with a sharp onset, cut at its onset."""
    wanted = banks.categories(SOUNDS_FOR[visual]) or banks.categories(EVENT_CATEGORIES)
    max_sec = MAX_MOUTH_SEC if visual == "mouth" else MAX_SOUND_SEC
    for attempt in range(40):
        pool = wanted if attempt < 30 else banks.categories(EVENT_CATEGORIES)
        samples = banks.by_category[pool[int(rng.integers(len(pool)))]]
        sample = samples[int(rng.integers(len(samples)))]
        if visual == "mouth" and NOT_FROM_A_MOUTH.search(sample.path):
            continue
        rec = banks.recording(sample, sr)
        if rec is None or not rec.starts:
            continue
        onset = rec.starts[int(rng.integers(len(rec.starts)))]
        if (onset.rise <= MAX_RISE_SEC * sr and onset.attack <= MAX_ATTACK_SEC * sr
                and onset.end - onset.sample >= 0.01 * sr):
            return _cut(rec, onset, max_sec)
    raise UsageError(f"the audio bank of {banks.root} has no recording with a sharp onset for {visual or 'a sound'}")


def bed(rng: np.random.Generator, banks: Banks, n: int, sr: int) -> tuple[np.ndarray, list[str]]:
    """What plays under everything, unit RMS: room tone, plus music (45 %) and ambience (50 %)
    from the bank at random gains, looped from a random point."""
    x = sa.ambience(rng, n, sr) * 10 ** (rng.uniform(-12, 0) / 20)
    used = []
    for category, p, gain in (("music", 0.45, (-2, 8)), ("ambience", 0.5, (-4, 6))):
        if rng.random() >= p or not banks.by_category.get(category):
            continue
        samples = banks.by_category[category]
        rec = banks.recording(samples[int(rng.integers(len(samples)))], sr)
        if rec is None or float(np.sqrt(np.mean(rec.wave ** 2))) < 1e-5:
            continue
        part = loop_to(rec.wave, n, int(rng.integers(len(rec.wave))), sr)
        part /= max(float(np.sqrt(np.mean(part ** 2))), 1e-9)
        x = x + part * 10 ** (rng.uniform(*gain) / 20)
        used.append(rec.rel)
    return (x / max(float(np.sqrt(np.mean(x ** 2))), 1e-9)).astype(np.float32), used


class Timeline:
    """Sound occupancy: each listed sound holds [onset - PRE_QUIET, end]; no two overlap."""

    def __init__(self, duration: float) -> None:
        self.duration = duration
        self.busy: list[tuple[float, float]] = []

    def free(self, t: float, dur: float) -> bool:
        """Whether a sound of ``dur`` s may start at ``t``."""
        lo, hi = t - PRE_QUIET, t + dur + 0.02
        return all(hi <= a or lo >= b for a, b in self.busy)

    def take(self, t: float, dur: float) -> None:
        """Hold it."""
        self.busy.append((t - PRE_QUIET, t + dur + 0.02))


def _time(rng: np.random.Generator, lo: float, hi: float, ok: Any, tries: int = 200) -> float | None:
    for _ in range(tries):
        t = float(rng.uniform(lo, hi))
        if ok(t):
            return t
    return None


# --- the kind -------------------------------------------------------------------------------------

def _on_sample(t: float, sr: int) -> tuple[int, float]:
    i = int(round(t * sr))
    return i, round(i / sr, 6)


def build(rng: np.random.Generator, cfg: SynthConfig) -> tuple[RealScene, np.ndarray, list[dict[str, Any]]]:
    """Draw one ``real`` clip: (scene, audio before levelling, events sorted by time)."""
    banks = load_banks(getattr(cfg, "real_dir", None))
    h, w = frame_shape(cfg)
    s, sr, fps, dur, n = min(h, w), cfg.sample_rate, cfg.fps, cfg.duration_sec, cfg.num_samples
    camera = random_camera(rng, h, w, dur)
    ch, cw = h + 2 * camera.margin + 1, w + 2 * camera.margin + 1
    first, src = background(rng, banks, ch, cw)
    scene = RealScene(cfg, h, w, [(0.0, first)], [src], camera, random_sensor(rng, s))
    timeline = Timeline(dur)
    events: list[dict[str, Any]] = []
    takes: list[tuple[int, Take, float]] = []       # (sample of the onset, take, gain)

    # cuts first (their times are then kept clear of sounds): another background, silently
    cut_times: list[float] = []
    for k in range(1 + int(dur >= 8)):
        if rng.random() < (getattr(cfg, "cuts", 0.4) if k == 0 else 0.3) and dur >= 3.0:
            t = _time(rng, 0.8, dur - 0.8, lambda t: all(abs(t - u) > 1.5 for u in cut_times))
            if t is not None:
                cut_times.append(round(t * fps) / fps)
    for t in sorted(cut_times):
        bg, src = background(rng, banks, ch, cw)
        scene.shots.append((t, bg))
        scene.sources.append(src)

    def clear_of_cuts(t: float) -> bool:
        return all(abs(t - c) >= CUT_GAP for c in cut_times)

    n_movers = int(rng.integers(1, cfg.distractors + 1)) if cfg.distractors else 0
    scene.layers += [random_mover(rng, banks, ch, cw, s) for _ in range(n_movers)]
    occupied: list[tuple[float, float, float, float]] = []           # canvas boxes of event objects

    def place_point(t: float, pad: float) -> tuple[float, float] | None:
        """A canvas point inside the frame at ``t`` (``pad`` px from its edges), clear of other objects."""
        for _ in range(60):
            fy = rng.uniform(min(pad / h, 0.45), max(1 - pad / h, 0.55))
            fx = rng.uniform(min(pad / w, 0.45), max(1 - pad / w, 0.55))
            y, x = camera.to_canvas(fy, fx, t)
            if all(x + pad < b[0] or x - pad > b[2] or y + pad < b[1] or y - pad > b[3] for b in occupied):
                return x, y
        return None

    def sound_event(t: float, take: Take, visual: str | None, box: list[float] | None) -> None:
        i, t = _on_sample(t, sr)
        takes.append((i, take, 10 ** ((cfg.snr_db + rng.uniform(-6, 6)) / 20)))   # level over the bed
        events.append({"t": t, "dur": round(take.dur, 4), "visual": visual, "sound": take.rec.sample.category,
                       "box": box, "file": take.rec.rel})

    wanted, made = int(rng.integers(cfg.min_events, cfg.max_events + 1)), 0
    for attempt in range(6 * wanted):
        if made == wanted:
            break
        if attempt == 3 * wanted and made < cfg.min_events and cut_times:   # no room: give up the cuts
            cut_times.clear()
            del scene.shots[1:], scene.sources[1:]
        visual = str(rng.choice(VISUALS, p=_WEIGHTS / _WEIGHTS.sum()))
        make = {"bounce": _bouncer, "mouth": _creature}.get(visual, _prop)
        made += make(rng, banks, scene, timeline, cfg, visual, place_point, occupied, clear_of_cuts, sound_event)
    if made < cfg.min_events:
        raise UsageError(f"{dur:g} s clips cannot hold {cfg.min_events} audio-visual events")
    visual_times = [e["t"] for e in events]

    for _ in range(int(rng.integers(0, cfg.unexplained + 1))):    # sounds without a visible cause
        take = pick_sound(rng, banks, None, sr)
        t = _time(rng, 0.3, dur - 0.4, lambda t, d=take.dur: timeline.free(t, d) and clear_of_cuts(t)
                  and all(abs(t - u) >= OFFSCREEN_GAP for u in visual_times))
        if t is None:
            continue
        timeline.take(t, take.dur)
        sound_event(t, take, None, None)

    # the sound track: the bed, then every listed sound with its onset on its listed time
    audio, _ = bed(rng, banks, n, sr)
    scene.bed = audio.copy()
    for k, (i, take, g) in enumerate(takes):
        start = i - take.pre
        wave = take.wave * g
        lo, hi = max(start, 0), min(start + len(wave), n)
        if hi > lo:
            audio[lo:hi] += wave[lo - start:hi - start]
        scene.stems[k] = (start, wave)
    for layer in scene.layers:
        if isinstance(layer, Creature):
            _open_mouth(layer, scene, events, cfg)
    listed = events + [{"t": round(t, 6), "dur": 0.0, "visual": "cut", "sound": None, "box": [0.0, 0.0, 1.0, 1.0],
                        "file": None} for t in cut_times]
    final = sorted(listed, key=lambda e: e["t"])
    where = {id(e): j for j, e in enumerate(final)}
    scene.stems = {where[id(events[k])]: v for k, v in scene.stems.items()}
    return scene, audio, final


def _prop(rng: np.random.Generator, banks: Banks, scene: RealScene, timeline: Timeline, cfg: SynthConfig, visual: str,
          place_point: Any, occupied: list, clear_of_cuts: Any, sound_event: Any) -> bool:
    s, sr, fps, dur = min(scene.height, scene.width), cfg.sample_rate, cfg.fps, cfg.duration_sec
    take = pick_sound(rng, banks, visual, sr)
    t = _time(rng, 0.4, dur - 0.6, lambda t: timeline.free(t, take.dur) and clear_of_cuts(t))
    if t is None:
        take = shorten(take, 0.25)
        t = _time(rng, 0.4, dur - 0.6, lambda t: timeline.free(t, take.dur) and clear_of_cuts(t))
    if t is None:
        return False
    t = _on_sample(t, sr)[1]
    radius = s * rng.uniform(0.045, 0.08) * cfg.object_scale
    reach = radius * rng.uniform(1.2, 2.2)
    pad = radius * 2.2 + (reach + radius * 1.5 if visual == "hit" else 0)
    at = place_point(t, pad)
    if at is None:
        return False
    cx, cy = at
    under = scene.colour_under(cx, cy, t, radius)
    shape = Rect(aspect=float(rng.uniform(0.85, 1.2))) if visual == "press" else None
    body = sprite(rng, banks, radius, under, shape)
    mean = body.tex.reshape(-1, 3).mean(0)
    a = rng.uniform(0, 2 * math.pi)
    direction = (math.cos(a), math.sin(a))
    striker = sprite(rng, banks, radius * rng.uniform(0.5, 0.8), under) if visual == "hit" else None
    base = None
    if visual == "press":
        base = Sprite(body.shape, radius * 1.25, np.clip(texture(rng, banks, body.tex.shape[0] + 8, None) * 0.4, 0, 255)
                      .astype(np.float32), 0.0)
    tint = _far_corner(mean)          # what a flash, a hit or a press (a lit or shaded key) mixes towards
    prop = Prop(visual, t, round(t * fps) / fps, body, float(cx), float(cy), float(rng.uniform(-0.4, 0.4)),
                tint, float(rng.uniform(0.06, 0.25) if visual != "press" else rng.uniform(0.06, 0.14)), direction,
                float(reach), float(rng.uniform(0.25, 0.6)), striker, base)
    scene.layers.append(prop)
    timeline.take(t, take.dur)
    box = prop.box()
    occupied.append(box)
    sound_event(t, take, visual, scene.camera.frame_box(box, t))
    return True


def _bouncer(rng: np.random.Generator, banks: Banks, scene: RealScene, timeline: Timeline, cfg: SynthConfig,
             visual: str, place_point: Any, occupied: list, clear_of_cuts: Any, sound_event: Any) -> bool:
    s, sr, fps, dur = min(scene.height, scene.width), cfg.sample_rate, cfg.fps, cfg.duration_sec
    gap0, rho = rng.uniform(0.55, 0.9), rng.uniform(0.6, 0.8)
    gaps = [gap0]
    while len(gaps) < 3 and gaps[-1] * rho >= 0.45:
        gaps.append(gaps[-1] * rho)
    if rng.random() < 0.3:
        gaps = gaps[:1]
    span = sum(gaps)
    sounds = [shorten(pick_sound(rng, banks, "bounce", sr), g - PRE_QUIET - 0.03) for g in gaps]
    sounds.append(pick_sound(rng, banks, "bounce", sr))          # the landing: the ball then rests

    def fits(t0: float) -> bool:
        ts = np.cumsum([t0] + gaps)
        return bool(ts[-1] <= dur - 0.5
                    and all(timeline.free(t, k.dur) and clear_of_cuts(t) for t, k in zip(ts, sounds)))

    t0 = _time(rng, 0.6, max(dur - 0.5 - span, 0.61), fits)
    if t0 is None:
        return False
    contacts = [_on_sample(float(t), sr)[1] for t in np.cumsum([t0] + gaps)]
    radius = s * rng.uniform(0.04, 0.07) * cfg.object_scale
    apex = s * rng.uniform(0.15, 0.35)
    vx = float(rng.uniform(-0.08, 0.08) * s)
    half_w, half_h = radius * 1.8 + abs(vx) * span / 2, radius * rng.uniform(0.4, 0.6)
    at = place_point(contacts[0], max(half_w, radius * 2.5) + 2)
    if at is None:
        return False
    mid, floor = at[0], at[1] + radius
    x0 = mid - vx * span / 2
    under = scene.colour_under(mid, floor, contacts[0], radius)
    ball = sprite(rng, banks, radius, under, sv.Shape(aspect=float(rng.uniform(0.9, 1.1))))
    shape, slab_r = rect(rng, half_w, half_h)
    slab = sprite(rng, banks, slab_r, under, shape, stretch=1.1)
    slab.shadow = 0.0
    bouncer = Bouncer(tuple(contacts), fps, float(x0), vx, float(floor), float(8 * apex / gap0 ** 2), ball, slab,
                      float(mid), float(half_h), _far_corner(slab.tex.reshape(-1, 3).mean(0)))
    scene.layers.append(bouncer)
    for t, take in zip(contacts, sounds):
        timeline.take(t, take.dur)
        sound_event(t, take, "bounce", scene.camera.frame_box(bouncer.box(t), t))
    occupied.append((mid - half_w - radius, floor - apex - 2 * radius, mid + half_w + radius, floor + 2 * half_h))
    return True


def _creature(rng: np.random.Generator, banks: Banks, scene: RealScene, timeline: Timeline, cfg: SynthConfig,
              visual: str, place_point: Any, occupied: list, clear_of_cuts: Any, sound_event: Any) -> bool:
    s, sr, fps, dur = min(scene.height, scene.width), cfg.sample_rate, cfg.fps, cfg.duration_sec
    utterances = []
    for _ in range(int(rng.integers(1, 3))):
        take = pick_sound(rng, banks, "mouth", sr)
        t = _time(rng, 0.4, dur - 0.6, lambda t, d=take.dur: timeline.free(t, d) and clear_of_cuts(t))
        if t is None:
            continue
        t = _on_sample(t, sr)[1]
        timeline.take(t, take.dur)
        utterances.append((t, take))
    if not utterances:
        return False
    radius = s * rng.uniform(0.11, 0.2) * cfg.object_scale
    at = place_point(utterances[0][0], radius * 1.5)
    if at is None:
        for t, take in utterances:
            timeline.busy.remove((t - PRE_QUIET, t + take.dur + 0.02))
        return False
    cx, cy = at[0], at[1] - 0.42 * radius
    under = scene.colour_under(cx, cy, utterances[0][0], radius)
    outline = sv.random_shape(rng) if rng.random() < 0.5 else sv.Shape(aspect=float(rng.uniform(0.85, 1.1)))
    head = sprite(rng, banks, radius, under, outline)
    if float(head.tex.mean()) < 120:              # a light face, so that the dark mouth shows on it
        head.tex = np.clip(head.tex * 0.5 + rng.uniform(120, 150), 0, 255).astype(np.float32)
    mean = head.tex.reshape(-1, 3).mean(0)
    lips = np.clip(mean * rng.uniform(0.4, 0.6) + np.array([50, 5, 5], np.float32), 0, 255).astype(np.float32)
    creature = Creature(head, float(cx), float(cy),
                        (float(rng.uniform(0, 0.02) * s), float(rng.uniform(0.1, 0.5)), float(rng.uniform(0, 6.3))),
                        np.zeros(cfg.num_frames, np.float32), fps, lips, np.array([25, 12, 12], np.float32))
    scene.layers.append(creature)
    box = creature.box()
    occupied.append((cx - radius * 1.3, cy - radius * 1.3, cx + radius * 1.3, cy + radius * 1.3))
    for t, take in utterances:
        sound_event(t, take, "mouth", scene.camera.frame_box(box, t))
    creature.utterances = [(t, take.dur) for t, take in utterances]
    return True


def _open_mouth(creature: Creature, scene: RealScene, events: list[dict[str, Any]], cfg: SynthConfig) -> None:
    """Fill in the creature's per-frame opening from its placed sounds: wide open at each onset's
    frame, then following the sound's 50 ms RMS (its 97th percentile = wide open), closing
    smoothly after its end."""
    sr, fps, n = cfg.sample_rate, cfg.fps, cfg.num_samples
    opening = np.zeros(cfg.num_frames, np.float32)
    win = max(int(0.05 * sr), 1)
    for t, d in creature.utterances:
        start, wave = _stem_for(scene, events, t)
        track = np.zeros(n, np.float32)
        lo, hi = max(start, 0), min(start + len(wave), n)
        track[lo:hi] = wave[lo - start:hi - start]
        loud = np.sqrt(np.maximum(np.convolve(track ** 2, np.ones(win) / win, "same"), 0))
        seg = loud[int(t * sr):int((t + d) * sr)]
        ref = max(float(np.percentile(seg, 97)) if len(seg) else 0.0, 1e-9)
        k0, k1 = int(round(t * fps)), min(int(math.ceil((t + d) * fps)), cfg.num_frames)
        o = 0.0
        for k in range(k0, k1):
            o = min(float(loud[min(int(k / fps * sr), n - 1)] / ref) ** 0.7, 1.0)
            o = max(o * 0.6, math.exp(-(k - k0) / fps / 0.12))
            opening[k] = max(opening[k], o)
        for k in range(k1, cfg.num_frames):      # then it closes smoothly
            opening[k] = max(opening[k], o * math.exp(-(k - k1 + 1) / fps / 0.06))
    creature.opening = opening


def _stem_for(scene: RealScene, events: list[dict[str, Any]], t: float) -> tuple[int, np.ndarray]:
    for k, e in enumerate(events):
        if e["t"] == t and e["visual"] == "mouth":
            return scene.stems[k]
    raise KeyError(t)
