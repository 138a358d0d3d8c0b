"""edge-classify parity: every variant on the same images; schemes read from tensors; Keras only with TensorFlow."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import cv2
import pytest
from click.testing import CliRunner
from helpers import BLOCK_TENSORFLOW

from fashion_edge.cli import main
from fashion_edge.data import stratified_sample
from fashion_edge.edge.card import read_card, write_card
from fashion_edge.edge.parity import parity_command, quantization_scheme, scheme_from_tensors


@pytest.fixture(scope="module")
def images(fmnist, tmp_path_factory):
    """30 real test images (3 per class) written to PNG, as a user would pass them."""
    out = tmp_path_factory.mktemp("parity_images")
    paths = []
    for i in stratified_sample(fmnist.y_test, 3, seed=1):
        path = out / f"{int(i):05d}_{int(fmnist.y_test[i])}.png"
        cv2.imwrite(str(path), fmnist.x_test[i])
        paths.append(path)
    return paths


@pytest.fixture
def shipped_like(edge_models, tmp_path):
    """What ships with the package: float32 and int8 with their cards."""
    for variant in ("float32", "int8"):
        for suffix in (".tflite", ".json"):
            shutil.copy(edge_models / f"fashion_{variant}{suffix}", tmp_path)
    return tmp_path


def run_json(args):
    result = CliRunner().invoke(parity_command, [*map(str, args), "--json"])
    return result, (json.loads(result.output) if result.output.startswith("{") else None)


def test_scheme_from_tensor_dtypes():
    assert scheme_from_tensors({"int8"}, {"int8", "int32"}) == "full-int8"
    assert scheme_from_tensors({"uint8"}, {"uint8", "int32"}) == "full-int8"
    assert scheme_from_tensors({"int16"}, {"int8", "int64"}) == "int16x8"
    assert scheme_from_tensors({"float32"}, {"float32", "int8", "int32"}) == "dynamic-range"
    assert scheme_from_tensors({"float32"}, {"float16", "int32"}) == "float16"
    assert scheme_from_tensors({"float32"}, {"float32", "int32"}) == "float32"


def test_schemes_read_from_files_match_what_convert_made(tiny_tflite_dir):
    for variant, expected in (("float32", "float32"), ("float16", "float16"), ("dynamic", "dynamic-range"),
                              ("int8", "full-int8")):  # fmt: skip
        path = tiny_tflite_dir / f"fashion_{variant}.tflite"
        assert quantization_scheme(path) == expected
        assert read_card(path.with_suffix(".json"))["quantization"]["scheme"] == expected


def test_parity_float32_vs_int8(shipped_like, images):
    result, report = run_json([*images, "--models-dir", shipped_like])
    assert result.exit_code == 0, result.output
    assert [v["name"] for v in report["variants"]] == ["float32", "int8"]
    assert [v["scheme"] for v in report["variants"]] == ["float32", "full-int8"]
    assert len(report["images"]) == len(images)
    row = report["images"][0]
    assert set(row["predictions"]) == {"float32", "int8"} and row["max_prob_diff_between"] == ["float32", "int8"]
    # int8 tracks float32 closely on real images: same top-1 on >= 90%; on 9 images in 10 no probability is off by
    # more than 0.05, and on none by more than 0.15 (the shipped models: 0.03 and one image at 0.11)
    assert report["summary"]["all_agree"] >= 0.9 * len(images)
    diffs = sorted(row["max_prob_diff"] for row in report["images"])
    assert 0 < diffs[int(0.9 * len(diffs))] < 0.05 and diffs[-1] == report["summary"]["max_prob_diff"] < 0.15


@pytest.mark.slow
def test_parity_with_keras_and_all_variants(tiny_model_dir, tiny_tflite_dir, images):
    pytest.importorskip("tensorflow")
    args = [*images[:10], "--models-dir", tiny_tflite_dir, "--keras", tiny_model_dir / "model.keras", "--json"]
    result = CliRunner().invoke(main, ["parity", *map(str, args)])  # `fashion-edge parity`: Keras lives there
    report = json.loads(result.output)
    assert result.exit_code == 0, result.output
    assert [v["name"] for v in report["variants"]] == ["keras", "float32", "float16", "dynamic", "int8"]
    for row in report["images"]:
        keras, float32 = row["predictions"]["keras"], row["predictions"]["float32"]
        # the float32 conversion is the same arithmetic as Keras: same class, scores within rounding
        assert keras["index"] == float32["index"] and abs(keras["score"] - float32["score"]) < 1e-3


def test_card_that_lies_about_its_scheme_is_shown(tiny_tflite_dir, tmp_path, images):
    shutil.copy(tiny_tflite_dir / "fashion_dynamic.tflite", tmp_path / "fashion_int8.tflite")
    card = read_card(tiny_tflite_dir / "fashion_dynamic.json")
    card["quantization"]["scheme"] = "full-int8"
    card["variant"] = "int8"
    write_card(tmp_path / "fashion_int8.tflite", card)
    result = CliRunner().invoke(parity_command, [str(images[0]), "--models-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "dynamic-range" in result.output and "its card says full-int8!" in result.output


def test_unreadable_image_is_listed_and_the_rest_still_run(shipped_like, images, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    result, report = run_json([images[0], broken, tmp_path / "missing.png", "--models-dir", shipped_like])
    assert result.exit_code == 1
    assert len(report["images"]) == 1
    assert "not a readable image" in report["errors"][str(broken)]
    assert report["errors"][str(tmp_path / "missing.png")] == "not found"


def test_no_models_is_one_clear_line(tmp_path, images):
    result = CliRunner().invoke(parity_command, [str(images[0]), "--models-dir", str(tmp_path)])
    assert result.exit_code == 1 and "no fashion_<variant>.tflite" in result.output and "Traceback" not in result.output


def test_parity_without_tensorflow_skips_keras(shipped_like, images):
    (shipped_like / "model.keras").write_bytes(b"PK\x03\x04")  # a Keras file beside the models is not edge's to load
    code = BLOCK_TENSORFLOW + (
        "from fashion_edge.edge.cli import main\n"  # through edge-classify's subcommand dispatch
        f"main(['parity', {str(images[0])!r}, '--models-dir', {str(shipped_like)!r}, '--json'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert [v["name"] for v in report["variants"]] == ["float32", "int8"]
