"""Find the garment in a camera frame, on a small working copy: lighting model, shadows, candidate objects.

Steps, all at WORK_SIDE px (a 640x480 frame is box-averaged 4x: fast, and the noise averages out):

1. a smooth background: a quadratic surface fitted robustly to the border band, then to every pixel that looks like
   background, so a lighting gradient or vignette is divided out (`ratio` = pixel / background);
2. illumination regions: a hard cast shadow (or a patch of sun) is a region at a steady ratio, touching two sides of
   the frame or a good part of its edge; it gets its own level, filled under any garment lying in it (its convex
   hull), so the shadow edge is not taken for the garment and the garment in the shadow is measured against the
   shadow;
3. polarity: the object is whatever departs from the background most, darker (garment on paper) or lighter;
4. ink = how far each pixel is from its background towards the object's polarity; candidates are the connected
   blobs of ink above the noise floor, each grown by the sizeable blobs near it (a sandal's straps and sole),
   largest first, at most MAX_CANDIDATES; each carries the angle that would stand it upright.

No object above the noise floor, or one too small or too faint to be a garment, is the preprocessing's evidence of
"nothing in view" (`Scene.reason`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import cv2
import numpy as np

WORK_SIDE = 160  # the working copy's longest side
MIN_INK = 0.05  # Fashion-MNIST trimmed edges within 5% of the background colour; the same floor here
NOISE_FLOOR = 4.0  # ink must exceed this many noise sigmas
MAX_CANDIDATES = 2
MIN_SIDE_FRAC = 0.06  # an object whose longest side is below this fraction of the frame's shorter side is no garment
FAINT_FACTOR = 1.6  # ... nor one whose contrast is below this many times the ink threshold
SPAN_FRAC, MIN_FILL = 0.9, 0.15  # ... nor a thin line across the view: a shadow edge the lighting model missed
MAX_SHADOW_LINES = 4  # straight edges tried as shadow edges
MIN_SHADOW_STEP = 0.08  # a change of light smaller than this (log brightness, ~8%) is no shadow edge
MAX_UPRIGHT_ANGLE = 25.0  # rotations up to this are undone (Fashion-MNIST garments are upright)


@dataclass(frozen=True)
class Candidate:
    """One object: its box (x, y, w, h) in working pixels, ink mass (sum), contrast (ink-weighted mean ink: its
    strong parts count most), and the angle that uprights it."""

    box: tuple[int, int, int, int]
    mass: float
    contrast: float
    angle: float = 0.0


@dataclass
class Scene:
    """What the working copy says about a frame. `reason` is set when it holds no garment."""

    factor: float  # working pixels per frame pixel
    shape: tuple[int, int]  # the frame's (h, w)
    lighting: Lighting
    dark_object: bool
    noise: float  # background noise, relative to the background
    candidates: list[Candidate] = field(default_factory=list)
    reason: str | None = None

    def frame_box(self, candidate: Candidate, margin: int = 1) -> tuple[int, int, int, int]:
        """The candidate's box in frame pixels (x0, y0, x1, y1), `margin` working pixels wider for the rounding."""
        x, y, w, h = candidate.box
        fh, fw = self.shape
        x0, y0 = max(0, int((x - margin) / self.factor)), max(0, int((y - margin) / self.factor))
        x1 = min(fw, int(np.ceil((x + w + margin) / self.factor)))
        y1 = min(fh, int(np.ceil((y + h + margin) / self.factor)))
        return x0, y0, x1, y1


def downscale(gray_or_bgr: np.ndarray, side: int = WORK_SIDE) -> tuple[np.ndarray, float]:
    """A float32 gray copy whose longest side is at most `side`, box-averaged; and its scale factor."""
    h, w = gray_or_bgr.shape[:2]
    factor = min(1.0, side / max(h, w))
    small = gray_or_bgr
    if factor < 1.0:
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        if factor <= 0.5:  # halving with linear interpolation averages 2x2 exactly, and is much faster than area
            small = cv2.resize(small, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_LINEAR)
        small = cv2.resize(small, size, interpolation=cv2.INTER_AREA)
        factor = size[0] / w
    if small.ndim == 3:
        small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY if small.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    return small.astype(np.float32), factor


def _design(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Quadratic surface terms in coordinates normalised to [-1, 1], so the fit is independent of image size."""
    return np.stack([np.ones_like(u), u, v, u * u, u * v, v * v], axis=-1)


def _norm_coords(ys: np.ndarray, xs: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    return (xs + 0.5) / w * 2 - 1, (ys + 0.5) / h * 2 - 1


def _median(values: np.ndarray) -> float:
    """The (upper) median: one partition, without np.median's overhead (it matters at this size)."""
    k = values.size // 2
    return float(np.partition(values, k)[k]) if values.size else 0.0


@functools.lru_cache(maxsize=8)
def _fit_grid(h: int, w: int, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised coordinates (u, v) of the subsampled pixels of an h x w image, and which lie in the border band."""
    ys, xs = np.mgrid[0:h:stride, 0:w:stride]
    u, v = _norm_coords(ys.ravel().astype(np.float64), xs.ravel().astype(np.float64), h, w)
    b = max(1, round(min(ys.shape) * 0.08))
    band = np.zeros(ys.shape, dtype=bool)
    band[:b], band[-b:], band[:, :b], band[:, -b:] = True, True, True, True
    for a in (u, v, band):
        a.flags.writeable = False
    return u, v, band.ravel()


@dataclass(frozen=True)
class Lighting:
    """The background's brightness: log(background) = quadratic(u, v) + sum of steps across straight lines.

    (u, v) are coordinates normalised to [-1, 1] over the frame, so the model is independent of resolution. A step
    is a shadow edge (or the edge of a patch of sun): `lines` rows (a, b, c) put the step where a*u + b*v = c,
    `steps` are their sizes in log brightness (0: the line was a garment edge, not a shadow edge).
    """

    coef: np.ndarray  # 6 quadratic coefficients
    lines: np.ndarray  # (k, 3)
    steps: np.ndarray  # (k,)
    softness: float  # width of a step, in normalised units

    def at(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The background at normalised columns `u` and rows `v` (1-D): a (len(v), len(u)) float32 array."""
        c = self.coef.astype(np.float32)
        u, v = np.asarray(u, np.float32)[None, :], np.asarray(v, np.float32)[:, None]
        log_background = (c[0] + c[1] * u + c[3] * u * u) + (c[2] + c[5] * v) * v + c[4] * u * v
        for (a, b, off), step in zip(self.lines, self.steps, strict=True):
            if step:
                log_background = log_background + step * _step(a * u + b * v - off, self.softness)
        return np.exp(log_background)

    def over(self, h: int, w: int) -> np.ndarray:
        """The background over a whole h x w image."""
        u, v = _norm_coords(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), h, w)
        return self.at(u, v)


def _step(distance: np.ndarray, softness: float) -> np.ndarray:
    """0 on one side of a line, 1 on the other, a logistic ramp `softness` wide between."""
    return 1.0 / (1.0 + np.exp(np.clip(-distance / softness, -30.0, 30.0)))


def shadow_lines(work: np.ndarray) -> np.ndarray:
    """Long straight edges (candidate shadow edges) as rows (a, b, c), a*u + b*v = c in normalised coordinates."""
    h, w = work.shape
    edges = cv2.Canny(np.clip(work, 0, 255).astype(np.uint8), 20, 50)
    found = cv2.HoughLines(edges, 1, np.pi / 180, threshold=int(0.3 * min(h, w)))
    lines: list[tuple[float, float, float]] = []
    if found is None:
        return np.zeros((0, 3))
    ey, ex = np.nonzero(edges)
    for rho, theta in found.reshape(-1, 2)[: 4 * MAX_SHADOW_LINES]:  # strongest first
        # two points on the line, refined on the edge pixels near it (the Hough grid is 1 px and 1 degree)
        x1, y1 = rho * np.cos(theta), rho * np.sin(theta)
        x2, y2 = x1 - np.sin(theta), y1 + np.cos(theta)
        near = np.abs((ex - x1) * np.cos(theta) + (ey - y1) * np.sin(theta)) < 2.0
        if near.sum() >= 2:
            points = np.stack([ex[near], ey[near]], 1).astype(np.float32)
            vx, vy, px, py = cv2.fitLine(points, cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
            x1, y1, x2, y2 = float(px), float(py), float(px + vx), float(py + vy)
        (u1, u2), (v1, v2) = _norm_coords(np.array([y1, y2], float), np.array([x1, x2], float), h, w)
        a, b = -(v2 - v1), u2 - u1
        norm = float(np.hypot(a, b))
        if not norm > 1e-9:
            continue
        a, b = a / norm, b / norm
        c = a * u1 + b * v1
        if all(abs(a * la + b * lb) < 0.99 or abs(c - np.sign(a * la + b * lb) * lc) > 0.06 for la, lb, lc in lines):
            lines.append((a, b, c))  # a new line, not a near-copy of one found already
        if len(lines) == MAX_SHADOW_LINES:
            break
    return np.array(lines, dtype=np.float64).reshape(-1, 3)


def _solve_robust(a_all: np.ndarray, z_all: np.ndarray, band: np.ndarray, iterations: int) -> tuple[np.ndarray, float]:
    """Least squares of z on a's columns from the border band, then on every point within the noise (MAD sigma)."""
    ridge = 1e-4 * np.eye(a_all.shape[1])
    use = band
    coef, sigma = np.zeros(a_all.shape[1]), 0.05
    for step in range(iterations * 2):
        a = a_all[use]
        coef = np.linalg.solve(a.T @ a + ridge, a.T @ z_all[use])  # normal equations: small and fast
        residual = z_all - a_all @ coef
        sigma = 1.4826 * _median(np.abs(residual[use])) + 1e-3  # MAD: sigma for Gaussian noise
        # first half: refine within the band; second half: grow to all background-looking pixels
        use = (band if step < iterations - 1 else True) & (np.abs(residual) < max(3.0 * sigma, 0.01))
        if use.sum() < 12:  # everything is "object": keep the last good fit
            break
    return coef, sigma


def fit_lighting(work: np.ndarray, iterations: int = 2, stride: int = 3) -> tuple[Lighting, float]:
    """Fit the Lighting model to the background of `work` (float32 gray); also return the noise (relative sigma).

    In log brightness, so a shadow is an additive step and the fit is linear. Starts from the border band (where
    the background almost always is), then refits on every pixel whose residual is within the noise: the garment
    is never part of the fit, the lighting is. Fitted on every `stride`-th row and column (subsampled, not
    averaged, so the noise level stays that of `work`).
    """
    h, w = work.shape
    u, v, band = _fit_grid(h, w, stride)
    lines = shadow_lines(work)
    softness = 2.0 / max(h, w)  # about one working pixel
    columns = [_design(u, v)] + [_step(a * u + b * v - c, softness)[:, None] for a, b, c in lines]
    a_all = np.concatenate(columns, axis=1)
    z_all = np.log(np.maximum(work[::stride, ::stride].ravel().astype(np.float64), 1.0))
    coef, sigma = _solve_robust(a_all, z_all, band, iterations)
    keep = np.abs(coef[6:]) >= MIN_SHADOW_STEP  # the others are a garment's straight edges, not changes of light
    if not keep.all():  # refit without them, so they do not bend the surface
        kept = np.concatenate([np.ones(6, bool), keep])
        coef_kept, sigma = _solve_robust(a_all[:, kept], z_all, band, iterations)
        coef = np.zeros(a_all.shape[1])
        coef[kept] = coef_kept
    return Lighting(coef[:6], lines, coef[6:], softness), sigma


def ink(gray: np.ndarray, background: np.ndarray, dark_object: bool) -> np.ndarray:
    """0..1: how far each pixel is from the background, towards black (dark object) or white (light object)."""
    g = gray.astype(np.float32)
    if dark_object:
        return np.clip(1.0 - g / np.maximum(background, 1.0), 0.0, 1.0)
    return np.clip((g - background) / np.maximum(255.0 - background, 1.0), 0.0, 1.0)


_KERNEL3 = np.ones((3, 3), np.uint8)


def _upright_angle(points: np.ndarray) -> float:
    """Degrees to rotate a blob so its minimum-area rectangle is axis-aligned; 0 unless that is clearly tighter."""
    if len(points) < 5:
        return 0.0
    (_, _), (rw, rh), angle = cv2.minAreaRect(points)
    x, y, bw, bh = cv2.boundingRect(points)
    if rw * rh > 0.9 * bw * bh:
        return 0.0
    angle = ((angle + 45.0) % 90.0) - 45.0  # the rectangle's tilt, whichever side it calls its width
    return angle if abs(angle) <= MAX_UPRIGHT_ANGLE else 0.0


def find_candidates(ink_map: np.ndarray, threshold: float) -> list[Candidate]:
    """Blobs of ink above `threshold`, each grown by the sizeable blobs near it; the largest box first."""
    mask = cv2.morphologyEx((ink_map > threshold).astype(np.uint8), cv2.MORPH_CLOSE, _KERNEL3)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return []
    masses = np.bincount(labels.ravel(), weights=ink_map.ravel(), minlength=count)[1:]
    strong = np.bincount(labels.ravel(), weights=(ink_map * ink_map).ravel(), minlength=count)[1:]
    areas = stats[1:, cv2.CC_STAT_AREA]
    sizeable = np.flatnonzero(areas >= max(4, 0.02 * areas.max()))  # specks never seed nor join an object
    x0, y0 = stats[1:, cv2.CC_STAT_LEFT], stats[1:, cv2.CC_STAT_TOP]
    x1, y1 = x0 + stats[1:, cv2.CC_STAT_WIDTH], y0 + stats[1:, cv2.CC_STAT_HEIGHT]
    gap = 0.06 * max(mask.shape)
    free = np.zeros(len(areas), bool)
    free[sizeable] = True
    candidates: list[Candidate] = []
    first_area = 0
    while free.any() and len(candidates) < MAX_CANDIDATES:
        seed = int(np.flatnonzero(free)[np.argmax(areas[free])])
        if candidates and areas[seed] < 0.1 * first_area:
            break  # specks and bits: not a second object
        first_area = first_area or int(areas[seed])
        members = np.zeros_like(free)
        members[seed] = True
        box = [x0[seed], y0[seed], x1[seed], y1[seed]]
        while True:  # add every free blob within `gap` of the box, until none is left to add
            near = free & ~members & (x0 - gap <= box[2]) & (x1 + gap >= box[0]) & (y0 - gap <= box[3])
            near &= y1 + gap >= box[1]
            if not near.any():
                break
            members |= near
            box = [x0[members].min(), y0[members].min(), x1[members].max(), y1[members].max()]
        free &= ~members
        bx0, by0, bx1, by1 = (int(v) for v in box)
        region = np.concatenate([[False], members])[labels[by0:by1, bx0:bx1]]  # lookup: label -> member
        points = cv2.findNonZero(region[::2, ::2].astype(np.uint8))  # every other pixel: enough for the angle
        candidates.append(
            Candidate(
                (bx0, by0, bx1 - bx0, by1 - by0),
                float(masses[members].sum()),
                float(strong[members].sum() / max(masses[members].sum(), 1e-6)),
                _upright_angle(points) if points is not None else 0.0,
            )
        )
    # the garment is the object with the largest extent: a phone or a mug beside it is smaller, if darker
    return sorted(candidates, key=lambda c: c.box[2] * c.box[3], reverse=True)


def analyse(frame: np.ndarray, invert: str = "auto") -> Scene:
    """A gray or BGR uint8 frame -> its Scene: background, illumination, polarity, candidates (see module doc).

    `invert` on: the object is darker than its background; off: lighter; auto: whichever departs more."""
    small, factor = downscale(frame)
    work = cv2.GaussianBlur(small, (3, 3), 0)
    h, w = work.shape
    lighting, noise = fit_lighting(work)
    background = lighting.over(h, w)
    ratio = work / np.maximum(background, 1.0) - 1.0
    far = np.abs(ratio) > max(4.0 * noise, 0.03)
    dark_object = float(-ratio[far & (ratio < 0)].sum()) >= float(ratio[far & (ratio > 0)].sum())
    if invert != "auto":
        dark_object = invert == "on"
    ink_map = ink(work, background, dark_object)
    for (a, b, c), step in zip(lighting.lines, lighting.steps, strict=True):
        if step:  # the modelled edge is only as sharp and exact as a working pixel: ignore what is left along it
            u, v = _norm_coords(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), h, w)
            ink_map[np.abs(a * u[None, :] + b * v[:, None] - c) < 3.0 / min(h, w)] = 0.0
    if not dark_object:  # ink of a light object is relative to the headroom above the background
        level = _median(background[::4, ::4].ravel())
        noise = noise * level / max(255.0 - level, 1.0)
    scene = Scene(factor, frame.shape[:2], lighting, dark_object, noise)
    threshold = max(MIN_INK, NOISE_FLOOR * noise)
    scene.candidates = find_candidates(ink_map, threshold)
    scene.reason = _nothing_reason(scene, threshold, (h, w))
    return scene


def _nothing_reason(scene: Scene, threshold: float, shape: tuple[int, int]) -> str | None:
    """The preprocessing's evidence that the frame holds no garment, or None."""
    if not scene.candidates:
        return "no object found"
    best = scene.candidates[0]
    x, y, bw, bh = best.box
    if max(bw, bh) < MIN_SIDE_FRAC * min(shape):
        return "object too small"
    if best.contrast < FAINT_FACTOR * threshold:
        return "object too faint"
    if (bw >= SPAN_FRAC * shape[1] or bh >= SPAN_FRAC * shape[0]) and best.mass < MIN_FILL * bw * bh:
        return "only a line across the view (a shadow or light edge)"
    return None
