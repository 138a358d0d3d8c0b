"""compare_latency: several model files timed in one interleaved run (no TensorFlow needed)."""

from __future__ import annotations

import pytest

from fashion_edge.benchmarks.compare_latency import compare, main
from fashion_edge.edge.registry import shipped_dir


def test_shipped_files_timed_side_by_side(capsys):
    folder = shipped_dir("small")
    paths = [folder / "fashion_int8.tflite", folder / "fashion_float32.tflite"]
    rows = compare(paths, runs=30, warmup=5)
    assert [r["path"] for r in rows] == [str(p) for p in paths]
    assert rows[0]["vs_first"] == 1.0
    assert all(0 < r["p50_ms"] <= r["p90_ms"] for r in rows)
    assert rows[1]["vs_first"] == pytest.approx(rows[1]["p50_ms"] / rows[0]["p50_ms"])
    assert main([str(p) for p in paths] + ["--runs", "10", "--warmup", "2"]) == 0
    assert "interleaved runs each" in capsys.readouterr().out


def test_a_file_without_card_is_one_error(tmp_path, capsys):
    bare = tmp_path / "fashion_int8.tflite"
    bare.write_bytes((shipped_dir("small") / "fashion_int8.tflite").read_bytes())
    assert main([str(bare)]) == 1
    assert "no model card" in capsys.readouterr().err
