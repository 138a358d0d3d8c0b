"""`fashion-edge convert`: a working run, and every kind of bad input is one clear error with nothing left behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fashion_edge.cli import main

pytestmark = pytest.mark.slow
pytest.importorskip("tensorflow")


def _convert(*args: str):
    return CliRunner().invoke(main, ["convert", *args])


def _no_models(out: Path) -> bool:
    return not out.exists() or not any(p.suffix in (".tflite", ".json") or ".tmp" in p.name for p in out.iterdir())


def test_convert_writes_models_cards_and_a_table(tiny_model_dir, tmp_path):
    out = tmp_path / "models"
    result = _convert(str(tiny_model_dir / "model.keras"), "--out", str(out), "--variants", "float16,int8",
                      "--calibration", "60", "--verify-limit", "100")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "fashion_float16.json", "fashion_float16.tflite", "fashion_int8.json", "fashion_int8.tflite"]  # fmt: skip
    assert "int8" in result.output and "agreement" in result.output
    card = json.loads((out / "fashion_int8.json").read_text())
    assert card["quantization"]["calibration"]["images"] == 60 and card["metrics"]["test_images"] == 100


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--variants", "float32,int4"], "unknown variant int4"),
        (["--calibration", "5"], "too few"),
    ],
)
def test_bad_options_are_one_line_errors(tiny_model_dir, tmp_path, args, message):
    out = tmp_path / "out"
    result = _convert(str(tiny_model_dir / "model.keras"), "--out", str(out), *args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert _no_models(out)


def test_missing_model(tmp_path):
    result = _convert(str(tmp_path / "nope.keras"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1 and "not found" in result.output
    assert _no_models(tmp_path / "out")


@pytest.mark.parametrize(("name", "content"), [("model.keras", b"not a zip"), ("model.h5", b"\x89HDF")])
def test_non_keras_file(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    result = _convert(str(path), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "could not be loaded as a Keras model" in result.output or "not a .keras file" in result.output
    assert _no_models(tmp_path / "out")


def test_model_with_wrong_input_shape(tmp_path):
    import keras

    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(inputs)))
    model.save(tmp_path / "rgb.keras")
    result = _convert(str(tmp_path / "rgb.keras"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1 and "expected (28, 28, 1)" in result.output
    assert _no_models(tmp_path / "out")


def test_unwritable_output_dir(tiny_model_dir, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")  # a directory cannot be created under a file, even by root
    result = _convert(str(tiny_model_dir / "model.keras"), "--out", str(blocker / "models"))
    assert result.exit_code == 1 and "cannot create output directory" in result.output
