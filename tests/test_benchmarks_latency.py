"""Latency statistics and the interleaved schedule, on fake runners (no interpreter needed)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fashion_edge.benchmarks import latency


@given(st.lists(st.floats(min_value=0.001, max_value=1e4, allow_nan=False), min_size=1, max_size=200))
def test_percentiles_are_ordered(samples):
    s = latency.summarize(samples)
    assert s["min"] <= s["p50"] <= s["p90"] <= s["p99"] <= s["max"]
    assert s["std"] >= 0


def test_summary_matches_numpy():
    samples = list(np.linspace(1.0, 100.0, 100))
    s = latency.summarize(samples)
    assert s["p50"] == np.percentile(samples, 50) and s["p99"] == np.percentile(samples, 99)
    assert s["mean"] == np.mean(samples)


class FakeRunner:
    """Records which runner ran when, so the schedule's interleaving is visible."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log, self.samples_ms, self.warmed = name, log, [], 0

    def warm_up(self, n: int) -> None:
        self.warmed += n

    def measure(self, n: int) -> None:
        self.log.extend([self.name] * n)
        self.samples_ms.extend([1.0] * n)


def test_every_runner_gets_exactly_runs_samples_in_shuffled_interleaved_rounds():
    log: list[str] = []
    runners = [FakeRunner(n, log) for n in ("float32", "float16", "dynamic", "int8")]
    steps = []
    latency.measure_interleaved(runners, runs=103, warmup=7, seed=1, advance=steps.append)
    assert all(len(r.samples_ms) == 103 and r.warmed == 7 for r in runners)
    assert len(steps) == len(runners) * (1 + latency.rounds(103))  # what the progress bar was told
    # Interleaved: no runner does its runs in one go; every quarter of the timeline sees every runner.
    for quarter in np.array_split(np.array(log), 4):
        assert set(quarter) == {r.name for r in runners}
    # Shuffled: the order within rounds is not always the same.
    block = latency.block_size(103)
    firsts = {tuple(dict.fromkeys(log[i : i + 4 * block])) for i in range(0, 4 * block * 5, 4 * block)}
    assert len(firsts) > 1


def test_timed_invocations_measure_the_call():
    import time

    samples = latency.timed_invocations(lambda i: time.sleep(0.002), 3)
    assert len(samples) == 3 and all(1.5 <= s < 50 for s in samples)


def test_xnnpack_detection_tells_the_delegate_apart(edge_models):
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    model = str(edge_models / "fashion_int8.tflite")
    with_default = litert.Interpreter(model_path=model, num_threads=1)
    without = litert.Interpreter(
        model_path=model, num_threads=1,
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )  # fmt: skip
    for interpreter in (with_default, without):
        interpreter.allocate_tensors()
    assert latency.uses_xnnpack(with_default) and not latency.uses_xnnpack(without)
