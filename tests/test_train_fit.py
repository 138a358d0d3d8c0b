"""Training on a slice of the real data: it learns, saves atomically, reloads identically, and repeats."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import TINY_STAGES

pytestmark = pytest.mark.slow  # every test here trains or builds a Keras model
pytest.importorskip("tensorflow")

from fashion_edge.train.fit import TrainConfig, augment_batch, train  # noqa: E402 - only where TensorFlow is
from fashion_edge.train.model import ModelConfig, build_model  # noqa: E402


def test_tiny_training_learns_and_saves(tiny_training, fmnist):
    keras = pytest.importorskip("keras")
    history = json.loads(tiny_training.history_path.read_text())
    assert history["loss"][-1] < history["loss"][0]
    assert tiny_training.test_accuracy > 0.4  # chance is 0.1; 2 epochs on 1,500 images
    info = json.loads(tiny_training.training_path.read_text())
    assert info["train_images"] == 1500 and info["labels"][0] == "T-shirt/top"
    assert {"tensorflow", "keras", "numpy"} <= set(info["versions"])
    reloaded = keras.saving.load_model(tiny_training.model_path)
    images = fmnist.x_test[:256, ..., None].astype("float32")
    np.testing.assert_allclose(
        reloaded.predict(images, verbose=0), tiny_training.model.predict(images, verbose=0), atol=1e-5
    )
    # The saved model is the inference graph only: no augmentation layers were exported.
    assert not any("random" in layer.name or "augment" in layer.name for layer in reloaded.layers)
    leftovers = [p.name for p in tiny_training.model_path.parent.iterdir() if ".tmp" in p.name]
    assert leftovers == []


def test_same_seed_same_weights(tmp_path):
    pytest.importorskip("tensorflow")
    cfg = TrainConfig(profile="test", epochs=1, batch_size=64, train_limit=300, model=ModelConfig(stages=TINY_STAGES))
    a = train(cfg, tmp_path / "a", verbose=0).model.get_weights()
    b = train(cfg, tmp_path / "b", verbose=0).model.get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_model_fits_int8_budget():
    pytest.importorskip("keras")
    model = build_model()
    assert model.count_params() <= 150_000
    ops = {type(layer).__name__ for layer in model.layers}
    assert ops <= {"InputLayer", "Rescaling", "Conv2D", "BatchNormalization", "ReLU", "MaxPooling2D",
                   "GlobalAveragePooling2D", "Dropout", "Dense"}  # fmt: skip


def test_augmentation_keeps_shape_range_and_changes_images(fmnist):
    x = fmnist.x_train[:64, ..., None].astype(np.float32)
    out = augment_batch(x, np.random.default_rng(0))
    assert out.shape == x.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 255
    assert not np.array_equal(out, x)
    assert np.array_equal(out, augment_batch(x, np.random.default_rng(0)))
