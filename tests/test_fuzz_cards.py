"""Model cards are not trusted: hostile files, wrong types and ranges, and cards that lie about their model.

Each case ends in a loaded model whose card is sound, or in FashionEdgeError with a one-line message naming the
card; never another exception, a hang, or a read of more than the card limit.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fashion_edge.edge.card import card_path, read_card
from fashion_edge.edge.classifier import Classifier
from fashion_edge.edge.registry import shipped_model
from fashion_edge.errors import FashionEdgeError

SHIPPED = shipped_model("int8")
CARD: dict[str, Any] = json.loads(card_path(SHIPPED).read_text())
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    shutil.copy(SHIPPED, tmp_path / SHIPPED.name)
    shutil.copy(card_path(SHIPPED), tmp_path / card_path(SHIPPED).name)
    return tmp_path


def write_card(model_dir: Path, card: Any) -> Path:
    path = model_dir / card_path(SHIPPED).name
    path.write_text(json.dumps(card))
    return path


def load_or_refuse(model_dir: Path) -> Classifier | None:
    """Load the model with its (possibly broken) card: a Classifier, or None after a clean one-line refusal."""
    try:
        return Classifier(model_dir / SHIPPED.name)
    except FashionEdgeError as e:
        assert str(e) and "\n" not in str(e)
        return None


def _leaves(obj: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path into the card (dict keys and list indices)."""
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else []
    paths = []
    for key, value in items:
        paths.append((*prefix, key))
        paths += _leaves(value, (*prefix, key))
    return paths


LEAVES = _leaves(CARD)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=8,
)


@FUZZ
@given(st.sampled_from(LEAVES), JSON_VALUES | st.just("__delete__"))
def test_any_field_replaced_or_removed(model_dir, where, value):
    card = copy.deepcopy(CARD)
    parent = card
    for key in where[:-1]:
        parent = parent[key]
    if value == "__delete__":
        del parent[where[-1]]
    else:
        parent[where[-1]] = value
    write_card(model_dir, card)
    classifier = load_or_refuse(model_dir)
    if classifier is not None:  # what loaded must still be a sound model: ten scores summing to one
        import numpy as np

        prediction = classifier.classify(np.zeros((28, 28), np.uint8))
        assert len(prediction.scores) == len(classifier.labels)
        assert abs(float(np.sum(prediction.scores)) - 1.0) < 1e-3
        assert all(0.0 <= c.score <= 1.0 for c in prediction.classes)


@FUZZ
@given(st.data())
def test_card_text_truncated_or_mutated(model_dir, data):
    text = bytearray(card_path(SHIPPED).read_bytes())
    if data.draw(st.booleans()):
        text = text[: data.draw(st.integers(0, len(text) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 6))):
            text[data.draw(st.integers(0, len(text) - 1))] = data.draw(st.integers(0, 255))
    (model_dir / card_path(SHIPPED).name).write_bytes(bytes(text))
    load_or_refuse(model_dir)


# ---------------------------------------------------------------------------------------------------- hostile files


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "huge", "deep", "folder"])
def test_hostile_card_files_are_refused_at_once(model_dir, kind):
    path = model_dir / card_path(SHIPPED).name
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "huge":
        with open(path, "wb") as f:
            f.truncate(1 << 30)  # sparse: a GiB that costs nothing until someone reads it
    elif kind == "deep":
        path.write_text("[" * 100_000 + "]" * 100_000)
    else:
        path.mkdir()
    start = time.monotonic()
    with pytest.raises(FashionEdgeError, match=card_path(SHIPPED).name):
        read_card(path)
    assert time.monotonic() - start < 2


# ---------------------------------------------------------------------------------------------------- schema and graph


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labels": None}, "labels"),
        ({"labels": ["a"] * 9}, "labels"),
        ({"labels": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}, "labels"),
        ({"format_version": "1"}, "format_version"),
        ({"format_version": 99}, "upgrade"),
        ({"size_bytes": -5}, "size_bytes"),
        ({"sha256": 12}, "sha256"),
        ({"input": {**CARD["input"], "scale": "abc"}}, "input.scale"),
        ({"input": {**CARD["input"], "scale": -1.0}}, "input.scale"),
        ({"input": {**CARD["input"], "zero_point": 300}}, "input.zero_point"),
        ({"input": {**CARD["input"], "dtype": "complex128"}}, "input.dtype"),
        ({"output": {**CARD["output"], "kind": "softmaxish"}}, "output.kind"),
        ({"output": {**CARD["output"], "scale": float("nan")}}, "output.scale"),
        ({"input": [1, 2]}, "input"),
    ],
)
def test_wrong_types_and_ranges_are_named(model_dir, change, message):
    path = write_card(model_dir, {**CARD, **change})
    with pytest.raises(FashionEdgeError, match=message):
        read_card(path)


def test_output_kind_is_checked_against_the_graph(model_dir):
    """The shipped model ends in a fully connected layer (logits); a card claiming probabilities is refused."""
    write_card(model_dir, {**CARD, "output": {**CARD["output"], "kind": "probabilities"}})
    with pytest.raises(FashionEdgeError, match="probabilities"):
        Classifier(model_dir / SHIPPED.name)


def test_label_count_must_match_the_model_output(model_dir):
    write_card(model_dir, {**CARD, "labels": [*CARD["labels"], "Hat"]})
    with pytest.raises(FashionEdgeError, match="11 labels"):
        Classifier(model_dir / SHIPPED.name)
