"""Seeded camera frames for the photo benchmark: Fashion-MNIST images placed in 640x480 scenes, and empty scenes.

A scene is built in reflectance (what the surface and the garment reflect, 0..1), then lit and photographed:

    surface (plain light paper, dark cloth, wood grain, woven fabric)
    + garment: the 28x28 image upscaled and rotated, opaque where it has ink (dark on a light surface, light on a
      dark one, or only 20-30% darker than the surface for low contrast), optionally a second smaller dark object
    x light: a linear gradient times a vignette, optionally a hard cast shadow (a half-plane or a band)
    -> exposure, colour tint, lens blur, sensor noise, JPEG.

Each condition draws its own parameters from one seeded `numpy.random.Generator`, so the same images and seed give
the same frames. Garment conditions are in GARMENT_CONDITIONS, empty ones in EMPTY_CONDITIONS.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

FRAME_W, FRAME_H = 640, 480


@dataclass(frozen=True)
class Garment:
    """How the garment appears: size range (px, longest edge of its 28x28 box), rotation, contrast, polarity."""

    size: tuple[int, int] = (150, 400)
    max_angle: float = 6.0
    min_angle: float = 0.0
    contrast: tuple[float, float] = (1.0, 1.0)  # how much darker than its surface the garment's darkest part is
    light_on_dark: bool = False


@dataclass(frozen=True)
class Condition:
    """One rendering condition: the surface, the garment (None: an empty scene), extras, and the camera."""

    surface: str = "paper"  # paper | dark | wood | fabric | any_texture
    garment: Garment | None = Garment()
    distractor: bool = False
    shadow: bool = False
    exposure: tuple[float, float] = (190.0, 245.0)
    noise: tuple[float, float] = (2.0, 6.0)
    covered: bool = False  # lens covered: almost no light, maybe a skin tint


GARMENT_CONDITIONS: dict[str, Condition] = {
    "photo": Condition(),
    "small": Condition(garment=Garment(size=(70, 130))),
    "distractor": Condition(distractor=True),
    "light_on_dark": Condition(surface="dark", garment=Garment(light_on_dark=True)),
    "textured": Condition(surface="any_texture"),
    "low_contrast": Condition(garment=Garment(contrast=(0.2, 0.3))),
    "shadow": Condition(shadow=True),
    "rotated": Condition(garment=Garment(min_angle=10.0, max_angle=20.0)),
}
EMPTY_CONDITIONS: dict[str, Condition] = {
    "empty_light": Condition(garment=None),
    "empty_dark": Condition(surface="dark", garment=None, exposure=(25.0, 120.0), noise=(3.0, 10.0)),
    "empty_textured": Condition(surface="any_texture", garment=None),
    "empty_noise": Condition(garment=None, exposure=(90.0, 200.0), noise=(15.0, 35.0)),
    "lens_covered": Condition(garment=None, covered=True, exposure=(3.0, 40.0), noise=(1.0, 4.0)),
    "empty_shadow": Condition(garment=None, shadow=True),
}
CONDITIONS = {**GARMENT_CONDITIONS, **EMPTY_CONDITIONS}


def _smooth_noise(rng: np.random.Generator, cells: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """Low-frequency noise in about -1..1: a coarse random grid upscaled with cubic interpolation."""
    grid = rng.uniform(-1.0, 1.0, size=cells).astype(np.float32)
    return cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def _surface(kind: str, rng: np.random.Generator) -> np.ndarray:
    """(FRAME_H, FRAME_W) float32 reflectance of the surface the garment lies on."""
    shape = (FRAME_H, FRAME_W)
    if kind == "any_texture":
        kind = "wood" if rng.random() < 0.5 else "fabric"
    if kind == "paper":
        return np.full(shape, rng.uniform(0.9, 1.0), dtype=np.float32)
    if kind == "dark":
        return np.full(shape, rng.uniform(0.04, 0.2), dtype=np.float32)
    ys, xs = np.mgrid[0:FRAME_H, 0:FRAME_W].astype(np.float32)
    theta = rng.uniform(0, np.pi)
    u, v = xs * np.cos(theta) + ys * np.sin(theta), -xs * np.sin(theta) + ys * np.cos(theta)
    if kind == "wood":  # grain: stripes along one direction, bent by low-frequency noise, in bands of tone
        period = rng.uniform(8.0, 30.0)
        warp = _smooth_noise(rng, (4, 5), shape) * rng.uniform(5.0, 20.0)
        grain = np.sin(2 * np.pi * (v + warp) / period) + 0.4 * np.sin(2 * np.pi * (v + warp) / (period / 3.1))
        base = rng.uniform(0.5, 0.85) * (1 + 0.06 * _smooth_noise(rng, (3, 3), shape))
        return (base * (1 + rng.uniform(0.04, 0.1) * grain)).astype(np.float32)
    # woven fabric: a fine crosshatch of warp and weft threads, with slow variation in tone
    period = rng.uniform(3.0, 8.0)
    weave = np.sin(2 * np.pi * u / period) * np.sin(2 * np.pi * v / period) + 0.3 * np.sin(2 * np.pi * u / period)
    base = rng.uniform(0.55, 0.9) * (1 + 0.04 * _smooth_noise(rng, (5, 6), shape))
    return (base * (1 + rng.uniform(0.05, 0.12) * weave)).astype(np.float32)


def _garment_ink(image: np.ndarray, spec: Garment, rng: np.random.Generator) -> np.ndarray:
    """The 28x28 image (light on dark) as 0..1 ink, upscaled to its drawn size and rotated on a canvas big enough."""
    size = int(rng.integers(spec.size[0], spec.size[1] + 1))
    ink = np.clip(cv2.resize(image.astype(np.float32) / 255.0, (size, size), interpolation=cv2.INTER_CUBIC), 0, 1)
    angle = float(rng.uniform(spec.min_angle, spec.max_angle)) * (1 if rng.random() < 0.5 else -1)
    if spec.min_angle == 0.0:
        angle = float(rng.uniform(-spec.max_angle, spec.max_angle))
    side = int(np.ceil(size * (abs(np.cos(np.radians(angle))) + abs(np.sin(np.radians(angle)))))) if angle else size
    rot = cv2.getRotationMatrix2D((size / 2, size / 2), angle, 1.0)
    rot[:, 2] += (side - size) / 2
    ink = cv2.warpAffine(ink, rot, (side, side), flags=cv2.INTER_LINEAR, borderValue=0.0)
    rows, cols = np.flatnonzero(ink.max(axis=1) > 0.02), np.flatnonzero(ink.max(axis=0) > 0.02)
    if rows.size:  # trim the empty corners the rotation added; then make sure it fits the frame
        ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    fit = min(1.0, (FRAME_H - 2) / ink.shape[0], (FRAME_W - 2) / ink.shape[1])
    return ink if fit == 1.0 else cv2.resize(ink, None, fx=fit, fy=fit, interpolation=cv2.INTER_AREA)


def _place(
    shape: tuple[int, int], rng: np.random.Generator, avoid: tuple[int, int, int, int] | None = None, tries: int = 50
) -> tuple[int, int]:
    """A random top-left corner for an (h, w) patch inside the frame, away from `avoid` (y0, y1, x0, x1) if given."""
    h, w = shape
    for _ in range(tries):
        top, left = int(rng.integers(0, FRAME_H - h + 1)), int(rng.integers(0, FRAME_W - w + 1))
        if avoid is None:
            return top, left
        y0, y1, x0, x1 = avoid
        if top + h + 8 < y0 or top > y1 + 8 or left + w + 8 < x0 or left > x1 + 8:
            return top, left
    return top, left


def _distractor(max_side: int, rng: np.random.Generator) -> np.ndarray:
    """A smaller dark object (phone, wallet, mug from above) as 0..1 coverage: a rotated rectangle or an ellipse."""
    side = max(20, int(max_side * rng.uniform(0.25, 0.55)))
    canvas = np.zeros((side, side), np.float32)
    axes = (int(side * rng.uniform(0.25, 0.48)), int(side * rng.uniform(0.15, 0.48)))
    centre = (side // 2, side // 2)
    if rng.random() < 0.5:
        cv2.ellipse(canvas, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1, cv2.LINE_AA)
    else:
        box = cv2.boxPoints((centre, (2 * axes[0], 2 * axes[1]), float(rng.uniform(0, 180))))
        cv2.fillPoly(canvas, [np.round(box).astype(np.int32)], 1.0, cv2.LINE_AA)
    return canvas


def _light(rng: np.random.Generator, shadow: bool) -> np.ndarray:
    """Illumination: a gradient in a random direction times a vignette, times a hard cast shadow if asked."""
    ys, xs = np.mgrid[0:FRAME_H, 0:FRAME_W].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(theta) * (xs / FRAME_W - 0.5) + np.sin(theta) * (ys / FRAME_H - 0.5)) + 0.5
    low = rng.uniform(0.55, 0.8)
    light = low + (1.0 - low) * np.clip(ramp, 0, 1)
    cx, cy = rng.uniform(0.3, 0.7) * FRAME_W, rng.uniform(0.3, 0.7) * FRAME_H
    light *= 1.0 - 0.25 * (((xs - cx) ** 2 + (ys - cy) ** 2) / (FRAME_W**2 / 4 + FRAME_H**2 / 4))
    if shadow:  # a straight shadow edge through a random point: a half-plane, or a band (a pole, a shelf)
        phi = rng.uniform(0, 2 * np.pi)
        px, py = rng.uniform(0.2, 0.8) * FRAME_W, rng.uniform(0.2, 0.8) * FRAME_H
        dist = np.cos(phi) * (xs - px) + np.sin(phi) * (ys - py)
        soft = rng.uniform(0.5, 4.0)
        inside = 1 / (1 + np.exp(np.minimum(-dist / soft, 50)))
        if rng.random() < 0.35:
            width = rng.uniform(40, 160)
            inside = inside / (1 + np.exp(np.minimum((dist - width) / soft, 50)))
        light *= 1.0 - rng.uniform(0.35, 0.65) * inside
    return light.astype(np.float32)


def _photograph(
    reflectance: np.ndarray,
    light: np.ndarray,
    cond: Condition,
    rng: np.random.Generator,
    noise_rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Expose, tint, blur, add noise (drawn from `noise_rng`, default `rng`) and JPEG-compress: (H, W) reflectance x
    light -> BGR uint8 frame."""
    exposure = rng.uniform(*cond.exposure)
    tint = rng.uniform(0.88, 1.06, size=3).astype(np.float32)  # per channel, B G R
    if cond.covered and rng.random() < 0.5:
        tint = np.array([0.35, 0.55, 1.0], np.float32)  # a finger over the lens: dim, red, blurred
    frame = (reflectance * light * exposure)[:, :, None] * tint[None, None, :]
    frame = cv2.GaussianBlur(frame, (0, 0), float(rng.uniform(0.4, 1.2)) * (12 if cond.covered else 1))
    sigma = rng.uniform(*cond.noise)
    frame += (noise_rng or rng).normal(0.0, sigma, size=frame.shape).astype(np.float32)
    frame = np.clip(frame, 0, 255).astype(np.uint8)
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(60, 91))])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)


def render_frame(
    image: np.ndarray | None,
    condition: str | Condition,
    rng: np.random.Generator,
    noise_rng: np.random.Generator | None = None,
) -> np.ndarray:
    """One 640x480 BGR uint8 frame of `image` (28x28, light on dark) under `condition`; None for an empty scene.
    With `noise_rng`, the sensor noise comes from it: the same `rng` seed then films the same scene again."""
    cond = CONDITIONS[condition] if isinstance(condition, str) else condition
    surface = _surface(cond.surface, rng)
    scene = surface.copy()
    spec = cond.garment
    if spec is not None and image is not None:
        ink = _garment_ink(image, spec, rng)
        opacity = np.clip(ink / 0.1, 0.0, 1.0)  # Fashion-MNIST's background is 0: the surface shows there
        top, left = _place(ink.shape, rng)
        region = (slice(top, top + ink.shape[0]), slice(left, left + ink.shape[1]))
        base = float(surface.mean())
        if spec.light_on_dark:
            tone = base + (rng.uniform(0.55, 0.95) - base) * ink
        else:
            tone = base * (1.0 - rng.uniform(*spec.contrast) * ink)
        scene[region] = (1 - opacity) * surface[region] + opacity * tone
        if cond.distractor:
            blob = _distractor(max(ink.shape), rng)
            avoid = (top, top + ink.shape[0], left, left + ink.shape[1])
            dt, dl = _place(blob.shape, rng, avoid)
            patch = (slice(dt, dt + blob.shape[0]), slice(dl, dl + blob.shape[1]))
            scene[patch] = (1 - blob) * scene[patch] + blob * base * rng.uniform(0.05, 0.3)
    return _photograph(scene, _light(rng, cond.shadow), cond, rng, noise_rng)


def iter_frames(images: np.ndarray | int, condition: str, seed: int = 0) -> Iterator[np.ndarray]:
    """Frames of `images` (N, 28, 28) under `condition` with one seeded generator; an int N: N empty frames."""
    rng = np.random.default_rng([seed, sorted(CONDITIONS).index(condition)])
    items = [None] * images if isinstance(images, int) else images
    for image in items:
        yield render_frame(image, condition, rng)


def render_clip(
    segments: list[tuple[np.ndarray | None, int]], condition: str = "photo", seed: int = 0
) -> Iterator[np.ndarray]:
    """A still camera filming a sequence of scenes: (image or None for the empty surface, frames) per segment. Within
    a segment the scene and the camera settings stay, only the sensor noise changes from frame to frame."""
    noise_rng = np.random.default_rng([seed, 1])
    for k, (image, frames) in enumerate(segments):
        cond = CONDITIONS[condition]
        if image is None:
            cond = Condition(surface=cond.surface, garment=None, shadow=cond.shadow)
        for _ in range(frames):
            yield render_frame(image, cond, np.random.default_rng([seed, 2, k]), noise_rng)
