"""One benchmark run: every variant's accuracy, latency per thread count, size, peak RSS and start-up, on one
machine in one process run, so the ratios to float32 TFLite compare like with like."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from ..data import load_fashion_mnist
from ..edge.runtime import available_runtimes, resolve_runtime
from ..errors import FashionEdgeError
from ..host import tensorflow_version
from . import latency
from .accuracy import tflite_accuracy
from .device import device_info
from .memory import run_worker
from .models import BenchModel, discover
from .schema import SCHEMA_NAME, SCHEMA_VERSION

LATENCY_IMAGES = 16  # real test images cycled through during timing (not one image over and over)
Advance = Callable[[int], None]


@dataclass(frozen=True)
class BenchConfig:
    models_dir: Path | None = None  # None: the models shipped in the package
    keras_model: Path | None = None
    threads: tuple[int, ...] = (1, 2, 4)
    runs: int = 500
    warmup: int = 50
    batch: int = 1
    runtimes: tuple[str, ...] = ()  # empty: the first runtime that imports (litert, tflite-runtime, tf)
    pin_cpu: int | None = None  # a CPU index: restrict this process (and its workers) to that core
    seed: int = 0
    data_dir: Path | None = None
    test_limit: int | None = None  # accuracy on the first N test images only (smoke runs); None = all 10K
    label: str | None = None  # device label in the report; default: the host name
    xnnpack: bool = True  # False: TFLite runs on the runtime's builtin kernels (A/B against XNNPACK)


def check_config(cfg: BenchConfig) -> tuple[str, ...]:
    """Refuse bad numbers before anything runs; return the runtimes to use."""
    for name, value in (("runs", cfg.runs), ("warmup", cfg.warmup), ("batch", cfg.batch)):
        if value < 1:
            raise FashionEdgeError(f"--{name} must be at least 1, got {value}")
    if not cfg.threads:
        raise FashionEdgeError("--threads needs at least one thread count, e.g. --threads 1,2,4")
    bad = [t for t in cfg.threads if t < 1]
    if bad:
        raise FashionEdgeError(f"thread counts must be at least 1, got {', '.join(map(str, bad))}")
    if cfg.test_limit is not None and cfg.test_limit < 1:
        raise FashionEdgeError(f"--test-limit must be at least 1, got {cfg.test_limit}")
    return tuple(dict.fromkeys(resolve_runtime(r) for r in cfg.runtimes)) or (resolve_runtime(None),)


@contextlib.contextmanager
def pinned_to(cpu: int | None) -> Iterator[None]:
    """Restrict this process (and the workers it spawns) to one core, restoring the old set afterwards."""
    if cpu is None:
        yield
        return
    if not hasattr(os, "sched_setaffinity"):
        raise FashionEdgeError("--pin-cpu needs Linux (os.sched_setaffinity); use taskset or drop --pin-cpu")
    before = os.sched_getaffinity(0)
    if cpu not in before:
        raise FashionEdgeError(f"--pin-cpu {cpu}: this process may only use CPUs {sorted(before)}")
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def default_pin_cpu() -> int:
    """The highest-numbered allowed core: core 0 takes most interrupts (on a Pi too)."""
    return max(os.sched_getaffinity(0))


def total_steps(cfg: BenchConfig, models: list[BenchModel], runtimes: tuple[str, ...]) -> int:
    """Progress-bar length: accuracy + memory per TFLite model and runtime, latency blocks, Keras workers."""
    tflite = sum(not m.is_keras for m in models) * len(runtimes)
    keras = sum(m.is_keras for m in models) * len(cfg.threads)
    return 2 * tflite + tflite * len(cfg.threads) * (1 + latency.rounds(cfg.runs)) + keras


def run_benchmark(cfg: BenchConfig, advance: Advance | None = None, total: Callable[[int], None] | None = None) -> dict:
    """Measure everything per `cfg`; return the run document (schema.py). Writes nothing.

    `total(n)` is called once with the number of steps, then `advance(1)` after each step (for a progress bar).
    """
    runtimes = check_config(cfg)
    models = discover(cfg.models_dir, cfg.keras_model)
    step = advance or (lambda n: None)
    if total:
        total(total_steps(cfg, models, runtimes))
    data = load_fashion_mnist(cfg.data_dir)
    images, labels = data.x_test[: cfg.test_limit], data.y_test[: cfg.test_limit]
    tflite_models = [m for m in models if not m.is_keras]
    with pinned_to(cfg.pin_cpu):
        # Interpreters first: a thread count or batch the runtime refuses fails now, not after minutes.
        runners = {
            (m.key, rt, t): _make_runner(m, rt, t, cfg, images[:LATENCY_IMAGES])
            for m in tflite_models
            for rt in runtimes
            for t in cfg.threads
        }
        accuracy, memory = {}, {}
        for m in tflite_models:
            for rt in runtimes:
                accuracy[m.key, rt] = tflite_accuracy(m, images, labels, rt, num_threads=max(cfg.threads))
                step(1)
                memory[m.key, rt] = run_worker(_worker_spec(cfg, m, rt, cfg.threads[0]))
                step(1)
        keras_rows = [_keras_row(cfg, m, t, step) for m in models if m.is_keras for t in cfg.threads]
        latency.measure_interleaved(list(runners.values()), cfg.runs, cfg.warmup, cfg.seed, step)
        # inside the pinned block: cpus_allowed shows the pinning
        device = device_info(cfg.label, xnnpack=any(runner.xnnpack for runner in runners.values()))
    results = [
        _row(
            m,
            runner.runtime,
            t,
            cfg.batch,
            runner.samples_ms,
            True,
            accuracy[m.key, rt],
            memory[m.key, rt],
            runner.xnnpack,
        )
        for m in tflite_models
        for rt in runtimes
        for t in cfg.threads
        for runner in [runners[m.key, rt, t]]
    ] + keras_rows
    add_ratios(results, baseline_runtime=runtimes[0])
    return {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "kind": "run",
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "fashion_edge_version": __version__,
        "config": {
            "runs": cfg.runs,
            "warmup": cfg.warmup,
            "batch": cfg.batch,
            "threads": list(cfg.threads),
            "runtimes": list(runtimes),
            "pin_cpu": cfg.pin_cpu,
            "seed": cfg.seed,
            "test_images": len(labels),
            "models_dir": ", ".join(dict.fromkeys(str(m.path.parent) for m in models if not m.is_keras)),
            "keras_model": str(cfg.keras_model) if cfg.keras_model else None,
            "memory_threads": cfg.threads[0],
            "xnnpack": cfg.xnnpack,
            "data_sha256": data.content_sha256,
        },
        "device": device,
        "results": results,
    }


def _make_runner(m: BenchModel, runtime: str, threads: int, cfg: BenchConfig, images) -> latency.TFLiteRunner:
    try:
        return latency.TFLiteRunner(m.path, m.card, images, threads, runtime, cfg.batch, cfg.xnnpack)
    except (ValueError, RuntimeError) as e:  # resize_tensor_input / allocate_tensors refusing
        raise FashionEdgeError(f"{runtime} refused {m.path.name} at {threads} threads, batch {cfg.batch}: {e}") from e


def _worker_spec(cfg: BenchConfig, m: BenchModel, runtime: str | None, threads: int, **extra: Any) -> dict:
    return {
        "model": str(m.path),
        "keras": m.is_keras,
        "runtime": runtime,
        "threads": threads,
        "batch": cfg.batch,
        "runs": 0,
        "warmup": 0,
        "accuracy": False,
        "test_limit": cfg.test_limit,
        "data_dir": str(cfg.data_dir) if cfg.data_dir else None,
        **extra,
    }


def _keras_row(cfg: BenchConfig, m: BenchModel, threads: int, step: Advance) -> dict:
    """The Keras model at one thread count, timed in its own TensorFlow process (not interleaved)."""
    spec = _worker_spec(cfg, m, None, threads, runs=cfg.runs, warmup=cfg.warmup, accuracy=True)
    result = run_worker(spec)
    step(1)
    return _row(m, "tensorflow", threads, cfg.batch, result["samples_ms"], False, result["accuracy"], result, False)


def _row(
    m: BenchModel,
    runtime: str,
    threads: int,
    batch: int,
    samples_ms: list[float],
    interleaved: bool,
    accuracy: float,
    mem: dict,
    xnnpack: bool,
) -> dict:
    stats = latency.summarize(samples_ms)
    # "tensorflow" runs the Keras model, "tf" is tf.lite's interpreter: both are TensorFlow's version.
    version = tensorflow_version() if runtime in ("tensorflow", "tf") else available_runtimes().get(runtime)
    return {
        "variant": m.variant,
        "model": m.model,
        "format": m.format,
        "runtime": runtime,
        "runtime_version": version or "unknown",
        "threads": threads,
        "batch": batch,
        "latency_ms": {k: round(v, 4) for k, v in stats.items()},
        "fps": round(batch * 1000.0 / stats["p50"], 1),
        "samples_ms": [round(s, 4) for s in samples_ms],
        "interleaved": interleaved,
        "accuracy": accuracy,
        "size_bytes": m.size_bytes,
        "peak_rss_mb": round(mem["peak_rss_mb"], 1),
        "baseline_rss_mb": round(mem["baseline_rss_mb"], 1),
        "startup_s": round(mem["startup_s"], 3),
        "xnnpack": xnnpack,
        "vs_float32": None,
    }


def add_ratios(results: list[dict], baseline_runtime: str) -> None:
    """Fill `vs_float32` from the float32 TFLite row of the same model, runtime and thread count (Keras rows: the
    first runtime's float32). Left None when the run has no float32 file of that model."""
    base = {(r["model"], r["runtime"], r["threads"], r["batch"]): r for r in results if r["variant"] == "float32"}
    for r in results:
        runtime = baseline_runtime if r["runtime"] == "tensorflow" else r["runtime"]
        b = base.get((r["model"], runtime, r["threads"], r["batch"]))
        if b is not None:
            r["vs_float32"] = {
                "speedup_p50": round(b["latency_ms"]["p50"] / r["latency_ms"]["p50"], 3),
                "size_ratio": round(r["size_bytes"] / b["size_bytes"], 4),
                "accuracy_delta": round(r["accuracy"] - b["accuracy"], 5),
            }
