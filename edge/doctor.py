"""`edge-classify doctor`: what this machine has, what edge-classify will use, and the command that fixes each problem.

Two halves, so the decisions are testable without the hardware: `gather()` reads the machine into a plain `Facts`
record (nothing here imports TensorFlow, picamera2 or a runtime it does not need), `diagnose(facts)` is pure and
turns facts into `Check`s. Most failures on a Raspberry Pi are setup failures: tflite-runtime built against numpy 1
under numpy 2, a venv that hides apt's picamera2, a libcamera camera that OpenCV cannot open, a 32-bit OS.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import platform
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from ..errors import FashionEdgeError
from ..host import TF_DISTS, cpu_facts, dist_version, module_installed
from .registry import shipped_dir
from .runtime import LAST_RESORT, available_runtimes, preferred
from .variants import model_filename

OK, NOTE, WARN, FAIL = "ok", "note", "warn", "FAIL"
DEFAULT_MODEL = shipped_dir() / model_filename("int8")  # the model edge-classify uses by default
OPENCV_DISTS = ("opencv-python", "opencv-python-headless", "opencv-contrib-python")  # all install the same cv2/
APT_DIST_PACKAGES = Path("/usr/lib/python3/dist-packages")
# V4L2 nodes that are not cameras OpenCV can read: Pi codecs/ISP, and unicam (raw sensor, libcamera only).
_NOT_A_CAMERA = re.compile(r"codec|isp|rpivid|pispbe|hevc|unicam|rp1-cfe|bcm2835-(?!v4l2)", re.IGNORECASE)


@dataclass
class Facts:
    """Everything `diagnose` looks at. `gather()` fills it from this machine; tests build it by hand."""

    system: str
    machine: str
    board: str | None  # /proc/device-tree/model, e.g. "Raspberry Pi 5 Model B Rev 1.0"
    os_release: str | None
    python: str
    python_bits: int
    in_venv: bool
    venv_system_site_packages: bool | None  # None when not in a venv
    packages: dict[str, str | None]  # distribution -> version (None = not installed)
    runtimes: dict[str, str]  # importable runtime -> version (runtime.available_runtimes)
    tensorflow_installed: bool  # found, not imported: tf.lite is only the last resort
    opencv_gui: str | None  # "NONE" on the headless build; None if cv2 is missing
    opencv_video_io: dict[str, bool] = field(default_factory=dict)
    picamera2_importable: bool = False
    picamera2_on_system: bool = False  # apt's python3-picamera2 present, maybe hidden by the venv
    video_devices: dict[str, dict[str, Any]] = field(default_factory=dict)  # /dev/videoN -> {name, readable}
    governor: str | None = None
    cpu: dict[str, Any] = field(default_factory=dict)  # host.cpu_facts(): model, int8 instructions, expectation
    model: dict[str, Any] = field(default_factory=dict)  # shipped model: path, present, smoke test
    kernels: bool | None = None  # the compiled preprocessing kernels (edge/_kernels.c) import; None: not looked


@dataclass
class Check:
    name: str
    status: str  # ok | note | warn | FAIL
    detail: str
    fix: str | None = None  # the exact command that fixes it


# ---------------------------------------------------------------------------------------------------------- gather


def _read(path: str | Path) -> str | None:
    try:
        return Path(path).read_text(errors="replace").strip("\x00\n ")
    except OSError:
        return None


def parse_opencv_build(build_info: str) -> tuple[str, dict[str, bool]]:
    """(GUI backend, {video I/O backend: available}) from `cv2.getBuildInformation()`; GUI "NONE" = headless."""
    gui = re.search(r"^\s*GUI:\s*(.+?)\s*$", build_info, re.MULTILINE)
    video_io: dict[str, bool] = {}
    section = re.search(r"^\s*Video I/O:\s*$(.*?)(?:^\s*\n|\Z)", build_info, re.MULTILINE | re.DOTALL)
    if section:
        for key, value in re.findall(r"^ {4}(\S[^:]*):\s*(\S+)", section.group(1), re.MULTILINE):
            video_io[key.strip()] = value.upper().startswith("YES")
    return (gui.group(1) if gui else "unknown"), video_io


def find_video_devices(dev_dir: str = "/dev", sysfs_dir: str = "/sys/class/video4linux") -> dict[str, dict[str, Any]]:
    """/dev/videoN -> {name (driver's card name), readable by this user, camera (not a codec/ISP/raw node)}."""
    devices = {}
    for path in sorted(glob.glob(os.path.join(dev_dir, "video*")), key=lambda p: int(re.sub(r"\D", "", p) or 0)):
        name = _read(Path(sysfs_dir) / Path(path).name / "name") or "unknown"
        devices[path] = {
            "name": name,
            "readable": os.access(path, os.R_OK | os.W_OK),
            "camera": not _NOT_A_CAMERA.search(name),
        }
    return devices


def _kernels_built() -> bool:
    """Whether the compiled preprocessing kernels were built at install and import here."""
    from . import kernels

    return kernels.compiled is not None


def _venv_system_site_packages() -> bool | None:
    if sys.prefix == sys.base_prefix:
        return None
    cfg = _read(Path(sys.prefix) / "pyvenv.cfg") or ""
    return bool(re.search(r"^include-system-site-packages\s*=\s*true", cfg, re.MULTILINE | re.IGNORECASE))


def smoke_test_model(model_path: Path, runtime: str | None) -> dict[str, Any]:
    """Load the model with `runtime` and run one inference on a blank image; time both."""
    import numpy as np

    from .registry import load
    from .runtime import make_interpreter

    result: dict[str, Any] = {"path": str(model_path), "present": model_path.is_file()}
    if not result["present"] or runtime is None:
        return result
    try:
        load(model_path)
        start = time.perf_counter()
        interpreter, _ = make_interpreter(model_path, num_threads=1, runtime=runtime)
        detail = interpreter.get_input_details()[0]
        result["load_ms"] = round((time.perf_counter() - start) * 1000, 1)
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], dtype=detail["dtype"]))
        start = time.perf_counter()
        interpreter.invoke()
        result["invoke_ms"] = round((time.perf_counter() - start) * 1000, 2)
        result["ok"] = True
    except FashionEdgeError as e:
        result.update(ok=False, error=str(e))
    return result


def gather(model_path: Path = DEFAULT_MODEL, smoke_test: bool = True) -> Facts:
    """Read this machine. Imports cv2 and the runtimes that are installed; never TensorFlow or picamera2."""
    os_release = _read("/etc/os-release") or ""
    pretty = re.search(r'^PRETTY_NAME="?(.*?)"?$', os_release, re.MULTILINE)
    try:
        import cv2

        gui, video_io = parse_opencv_build(cv2.getBuildInformation())
    except ImportError:
        gui, video_io = None, {}
    runtimes = available_runtimes()
    facts = Facts(
        system=platform.system(),
        machine=platform.machine(),
        board=_read("/proc/device-tree/model"),
        os_release=pretty.group(1) if pretty else None,
        python=platform.python_version(),
        python_bits=64 if sys.maxsize > 2**32 else 32,
        in_venv=sys.prefix != sys.base_prefix,
        venv_system_site_packages=_venv_system_site_packages(),
        packages={d: dist_version(d) for d in ("numpy", *OPENCV_DISTS, "ai-edge-litert", "tflite-runtime", *TF_DISTS)},
        runtimes=runtimes,
        tensorflow_installed=module_installed("tensorflow"),
        opencv_gui=gui,
        opencv_video_io=video_io,
        # find_spec, not import: importing picamera2 starts libcamera and can grab the camera from a running service
        picamera2_importable=module_installed("picamera2"),
        picamera2_on_system=(APT_DIST_PACKAGES / "picamera2").is_dir(),
        video_devices=find_video_devices(),
        governor=_read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        cpu=cpu_facts(),
        kernels=_kernels_built(),
    )
    runtime = chosen_runtime(facts)
    # tf.lite would drag in all of TensorFlow; the doctor reports it but does not load it.
    facts.model = smoke_test_model(model_path, runtime if runtime != LAST_RESORT else None) if smoke_test else {}
    return facts


# -------------------------------------------------------------------------------------------------------- diagnose


def chosen_runtime(facts: Facts) -> str | None:
    """The runtime `edge-classify` will pick (runtime.RUNTIMES order), or None."""
    return preferred([*facts.runtimes, *([LAST_RESORT] if facts.tensorflow_installed else [])])


def is_raspberry_pi(facts: Facts) -> bool:
    return bool(facts.board and "raspberry pi" in facts.board.lower())


def chosen_camera(facts: Facts) -> tuple[str | None, str]:
    """(camera backend, the --camera argument to use) — picamera2 for a Pi's libcamera cameras, else V4L2."""
    usable = [dev for dev, info in facts.video_devices.items() if info["camera"]]
    if is_raspberry_pi(facts) and facts.picamera2_importable:
        return "picamera2", "--camera picamera2"
    if usable:
        return "opencv-v4l2", f"--camera {usable[0]}"
    return None, ""


def _major(version_string: str | None) -> int | None:
    match = re.match(r"(\d+)", version_string or "")
    return int(match.group(1)) if match else None


def diagnose(facts: Facts) -> list[Check]:
    """Pure: facts -> checks, each with the command that fixes it. Order: platform, Python, packages, camera, CPU."""
    checks: list[Check] = []
    add = checks.append
    pip = "python3 -m pip" if facts.in_venv else "pip"
    pi = is_raspberry_pi(facts)

    platform_detail = f"{facts.system} {facts.machine}" + (f", {facts.board}" if facts.board else "")
    if facts.os_release:
        platform_detail += f", {facts.os_release}"
    if facts.machine in ("armv7l", "armv6l") or facts.python_bits == 32:
        add(
            Check(
                "platform",
                FAIL,
                platform_detail + ": 32-bit; ai-edge-litert ships 64-bit (aarch64) wheels only",
                "flash Raspberry Pi OS (64-bit) Bookworm with Raspberry Pi Imager",
            )
        )
    else:
        add(Check("platform", OK, platform_detail))

    if facts.in_venv:
        py = f"{facts.python} ({facts.python_bits}-bit), venv" + (
            ", with system site-packages" if facts.venv_system_site_packages else ""
        )
    else:
        py = f"{facts.python} ({facts.python_bits}-bit), no venv"
    if not facts.in_venv and pi:
        venv = "python3 -m venv --system-site-packages ~/fashion-edge && . ~/fashion-edge/bin/activate"
        add(Check("python", WARN, py + ": Bookworm's pip refuses to install outside a venv (PEP 668)", venv))
    else:
        add(Check("python", OK, py))

    numpy = facts.packages.get("numpy")
    tflite_rt = facts.packages.get("tflite-runtime")
    if numpy is None:
        add(Check("numpy", FAIL, "numpy is not installed", f"{pip} install numpy"))
    else:
        numpy2_note = " (2.x: tflite-runtime would not import, ai-edge-litert does)"
        add(Check("numpy", OK, numpy + (numpy2_note if (_major(numpy) or 0) >= 2 else "")))
    # tflite-runtime's last wheels (2.14, 2023) are built against numpy 1.x: with numpy 2 the import fails.
    if tflite_rt is not None and (_major(numpy) or 0) >= 2 and "tflite-runtime" not in facts.runtimes:
        add(
            Check(
                "tflite-runtime",
                WARN,
                f"tflite-runtime {tflite_rt} is installed but broken with numpy {numpy} "
                "(built for numpy 1.x, no longer released)",
                f"{pip} uninstall -y tflite-runtime && {pip} install ai-edge-litert",
            )
        )

    runtime = chosen_runtime(facts)
    listed = ", ".join(f"{name} {ver}" for name, ver in facts.runtimes.items()) or "none importable"
    if facts.tensorflow_installed:
        listed += "; tensorflow installed (tf.lite, last resort)"
    if runtime is None:
        add(Check("runtime", FAIL, f"no TFLite runtime: {listed}", f"{pip} install ai-edge-litert"))
    elif runtime == "tf":
        add(
            Check(
                "runtime",
                WARN,
                f"only tf.lite: {listed}; it loads all of TensorFlow (slow start, ~1 GB)",
                f"{pip} install ai-edge-litert",
            )
        )
    else:
        add(Check("runtime", OK, f"will use {runtime} ({listed})"))

    model = facts.model
    if model:
        if not model.get("present"):
            add(
                Check(
                    "model",
                    FAIL,
                    f"shipped model {model['path']} is missing (pass --model PATH.tflite with its card to use another)",
                    f"{pip} install --force-reinstall --no-deps fashion-edge",
                )
            )
        elif model.get("ok"):
            add(
                Check(
                    "model",
                    OK,
                    f"{Path(model['path']).name} loads in {model['load_ms']} ms, "
                    f"one inference {model['invoke_ms']} ms ({runtime})",
                )
            )
        elif "error" in model:
            add(Check("model", FAIL, model["error"], f"{pip} install --force-reinstall --no-deps fashion-edge"))

    cv_dists = [d for d in OPENCV_DISTS if facts.packages.get(d)]
    if facts.opencv_gui is None:
        add(Check("opencv", FAIL, "cv2 does not import", f"{pip} install opencv-python-headless"))
    elif len(cv_dists) > 1:
        # Both wheels install the same cv2/ folder; whichever was installed last wins, half-overwritten.
        add(
            Check(
                "opencv",
                WARN,
                f"several OpenCV wheels installed ({', '.join(cv_dists)}): they overwrite each other",
                f"{pip} uninstall -y {' '.join(cv_dists)} && {pip} install opencv-python-headless",
            )
        )
    else:
        build = "headless build (no --show)" if facts.opencv_gui.upper() == "NONE" else f"GUI {facts.opencv_gui}"
        version_text = facts.packages.get(cv_dists[0]) if cv_dists else "from the system"
        add(Check("opencv", OK, f"{version_text}, {build}"))
        if facts.opencv_gui.upper() == "NONE":
            add(
                Check(
                    "opencv-gui",
                    NOTE,
                    "--show needs a GUI build; --serve works without one (web view)",
                    f"{pip} uninstall -y opencv-python-headless && {pip} install opencv-python",
                )
            )
        if facts.opencv_video_io and not facts.opencv_video_io.get("v4l/v4l2", True):
            add(
                Check(
                    "opencv-v4l2",
                    WARN,
                    "this OpenCV build has no V4L2: USB cameras will not open",
                    f"{pip} install --force-reinstall opencv-python-headless",
                )
            )

    add(_camera_check(facts, pip, pi))
    for dev, info in facts.video_devices.items():
        if info["camera"] and not info["readable"]:
            add(
                Check(
                    "camera-permission",
                    FAIL,
                    f"{dev} ({info['name']}) is not readable by this user",
                    "sudo usermod -aG video $USER   # then log out and in again",
                )
            )
            break

    if facts.kernels:
        add(Check("kernels", OK, "compiled: the locate step and the crop in a few calls a frame"))
    elif facts.kernels is False:
        add(
            Check(
                "kernels",
                NOTE,
                "not built (no C compiler or Python headers at install): preprocessing runs the numpy reference, "
                "about 2x the CPU time a frame",
                f"sudo apt install gcc python3-dev && {pip} install --force-reinstall --no-deps fashion-edge",
            )
        )
    if facts.cpu:
        found = ", ".join(facts.cpu["int8_instructions"]) or "none known"
        add(Check("int8-speed", NOTE, f"{facts.cpu['model']}: {found}; {facts.cpu['int8_expectation']}"))
    if facts.governor is None:
        add(Check("cpu-governor", NOTE, "not exposed here (container or VM): latency figures may vary"))
    elif facts.governor == "performance":
        add(Check("cpu-governor", OK, "performance"))
    else:
        add(
            Check(
                "cpu-governor",
                NOTE,
                f"{facts.governor}: the first frames run at a low clock; for steady latency",
                "echo performance | sudo tee /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor",
            )
        )
    return checks


def _camera_check(facts: Facts, pip: str, pi: bool) -> Check:
    backend, argument = chosen_camera(facts)
    devices = ", ".join(f"{d} ({i['name']})" for d, i in facts.video_devices.items()) or "no /dev/video*"
    if pi and not facts.picamera2_importable:
        if facts.picamera2_on_system and facts.in_venv and not facts.venv_system_site_packages:
            return Check(
                "camera",
                WARN,
                "apt's picamera2 is installed but this venv hides system site-packages; "
                "libcamera cameras (CSI ribbon) need Picamera2: cv2.VideoCapture cannot open them",
                f"sed -i 's/^include-system-site-packages = false/include-system-site-packages = true/' "
                f"{sys.prefix}/pyvenv.cfg",
            )
        return Check(
            "camera",
            WARN,
            f"picamera2 missing: libcamera cameras (CSI ribbon) cannot be opened by OpenCV; {devices}",
            "sudo apt install -y python3-picamera2   # and a venv made with --system-site-packages",
        )
    if backend is None:
        return Check(
            "camera",
            NOTE,
            f"no camera found ({devices}); image files, video files and streams still work",
            "plug in a USB camera, then: ls /dev/video*",
        )
    return Check("camera", OK, f"will use {backend} ({argument}); {devices}")


# --------------------------------------------------------------------------------------------------------- report


def report(facts: Facts, checks: list[Check]) -> dict[str, Any]:
    """The machine-readable doctor result (`--json`)."""
    backend, argument = chosen_camera(facts)
    return {
        "facts": dataclasses.asdict(facts),
        "will_use": {"runtime": chosen_runtime(facts), "camera_backend": backend, "camera_argument": argument or None},
        "checks": [dataclasses.asdict(c) for c in checks],
        "problems": sum(c.status in (WARN, FAIL) for c in checks),
        "ok": not any(c.status == FAIL for c in checks),
    }


def format_text(checks: list[Check]) -> str:
    lines = []
    for c in checks:
        lines.append(f"[{c.status:>4}] {c.name:<17} {c.detail}")
        if c.fix and c.status != OK:
            lines.append(f"{'':7}{'':17} fix: {c.fix}")
    problems = sum(c.status in (WARN, FAIL) for c in checks)
    lines.append("no problems found" if problems == 0 else f"{problems} problem(s) found")
    return "\n".join(lines)


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
@click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_MODEL,
    show_default=True,
    help="Model to load for the smoke test.",
)
@click.option("--no-smoke-test", is_flag=True, help="Do not load the model and run one inference.")
def doctor_command(as_json: bool, model_path: Path, no_smoke_test: bool) -> None:
    """Check this machine for edge-classify: platform, Python, numpy, OpenCV, runtimes, camera, CPU governor."""
    facts = gather(model_path, smoke_test=not no_smoke_test)
    checks = diagnose(facts)
    if as_json:
        click.echo(json.dumps(report(facts, checks), indent=2))
    else:
        click.echo(format_text(checks))
    if any(c.status == FAIL for c in checks):
        sys.exit(1)
