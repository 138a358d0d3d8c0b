"""Quantization-aware fine-tuning (optional extra: tf-keras + tensorflow-model-optimization) -> full-int8 bytes.

tensorflow-model-optimization only understands Keras 2 (tf-keras), while `fashion-edge train` writes Keras 3. So
the Keras 3 model is rebuilt layer by layer in tf-keras with its weights copied, annotated for QAT, fine-tuned a few
epochs on the training split towards the float model's own softmax (validation split held out, as in training) and
converted with the same int8 settings as post-training quantization. It runs in a child process (`python -m
fashion_edge.convert.qat`): tf-keras must be selected before TensorFlow is first imported, and the parent has already
imported TensorFlow with Keras 3.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import FashionEdgeError

QAT_LEARNING_RATE = 1e-4  # fine-tuning from trained weights: an order of magnitude below the training peak
QAT_BATCH_SIZE = 128
QAT_TARGETS = "float-model softmax"  # what fine-tuning fits (the card says so): the float model's own outputs
INSTALL_HINT = "pip install tf-keras tensorflow-model-optimization (versions matching your TensorFlow)"


@dataclass(frozen=True)
class QatResult:
    model_bytes: bytes
    tool: str  # e.g. "tensorflow-model-optimization 0.8.1, tf-keras 2.21.0"
    epochs: int
    train_images: int
    val_accuracy: float  # the fine-tuned fake-quant model on the validation split


def qat_available() -> str | None:
    """None if QAT can run here, else the reason (missing extra)."""
    import importlib.util

    missing = [m for m in ("tf_keras", "tensorflow_model_optimization") if importlib.util.find_spec(m) is None]
    return f"QAT needs {', '.join(missing)}: {INSTALL_HINT}" if missing else None


def quantization_aware_int8(
    model_path: Path,
    calibration_images,
    io_type: str,
    epochs: int,
    seed: int = 42,
    train_limit: int | None = None,
    data_dir: Path | None = None,
) -> QatResult:
    """Fine-tune `model_path` with fake quantization for `epochs` and return its full-int8 conversion."""
    import json

    import numpy as np

    reason = qat_available()
    if reason:
        raise FashionEdgeError(reason)
    if epochs < 1:
        raise FashionEdgeError(f"--qat-epochs must be positive, got {epochs}")
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "calibration.npy", np.asarray(calibration_images))
        args = {
            "model_path": str(model_path),
            "io_type": io_type,
            "epochs": epochs,
            "seed": seed,
            "train_limit": train_limit,
            "data_dir": data_dir and str(data_dir),
            "work_dir": tmp,
        }
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
        returncode, last_line = _run_child([sys.executable, "-m", "fashion_edge.convert.qat", json.dumps(args)], env)
        if returncode != 0:
            raise FashionEdgeError(f"quantization-aware training failed: {last_line[:400]}")
        info = json.loads((Path(tmp) / "result.json").read_text())
        return QatResult(
            (Path(tmp) / "model.tflite").read_bytes(), info["tool"], epochs, info["train_images"], info["val_accuracy"]
        )


def _run_child(command: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the QAT child; echo its Keras epoch lines to stderr as progress (fine-tuning takes minutes) and return its
    exit code with its last non-empty output line (the error, when it fails)."""
    last_line = "(no output)"
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as proc:
        for line in proc.stdout:
            line = line.strip()
            if line:
                last_line = line
            if line.startswith("Epoch ") or " - loss: " in line:
                print(f"qat: {line}", file=sys.stderr, flush=True)
    return proc.returncode, last_line


# --- the child process: tf-keras world ----------------------------------------------------------------------------


def _to_tf_keras(model3):
    """Rebuild a Keras 3 Sequential-shaped functional model in tf-keras and copy its weights."""
    import numpy as np
    import tf_keras

    # Initializers/regularizers are Keras-3 serialized objects tf-keras cannot read; the weights are copied anyway.
    keras3_only = ("dtype", "quantization_config", "lora_rank", "lora_alpha")
    x = inputs = tf_keras.Input(model3.input_shape[1:], name=model3.layers[0].name)
    for layer in model3.layers[1:]:
        cfg = {
            k: v
            for k, v in layer.get_config().items()
            if k not in keras3_only and not (isinstance(v, dict) and "module" in v)
        }
        try:
            x = getattr(tf_keras.layers, type(layer).__name__).from_config(cfg)(x)
        except (AttributeError, TypeError, ValueError) as e:
            raise FashionEdgeError(
                f"QAT cannot rebuild layer {layer.name} ({type(layer).__name__}) in tf-keras: {e}"
            ) from e
    model2 = tf_keras.Model(inputs, x)
    for l2, l3 in zip(model2.layers[1:], model3.layers[1:], strict=True):
        l2.set_weights([np.asarray(w) for w in l3.get_weights()])
    return model2


def _annotate_for_qat(model2):
    import tensorflow_model_optimization as tfmot
    import tf_keras

    qk = tfmot.quantization.keras

    class OutputOnly(qk.QuantizeConfig):
        """Rescaling (raw pixels -> 0..1) has no weights and no tfmot config: quantize its output only."""

        def get_weights_and_quantizers(self, layer):
            return []

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            return None

        def set_quantize_activations(self, layer, quantize_activations):
            return None

        def get_output_quantizers(self, layer):
            return [
                qk.quantizers.MovingAverageQuantizer(num_bits=8, per_axis=False, symmetric=False, narrow_range=False)
            ]

        def get_config(self):
            return {}

    def annotate(layer):
        if isinstance(layer, tf_keras.layers.Rescaling):
            return qk.quantize_annotate_layer(layer, OutputOnly())
        return qk.quantize_annotate_layer(layer)

    annotated = tf_keras.models.clone_model(model2, clone_function=annotate)
    with qk.quantize_scope({"OutputOnly": OutputOnly}):
        return qk.quantize_apply(annotated)


def _child(args: dict) -> None:
    import json
    from importlib.metadata import version

    import keras
    import numpy as np
    import tensorflow as tf
    import tf_keras

    from ..data import load_fashion_mnist, stratified_split
    from ..edge.variants import BY_NAME, QAT_VARIANT
    from .converter import apply_settings, check_integer_only, quiet_converter

    tf_keras.utils.set_random_seed(args["seed"])
    data = load_fashion_mnist(Path(args["data_dir"]) if args["data_dir"] else None)
    train_idx, val_idx = stratified_split(data.y_train, 0.1, args["seed"])  # the split training used
    if args["train_limit"]:
        train_idx = train_idx[: args["train_limit"]]
    x = data.x_train[..., None].astype("float32")
    x_train = x[train_idx]  # one copy, for the targets and the fit
    float_model = _to_tf_keras(keras.models.load_model(args["model_path"], compile=False))
    # The targets are the float model's own softmax: QAT learns to reproduce what the model does (its label smoothing,
    # its teacher's lessons), not to refit the labels. Hard labels moved a distilled nano model away from its float
    # optimum: 92.13% int8 vs 92.42% post-training (docs/experiments.md).
    targets = tf.nn.softmax(float_model.predict(x_train, batch_size=512, verbose=0)).numpy()
    model = _annotate_for_qat(float_model)
    steps = args["epochs"] * int(np.ceil(len(train_idx) / QAT_BATCH_SIZE))
    model.compile(
        optimizer=tf_keras.optimizers.Adam(tf_keras.optimizers.schedules.CosineDecay(QAT_LEARNING_RATE, steps)),
        loss=tf_keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=["categorical_accuracy"],  # training: agreement with the float model; validation: accuracy
    )
    history = model.fit(
        x_train,
        targets,
        batch_size=QAT_BATCH_SIZE,
        epochs=args["epochs"],
        validation_data=(x[val_idx], np.eye(10, dtype="float32")[data.y_train[val_idx]]),
        verbose=2,
    )
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    calibration = np.load(Path(args["work_dir"]) / "calibration.npy")
    apply_settings(converter, BY_NAME[QAT_VARIANT], calibration, args["io_type"])  # calibrates what has no fake-quant
    with quiet_converter():
        model_bytes = converter.convert()
    check_integer_only(model_bytes)
    (Path(args["work_dir"]) / "model.tflite").write_bytes(model_bytes)
    tool = f"tensorflow-model-optimization {version('tensorflow-model-optimization')}, tf-keras {tf_keras.__version__}"
    (Path(args["work_dir"]) / "result.json").write_text(
        json.dumps(
            {
                "tool": tool,
                "train_images": len(train_idx),
                "val_accuracy": float(history.history["val_categorical_accuracy"][-1]),
            }
        )
    )


if __name__ == "__main__":
    import json

    try:
        _child(json.loads(sys.argv[1]))
    except FashionEdgeError as e:
        print(e, file=sys.stderr)
        sys.exit(1)
