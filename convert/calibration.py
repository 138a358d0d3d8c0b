"""Representative images for full-int8 calibration: from the TRAINING split, stratified per class, seeded.

The test set is never used for calibration: it is the set the int8 model is judged on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from ..data import stratified_sample
from ..errors import FashionEdgeError

DEFAULT_CALIBRATION_IMAGES = 500
MIN_CALIBRATION_IMAGES = 50  # below this the activation ranges are noise (and some classes get no image at all)
CALIBRATION_SEED = 0
SOURCE = "fashion-mnist train split, stratified per class"


@dataclass(frozen=True)
class Calibration:
    images: np.ndarray  # uint8 (N, 28, 28)
    seed: int
    source: str = SOURCE

    def to_card(self) -> dict:
        return {"images": int(len(self.images)), "source": self.source, "seed": self.seed}


def calibration_set(
    x_train: np.ndarray,
    y_train: np.ndarray,
    count: int = DEFAULT_CALIBRATION_IMAGES,
    seed: int = CALIBRATION_SEED,
    augment: bool = False,
) -> Calibration:
    """`count` training images, the same number from every class (remainder drawn at random), seeded. With
    `augment`, followed by a horizontally flipped, shifted copy of each (what training showed the model)."""
    if count < MIN_CALIBRATION_IMAGES:
        raise FashionEdgeError(
            f"--calibration {count} is too few images; use at least {MIN_CALIBRATION_IMAGES} "
            f"(default {DEFAULT_CALIBRATION_IMAGES})"
        )
    if count > len(x_train):
        raise FashionEdgeError(f"--calibration {count} exceeds the {len(x_train)} training images")
    num_classes = len(np.unique(y_train))
    idx = stratified_sample(y_train, math.ceil(count / num_classes), seed)
    if len(idx) > count:
        idx = np.sort(np.random.default_rng(seed).choice(idx, size=count, replace=False))
    images = x_train[idx]
    # uint8 input with scale 1 / zero point 0 needs the input range calibrated to exactly 0..255.
    if images.min() != 0 or images.max() != 255:
        raise FashionEdgeError(
            f"the calibration images span pixels {images.min()}..{images.max()}, not 0..255; "
            "use more calibration images or check the training data"
        )
    if augment:
        images = np.concatenate([images, augmented_copies(images, seed)])
    return Calibration(images, seed, SOURCE + (", plus flipped/shifted copies" if augment else ""))


def augmented_copies(images: np.ndarray, seed: int, max_shift: int = 2) -> np.ndarray:
    """Each image flipped left-right and shifted by up to `max_shift` px (zero fill), seeded."""
    rng = np.random.default_rng(seed)
    out = np.zeros_like(images)
    for i, (dy, dx) in enumerate(rng.integers(-max_shift, max_shift + 1, size=(len(images), 2))):
        out[i] = np.roll(images[i, :, ::-1], (dy, dx), axis=(0, 1))
    return out


def representative_dataset(images_uint8: np.ndarray) -> Callable[[], Iterator[list[np.ndarray]]]:
    """The converter's generator: one float32 (1, 28, 28, 1) raw-pixel image at a time (the Keras model's input)."""

    def generate() -> Iterator[list[np.ndarray]]:
        for image in images_uint8:
            yield [image.reshape(1, 28, 28, 1).astype(np.float32)]

    return generate
