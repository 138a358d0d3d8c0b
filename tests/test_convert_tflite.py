"""convert/tflite: every variant loads in LiteRT and matches its card; int8 is small and agrees with float."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fashion_edge.edge.card import card_path, read_card, verify_model_file
from fashion_edge.edge.evaluate import predict_scores, top1_accuracy
from fashion_edge.edge.runtime import make_interpreter
from fashion_edge.edge.variants import VARIANTS, model_filename
from fashion_edge.errors import FashionEdgeError

pytestmark = pytest.mark.slow
tf = pytest.importorskip("tensorflow")


def _model(tiny_tflite_dir: Path, variant: str) -> tuple[Path, dict]:
    path = tiny_tflite_dir / model_filename(variant)
    return path, read_card(card_path(path))


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_loads_in_litert_and_matches_its_card(tiny_tflite_dir, variant):
    path, card = _model(tiny_tflite_dir, variant)
    verify_model_file(path, card)  # size and sha256 recorded from the file itself
    interpreter, runtime = make_interpreter(path, runtime="litert")
    assert runtime == "litert"
    details_by_role = {"input": interpreter.get_input_details()[0], "output": interpreter.get_output_details()[0]}
    for role, details in details_by_role.items():
        scale, zero_point = details["quantization"]
        assert card[role]["dtype"] == np.dtype(details["dtype"]).name
        assert card[role]["scale"] == pytest.approx(scale)
        assert card[role]["zero_point"] == zero_point
    assert list(interpreter.get_input_details()[0]["shape"]) == card["input"]["shape"] == [1, 28, 28, 1]
    assert card["output"]["kind"] == "logits" and card["input"]["layout"] == "NHWC"
    assert card["variant"] == variant and len(card["labels"]) == 10
    assert 0.0 <= card["metrics"]["test_accuracy"] <= 1.0 and card["metrics"]["test_images"] == 500
    assert card["created_by"]["converter"].startswith("tf.lite.TFLiteConverter")


def test_int8_takes_raw_pixels_and_records_its_calibration(tiny_tflite_dir):
    _, card = _model(tiny_tflite_dir, "int8")
    assert (card["input"]["dtype"], card["input"]["scale"], card["input"]["zero_point"]) == ("uint8", 1.0, 0)
    assert card["output"]["dtype"] == "int8" and card["output"]["scale"] > 0
    quant = card["quantization"]
    assert (quant["scheme"], quant["method"]) == ("full-int8", "ptq")
    assert quant["calibration"] == {"images": 100, "source": quant["calibration"]["source"], "seed": 0}
    assert "train" in quant["calibration"]["source"]
    _, float_card = _model(tiny_tflite_dir, "float32")
    assert float_card["quantization"]["method"] == "none" and float_card["input"]["scale"] == 0.0


def test_quantized_variants_are_smaller_than_float32(tiny_tflite_dir):
    sizes = {v: _model(tiny_tflite_dir, v)[1]["size_bytes"] for v in VARIANTS}
    assert sizes["int8"] < 0.6 * sizes["float32"]
    assert sizes["float16"] < sizes["float32"]


def test_int8_agrees_with_float_on_test_images(tiny_tflite_dir, fmnist):
    images, labels = fmnist.x_test[-300:], fmnist.y_test[-300:]  # not the slice the cards were verified on
    scores = {v: predict_scores(*_model(tiny_tflite_dir, v), images) for v in ("float32", "int8")}
    agreement = np.mean(np.argmax(scores["int8"], 1) == np.argmax(scores["float32"], 1))
    assert agreement >= 0.93
    assert abs(top1_accuracy(scores["int8"], labels) - top1_accuracy(scores["float32"], labels)) <= 0.04
    assert top1_accuracy(scores["float32"], labels) > 0.3  # the tiny model learnt something (chance is 0.1)
    np.testing.assert_allclose(scores["int8"].sum(axis=1), 1.0, atol=1e-5)  # logits were softmaxed
    _, card = _model(tiny_tflite_dir, "int8")
    assert card["metrics"]["agreement_with_float"] >= 0.93


def test_batched_evaluation_equals_one_image_at_a_time(tiny_tflite_dir, fmnist):
    path, card = _model(tiny_tflite_dir, "int8")
    images = fmnist.x_test[:37]
    np.testing.assert_array_equal(predict_scores(path, card, images, batch_size=16),
                                  predict_scores(path, card, images, batch_size=1))  # fmt: skip


def test_a_card_from_another_model_is_refused(tiny_tflite_dir, fmnist):
    path, _ = _model(tiny_tflite_dir, "int8")
    _, float_card = _model(tiny_tflite_dir, "float32")
    with pytest.raises(FashionEdgeError, match="belongs to another model"):
        predict_scores(path, float_card, fmnist.x_test[:4])


def test_int8_io_takes_pixels_minus_128_and_agrees_with_uint8_io(tiny_model_dir, tiny_tflite_dir, tmp_path, fmnist):
    from fashion_edge.convert.tflite import convert_model

    (result,) = convert_model(tiny_model_dir / "model.keras", tmp_path, ["int8"], 100, "int8", verify_limit=200)
    card = read_card(result.card_path)
    assert (card["input"]["dtype"], card["input"]["scale"], card["input"]["zero_point"]) == ("int8", 1.0, -128)
    images = fmnist.x_test[:200]
    signed = np.argmax(predict_scores(result.model_path, card, images), 1)
    unsigned = np.argmax(predict_scores(*_model(tiny_tflite_dir, "int8"), images), 1)
    assert np.mean(signed == unsigned) >= 0.98


def test_an_op_without_int8_kernel_fails_loudly():
    import keras

    from fashion_edge.convert.converter import convert_variant
    from fashion_edge.edge.variants import BY_NAME

    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Lambda(keras.ops.sin)(keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    images = np.tile(np.array([0, 255], dtype=np.uint8), (10, 392)).reshape(10, 28, 28)
    with pytest.raises(FashionEdgeError, match="SIN would run in float"):
        convert_variant(BY_NAME["int8"], keras.Model(inputs, outputs), images)


def test_a_failed_verification_leaves_no_file_behind(tiny_model_dir, tmp_path, monkeypatch):
    from fashion_edge.convert import tflite

    calls = []
    real = tflite.predict_scores

    def crash_on_second_variant(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise RuntimeError("interpreter crashed mid-verification")
        return real(*args, **kwargs)

    monkeypatch.setattr(tflite, "predict_scores", crash_on_second_variant)
    with pytest.raises(RuntimeError, match="mid-verification"):
        tflite.convert_model(tiny_model_dir / "model.keras", tmp_path, ["float32", "float16"], verify_limit=50)
    assert len(calls) == 2  # float32 had passed verification: it is not kept either
    assert list(tmp_path.iterdir()) == []


def test_strict_max_drop_is_an_error_and_writes_nothing(tiny_model_dir, tmp_path):
    from fashion_edge.convert.tflite import convert_model

    # A negative allowance turns even a lossless float32 into a violation: the --strict path, for real.
    with pytest.raises(FashionEdgeError, match="nothing written"):
        convert_model(tiny_model_dir / "model.keras", tmp_path, ["float32"], verify_limit=50, max_drop_pp=-1,
                      strict=True)  # fmt: skip
    assert list(tmp_path.iterdir()) == []
    (result,) = convert_model(tiny_model_dir / "model.keras", tmp_path, ["float32"], verify_limit=50, max_drop_pp=-1)
    assert result.warning and "below the Keras model" in result.warning
    assert json.loads(result.card_path.read_text())["metrics"]["accuracy_drop_pp"] == pytest.approx(0.0)
