"""Run a `.tflite` + card over a whole image set: the accuracy path shared by convert, benchmarks and edge.

TF-free: the interpreter comes from `runtime.make_interpreter`, the integer math from `quant`.
Images are raw uint8 pixels (N, 28, 28), light object on dark background, exactly as in Fashion-MNIST.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FashionEdgeError
from .quant import dequantize, quantize
from .runtime import make_interpreter

DEFAULT_BATCH_SIZE = 256


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax (max subtracted first), float32."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=axis, keepdims=True))
    return (z / z.sum(axis=axis, keepdims=True)).astype(np.float32)


def to_model_input(images_uint8: np.ndarray, card: dict[str, Any]) -> np.ndarray:
    """(N, 28, 28[, 1]) raw pixels -> (N, 28, 28, 1) in the card's input dtype (quantized with its scale/zero point)."""
    x = np.asarray(images_uint8)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[1:] != (28, 28, 1):
        raise FashionEdgeError(f"expected images of shape (N, 28, 28), got {tuple(np.shape(images_uint8))}")
    spec = card["input"]
    return quantize(x.astype(np.float32), spec["scale"], spec["zero_point"], spec["dtype"])


def _check_card_matches(interpreter: Any, card: dict[str, Any], model_path: Path) -> tuple[dict, dict]:
    """The card must describe the tensors the interpreter actually has; a mismatch means a swapped card."""
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    for role, details in (("input", inp), ("output", out)):
        spec = card[role]
        scale, zero_point = details["quantization"]
        if (np.dtype(details["dtype"]).name != spec["dtype"] or not np.isclose(scale, spec["scale"])
                or int(zero_point) != int(spec["zero_point"])):  # fmt: skip
            raise FashionEdgeError(
                f"{model_path}: its card says {role} {spec['dtype']} scale {spec['scale']} zero point "
                f"{spec['zero_point']}, the model has {np.dtype(details['dtype']).name} scale {scale} zero point "
                f"{zero_point}; the card belongs to another model, re-run `fashion-edge convert`"
            )
    return inp, out


def _set_batch(interpreter: Any, input_index: int, batch: int) -> bool:
    """Resize the input's batch dimension; False if this model/runtime refuses (then we run one image at a time)."""
    try:
        interpreter.resize_tensor_input(input_index, [batch, 28, 28, 1], strict=False)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError):
        return False
    return True


def predict_scores(
    model_path: Path,
    card: dict[str, Any],
    images_uint8: np.ndarray,
    num_threads: int | None = None,
    runtime: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Class scores (N, 10) float32 for raw uint8 images (N, 28, 28): probabilities (softmax applied to logits).

    Batched through `resize_tensor_input` where the model allows it, else one image at a time.
    `progress(n)` is called after every `n` images (for a progress bar).
    """
    x = to_model_input(images_uint8, card)
    interpreter, _ = make_interpreter(Path(model_path), num_threads=num_threads, runtime=runtime)
    inp, out = _check_card_matches(interpreter, card, Path(model_path))
    batch = max(1, min(int(batch_size), len(x)))
    if batch > 1 and not _set_batch(interpreter, inp["index"], batch):
        interpreter, _ = make_interpreter(Path(model_path), num_threads=num_threads, runtime=runtime)
        batch = 1
    current = batch
    raw = []
    for start in range(0, len(x), batch):
        chunk = x[start : start + batch]
        if len(chunk) != current:  # the last, shorter batch
            if not _set_batch(interpreter, inp["index"], len(chunk)):
                raise FashionEdgeError(f"{model_path}: the runtime refused to resize the input to {len(chunk)}")
            current = len(chunk)
        interpreter.set_tensor(inp["index"], chunk)
        interpreter.invoke()
        raw.append(interpreter.get_tensor(out["index"]).reshape(len(chunk), -1).copy())
        if progress is not None:
            progress(len(chunk))
    if not raw:
        return np.zeros((0, len(card["labels"])), dtype=np.float32)
    spec = card["output"]
    scores = dequantize(np.concatenate(raw), spec["scale"], spec["zero_point"])
    return softmax(scores) if spec.get("kind", "logits") == "logits" else scores


def top1_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose highest score is the label."""
    return float(np.mean(np.argmax(scores, axis=1) == np.asarray(labels))) if len(labels) else float("nan")
