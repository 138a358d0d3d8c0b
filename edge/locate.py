"""Find the garment in a camera frame, on a small working copy: lighting model, shadows, candidate objects.

Steps, all at WORK_SIDE px (a 640x480 frame is box-averaged 4x: fast, and the noise averages out):

1. a smooth background: a quadratic surface in log brightness fitted robustly to the border band of a coarse grid
   (COARSE x COARSE working-pixel means), then to every cell that looks like background, so a lighting gradient or
   vignette is divided out (`ratio` = pixel / background);
2. illumination regions: only when the border, on two sides, holds a change of light the surface cannot follow (the
   evidence of a shadow edge, which crosses the frame), straight edges are searched for and fitted as steps: a hard
   cast shadow (or a patch of sun) gets its own level, filled under any garment lying in it, so the shadow edge is not
   taken for the garment and the garment in the shadow is measured against the shadow;
3. polarity: the object is whatever departs from the background most, darker (garment on paper) or lighter;
4. ink = how far each pixel is from its background towards the object's polarity; candidates are the connected
   blobs of ink above the noise floor, each grown by the sizeable blobs near it (a sandal's straps and sole),
   largest first, at most MAX_CANDIDATES; each carries the angle that would stand it upright.

Steps 1-4 make ~60 small numpy and OpenCV calls a frame, which cost more than their arithmetic: where a C compiler was
at install, edge/_kernels.c (`kernels.compiled`) does the frame's gray halved, the working copy's blur, the smooth
lighting fit with its cell means, the shadow steps' fit, the background, ink, noise and polarity, the candidates (their
blobs labelled, grown, measured and uprighted) and a crop's ink in one call each (`gray_half`, `_smooth`, `_fit_smooth`,
`_fit_steps`, `_background_ink`, `find_candidates`, `Scene.ink_of`: the numpy and OpenCV code here is their reference,
held to them by tests/test_edge_kernels.py).

No object above the noise floor, or one too small, too faint or too thin (a line: what is left of a shadow edge) to
be a garment, is the preprocessing's evidence of "nothing in view" (`Scene.reason`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import TypeVar

import cv2
import numpy as np

from ..errors import FashionEdgeError
from . import kernels

# (OpenCV calls on the per-frame path take their arguments by position: parsing keywords costs ~1 us a call, and a
# frame makes ~30 such calls)
WORK_SIDE = 160  # the working copy's longest side
MIN_INK = 0.05  # Fashion-MNIST trimmed edges within 5% of the background colour; the same floor here
NOISE_FLOOR = 4.0  # ink must exceed this many noise sigmas
MAX_CANDIDATES = 2
GROW_GAP = 0.03  # blobs this close (fraction of the working copy's longest side) are parts of one object: 0.06 merged a
# phone placed beside the garment into its crop (distractor -6.0 pp vs -3.3 at 0.03 on 300 frames, the rest equal)
MIN_SIDE_FRAC = 0.06  # an object whose longest side is below this fraction of the frame's shorter side is no garment
FAINT_FACTOR = 1.4  # ... nor one whose contrast is below this many times the ink threshold (1.6 turned away 3.2%
# of 250 low-contrast garments, 1.4 turns away 1.6%; what empty frames leave as ink stays below 1.3) ...
SHADOW_FAINT_FACTOR = 1.6  # ... or 1.6 when a shadow edge is modelled (its step a little off leaves ink along it:
# at 1.4, 6% of empty shadow frames were taken for garments)
SPAN_FRAC, MIN_FILL = 0.9, 0.15  # ... nor a thin line across the view: a shadow edge the lighting model missed
MIN_COVER = 0.08  # ... nor a sparse one: ink covering less of its box than this (garments 0.13+, edge residue <0.07)
MAX_SHADOW_LINES = 4  # straight edges tried as shadow edges
EDGE_RESIDUE = 4.0  # ink within about EDGE_RESIDUE / 2 working pixels of a modelled shadow edge is replaced by the
# lesser ink just beyond it on either side (a real penumbra is softer than the model's step): 3 left thin lines that
# joined the garment (shadow -4.4 pp, 4: -2.8); dropping it cut garments lying across the edge in two
MIN_SHADOW_STEP = 0.08  # a change of light smaller than this (log brightness, ~8%) is no shadow edge
MAX_UPRIGHT_ANGLE = 25.0  # rotations up to this are undone (Fashion-MNIST garments are upright)
UPRIGHT_GAIN = 0.98  # ... when the uprighted box is at most this fraction of the unrotated one
SYMMETRY_IOU = 0.85  # a blob at least this mirror-symmetric (IoU with its mirror image) is stood on its axis
UPRIGHT_IOU = 0.8  # ... else one at least this symmetric as it stands is left as it is (the tightest box of a
# T-shirt, wide at the sleeves and narrow below them, is tilted 20 degrees)
COARSE = 8  # the smooth surface is fitted on means of COARSE x COARSE working pixels (a quadratic needs few)
SHADOW_STRIDE = 3  # the shadow steps are fitted on every SHADOW_STRIDE-th row and column
SHADOW_EVIDENCE = 0.75  # look for shadow edges where the smooth surface misses the border by this many steps ...
SHADOW_SIDES = 2  # ... in two adjacent cells, the same way, on each of at least this many sides (corners aside: a
# vignette the quadratic misses shows there, on two sides at once; searching cost 1-3 ms on 11% of photo frames)
UPRIGHT_RULE = (MAX_UPRIGHT_ANGLE, SYMMETRY_IOU, UPRIGHT_IOU, UPRIGHT_GAIN)  # (as the kernels take it)
_Coords = TypeVar("_Coords", np.ndarray, float)  # pixel or normalised coordinates: arrays or single values
_RIDGE = 1e-4 * np.eye(6 + MAX_SHADOW_LINES)  # keeps the normal equations solvable when a column is all but empty
_NO_LINES, _NO_STEPS = np.zeros((0, 3)), np.zeros(0)  # a Lighting without shadow edges (read-only: shared)
_NO_LINES.flags.writeable = _NO_STEPS.flags.writeable = False


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
    background: np.ndarray  # the lighting model over the working copy (at least 1.0)
    candidates: list[Candidate] = field(default_factory=list)
    reason: str | None = None
    half: np.ndarray | None = None  # the gray frame halved, where the working copy was made through it

    def frame_box(self, candidate: Candidate, margin: int = 1) -> tuple[int, int, int, int]:
        """The candidate's box in frame pixels (x0, y0, x1, y1), `margin` working pixels wider for the rounding."""
        x, y, w, h = candidate.box
        fh, fw = self.shape
        x0, y0 = max(0, int((x - margin) / self.factor)), max(0, int((y - margin) / self.factor))
        x1 = min(fw, math.ceil((x + w + margin) / self.factor))
        y1 = min(fh, math.ceil((y + h + margin) / self.factor))
        return x0, y0, x1, y1

    def background_over(self, box: tuple[int, int, int, int], h: int, w: int) -> np.ndarray:
        """The background under the frame box (x0, y0, x1, y1) at h x w pixels. A smooth surface: the working
        copy's, interpolated (to the nearest working pixel: a few tenths of a percent at most). With shadow steps,
        as sharp as a pixel: the lighting model at these pixels. At least 1, like `background`."""
        x0, y0, x1, y1 = box
        fh, fw = self.shape
        if self.lighting.shadowed:
            box_uv = (x0 / fw * 2 - 1, y0 / fh * 2 - 1, x1 / fw * 2 - 1, y1 / fh * 2 - 1)
            return cv2.max(self.lighting.over(h, w, box_uv), 1.0)
        wx0, wy0, wx1, wy1 = self._working_box(box)
        return cv2.resize(self.background[wy0:wy1, wx0:wx1], (w, h), None, 0, 0, cv2.INTER_LINEAR)

    def ink_of(self, region: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """The ink (`ink`) of `region`, the gray frame's box (x0, y0, x1, y1) shrunk, against the background under it
        (`background_over`): the kernel's one call where no shadow step is modelled, or the numpy reference."""
        h, w = region.shape
        if kernels.compiled is None or self.lighting.shadowed:
            return ink(region, self.background_over(box, h, w), self.dark_object)
        out = np.empty((h, w), np.float32)
        region = np.ascontiguousarray(region)  # (a crop too small to shrink is a view of the frame)
        background = self.background
        kernels.compiled.crop_ink(
            region, h, w, background, *background.shape, *self._working_box(box), self.dark_object, out
        )
        return out

    def _working_box(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """The frame box (x0, y0, x1, y1) in working pixels, at least one a side."""
        x0, y0, x1, y1 = box
        wx0, wy0 = int(x0 * self.factor + 0.5), int(y0 * self.factor + 0.5)
        return wx0, wy0, max(wx0 + 1, int(x1 * self.factor + 0.5)), max(wy0 + 1, int(y1 * self.factor + 0.5))


def as_image(frame: np.ndarray) -> np.ndarray:
    """`frame` checked to be an image: uint8 (H, W) gray, (H, W, 3) BGR or (H, W, 4) BGRA; (H, W, 1) as (H, W)."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8:
        raise FashionEdgeError(f"frames must be uint8, got {frame.dtype}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        return frame[:, :, 0]
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] in (3, 4)):
        return frame
    raise FashionEdgeError(f"cannot read a frame of shape {frame.shape} as an image")


def to_gray(frame: np.ndarray) -> np.ndarray:
    """BGR, BGRA, (H, W, 1) or (H, W) uint8 -> (H, W) uint8."""
    frame = as_image(frame)
    if frame.ndim == 2:
        return frame
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY if frame.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)


def halve(image: np.ndarray) -> np.ndarray:
    """`image` (at least 2 px a side) at half size: linear interpolation at exactly half of its even part, a 2x2 mean
    (an odd side would make the step 2.00x and alias)."""
    h, w = image.shape[0] // 2, image.shape[1] // 2
    return cv2.resize(image[: 2 * h, : 2 * w], (w, h), None, 0, 0, cv2.INTER_LINEAR)


def gray_half(frame: np.ndarray) -> np.ndarray:
    """A uint8 frame (gray, BGR or BGRA, at least 2 px a side) as gray, halved (`halve`): for a contiguous BGR frame
    the kernel's one call, the same pixels without the full-resolution gray (cv2.cvtColor cost a quarter of a
    frame's preprocessing), else `to_gray`, then `halve`."""
    if kernels.compiled is not None and frame.ndim == 3 and frame.shape[2] == 3 and frame.flags.c_contiguous:
        h, w = frame.shape[:2]
        out = np.empty((h // 2, w // 2), np.uint8)
        kernels.compiled.gray_half(frame, h, w, out)
        return out
    return halve(to_gray(frame))


def halves(h: int, w: int, side: int) -> bool:
    """Whether `shrink` halves an h x w image on its way to `side`."""
    return max(h, w) >= 2 * side and min(h, w) >= 2


def shrink(image: np.ndarray, side: int) -> np.ndarray:
    """`image` with its longest side at most `side`, close to area averaging at a fraction of its cost: halved while
    at least twice too big, then resized linearly."""
    while halves(*image.shape[:2], side):
        image = halve(image)
    h, w = image.shape[:2]
    scale = side / max(h, w)
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = cv2.resize(image, size, None, 0, 0, cv2.INTER_LINEAR)
    return image


_GAUSS3 = np.array([0.25, 0.5, 0.25], np.float32)  # cv2.GaussianBlur's 3-tap kernel


def downscale(frame: np.ndarray, side: int = WORK_SIDE) -> tuple[np.ndarray, float, np.ndarray | None]:
    """The working copy of a uint8 frame (gray, BGR or BGRA): float32 gray, its longest side at most `side`,
    box-averaged (`shrink`) and smoothed by a 3x3 Gaussian (the noise the means leave); its scale factor; and the gray
    frame halved, where shrinking went through it (`gray_half`: a garment's crop is cut from it), else None. Gray first:
    OpenCV resizes one channel several times faster than three. A 640x480 frame becomes 160x120 means of 4x4 pixels."""
    half = gray_half(frame) if halves(*frame.shape[:2], side) else None
    small = shrink(to_gray(frame) if half is None else half, side)
    return _smooth(small), small.shape[1] / frame.shape[1], half


def _smooth(small: np.ndarray) -> np.ndarray:
    """`small` (uint8) as float32, blurred by a 3x3 Gaussian: the kernel's one call (the same pixels), or OpenCV's."""
    if kernels.compiled is not None and small.flags.c_contiguous:
        work = np.empty(small.shape, np.float32)
        kernels.compiled.smooth(small, *small.shape, work)
        return work
    return cv2.sepFilter2D(small, cv2.CV_32F, _GAUSS3, _GAUSS3)


def _design(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Quadratic surface terms in coordinates normalised to [-1, 1], so the fit is independent of image size."""
    return np.stack([np.ones_like(u), u, v, u * u, u * v, v * v], axis=-1)


def _norm_coords(ys: _Coords, xs: _Coords, h: int, w: int) -> tuple[_Coords, _Coords]:
    return (xs + 0.5) / w * 2 - 1, (ys + 0.5) / h * 2 - 1


def _median(values: np.ndarray) -> float:
    """The (upper) median: one partition in place (`values` is reordered: pass a temporary), without np.median's
    overhead (it matters at this size)."""
    if not values.size:
        return 0.0
    k = values.size // 2
    values.partition(k)
    return float(values[k])


def _cells(image: np.ndarray, cell: int) -> np.ndarray:
    """Means of about `cell` x `cell` pixels (area averaging), at least 3 a side."""
    h, w = image.shape
    size = (max(3, round(w / cell)), max(3, round(h / cell)))
    return cv2.resize(image, size, None, 0, 0, cv2.INTER_AREA)


@dataclass(frozen=True)
class _FitGrid:
    """Every `stride`-th pixel of an h x w image: normalised coordinates (u, v), their quadratic terms, which lie in
    the border band (8% of the shorter side, at least one pixel), the least-squares fit on the band as one matrix
    (coefficients = band_fit @ z: the robust fit's first step without a solve), and the pairs of adjacent points
    along the sides, corners left out: `side_pairs` (2, pairs) their indices, `pair_side` (pairs, 4) which side
    (top, bottom, left, right) each pair lies on."""

    u: np.ndarray
    v: np.ndarray
    design: np.ndarray
    band: np.ndarray
    band_fit: np.ndarray
    side_pairs: np.ndarray
    pair_side: np.ndarray


def _band_width(rows: int, columns: int) -> int:
    """The border band's width in points of a rows x columns grid: 8% of the shorter side, at least one."""
    return max(1, round(min(rows, columns) * 0.08))


@functools.lru_cache(maxsize=16)
def _fit_grid(h: int, w: int, stride: int = 1) -> _FitGrid:
    """The _FitGrid of an h x w image (cached: the same few shapes come every frame)."""
    ys, xs = np.mgrid[0:h:stride, 0:w:stride]
    u, v = _norm_coords(ys.ravel().astype(np.float64), xs.ravel().astype(np.float64), h, w)
    b = _band_width(*ys.shape)
    band = np.zeros(ys.shape, dtype=bool)
    band[:b], band[-b:], band[:, :b], band[:, -b:] = True, True, True, True
    band = band.ravel()
    design = _design(u, v)
    on_band = design * band[:, None]
    band_fit = np.linalg.solve(on_band.T @ on_band + _RIDGE[:6, :6], on_band.T)
    index = np.arange(ys.size).reshape(ys.shape)
    sides = (index[0, 1:-1], index[-1, 1:-1], index[1:-1, 0], index[1:-1, -1])  # top, bottom, left, right
    side_pairs = np.concatenate([np.stack([side[:-1], side[1:]]) for side in sides], axis=1)
    pair_side = np.repeat(np.eye(4, dtype=bool), [max(len(side) - 1, 0) for side in sides], axis=0)
    for a in (u, v, design, band, band_fit, side_pairs, pair_side):
        a.flags.writeable = False
    return _FitGrid(u, v, design, band, band_fit, side_pairs, pair_side)


@functools.lru_cache(maxsize=64)
def _cell_powers(n: int, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    """(n, 3) float32: 1, x, x^2 at the centres of n equal cells over [lo, hi] (where cv2.resize puts them). Cached:
    the working copy asks for the same few every frame."""
    return _powers(lo + (np.arange(n, dtype=np.float32) + 0.5) * np.float32((hi - lo) / n))


def _powers(x: np.ndarray) -> np.ndarray:
    """(len(x), 3): 1, x, x^2."""
    return x[:, None] ** np.arange(3, dtype=x.dtype)


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

    @functools.cached_property
    def shadowed(self) -> bool:
        """Whether a shadow step is modelled (a step not 0)."""
        return bool(self.steps.any())

    def over(self, h: int, w: int, box: tuple[float, float, float, float] = (-1.0, -1.0, 1.0, 1.0)) -> np.ndarray:
        """The background (float32) over an h x w image of the normalised region `box` (u0, v0, u1, v1; default the
        whole frame), at every pixel: the quadratic is two small products, so this costs one exp of the image."""
        u_powers, v_powers = _cell_powers(w, box[0], box[2]), _cell_powers(h, box[1], box[3])
        log_background = self._log_quadratic(u_powers, v_powers)
        if self.shadowed:
            log_background += self._log_steps(u_powers[None, :, 1], v_powers[:, 1, None])
        return cv2.exp(log_background)

    def _log_quadratic(self, u_powers: np.ndarray, v_powers: np.ndarray) -> np.ndarray:
        """The quadratic at columns and rows given as `_powers` (float32): [1 v v^2] C [1 u u^2]^T, two products."""
        c0, c1, c2, c3, c4, c5 = self.coef.tolist()
        c = np.array([[c0, c1, c3], [c2, c4, 0.0], [c5, 0.0, 0.0]], np.float32)
        return v_powers @ c @ u_powers.T

    def _log_steps(self, u: np.ndarray, v: np.ndarray) -> np.ndarray | float:
        total: np.ndarray | float = 0.0
        for (a, b, off), step in zip(self.lines.tolist(), self.steps.tolist(), strict=True):
            if step:  # (Python floats: the arithmetic stays in u's and v's float32)
                total = total + step * _step(a * u + b * v - off, self.softness)
        return total


def _step(distance: np.ndarray, softness: float) -> np.ndarray:
    """0 on one side of a line, 1 on the other, a logistic ramp `softness` wide between (as 0.5 + 0.5 tanh(d / 2s),
    which needs no guard against overflow)."""
    return 0.5 + 0.5 * np.tanh(distance * (0.5 / softness))


def shadow_lines(work: np.ndarray) -> np.ndarray:
    """Long straight edges (candidate shadow edges) as rows (a, b, c), a*u + b*v = c in normalised coordinates."""
    h, w = work.shape
    edges = cv2.Canny(np.clip(work, 0, 255).astype(np.uint8), 20, 50)
    found = cv2.HoughLines(edges, 1, np.pi / 90, threshold=int(0.3 * min(h, w)))  # 2 degrees: refined below
    if found is None:
        return np.zeros((0, 3))
    tried: list[tuple[float, float]] = []  # strongest first; the same edge a Hough cell or two away is not worth it
    for rho, theta in found.reshape(-1, 2)[: 4 * MAX_SHADOW_LINES].tolist():
        if not any(abs(rho - r) < 3.0 and abs(theta - t) < math.radians(5.0) for r, t in tried):
            tried.append((rho, theta))
    # the Hough grid is 1 px and 2 degrees: each line is refined on the edge pixels near it, found for all at once
    points = cv2.findNonZero(edges).reshape(-1, 2).astype(np.float32)  # (x, y)
    normals = np.array([(math.cos(theta), math.sin(theta), -rho) for rho, theta in tried], np.float32)
    near_lines = np.abs(normals[:, :2] @ points.T + normals[:, 2:]) < 2.0
    lines: list[tuple[float, float, float]] = []
    for (rho, theta), near in zip(tried, near_lines, strict=True):
        x1, y1 = rho * math.cos(theta), rho * math.sin(theta)  # two points on the line
        x2, y2 = x1 - math.sin(theta), y1 + math.cos(theta)
        if np.count_nonzero(near) >= 2:
            vx, vy, px, py = cv2.fitLine(points[near], cv2.DIST_L2, 0, 0.01, 0.01).ravel().tolist()
            x1, y1, x2, y2 = px, py, px + vx, py + vy
        (u1, v1), (u2, v2) = _norm_coords(y1, x1, h, w), _norm_coords(y2, x2, h, w)
        a, b = -(v2 - v1), u2 - u1
        norm = math.hypot(a, b)
        if not norm > 1e-9:
            continue
        a, b = a / norm, b / norm
        c = a * u1 + b * v1
        if all(abs(a * la + b * lb) < 0.99 or abs(c - np.sign(a * la + b * lb) * lc) > 0.06 for la, lb, lc in lines):
            lines.append((a, b, c))  # a new line, not a near-copy of one found already
        if len(lines) == MAX_SHADOW_LINES:
            break
    return np.array(lines, dtype=np.float64).reshape(-1, 3)


def _solve_robust(
    a_all: np.ndarray, z_all: np.ndarray, band: np.ndarray, fits: int = 4, band_fit: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Least squares of z on a's columns: from the border band, refitted on the band's points within the noise (3
    MAD sigmas) of the last fit, then on every such point; `fits` fits in all. The coefficients and residuals.
    `band_fit` (see _FitGrid), when given, makes the first fit one product."""
    k = a_all.shape[1]
    ridge = _RIDGE[:k, :k]
    az = np.concatenate([a_all, z_all[:, None]], axis=1)  # the chosen rows' one product: both sides of the normal eqs
    use = band
    coef, residual = np.zeros(k), z_all
    for fit in range(fits):
        if fit == 0 and band_fit is not None:
            coef = band_fit @ z_all
        else:
            chosen = az[use]
            if len(chosen) < 12:  # everything is "object": keep the last good fit
                break
            gram = (chosen.T @ chosen).astype(np.float64, copy=False)  # (the solve in 64 bits)
            coef = cv2.solve(gram[:k, :k] + ridge, gram[:k, k:], None, cv2.DECOMP_CHOLESKY)[1][:, 0]
        residual = z_all - a_all @ coef
        if fit < fits - 1:  # the points within the noise of this fit, for the next
            deviation = np.abs(residual)
            use = deviation < max(4.4478 * _median(deviation[use]) + 3e-3, 0.01)  # 3 sigmas, sigma = 1.4826 MAD
            if fit == 0:
                use &= band
    return coef, residual


def fit_lighting(work: np.ndarray) -> Lighting:
    """Fit the Lighting model to the background of `work` (float32 gray).

    In log brightness, so a shadow is an additive step and the fit is linear. On cell means (COARSE pixels a side):
    the surface is smooth, and a few hundred cells pin it down as well as every pixel would, for far less. Starts
    from the border band (where the background almost always is), then refits on every cell within the noise: the
    garment is never part of the fit, the lighting is. Straight edges are tried as shadow edges only when the
    smooth surface misses two adjacent border cells the same way on two sides of the frame (SHADOW_EVIDENCE,
    SHADOW_SIDES): a shadow edge crosses the frame, a garment rarely reaches two of its sides.
    """
    h, w = work.shape
    softness = 2.0 / max(h, w)  # about one working pixel
    coef, sides = _fit_smooth(work)
    if sides < SHADOW_SIDES:
        return Lighting(coef, _NO_LINES, _NO_STEPS, softness)
    lines = shadow_lines(work)
    if not len(lines):
        return Lighting(coef, _NO_LINES, _NO_STEPS, softness)
    # the steps on every SHADOW_STRIDE-th pixel (not cell means: a step is as sharp as a pixel, and a step size a
    # few percent off leaves the whole shadow as ink)
    grid = _fit_grid(h, w, SHADOW_STRIDE)
    u, v, band = grid.u, grid.v, grid.band
    # (in float32: these thousands of rows cost most of a shadow frame; the solve stays in 64 bits)
    steps = [_step(a * u + b * v - c, softness)[:, None] for a, b, c in lines.tolist()]
    a_all = np.concatenate([grid.design, *steps], axis=1, dtype=np.float32)
    z_all = cv2.log(cv2.max(work[::SHADOW_STRIDE, ::SHADOW_STRIDE], 1.0)).ravel()
    smooth, coef = coef, _fit_steps(a_all, z_all, band)
    keep = np.abs(coef[6:]) >= MIN_SHADOW_STEP  # the others are a garment's straight edges, not changes of light
    if not keep.any():  # no shadow after all: the smooth surface fitted above
        return Lighting(smooth, _NO_LINES, _NO_STEPS, softness)
    if not keep.all():  # refit without them, so they do not bend the surface
        kept = np.concatenate([np.ones(6, bool), keep])
        coef_kept = _fit_steps(np.ascontiguousarray(a_all[:, kept]), z_all, band)
        coef = np.zeros(a_all.shape[1])
        coef[kept] = coef_kept
    return Lighting(coef[:6], lines, coef[6:], softness)


def _fit_smooth(work: np.ndarray) -> tuple[np.ndarray, int]:
    """The smooth surface fitted robustly to the log of the working copy's cell means (`_cells`), three passes from
    the border band, and on how many sides it misses the border (`_sides_missed`): the kernel's one call (the means
    too, where the cells tile the working copy: cv2.resize's area rule at an integer scale), or the numpy reference."""
    if kernels.compiled is not None:
        h, w = work.shape
        tiled = h % COARSE == 0 and w % COARSE == 0 and min(h, w) >= 3 * COARSE
        cells, cell = (work, COARSE) if tiled else (_cells(work, COARSE), 1)
        rows, columns = cells.shape[0] // cell, cells.shape[1] // cell
        far = SHADOW_EVIDENCE * MIN_SHADOW_STEP
        coef, sides = kernels.compiled.fit_smooth(
            cells, rows, columns, cell, _band_width(rows, columns), 3, _RIDGE[0, 0], far
        )
        return np.array(coef), sides
    cells = _cells(work, COARSE)
    grid = _fit_grid(*cells.shape)
    z = cv2.log(cv2.max(cells, 1.0)).ravel()
    coef, residual = _solve_robust(grid.design, z, grid.band, 3, grid.band_fit)
    return coef, _sides_missed(residual, grid)


def _fit_steps(a_all: np.ndarray, z_all: np.ndarray, band: np.ndarray) -> np.ndarray:
    """The surface and shadow steps (`a_all`'s float32 columns) fitted robustly to `z_all` (float32) from the border
    band (`_solve_robust`'s four passes): the kernel's one call, or the numpy reference."""
    if kernels.compiled is not None:
        return np.array(kernels.compiled.solve_robust(a_all, *a_all.shape, z_all, band.view(np.uint8), 4, _RIDGE[0, 0]))
    return _solve_robust(a_all, z_all, band)[0]


def _sides_missed(residual: np.ndarray, grid: _FitGrid) -> int:
    """On how many sides of `grid` the fit misses two adjacent cells the same way (both brighter or both darker by
    SHADOW_EVIDENCE steps): where a shadow edge would cross the border."""
    ends = residual[grid.side_pairs]  # (2, pairs)
    far = SHADOW_EVIDENCE * MIN_SHADOW_STEP
    missed = (ends.min(axis=0) > far) | (ends.max(axis=0) < -far)  # both above, or both below
    return int(np.count_nonzero(missed @ grid.pair_side))  # (a boolean product: any pair on each side)


def noise_level(darker: np.ndarray) -> float:
    """The background's noise (sigma, relative to it) from `darkness`: the MAD of every third row and column in the
    border band, then of every such pixel within 3 sigma of the background."""
    r = np.abs(darker[::3, ::3]).ravel()
    sigma = 1.4826 * _median(r[_fit_grid(*darker.shape, 3).band])
    return 1.4826 * _median(r[r < max(3.0 * sigma, 0.01)]) + 1e-3


def darkness(gray: np.ndarray, background: np.ndarray) -> np.ndarray:
    """1 - pixel / background (float32; `background` float32, at least 1): at most 1, 0 on the background."""
    return 1.0 - cv2.divide(gray, background, None, 1.0, cv2.CV_32F)


def ink(gray: np.ndarray, background: np.ndarray, dark_object: bool) -> np.ndarray:
    """0..1: how far each pixel is from the background, towards black (dark object) or white (light object);
    `background` float32, at least 1."""
    if dark_object:
        return cv2.max(darkness(gray, background), 0.0)
    return np.clip((gray.astype(np.float32) - background) / np.maximum(255.0 - background, 1.0), 0.0, 1.0)


_KERNEL3 = np.ones((3, 3), np.uint8)


_UPRIGHT_DEGREES = np.arange(-MAX_UPRIGHT_ANGLE, MAX_UPRIGHT_ANGLE + 0.5, 1.0)  # the rotations tried, 1 degree apart
_COS, _SIN = np.cos(np.radians(_UPRIGHT_DEGREES)), np.sin(np.radians(_UPRIGHT_DEGREES))
# x' = x cos + y sin, then y' = y cos - x sin for each angle (cv2.getRotationMatrix2D's rotation)
_UPRIGHT_ROTATIONS = np.concatenate([np.stack([_COS, _SIN], 1), np.stack([-_SIN, _COS], 1)])


def _upright_angle(mask: np.ndarray) -> float:
    """Degrees to rotate a blob (uint8 `mask`) as cv2.getRotationMatrix2D does to stand it upright, among rotations
    up to MAX_UPRIGHT_ANGLE. Most garments are mirror-symmetric: when the blob is (SYMMETRY_IOU) about some axis,
    that axis is made vertical (T-shirts: 6 degrees off by their tightest box, 1.4 by their axis); one about as
    symmetric as it stands (UPRIGHT_IOU) stays as it is. Shoes are not: theirs is the angle of the tightest bounding
    box, 0 unless it is clearly (UPRIGHT_GAIN, and by more than a pixel a side) smaller than the unrotated one."""
    moments = cv2.moments(mask, True)  # (binary image)
    if moments["m00"] < 5:
        return 0.0
    axis = float(_UPRIGHT_DEGREES[_asymmetry(moments).argmin()])
    iou = _mirror_iou(mask, moments, axis)
    if iou >= SYMMETRY_IOU:
        return axis
    if (iou if axis == 0.0 else _mirror_iou(mask, moments, 0.0)) >= UPRIGHT_IOU:  # symmetric enough as it stands
        return 0.0
    outlines, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.convexHull(np.concatenate(outlines)).reshape(-1, 2).T.astype(np.float64)  # its box is the blob's
    turned = (_UPRIGHT_ROTATIONS @ hull).reshape(2, len(_UPRIGHT_DEGREES), -1)  # (x' or y', rotation, point)
    sides = turned.max(axis=2) - turned.min(axis=2)
    area = sides[0] * sides[1]
    best = int(area.argmin())
    gain = min(UPRIGHT_GAIN, 1.0 - 1.0 / mask.shape[0] - 1.0 / mask.shape[1])  # a pixel a side is no gain
    return float(_UPRIGHT_DEGREES[best]) if area[best] < gain * area[len(area) // 2] else 0.0


def _asymmetry(moments: dict[str, float]) -> np.ndarray:
    """For each of _UPRIGHT_DEGREES: how far a blob with these `moments` (cv2.moments), so rotated, is from mirror
    symmetry about a vertical axis. A symmetric blob's central moments odd in x vanish: mu11, mu30 and mu12, here
    rotated in closed form (one product, see _odd_moments), scaled by the blob's size so they compare, and summed
    in squares."""
    size = max(moments["mu20"] + moments["mu02"], 1e-9)
    second, third = 1.0 / size, size**-1.5
    mu = [moments[k] * second for k in ("mu20", "mu11", "mu02")] + [
        moments[k] * third for k in ("mu30", "mu21", "mu12", "mu03")
    ]
    odd = np.dot(mu, _ODD_MOMENTS)
    return (odd * odd).reshape(3, -1).sum(axis=0)


def _mirror_iou(mask: np.ndarray, moments: dict[str, float], degrees: float) -> float:
    """Intersection over union of the blob (`mask`, its `moments`) rotated by `degrees` and its mirror image about
    the vertical line through its centroid: 1 for a perfectly symmetric blob."""
    h, w = mask.shape
    side = int(math.hypot(h, w)) + 2
    cx, cy = moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]
    rot = cv2.getRotationMatrix2D((cx, cy), degrees, 1.0)
    rot[0, 2] += side / 2 - cx  # the centroid to the centre of a canvas that holds any rotation
    rot[1, 2] += side / 2 - cy
    turned = cv2.warpAffine(mask, rot, (side, side), None, cv2.INTER_NEAREST)
    both = cv2.countNonZero(turned & cv2.flip(turned, 1))
    return both / max(2 * cv2.countNonZero(turned) - both, 1)  # (the mirror image has as many pixels)


def _odd_moments(c: np.ndarray, s: np.ndarray) -> np.ndarray:
    """(7, 3n): the central moments (mu20 mu11 mu02 mu30 mu21 mu12 mu03) -> mu11, mu30 and mu12 of the blob rotated
    by each of n angles (cosines c, sines s; x' = x c + y s, y' = y c - x s)."""
    zero = np.zeros_like(c)
    m11 = [-c * s, c * c - s * s, c * s, zero, zero, zero, zero]
    m30 = [zero, zero, zero, c**3, 3 * c * c * s, 3 * c * s * s, s**3]
    m12 = [zero, zero, zero, c * s * s, s**3 - 2 * c * c * s, c**3 - 2 * c * s * s, s * c * c]
    return np.concatenate([np.stack(m11), np.stack(m30), np.stack(m12)], axis=1)


_ODD_MOMENTS = _odd_moments(_COS, _SIN)


def find_candidates(ink_map: np.ndarray, threshold: float) -> list[Candidate]:
    """Blobs of ink above `threshold`, each grown by the sizeable blobs near it; the largest box first: the kernel's
    one call (a working copy's ink map), or the OpenCV and Python reference."""
    if kernels.compiled is not None and max(ink_map.shape) <= 512:
        gap = GROW_GAP * max(ink_map.shape)
        found = kernels.compiled.candidates(ink_map, *ink_map.shape, threshold, MAX_CANDIDATES, gap, *UPRIGHT_RULE)
        return [_made(box, mean, sd, area, angle) for box, mean, sd, area, angle in found]
    found = _blobs(ink_map, threshold)
    if found is None or not found[2]:
        return []
    origin, labels, stats = found
    count = len(stats) + 1
    # (area, label, x0, y0, x1, y1) of the blobs, in the window's coordinates: few, so plain Python is quickest
    blobs = [(a, i, x, y, x + w, y + h) for i, (x, y, w, h, a) in enumerate(stats, 1)]
    least = max(4, 0.02 * max(blobs)[0])  # specks never seed nor join an object
    free = sorted((blob for blob in blobs if blob[0] >= least), reverse=True)
    gap = GROW_GAP * max(ink_map.shape)
    candidates: list[Candidate] = []
    first_area = free[0][0] if free else 0
    while free and len(candidates) < MAX_CANDIDATES:
        if candidates and free[0][0] < 0.1 * first_area:
            break  # specks and bits: not a second object
        members, free = [free[0]], free[1:]
        box = list(members[0][2:])
        grown = True
        while grown:  # add every free blob within `gap` of a member's pixels, until none is left to add
            near = [b for b in free if b[2] - gap <= box[2] and b[4] + gap >= box[0] and b[3] - gap <= box[3]
                    and b[5] + gap >= box[1]]  # fmt: skip
            if near:  # near by their boxes: are they near a member's pixels?
                is_member = np.zeros(count, bool)  # a lookup by label (no set, no sort)
                is_member[[m[1] for m in members]] = True
                near = [b for b in near if _near_members(labels, b, is_member, gap)]
            grown = bool(near)
            for b in near:
                free.remove(b)
                box = [min(box[0], b[2]), min(box[1], b[3]), max(box[2], b[4]), max(box[3], b[5])]
            members += near
        area = sum(b[0] for b in members)
        candidates.append(_candidate(ink_map, labels, origin, box, [b[1] for b in members], count, area))
    # the garment is the object with the largest extent: a phone or a mug beside it is smaller, if darker
    return sorted(candidates, key=lambda c: c.box[2] * c.box[3], reverse=True)


def _blobs(ink_map: np.ndarray, threshold: float) -> tuple[tuple[int, int], np.ndarray, list[list[int]]] | None:
    """The blobs of ink above `threshold`, or None where there is none: the labelled window's origin (x, y), its labels
    (int32) and the blobs' (x, y, w, h, area) in it, label 1 first. The window is the ink's box 2 pixels wider (a 3x3
    closing, which joins a garment's parts split by a faint line, cannot reach further) from even coordinates (so
    OpenCV's Grana labelling, 2x2 blocks, numbers the blobs as on the whole map). The reference's labelling (the
    kernel's is `candidates`' own, exposed as `blobs` to tests/test_edge_kernels.py)."""
    above = (ink_map > threshold).view(np.uint8)
    ink_x, ink_y, ink_w, ink_h = cv2.boundingRect(above)
    if not ink_w:
        return None
    origin = max(0, ink_x - 2) & -2, max(0, ink_y - 2) & -2
    window = above[origin[1] : ink_y + ink_h + 2, origin[0] : ink_x + ink_w + 2]
    mask = cv2.morphologyEx(window, cv2.MORPH_CLOSE, _KERNEL3)
    # (Grana's algorithm: the same labels as the default, with the statistics about 3x faster here)
    _, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(mask, 8, cv2.CV_32S, cv2.CCL_GRANA)
    return origin, labels, stats[1:].tolist()


def _near_members(labels: np.ndarray, blob: tuple[int, ...], is_member: np.ndarray, gap: float) -> bool:
    """Whether a pixel of a member (`is_member[label]`) lies within `gap` pixels (Chebyshev) of a pixel of `blob`
    (area, label, x0, y0, x1, y1): near the object itself, not only its box (a phone by a sleeve's corner is not)."""
    g = int(math.ceil(gap))
    h, w = labels.shape
    x0, y0, x1, y1 = max(0, blob[2] - g), max(0, blob[3] - g), min(w, blob[4] + g), min(h, blob[5] + g)
    window = labels[y0:y1, x0:x1]
    reach = cv2.dilate((window == blob[1]).view(np.uint8), np.ones((2 * g + 1, 2 * g + 1), np.uint8))
    return bool(is_member[window[reach > 0]].any())


def _candidate(
    ink_map: np.ndarray,
    labels: np.ndarray,
    origin: tuple[int, int],
    box: list[int],
    members: list[int],
    count: int,
    area: int,
) -> Candidate:
    """The Candidate made of blobs `members` (`labels`, `area` pixels in all) within `box` (x0, y0, x1, y1), both
    from `origin` (x, y) of `ink_map`."""
    x0, y0, x1, y1 = box
    ox, oy = origin
    if len(members) == 1:
        region = labels[y0:y1, x0:x1] == members[0]
    else:
        is_member = np.zeros(count, bool)
        is_member[members] = True
        region = is_member[labels[y0:y1, x0:x1]]
    mean, sd, angle = _measure(region.view(np.uint8), ink_map, ox + x0, oy + y0)
    return _made((ox + x0, oy + y0, x1 - x0, y1 - y0), mean, sd, area, angle)


def _made(box: tuple[int, int, int, int], mean: float, sd: float, area: int, angle: float) -> Candidate:
    """The Candidate of `area` pixels in `box` (x, y, w, h) whose ink has this mean and deviation."""
    # mass = sum of ink = mean * area; contrast = sum of ink^2 / mass = (sd^2 + mean^2) / mean
    return Candidate(box, mean * area, (sd * sd + mean * mean) / max(mean, 1e-9), angle)


def _measure(mask: np.ndarray, ink_map: np.ndarray, x: int, y: int) -> tuple[float, float, float]:
    """A blob's (uint8 `mask`, at (x, y) of `ink_map`) mean ink, its standard deviation and the angle that uprights it
    (`_upright_angle`). The reference's measure (the kernel's is `candidates`' own, exposed as `blob`)."""
    h, w = mask.shape
    mean, sd = (float(m[0, 0]) for m in cv2.meanStdDev(ink_map[y : y + h, x : x + w], None, None, mask))
    return mean, sd, _upright_angle(mask)


def analyse(frame: np.ndarray, invert: str = "auto") -> Scene:
    """A gray or BGR uint8 frame -> its Scene: background, illumination, polarity, candidates (see module doc).

    `invert` on: the object is darker than its background; off: lighter; auto: whichever departs more."""
    work, factor, half = downscale(frame, WORK_SIDE)
    h, w = work.shape
    lighting = fit_lighting(work)
    background, ink_map, noise, dark_object = _background_ink(work, lighting, invert)
    for (a, b, c), step in zip(lighting.lines.tolist(), lighting.steps.tolist(), strict=True):
        if step:  # (u, v: the normalised coordinates of columns and rows)
            u, v = _cell_powers(w)[None, :, 1], _cell_powers(h)[:, 1, None]
            _bridge_edge(ink_map, a * u + b * v - c, a, b)
    if not dark_object:  # ink of a light object is relative to the headroom above the background
        level = _median(background[::4, ::4].ravel())
        noise = noise * level / max(255.0 - level, 1.0)
    scene = Scene(factor, frame.shape[:2], lighting, dark_object, noise, background, half=half)
    threshold = max(MIN_INK, NOISE_FLOOR * noise)
    # the largest object, but one bold enough to be a garment before a faint one (a vignette's corner left as ink)
    candidates = find_candidates(ink_map, threshold)
    faint = (SHADOW_FAINT_FACTOR if lighting.shadowed else FAINT_FACTOR) * threshold
    scene.candidates = sorted(candidates, key=lambda c: c.contrast >= faint, reverse=True)
    scene.reason = _nothing_reason(scene, faint, (h, w))
    return scene


def _background_ink(work: np.ndarray, lighting: Lighting, invert: str) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """The background under `work` (the lighting model, at least 1), the ink map, the background's noise and whether
    the object is dark (`invert` on: dark, off: light, auto: whichever departs more): the kernel's one call where no
    shadow step is modelled, or the numpy reference."""
    if kernels.compiled is not None and not lighting.shadowed:
        h, w = work.shape
        background, ink_map = np.empty((h, w), np.float32), np.empty((h, w), np.float32)
        polarity = {"on": 1, "off": -1}.get(invert, 0)
        coef = tuple(lighting.coef.tolist())
        noise, dark = kernels.compiled.background_ink(
            work, h, w, coef, _band_width(-(-h // 3), -(-w // 3)), polarity, background, ink_map
        )
        return background, ink_map if dark else ink(work, background, False), noise, dark
    background = cv2.max(lighting.over(*work.shape), 1.0)
    darker = darkness(work, background)  # 0 on the background
    noise = noise_level(darker)
    dark_object = invert == "on" if invert != "auto" else _darker(darker, max(4.0 * noise, 0.03))
    ink_map = cv2.max(darker, 0.0) if dark_object else ink(work, background, dark_object)
    return background, ink_map, noise, dark_object


def _bridge_edge(ink_map: np.ndarray, line: np.ndarray, a: float, b: float) -> None:
    """Replace the ink along a modelled shadow edge (`line`: a*u + b*v - c at each working pixel), which is only as
    sharp and exact as a working pixel, by the lesser ink just beyond the band on either side: what is left along the
    edge goes, and a garment lying across it stays one object instead of two halves (in place)."""
    h, w = ink_map.shape
    ys, xs = np.nonzero(np.abs(line) < EDGE_RESIDUE / min(h, w))
    if not ys.size:
        return
    gx, gy = 2 * a / w, 2 * b / h  # the line's gradient per working pixel
    g = math.hypot(gx, gy)
    foot = line[ys, xs] / g  # signed distance in pixels
    reach = EDGE_RESIDUE / min(h, w) / g + 1.0
    sides = []
    for side in (reach, -reach):
        sx = np.clip(np.rint(xs + (side - foot) * (gx / g)), 0, w - 1).astype(np.intp)
        sy = np.clip(np.rint(ys + (side - foot) * (gy / g)), 0, h - 1).astype(np.intp)
        sides.append(ink_map[sy, sx])
    ink_map[ys, xs] = np.minimum(*sides)


def _darker(darker: np.ndarray, far: float) -> bool:
    """Whether the pixels more than `far` darker than the background (`darker` = its `darkness`) depart from it
    more, in sum, than those more than `far` lighter: the object's polarity."""
    below = cv2.sumElems(cv2.threshold(darker, far, 0.0, cv2.THRESH_TOZERO)[1])[0]  # (darkness where > far)
    above = -cv2.sumElems(cv2.threshold(darker, -far, 0.0, cv2.THRESH_TOZERO_INV)[1])[0]  # (where <= -far)
    return below >= above


def _nothing_reason(scene: Scene, faint: float, shape: tuple[int, int]) -> str | None:
    """The preprocessing's evidence that the frame holds no garment, or None. `faint`: the least contrast of one."""
    if not scene.candidates:
        return "no object found"
    best = scene.candidates[0]
    x, y, bw, bh = best.box
    if max(bw, bh) < MIN_SIDE_FRAC * min(shape):
        return "object too small"
    if best.contrast < faint:
        return "object too faint"
    if (bw >= SPAN_FRAC * shape[1] or bh >= SPAN_FRAC * shape[0]) and best.mass < MIN_FILL * bw * bh:
        return "only a line across the view (a shadow or light edge)"
    if best.mass < MIN_COVER * bw * bh * best.contrast:  # mass / contrast: the pixels its ink would fill
        return "only a thin line or outline (a shadow or light edge)"
    return None
