"""The model card: the JSON beside every `.tflite` that says how to feed it and how to check it.

Schema (format_version 1):
    {format_version, variant, labels[10],
     input:  {shape, dtype, scale, zero_point, layout, colour, background},
     output: {dtype, scale, zero_point, kind: logits|probabilities},
     quantization: {scheme, method, tool, calibration}, sha256, size_bytes, source_model_sha256,
     metrics: {test_accuracy, agreement_with_float}, created_by}
The edge runtime needs nothing but the `.tflite` and its card.

A card is not trusted: it is read only if it is a regular file within the `max-card-bytes` limit (so a FIFO, a link
to /dev/zero or a huge file is refused unread), its structure, types and ranges are checked (`card_problems`), and
once the interpreter has the model, `check_tensors` checks the card against the graph: quantization parameters,
label count = output size, and `output.kind` = whether the graph ends in a softmax.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..artifacts import atomic_write_json, sha256_file
from ..errors import FashionEdgeError
from . import limits

FORMAT_VERSION = 1
REQUIRED_KEYS = ("format_version", "variant", "labels", "input", "output", "quantization", "sha256", "size_bytes")
TFLITE_IDENTIFIER = b"TFL3"  # FlatBuffer file identifier, bytes 4..8 of every .tflite


def card_path(model_path: Path) -> Path:
    """The card of `fashion_int8.tflite` is `fashion_int8.json`, beside it."""
    return Path(model_path).with_suffix(".json")


def write_card(model_path: Path, card: dict[str, Any]) -> Path:
    """Write the card for `model_path` atomically; fills in sha256 and size_bytes from the file itself."""
    model_path = Path(model_path)
    card = {
        "format_version": FORMAT_VERSION,
        **card,
        "sha256": sha256_file(model_path),
        "size_bytes": model_path.stat().st_size,
    }
    path = card_path(model_path)
    atomic_write_json(path, card)
    return path


def read_card(path: Path) -> dict[str, Any]:
    """Read and check a card (see the module docstring); FashionEdgeError says which file and what is wrong."""
    path = Path(path)
    if not os.path.lexists(path):
        raise FashionEdgeError(
            f"{path} not found; every .tflite needs its card beside it (fashion_int8.tflite -> fashion_int8.json)"
        )
    try:
        card = json.loads(limits.read_bounded(path, "model card", "max-card-bytes"))
    except FashionEdgeError as e:
        raise FashionEdgeError(f"model card {path}: {e}") from e
    except (ValueError, RecursionError) as e:  # RecursionError: nested deeper than the parser goes
        reason = "nested too deeply" if isinstance(e, RecursionError) else str(e)
        raise FashionEdgeError(f"model card {path} is not JSON ({reason}); re-run `fashion-edge convert`") from e
    problems = card_problems(card)
    if problems:
        raise FashionEdgeError(f"model card {path}: {'; '.join(problems)}")
    return card


_DTYPE_RANGES = {"uint8": (0, 255), "int8": (-128, 127), "int16": (-32768, 32767), "float32": (0, 0), "float16": (0, 0)}
OUTPUT_KINDS = ("logits", "probabilities")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _tensor_problems(role: str, spec: Any) -> list[str]:
    """What is wrong with the card's `input` or `output` block (types and ranges)."""
    if not isinstance(spec, dict):
        return [f"{role} must be an object, not {type(spec).__name__}"]
    problems = []
    dtype = spec.get("dtype")
    if not isinstance(dtype, str) or dtype not in _DTYPE_RANGES:
        problems.append(f"{role}.dtype must be one of {', '.join(_DTYPE_RANGES)}, not {dtype!r}")
    scale, zero_point = spec.get("scale"), spec.get("zero_point")
    if not _is_number(scale) or scale < 0:
        problems.append(f"{role}.scale must be a finite number >= 0, not {scale!r}")
    low, high = _DTYPE_RANGES.get(dtype, (-(2**31), 2**31 - 1)) if isinstance(dtype, str) else (0, 0)
    if not _is_int(zero_point) or not low <= zero_point <= high:
        problems.append(f"{role}.zero_point must be an integer in {low}..{high} for {dtype}, not {zero_point!r}")
    if role == "input":
        shape = spec.get("shape")
        if not isinstance(shape, list) or not shape or not all(_is_int(s) and s > 0 for s in shape):
            problems.append(f"input.shape must be a list of positive integers, not {shape!r}")
    elif not isinstance(spec.get("kind", "logits"), str) or spec.get("kind", "logits") not in OUTPUT_KINDS:
        problems.append(f"output.kind must be one of {', '.join(OUTPUT_KINDS)}, not {spec.get('kind')!r}")
    return problems


def card_problems(card: Any) -> list[str]:
    """Everything wrong with a card's structure, types and ranges (empty when sound); see the module docstring."""
    if not isinstance(card, dict):
        return [f"the card must be a JSON object, not {type(card).__name__}"]
    missing = [k for k in REQUIRED_KEYS if k not in card]
    if missing:
        return [f"lacks {', '.join(missing)}"]
    problems = []
    version = card["format_version"]
    if not _is_int(version) or version < 1:
        problems.append(f"format_version must be a positive integer, not {version!r}")
    elif version > FORMAT_VERSION:
        problems.append(f"has format_version {version}, newer than this fashion-edge reads; upgrade fashion-edge")
    labels = card["labels"]
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x.strip() for x in labels):
        problems.append("labels must be a list of non-empty strings")
    elif len(set(labels)) != len(labels):
        problems.append("labels must not repeat")
    if not isinstance(card["variant"], str):
        problems.append(f"variant must be a string, not {card['variant']!r}")
    sha = card["sha256"]
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
        problems.append("sha256 must be 64 lowercase hex digits")
    if not _is_int(card["size_bytes"]) or card["size_bytes"] <= 0:
        problems.append(f"size_bytes must be a positive integer, not {card['size_bytes']!r}")
    if not isinstance(card["quantization"], dict):
        problems.append("quantization must be an object")
    return problems + _tensor_problems("input", card["input"]) + _tensor_problems("output", card["output"])


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
    outputs, labels = int(np.prod(out["shape"])), len(card["labels"])
    if outputs != labels:
        raise FashionEdgeError(
            f"{model_path}: its card lists {labels} labels but the model outputs {outputs} scores; "
            "the card belongs to another model, re-run `fashion-edge convert`"
        )
    kind, claimed = graph_output_kind(interpreter), card["output"].get("kind", "logits")
    if kind is not None and kind != claimed:
        raise FashionEdgeError(
            f"{model_path}: its card says the output is {claimed}, but the graph's last "
            f"layer gives {kind}; fix output.kind or re-run `fashion-edge convert`"
        )
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


# ops that only move or re-encode values: what comes out of them is what went in (a softmax stays a softmax)
_PASS_THROUGH_OPS = frozenset({"QUANTIZE", "DEQUANTIZE", "RESHAPE", "SQUEEZE", "CAST", "IDENTITY"})


def graph_output_kind(interpreter: Any) -> str | None:
    """'probabilities' when the op that computes the output is SOFTMAX (seen through re-encoding ops), 'logits'
    for any other op, None when the runtime cannot list its ops."""
    try:  # a private method, but the one way an interpreter shows its graph
        ops = [op for op in interpreter._get_ops_details() if op["op_name"] != "DELEGATE"]
    except (AttributeError, RuntimeError, ValueError):
        return None
    producer = {int(t): op for op in ops for t in op["outputs"]}
    tensor = int(interpreter.get_output_details()[0]["index"])
    for _ in range(len(ops)):
        op = producer.get(tensor)
        if op is None:
            return None
        if op["op_name"] not in _PASS_THROUGH_OPS or not len(op["inputs"]):
            return "probabilities" if op["op_name"] == "SOFTMAX" else "logits"
        tensor = int(op["inputs"][0])
    return None
