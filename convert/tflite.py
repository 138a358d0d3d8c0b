"""Keras model -> `.tflite` variants + model cards, each verified on the test set before it is kept.

One function per variant returns the flatbuffer bytes; `convert_model` writes them atomically with their cards.
TensorFlow is imported inside the functions so that `fashion-edge --help` stays fast.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..artifacts import atomic_path, ensure_writable_dir, sha256_file
from ..edge.card import VARIANTS, card_path, model_filename, write_card
from ..edge.evaluate import predict_scores, top1_accuracy
from ..errors import FashionEdgeError
from ..train.data import CLASS_NAMES, load_fashion_mnist
from .calibration import DEFAULT_CALIBRATION_IMAGES, Calibration, calibration_set, representative_dataset

IO_TYPES = ("uint8", "int8", "float32")
QAT_VARIANT = "int8_qat"  # written beside the PTQ int8 so the report can compare them
CONVERTER = "tf.lite.TFLiteConverter.from_keras_model"
SCHEMES = {"float32": "float32", "float16": "float16", "dynamic": "dynamic-range", "int8": "full-int8",
           QAT_VARIANT: "full-int8"}  # fmt: skip
DEFAULT_MAX_DROP_PP = 1.0


# --- Keras model --------------------------------------------------------------------------------------------------


def load_keras_model(model_path: Path):
    """Load a `.keras` file and check it is a 28x28x1 -> 10 classifier; FashionEdgeError otherwise."""
    model_path = Path(model_path)
    if not model_path.is_file():
        raise FashionEdgeError(f"model {model_path} not found; pass the model.keras written by `fashion-edge train`")
    if model_path.suffix != ".keras":
        raise FashionEdgeError(f"{model_path} is not a .keras file; pass the model.keras from `fashion-edge train`")
    import keras

    try:
        model = keras.models.load_model(model_path, compile=False)
    except Exception as e:  # noqa: BLE001 - Keras raises ValueError, OSError, zipfile errors, KeyError... for bad files
        raise FashionEdgeError(f"{model_path} could not be loaded as a Keras model ({type(e).__name__}: {e})") from e
    in_shape, out_shape = tuple(model.input_shape[1:]), tuple(model.output_shape[1:])
    if in_shape != (28, 28, 1):
        raise FashionEdgeError(f"{model_path} takes input {in_shape}, expected (28, 28, 1) grayscale Fashion-MNIST")
    if out_shape != (len(CLASS_NAMES),):
        raise FashionEdgeError(f"{model_path} outputs {out_shape}, expected ({len(CLASS_NAMES)},) class logits")
    return model


def keras_logits(model, images_uint8: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """The float reference: the Keras model's logits for raw uint8 images (N, 28, 28)."""
    return np.asarray(model.predict(images_uint8[..., None].astype(np.float32), batch_size=batch_size, verbose=0))


# --- one function per variant -------------------------------------------------------------------------------------


@contextlib.contextmanager
def quiet_converter() -> Iterator[None]:
    """The converter prints every captured tensor and warns about input statistics; none of it is actionable."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def make_converter(model):
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_keras_model(model)


def _convert(converter, what: str) -> bytes:
    try:
        with quiet_converter():
            return bytes(converter.convert())
    except Exception as e:  # noqa: BLE001 - ConverterError, ValueError, RuntimeError depending on the failing pass
        unsupported = sorted(set(re.findall(r"'(tf\.\w+)' op is neither a custom op nor a flex op", str(e))))
        reason = (f"no TFLite builtin kernel for {', '.join(unsupported)}" if unsupported
                  else str(e).strip().splitlines()[0][:300])  # fmt: skip
        raise FashionEdgeError(f"{what} conversion failed: {reason}") from e


def float_ops(model_bytes: bytes) -> list[str]:
    """The ops of a model that compute in float32 (its float input/output and the (DE)QUANTIZE ops at them aside).

    TFLITE_BUILTINS_INT8 alone does not stop the converter from wrapping an op that lacks an int8 kernel in
    DEQUANTIZE/QUANTIZE and running it in float: this is how such a fallback is caught.
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_bytes)
    io = {d["index"] for d in interpreter.get_input_details() + interpreter.get_output_details()}
    is_float = {t["index"]: np.dtype(t["dtype"]) == np.float32 and t["index"] not in io
                for t in interpreter.get_tensor_details()}  # fmt: skip
    ops = getattr(interpreter, "_get_ops_details", lambda: [])()  # no public op listing; tensors are the fallback
    if not ops:
        return [t["name"] for t in interpreter.get_tensor_details() if is_float[t["index"]]]
    return [op["op_name"] for op in ops
            if op["op_name"] not in ("QUANTIZE", "DEQUANTIZE")
            and any(is_float.get(i, False) for i in [*op["inputs"], *op["outputs"]])]  # fmt: skip


def to_float32(model) -> bytes:
    """No optimisation: the float reference on the device."""
    return _convert(make_converter(model), "float32")


def to_float16(model) -> bytes:
    """Weights stored as float16 (half the size); the CPU dequantizes them to float32 at load time."""
    import tensorflow as tf

    converter = make_converter(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    return _convert(converter, "float16")


def to_dynamic(model) -> bytes:
    """Dynamic-range: int8 weights, float activations quantized on the fly; no calibration data needed."""
    import tensorflow as tf

    converter = make_converter(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return _convert(converter, "dynamic-range")


def int8_converter_settings(converter, calibration_images: np.ndarray, io_type: str = "uint8"):
    """Set a converter up for full int8 with integer-only kernels (shared by PTQ and QAT); returns it."""
    import tensorflow as tf

    if io_type not in IO_TYPES:
        raise FashionEdgeError(f"unknown --io {io_type!r}; choose one of {', '.join(IO_TYPES)}")
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset(calibration_images)
    # INT8 builtins only: an op without an int8 kernel fails the conversion instead of silently staying float.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    # uint8 in: raw pixels go straight in (scale 1, zero point 0). Logits out as int8 (scale/zero point in the card).
    converter.inference_input_type = {"uint8": tf.uint8, "int8": tf.int8, "float32": tf.float32}[io_type]
    converter.inference_output_type = {"uint8": tf.int8, "int8": tf.int8, "float32": tf.float32}[io_type]
    return converter


def int8_converter(model, calibration_images: np.ndarray, io_type: str = "uint8"):
    """The full-int8 post-training converter for a Keras model."""
    return int8_converter_settings(make_converter(model), calibration_images, io_type)


def to_int8(model, calibration_images: np.ndarray, io_type: str = "uint8") -> bytes:
    """Full-integer post-training quantization calibrated on `calibration_images` (uint8, from the training split).

    Fails if any op would still compute in float (see `float_ops`).
    """
    model_bytes = _convert(int8_converter(model, calibration_images, io_type), "full-int8")
    check_integer_only(model_bytes)
    return model_bytes


def check_integer_only(model_bytes: bytes) -> None:
    """FashionEdgeError naming the ops that would run in float (no int8 kernel) in a full-int8 model."""
    fallback = float_ops(model_bytes)
    if fallback:
        raise FashionEdgeError(
            f"full-int8 conversion failed: {', '.join(sorted(set(fallback)))} would run in float (no int8 kernel); "
            "replace those layers or ship the dynamic/float16 variants"
        )


# --- cards --------------------------------------------------------------------------------------------------------


def _tensor_spec(details: dict[str, Any]) -> dict[str, Any]:
    scale, zero_point = details["quantization"]
    return {"dtype": np.dtype(details["dtype"]).name, "scale": float(scale), "zero_point": int(zero_point)}


def interpreter_io_specs(model_bytes: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """(input, output) dtype/scale/zero point as the LiteRT interpreter reports them: the card's source of truth."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_bytes)
    return _tensor_spec(interpreter.get_input_details()[0]), _tensor_spec(interpreter.get_output_details()[0])


def _check_raw_pixel_input(spec: dict[str, Any], io_type: str) -> None:
    """Integer input must take raw pixels unchanged (uint8: p; int8: p - 128), i.e. scale 1 exactly."""
    expected_zp = {"uint8": 0, "int8": -128}.get(io_type)
    if expected_zp is None:
        return
    if not np.isclose(spec["scale"], 1.0, rtol=0, atol=1e-6) or spec["zero_point"] != expected_zp:
        raise FashionEdgeError(
            f"int8 model input came out with scale {spec['scale']} zero point {spec['zero_point']}, not 1.0/"
            f"{expected_zp}: the calibration images do not span pixels 0..255; use more (--calibration)"
        )


def build_card(
    variant: str,
    model_bytes: bytes,
    source_model_sha256: str,
    calibration: Calibration | None,
    io_type: str,
    quantization: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the card says about a variant except metrics, sha256 and size (filled in later).

    `quantization` overrides the defaults of the `quantization` entry (QAT sets method and tool).
    """
    import keras
    import tensorflow as tf

    input_spec, output_spec = interpreter_io_specs(model_bytes)
    if SCHEMES[variant] == "full-int8":
        _check_raw_pixel_input(input_spec, io_type)
    return {
        "variant": variant,
        "labels": list(CLASS_NAMES),
        "input": {"shape": [1, 28, 28, 1], **input_spec, "layout": "NHWC", "colour": "grayscale",
                  "background": "dark"},
        "output": {**output_spec, "kind": "logits"},
        "quantization": {
            "scheme": SCHEMES[variant],
            "method": "none" if variant == "float32" else "ptq",
            "tool": f"tensorflow {tf.__version__} TFLiteConverter",
            "calibration": calibration.to_card() if SCHEMES[variant] == "full-int8" and calibration else None,
            **(quantization or {}),
        },
        "source_model_sha256": source_model_sha256,
        "created_by": {"tool": f"fashion-edge {__version__}", "tensorflow": tf.__version__,
                       "keras": keras.__version__, "converter": CONVERTER},
    }  # fmt: skip


# --- orchestration ------------------------------------------------------------------------------------------------


class _NullBar:
    def __enter__(self) -> _NullBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        return None


ProgressBar = Callable[[str, int], Any]  # (label, total) -> context manager with .update(n), like click.progressbar


@dataclass(frozen=True)
class ConversionResult:
    variant: str
    model_path: Path
    card_path: Path
    size_bytes: int
    test_accuracy: float
    agreement_with_float: float
    accuracy_drop_pp: float  # float Keras accuracy minus this variant's, in percentage points
    warning: str | None = None


def _produce(variant, model, model_path, calibration, io_type, qat_options: dict) -> tuple[bytes, dict | None]:
    """The variant's bytes and what its card's `quantization` says beyond the defaults."""
    if variant == "int8":
        return to_int8(model, calibration.images, io_type), None
    if variant == QAT_VARIANT:
        from .qat import quantization_aware_int8

        qat = quantization_aware_int8(model_path, calibration.images, io_type, **qat_options)
        check_integer_only(qat.model_bytes)
        return qat.model_bytes, {
            "method": "qat",
            "tool": qat.tool,
            "qat": {"epochs": qat.epochs, "train_images": qat.train_images, "val_accuracy": round(qat.val_accuracy, 5)},
        }
    return {"float32": to_float32, "float16": to_float16, "dynamic": to_dynamic}[variant](model), None


def parse_variants(text: str | Sequence[str]) -> tuple[str, ...]:
    """'float32,int8' -> ('float32', 'int8'); an unknown name is an error listing the valid ones."""
    names = [v.strip() for v in (text.split(",") if isinstance(text, str) else text) if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown or not names:
        raise FashionEdgeError(f"unknown variant {', '.join(unknown) or '(none)'}; choose from {', '.join(VARIANTS)}")
    return tuple(dict.fromkeys(names))


def convert_model(
    model_path: Path,
    out_dir: Path,
    variants: Sequence[str] = VARIANTS,
    calibration_images: int = DEFAULT_CALIBRATION_IMAGES,
    io_type: str = "uint8",
    *,
    calibration_seed: int = 0,
    data_dir: Path | None = None,
    verify_limit: int | None = None,
    max_drop_pp: float = DEFAULT_MAX_DROP_PP,
    strict: bool = False,
    batch_size: int = 256,
    qat_epochs: int = 0,
    qat_train_limit: int | None = None,
    progress_bar: ProgressBar | None = None,
) -> list[ConversionResult]:
    """Write `fashion_<variant>.tflite` + card into `out_dir` for every variant, verified on the test set.

    Each model is written to a temporary file, loaded back by LiteRT and run over the test set (the first
    `verify_limit` images, default all 10K); only then renamed into place with its card. With `strict`, a variant
    losing more than `max_drop_pp` accuracy points against the Keras model is an error. Any error: nothing written.
    `qat_epochs` > 0 adds `int8_qat`: int8 after that many epochs of quantization-aware fine-tuning (extra needed).
    """
    variants = parse_variants(variants)
    if io_type not in IO_TYPES:
        raise FashionEdgeError(f"unknown --io {io_type!r}; choose one of {', '.join(IO_TYPES)}")
    if verify_limit is not None and verify_limit < 1:
        raise FashionEdgeError(f"verify limit must be positive, got {verify_limit}")
    if qat_epochs < 0:
        raise FashionEdgeError(f"--qat-epochs must be 0 or more, got {qat_epochs}")
    if qat_epochs:
        from .qat import qat_available

        if reason := qat_available():
            raise FashionEdgeError(reason)
        variants = (*variants, QAT_VARIANT)
    model_path = Path(model_path)
    model = load_keras_model(model_path)
    out_dir = ensure_writable_dir(Path(out_dir))
    data = load_fashion_mnist(data_dir)
    calibration = None
    if "int8" in variants or qat_epochs:
        calibration = calibration_set(data.x_train, data.y_train, calibration_images, calibration_seed)
    x_test, y_test = data.x_test[:verify_limit], data.y_test[:verify_limit]
    float_pred = np.argmax(keras_logits(model, x_test), axis=1)
    float_accuracy = float(np.mean(float_pred == y_test))
    source_sha = sha256_file(model_path)
    progress_bar = progress_bar or (lambda label, total: _NullBar())

    qat_options = {"epochs": qat_epochs, "train_limit": qat_train_limit, "data_dir": data_dir}
    # Every conversion first: one that fails (an op without int8 kernel, say) leaves the output folder untouched.
    produced = [(v, *_produce(v, model, model_path, calibration, io_type, qat_options)) for v in variants]
    results, cards = [], []
    # Then each model is written to a temporary file and verified; all are renamed into place only if all pass.
    with contextlib.ExitStack() as pending:
        for variant, model_bytes, quantization in produced:
            card = build_card(variant, model_bytes, source_sha, calibration, io_type, quantization)
            final_path = out_dir / model_filename(variant)
            tmp = pending.enter_context(atomic_path(final_path))
            tmp.write_bytes(model_bytes)
            with progress_bar(f"verifying {variant:<8}", len(x_test)) as bar:
                scores = predict_scores(tmp, card, x_test, batch_size=batch_size, progress=bar.update)
            accuracy = top1_accuracy(scores, y_test)
            agreement = float(np.mean(np.argmax(scores, axis=1) == float_pred))
            drop_pp = 100.0 * (float_accuracy - accuracy)
            warning = None
            if drop_pp > max_drop_pp:
                warning = (
                    f"{variant}: test accuracy {accuracy:.4f} is {drop_pp:.2f} pp below the Keras model's "
                    f"{float_accuracy:.4f} (limit {max_drop_pp} pp)"
                )
                if strict:
                    raise FashionEdgeError(warning + "; nothing written (--strict)")
            card["metrics"] = {
                "test_accuracy": round(accuracy, 5),
                "agreement_with_float": round(agreement, 5),
                "float_test_accuracy": round(float_accuracy, 5),
                "accuracy_drop_pp": round(drop_pp, 3),
                "test_images": int(len(x_test)),
            }
            cards.append((final_path, card))
            results.append(ConversionResult(variant, final_path, card_path(final_path), len(model_bytes), accuracy,
                                            agreement, drop_pp, warning))  # fmt: skip
    for final_path, card in cards:
        try:
            write_card(final_path, card)
        except BaseException:
            final_path.unlink(missing_ok=True)  # a model without its card must not be left behind
            raise
    return results
