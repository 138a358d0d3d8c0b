"""The converter's fidelity options: int16x8, int8 with named float layers, an augmented calibration set."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fashion_edge.convert.calibration import calibration_set
from fashion_edge.convert.converter import float_ops
from fashion_edge.convert.tflite import convert_model

pytestmark = pytest.mark.slow


def test_calibration_augment_adds_flipped_shifted_copies(fmnist):
    plain = calibration_set(fmnist.x_train, fmnist.y_train, 100)
    augmented = calibration_set(fmnist.x_train, fmnist.y_train, 100, augment=True)
    assert len(augmented.images) == 200
    np.testing.assert_array_equal(augmented.images[:100], plain.images)
    assert not np.array_equal(augmented.images[100:], plain.images)
    # a flip and a shift move pixels, they do not invent them: each copy keeps its image's ink
    np.testing.assert_array_equal(np.sort(augmented.images[100:].reshape(100, -1))[:, -50:] > 0,
                                  np.sort(plain.images.reshape(100, -1))[:, -50:] > 0)  # fmt: skip
    assert "flipped" in augmented.to_card()["source"]


def test_mixed_and_int16x8_name_their_departures(tiny_model_dir, tmp_path):
    results = convert_model(
        tiny_model_dir / "model.keras", tmp_path, ["int8", "int8_mixed", "int16x8"],
        calibration_images=100, verify_limit=300, float_layers="auto:1",
    )  # fmt: skip
    by_name = {r.variant: r for r in results}
    mixed = json.loads((tmp_path / "fashion_int8_mixed.json").read_text())
    assert mixed["quantization"]["scheme"] == "int8+float-layers"
    assert len(mixed["quantization"]["float_layers"]) == 1
    # the card's claim is true of the file: some op really computes in float, unlike in the full-int8 file
    assert float_ops((tmp_path / "fashion_int8_mixed.tflite").read_bytes())
    assert not float_ops((tmp_path / "fashion_int8.tflite").read_bytes())
    wide = json.loads((tmp_path / "fashion_int16x8.json").read_text())
    assert wide["quantization"]["scheme"] == "int16x8"
    # both track the float model closely
    for name in ("int8_mixed", "int16x8"):
        assert by_name[name].agreement_with_float > 0.9
        assert by_name[name].test_accuracy > 0.3  # chance is 0.1
