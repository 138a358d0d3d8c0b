"""Quantization-aware training: an int8_qat model whose card says QAT, or a clear error without the extra."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_edge.convert.qat import qat_available
from fashion_edge.edge.card import read_card
from fashion_edge.edge.evaluate import predict_scores
from fashion_edge.errors import FashionEdgeError

pytestmark = pytest.mark.slow
pytest.importorskip("tensorflow")


@pytest.mark.skipif(qat_available() is None, reason="the QAT extra is installed here")
def test_without_the_extra_qat_is_a_clear_error_and_writes_nothing(tiny_model_dir, tmp_path):
    from fashion_edge.convert.tflite import convert_model

    with pytest.raises(FashionEdgeError, match="pip install tf-keras tensorflow-model-optimization"):
        convert_model(tiny_model_dir / "model.keras", tmp_path / "out", ["int8"], qat_epochs=1)
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(qat_available() is not None, reason="needs tf-keras and tensorflow-model-optimization")
def test_qat_writes_an_integer_only_int8_qat_model(tiny_model_dir, tmp_path, fmnist):
    from fashion_edge.convert.tflite import convert_model

    results = convert_model(tiny_model_dir / "model.keras", tmp_path, ["int8"], 100, qat_epochs=1,
                            qat_train_limit=2000, verify_limit=300)  # fmt: skip
    ptq, qat = results
    assert (ptq.variant, qat.variant) == ("int8", "int8_qat")
    card = read_card(qat.card_path)
    assert card["quantization"]["method"] == "qat" and card["quantization"]["scheme"] == "full-int8"
    assert "tensorflow-model-optimization" in card["quantization"]["tool"]
    assert card["quantization"]["qat"]["epochs"] == 1 and card["quantization"]["qat"]["train_images"] == 2000
    assert card["quantization"]["qat"]["targets"] == "float-model softmax"
    assert (card["input"]["dtype"], card["input"]["scale"], card["input"]["zero_point"]) == ("uint8", 1.0, 0)
    assert qat.size_bytes < 1.3 * ptq.size_bytes
    scores = predict_scores(qat.model_path, card, fmnist.x_test[:300])
    accuracy = np.mean(np.argmax(scores, 1) == fmnist.y_test[:300])
    assert accuracy == pytest.approx(qat.test_accuracy) and accuracy > 0.3


def test_the_qat_child_shows_its_epochs_as_progress_and_its_last_line_as_the_error(capsys):
    import os
    import sys

    from fashion_edge.convert.qat import _run_child

    script = (
        "import sys; print('tf noise'); print('Epoch 1/2'); print('10/10 - 1s - loss: 0.5 - accuracy: 0.8');"
        "print('ValueError: bad layer', file=sys.stderr); sys.exit(3)"
    )
    returncode, last_line = _run_child([sys.executable, "-c", script], {**os.environ, "PYTHONUNBUFFERED": "1"})
    assert (returncode, last_line) == (3, "ValueError: bad layer")
    progress = capsys.readouterr().err.splitlines()
    assert progress == ["qat: Epoch 1/2", "qat: 10/10 - 1s - loss: 0.5 - accuracy: 0.8"]
