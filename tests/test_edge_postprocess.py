"""edge/postprocess: dequantize -> softmax -> ranked classes, pure numpy."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fashion_edge.edge.postprocess import Class, get_classes_from_scores, scores_from_output, softmax

LABELS = [f"c{i}" for i in range(10)]


def test_top_k_is_sorted_best_first_with_labels():
    scores = np.array([0.1, 0.5, 0.05, 0.3, 0.05, 0, 0, 0, 0, 0], dtype=np.float32)
    classes = get_classes_from_scores(scores, top_k=3, labels=LABELS)
    assert [c.id for c in classes] == [1, 3, 0]
    assert classes[0] == Class(1, 0.5, "c1")


def test_ties_break_towards_the_lower_id_and_threshold_filters():
    scores = np.array([0.2, 0.4, 0.4] + [0.0] * 7)
    assert [c.id for c in get_classes_from_scores(scores, top_k=3)] == [1, 2, 0]
    assert [c.id for c in get_classes_from_scores(scores, top_k=3, threshold=0.3)] == [1, 2]


def test_int8_logits_are_widened_before_the_zero_point_is_subtracted():
    # 127 - (-128) wraps to -1 in int8; widened it is 255, so class 0 must win by far.
    raw = np.array([[127, -128, -128, -128, -128, -128, -128, -128, -128, -128]], dtype=np.int8)
    scores = scores_from_output(raw, {"scale": 0.1, "zero_point": -128, "kind": "logits"})
    assert scores.shape == (10,)
    assert scores[0] > 0.99
    np.testing.assert_allclose(scores.sum(), 1.0, rtol=1e-5)


def test_probability_outputs_are_not_softmaxed_again():
    probs = np.array([0.7, 0.3] + [0.0] * 8, dtype=np.float32)
    out = scores_from_output(probs, {"scale": 0.0, "zero_point": 0, "kind": "probabilities"})
    np.testing.assert_allclose(out, probs)


@given(st.lists(st.floats(-1e4, 1e4), min_size=10, max_size=10))
def test_softmax_is_a_distribution_that_keeps_the_order(logits):
    p = softmax(np.array(logits))
    assert np.all(np.isfinite(p)) and abs(float(p.sum()) - 1.0) < 1e-4
    assert int(np.argmax(p)) == int(np.argmax(logits)) or p[int(np.argmax(logits))] == p.max()
