"""Camera-like training inputs (train/camera.py): real preprocessing outputs of rendered training images, seeded,
held-out images kept out. TF-free."""

from __future__ import annotations

import numpy as np

from fashion_edge.benchmarks.calibrate_nothing import calibration_indices
from fashion_edge.edge.preprocess import is_dataset_style
from fashion_edge.train import camera
from fashion_edge.train.camera import camera_set


def test_camera_inputs_are_preprocessed_frames_of_the_pooled_images(fmnist, monkeypatch):
    monkeypatch.setattr(camera, "CHUNK", 8)  # three chunks: the seeds per chunk are exercised
    pool = np.arange(200)
    x, y = camera_set(fmnist.x_train, fmnist.y_train, pool, 20, seed=3, workers=1)
    assert x.dtype == np.uint8 and x.shape[1:] == (28, 28) and 15 <= len(x) <= 20  # a frame may be turned away
    assert all(is_dataset_style(image) for image in x)  # light garment on black, like the dataset
    assert not any(np.array_equal(image, fmnist.x_train[i]) for image in x for i in pool)  # rendered, not copied
    # each input is its garment's: the labels are the pooled images' labels, in draw order
    assert set(y.tolist()) <= set(fmnist.y_train[pool].tolist())
    again_x, again_y = camera_set(fmnist.x_train, fmnist.y_train, pool, 20, seed=3, workers=2)
    np.testing.assert_array_equal(x, again_x)  # any number of worker processes: the same set
    np.testing.assert_array_equal(y, again_y)


def test_calibration_images_are_never_rendered_for_training(fmnist, monkeypatch):
    held_out = calibration_indices(fmnist.y_train)
    drawn = []
    real = camera._render_chunk

    def spy(images, labels, seed, chunk, start):
        drawn.extend(images.reshape(len(images), -1).sum(axis=1).tolist())
        return real(images[:1], labels[:1], seed, chunk, start)

    monkeypatch.setattr(camera, "_render_chunk", spy)
    pool = np.concatenate([held_out, np.arange(60000)[~np.isin(np.arange(60000), held_out)][:40]])
    camera_set(fmnist.x_train, fmnist.y_train, pool, 40, seed=0, workers=1)
    assert len(drawn) == 40  # only the 40 images outside the calibration set were left to draw
    assert not set(drawn) & set(fmnist.x_train[held_out].reshape(len(held_out), -1).sum(axis=1).tolist())
