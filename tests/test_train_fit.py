"""Training on a slice of the real data: it learns, saves atomically, reloads identically, and repeats."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from helpers import TINY_STAGES

pytestmark = pytest.mark.slow  # every test here trains or builds a Keras model
pytest.importorskip("tensorflow")

from fashion_edge.errors import FashionEdgeError  # noqa: E402
from fashion_edge.train.fit import TrainConfig, augment_batch, train  # noqa: E402 - only where TensorFlow is
from fashion_edge.train.model import ModelConfig, build_model  # noqa: E402


def test_tiny_training_learns_and_saves(tiny_training, fmnist):
    keras = pytest.importorskip("keras")
    history = json.loads(tiny_training.history_path.read_text())
    assert history["loss"][-1] < history["loss"][0]
    assert tiny_training.test_accuracy > 0.4  # chance is 0.1; 2 epochs on 1,500 images
    info = json.loads(tiny_training.training_path.read_text())
    assert info["train_images"] == 1500 and info["labels"][0] == "T-shirt/top"
    assert {"tensorflow", "keras", "numpy"} <= set(info["versions"])
    reloaded = keras.saving.load_model(tiny_training.model_path)
    images = fmnist.x_test[:256, ..., None].astype("float32")
    np.testing.assert_allclose(
        reloaded.predict(images, verbose=0), tiny_training.model.predict(images, verbose=0), atol=1e-5
    )
    # The saved model is the inference graph only: no augmentation layers were exported.
    assert not any("random" in layer.name or "augment" in layer.name for layer in reloaded.layers)
    leftovers = [p.name for p in tiny_training.model_path.parent.iterdir() if ".tmp" in p.name]
    assert leftovers == []


def test_same_seed_same_weights(tmp_path):
    pytest.importorskip("tensorflow")
    cfg = TrainConfig(profile="test", epochs=1, batch_size=64, train_limit=300, model=ModelConfig(stages=TINY_STAGES))
    a = train(cfg, tmp_path / "a", verbose=0).model.get_weights()
    b = train(cfg, tmp_path / "b", verbose=0).model.get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_model_fits_int8_budget():
    pytest.importorskip("keras")
    model = build_model()
    assert model.count_params() <= 150_000
    ops = {type(layer).__name__ for layer in model.layers}
    assert ops <= {"InputLayer", "Rescaling", "Conv2D", "BatchNormalization", "ReLU", "MaxPooling2D",
                   "GlobalAveragePooling2D", "Dropout", "Dense"}  # fmt: skip


def test_a_flatten_head_sees_every_position_and_converts_to_full_int8(tmp_path, fmnist):
    from fashion_edge.convert.converter import convert_variant, float_ops
    from fashion_edge.edge.variants import BY_NAME

    tiny = ModelConfig(stages=TINY_STAGES, head="flatten")
    cfg = TrainConfig(profile="test", epochs=1, batch_size=64, train_limit=300, model=tiny)
    result = train(cfg, tmp_path / "run", verbose=0)
    assert "GlobalAveragePooling2D" not in {type(layer).__name__ for layer in result.model.layers}
    assert result.model.get_layer("logits").kernel.shape == (7 * 7 * TINY_STAGES[-1][-1], 10)  # every 7x7 position
    info = json.loads(result.training_path.read_text())
    assert ModelConfig.from_dict(info["config"]["model"]) == tiny
    model_bytes = convert_variant(BY_NAME["int8"], result.model, fmnist.x_train[:100])
    assert float_ops(model_bytes) == []
    assert ModelConfig.from_dict({"stages": [[8]], "dropout": 0.1, "num_classes": 10}).head == "average"  # old cards
    with pytest.raises(ValueError, match="head 'max'"):
        build_model(replace(tiny, head="max"))


def test_augmentation_keeps_shape_range_and_changes_images(fmnist):
    x = fmnist.x_train[:64, ..., None].astype(np.float32)
    out = np.asarray(augment_batch(x, np.array([0, 7])))
    assert out.shape == x.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 255
    assert not np.array_equal(out, x)
    # a flip or shift moves ink and erasing removes some: never more ink than the image had
    assert (out.reshape(64, -1) > 0).sum(axis=1).max() <= (x.reshape(64, -1) > 0).sum(axis=1).max()
    assert np.array_equal(out, np.asarray(augment_batch(x, np.array([0, 7]))))  # same (seed, step), same batch
    assert not np.array_equal(out, np.asarray(augment_batch(x, np.array([0, 8]))))  # the next step differs


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    """Kill a 2-epoch run after epoch 1 (a crash in the checkpoint callback of epoch 2); the same call then
    continues from epoch 2 and ends with the weights of an uninterrupted run."""
    import fashion_edge.train.fit as fit

    # dropout 0: Keras does not checkpoint a Dropout layer's random stream, so only without it is the resumed run
    # bit-for-bit the uninterrupted one (data order, augmentation, optimizer and BatchNorm state are all restored)
    tiny = ModelConfig(stages=TINY_STAGES, dropout=0.0)
    cfg = TrainConfig(profile="test", epochs=2, batch_size=64, train_limit=300, model=tiny)
    whole = train(cfg, tmp_path / "whole", verbose=0).model.get_weights()

    real_callback = fit._Checkpoint.callback

    def crash_after_first_epoch(self, model, records):
        import keras

        saver = real_callback(self, model, records)

        class CrashOnSecond(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if epoch == 1:
                    raise KeyboardInterrupt("simulated interruption")
                saver.on_epoch_end(epoch, logs)

        return CrashOnSecond()

    monkeypatch.setattr(fit._Checkpoint, "callback", crash_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "resumed", verbose=0)
    assert json.loads((tmp_path / "resumed" / "checkpoint" / "state.json").read_text())["epochs_done"] == 1
    assert not (tmp_path / "resumed" / "model.keras").exists()  # nothing half-finished looks complete
    monkeypatch.undo()
    result = train(cfg, tmp_path / "resumed", verbose=0)
    info = json.loads(result.training_path.read_text())
    assert info["resumed_at_epochs"] == [1]
    assert not (tmp_path / "resumed" / "checkpoint").exists()  # removed once the artifacts are written
    resumed = result.model.get_weights()
    assert all(np.allclose(x, y, atol=1e-4) for x, y in zip(whole, resumed, strict=True))


def test_distillation_targets_mix_in_the_teachers_softmax_on_the_same_images(tiny_training, fmnist):
    import keras

    from fashion_edge.train.fit import _dataset

    teacher = keras.saving.load_model(tiny_training.model_path)
    untrained = build_model(ModelConfig(stages=TINY_STAGES), keras)  # a second teacher that disagrees
    x, y = fmnist.x_train[:64, ..., None].astype("float32"), fmnist.y_train[:64]
    cfg = TrainConfig(profile="test", batch_size=32, distill_weight=0.3, erase_p=1.0)
    for teachers in ([teacher], [teacher, untrained]):
        xb, target = next(iter(_dataset(x, y, cfg, steps_per_epoch=2, first_epoch=0, teachers=teachers)))
        softs = [keras.ops.convert_to_numpy(keras.ops.softmax(t(xb, training=False))) for t in teachers]
        soft = np.mean(softs, axis=0)  # an ensemble's targets: the mean of its members' softmaxes
        labels = np.argmax(np.asarray(target) - 0.3 * soft, axis=1)  # what is left is 0.7 x the one-hot label
        np.testing.assert_allclose(np.asarray(target), 0.7 * np.eye(10)[labels] + 0.3 * soft, atol=1e-5)
        np.testing.assert_allclose(np.asarray(target).sum(axis=1), 1.0, atol=1e-5)
        assert not np.array_equal(np.asarray(xb), x[:32])  # the teachers saw the augmented batch, not the raw one
    assert np.abs(softs[0] - softs[1]).max() > 0.1  # so the mean differs from either member


def test_a_distilled_run_records_its_teachers(tiny_training, tmp_path):
    from fashion_edge.artifacts import sha256_file

    tiny = ModelConfig(stages=TINY_STAGES)
    cfg = TrainConfig(profile="test", epochs=1, batch_size=64, train_limit=300, distill_weight=0.5, model=tiny)
    result = train(cfg, tmp_path / "one", verbose=0, teacher=tiny_training.model_path)
    teacher = json.loads(result.training_path.read_text())["teacher"]
    assert teacher["sha256"] == sha256_file(tiny_training.model_path)
    assert teacher["test_accuracy"] == round(tiny_training.test_accuracy, 5)
    result = train(cfg, tmp_path / "two", verbose=0, teacher=[tiny_training.model_path, result.model_path])
    ensemble = json.loads(result.training_path.read_text())["teacher"]
    assert [t["sha256"] for t in ensemble] == [teacher["sha256"], sha256_file(tmp_path / "one" / "model.keras")]


def test_a_fine_tune_starts_from_its_init_and_adds_camera_inputs(tiny_training, tmp_path):
    from fashion_edge.artifacts import sha256_file
    from fashion_edge.benchmarks.camera_inputs import write_camera_inputs

    tiny = ModelConfig(stages=TINY_STAGES)
    cfg = TrainConfig(
        profile="test", epochs=1, batch_size=64, train_limit=300, learning_rate=1e-9, extra_inputs=True,
        fine_tune=True, model=tiny,
    )  # fmt: skip
    extra = tmp_path / "camera.npz"
    made = write_camera_inputs(extra, 20, seed=cfg.seed, val_fraction=cfg.val_fraction)
    result = train(cfg, tmp_path / "run", verbose=0, init=tiny_training.model_path, extra_inputs=extra)
    info = json.loads(result.training_path.read_text())
    assert info["init"]["sha256"] == sha256_file(tiny_training.model_path)
    assert info["init"]["test_accuracy"] == round(tiny_training.test_accuracy, 5)
    assert info["extra_inputs"]["sha256"] == sha256_file(extra) and info["extra_inputs"]["kept"] == made["kept"]
    assert info["train_images"] == 300 + min(made["kept"], 300 // 4)
    # at a learning rate of 1e-9 the trained weights are the initial ones: training started from them
    for mine, theirs in zip(result.model.trainable_weights, tiny_training.model.trainable_weights, strict=True):
        np.testing.assert_allclose(np.asarray(mine), np.asarray(theirs), atol=1e-5)
    with pytest.raises(FashionEdgeError, match="fine-tunes a trained model: pass --init"):
        train(cfg, tmp_path / "no_init", verbose=0, extra_inputs=extra)
    with pytest.raises(FashionEdgeError, match="trains on camera inputs too: pass --extra-inputs"):
        train(cfg, tmp_path / "no_extra", verbose=0, init=tiny_training.model_path)
    other = ModelConfig(stages=((8,), (8,), (8,)))
    with pytest.raises(FashionEdgeError, match="architecture differs"):
        train(
            replace(cfg, model=other, extra_inputs=False), tmp_path / "other", verbose=0, init=tiny_training.model_path
        )


def test_extra_inputs_from_the_runs_validation_images_are_refused(tmp_path):
    from fashion_edge.data import stratified_split
    from fashion_edge.train.fit import _load_extra_inputs

    y = np.arange(20) % 10
    _, val_idx = stratified_split(np.repeat(np.arange(10), 10), 0.2, 0)
    path = tmp_path / "leak.npz"
    np.savez(path, x=np.zeros((20, 28, 28), np.uint8), y=y, source_index=val_idx[:20], record=np.array("{}"))
    with pytest.raises(FashionEdgeError, match="made from this run's validation images"):
        _load_extra_inputs(path, val_idx, None)
    np.savez(path, x=np.zeros((20, 28, 28), np.float32), y=y, source_index=np.arange(20), record=np.array("{}"))
    with pytest.raises(FashionEdgeError, match="expected x"):
        _load_extra_inputs(path, val_idx, None)
    path.write_bytes(b"not a zip")
    with pytest.raises(FashionEdgeError, match="not a camera-inputs .npz"):
        _load_extra_inputs(path, val_idx, None)
