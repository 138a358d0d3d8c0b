"""What the numbers were measured on, so results from a laptop and a Raspberry Pi can sit side by side."""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path
from typing import Any

import numpy as np

from ..edge.runtime import available_runtimes
from ..host import allowed_cpus, cpu_facts, tensorflow_version

DEVICE_TREE_MODEL = Path("/proc/device-tree/model")  # "Raspberry Pi 5 Model B Rev 1.0" on a Pi


def cpu_model(facts: dict[str, Any] | None = None) -> str:
    """The CPU's marketing name (host.cpu_facts); on ARM boards /proc/cpuinfo may have none, so fall back to the
    board."""
    model = (facts or cpu_facts())["model"]
    if model != "unknown":
        return model
    return board_model() or platform.processor() or platform.machine() or "unknown"


def board_model() -> str | None:
    try:
        return DEVICE_TREE_MODEL.read_bytes().rstrip(b"\0").decode(errors="replace") or None
    except OSError:
        return None


def os_name() -> str:
    try:
        release = platform.freedesktop_os_release()
        return f"{release.get('PRETTY_NAME', release.get('NAME', platform.system()))} ({platform.release()})"
    except OSError:
        return f"{platform.system()} {platform.release()}"


def device_info(label: str | None = None, xnnpack: bool = False) -> dict[str, Any]:
    """The `device` object of bench.json (see schema.py). `xnnpack`: whether any interpreter got the delegate."""
    return {
        "label": label or socket.gethostname(),
        "cpu_model": cpu_model(cpu := cpu_facts()),
        "board": board_model(),
        "cpu_cores": os.cpu_count() or 1,
        "cpus_allowed": allowed_cpus(),
        "arch": platform.machine(),
        "os": os_name(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "runtimes": available_runtimes(),
        "tensorflow": tensorflow_version(),
        "xnnpack": xnnpack,
        "cpu_instructions": cpu["int8_instructions"],
        "int8_expectation": cpu["int8_expectation"],
    }
