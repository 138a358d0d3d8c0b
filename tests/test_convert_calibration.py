"""convert/calibration: stratified, seeded, from the training split, spanning the full pixel range."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_edge.convert.calibration import MIN_CALIBRATION_IMAGES, calibration_set, representative_dataset
from fashion_edge.errors import FashionEdgeError


def test_calibration_is_stratified_and_seeded(fmnist):
    cal = calibration_set(fmnist.x_train, fmnist.y_train, 205, seed=3)
    assert cal.images.shape == (205, 28, 28) and cal.images.dtype == np.uint8
    assert cal.to_card() == {"images": 205, "source": cal.source, "seed": 3}
    again = calibration_set(fmnist.x_train, fmnist.y_train, 205, seed=3)
    np.testing.assert_array_equal(cal.images, again.images)
    other = calibration_set(fmnist.x_train, fmnist.y_train, 205, seed=4)
    assert not np.array_equal(cal.images, other.images)


def test_every_class_is_represented_equally(fmnist):
    labels = fmnist.y_train
    # Find the labels of the chosen images by matching them back to the training set.
    cal = calibration_set(fmnist.x_train, labels, 300, seed=0)
    flat = fmnist.x_train.reshape(len(labels), -1)
    index = {row.tobytes(): i for i, row in enumerate(flat)}
    chosen = labels[[index[img.tobytes()] for img in cal.images.reshape(len(cal.images), -1)]]
    np.testing.assert_array_equal(np.bincount(chosen, minlength=10), np.full(10, 30))


def test_too_few_images_is_an_error(fmnist):
    with pytest.raises(FashionEdgeError, match="too few"):
        calibration_set(fmnist.x_train, fmnist.y_train, MIN_CALIBRATION_IMAGES - 1)


def test_calibration_that_misses_the_pixel_range_is_an_error():
    dim = np.full((100, 28, 28), 40, dtype=np.uint8)  # uint8 input at scale 1 needs 0..255 to be seen
    with pytest.raises(FashionEdgeError, match="0..255"):
        calibration_set(dim, np.repeat(np.arange(10), 10), 60)


def test_representative_dataset_yields_single_float_images():
    images = np.arange(3 * 784, dtype=np.uint8).reshape(3, 28, 28)
    batches = list(representative_dataset(images)())
    assert len(batches) == 3
    assert batches[0][0].shape == (1, 28, 28, 1) and batches[0][0].dtype == np.float32
    assert batches[2][0].max() == images[2].max()
