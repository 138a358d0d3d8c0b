"""Any BGR frame -> the model's 28x28 uint8 input, made the way Fashion-MNIST itself was made.

Fashion-MNIST came from product photos (dark-ish garment on a white background) by: trimming the background,
resizing the longest edge to 28, centring on a 28x28 canvas, negating, converting to gray. A camera frame differs
from those photos in ways the model never saw: the background is unevenly lit and not white, the garment is small
and off-centre, there is noise and colour cast. `photo` mode undoes that:

1. find the garment on a small working copy (`locate.analyse`): a lighting model with shadow edges divided out,
   the object's polarity, up to two candidate objects with the angle that stands each upright, and the evidence
   that there is nothing in view;
2. "ink" = how much darker (or lighter, for a light object on a dark background) each pixel is than the background
   there, relative to it: 1 - pixel / background. On a white background that is exactly Fashion-MNIST's negation
   255 - pixel, and the ratio is exposure- and gamma-independent (sRGB is a power law, ratios survive it); it is
   computed on each candidate's crop of the full-resolution frame (shrunk to at most CROP_SIDE px);
3. upright the crop if the object is tilted, trim it to the ink above the noise floor;
4. resize the longest edge to 28 (area averaging), centre on a black 28x28 canvas, stretch the ink to full white
   (Fashion-MNIST images reach 255: a low-contrast garment is not a faint one), sharpen a little (as Fashion-MNIST
   did after its resize).

`dataset` mode is for images already prepared like Fashion-MNIST (light object on dark, filling the frame): gray,
fit to 28x28, invert only if asked (or, with invert auto, if the background is light). `auto` picks `dataset` for
small images with a dark border and `photo` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import FashionEdgeError
from . import kernels
from .locate import MIN_INK, NOISE_FLOOR, Candidate, Scene, analyse, as_image, halves, shrink, to_gray

MODEL_SIZE = 28
PREPROCESS_MODES = ("auto", "photo", "dataset")
INVERT_MODES = ("auto", "on", "off")
DATASET_MAX_SIDE = 64  # auto: an image this small with a dark border is taken as already dataset-style
# (OpenCV calls on the per-frame path take their arguments by position, as in locate.py: keywords cost ~1 us a call)
CROP_SIDE = 112  # the object's crop is cut from the full frame and shrunk to at most this (4x the input)
SHARPEN_AMOUNT = 0.5


@dataclass(frozen=True)
class PreprocessConfig:
    """How frames become model input: `mode` auto|photo|dataset, optional `roi` (x, y, w, h), `invert` auto|on|off."""

    mode: str = "auto"
    roi: tuple[int, int, int, int] | None = None
    invert: str = "auto"

    def __post_init__(self) -> None:
        if self.mode not in PREPROCESS_MODES:
            raise FashionEdgeError(f"--preprocess {self.mode!r}: choose one of {', '.join(PREPROCESS_MODES)}")
        if self.invert not in INVERT_MODES:
            raise FashionEdgeError(f"--invert {self.invert!r}: choose one of {', '.join(INVERT_MODES)}")


DEFAULT_CONFIG = PreprocessConfig()


def parse_roi(text: str) -> tuple[int, int, int, int]:
    """'x,y,w,h' in pixels -> a tuple; FashionEdgeError on anything else."""
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise FashionEdgeError(f"--roi {text!r}: expected x,y,w,h in pixels, e.g. --roi 160,80,320,320") from None
    if x < 0 or y < 0 or w <= 0 or h <= 0:
        raise FashionEdgeError(f"--roi {text!r}: x and y must be >= 0, w and h > 0")
    return x, y, w, h


def crop_roi(frame: np.ndarray, roi: tuple[int, int, int, int] | None) -> np.ndarray:
    """The (x, y, w, h) region of `frame`, clipped to it; an ROI wholly outside the frame is an error."""
    if roi is None:
        return frame
    x, y, w, h = roi
    height, width = frame.shape[:2]
    x1, y1 = min(x + w, width), min(y + h, height)
    if x >= width or y >= height:
        raise FashionEdgeError(f"--roi {x},{y},{w},{h} lies outside the {width}x{height} frame")
    return frame[y:y1, x:x1]


def fit_to_square(image: np.ndarray, size: int = MODEL_SIZE) -> np.ndarray:
    """Resize so the longest edge is `size` (area averaging when shrinking), centre on a black size x size canvas."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), None, 0, 0, interpolation)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    bottom, right = size - new_h - top, size - new_w - left
    return cv2.copyMakeBorder(resized, top, bottom, left, right, cv2.BORDER_CONSTANT, None, 0)


def _border(gray: np.ndarray, frac: float = 0.08) -> np.ndarray:
    """The pixels of a band `frac` of each side wide around the image."""
    h, w = gray.shape
    b = max(1, round(min(h, w) * frac))
    return np.concatenate([gray[:b].ravel(), gray[-b:].ravel(), gray[b:-b, :b].ravel(), gray[b:-b, -b:].ravel()])


def is_dataset_style(gray: np.ndarray) -> bool:
    """Small and on a dark background, like a Fashion-MNIST image (or an upscaled one up to 64 px)."""
    return max(gray.shape) <= DATASET_MAX_SIDE and float(np.median(_border(gray))) < 64


def dataset_input(gray: np.ndarray, invert: str = "auto") -> np.ndarray:
    """An already dataset-style image -> 28x28; negated when `invert` is on, or auto and the border is light."""
    if invert == "on" or (invert == "auto" and float(np.median(_border(gray))) > 127):
        gray = 255 - gray
    return fit_to_square(gray)


@dataclass(frozen=True)
class Preprocessed:
    """A frame made ready for the model: the 28x28 input of the most garment-like object, where it came from,
    and the preprocessing's evidence that there is nothing in view (`nothing`, a reason, or None)."""

    inputs: list[np.ndarray]
    boxes: list[tuple[int, int, int, int] | None]  # (x, y, w, h) in frame pixels; None: the whole frame
    nothing: str | None = None
    objects: int = 1  # objects found (only the most garment-like one is cropped)
    prepared: bool = False  # an already 28x28-style input (dataset mode): taken as it is, garment included

    @property
    def model_input(self) -> np.ndarray:
        return self.inputs[0]


def _crop_input(frame: np.ndarray, scene: Scene, candidate: Candidate) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The candidate's ink cut from the full-resolution frame (at most CROP_SIDE px), uprighted, trimmed, 28x28."""
    x0, y0, x1, y1 = scene.frame_box(candidate, margin=2 if candidate.angle else 1)
    region = _gray_crop(frame, scene, (x0, y0, x1, y1))
    ch, cw = region.shape
    object_ink = scene.ink_of(region, (x0, y0, x1, y1))
    if candidate.angle:
        rot = cv2.getRotationMatrix2D((cw / 2, ch / 2), candidate.angle, 1.0)
        object_ink = cv2.warpAffine(object_ink, rot, (cw, ch), None, cv2.INTER_LINEAR, cv2.BORDER_CONSTANT, 0.0)
    floor = max(MIN_INK, NOISE_FLOOR * scene.noise)
    return _model_input(object_ink, _ink_box(object_ink, floor), floor), (x0, y0, x1 - x0, y1 - y0)


def _gray_crop(frame: np.ndarray, scene: Scene, box: tuple[int, int, int, int]) -> np.ndarray:
    """The gray frame's box (x0, y0, x1, y1), shrunk to at most CROP_SIDE px: cut from the halved frame the working
    copy was made through where shrinking halves the box anyway (its corner even: the same pixels), else converted
    from the frame's box alone (a small garment's box is a few percent of the frame)."""
    x0, y0, x1, y1 = box
    h, w = y1 - y0, x1 - x0
    if scene.half is not None and halves(h, w, CROP_SIDE) and not (x0 | y0) & 1:
        return shrink(scene.half[y0 // 2 : y0 // 2 + h // 2, x0 // 2 : x0 // 2 + w // 2], CROP_SIDE)
    return shrink(to_gray(frame[y0:y1, x0:x1]), CROP_SIDE)


def _ink_box(object_ink: np.ndarray, floor: float) -> tuple[int, int, int, int]:
    """The box (x, y, w, h) of the ink above `floor` after a 3x3 Gaussian (a speck of noise is not the garment's
    edge); all zeros if none: the kernel's one call, or the OpenCV reference."""
    if kernels.compiled is not None:
        return kernels.compiled.ink_box(object_ink, *object_ink.shape, floor)
    return cv2.boundingRect((cv2.GaussianBlur(object_ink, (3, 3), 0) > floor).view(np.uint8))


def _model_input(object_ink: np.ndarray, box: tuple[int, int, int, int], floor: float) -> np.ndarray:
    """The model input from the crop's ink: its box (x, y, w, h; all zeros: the whole crop) fitted to 28x28, stretched
    so the third brightest pixel is white (Fashion-MNIST images reach full white; at least `floor`), and sharpened:
    the kernel's one call, or the OpenCV and numpy reference."""
    if kernels.compiled is not None:
        out = np.empty((MODEL_SIZE, MODEL_SIZE), np.uint8)
        kernels.compiled.model_input(object_ink, *object_ink.shape, *box, MODEL_SIZE, floor, SHARPEN_AMOUNT, out)
        return out
    x, y, w, h = box
    square = fit_to_square(object_ink[y : y + h, x : x + w] if w and h else object_ink)
    flat = square.flatten()  # (a copy: partitioned in place)
    flat.partition(flat.size - 3)
    return sharpen(square, scale=255.0 / max(float(flat[-3]), floor, 1e-3))


def photo_preprocess(frame: np.ndarray, invert: str = "auto") -> Preprocessed:
    """A photo of a garment (BGR or gray, any size and lighting) -> Preprocessed (see the module docstring)."""
    frame = as_image(frame)
    scene = analyse(frame, invert)
    if not scene.candidates:  # an empty scene: show the model a blank input rather than noise blown up
        return Preprocessed([np.zeros((MODEL_SIZE, MODEL_SIZE), np.uint8)], [None], scene.reason)
    model_input, box = _crop_input(frame, scene, scene.candidates[0])  # the largest: see locate.find_candidates
    return Preprocessed([model_input], [box], scene.reason, len(scene.candidates))


def photo_input(frame: np.ndarray, invert: str = "auto") -> np.ndarray:
    """A photo of one garment -> 28x28 light-on-dark: the most prominent object's input."""
    return photo_preprocess(frame, invert).model_input


def sharpen(image: np.ndarray, amount: float = SHARPEN_AMOUNT, sigma: float = 1.0, scale: float = 1.0) -> np.ndarray:
    """Unsharp mask, Fashion-MNIST's step 4 ("Gaussian operator of radius and standard deviation 1.0"), of `image`
    times `scale`, rounded and saturated to uint8 (one OpenCV call does the mix, the rounding and the clipping).

    Its images were subsampled (crisp) and then sharpened; area-averaging a photo down to 28 px is softer. On 600
    photo renders the shipped int8 model scored 87.3% without this, 91.5% with it (92.7% on the dataset images);
    amounts 0.3-1.0 were tried, 0.5 was best.
    """
    f = image.astype(np.float32, copy=False)
    blurred = cv2.GaussianBlur(f, (0, 0), sigma)
    return cv2.addWeighted(f, (1.0 + amount) * scale, blurred, -amount * scale, 0.0, None, cv2.CV_8U)


def preprocess(frame: np.ndarray, config: PreprocessConfig | None = None) -> Preprocessed:
    """A BGR (or gray) uint8 frame of any size -> Preprocessed: the model input(s), their boxes, nothing evidence."""
    config = config or DEFAULT_CONFIG
    frame = crop_roi(np.asarray(frame), config.roi)
    if frame.size == 0:
        raise FashionEdgeError("empty image (0 pixels)")
    mode = config.mode
    if mode == "auto":
        mode = "dataset" if max(frame.shape[:2]) <= DATASET_MAX_SIDE and is_dataset_style(to_gray(frame)) else "photo"
    if mode == "dataset":
        return Preprocessed([dataset_input(to_gray(frame), config.invert)], [None], prepared=True)
    result = photo_preprocess(frame, config.invert)
    if config.roi is not None:  # boxes in the frame's coordinates, not the ROI's
        rx, ry = config.roi[:2]
        result = Preprocessed(
            result.inputs,
            [b and (b[0] + rx, b[1] + ry, b[2], b[3]) for b in result.boxes],
            result.nothing,
            result.objects,
        )
    return result


def to_model_input(frame: np.ndarray, config: PreprocessConfig | None = None) -> np.ndarray:
    """A BGR (or gray) uint8 frame of any size -> (28, 28) uint8, light object on dark, as the model expects."""
    return preprocess(frame, config).model_input


def naive_input(frame: np.ndarray) -> np.ndarray:
    """The pipeline people write first: gray and squash to 28x28. Kept as the baseline the benchmark compares to."""
    return cv2.resize(to_gray(frame), (MODEL_SIZE, MODEL_SIZE), interpolation=cv2.INTER_AREA)
