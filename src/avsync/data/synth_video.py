"""Drawing for the synthetic datasets: backgrounds, shapes, a moving camera and sensor effects.

Pictures are float32 (H, W, 3) arrays in 0..255 until the very end. Every length is given in
pixels by the caller, who scales it with the frame size, so the same scene description renders at
any size. Shapes are "polar" shapes: a radius profile r(theta) around a centre (ellipse, regular
polygon or a smooth blob), drawn with one pixel of anti-aliasing inside their bounding box only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

BACKGROUNDS = ("plain", "linear", "radial", "texture", "stripes", "checker")


@dataclass(frozen=True)
class Shape:
    """The outline of a shape: ``sides`` 0 for an ellipse/blob, >= 3 for a polygon; ``wobble`` the
    amplitudes of harmonics 2..4 of the radius (0 = clean outline); ``aspect`` width / height."""

    sides: int = 0
    wobble: tuple[float, float, float] = (0.0, 0.0, 0.0)
    phases: tuple[float, float, float] = (0.0, 0.0, 0.0)
    aspect: float = 1.0

    @property
    def reach(self) -> float:
        """The largest radius of the outline (for bounding boxes)."""
        return float(self.profile(np.linspace(0, 2 * math.pi, 361)).max()) if (self.sides or any(self.wobble)) else 1.0

    def profile(self, theta: np.ndarray) -> np.ndarray:
        """Radius of the outline in direction ``theta`` (radians), about 1 on average."""
        r = np.ones_like(theta)
        if self.sides >= 3:
            sector = 2 * math.pi / self.sides
            r = math.cos(math.pi / self.sides) / np.cos(np.mod(theta, sector) - sector / 2)
        for k, (a, p) in enumerate(zip(self.wobble, self.phases), start=2):
            if a:
                r = r * (1 + a * np.cos(k * theta + p))
        return r


_REACH: dict[Shape, float] = {}


def _reach(shape: Shape) -> float:
    if shape not in _REACH:
        _REACH[shape] = shape.reach
    return _REACH[shape]


def random_shape(rng: np.random.Generator) -> Shape:
    """An ellipse, a polygon or a blob with random proportions."""
    kind = rng.choice(["ellipse", "polygon", "blob"])
    aspect = float(np.exp(rng.uniform(-0.45, 0.45)))
    if kind == "ellipse":
        return Shape(aspect=aspect)
    phases = tuple(float(p) for p in rng.uniform(0, 2 * math.pi, 3))
    if kind == "polygon":
        return Shape(sides=int(rng.integers(3, 9)), phases=phases, aspect=aspect)
    wobble = tuple(float(a) for a in rng.uniform(0.0, 0.18, 3))
    return Shape(wobble=wobble, phases=phases, aspect=aspect)


def strike_distance(tau: float, lead: float, reach: float) -> float:
    """How far a striker is from its contact point ``tau`` s after the contact (< 0: before): at
    rest at ``reach`` until ``lead`` s before, then accelerating from rest (fastest at contact),
    then rebounding at once and settling at 0.4 ``reach``."""
    if tau < -lead:
        return reach
    if tau < 0:
        u = (tau + lead) / lead
        return reach * (1 - u * u)
    return 0.4 * reach * (1 - math.exp(-tau / 0.12))


def shape_cover(shape: Shape, cx: float, cy: float, radius: float, height: int, width: int, angle: float = 0.0,
                sx: float = 1.0, sy: float = 1.0) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray, np.ndarray] | None:
    """Where ``shape`` (centre (cx, cy) px, mean radius ``radius`` px, rotated by ``angle``, stretched
    by (sx, sy) along its own axes) covers a ``height`` x ``width`` canvas: the box (y0, y1, x0, x1),
    the shape's own coordinates (u, v) in it, and the antialiased coverage (0..1); None off canvas."""
    if radius <= 0:
        return None
    ax, ay = radius * sx * shape.aspect, radius * sy / shape.aspect
    ext = _reach(shape) * max(ax, ay) + 2
    x0, x1 = max(int(cx - ext), 0), min(int(cx + ext) + 2, width)
    y0, y1 = max(int(cy - ext), 0), min(int(cy + ext) + 2, height)
    if x0 >= x1 or y0 >= y1:
        return None
    dx = np.arange(x0, x1, dtype=np.float32)[None, :] - cx
    dy = np.arange(y0, y1, dtype=np.float32)[:, None] - cy
    c, s = math.cos(angle), math.sin(angle)
    u = (dx * c + dy * s) / (sx * shape.aspect)
    v = (dy * c - dx * s) * shape.aspect / sy
    rho = np.hypot(u, v)
    edge = radius * shape.profile(np.arctan2(v, u)) if (shape.sides or any(shape.wobble)) else radius
    return (y0, y1, x0, x1), u, v, np.clip(edge - rho + 0.5, 0.0, 1.0)


def paint(canvas: np.ndarray, shape: Shape, cx: float, cy: float, radius: float, colour: np.ndarray,
          angle: float = 0.0, alpha: float = 1.0, sx: float = 1.0, sy: float = 1.0) -> None:
    """Blend ``shape`` into ``canvas`` in place (placed as :func:`shape_cover` says), flat
    ``colour``, opacity ``alpha``."""
    cover = None if alpha <= 0 else shape_cover(shape, cx, cy, radius, *canvas.shape[:2], angle, sx, sy)
    if cover is None:
        return
    (y0, y1, x0, x1), _, _, a = cover
    region = canvas[y0:y1, x0:x1]
    region += (np.asarray(colour, np.float32) - region) * (a * alpha)[..., None]


@dataclass
class Stamp:
    """A shape drawn once (opacity map centred on its middle pixel), pasted anywhere at sub-pixel
    positions: for objects that only move."""

    alpha: np.ndarray
    colour: np.ndarray

    def paste(self, canvas: np.ndarray, cx: float, cy: float) -> None:
        """Blend the stamp into ``canvas`` in place with its centre at (cx, cy) px."""
        n = self.alpha.shape[0]
        top, left = cy - n // 2, cx - n // 2
        iy, ix = int(math.floor(top)), int(math.floor(left))
        a = crop_at(np.pad(self.alpha, ((1, 1), (1, 1))), 1 - (top - iy), 1 - (left - ix), n + 1, n + 1)
        h, w = canvas.shape[:2]
        y0, x0, y1, x1 = max(iy, 0), max(ix, 0), min(iy + n + 1, h), min(ix + n + 1, w)
        if y0 < y1 and x0 < x1:
            region = canvas[y0:y1, x0:x1]
            region += (self.colour - region) * a[y0 - iy:y1 - iy, x0 - ix:x1 - ix, None]


def stamp(shape: Shape, radius: float, colour: np.ndarray, angle: float = 0.0, sx: float = 1.0, sy: float = 1.0) -> Stamp:
    """Draw ``shape`` once into a Stamp (same arguments as paint)."""
    n = 2 * int(math.ceil(_reach(shape) * radius * max(sx, sy) * max(shape.aspect, 1 / shape.aspect))) + 5
    alpha = np.zeros((n, n, 1), np.float32)
    paint(alpha, shape, n // 2, n // 2, radius, np.ones(1, np.float32), angle, 1.0, sx, sy)
    return Stamp(alpha[..., 0], np.asarray(colour, np.float32))


def random_colour(rng: np.random.Generator, far_from: np.ndarray | None = None, min_dist: float = 110.0) -> np.ndarray:
    """A random RGB colour (0..255), at least ``min_dist`` away from ``far_from`` when given
    (falling back to the farthest corner of the colour cube)."""
    for _ in range(30):
        c = rng.uniform(0, 255, 3).astype(np.float32)
        if far_from is None or np.linalg.norm(c - far_from) >= min_dist:
            return c
    corners = np.array([[i, j, k] for i in (0, 255) for j in (0, 255) for k in (0, 255)], np.float32)
    return corners[np.argmax(np.linalg.norm(corners - far_from, axis=1))]


def _value_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    low = rng.uniform(-1, 1, (cells + 3, cells + 3)).astype(np.float32)
    up = ndimage.zoom(low, ((h + 2 * h // cells) / low.shape[0], (w + 2 * w // cells) / low.shape[1]), order=3)
    return up[h // cells: h // cells + h, w // cells: w // cells + w]


def background(rng: np.random.Generator, h: int, w: int, size: int) -> np.ndarray:
    """A random background (h, w, 3) float32: plain, linear or radial gradient, smooth texture,
    stripes or checker, often with a fine grain on top; ``size`` is the frame size its scales follow."""
    kind = rng.choice(BACKGROUNDS)
    c1, c2 = rng.uniform(0, 255, 3).astype(np.float32), rng.uniform(0, 255, 3).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) / size
    angle = rng.uniform(0, 2 * math.pi)
    along = xx * math.cos(angle) + yy * math.sin(angle)
    if kind == "plain":
        mix = np.zeros((h, w), np.float32)
    elif kind == "linear":
        mix = (along - along.min()) / max(float(np.ptp(along)), 1e-6)
    elif kind == "radial":
        cx, cy = rng.uniform(0, w / size), rng.uniform(0, h / size)
        mix = np.clip(np.hypot(xx - cx, yy - cy) / rng.uniform(0.4, 1.2), 0, 1)
    elif kind == "texture":
        mix = _value_noise(rng, h, w, int(rng.integers(2, 10))) * 0.5 + 0.5
    elif kind == "stripes":
        mix = 0.5 + 0.5 * np.sin(2 * math.pi * along * rng.uniform(2, 10))
        mix = np.clip(mix * rng.uniform(1, 4), 0, 1)
    else:
        across = -xx * math.sin(angle) + yy * math.cos(angle)
        f = rng.uniform(2, 8)
        mix = ((np.floor(along * f) + np.floor(across * f)) % 2).astype(np.float32)
        mix = ndimage.gaussian_filter(mix, max(size / 256, 0.5))
    img = c1 + (c2 - c1) * mix[..., None]
    if rng.random() < 0.6:
        grain = ndimage.gaussian_filter(rng.standard_normal((h, w)).astype(np.float32), rng.uniform(0.5, 2.5))
        img += grain[..., None] * rng.uniform(5, 40) / max(float(grain.std()), 1e-6) * 0.3
    return np.clip(img, 0, 255).astype(np.float32)


def crop_at(img: np.ndarray, y: float, x: float, h: int, w: int) -> np.ndarray:
    """The (h, w) window of ``img`` whose top-left corner is at the sub-pixel position (y, x)
    (bilinear), so slow camera motion stays smooth."""
    y0, x0 = int(math.floor(y)), int(math.floor(x))
    fy, fx = y - y0, x - x0
    a = img[y0:y0 + h + 1, x0:x0 + w + 1]
    rows = a[:h] * (1 - fy) + a[1:h + 1] * fy
    return rows[:, :w] * (1 - fx) + rows[:, 1:w + 1] * fx


@dataclass(frozen=True)
class Camera:
    """A smooth camera path over a canvas ``margin`` px larger than the frame on every side: a
    slow linear pan plus a hand-held sway (a few low-frequency sinusoids)."""

    margin: int
    pan: tuple[float, float]                 # px over the whole clip
    sway_amp: tuple[float, ...]              # px, one a sinusoid
    sway_freq: tuple[float, ...]             # Hz
    sway_phase: tuple[float, ...]

    def offset(self, t: float, duration: float) -> tuple[float, float]:
        """Top-left corner (y, x) of the frame window in canvas px at time ``t``."""
        u = t / max(duration, 1e-6) - 0.5
        y = self.margin + self.pan[0] * u
        x = self.margin + self.pan[1] * u
        for i, (a, f, p) in enumerate(zip(self.sway_amp, self.sway_freq, self.sway_phase)):
            if i % 2:
                x += a * math.sin(2 * math.pi * f * t + p)
            else:
                y += a * math.sin(2 * math.pi * f * t + p)
        lim = 2 * self.margin - 1
        return min(max(y, 0.0), lim), min(max(x, 0.0), lim)


def random_camera(rng: np.random.Generator, size: int, still: bool = False) -> Camera:
    """A camera for a ``size`` px frame: still, or panning up to 5 % and swaying up to 1.5 % of it."""
    margin = int(math.ceil(0.06 * size)) + 2
    if still or rng.random() < 0.3:
        return Camera(margin, (0.0, 0.0), (), (), ())
    pan = tuple(float(v) for v in rng.uniform(-0.05, 0.05, 2) * size)
    n = int(rng.integers(0, 5))
    amp = tuple(float(a) for a in rng.uniform(0, 0.015, n) * size)
    freq = tuple(float(f) for f in rng.uniform(0.1, 1.2, n))
    phase = tuple(float(p) for p in rng.uniform(0, 2 * math.pi, n))
    return Camera(margin, pan, amp, freq, phase)


@dataclass(frozen=True)
class Sensor:
    """What the lens and sensor do to every frame: blur, gain/offset, and per-frame noise."""

    blur: float = 0.0          # Gaussian sigma in px
    noise: float = 0.0         # noise std in 0..255 units
    gain: float = 1.0
    bias: float = 0.0

    def apply(self, frame: np.ndarray, noise: np.ndarray | None = None) -> np.ndarray:
        """The frame as the camera records it, uint8, plus ``noise`` (unit std, same shape) if given."""
        if self.blur > 0.3:
            frame = ndimage.gaussian_filter(frame, (self.blur, self.blur, 0), truncate=2.5)
        if self.gain != 1.0 or self.bias:
            frame = frame * self.gain + self.bias
        if self.noise > 0 and noise is not None:
            frame = frame + noise * self.noise
        return np.clip(frame + 0.5, 0, 255).astype(np.uint8)


class NoiseBank:
    """Per-frame sensor noise, cheaply: four noise images a little larger than the frame, each
    frame a randomly chosen one at a random shift."""

    def __init__(self, rng: np.random.Generator, h: int, w: int, pad: int = 32) -> None:
        self.rng, self.h, self.w, self.pad = rng, h, w, pad
        self.bank = rng.standard_normal((4, h + pad, w + pad, 3), dtype=np.float32)

    def next(self) -> np.ndarray:
        """Noise for the next frame, (h, w, 3), unit std."""
        k, dy, dx = self.rng.integers(0, (4, self.pad, self.pad))
        return self.bank[k, dy:dy + self.h, dx:dx + self.w]


def random_sensor(rng: np.random.Generator, size: int) -> Sensor:
    """Random blur (often none), noise (0..6 levels), and a mild gain/offset."""
    blur = float(rng.uniform(0.4, 1.2) * size / 128) if rng.random() < 0.35 else 0.0
    noise = float(rng.uniform(0, 6)) if rng.random() < 0.7 else 0.0
    return Sensor(blur, noise, float(rng.uniform(0.85, 1.1)), float(rng.uniform(-10, 10)))
