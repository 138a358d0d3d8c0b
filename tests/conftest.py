"""Shared fixtures. The tiny model is trained once per session on a slice of the real data (TensorFlow needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fashion_edge.data import FashionMNIST, load_fashion_mnist

# Python source that makes TensorFlow, Keras and tf-keras unimportable in a subprocess (prefix it to the code run
# there). Every attempt is recorded and reported on stderr at exit, so a test can prove none was even tried.
BLOCK_TENSORFLOW = """
import atexit, importlib.abc, sys
attempts = []
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
            attempts.append(name)
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
atexit.register(lambda: attempts and print("TF IMPORT ATTEMPTED:", attempts, file=sys.stderr))
"""

# A model small enough to train in seconds on a slice, yet it must learn (tests assert it beats chance).
TINY_STAGES = ((8,), (16,), (16,))


@pytest.fixture(scope="session")
def fmnist() -> FashionMNIST:
    """The real Fashion-MNIST (Debian's dataset-fashion-mnist or $FASHION_MNIST_DIR); never downloads in tests."""
    return load_fashion_mnist(download=False)


@pytest.fixture(scope="session")
def tiny_training(tmp_path_factory):
    """TrainResult of a tiny CNN: 2 epochs on 1,500 training images (model, paths, accuracies)."""
    pytest.importorskip("tensorflow")
    from fashion_edge.train.fit import TrainConfig, train
    from fashion_edge.train.model import ModelConfig

    out = tmp_path_factory.mktemp("tiny_model")
    cfg = TrainConfig(profile="test", epochs=2, batch_size=64, train_limit=1500, model=ModelConfig(stages=TINY_STAGES))
    return train(cfg, out, verbose=0)


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_training) -> Path:
    """Directory with model.keras + history.json + training.json of the tiny CNN."""
    return tiny_training.model_path.parent


@pytest.fixture(scope="session")
def tiny_tflite_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """`tiny_model_dir`'s model converted to all four variants (fashion_<variant>.tflite + card), verified on
    the first 500 test images with 100 calibration images: small, so the session pays seconds for it."""
    pytest.importorskip("tensorflow")
    from fashion_edge.convert.tflite import convert_model

    out = tmp_path_factory.mktemp("tiny_tflite")
    convert_model(tiny_model_dir / "model.keras", out, calibration_images=100, verify_limit=500)
    return out
