"""The `bench.json` schema (versioned) and a small validator for it. No third-party dependency.

A **run** file (what `fashion-edge bench` writes), schema_version 2 (2 added `model`, the CPU's int8 instructions):

    {
      "schema": "fashion-edge-bench", "schema_version": 2, "kind": "run",
      "created_at": ISO-8601 UTC, "fashion_edge_version": str,
      "config": {runs, warmup, batch, threads: [int], runtimes: [str], pin_cpu: int|null, seed, test_images,
                 models_dir: str, keras_model: str|null, memory_threads: int,
                 xnnpack: bool (false under --no-xnnpack: builtin kernels only)},
      "device": {label, cpu_model, cpu_cores, cpus_allowed, arch, os, python, numpy,
                 runtimes: {name: version}, tensorflow: str|null, xnnpack: bool,
                 cpu_instructions: [str] (the int8-relevant ones: AVX2, AVX-512 VNNI, NEON dot-product, ...),
                 int8_expectation: str (one line: what int8 can gain over float32 on this CPU)},
      "results": [{
          variant:      a row of edge.variants.TABLE (float32, int8, ...) | "keras",
          model:        the network: shipped size "small" | "nano", or the models folder's name,
          format:       human label, e.g. "TFLite int8",
          runtime, runtime_version, threads, batch,
          latency_ms:   {mean, std, min, max, p50, p90, p99}   (one invocation: set_tensor + invoke + get_tensor),
          fps:          batch * 1000 / p50,
          samples_ms:   [float]   (every timed run, in order; the HTML plots them),
          interleaved:  bool      (timed in randomised rounds with the other variants of this run),
          accuracy:     top-1 on the test set (config.test_images images),
          size_bytes, peak_rss_mb, baseline_rss_mb, startup_s,
          xnnpack:      bool      (the interpreter got the XNNPACK delegate; false for Keras),
          vs_float32:   {speedup_p50, size_ratio, accuracy_delta} | null
                        (float32 TFLite of the same runtime and thread count, same run: its p50 / this p50,
                         this size / its size, this accuracy - its accuracy)
      }]
    }

`peak_rss_mb` and `startup_s` come from a fresh subprocess per variant and runtime (at `memory_threads` threads):
peak RSS is the worker's VmHWM (not ru_maxrss, which exec inherits from the parent), `baseline_rss_mb` its RSS
after importing numpy and before the runtime, and
`startup_s` the wall time from spawning the worker to the first inference's output (interpreter start, imports,
model load, first invoke), so it is what a user waits for when launching a classifier.

A **merged** file (`fashion-edge bench merge`) is `{schema, schema_version, kind: "merged", created_at,
runs: [run, ...]}`; merging merged files flattens them.
"""

from __future__ import annotations

import numbers
from typing import Any

SCHEMA_NAME = "fashion-edge-bench"
SCHEMA_VERSION = 2

LATENCY_KEYS = ("mean", "std", "min", "max", "p50", "p90", "p99")
DEVICE_KEYS = {
    "label": str,
    "cpu_model": str,
    "cpu_cores": int,
    "cpus_allowed": int,
    "arch": str,
    "os": str,
    "python": str,
    "numpy": str,
    "runtimes": dict,
    "tensorflow": (str, type(None)),
    "xnnpack": bool,
    "cpu_instructions": list,
    "int8_expectation": str,
}
CONFIG_KEYS = {
    "runs": int,
    "warmup": int,
    "batch": int,
    "threads": list,
    "runtimes": list,
    "pin_cpu": (int, type(None)),
    "seed": int,
    "test_images": int,
    "models_dir": str,
    "keras_model": (str, type(None)),
    "memory_threads": int,
    "xnnpack": bool,
}
RESULT_KEYS = {
    "variant": str,
    "model": str,
    "format": str,
    "runtime": str,
    "runtime_version": str,
    "threads": int,
    "batch": int,
    "latency_ms": dict,
    "fps": float,
    "samples_ms": list,
    "interleaved": bool,
    "accuracy": float,
    "size_bytes": int,
    "peak_rss_mb": float,
    "baseline_rss_mb": float,
    "startup_s": float,
    "xnnpack": bool,
    "vs_float32": (dict, type(None)),
}
RATIO_KEYS = ("speedup_p50", "size_ratio", "accuracy_delta")


class SchemaError(ValueError):
    """The document does not follow the bench schema; the message lists every problem found."""


def _type_ok(value: Any, expected: type | tuple) -> bool:
    expected = expected if isinstance(expected, tuple) else (expected,)
    for t in expected:
        if t is float and isinstance(value, numbers.Real) and not isinstance(value, bool):
            return True  # JSON has one number type: 1 is a valid float
        if t is int and isinstance(value, bool):
            continue
        if isinstance(value, t):
            return True
    return False


def _check_keys(obj: Any, spec: dict, where: str, problems: list[str]) -> bool:
    if not isinstance(obj, dict):
        problems.append(f"{where}: expected an object, got {type(obj).__name__}")
        return False
    for key, expected in spec.items():
        if key not in obj:
            problems.append(f"{where}.{key}: missing")
        elif not _type_ok(obj[key], expected):
            problems.append(f"{where}.{key}: unexpected type {type(obj[key]).__name__}")
    return True


def _check_result(result: Any, where: str, problems: list[str]) -> None:
    if not _check_keys(result, RESULT_KEYS, where, problems):
        return
    latency = result.get("latency_ms")
    if isinstance(latency, dict):
        missing = [k for k in LATENCY_KEYS if not _type_ok(latency.get(k), float)]
        if missing:
            problems.append(f"{where}.latency_ms: missing or non-numeric {', '.join(missing)}")
        elif not latency["min"] <= latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]:
            problems.append(f"{where}.latency_ms: percentiles out of order (min <= p50 <= p90 <= p99 <= max)")
    if isinstance(result.get("threads"), int) and result["threads"] < 1:
        problems.append(f"{where}.threads: must be >= 1")
    accuracy = result.get("accuracy")
    if _type_ok(accuracy, float) and not 0.0 <= accuracy <= 1.0:
        problems.append(f"{where}.accuracy: {accuracy} is not in [0, 1]")
    ratios = result.get("vs_float32")
    if isinstance(ratios, dict):
        missing = [k for k in RATIO_KEYS if not _type_ok(ratios.get(k), float)]
        if missing:
            problems.append(f"{where}.vs_float32: missing or non-numeric {', '.join(missing)}")


def _check_run(doc: Any, where: str, problems: list[str]) -> None:
    if not isinstance(doc, dict):
        problems.append(f"{where}: expected an object")
        return
    _check_keys(doc.get("config"), CONFIG_KEYS, f"{where}.config", problems)
    _check_keys(doc.get("device"), DEVICE_KEYS, f"{where}.device", problems)
    results = doc.get("results")
    if not isinstance(results, list) or not results:
        problems.append(f"{where}.results: expected a non-empty list")
        return
    for i, result in enumerate(results):
        _check_result(result, f"{where}.results[{i}]", problems)


def validate(doc: Any) -> None:
    """Raise SchemaError listing every problem if `doc` is not a valid run or merged bench document."""
    problems: list[str] = []
    if not isinstance(doc, dict):
        raise SchemaError("bench document: expected a JSON object")
    if doc.get("schema") != SCHEMA_NAME:
        problems.append(f"schema: expected {SCHEMA_NAME!r}, got {doc.get('schema')!r}")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        problems.append(f"schema_version: this fashion-edge reads version {SCHEMA_VERSION}, got {version!r}")
    kind = doc.get("kind")
    if kind == "run":
        _check_run(doc, "$", problems)
    elif kind == "merged":
        runs = doc.get("runs")
        if not isinstance(runs, list) or not runs:
            problems.append("$.runs: expected a non-empty list")
        else:
            for i, run in enumerate(runs):
                _check_run(run, f"$.runs[{i}]", problems)
    else:
        problems.append(f"kind: expected 'run' or 'merged', got {kind!r}")
    if problems:
        raise SchemaError("; ".join(problems))


def runs_of(doc: dict) -> list[dict]:
    """The run documents inside a run or merged document."""
    return list(doc["runs"]) if doc.get("kind") == "merged" else [doc]
