"""Peak RSS and start-up-to-first-inference, each measured in a fresh Python process per variant and runtime, so
one model's memory (or TensorFlow's) does not hide another's.

The parent spawns `python -m fashion_edge.benchmarks.memory SPEC_JSON`; the worker notes its RSS after numpy,
imports the runtime, loads the model, runs one inference on a blank image and records its peak RSS right then
(before anything else can raise it). CLOCK_MONOTONIC is system-wide on Linux, so the parent's spawn time and
the worker's first-output time are comparable. The Keras model's latency (and accuracy) are also measured in such a
worker, because TensorFlow fixes its thread pools once per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FashionEdgeError

RESULT_MARKER = "FASHION_EDGE_BENCH_RESULT "
WORKER_TIMEOUT_S = 900


def _current_rss_mb() -> float:
    """Resident set size now, from /proc (Linux); 0.0 where unavailable."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def _peak_rss_mb() -> float:
    """This process's peak RSS. On Linux VmHWM of /proc/self/status: `ru_maxrss` would not do, because exec keeps
    the high-water mark of the memory it replaces, so a worker spawned by a big parent inherits the parent's RSS."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def _keras_session(model_path: str, threads: int, batch: int):
    """Load the Keras model with TensorFlow limited to `threads`; return (`infer(x) -> np.ndarray`, model)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)  # a sequential CNN has no independent ops to overlap
    import keras

    model = keras.models.load_model(model_path, compile=False)
    # A traced function with a fixed signature is how a Keras caller serves one image fast (eager adds ~ms).
    call = tf.function(lambda x: model(x, training=False), input_signature=[tf.TensorSpec([batch, 28, 28, 1])])
    return (lambda x: call(x).numpy()), model


def _tflite_session(spec: dict[str, Any]):
    from ..edge.runtime import make_interpreter
    from .latency import uses_xnnpack

    interpreter, _ = make_interpreter(
        Path(spec["model"]), spec["threads"], spec["runtime"], xnnpack=spec.get("xnnpack", True)
    )
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    if spec["batch"] != 1:
        interpreter.resize_tensor_input(inp["index"], [spec["batch"], 28, 28, 1], strict=False)
        interpreter.allocate_tensors()

    def infer(x: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(inp["index"], x.astype(inp["dtype"], copy=False))
        interpreter.invoke()
        return interpreter.get_tensor(out["index"])

    return infer, uses_xnnpack(interpreter)


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs in the fresh process: start-up, first inference, peak RSS; then optional latency and accuracy."""
    baseline_rss_mb = _current_rss_mb()
    blank = np.zeros((spec["batch"], 28, 28, 1), dtype=np.float32)
    model = None
    if spec["keras"]:
        (infer, model), xnnpack = _keras_session(spec["model"], spec["threads"], spec["batch"]), False
    else:
        infer, xnnpack = _tflite_session(spec)
    infer(blank)
    first_output = time.monotonic()
    result: dict[str, Any] = {
        "first_output_monotonic": first_output,
        "baseline_rss_mb": baseline_rss_mb,
        "peak_rss_mb": _peak_rss_mb(),
        "xnnpack": xnnpack,
    }
    if spec.get("runs"):
        from .latency import timed_invocations

        data = _test_images(spec, limit=16)[..., None].astype(np.float32)
        batches = [np.ascontiguousarray(np.resize(np.roll(data, -i, axis=0), blank.shape)) for i in range(len(data))]
        timed_invocations(lambda i: infer(batches[i % len(batches)]), spec["warmup"])
        result["samples_ms"] = timed_invocations(lambda i: infer(batches[i % len(batches)]), spec["runs"])
    if spec.get("accuracy") and model is not None:
        result["accuracy"] = _keras_accuracy(model, spec)
    return result


def _test_images(spec: dict[str, Any], limit: int | None = None) -> np.ndarray:
    from ..data import load_fashion_mnist

    return load_fashion_mnist(spec.get("data_dir")).x_test[:limit]


def _keras_accuracy(model: Any, spec: dict[str, Any]) -> float:
    from ..data import load_fashion_mnist
    from ..train.keras_io import keras_logits

    data = load_fashion_mnist(spec.get("data_dir"))
    x, y = data.x_test[: spec.get("test_limit")], data.y_test[: spec.get("test_limit")]
    return float(np.mean(np.argmax(keras_logits(model, x, batch_size=256), axis=1) == y))


def run_worker(spec: dict[str, Any], timeout_s: float = WORKER_TIMEOUT_S) -> dict[str, Any]:
    """Spawn a worker for `spec`; return its result plus `startup_s` (spawn to first inference output).

    spec: {model, keras, runtime, threads, batch, runs (0 = no latency), warmup, accuracy, data_dir, test_limit}.
    """
    cmd = [sys.executable, "-m", "fashion_edge.benchmarks.memory", json.dumps(spec)]
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as e:
        raise FashionEdgeError(f"measuring {spec['model']} took over {timeout_s:.0f} s; is the machine busy?") from e
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_MARKER)]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise FashionEdgeError(f"measuring {spec['model']} in a fresh process failed: {tail}")
    result = json.loads(lines[-1][len(RESULT_MARKER) :])
    result["startup_s"] = result.pop("first_output_monotonic") - started
    return result


def _main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    try:
        result = worker(spec)
    except FashionEdgeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(RESULT_MARKER + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
