"""What to benchmark: the `.tflite` variants (with their cards) in a folder or shipped in the package, plus an
optional Keras float model. Everything is checked here, before any long measurement starts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..edge.registry import DEFAULT_SIZE, SHIPPED_VARIANTS, SIZES, find_models, shipped_dir
from ..edge.variants import BY_NAME
from ..errors import FashionEdgeError
from ..host import tensorflow_version

KERAS = "keras"  # the variant name of the Keras float model (run by TensorFlow, not a TFLite runtime)


@dataclass(frozen=True)
class BenchModel:
    variant: str  # a row of edge.variants.TABLE, or KERAS
    model: str  # the network: a shipped size (small, nano) or the models folder's name
    path: Path
    card: dict[str, Any] | None  # None for the Keras model
    size_bytes: int

    @property
    def is_keras(self) -> bool:
        return self.variant == KERAS

    @property
    def key(self) -> tuple[str, str]:
        return self.model, self.variant

    @property
    def format(self) -> str:
        """The label in the results table, e.g. "small TFLite int8" or "small Keras float32"."""
        return f"{self.model} {'Keras float32' if self.is_keras else BY_NAME[self.variant].display}"


def discover(models_dir: Path | None = None, keras_model: Path | None = None) -> list[BenchModel]:
    """The TFLite variants found in `models_dir` by the model registry — by default every shipped size (small,
    nano), so one run puts the size ladder side by side — then the Keras model if given. Raises FashionEdgeError if
    there is nothing usable."""
    if models_dir is None:
        folders = {size: shipped_dir(size) for size in SIZES if shipped_dir(size).is_dir()}
        folders = folders or {SIZES[0]: shipped_dir(SIZES[0])}  # none at all: the registry's error names the fix
    else:
        folders = {Path(models_dir).name or str(models_dir): Path(models_dir)}
    models = []
    for name, folder in folders.items():
        found = find_models(folder, purpose="nothing to benchmark")
        models += [BenchModel(m.variant, name, m.path, m.card, m.path.stat().st_size) for m in found]
    if keras_model is not None:
        keras_model = Path(keras_model)
        if not keras_model.is_file() or keras_model.suffix != ".keras":
            raise FashionEdgeError(f"--keras-model {keras_model} is not a .keras file")
        if tensorflow_version() is None:
            raise FashionEdgeError("--keras-model needs TensorFlow: pip install 'fashion-edge[train]', or drop it")
        models.append(BenchModel(KERAS, keras_model.parent.name, keras_model, None, keras_model.stat().st_size))
    return models


def model_options(with_variant: bool = True) -> Callable[[Callable], Callable]:
    """--model PATH, --model-size (and --variant): how a benchmark command picks the model(s) it measures. Without
    the variant a command takes every shipped variant of the size."""
    import click

    default = "the shipped int8 model of --model-size" if with_variant else "the shipped models of --model-size"

    def decorate(command: Callable) -> Callable:
        if with_variant:
            variant = click.option("--variant", type=click.Choice(SHIPPED_VARIANTS), default="int8", show_default=True)
            command = variant(command)
        size = click.option("--model-size", type=click.Choice(SIZES), default=DEFAULT_SIZE, show_default=True)
        command = size(command)
        return click.option(
            "--model",
            "model_path",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help=f"A .tflite with its card beside it (default: {default}).",
        )(command)

    return decorate
