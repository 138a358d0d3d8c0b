"""Classifier: a `.tflite` + its card -> Predictions for 28x28 uint8 inputs. No TensorFlow, ever.

Loading checks the file before the interpreter sees it (exists, size, TFL3 identifier, sha256 against the card
unless `verify=False`), then checks the card against the tensors the interpreter really has (dtype, scale, zero
point) and the input shape against the 28x28x1 every card promises, so a truncated, swapped or foreign model is a
clear FashionEdgeError instead of a crash or silent nonsense.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FashionEdgeError
from .card import check_tensors
from .postprocess import Class, get_classes_from_scores, scores_from_output
from .quant import quantize_input
from .registry import load
from .runtime import make_interpreter

INPUT_SHAPE = (1, 28, 28, 1)


@dataclass(frozen=True)
class Prediction:
    """Top-k classes (best first), all class probabilities, and the time the interpreter took."""

    classes: list[Class]
    scores: np.ndarray
    latency_ms: float
    uncertain: bool = False

    @property
    def label(self) -> str:
        return self.classes[0].label

    @property
    def score(self) -> float:
        return self.classes[0].score


class Classifier:
    """One loaded model. `classify(image28)` -> Prediction; `threshold` marks low-confidence results uncertain."""

    def __init__(
        self,
        model_path: Path,
        *,
        num_threads: int | None = None,
        runtime: str | None = None,
        verify: bool = True,
        top_k: int = 1,
        threshold: float = 0.0,
    ) -> None:
        self.model_path = Path(model_path)
        # size and identifier are always checked (cheap, and they catch truncation); the hash only when verifying
        self.card: dict[str, Any] = load(self.model_path, check_hash=verify).card
        self.interpreter, self.runtime = make_interpreter(self.model_path, num_threads=num_threads, runtime=runtime)
        self._input, self._output = check_tensors(self.interpreter, self.card, self.model_path)
        shape = tuple(int(s) for s in self._input["shape"])
        if shape != INPUT_SHAPE or tuple(self.card["input"]["shape"])[-3:] != INPUT_SHAPE[1:]:
            raise FashionEdgeError(
                f"{self.model_path} takes input of shape {list(shape)}, not {list(INPUT_SHAPE)} "
                f"(28x28 grayscale); it is not a fashion-edge model"
            )
        n_out = int(np.prod(self._output["shape"]))
        if n_out != len(self.card["labels"]):
            raise FashionEdgeError(f"{self.model_path} outputs {n_out} values but its card lists 10 labels")
        self.labels: list[str] = list(self.card["labels"])
        self.num_threads = num_threads
        self.top_k = max(1, min(int(top_k), len(self.labels)))
        self.threshold = float(threshold)

    def classify(self, image: np.ndarray) -> Prediction:
        """A (28, 28) uint8 image, light object on dark background -> Prediction."""
        image = np.asarray(image)
        if image.shape != (28, 28) or image.dtype != np.uint8:
            raise FashionEdgeError(f"classify expects a (28, 28) uint8 image, got {image.shape} {image.dtype}")
        x = quantize_input(image[None], self.card["input"])  # per the card: uint8 pixels go straight in
        start = time.perf_counter()
        self.interpreter.set_tensor(self._input["index"], x)
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self._output["index"])
        latency_ms = (time.perf_counter() - start) * 1000.0
        scores = scores_from_output(raw, self.card["output"])
        classes = get_classes_from_scores(scores, self.top_k, labels=self.labels)
        return Prediction(classes, scores, latency_ms, uncertain=classes[0].score < self.threshold)

    def info(self) -> dict[str, Any]:
        """The card plus where the model is and what runs it (for --model-info)."""
        return {"path": str(self.model_path.resolve()), "runtime": self.runtime, **self.card}
