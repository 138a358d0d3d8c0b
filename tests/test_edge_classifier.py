"""edge/classifier: the loaded model on real images, its refusals, and the classify loop's observer hook."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from fashion_edge.data import CLASS_NAMES, stratified_sample
from fashion_edge.edge.classifier import Classifier, Prediction
from fashion_edge.edge.cli import Outputs, classify_sources
from fashion_edge.edge.preprocess import PreprocessConfig
from fashion_edge.edge.registry import SHIPPED_VARIANTS, SIZES, shipped_model
from fashion_edge.edge.runtime import RUNTIMES, available_runtimes
from fashion_edge.edge.sources import VideoFile
from fashion_edge.errors import FashionEdgeError


@pytest.fixture(scope="module")
def sample(fmnist):
    idx = stratified_sample(fmnist.y_test, 20, seed=12)
    return fmnist.x_test[idx], fmnist.y_test[idx]


def test_int8_and_float32_classify_real_images_and_agree(edge_models, sample):
    images, labels = sample
    predictions = {}
    for variant in ("int8", "float32"):
        classifier = Classifier(edge_models / f"fashion_{variant}.tflite", num_threads=1, top_k=3)
        predictions[variant] = [classifier.classify(image) for image in images]
    for p in predictions["int8"]:
        assert isinstance(p, Prediction) and len(p.classes) == 3 and p.label in CLASS_NAMES
        assert p.latency_ms > 0 and abs(float(p.scores.sum()) - 1) < 1e-3
        assert p.classes[0].score >= p.classes[1].score >= p.classes[2].score
    top1 = {v: np.array([CLASS_NAMES.index(p.label) for p in ps]) for v, ps in predictions.items()}
    assert np.mean(top1["int8"] == labels) > 0.3  # tiny model: ~45%; chance is 10%
    assert np.mean(top1["int8"] == top1["float32"]) >= 0.85


def test_threshold_marks_low_confidence_uncertain(edge_models, sample):
    path = edge_models / "fashion_int8.tflite"
    scores = [Classifier(path).classify(image).score for image in sample[0]]
    cut = float(np.median(scores))  # whatever the model's confidence, half the images fall below the median
    classifier = Classifier(path, threshold=cut)
    marked = [classifier.classify(image).uncertain for image in sample[0]]
    assert marked == [score < cut for score in scores] and any(marked) and not all(marked)


def test_wrong_input_size_or_dtype_is_refused(edge_models):
    classifier = Classifier(edge_models / "fashion_int8.tflite")
    with pytest.raises(FashionEdgeError, match=r"\(28, 28\) uint8"):
        classifier.classify(np.zeros((32, 32), np.uint8))
    with pytest.raises(FashionEdgeError, match=r"\(28, 28\) uint8"):
        classifier.classify(np.zeros((28, 28), np.float32))


@pytest.mark.slow
def test_model_with_an_unexpected_input_shape_is_refused(tmp_path, edge_models):
    """A real TFLite model that takes 32x32 RGB, with a card that otherwise looks right."""
    tf = pytest.importorskip("tensorflow")
    import keras

    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    path = tmp_path / "other.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    card = json.loads((edge_models / "fashion_float32.json").read_text())
    card |= {"sha256": "0" * 64, "size_bytes": path.stat().st_size}  # a well-formed card, for another model
    (tmp_path / "other.json").write_text(json.dumps(card))
    with pytest.raises(FashionEdgeError, match=r"input of shape \[1, 32, 32, 3\]"):
        Classifier(path, verify=False)


def test_card_missing_or_not_json(tmp_path, edge_models):
    model = tmp_path / "fashion_int8.tflite"
    shutil.copy(edge_models / "fashion_int8.tflite", model)
    with pytest.raises(FashionEdgeError, match="needs its card"):
        Classifier(model)
    (tmp_path / "fashion_int8.json").write_text("{not json")
    with pytest.raises(FashionEdgeError, match="not JSON"):
        Classifier(model)


def test_runtime_choice_is_honoured_or_refused_clearly(edge_models):
    classifier = Classifier(edge_models / "fashion_int8.tflite", runtime="litert")
    assert classifier.runtime == "litert" and classifier.info()["runtime"] == "litert"
    if "tflite-runtime" not in available_runtimes():
        with pytest.raises(FashionEdgeError, match="pip install"):
            Classifier(edge_models / "fashion_int8.tflite", runtime="tflite-runtime")
    with pytest.raises(FashionEdgeError, match="unknown runtime"):
        Classifier(edge_models / "fashion_int8.tflite", runtime="onnx")
    assert list(RUNTIMES) == ["litert", "tflite-runtime", "tf"]  # the documented order of preference


@pytest.mark.slow
def test_tf_lite_last_resort_runtime_gives_the_same_answers(edge_models, sample):
    pytest.importorskip("tensorflow")
    path = edge_models / "fashion_int8.tflite"
    litert, tf = Classifier(path, runtime="litert"), Classifier(path, runtime="tf")
    assert tf.runtime == "tf"
    for image in sample[0][:10]:
        np.testing.assert_allclose(tf.classify(image).scores, litert.classify(image).scores, atol=1e-5)


def test_shipped_models_are_found_with_importlib_resources():
    """`edge-classify photo.jpg` needs no --model once the package ships its models (one folder per size)."""
    for size in SIZES:
        for variant in SHIPPED_VARIANTS:
            try:
                path = shipped_model(variant, size)
            except FashionEdgeError as e:
                assert "make model" in str(e) and "--model" in str(e)  # not built here: the error says what to do
                continue
            assert path.parent.name == size and path.is_file() and path.with_suffix(".json").is_file()
    assert shipped_model().parent.name == "small"  # the default, shipped with the package
    with pytest.raises(FashionEdgeError, match="ships int8, float32"):
        shipped_model("float16")


class Recorder:
    """An Observer that keeps what it is given, as the --serve web view would."""

    def __init__(self) -> None:
        self.results: list[tuple] = []
        self.statuses: list[str] = []

    def on_result(self, frame, model_input, prediction, stats) -> None:
        self.results.append((frame.shape, model_input.copy(), prediction, stats))

    def on_status(self, message: str) -> None:
        self.statuses.append(message)

    def close(self) -> None:
        pass


def test_observers_see_every_frame_with_the_model_input_and_stats(edge_models, sample, tmp_path):
    video = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (28, 28))
    for image in sample[0][:8]:
        writer.write(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
    writer.release()
    recorder = Recorder()
    classifier = Classifier(edge_models / "fashion_int8.tflite", top_k=2)
    lines: list[str] = []
    outputs = Outputs(observers=[recorder], echo=lines.append)
    summary = classify_sources(iter([VideoFile(str(video))]), classifier, PreprocessConfig(), outputs)
    assert summary.results == 8 and summary.exit_code == 0 and len(lines) == 8
    assert [stats.frame_index for *_, stats in recorder.results] == list(range(8))
    assert [stats.frames for *_, stats in recorder.results] == list(range(1, 9))
    shape, model_input, prediction, stats = recorder.results[-1]
    assert shape == (28, 28, 3) and model_input.shape == (28, 28) and model_input.dtype == np.uint8
    assert len(prediction.classes) == 2 and stats.fps > 0 and stats.latency_ms == prediction.latency_ms
    # the model saw (nearly) the dataset image: MJPG is lossy, so not exactly
    assert np.abs(model_input.astype(int) - sample[0][7].astype(int)).mean() < 12
