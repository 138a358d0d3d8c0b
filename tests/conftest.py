"""Shared fixtures (helpers live in helpers.py). The tiny model is trained once per session on a slice of the real
data (TensorFlow needed); `edge_models` is what the edge and benchmark tests run: that tiny model converted when
TensorFlow is installed, else the models shipped in the package, so those tests also run on an edge-only install.

Every test that needs TensorFlow is marked `slow`: explicitly, or here, by the fixtures it uses.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import BLOCK_TENSORFLOW, TINY_STAGES  # noqa: F401 - re-exported: `from conftest import ...` still works

from fashion_edge.data import FashionMNIST, load_fashion_mnist
from fashion_edge.edge.registry import shipped_dir
from fashion_edge.host import module_installed

HAVE_TENSORFLOW = module_installed("tensorflow")
# fixtures that train or convert, so a test using one needs TensorFlow (edge_models only where it is installed)
TRAINED = {"tiny_training", "tiny_model_dir", "tiny_tflite_dir"}
TENSORFLOW_FIXTURES = TRAINED | {"edge_models"} if HAVE_TENSORFLOW else TRAINED


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if TENSORFLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


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


@pytest.fixture(scope="session")
def edge_models(request) -> Path:
    """fashion_int8 and fashion_float32 (+ cards) for the edge and benchmark tests: `tiny_tflite_dir` when
    TensorFlow is installed (the pipeline end to end), else the shipped small models (an edge-only install)."""
    return request.getfixturevalue("tiny_tflite_dir") if HAVE_TENSORFLOW else shipped_dir()


@pytest.fixture(scope="session")
def shipped_int8():
    """The shipped small int8 model: its card carries the calibrated "nothing in view" threshold."""
    from fashion_edge.edge.registry import shipped_model
    from fashion_edge.errors import FashionEdgeError

    try:
        return shipped_model("int8")
    except FashionEdgeError:
        pytest.skip("no shipped model in this checkout (make model)")
