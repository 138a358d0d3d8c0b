"""The fresh-process memory/start-up worker, on the tiny converted models."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_edge.benchmarks.memory import run_worker
from fashion_edge.errors import FashionEdgeError


def _spec(model, **extra) -> dict:
    return {"model": str(model), "keras": False, "runtime": None, "threads": 1, "batch": 1, "runs": 0, "warmup": 0,
            "accuracy": False, "test_limit": None, "data_dir": None, **extra}  # fmt: skip


def test_worker_reports_peak_rss_startup_and_xnnpack(edge_models):
    result = run_worker(_spec(edge_models / "fashion_int8.tflite"))
    assert 0 < result["baseline_rss_mb"] < result["peak_rss_mb"]
    assert 0 < result["startup_s"] < 60
    assert result["xnnpack"] is True  # LiteRT's CPU build applies XNNPACK by default


def test_a_big_parent_does_not_leak_into_the_workers_peak(edge_models):
    """exec keeps ru_maxrss from the process image it replaces; the worker must report its own peak, not ours."""
    ballast = np.ones(200 * 2**20 // 8)  # 200 MB, touched, in this (parent) process
    result = run_worker(_spec(edge_models / "fashion_float32.tflite"))
    assert result["peak_rss_mb"] < 150, result
    del ballast


def test_worker_failure_is_a_clear_error(tmp_path):
    bogus = tmp_path / "fashion_float32.tflite"
    bogus.write_bytes(b"\0\0\0\0TFL3" + b"\0" * 64)
    with pytest.raises(FashionEdgeError, match="in a fresh process failed"):
        run_worker(_spec(bogus))
