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


def test_the_gap_carries_its_interval_and_samples_pool():
    from fashion_edge.benchmarks.photo_accuracy import conditions_table, gap_interval, pool

    # 250 frames: 12 lost, 4 gained -> -3.2 pp; d = -1 x12, +1 x4, 0 x234: variance (16/250 - 0.032^2) * 250/249
    one = {"frames": 250, "nothing_rate": 0.01, "dataset_accuracy": 0.94, "photo_accuracy": 0.908, "lost": 12,
           "gained": 4}  # fmt: skip
    gap, half = gap_interval(one)
    assert gap == -3.2 and abs(half - 100 * 1.96 * np.sqrt((16 / 250 - 0.032**2) * 250 / 249 / 250)) < 1e-9
    assert 2.9 < half < 3.2  # one 250-frame sample cannot tell -3.2 from -1 pp
    other = {"frames": 250, "nothing_rate": 0.03, "dataset_accuracy": 0.92, "photo_accuracy": 0.916, "lost": 3,
             "gained": 2}  # fmt: skip
    empty = {"frames": 250, "nothing_rate": 0.96}
    pooled = pool([{"shadow": one, "empty_dark": empty}, {"shadow": other, "empty_dark": {**empty, "nothing_rate": 1}}])
    shadow = pooled["shadow"]
    assert shadow["frames"] == 500 and (shadow["lost"], shadow["gained"]) == (15, 6)
    assert abs(shadow["nothing_rate"] - 0.02) < 1e-12 and abs(pooled["empty_dark"]["nothing_rate"] - 0.98) < 1e-12
    pooled_gap, pooled_half = gap_interval(shadow)
    assert abs(pooled_gap - -1.8) < 1e-9 and pooled_half < half  # twice the frames: a narrower interval
    table = conditions_table(pooled)
    assert "| shadow | 500 |" in table and "-1.8 pp" in table and "≥ −3 pp ✓" in table
    assert "≥ −3 pp ✗" in conditions_table({"shadow": one}) and "**98.0%**" in table


def test_photo_accuracy_pools_several_samples(shipped_int8):
    from click.testing import CliRunner

    from fashion_edge.benchmarks.photo_accuracy import main

    out = CliRunner().invoke(
        main, ["--model", str(shipped_int8), "--per-class", "1", "--condition", "rotated", "--seed", "3", "--seed", "4"]
    )
    assert out.exit_code == 0, out.output
    assert "seed 3: rotated" in out.output and "seed 4: rotated" in out.output
    assert "| rotated | 20 |" in out.output  # 10 frames from each sample, in one row
