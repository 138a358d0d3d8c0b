"""Keras model -> `.tflite` variants + model cards, each verified on the test set before it is kept.

`convert_model` reads as its steps: check the request; load the model, the data and the float reference; produce
every variant's bytes (the converter settings come from `edge.variants.TABLE`, see converter.py; QAT in qat.py);
verify each from a temporary file on the test set; then rename the models into place and write their cards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..artifacts import atomic_path, ensure_writable_dir, sha256_file
from ..data import CLASS_NAMES, FashionMNIST, load_fashion_mnist
from ..edge.card import card_path, write_card
from ..edge.evaluate import predict_scores, top1_accuracy
from ..edge.variants import BY_NAME, CONVERTIBLE, QAT_VARIANT, VARIANTS, Variant, model_filename
from ..errors import FashionEdgeError
from ..train.keras_io import keras_logits, load_keras_model
from .calibration import DEFAULT_CALIBRATION_IMAGES, Calibration, calibration_set
from .converter import CONVERTER, check_integer_only, check_io_type, convert_variant, interpreter_io_specs

DEFAULT_MAX_DROP_PP = 1.0
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


@dataclass(frozen=True)
class FloatReference:
    """The test images a variant is verified on and what the Keras model predicts for them."""

    images: np.ndarray
    labels: np.ndarray
    predictions: np.ndarray
    accuracy: float


# --- cards --------------------------------------------------------------------------------------------------------


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

    `quantization` overrides the defaults of the `quantization` entry (QAT sets its tool and details).
    """
    import keras
    import tensorflow as tf

    row = BY_NAME[variant]
    input_spec, output_spec = interpreter_io_specs(model_bytes)
    if row.calibrated:
        _check_raw_pixel_input(input_spec, row.io or io_type)
    return {
        "variant": variant,
        "labels": list(CLASS_NAMES),
        "input": {"shape": [1, 28, 28, 1], **input_spec, "layout": "NHWC", "colour": "grayscale", "background": "dark"},
        "output": {**output_spec, "kind": "logits"},
        "quantization": {
            "scheme": row.scheme,
            "method": row.method,
            "tool": f"tensorflow {tf.__version__} TFLiteConverter",
            "calibration": calibration.to_card() if row.calibrated and calibration else None,
            **(quantization or {}),
        },
        "source_model_sha256": source_model_sha256,
        "created_by": {
            "tool": f"fashion-edge {__version__}",
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "converter": CONVERTER,
        },
    }


# --- the steps ----------------------------------------------------------------------------------------------------


def parse_variants(text: str | Sequence[str]) -> tuple[str, ...]:
    """'float32,int8' -> ('float32', 'int8'); an unknown name is an error listing the valid ones."""
    names = [v.strip() for v in (text.split(",") if isinstance(text, str) else text) if v.strip()]
    unknown = [v for v in names if v not in CONVERTIBLE]
    if unknown or not names:
        raise FashionEdgeError(
            f"unknown variant {', '.join(unknown) or '(none)'}; choose from {', '.join(CONVERTIBLE)}"
        )
    return tuple(dict.fromkeys(names))


def _check_request(variants: Sequence[str], io_type: str, verify_limit: int | None, qat_epochs: int) -> list[Variant]:
    """The rows to produce (QAT's added when asked); FashionEdgeError for anything that cannot work."""
    names = parse_variants(variants)
    check_io_type(io_type)
    if verify_limit is not None and verify_limit < 1:
        raise FashionEdgeError(f"verify limit must be positive, got {verify_limit}")
    if qat_epochs < 0:
        raise FashionEdgeError(f"--qat-epochs must be 0 or more, got {qat_epochs}")
    if qat_epochs:
        from .qat import qat_available

        if reason := qat_available():
            raise FashionEdgeError(reason)
        names = (*names, QAT_VARIANT)
    return [BY_NAME[name] for name in names]


def _float_reference(model: Any, data: FashionMNIST, verify_limit: int | None) -> FloatReference:
    images, labels = data.x_test[:verify_limit], data.y_test[:verify_limit]
    predictions = np.argmax(keras_logits(model, images), axis=1)
    return FloatReference(images, labels, predictions, float(np.mean(predictions == labels)))


def _produce(
    row: Variant,
    model: Any,
    model_path: Path,
    calibration: Calibration | None,
    io_type: str,
    options: dict[str, Any],
) -> tuple[bytes, dict | None]:
    """The variant's bytes and what its card's `quantization` says beyond the table's defaults."""
    images = calibration.images if calibration else None
    if row.float_fallback:
        from .layer_debug import choose_float_layers, int8_with_float_layers

        names = choose_float_layers(model, images, options["float_layers"], options["debug_images"])
        return int8_with_float_layers(model, images, names), {"float_layers": names}
    if row.method != "qat":
        return convert_variant(row, model, images, io_type), None
    from .qat import QAT_TARGETS, quantization_aware_int8

    qat = quantization_aware_int8(model_path, images, io_type, **options["qat"])
    check_integer_only(qat.model_bytes, row.scheme)
    details = {
        "epochs": qat.epochs,
        "train_images": qat.train_images,
        "targets": QAT_TARGETS,
        "val_accuracy": round(qat.val_accuracy, 5),
    }
    return qat.model_bytes, {"tool": qat.tool, "qat": details}


def _verify(
    row: Variant,
    tmp: Path,
    final_path: Path,
    card: dict[str, Any],
    reference: FloatReference,
    batch_size: int,
    max_drop_pp: float,
    strict: bool,
    progress_bar: ProgressBar,
) -> ConversionResult:
    """Run the written temporary file over the test images; fill in the card's `metrics`."""
    with progress_bar(f"verifying {row.name:<8}", len(reference.images)) as bar:
        scores = predict_scores(tmp, card, reference.images, batch_size=batch_size, progress=bar.update)
    accuracy = top1_accuracy(scores, reference.labels)
    agreement = float(np.mean(np.argmax(scores, axis=1) == reference.predictions))
    drop_pp = 100.0 * (reference.accuracy - accuracy)
    warning = None
    if drop_pp > max_drop_pp:
        warning = (
            f"{row.name}: test accuracy {accuracy:.4f} is {drop_pp:.2f} pp below the Keras model's "
            f"{reference.accuracy:.4f} (limit {max_drop_pp} pp)"
        )
        if strict:
            raise FashionEdgeError(warning + "; nothing written (--strict)")
    card["metrics"] = {
        "test_accuracy": round(accuracy, 5),
        "agreement_with_float": round(agreement, 5),
        "float_test_accuracy": round(reference.accuracy, 5),
        "accuracy_drop_pp": round(drop_pp, 3),
        "test_images": int(len(reference.images)),
    }
    return ConversionResult(
        row.name, final_path, card_path(final_path), tmp.stat().st_size, accuracy, agreement, drop_pp, warning
    )


def _write_cards(cards: list[tuple[Path, dict[str, Any]]]) -> None:
    for final_path, card in cards:
        try:
            write_card(final_path, card)
        except BaseException:
            final_path.unlink(missing_ok=True)  # a model without its card must not be left behind
            raise


def _no_bar(label: str, total: int) -> Any:
    return contextlib.nullcontext(type("NoBar", (), {"update": staticmethod(lambda n: None)}))


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
    float_layers: str = "auto:2",
    calibration_augment: bool = False,
    progress_bar: ProgressBar | None = None,
) -> list[ConversionResult]:
    """Write `fashion_<variant>.tflite` + card into `out_dir` for every variant, verified on the test set.

    Each model is written to a temporary file, loaded back by LiteRT and run over the test set (the first
    `verify_limit` images, default all 10K); only then renamed into place with its card. With `strict`, a variant
    losing more than `max_drop_pp` accuracy points against the Keras model is an error. Any error: nothing written.
    `qat_epochs` > 0 adds `int8_qat`: int8 after that many epochs of quantization-aware fine-tuning (extra needed).
    `float_layers` picks the float layers of `int8_mixed` ("auto:N" or names); `calibration_augment` adds flipped
    and shifted copies of the calibration images.
    """
    rows = _check_request(variants, io_type, verify_limit, qat_epochs)
    model_path = Path(model_path)
    model = load_keras_model(model_path)
    out_dir = ensure_writable_dir(Path(out_dir))
    data = load_fashion_mnist(data_dir)
    calibration = None
    if any(row.calibrated for row in rows):
        calibration = calibration_set(
            data.x_train, data.y_train, calibration_images, calibration_seed, augment=calibration_augment
        )
    reference = _float_reference(model, data, verify_limit)
    source_sha = sha256_file(model_path)
    progress_bar = progress_bar or _no_bar

    # Every conversion first: one that fails (an op without int8 kernel, say) leaves the output folder untouched.
    options = {
        "qat": {"epochs": qat_epochs, "train_limit": qat_train_limit, "data_dir": data_dir},
        "float_layers": float_layers,
        "debug_images": data.x_train[-500:],  # int8_mixed ranks layers on training images, never on the test set
    }
    produced = [(row, *_produce(row, model, model_path, calibration, io_type, options)) for row in rows]
    results, cards = [], []
    # Then each model is written to a temporary file and verified; all are renamed into place only if all pass.
    with contextlib.ExitStack() as pending:
        for row, model_bytes, quantization in produced:
            card = build_card(row.name, model_bytes, source_sha, calibration, io_type, quantization)
            final_path = out_dir / model_filename(row.name)
            tmp = pending.enter_context(atomic_path(final_path))
            tmp.write_bytes(model_bytes)
            results.append(
                _verify(row, tmp, final_path, card, reference, batch_size, max_drop_pp, strict, progress_bar)
            )
            cards.append((final_path, card))
    _write_cards(cards)
    return results
