"""Camera inputs for training (benchmarks/camera_inputs.py): real preprocessing outputs of rendered training images,
seeded, held-out images kept out, written atomically for `train --extra-inputs`. TF-free."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from fashion_edge.benchmarks import camera_inputs
from fashion_edge.benchmarks.calibrate_nothing import calibration_indices
from fashion_edge.benchmarks.camera_inputs import camera_set
from fashion_edge.data import stratified_split
from fashion_edge.edge.preprocess import is_dataset_style


def test_camera_inputs_are_preprocessed_frames_of_the_pooled_images(fmnist, monkeypatch):
    monkeypatch.setattr(camera_inputs, "CHUNK", 8)  # three chunks: the seed per chunk is exercised
    pool = np.arange(200)
    x, y, source = camera_set(fmnist.x_train, fmnist.y_train, pool, 20, seed=3, workers=1)
    assert x.dtype == np.uint8 and x.shape[1:] == (28, 28) and 15 <= len(x) <= 20  # a frame may be turned away
    assert all(is_dataset_style(image) for image in x)  # light garment on black, like the dataset
    assert set(source.tolist()) <= set(pool.tolist()) and np.array_equal(y, fmnist.y_train[source])
    assert not any(np.array_equal(image, fmnist.x_train[i]) for image, i in zip(x, source, strict=True))  # rendered
    again = camera_set(fmnist.x_train, fmnist.y_train, pool, 20, seed=3, workers=2)
    for mine, theirs in zip((x, y, source), again, strict=True):  # any number of worker processes: the same set
        np.testing.assert_array_equal(mine, theirs)


def test_calibration_images_are_never_rendered_for_training(fmnist):
    held_out = calibration_indices(fmnist.y_train)
    others = np.setdiff1d(np.arange(len(fmnist.y_train)), held_out)[:12]
    _, _, source = camera_set(fmnist.x_train, fmnist.y_train, np.concatenate([held_out, others]), 40, seed=0, workers=1)
    assert len(source) and set(source.tolist()) <= set(others.tolist())  # only the 12 others were left to draw


def test_the_command_writes_inputs_outside_the_runs_validation_split(fmnist, tmp_path):
    out = tmp_path / "sub" / "camera.npz"
    result = CliRunner().invoke(camera_inputs.main, ["--count", "12", "--seed", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with np.load(out, allow_pickle=False) as f:
        x, y, source, record = f["x"], f["y"], f["source_index"], json.loads(str(f["record"]))
    assert record["rendered"] == 12 and record["kept"] == len(x) == len(y) == len(source) >= 9 and record["seed"] == 5
    _, val_idx = stratified_split(fmnist.y_train, 0.1, 5)
    assert not np.isin(source, val_idx).any()
    assert [p.name for p in out.parent.iterdir()] == ["camera.npz"]  # written atomically: no temporary left
