"""Latency in the manner of LiteRT's `benchmark_model`: warm-up, then N timed invocations, each one setting the
input tensor, invoking and reading the output as a real caller does; summarised as mean, std, p50, p90, p99.

The TFLite variants are timed in one process, interleaved: after every runner's warm-up, rounds of small blocks
run in a freshly shuffled order each round, so a noisy neighbour or a thermal throttle falls on all variants
alike instead of on whichever happened to run last.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..edge.quant import quantize_input
from ..edge.runtime import make_interpreter

TARGET_ROUNDS = 20  # interleaving granularity: ~20 shuffled rounds whatever N is


def summarize(samples_ms: Sequence[float]) -> dict[str, float]:
    """mean, std, min, max and the p50/p90/p99 percentiles (linear interpolation) of the timings, in ms."""
    x = np.asarray(samples_ms, dtype=np.float64)
    p50, p90, p99 = np.percentile(x, [50, 90, 99])
    return {
        "mean": float(x.mean()),
        "std": float(x.std()),
        "min": float(x.min()),
        "max": float(x.max()),
        "p50": float(p50),
        "p90": float(p90),
        "p99": float(p99),
    }


def uses_xnnpack(interpreter: Any) -> bool:
    """Whether LiteRT applied its default delegate: a DELEGATE node appears in the graph.

    We pass no `experimental_delegates`, so the only delegate the interpreter can have applied by itself is its
    built-in default, XNNPACK (LiteRT logs "Created TensorFlow Lite XNNPACK delegate for CPU" once per process;
    edge/runtime filters that line out of stderr, and it would not say which interpreter got it anyway).
    Built with OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES, the same model has no DELEGATE node.
    """
    try:
        ops = interpreter._get_ops_details()  # private, but the only per-interpreter view of the graph
    except Exception:  # noqa: BLE001 - a runtime without it: we cannot tell, so we do not claim XNNPACK
        return False
    return any(op.get("op_name") == "DELEGATE" for op in ops)


def timed_invocations(run_once: Callable[[int], None], n: int, start: int = 0) -> list[float]:
    """Time `n` calls of `run_once(i)` (i counts from `start`), in ms each."""
    samples = []
    clock = time.perf_counter_ns
    for i in range(start, start + n):
        t0 = clock()
        run_once(i)
        samples.append((clock() - t0) / 1e6)
    return samples


@dataclass
class TFLiteRunner:
    """One interpreter (variant, runtime, thread count) fed a few real test images in turn."""

    model_path: Path
    card: dict[str, Any]
    images_uint8: np.ndarray  # (k, 28, 28) raw pixels, cycled through
    num_threads: int
    runtime: str | None = None
    batch: int = 1
    xnnpack_allowed: bool = True  # False: the runtime's builtin kernels only (an A/B against XNNPACK)
    samples_ms: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.interpreter, self.runtime = make_interpreter(
            self.model_path, self.num_threads, self.runtime, xnnpack=self.xnnpack_allowed
        )
        inp = self.interpreter.get_input_details()[0]
        self._input_index = inp["index"]
        self._output_index = self.interpreter.get_output_details()[0]["index"]
        if self.batch != 1:
            self.interpreter.resize_tensor_input(self._input_index, [self.batch, 28, 28, 1], strict=False)
            self.interpreter.allocate_tensors()
        x = quantize_input(self.images_uint8, self.card["input"])
        reps = -(-self.batch // len(x))  # ceil: enough images to fill one batch
        x = np.concatenate([x] * reps) if reps > 1 else x
        # Pre-built batches, so the timed region holds only what a caller of the interpreter does.
        self._batches = [np.ascontiguousarray(np.roll(x, -i, axis=0)[: self.batch]) for i in range(len(x))]
        self.xnnpack = uses_xnnpack(self.interpreter)

    def run_once(self, i: int) -> None:
        self.interpreter.set_tensor(self._input_index, self._batches[i % len(self._batches)])
        self.interpreter.invoke()
        self.interpreter.get_tensor(self._output_index)

    def warm_up(self, n: int) -> None:
        timed_invocations(self.run_once, n)

    def measure(self, n: int) -> None:
        self.samples_ms.extend(timed_invocations(self.run_once, n, start=len(self.samples_ms)))


def measure_interleaved(
    runners: Sequence[TFLiteRunner],
    runs: int,
    warmup: int,
    seed: int = 0,
    advance: Callable[[int], None] | None = None,
) -> None:
    """Warm every runner up, then give each `runs` timed invocations in shuffled rounds (fills `samples_ms`).

    `advance(1)` is called after each warm-up and each block (len(runners) * (1 + rounds(runs)) calls in all).
    """
    rng = random.Random(seed)
    order = list(runners)
    rng.shuffle(order)
    for runner in order:
        runner.warm_up(warmup)
        if advance:
            advance(1)
    block = block_size(runs)
    while any(len(r.samples_ms) < runs for r in runners):
        rng.shuffle(order)
        for runner in order:
            runner.measure(min(block, runs - len(runner.samples_ms)))
            if advance:
                advance(1)


def block_size(runs: int) -> int:
    return max(1, math.ceil(runs / TARGET_ROUNDS))


def rounds(runs: int) -> int:
    """How many shuffled rounds `measure_interleaved` makes for `runs` timed invocations."""
    return math.ceil(runs / block_size(runs))
