"""Live sources: "nothing in view" records, steady labels (--smooth) and --on-change, on clips served on 127.0.0.1."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import MjpegServer, edge_classify

from fashion_edge.benchmarks.scenes import render_clip
from fashion_edge.edge.smoothing import LabelSmoother, label_changes


@pytest.fixture(scope="module")
def clip(fmnist):
    """5 frames of a trouser, 5 of the empty surface, 5 of a sneaker: a still camera, only the noise changes."""
    trouser, sneaker = (fmnist.x_test[np.flatnonzero(fmnist.y_test == c)[0]] for c in (1, 7))
    return list(render_clip([(trouser, 5), (None, 5), (sneaker, 5)], "photo", seed=3))


def _records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_smoother_steadies_near_ties_and_follows_a_real_change():
    rng = np.random.default_rng(0)
    near_tie = [np.array([0.5 + d, 0.5 - d]) for d in rng.uniform(-0.08, 0.08, 40)]  # a shirt / T-shirt flicker
    raw = [int(np.argmax(p)) for p in near_tie]
    smoother = LabelSmoother(5)
    steady = [smoother.update(p).class_id for p in near_tie]
    assert label_changes(raw) >= 10 and label_changes(steady) <= 1
    after = [smoother.update(np.array([0.05, 0.95])).class_id for _ in range(5)]  # a real change to class 1
    assert after.index(1) <= 3 if steady[-1] == 0 else after[0] == 1
    gone = [smoother.update(None).class_id for _ in range(5)]
    assert gone[-1] is None and gone[0] == 1  # nothing in view is a state too, and one frame does not flip it


def test_smoothing_off_passes_every_frame_through():
    smoother = LabelSmoother(0)
    assert [smoother.update(np.eye(3)[i % 3]).class_id for i in range(6)] == [0, 1, 2, 0, 1, 2]


def test_nothing_in_view_records_and_lines_on_a_stream(shipped_int8, clip):
    with MjpegServer(clip, fps=15) as server:
        result = edge_classify("--model", shipped_int8, "--source", server.url, "--json", "--smooth", "0",
                               "--max-frames", "30")  # fmt: skip
        text = edge_classify("--model", shipped_int8, "--source", server.url, "--smooth", "0", "--max-frames", "15")
    assert result.returncode == 0, result.stderr
    records = _records(result.stdout)
    empty = [r for r in records if r["nothing"]]
    garments = [r for r in records if not r["nothing"]]
    assert len(empty) >= 5 and len(garments) >= 10, [r["label"] for r in records]
    assert all(r["label"] is None and r["score"] is None and r["reason"] for r in empty)
    assert {r["label"] for r in garments} <= {"Trouser", "Sneaker", "Sandal", "Ankle boot"}
    assert all(r["box"] is not None and len(r["box"]) == 4 for r in garments)
    assert text.returncode == 0 and "nothing in view" in text.stdout


def test_on_change_prints_a_record_only_when_the_steady_label_changes(shipped_int8, clip):
    with MjpegServer(clip, fps=15) as server:
        result = edge_classify("--model", shipped_int8, "--source", server.url, "--json", "--on-change",
                               "--max-frames", "40")  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = _records(result.stdout)
    labels = [r["label"] for r in records]
    assert 3 <= len(records) <= 12, labels  # 40 frames, ~8 real changes (the clip loops), no flicker
    assert all(a != b for a, b in zip(labels, labels[1:], strict=False)), labels
    assert None in labels and all("frame_label" in r for r in records)


def test_model_side_nothing_check_is_for_camera_frames_only():
    import numpy as np

    from fashion_edge.edge.nothing import nothing_reason
    from fashion_edge.edge.preprocess import Preprocessed

    unsure = np.full(10, 0.1)  # top score 0.1: below any calibrated threshold
    blank = [np.zeros((28, 28), np.uint8)]
    assert "no garment" in nothing_reason(Preprocessed(blank, [None]), unsure, min_score=0.3)
    assert nothing_reason(Preprocessed(blank, [None], prepared=True), unsure, min_score=0.3) is None
    # the preprocessing's own evidence still wins
    assert nothing_reason(Preprocessed(blank, [None], nothing="no object found"), unsure, 0.3) == "no object found"
