"""Model output -> ranked classes. Pure numpy, no interpreter: testable without a model.

The pipeline for one output tensor (pycoral's adapters/classify.py, with the widening it lacks):
    raw int8/uint8/float32 --dequantize--> real = scale * (q - zero_point)   (int64 first: 127 - (-128) must be 255)
                           --softmax if the card says "logits"--> probabilities summing to 1
                           --top-k, threshold--> [Class(id, score, label), ...], best first
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .quant import dequantize

__all__ = ["Class", "batch_scores", "get_classes_from_scores", "scores_from_output", "softmax"]


class Class(NamedTuple):
    """One ranked result: class index, probability, and its human label."""

    id: int
    score: float
    label: str = ""


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax (max subtracted first), float32."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=axis, keepdims=True))
    return (z / z.sum(axis=axis, keepdims=True)).astype(np.float32)


def batch_scores(raw: np.ndarray, output_spec: dict[str, Any]) -> np.ndarray:
    """Raw outputs (N, classes) -> float32 probabilities (N, classes), using the card's `output` section:
    dequantized, then softmaxed if the model outputs logits."""
    real = dequantize(np.asarray(raw), output_spec["scale"], output_spec["zero_point"])
    return softmax(real) if output_spec.get("kind", "logits") == "logits" else real


def scores_from_output(raw: np.ndarray, output_spec: dict[str, Any]) -> np.ndarray:
    """One image's raw output tensor -> float32 probabilities (classes,)."""
    return batch_scores(np.asarray(raw).reshape(1, -1), output_spec)[0]


def get_classes_from_scores(
    scores: np.ndarray, top_k: int = 1, threshold: float = 0.0, labels: list[str] | tuple[str, ...] | None = None
) -> list[Class]:
    """The `top_k` classes with score >= `threshold`, best first (ties broken by lower id, so results are stable)."""
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    top_k = max(0, min(int(top_k), scores.size))
    order = np.lexsort((np.arange(scores.size), -scores))[:top_k]
    return [
        Class(int(i), float(scores[i]), labels[i] if labels is not None else str(int(i)))
        for i in order
        if scores[i] >= threshold
    ]
