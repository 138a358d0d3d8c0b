"""The TFLite converter, driven by the rows of `edge.variants.TABLE`, and the checks on what it produces.

`convert_variant(row, model, ...)` applies a row's declarative settings to `tf.lite.TFLiteConverter` and returns
the flatbuffer bytes; a row with `integer_only` is refused when any op would still compute in float. QAT and the
per-layer debugger use the same settings and helpers. TensorFlow is imported inside the functions.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..edge.variants import Variant
from ..errors import FashionEdgeError
from .calibration import representative_dataset

IO_TYPES = ("uint8", "int8", "float32")  # --io: the model input type of a calibrated (integer) variant
# --io -> (input type, output type): uint8 in takes raw pixels (scale 1, zero point 0); logits out as int8
_IO_DTYPES = {"uint8": ("uint8", "int8"), "int8": ("int8", "int8"), "float32": ("float32", "float32")}
CONVERTER = "tf.lite.TFLiteConverter.from_keras_model"


@contextlib.contextmanager
def quiet_converter() -> Iterator[None]:
    """The converter prints every captured tensor and warns about input statistics; none of it is actionable."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def make_converter(model: Any) -> Any:
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_keras_model(model)


def check_io_type(io_type: str) -> None:
    if io_type not in IO_TYPES:
        raise FashionEdgeError(f"unknown --io {io_type!r}; choose one of {', '.join(IO_TYPES)}")


def apply_settings(converter: Any, row: Variant, calibration_images: np.ndarray | None, io_type: str = "uint8") -> Any:
    """Set `converter` up as `row` says (optimizations, weight types, calibration, kernels); returns it."""
    import tensorflow as tf

    check_io_type(io_type)
    if row.optimize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if row.weight_types:
        converter.target_spec.supported_types = [tf.as_dtype(t) for t in row.weight_types]
    if row.calibrated:
        if calibration_images is None:
            raise FashionEdgeError(f"{row.name} needs calibration images")
        converter.representative_dataset = representative_dataset(calibration_images)
        input_type, output_type = _IO_DTYPES[row.io or io_type]
        converter.inference_input_type = tf.as_dtype(input_type)
        converter.inference_output_type = tf.as_dtype(output_type)
    if row.ops_set:
        # only these kernels: an op without one fails the conversion instead of silently staying float
        converter.target_spec.supported_ops = [getattr(tf.lite.OpsSet, row.ops_set)]
    return converter


def run_converter(converter: Any, what: str) -> bytes:
    """The converted flatbuffer; FashionEdgeError naming the ops without a kernel, or the first line of the error."""
    try:
        with quiet_converter():
            return bytes(converter.convert())
    except Exception as e:  # noqa: BLE001 - ConverterError, ValueError, RuntimeError depending on the failing pass
        unsupported = sorted(set(re.findall(r"'(tf\.\w+)' op is neither a custom op nor a flex op", str(e))))
        if unsupported:
            reason = f"no TFLite builtin kernel for {', '.join(unsupported)}"
        else:
            reason = str(e).strip().splitlines()[0][:300]
        raise FashionEdgeError(f"{what} conversion failed: {reason}") from e


def convert_variant(
    row: Variant, model: Any, calibration_images: np.ndarray | None = None, io_type: str = "uint8"
) -> bytes:
    """The `.tflite` bytes of Keras `model` as variant `row`; an integer-only row is checked for float ops."""
    model_bytes = run_converter(apply_settings(make_converter(model), row, calibration_images, io_type), row.scheme)
    if row.integer_only:
        check_integer_only(model_bytes, row.scheme)
    return model_bytes


def float_ops(model_bytes: bytes) -> list[str]:
    """The ops of a model that compute in float32 (its float input/output and the (DE)QUANTIZE ops at them aside).

    TFLITE_BUILTINS_INT8 alone does not stop the converter from wrapping an op that lacks an int8 kernel in
    DEQUANTIZE/QUANTIZE and running it in float: this is how such a fallback is caught.
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_bytes)
    io_tensors = {d["index"] for d in interpreter.get_input_details() + interpreter.get_output_details()}
    tensors = interpreter.get_tensor_details()
    is_float = {t["index"]: np.dtype(t["dtype"]) == np.float32 and t["index"] not in io_tensors for t in tensors}
    ops = getattr(interpreter, "_get_ops_details", lambda: [])()  # no public op listing; tensors are the fallback
    if not ops:
        return [t["name"] for t in tensors if is_float[t["index"]]]
    return [
        op["op_name"]
        for op in ops
        if op["op_name"] not in ("QUANTIZE", "DEQUANTIZE")
        and any(is_float.get(i, False) for i in [*op["inputs"], *op["outputs"]])
    ]


def check_integer_only(model_bytes: bytes, scheme: str = "full-int8") -> None:
    """FashionEdgeError naming the ops that would run in float (no integer kernel) in an integer-only model."""
    fallback = float_ops(model_bytes)
    if fallback:
        raise FashionEdgeError(
            f"{scheme} conversion failed: {', '.join(sorted(set(fallback)))} would run in float (no int8 kernel); "
            "replace those layers or ship the dynamic/float16 variants"
        )


def _tensor_spec(details: dict[str, Any]) -> dict[str, Any]:
    scale, zero_point = details["quantization"]
    return {"dtype": np.dtype(details["dtype"]).name, "scale": float(scale), "zero_point": int(zero_point)}


def interpreter_io_specs(model_bytes: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """(input, output) dtype/scale/zero point as the LiteRT interpreter reports them: the card's source of truth."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_bytes)
    return _tensor_spec(interpreter.get_input_details()[0]), _tensor_spec(interpreter.get_output_details()[0])
