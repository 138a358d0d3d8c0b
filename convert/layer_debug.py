"""Per-layer int8 quantization error (TFLite's QuantizationDebugger) and what keeping the worst layers float buys.

RMSE/scale: the root-mean-square difference between a layer's float output and its dequantized int8 output, in
units of that layer's quantization step. Pure rounding noise is uniform over one step, i.e. 1/sqrt(12) = 0.29;
well above that means the layer's range or distribution quantizes badly (a candidate to keep in float).
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data import CLASS_NAMES
from ..edge.evaluate import predict_scores
from ..errors import FashionEdgeError
from .calibration import representative_dataset
from .converter import float_ops, interpreter_io_specs, make_converter, quiet_converter

ROUNDING_NOISE_RMSE_OVER_SCALE = 1 / math.sqrt(12)


@dataclass(frozen=True)
class LayerError:
    op: str
    tensor: str
    scale: float
    rmse_over_scale: float
    mean_error: float
    max_abs_error: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SelectiveResult:
    float_layers: list[str]  # tensors kept in float; [] = every layer int8
    float_ops: list[str]
    size_bytes: int
    test_accuracy: float
    agreement_with_float: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _debugger(model, calibration_images: np.ndarray, debug_images: np.ndarray, denylisted_nodes=None):
    import tensorflow as tf

    converter = make_converter(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset(calibration_images)
    options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=denylisted_nodes)
    with quiet_converter():
        return tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=representative_dataset(debug_images), debug_options=options
        )


def layer_errors(model, calibration_images: np.ndarray, debug_images: np.ndarray) -> list[LayerError]:
    """Quantization error of every quantized layer output on `debug_images`, worst (highest RMSE/scale) first."""
    debugger = _debugger(model, calibration_images, debug_images)
    with quiet_converter():
        debugger.run()
    dump = io.StringIO()
    debugger.layer_statistics_dump(dump)
    rows = []
    for row in csv.DictReader(io.StringIO(dump.getvalue())):
        scale = float(row["scale"])
        rows.append(
            LayerError(
                op=row["op_name"],
                tensor=row["tensor_name"],
                scale=scale,
                rmse_over_scale=math.sqrt(float(row["mean_squared_error"])) / scale if scale else float("nan"),
                mean_error=float(row["mean_error"]),
                max_abs_error=float(row["max_abs_error"]),
            )
        )
    return sorted(rows, key=lambda r: -r.rmse_over_scale)


def selective_quantization(
    model,
    calibration_images: np.ndarray,
    worst: list[LayerError],
    test_images: np.ndarray,
    float_predictions: np.ndarray,
    labels: np.ndarray,
    progress: Callable[[int], None] | None = None,
) -> list[SelectiveResult]:
    """Measure int8 with the 0, 1, ..., len(worst) worst layers kept in float, on the same test images.

    These models have float input/output (the debugger's quantizer keeps the model boundary float), so the row
    with no float layer is the like-for-like baseline for the others.
    """
    results = []
    for k in range(len(worst) + 1):
        nodes = [layer.tensor for layer in worst[:k]]
        model_bytes = int8_with_float_layers(model, calibration_images, nodes)
        input_spec, output_spec = interpreter_io_specs(model_bytes)
        card = {
            "labels": list(CLASS_NAMES),
            "input": {**input_spec, "shape": [1, 28, 28, 1]},
            "output": {**output_spec, "kind": "logits"},
        }
        with tempfile.TemporaryDirectory() as tmp:  # measured, not shipped
            path = Path(tmp) / "selective.tflite"
            path.write_bytes(model_bytes)
            scores = predict_scores(path, card, test_images, progress=progress)
        pred = np.argmax(scores, axis=1)
        results.append(
            SelectiveResult(
                float_layers=nodes,
                float_ops=sorted(set(float_ops(model_bytes))),
                size_bytes=len(model_bytes),
                test_accuracy=float(np.mean(pred == labels)),
                agreement_with_float=float(np.mean(pred == float_predictions)),
            )
        )
    return results


def int8_with_float_layers(model, calibration_images: np.ndarray, float_layers: list[str]) -> bytes:
    """int8 post-training quantization with the layers whose output tensors are named in `float_layers` kept in
    float (float model input/output). An unknown name is the converter's error."""
    debugger = _debugger(model, calibration_images, calibration_images[:1], denylisted_nodes=float_layers or None)
    with quiet_converter():
        return bytes(debugger.get_nondebug_quantized_model())


def choose_float_layers(model, calibration_images: np.ndarray, spec: str, debug_images: np.ndarray) -> list[str]:
    """`--float-layers`: "auto:N" = the N layers with the highest int8 error on `debug_images` (training images,
    never the test set); otherwise comma-separated tensor names as `fashion-edge report` lists them."""
    kind, _, count = spec.partition(":")
    if kind != "auto":
        return [name.strip() for name in spec.split(",") if name.strip()]
    if not count.isdigit() or int(count) < 1:
        raise FashionEdgeError(f"--float-layers {spec!r}: use auto:N with N >= 1, or comma-separated layer names")
    return [layer.tensor for layer in layer_errors(model, calibration_images, debug_images)[: int(count)]]
