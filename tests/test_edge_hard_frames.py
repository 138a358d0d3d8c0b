"""The shipped int8 model through the whole edge pipeline on hard camera frames (benchmarks.scenes), no TensorFlow.

A slice of what `python -m fashion_edge.benchmarks.photo_accuracy` measures on 100+ frames per condition: cast
shadows, low contrast, rotations, a second dark object, a light garment on a dark surface, textures; and empty
scenes, which must be reported as nothing in view.
"""

from __future__ import annotations

import numpy as np

from fashion_edge.benchmarks.photo_accuracy import measure_conditions
from fashion_edge.data import stratified_sample

HARD = ("shadow", "low_contrast", "rotated", "distractor", "light_on_dark", "textured")
EMPTY = ("empty_light", "empty_dark", "empty_textured", "empty_noise", "lens_covered")


def test_hard_frames_stay_close_to_the_dataset_images(fmnist, shipped_int8):
    idx = stratified_sample(fmnist.y_test, 2, seed=21)
    results = measure_conditions(shipped_int8, fmnist.x_test[idx], fmnist.y_test[idx], seed=21, conditions=HARD)
    dataset = results["shadow"]["dataset_accuracy"]
    photo = np.mean([results[c]["photo_accuracy"] for c in HARD])
    assert dataset >= 0.8, results
    assert photo >= dataset - 0.06, results  # 120 frames: within 6 points over all hard conditions
    for condition in HARD:  # 20 frames each: one frame is 5 points
        assert results[condition]["photo_accuracy"] >= dataset - 0.16, (condition, results[condition])
    assert np.mean([results[c]["nothing_rate"] for c in HARD]) <= 0.03, results


def test_empty_scenes_are_reported_as_nothing(fmnist, shipped_int8):
    results = measure_conditions(shipped_int8, fmnist.x_test[:1], fmnist.y_test[:1], seed=22, conditions=EMPTY,
                                 empty_frames=12)  # fmt: skip
    rates = {c: results[c]["nothing_rate"] for c in EMPTY}
    assert np.mean(list(rates.values())) >= 0.93, rates
    assert min(rates.values()) >= 10 / 12, rates
