"""`fashion-edge parity IMAGE... --keras MODEL.keras`: `edge-classify parity` with the Keras model as a column.

Keras lives on this side of the pipeline: the edge command is TF-free, this one adds the float reference the
`.tflite` files were converted from (given with --keras, or the model.keras found in --models-dir).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import numpy as np

from ..edge.parity import ParityOptions, Variant, parity_command, run
from ..edge.postprocess import softmax
from ..edge.registry import KERAS_FILENAME
from ..errors import FashionEdgeError
from ..options import user_errors


def keras_variant(keras_path: Path, output_kind: str = "logits") -> Variant:
    """The Keras model as a parity column: raw 0..255 pixels in, as in training; softmax when it outputs logits."""
    from ..train.keras_io import keras_logits, load_keras_model

    model = load_keras_model(keras_path)

    def score(images_uint8: np.ndarray) -> np.ndarray:
        out = keras_logits(model, images_uint8)
        return softmax(out) if output_kind == "logits" else np.asarray(out, dtype=np.float32)

    return Variant("keras", Path(keras_path), "float32", score=score)


def _keras_path(models_dir: Path, keras_path: Path | None) -> Path:
    if keras_path is None and (Path(models_dir) / KERAS_FILENAME).is_file():
        return Path(models_dir) / KERAS_FILENAME
    if keras_path is None or not Path(keras_path).is_file():
        raise FashionEdgeError(f"--keras {keras_path or '(none)'}: no such file; pass the model.keras to compare")
    return Path(keras_path)


@click.command(
    "parity",
    params=[
        *parity_command.params,
        click.Option(
            ["--keras", "keras_path"],
            type=click.Path(path_type=Path, dir_okay=False),
            help="The model.keras to compare as well [default: MODELS_DIR/model.keras].",
        ),
    ],
)
def parity_keras_command(keras_path: Path | None, **params: Any) -> None:
    """Run IMAGES through the Keras model and every TFLite variant present (needs TensorFlow)."""
    with user_errors():
        options = ParityOptions(**params)
        keras = _keras_path(options.models_dir, keras_path)
        code = run(options, extra=[keras_variant(keras)])
    sys.exit(code)
