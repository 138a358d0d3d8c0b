"""The one table of model variants: what `fashion-edge convert` writes, what the cards say, what tables print.

Everything that names a variant reads this table: convert (the converter settings), the card (`variant`,
`quantization.scheme`, `quantization.method`), the model registry (which `fashion_<name>.tflite` to look for, and in
which order), the benchmark (the display name) and every CLI choice list. A leaf: imports nothing of the project.

To add a variant, add a row. The converter settings are declarative (names of TFLite converter attributes), so
convert/tflite.py applies them without knowing the row. A row whose activations are integers must set
`integer_only`: its file is refused if any op still computes in float, so an "int8" never hides float layers; a
scheme that keeps some layers float on purpose is a row of its own with its own `scheme` name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    name: str  # fashion_<name>.tflite, the card's `variant`
    scheme: str  # the card's quantization.scheme, and what `edge-classify parity` reads off the tensors
    display: str  # the results tables' "Format" column
    method: str = "ptq"  # the card's quantization.method: none | ptq | qat
    optimize: bool = False  # converter.optimizations = [tf.lite.Optimize.DEFAULT]
    weight_types: tuple[str, ...] = ()  # converter.target_spec.supported_types, as tf dtype names
    calibrated: bool = False  # activations quantized: needs a representative dataset (and --io applies)
    ops_set: str | None = None  # the only tf.lite.OpsSet allowed, e.g. "TFLITE_BUILTINS_INT8"
    integer_only: bool = False  # refuse the file if any op would still compute in float
    default: bool = True  # converted without --variants; False: asked for by name (or produced another way: QAT)
    io: str | None = None  # the model boundary this row always has, whatever --io says (None: --io decides)
    float_fallback: bool = False  # int8 with named layers kept in float on purpose (the card lists them)


TABLE: tuple[Variant, ...] = (
    Variant("float32", "float32", "TFLite float32", method="none"),
    Variant("float16", "float16", "TFLite float16", optimize=True, weight_types=("float16",)),
    Variant("dynamic", "dynamic-range", "TFLite dynamic", optimize=True),
    Variant(
        "int8",
        "full-int8",
        "TFLite int8",
        optimize=True,
        calibrated=True,
        ops_set="TFLITE_BUILTINS_INT8",
        integer_only=True,
    ),
    # int8 after quantization-aware fine-tuning (convert --qat-epochs N), beside the post-training int8
    Variant(
        "int8_qat",
        "full-int8",
        "TFLite int8 (QAT)",
        method="qat",
        optimize=True,
        calibrated=True,
        ops_set="TFLITE_BUILTINS_INT8",
        integer_only=True,
        default=False,
    ),
    # int16 activations / int8 weights: finer activations, but LiteRT runs it on reference kernels (no XNNPACK):
    # about 100x slower than int8 on x86 (measured); offered for fidelity comparisons, not shipped.
    Variant(
        "int16x8",
        "int16x8",
        "TFLite int16x8",
        optimize=True,
        calibrated=True,
        ops_set="EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8",
        integer_only=True,
        default=False,
        io="float32",
    ),
    # int8 with the layers named by --float-layers (or the N worst by the quantization debugger) kept in float.
    # Its own scheme, so no table calls it "int8"; float input/output (the debugger keeps the boundary float).
    Variant(
        "int8_mixed",
        "int8+float-layers",
        "TFLite int8 + float layers",
        optimize=True,
        calibrated=True,
        default=False,
        io="float32",
        float_fallback=True,
    ),
)
BY_NAME: dict[str, Variant] = {v.name: v for v in TABLE}
VARIANTS: tuple[str, ...] = tuple(v.name for v in TABLE if v.default)  # what `convert` writes by default
ALL_VARIANTS: tuple[str, ...] = tuple(BY_NAME)  # every name a file may carry, in table order
# what `convert --variants` accepts by name (QAT comes from --qat-epochs)
CONVERTIBLE: tuple[str, ...] = tuple(v.name for v in TABLE if v.method != "qat")
QAT_VARIANT = "int8_qat"


def model_filename(name: str) -> str:
    """`fashion_<name>.tflite`: how every tool names a variant's file."""
    return f"fashion_{name}.tflite"
