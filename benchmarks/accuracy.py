"""Top-1 accuracy of a TFLite variant on the Fashion-MNIST test set, through the same path the edge uses."""

from __future__ import annotations

import numpy as np

from ..edge.evaluate import predict_scores, top1_accuracy
from .models import BenchModel


def tflite_accuracy(
    model: BenchModel, images_uint8: np.ndarray, labels: np.ndarray, runtime: str | None = None, num_threads: int = 1
) -> float:
    """Fraction of `images_uint8` (raw pixels, (N, 28, 28)) whose top class is the label."""
    scores = predict_scores(model.path, model.card, images_uint8, num_threads=num_threads, runtime=runtime)
    return top1_accuracy(scores, labels)
