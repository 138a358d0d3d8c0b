"""The whole `edge-classify` CLI, run in a subprocess where TensorFlow/Keras cannot be imported.

The blocker also records any attempt to import them and the subprocess reports it at exit, so these tests prove
the edge runtime never even tries (not just that it copes when the import fails).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from helpers import RUNNER, MjpegServer, default_sigint, edge_classify, free_port

from fashion_edge.benchmarks.photo_accuracy import render_photos
from fashion_edge.data import CLASS_NAMES, stratified_sample
from fashion_edge.edge.registry import shipped_dir


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def model(edge_models) -> Path:
    return edge_models / "fashion_int8.tflite"


@pytest.fixture(scope="module")
def pngs(fmnist, tmp_path_factory) -> Path:
    """20 real test images (2 per class) as PNG, label in the name, plus a corrupt and an empty file."""
    folder = tmp_path_factory.mktemp("pngs")
    (folder / "nested").mkdir()
    for n, i in enumerate(stratified_sample(fmnist.y_test, 2, seed=5)):
        where = folder / "nested" if n % 2 else folder
        cv2.imwrite(str(where / f"{int(i):05d}_label{int(fmnist.y_test[i])}.png"), fmnist.x_test[i])
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (folder / "empty.jpg").write_bytes(b"")
    return folder


@pytest.fixture(scope="module")
def photo_video(fmnist, tmp_path_factory) -> tuple[Path, list[int]]:
    """A 640x480 MJPG .avi of 12 photo-like renders of test images, and their labels."""
    idx = stratified_sample(fmnist.y_test, 2, seed=6)[:12]
    path = tmp_path_factory.mktemp("video") / "garments.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (640, 480))
    for frame in render_photos(fmnist.x_test[idx], seed=6):
        writer.write(frame)
    writer.release()
    return path, [int(v) for v in fmnist.y_test[idx]]


def test_folder_with_corrupt_files_reports_them_and_exits_1(model, pngs):
    result = edge_classify("--model", model, pngs, "--json", "--top-k", "3")
    assert result.returncode == 1
    records = json_lines(result.stdout)
    errors = {Path(r["source"]).name: r["error"] for r in records if "error" in r}
    assert set(errors) == {"corrupt.png", "empty.jpg"}
    results = [r for r in records if "error" not in r]
    assert len(results) == 20
    for r in results:
        assert r["label"] in CLASS_NAMES and 0 <= r["score"] <= 1 and r["latency_ms"] > 0
        assert [c["label"] for c in r["top_k"]][0] == r["label"] and len(r["top_k"]) == 3
        assert r["top_k"][0]["score"] >= r["top_k"][1]["score"] >= r["top_k"][2]["score"]
    correct = sum(CLASS_NAMES.index(r["label"]) == int(r["source"].split("label")[1][0]) for r in results)
    assert correct >= 6, f"{correct}/20 right: the tiny model scores ~45%, chance is 10%"
    assert "2 failed" in result.stderr and "corrupt.png" in result.stderr


def test_one_image_one_readable_line(model, pngs):
    image = next(pngs.glob("*.png"))
    result = edge_classify("--model", model, image)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert line.startswith(str(image)) and line.endswith(" ms")
    assert any(label in line for label in CLASS_NAMES)


def test_fashion_edge_classify_is_the_same_command(model, pngs):
    image = next(pngs.glob("*.png"))
    result = edge_classify("classify", "--model", model, image, "--json", module="cli")
    assert result.returncode == 0, result.stderr
    assert json_lines(result.stdout)[0]["label"] in CLASS_NAMES


def test_threshold_marks_results_uncertain(model, pngs):
    result = edge_classify("--model", model, pngs / "nested", "--json", "--threshold", "1.0")
    records = json_lines(result.stdout)
    assert records and all(r["uncertain"] for r in records)
    human = edge_classify("--model", model, next(pngs.glob("*.png")), "--threshold", "1.0")
    assert "(uncertain)" in human.stdout


def test_video_file_frames_fps_every_and_save_video(model, photo_video, tmp_path):
    video, labels = photo_video
    out = tmp_path / "annotated.avi"
    result = edge_classify("--model", model, "--source", video, "--json", "--every", "2", "--save-video", out)
    assert result.returncode == 0, result.stderr
    records = json_lines(result.stdout)
    assert [r["frame"] for r in records] == [0, 2, 4, 6, 8, 10]
    assert all("fps" in r for r in records) and records[-1]["fps"] > 0
    assert "6 classified" in result.stderr and "p50" in result.stderr
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
    ok, frame = cap.read()
    assert ok and frame.shape == (480, 640, 3)
    assert not list(tmp_path.glob(".*partial*")), "the temporary video must be renamed into place"


def test_video_as_positional_path_and_max_frames(model, photo_video):
    result = edge_classify("--model", model, photo_video[0], "--max-frames", "4")
    assert result.returncode == 0, result.stderr
    assert [line.split("  ")[0].rsplit("#", 1)[1] for line in result.stdout.splitlines()] == ["0", "1", "2", "3"]


def test_photo_video_is_classified_like_the_dataset_images(model, photo_video, fmnist, tmp_path):
    """The rendered 640x480 frames must get (mostly) the labels the same model gives their source images."""
    video, _ = photo_video
    idx = stratified_sample(fmnist.y_test, 2, seed=6)[:12]
    for n, i in enumerate(idx):
        cv2.imwrite(str(tmp_path / f"{n:02d}.png"), fmnist.x_test[i])
    on_images = json_lines(edge_classify("--model", model, tmp_path, "--json").stdout)
    # --smooth 0: each frame is another garment here, not a camera watching one
    on_frames = json_lines(edge_classify("--model", model, "--source", video, "--json", "--smooth", "0").stdout)
    agree = sum(a["label"] == b["label"] for a, b in zip(on_images, on_frames, strict=True))
    assert agree >= 9, f"{agree}/12"


def test_mjpeg_stream_survives_a_drop_and_reconnects(model, fmnist):
    frames = render_photos(fmnist.x_test[:6], seed=7)
    with MjpegServer(frames, fps=40, drop_after=8) as server:
        result = edge_classify("--model", model, "--source", server.url, "--json", "--max-frames", "25",
                               "--reconnect", "3", "--timeout", "5")  # fmt: skip
        connections = server.connections
    assert result.returncode == 0, result.stderr
    records = json_lines(result.stdout)
    assert len(records) == 25 and all(r["source"] == server.url for r in records)
    assert [r["frame"] for r in records] == sorted(r["frame"] for r in records)
    assert connections >= 2 and "reconnecting" in result.stderr and "reconnected" in result.stderr


def test_ctrl_c_ends_a_live_run_with_a_summary(model, fmnist):
    with MjpegServer(render_photos(fmnist.x_test[:3], seed=8), fps=30) as server:
        code = RUNNER.format(module="edge.cli", prog="edge-classify")
        args = [sys.executable, "-c", code, "--model", str(model), "--source", server.url]
        pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
        proc = subprocess.Popen(args, **pipes, preexec_fn=default_sigint)
        lines = [proc.stdout.readline() for _ in range(5)]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert all("#" in line for line in lines)
    assert proc.returncode == 0, err
    assert "stopped by Ctrl-C" in err and "Traceback" not in err


def test_camera_0_fails_with_one_clear_line(model):
    if Path("/dev/video0").exists():
        pytest.skip("this machine has a camera")
    result = edge_classify("--model", model, "--camera", "0")
    assert result.returncode == 1
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("Error: no camera at /dev/video0")


def test_unreachable_url_fails_with_one_clear_line(model):
    result = edge_classify("--model", model, "--source", f"http://127.0.0.1:{free_port()}/stream", "--timeout", "2")
    assert result.returncode == 1
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("Error: cannot open stream")


def test_model_info_json(model):
    result = edge_classify("--model", model, "--model-info", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["path"] == str(model.resolve()) and info["runtime"] == "litert"
    assert info["labels"] == list(CLASS_NAMES) and info["input"]["dtype"] == "uint8"
    text = edge_classify("--model", model, "--model-info").stdout
    assert str(model.resolve()) in text and "sha256" in text


def test_model_size_picks_a_shipped_folder_and_a_missing_one_names_make_model(pngs):
    """No --model: --model-size small (the default) or nano picks edge/models/<size>/ (no TensorFlow, no training)."""
    image = next(pngs.glob("*.png"))
    info = json.loads(edge_classify("--model-info", "--json").stdout)
    assert Path(info["path"]) == (shipped_dir("small") / "fashion_int8.tflite").resolve()
    nano = edge_classify("--model-size", "nano", image)
    if (shipped_dir("nano") / "fashion_int8.tflite").is_file():
        assert nano.returncode == 0, nano.stderr
    else:
        (line,) = [line for line in nano.stderr.splitlines() if line.strip()]
        assert nano.returncode == 1 and "make model" in line and "nano" in line
    bad = edge_classify("--model-size", "huge", image)
    assert bad.returncode == 2 and "'small', 'nano'" in bad.stderr


def test_truncated_swapped_or_changed_models_are_refused(model, edge_models, pngs, tmp_path):
    image = next(pngs.glob("*.png"))
    for name in ("fashion_int8.tflite", "fashion_int8.json"):
        shutil.copy(edge_models / name, tmp_path / name)
    copy = tmp_path / "fashion_int8.tflite"
    data = copy.read_bytes()

    copy.write_bytes(data[: len(data) // 2])
    result = edge_classify("--model", copy, image)
    assert result.returncode == 1 and "truncated or replaced" in result.stderr

    copy.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))  # same size, one byte changed
    assert "does not match the sha256" in edge_classify("--model", copy, image).stderr

    shutil.copy(edge_models / "fashion_float32.tflite", copy)  # a float model behind the int8 card
    card = json.loads((tmp_path / "fashion_int8.json").read_text())
    card["size_bytes"] = copy.stat().st_size
    (tmp_path / "fashion_int8.json").write_text(json.dumps(card))
    result = edge_classify("--model", copy, image, "--no-verify")
    assert result.returncode == 1 and "card" in result.stderr and "another model" in result.stderr


def test_not_a_model_is_refused(tmp_path, edge_models, pngs):
    fake = tmp_path / "fashion_int8.tflite"
    fake.write_bytes(b"\x00" * 4000)
    shutil.copy(edge_models / "fashion_int8.json", tmp_path / "fashion_int8.json")
    result = edge_classify("--model", fake, next(pngs.glob("*.png")))
    assert result.returncode == 1 and "not a TFLite model" in result.stderr


def test_subcommands_dispatch_and_usage_errors(pngs):
    doctor = edge_classify("doctor", "--help")
    assert doctor.returncode == 0 and "Usage: edge-classify doctor" in doctor.stdout
    parity = edge_classify("parity", "--help")
    assert parity.returncode == 0 and "Usage: edge-classify parity" in parity.stdout
    assert "doctor" in edge_classify("--help").stdout
    nothing = edge_classify()
    assert nothing.returncode == 2 and "--camera" in nothing.stderr


def test_show_on_headless_opencv_is_a_clear_error(model, pngs):
    if "GUI:                           NONE" not in cv2.getBuildInformation():
        pytest.skip("OpenCV here has a GUI")
    result = edge_classify("--model", model, "--show", next(pngs.glob("*.png")))
    assert result.returncode == 1 and "headless" in result.stderr and "--serve" in result.stderr


def test_preprocess_switch_changes_what_the_model_sees(model, fmnist, tmp_path):
    """--preprocess dataset on a photo is the naive pipeline: the switch really changes the input."""
    idx = stratified_sample(fmnist.y_test, 1, seed=9)
    for n, frame in enumerate(render_photos(fmnist.x_test[idx], seed=9)):
        cv2.imwrite(str(tmp_path / f"{n}_label{int(fmnist.y_test[idx[n]])}.jpg"), frame)
    auto = json_lines(edge_classify("--model", model, tmp_path, "--json").stdout)
    forced = json_lines(edge_classify("--model", model, tmp_path, "--json", "--preprocess", "dataset").stdout)
    assert len(auto) == len(forced) == 10
    assert any(
        a["label"] != f["label"] or abs(a["score"] - f["score"]) > 0.05 for a, f in zip(auto, forced, strict=True)
    )


def test_broken_video_among_inputs_is_reported_and_the_rest_classified(model, pngs, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 500)
    image = next(pngs.glob("*.png"))
    result = edge_classify("--model", model, bad, image, "--json")
    assert result.returncode == 1
    records = json_lines(result.stdout)
    assert records[0]["source"] == str(bad) and "cannot open it as a video" in records[0]["error"]
    assert records[1]["source"] == str(image) and records[1]["label"] in CLASS_NAMES
