"""Loading a trained `.keras` model and running it on raw images: the one Keras-inference helper.

Used wherever Keras itself is run (training's evaluation, conversion's float reference, the report, the Keras
benchmark worker, parity against Keras). Keras is imported inside the functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..data import CLASS_NAMES
from ..errors import FashionEdgeError

PREDICT_BATCH_SIZE = 512


def keras_model_path(model_path: Path) -> Path:
    """`model_path` if it names an existing `.keras` file (checked without importing Keras); FashionEdgeError else."""
    model_path = Path(model_path)
    if not model_path.is_file():
        raise FashionEdgeError(f"model {model_path} not found; pass the model.keras written by `fashion-edge train`")
    if model_path.suffix != ".keras":
        raise FashionEdgeError(f"{model_path} is not a .keras file; pass the model.keras from `fashion-edge train`")
    return model_path


def load_keras_model(model_path: Path) -> Any:
    """Load a `.keras` file and check it is a 28x28x1 -> 10 classifier; FashionEdgeError otherwise."""
    model_path = keras_model_path(model_path)
    import keras

    try:
        model = keras.models.load_model(model_path, compile=False)
    except Exception as e:  # noqa: BLE001 - Keras raises ValueError, OSError, zipfile errors, KeyError... for bad files
        raise FashionEdgeError(f"{model_path} could not be loaded as a Keras model ({type(e).__name__}: {e})") from e
    in_shape, out_shape = tuple(model.input_shape[1:]), tuple(model.output_shape[1:])
    if in_shape != (28, 28, 1):
        raise FashionEdgeError(f"{model_path} takes input {in_shape}, expected (28, 28, 1) grayscale Fashion-MNIST")
    if out_shape != (len(CLASS_NAMES),):
        raise FashionEdgeError(f"{model_path} outputs {out_shape}, expected ({len(CLASS_NAMES)},) class logits")
    return model


def keras_logits(model: Any, images_uint8: np.ndarray, batch_size: int = PREDICT_BATCH_SIZE) -> np.ndarray:
    """The model's outputs (N, 10) for raw uint8 images (N, 28, 28): 0..255 float pixels in, as in training."""
    x = np.asarray(images_uint8)[..., None].astype(np.float32)
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
