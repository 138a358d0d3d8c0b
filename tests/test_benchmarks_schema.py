"""The bench.json validator: accepts what the benchmark writes, names every problem in what it must refuse."""

from __future__ import annotations

import copy

import pytest
from helpers import bench_row, bench_run_doc

from fashion_edge.benchmarks.report import markdown, merge
from fashion_edge.benchmarks.run import add_ratios
from fashion_edge.benchmarks.schema import SchemaError, validate


@pytest.fixture
def run_doc() -> dict:
    return bench_run_doc()


def test_a_well_formed_run_validates_and_ratios_are_against_float32(run_doc):
    validate(run_doc)
    int8 = run_doc["results"][1]["vs_float32"]
    assert int8["speedup_p50"] == pytest.approx(3.0)
    assert int8["size_ratio"] == pytest.approx(0.275)
    assert int8["accuracy_delta"] == pytest.approx(-0.005)


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda d: d.update(schema_version=1), "schema_version"),
        (lambda d: d["results"][0].pop("model"), "results[0].model: missing"),
        (lambda d: d["device"].pop("cpu_instructions"), "device.cpu_instructions: missing"),
        (lambda d: d.update(kind="other"), "kind"),
        (lambda d: d["results"][0].pop("latency_ms"), "results[0].latency_ms: missing"),
        (lambda d: d["results"][1]["latency_ms"].update(p90=0.1), "percentiles out of order"),
        (lambda d: d["results"][0].update(accuracy=91.0), "not in [0, 1]"),
        (lambda d: d["results"][0].update(threads=0), "threads: must be >= 1"),
        (lambda d: d["results"][0].update(size_bytes="big"), "size_bytes: unexpected type str"),
        (lambda d: d["device"].pop("arch"), "device.arch: missing"),
        (lambda d: d["config"].update(runs=True), "config.runs: unexpected type bool"),
        (lambda d: d.update(results=[]), "non-empty list"),
    ],
)
def test_the_validator_names_the_problem(run_doc, mutate, problem):
    mutate(run_doc)
    with pytest.raises(SchemaError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        validate(run_doc)


def test_merge_flattens_and_markdown_pivots_devices(run_doc):
    laptop = copy.deepcopy(run_doc)
    laptop["device"].update(label="laptop", arch="x86_64")
    merged = merge([merge([laptop]), run_doc])
    validate(merged)
    assert [r["device"]["label"] for r in merged["runs"]] == ["laptop", "pi5"]
    md = markdown(merged)
    assert "| Format | laptop (x86_64) | pi5 (aarch64) |" in md
    assert "| TFLite int8 | 0.300 (3.00×) | 0.300 (3.00×) |" in md
    broken = copy.deepcopy(merged)
    broken["runs"][1]["results"][0].pop("accuracy")
    with pytest.raises(SchemaError, match=r"runs\[1\].results\[0\].accuracy"):
        validate(broken)


def test_ratios_stay_within_a_model_and_the_pareto_table_marks_the_front(run_doc):
    from fashion_edge.benchmarks.anchors import ANCHORS, pareto_front
    from fashion_edge.benchmarks.report import pareto_rows

    nano = [bench_row("float32", 1, 0.2, 0.90, 60_000, "nano"), bench_row("int8", 1, 0.1, 0.899, 30_000, "nano")]
    results = [r | {"vs_float32": None} for r in run_doc["results"]] + nano
    add_ratios(results, baseline_runtime="litert")
    # nano int8 is compared with nano float32 (0.2 / 0.1), not with small's float32 (0.9 / 0.1)
    assert results[3]["vs_float32"]["speedup_p50"] == pytest.approx(2.0)
    assert results[1]["vs_float32"]["speedup_p50"] == pytest.approx(3.0)
    # (latency, accuracy): small float32 (0.9, .91) is beaten by nothing on accuracy; small int8 (0.3, .905) is
    # dominated by nobody faster and better; nano int8 (0.1, .899) is the fastest; nano float32 (0.2, .90) is kept
    # since nothing faster is as accurate; a point slower and worse than another is dropped
    points = [(0.9, 0.91), (0.3, 0.905), (0.2, 0.90), (0.1, 0.899), (0.5, 0.80)]
    assert pareto_front(points) == {0, 1, 2, 3}
    run_doc["results"] = results
    rows = pareto_rows(run_doc)
    assert [row[1] for row in rows[:4]] == ["0.9100", "0.9050", "0.9000", "0.8990"]  # best accuracy first
    assert len(rows) == 4 + len(ANCHORS) and rows[-1][-1] == ANCHORS[-1].source
