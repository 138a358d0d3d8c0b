"""The model registry: where the shipped models live, how a folder's models are found, and the card check.

Shipped models: `edge/models/<size>/fashion_<variant>.tflite` + card (+ the training.json they came from), one
folder per network size (`small`, the default, and `nano`); `make model` writes them. A folder of models (the
`--out` of `fashion-edge convert`) holds `fashion_<variant>.tflite` files named after the rows of `variants.TABLE`;
each is used only with its card beside it and after the card check (`load`).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import FashionEdgeError
from .card import card_path, read_card, verify_model_file
from .variants import ALL_VARIANTS, model_filename

SIZES = ("small", "nano")  # network sizes shipped in the package, one folder each
DEFAULT_SIZE = "small"
DEFAULT_VARIANT = "int8"
SHIPPED_VARIANTS = ("int8", "float32")  # what `make model` copies into each size folder
KERAS_FILENAME = "model.keras"  # `fashion-edge train`'s output, which convert's folder may hold too


@dataclass(frozen=True)
class Model:
    """One `.tflite` that passed the card check."""

    variant: str
    path: Path
    card: dict[str, Any]

    @property
    def size_bytes(self) -> int:
        return int(self.card["size_bytes"])


def shipped_dir(size: str = DEFAULT_SIZE) -> Path:
    """The folder of shipped models of network size `size` (fashion_edge/edge/models/<size>)."""
    if size not in SIZES:
        raise FashionEdgeError(f"unknown model size {size!r}; choose one of {', '.join(SIZES)}")
    return Path(str(resources.files("fashion_edge.edge").joinpath("models", size)))


def shipped_model(variant: str = DEFAULT_VARIANT, size: str = DEFAULT_SIZE) -> Path:
    """The shipped `fashion_<variant>.tflite` of network size `size`; FashionEdgeError if this install lacks it."""
    if variant not in SHIPPED_VARIANTS:
        raise FashionEdgeError(f"--variant {variant!r}: the package ships {', '.join(SHIPPED_VARIANTS)}")
    path = shipped_dir(size) / model_filename(variant)
    if not path.is_file():
        raise FashionEdgeError(
            f"no shipped {size} model here ({path} is missing); run `make model` to build it, or pass --model PATH "
            "(a .tflite with its .json card beside it)"
        )
    return path


def load(path: Path, *, check_hash: bool = True) -> Model:
    """The card check: the card beside `path` is read and the file checked against it (size, identifier, hash)."""
    path = Path(path)
    if path.is_file() and not card_path(path).is_file():
        raise FashionEdgeError(
            f"{path} has no model card {card_path(path).name} beside it; every .tflite needs its card (it says how "
            "to feed the model): re-run `fashion-edge convert`"
        )
    card = read_card(card_path(path))
    verify_model_file(path, card, check_hash=check_hash)
    return Model(str(card.get("variant", "")), path, card)


def find_models(folder: Path, *, purpose: str = "no models") -> list[Model]:
    """Every `fashion_<variant>.tflite` in `folder`, in `variants.TABLE` order, each after the card check.

    FashionEdgeError when the folder is missing or holds none (`purpose` starts that message, e.g. "nothing to
    benchmark").
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FashionEdgeError(f"models directory {folder} does not exist; pass the --out of `fashion-edge convert`")
    paths = {v: folder / model_filename(v) for v in ALL_VARIANTS}
    models = [Model(v, path, load(path).card) for v, path in paths.items() if path.is_file()]
    if not models:
        raise FashionEdgeError(
            f"{purpose}: {folder} holds no fashion_<variant>.tflite with its card (any of "
            f"{', '.join(model_filename(v) for v in ALL_VARIANTS)}); run `fashion-edge convert MODEL.keras --out DIR` "
            "and pass DIR"
        )
    return models
