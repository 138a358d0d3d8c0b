"""`fashion-edge report`: files exist, the JSON carries the per-class table, the HTML stands alone and renders."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from fashion_edge.cli import main
from fashion_edge.errors import FashionEdgeError

pytestmark = pytest.mark.slow
pytest.importorskip("tensorflow")
LIMIT = 300


@pytest.fixture(scope="module")
def report_dir(tiny_tflite_dir, tiny_model_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    result = CliRunner().invoke(main, ["report", str(tiny_tflite_dir), "--out", str(out), "--limit", str(LIMIT),
                                       "--keras", str(tiny_model_dir / "model.keras"), "--debug-images", "40",
                                       "--denylist-layers", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "int8 vs float32" in result.output
    return out


def test_report_writes_all_files(report_dir):
    for name in ("report.md", "report.html", "report.json", "confusion.png", "layer_error.png"):
        assert (report_dir / name).stat().st_size > 100, name
        assert not list(report_dir.glob("*.tmp*"))


def test_json_has_per_class_table_and_consistent_numbers(report_dir):
    report = json.loads((report_dir / "report.json").read_text())
    assert report["test_images"] == LIMIT
    assert [v["variant"] for v in report["variants"]] == ["float32", "float16", "dynamic", "int8"]
    per_class = report["per_class"]
    assert [r["class_id"] for r in per_class] == list(range(10))
    assert sum(r["support"] for r in per_class) == LIMIT
    for r in per_class:
        assert r["delta_pp"] == pytest.approx(100 * (r["int8_accuracy"] - r["float32_accuracy"]), abs=1e-2)
    for name, cm in report["confusion"].items():
        cm = np.array(cm)
        assert cm.sum() == LIMIT
        variant = next(v for v in report["variants"] if v["variant"] == name)
        assert np.trace(cm) / LIMIT == pytest.approx(variant["test_accuracy"], abs=1e-4)
    comparison = report["int8_vs_float32"]
    assert report["flips"]["count"] == round((1 - comparison["agreement"]) * LIMIT)
    assert set(comparison["meets"]) == {"drop", "agreement", "size"}


def test_per_layer_errors_and_selective_quantization_are_measured(report_dir):
    layer = json.loads((report_dir / "report.json").read_text())["per_layer"]
    errors = [row["rmse_over_scale"] for row in layer["layers"]]
    assert {"CONV_2D", "FULLY_CONNECTED"} <= {row["op"] for row in layer["layers"]}
    assert errors == sorted(errors, reverse=True) and errors[0] > 0.05  # int8 is never exact
    assert errors[0] < 20  # ... but within a few steps for a sanely calibrated model
    baseline, one_float = layer["selective"]
    assert baseline["float_layers"] == [] and baseline["float_ops"] == []
    assert one_float["float_layers"] == [layer["layers"][0]["tensor"]] and one_float["float_ops"]
    assert 0.3 < baseline["test_accuracy"] <= 1 and 0.8 < baseline["agreement_with_float"] <= 1


def test_html_is_self_contained(report_dir):
    page = (report_dir / "report.html").read_text()
    images = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(images) >= 2 and all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.search(r'(src|href)="(https?:|/|\w+\.png)', page)
    assert "Per-class accuracy" in page and "Ankle boot" in page


@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")), reason="no chromium")
def test_html_renders_in_headless_chromium(report_dir, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", f"--screenshot={shot}", "--window-size=1200,2400",
                    (report_dir / "report.html").as_uri()], check=True, capture_output=True, timeout=120)  # fmt: skip
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[0] >= 2000 and pixels.std() > 0.05  # a page with content, not a blank or error screen


def test_report_without_the_keras_model_skips_per_layer(tiny_tflite_dir, tmp_path):
    from fashion_edge.convert.report import build_report

    report = build_report(tiny_tflite_dir, tmp_path, limit=50)
    assert "pass --keras" in report["per_layer"]["skipped"]
    assert "Skipped: pass --keras" in (tmp_path / "report.md").read_text()


def test_report_bad_inputs(tiny_tflite_dir, tiny_model_dir, tmp_path):
    from fashion_edge.convert.report import build_report

    with pytest.raises(FashionEdgeError, match="no fashion_"):
        build_report(tmp_path, tmp_path / "out")
    other = tmp_path / "other.keras"
    other.write_bytes((tiny_model_dir / "model.keras").read_bytes() + b"\0")
    with pytest.raises(FashionEdgeError, match="not the model these"):
        build_report(tiny_tflite_dir, tmp_path / "out", keras_path=other, limit=20)
    result = CliRunner().invoke(main, ["report", str(tmp_path / "missing"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "does not exist" in result.output


def test_models_from_different_sources_are_flagged(tiny_tflite_dir, tmp_path):
    from fashion_edge.convert.report import build_report
    from fashion_edge.edge.card import write_card

    models = tmp_path / "models"
    shutil.copytree(tiny_tflite_dir, models)
    card = json.loads((models / "fashion_float16.json").read_text())
    write_card(models / "fashion_float16.tflite", {**card, "source_model_sha256": "0" * 64})
    report = build_report(models, tmp_path / "out", limit=20)
    assert len(report["source_models"]) == 2
    assert "converted from different Keras models" in (tmp_path / "out" / "report.md").read_text()
