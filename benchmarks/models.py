"""What to benchmark: the `.tflite` variants (with their cards) in a folder or shipped in the package, plus an
optional Keras float model. Everything is checked here, before any long measurement starts."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..edge.card import VARIANTS, card_path, model_filename, read_card, verify_model_file
from ..errors import FashionEdgeError
from .device import tensorflow_version

KERAS = "keras"  # the variant name of the Keras float model (run by TensorFlow, not a TFLite runtime)


@dataclass(frozen=True)
class BenchModel:
    variant: str  # one of VARIANTS, or KERAS
    path: Path
    card: dict[str, Any] | None  # None for the Keras model
    size_bytes: int

    @property
    def is_keras(self) -> bool:
        return self.variant == KERAS

    @property
    def format(self) -> str:
        """The label in the results table, e.g. "TFLite int8" or "Keras float32"."""
        return "Keras float32" if self.is_keras else f"TFLite {self.variant}"


def shipped_models_dir() -> Path:
    """The folder of models shipped in the package (fashion_edge/edge/models)."""
    return Path(str(resources.files("fashion_edge.edge").joinpath("models")))


def discover(models_dir: Path | None = None, keras_model: Path | None = None) -> list[BenchModel]:
    """The TFLite variants found in `models_dir` (default: the shipped models), in VARIANTS order, each verified
    against its card, then the Keras model if given. Raises FashionEdgeError if there is nothing usable."""
    shipped = models_dir is None
    folder = shipped_models_dir() if shipped else Path(models_dir)
    if not folder.is_dir():
        raise FashionEdgeError(f"models directory {folder} does not exist; pass the --out of `fashion-edge convert`")
    models = []
    for variant in VARIANTS:
        path = folder / model_filename(variant)
        if not path.is_file():
            continue
        if not card_path(path).is_file():
            raise FashionEdgeError(
                f"{path} has no model card {card_path(path).name} beside it; re-run `fashion-edge convert` "
                "(the card says how to feed the model and is needed to measure accuracy)"
            )
        card = read_card(card_path(path))
        verify_model_file(path, card)
        models.append(BenchModel(variant, path, card, path.stat().st_size))
    if not models:
        where = "the package ships no models yet" if shipped else f"{folder} holds no fashion_<variant>.tflite"
        raise FashionEdgeError(
            f"nothing to benchmark: {where}; expected any of {', '.join(model_filename(v) for v in VARIANTS)}. "
            "Run `fashion-edge convert MODEL.keras --out DIR` and pass DIR"
        )
    if keras_model is not None:
        keras_model = Path(keras_model)
        if not keras_model.is_file() or keras_model.suffix != ".keras":
            raise FashionEdgeError(f"--keras-model {keras_model} is not a .keras file")
        if tensorflow_version() is None:
            raise FashionEdgeError("--keras-model needs TensorFlow: pip install 'fashion-edge[train]', or drop it")
        models.append(BenchModel(KERAS, keras_model, None, keras_model.stat().st_size))
    return models
