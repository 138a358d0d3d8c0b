"""`fashion-edge bench` end to end: a short run over the tiny converted models, its JSON, tables, merge, bad input
(the runs without Keras also on the shipped models of an edge-only install)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fashion_edge.benchmarks.schema import validate
from fashion_edge.cli import main
from fashion_edge.edge.variants import VARIANTS, model_filename

THREADS = (1, 2)
SHORT = ["--runs", "5", "--warmup", "2", "--threads", ",".join(map(str, THREADS))]


def present(models_dir: Path) -> set[str]:
    """The variants a folder holds (the tiny conversion: all four; the shipped folder: int8 and float32)."""
    return {v for v in VARIANTS if (models_dir / model_filename(v)).is_file()}


def _bench(*args: str):
    return CliRunner().invoke(main, ["bench", *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def bench_out(tiny_tflite_dir, tiny_model_dir, tmp_path_factory) -> Path:
    """One short run over the four tiny variants plus the tiny Keras model, shared by the tests below."""
    out = tmp_path_factory.mktemp("bench")
    result = _bench(str(tiny_tflite_dir), *SHORT, "--out", str(out), "--label", "laptop",
                    "--keras-model", str(tiny_model_dir / "model.keras"))  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def test_bench_json_validates_with_every_variant_and_thread_count(bench_out):
    doc = json.loads((bench_out / "bench.json").read_text())
    validate(doc)
    rows = {(r["variant"], r["threads"]): r for r in doc["results"]}
    assert set(rows) == {(v, t) for v in (*VARIANTS, "keras") for t in THREADS}
    for r in doc["results"]:
        lat = r["latency_ms"]
        assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
        assert len(r["samples_ms"]) == 5
        assert r["accuracy"] > 0.3  # the tiny model learned something; 0.1 is chance
        assert r["peak_rss_mb"] > r["baseline_rss_mb"] > 0
        assert r["startup_s"] > 0
    assert doc["config"]["test_images"] == 10_000
    assert rows["float32", 1]["vs_float32"]["speedup_p50"] == 1.0
    int8, f32 = rows["int8", 1], rows["float32", 1]
    assert int8["vs_float32"]["size_ratio"] == pytest.approx(int8["size_bytes"] / f32["size_bytes"], abs=1e-4)
    assert int8["vs_float32"]["size_ratio"] < 0.75  # int8 weights are a quarter of float32's (plus fixed overhead)
    assert rows["keras", 1]["interleaved"] is False and rows["int8", 2]["interleaved"] is True
    # The Keras model and its float32 TFLite conversion make the same predictions on nearly every image.
    assert abs(rows["keras", 1]["accuracy"] - rows["float32", 1]["accuracy"]) < 0.005
    assert doc["device"]["runtimes"] and doc["device"]["cpu_cores"] >= 1


def test_bench_markdown_lists_every_variant_and_html_is_self_contained(bench_out):
    md = (bench_out / "bench.md").read_text()
    rows = [line.strip("| ").split(" | ") for line in md.splitlines() if line.startswith("| ")]
    for fmt in [f"TFLite {v}" for v in VARIANTS] + ["Keras float32"]:  # the results table: "<model> <format>"
        hits = [row for row in rows if row[0].endswith(f" {fmt}") and row[2] in {str(t) for t in THREADS}]
        assert len(hits) == len(THREADS), fmt
    page = (bench_out / "bench.html").read_text()
    assert page.count("data:image/png;base64,") == 3
    assert "src='http" not in page and "<script" not in page


def test_merge_two_devices(bench_out, tmp_path):
    pi = json.loads((bench_out / "bench.json").read_text())
    pi["device"].update(label="pi5", arch="aarch64")
    (tmp_path / "pi.json").write_text(json.dumps(pi))
    result = _bench("merge", str(bench_out / "bench.json"), str(tmp_path / "pi.json"), "--out", str(tmp_path / "m"))
    assert result.exit_code == 0, result.output
    merged = json.loads((tmp_path / "m" / "bench.json").read_text())
    validate(merged)
    assert [run["device"]["label"] for run in merged["runs"]] == ["laptop", "pi5"]
    md = (tmp_path / "m" / "bench.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| Format | laptop ("))
    assert header.endswith("| pi5 (aarch64) |")
    # Merging a merged file with a run flattens: three runs, not a nested document.
    again = _bench("merge", str(tmp_path / "m" / "bench.json"), str(bench_out / "bench.json"), "--out",
                   str(tmp_path / "m2"))  # fmt: skip
    assert again.exit_code == 0, again.output
    assert len(json.loads((tmp_path / "m2" / "bench.json").read_text())["runs"]) == 3


def test_merge_refuses_a_file_that_is_not_a_bench_result(tmp_path):
    (tmp_path / "x.json").write_text('{"hello": 1}')
    result = _bench("merge", str(tmp_path / "x.json"), "--out", str(tmp_path / "m"))
    assert result.exit_code == 1 and "not a fashion-edge bench result" in result.output
    assert not (tmp_path / "m" / "bench.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--runs", "0"], "Invalid value for '--runs'"),
        (["--warmup", "-1"], "Invalid value for '--warmup'"),
        (["--threads", "0,2"], "every thread count must be at least 1"),
        (["--threads", "one"], "comma-separated integers"),
        (["--runtime", "onnx"], "unknown runtime"),
    ],
)
def test_bad_numbers_are_refused_before_anything_is_written(edge_models, tmp_path, args, message):
    result = _bench(str(edge_models), *SHORT, *args, "--out", str(tmp_path / "out"))
    assert result.exit_code != 0 and message in result.output
    assert not (tmp_path / "out" / "bench.json").exists()


def test_empty_dir_missing_card_and_wrong_dir(edge_models, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _bench(str(empty), *SHORT, "--out", str(tmp_path / "o1"))
    assert result.exit_code == 1 and "nothing to benchmark" in result.output
    result = _bench(str(tmp_path / "nope"), *SHORT, "--out", str(tmp_path / "o2"))
    assert result.exit_code == 1 and "does not exist" in result.output
    no_card = tmp_path / "no_card"
    shutil.copytree(edge_models, no_card)
    (no_card / "fashion_int8.json").unlink()
    result = _bench(str(no_card), *SHORT, "--out", str(tmp_path / "o3"))
    assert result.exit_code == 1 and "no model card fashion_int8.json" in result.output
    assert not any((tmp_path / d).exists() and any((tmp_path / d).iterdir()) for d in ("o1", "o2", "o3"))


def test_subcommand_name_is_not_taken_for_models_dir(tmp_path):
    result = _bench("--help")
    assert "[MODELS_DIR] [OPTIONS]" in result.output and "merge RUN.json" in result.output
    result = _bench("a", "b", "--out", str(tmp_path))
    assert result.exit_code == 2 and "unexpected extra argument" in result.output


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux only")
def test_pin_cpu_and_edge_only_install(edge_models, tmp_path):
    """With TensorFlow, Keras and matplotlib unimportable (an edge install), a pinned run works and records the core;
    bench.html then says how to get the plots."""
    code = (
        "import sys\n"
        "for name in ('tensorflow', 'keras', 'matplotlib'): sys.modules[name] = None\n"
        "from fashion_edge.cli import main\n"
        f"main(['bench', {str(edge_models)!r}, '--runs', '3', '--warmup', '1', '--threads', '1', "
        f"'--test-limit', '200', '--pin-cpu', '--out', {str(tmp_path)!r}])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads((tmp_path / "bench.json").read_text())
    validate(doc)
    assert doc["config"]["pin_cpu"] == max(os.sched_getaffinity(0))
    assert doc["device"]["cpus_allowed"] == 1
    assert {r["variant"] for r in doc["results"]} == present(edge_models)
    assert "Plots need matplotlib" in (tmp_path / "bench.html").read_text()


def test_without_models_dir_it_benchmarks_the_shipped_models(edge_models, tmp_path, monkeypatch):
    import fashion_edge.benchmarks.models as models

    monkeypatch.setattr(models, "SIZES", ("small",))
    monkeypatch.setattr(models, "shipped_dir", lambda size: edge_models)
    result = _bench("--runs", "3", "--warmup", "1", "--threads", "1", "--test-limit", "300", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "bench.json").read_text())
    assert doc["config"]["models_dir"] == str(edge_models) and doc["config"]["test_images"] == 300
    assert {r["variant"] for r in doc["results"]} == present(edge_models)


def test_no_xnnpack_runs_on_builtin_kernels(edge_models, tmp_path):
    result = _bench(str(edge_models), "--runs", "3", "--warmup", "1", "--threads", "1", "--test-limit", "300",
                    "--no-xnnpack", "--out", str(tmp_path))  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "bench.json").read_text())
    assert doc["config"]["xnnpack"] is False and doc["device"]["xnnpack"] is False
    assert not any(r["xnnpack"] for r in doc["results"])
    assert "XNNPACK off" in (tmp_path / "bench.md").read_text()
