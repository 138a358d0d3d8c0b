"""edge-classify doctor: pure diagnosis on hand-made facts (a Pi, 32-bit, numpy 2 + tflite-runtime), and a real run."""

from __future__ import annotations

import dataclasses
import json
import platform
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner
from helpers import BLOCK_TENSORFLOW

from fashion_edge.edge import doctor, kernels
from fashion_edge.edge.doctor import FAIL, NOTE, OK, WARN, Facts, diagnose, find_video_devices, parse_opencv_build

PI_BOARD = "Raspberry Pi 5 Model B Rev 1.0"


def make_facts(**changes) -> Facts:
    """A healthy 64-bit Linux box with ai-edge-litert and headless OpenCV; tests change one thing at a time."""
    facts = Facts(
        system="Linux", machine="aarch64", board=None, os_release="Debian GNU/Linux 12 (bookworm)", python="3.11.2",
        python_bits=64, in_venv=True, venv_system_site_packages=True,
        packages={"numpy": "2.1.3", "opencv-python-headless": "4.10.0.84", "ai-edge-litert": "1.2.0"},
        runtimes={"litert": "1.2.0"}, tensorflow_installed=False, opencv_gui="NONE",
        opencv_video_io={"v4l/v4l2": True, "FFMPEG": True},
        video_devices={"/dev/video0": {"name": "USB2.0 HD UVC WebCam", "readable": True, "camera": True}},
        governor="performance",
    )  # fmt: skip
    return dataclasses.replace(facts, **changes)


def by_name(checks, name):
    found = [c for c in checks if c.name == name]
    assert found, f"no {name} check in {[c.name for c in checks]}"
    return found[0]


def test_healthy_machine_has_no_problems():
    checks = diagnose(make_facts())
    assert [c for c in checks if c.status in (WARN, FAIL)] == []
    assert "will use litert" in by_name(checks, "runtime").detail
    assert "--camera /dev/video0" in by_name(checks, "camera").detail


def test_tflite_runtime_under_numpy2_is_flagged_with_the_fix():
    facts = make_facts(packages={"numpy": "2.0.1", "tflite-runtime": "2.14.0"}, runtimes={})
    checks = diagnose(facts)
    broken = by_name(checks, "tflite-runtime")
    assert broken.status == WARN and "numpy 2.0.1" in broken.detail
    assert broken.fix == "python3 -m pip uninstall -y tflite-runtime && python3 -m pip install ai-edge-litert"
    runtime = by_name(checks, "runtime")
    assert runtime.status == FAIL and runtime.fix.endswith("pip install ai-edge-litert")


def test_tflite_runtime_with_numpy1_is_fine():
    facts = make_facts(packages={"numpy": "1.26.4", "tflite-runtime": "2.14.0"}, runtimes={"tflite-runtime": "2.14.0"})
    checks = diagnose(facts)
    assert not [c for c in checks if c.name == "tflite-runtime"]
    assert "will use tflite-runtime" in by_name(checks, "runtime").detail


def test_only_tensorflow_is_a_warning_not_a_failure():
    runtime = by_name(diagnose(make_facts(runtimes={}, tensorflow_installed=True)), "runtime")
    assert runtime.status == WARN and "ai-edge-litert" in runtime.fix


def test_kernels_built_or_not_is_said_with_the_way_to_build_them():
    assert by_name(diagnose(make_facts(kernels=True)), "kernels").status == OK
    missing = by_name(diagnose(make_facts(kernels=False)), "kernels")
    assert missing.status == NOTE and "numpy reference" in missing.detail
    assert missing.fix.startswith("sudo apt install gcc python3-dev && python3 -m pip install --force-reinstall")
    assert not [c for c in diagnose(make_facts()) if c.name == "kernels"]  # not looked at: nothing said


def test_32_bit_os_fails_with_the_way_out():
    check = by_name(diagnose(make_facts(machine="armv7l", python_bits=32, board=PI_BOARD)), "platform")
    assert check.status == FAIL and "64-bit" in check.fix


def test_pi_with_picamera2_uses_it():
    unicam = {"/dev/video0": {"name": "unicam-image", "readable": True, "camera": False}}
    facts = make_facts(board=PI_BOARD, picamera2_importable=True, video_devices=unicam)
    check = by_name(diagnose(facts), "camera")
    assert check.status == OK and "picamera2" in check.detail and "--camera picamera2" in check.detail
    assert doctor.report(facts, diagnose(facts))["will_use"]["camera_backend"] == "picamera2"


def test_pi_venv_hiding_apt_picamera2_says_how_to_expose_it():
    facts = make_facts(board=PI_BOARD, picamera2_importable=False, picamera2_on_system=True,
                       venv_system_site_packages=False)  # fmt: skip
    check = by_name(diagnose(facts), "camera")
    assert check.status == WARN and "include-system-site-packages = true" in check.fix


def test_pi_without_picamera2_says_apt_install():
    check = by_name(diagnose(make_facts(board=PI_BOARD, picamera2_on_system=False)), "camera")
    assert check.status == WARN and "apt install -y python3-picamera2" in check.fix


def test_unreadable_camera_and_slow_governor():
    locked = {"/dev/video0": {"name": "USB Camera", "readable": False, "camera": True}}
    facts = make_facts(governor="ondemand", video_devices=locked)
    checks = diagnose(facts)
    assert "usermod -aG video" in by_name(checks, "camera-permission").fix
    governor = by_name(checks, "cpu-governor")
    assert governor.status == NOTE and "scaling_governor" in governor.fix


def test_two_opencv_wheels_conflict():
    facts = make_facts(packages={"numpy": "2.1.3", "opencv-python": "4.10.0.84", "opencv-python-headless": "4.10.0.84"})
    check = by_name(diagnose(facts), "opencv")
    assert check.status == WARN and "uninstall -y opencv-python opencv-python-headless" in check.fix


def test_no_pip_outside_venv_on_bookworm_pi():
    check = by_name(diagnose(make_facts(board=PI_BOARD, in_venv=False, venv_system_site_packages=None)), "python")
    assert check.status == WARN and "venv --system-site-packages" in check.fix


def test_parse_opencv_build_info():
    cv2 = pytest.importorskip("cv2")
    gui, video_io = parse_opencv_build(cv2.getBuildInformation())
    assert gui  # the real build names its GUI backend (NONE for the headless wheel)
    assert "FFMPEG" in video_io
    text = (
        "  GUI:                           GTK3\n    GTK+:   YES (ver 3.24)\n\n  Video I/O:\n"
        "    FFMPEG:                      NO\n    v4l/v4l2:                    YES (linux/videodev2.h)\n\n"
    )
    assert parse_opencv_build(text) == ("GTK3", {"FFMPEG": False, "v4l/v4l2": True})


def test_find_video_devices_names_and_order(tmp_path):
    dev, sysfs = tmp_path / "dev", tmp_path / "sys"
    for n, name in ((10, "bcm2835-codec-decode"), (2, "USB Camera: HD"), (0, "unicam-image")):
        (dev).mkdir(exist_ok=True)
        (dev / f"video{n}").write_text("")
        (sysfs / f"video{n}").mkdir(parents=True)
        (sysfs / f"video{n}" / "name").write_text(name + "\n")
    found = find_video_devices(str(dev), str(sysfs))
    assert list(found) == [str(dev / "video0"), str(dev / "video2"), str(dev / "video10")]
    assert [info["camera"] for info in found.values()] == [False, True, False]
    assert found[str(dev / "video2")]["name"] == "USB Camera: HD"


def test_doctor_on_this_machine_json():
    result = CliRunner().invoke(doctor.doctor_command, ["--json", "--no-smoke-test"])
    data = json.loads(result.output)
    assert data["facts"]["machine"] == platform.machine()
    assert data["facts"]["python"] == platform.python_version()
    assert "litert" in data["facts"]["runtimes"]
    assert data["will_use"]["runtime"] == "litert"
    assert data["facts"]["kernels"] is (kernels.compiled is not None)
    assert result.exit_code == (0 if data["ok"] else 1)


def test_doctor_smoke_test_loads_a_model(edge_models, tmp_path):
    model = tmp_path / "fashion_int8.tflite"
    shutil.copy(edge_models / "fashion_int8.tflite", model)
    shutil.copy(edge_models / "fashion_int8.json", model.with_suffix(".json"))
    result = CliRunner().invoke(doctor.doctor_command, ["--model", str(model)])
    assert "[  ok] model" in result.output and "one inference" in result.output
    model.write_bytes(model.read_bytes()[:-100])  # truncated: the doctor must say so, not crash
    result = CliRunner().invoke(doctor.doctor_command, ["--model", str(model)])
    assert result.exit_code == 1 and "[FAIL] model" in result.output and "truncated" in result.output


def test_edge_classify_doctor_without_tensorflow():
    """`edge-classify doctor --json` through the real entry point, with TensorFlow blocked from importing."""
    code = BLOCK_TENSORFLOW + (
        "from fashion_edge.edge.cli import main\n"
        "main(['doctor', '--json', '--no-smoke-test'], prog_name='edge-classify')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    report = json.loads(out.stdout)
    assert out.returncode == (0 if report["ok"] else 1), out.stderr
    assert report["facts"]["tensorflow_installed"] is False  # blocked counts as absent
    assert report["will_use"]["runtime"] == "litert"
