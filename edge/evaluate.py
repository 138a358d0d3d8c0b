"""Run a `.tflite` + card over a whole image set: the accuracy path shared by convert, benchmarks and edge.

TF-free: the interpreter comes from `runtime.make_interpreter`, the integer math from `quant` and `postprocess`.
Images are raw uint8 pixels (N, 28, 28), light object on dark background, exactly as in Fashion-MNIST.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FashionEdgeError
from .card import check_tensors
from .postprocess import batch_scores
from .quant import quantize_input
from .runtime import make_interpreter

DEFAULT_BATCH_SIZE = 256


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
    x = quantize_input(images_uint8, card["input"])
    interpreter, _ = make_interpreter(Path(model_path), num_threads=num_threads, runtime=runtime)
    inp, out = check_tensors(interpreter, card, Path(model_path))
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
    return batch_scores(np.concatenate(raw), card["output"])


def top1_correct(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per row: whether its highest score is the label."""
    return np.argmax(scores, axis=1) == np.asarray(labels)


def top1_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose highest score is the label."""
    return float(np.mean(top1_correct(scores, labels))) if len(labels) else float("nan")
