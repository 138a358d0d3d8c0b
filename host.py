"""Facts about this machine that any stage may record: allowed CPUs and installed package versions.

A leaf: imports nothing of the pipeline, and nothing heavy (versions come from package metadata, not imports).
"""

from __future__ import annotations

import importlib.util
import os
from importlib.metadata import PackageNotFoundError, version

TF_DISTS = ("tensorflow", "tensorflow-cpu")  # either provides `import tensorflow`


def allowed_cpus() -> int:
    """Cores this process may run on (fewer than the machine's under --pin-cpu, taskset or a container)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def dist_version(dist: str) -> str | None:
    """The installed version of distribution `dist`, or None when it is not installed."""
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def tensorflow_version() -> str | None:
    """TensorFlow's version from package metadata, without importing it (that takes seconds and memory)."""
    return next((v for v in map(dist_version, TF_DISTS) if v is not None), None)


def module_installed(name: str) -> bool:
    """Whether `name` could be imported, without importing it (a blocked import counts as absent)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


# The CPU features that decide whether int8 beats float32 under XNNPACK (x86 /proc/cpuinfo flags, ARM features).
INT8_FEATURES = {
    "avx2": "AVX2", "avx512f": "AVX-512", "avx512_vnni": "AVX-512 VNNI", "avx_vnni": "AVX-VNNI",
    "asimd": "NEON", "asimddp": "NEON dot-product", "i8mm": "i8mm", "asimdhp": "fp16 arithmetic",
}  # fmt: skip


def cpu_facts(cpuinfo: str | None = None) -> dict:
    """CPU model, the int8-relevant instruction sets it has, and one line on what to expect from int8 vs float32."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                cpuinfo = f.read(1 << 20)
        except OSError:
            cpuinfo = ""
    model, flags = "", set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        # x86 "model name"; a Pi's "Model" (capital M: lower-case "model" is x86's model number) or "Hardware"
        if key in ("model name", "Model", "Hardware", "cpu model") and value.strip() and not model:
            model = value.strip()
        elif key in ("flags", "Features"):
            flags.update(value.split())
    has = [name for flag, name in INT8_FEATURES.items() if flag in flags]
    return {"model": model or "unknown", "int8_instructions": has, "int8_expectation": int8_expectation(has)}


def int8_expectation(has: list[str]) -> str:
    """One line: what XNNPACK's int8 kernels can gain over float32 with these instruction sets."""
    if "AVX-512 VNNI" in has or "AVX-VNNI" in has:
        return "int8 has VNNI dot-product kernels here: expect int8 clearly faster than float32 (3.3x measured)"
    if "NEON dot-product" in has or "i8mm" in has:
        return "int8 has ARM dot-product kernels here: expect int8 faster than float32"
    if "NEON" in has:
        return "NEON without dot-product: int8 about as fast as float32, smaller and less memory traffic"
    if "AVX2" in has:
        return "AVX2 without VNNI: int8 no faster than float32 here (0.8x measured); the gain is size, not speed"
    return "no SIMD int8 kernels known for this CPU: expect int8 no faster than float32"
