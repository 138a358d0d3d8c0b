"""The model card: the JSON beside every `.tflite` that says how to feed it and how to check it.

Schema (format_version 1):
    {format_version, variant, labels[10],
     input:  {shape, dtype, scale, zero_point, layout, colour, background},
     output: {dtype, scale, zero_point, kind: logits|probabilities},
     quantization: {scheme, method, tool, calibration}, sha256, size_bytes, source_model_sha256,
     metrics: {test_accuracy, agreement_with_float}, created_by}
The edge runtime needs nothing but the `.tflite` and its card.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..artifacts import atomic_write_json, read_json, sha256_file
from ..errors import FashionEdgeError

FORMAT_VERSION = 1
REQUIRED_KEYS = ("format_version", "variant", "labels", "input", "output", "quantization", "sha256", "size_bytes")
TFLITE_IDENTIFIER = b"TFL3"  # FlatBuffer file identifier, bytes 4..8 of every .tflite


def card_path(model_path: Path) -> Path:
    """The card of `fashion_int8.tflite` is `fashion_int8.json`, beside it."""
    return Path(model_path).with_suffix(".json")


def write_card(model_path: Path, card: dict[str, Any]) -> Path:
    """Write the card for `model_path` atomically; fills in sha256 and size_bytes from the file itself."""
    model_path = Path(model_path)
    card = {"format_version": FORMAT_VERSION, **card, "sha256": sha256_file(model_path),
            "size_bytes": model_path.stat().st_size}  # fmt: skip
    path = card_path(model_path)
    atomic_write_json(path, card)
    return path


def read_card(path: Path) -> dict[str, Any]:
    """Load and sanity-check a card; FashionEdgeError says which file and what is wrong."""
    path = Path(path)
    card = read_json(path, "every .tflite needs its card beside it (fashion_int8.tflite -> fashion_int8.json)")
    missing = [k for k in REQUIRED_KEYS if k not in card] if isinstance(card, dict) else list(REQUIRED_KEYS)
    if missing:
        raise FashionEdgeError(f"model card {path} lacks {', '.join(missing)}")
    if card["format_version"] > FORMAT_VERSION:
        raise FashionEdgeError(f"model card {path} has format_version {card['format_version']}; upgrade fashion-edge")
    if len(card["labels"]) != 10:
        raise FashionEdgeError(f"model card {path} lists {len(card['labels'])} labels, expected 10")
    return card


def verify_model_file(model_path: Path, card: dict[str, Any], *, check_hash: bool = True) -> None:
    """Refuse a missing, truncated, non-TFLite or swapped model before the interpreter ever sees it."""
    model_path = Path(model_path)
    if not model_path.is_file():
        raise FashionEdgeError(f"model {model_path} not found")
    size = model_path.stat().st_size
    with open(model_path, "rb") as f:
        head = f.read(8)
    if len(head) < 8 or head[4:8] != TFLITE_IDENTIFIER:
        raise FashionEdgeError(f"{model_path} is not a TFLite model (no TFL3 identifier)")
    if size != card["size_bytes"]:
        raise FashionEdgeError(
            f"{model_path} is {size} bytes but its card says {card['size_bytes']}: truncated or replaced; "
            "re-run `fashion-edge convert` or pass --no-verify"
        )
    if check_hash and sha256_file(model_path) != card["sha256"]:
        raise FashionEdgeError(
            f"{model_path} does not match the sha256 in its card: the file was changed; "
            "re-run `fashion-edge convert` or pass --no-verify"
        )


def check_tensors(interpreter: Any, card: dict[str, Any], model_path: Path) -> tuple[dict, dict]:
    """(input, output) tensor details, once the card is shown to describe them (dtype, scale, zero point).

    A mismatch means the card belongs to another model.
    """
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    for role, details in (("input", inp), ("output", out)):
        spec = card[role]
        scale, zero_point = details["quantization"]
        dtype = np.dtype(details["dtype"]).name
        if dtype != spec["dtype"] or not np.isclose(scale, spec["scale"]) or int(zero_point) != int(spec["zero_point"]):
            raise FashionEdgeError(
                f"{model_path}: its card says {role} {spec['dtype']} scale {spec['scale']} zero point "
                f"{spec['zero_point']}, the model has {dtype} scale {scale} zero point {zero_point}; "
                "the card belongs to another model, re-run `fashion-edge convert`"
            )
    return inp, out
