"""Where a TFLite interpreter comes from. Preference: ai-edge-litert, tflite-runtime, tf.lite (RUNTIMES order).

tf.lite is the last resort (it drags in all of TensorFlow); the edge install never needs it. `parity`'s graph reading
imports the runtime module through `import_runtime` too.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import FashionEdgeError
from ..host import dist_version

# runtime name -> module that provides `Interpreter`, in order of preference
RUNTIMES = {
    "litert": "ai_edge_litert.interpreter",
    "tflite-runtime": "tflite_runtime.interpreter",
    "tf": "tensorflow.lite.python.interpreter",  # what tf.lite.Interpreter is; `tensorflow.lite` itself lacks it
}
LAST_RESORT = "tf"  # only tried when nothing lighter imports; never imported just to report it
DISTRIBUTIONS = {"litert": "ai-edge-litert", "tflite-runtime": "tflite-runtime"}  # pip names of the light ones


def import_runtime(name: str) -> Any:
    """The module providing `Interpreter` for runtime `name`."""
    if name not in RUNTIMES:
        raise FashionEdgeError(f"unknown runtime {name!r}; choose one of {', '.join(RUNTIMES)}")
    return importlib.import_module(RUNTIMES[name])


def preferred(names: Iterable[str]) -> str | None:
    """The first of `names` in RUNTIMES order (what edge-classify picks among those that work), or None."""
    present = set(names)
    return next((name for name in RUNTIMES if name in present), None)


def available_runtimes() -> dict[str, str]:
    """Runtime name -> version for the light runtimes that import here (tf is only tried if they fail)."""
    found: dict[str, str] = {}
    for name, dist in DISTRIBUTIONS.items():
        try:
            import_runtime(name)
        except Exception:  # noqa: BLE001 - tflite-runtime with numpy 2 raises AttributeError, not ImportError
            continue
        found[name] = dist_version(dist) or "unknown"
    return found


def resolve_runtime(name: str | None = None) -> str:
    """The runtime to use: `name` if given (and importable), else the first that imports."""
    candidates = [name] if name else list(RUNTIMES)
    errors = []
    for candidate in candidates:
        try:
            import_runtime(candidate)
            return candidate
        except FashionEdgeError:
            raise
        except Exception as e:  # noqa: BLE001 - see available_runtimes
            errors.append(f"{candidate}: {e}")
    raise FashionEdgeError(
        "no TFLite runtime could be imported (" + "; ".join(errors) + "); run `pip install ai-edge-litert`"
    )


def make_interpreter(
    model_path: Path, num_threads: int | None = None, runtime: str | None = None, *, xnnpack: bool = True
) -> tuple[Any, str]:
    """Load `model_path` into an interpreter with tensors allocated; return (interpreter, runtime name).

    `xnnpack=False` skips the runtime's default delegate (XNNPACK) and runs its builtin kernels: for A/B benchmarks.
    """
    name = resolve_runtime(runtime)
    module = import_runtime(name)
    interpreter_cls = module.Interpreter
    options: dict[str, Any] = {}
    if not xnnpack:
        resolver = getattr(module, "OpResolverType", None)
        if resolver is None:
            raise FashionEdgeError(f"{name} cannot run without XNNPACK (no OpResolverType); use the litert runtime")
        options["experimental_op_resolver_type"] = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    try:
        with _filtered_native_stderr():
            interpreter = interpreter_cls(model_path=str(model_path), num_threads=num_threads, **options)
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        raise FashionEdgeError(f"{model_path} could not be loaded by {name}: {e}") from e
    return interpreter, name


# LiteRT's C++ side prints this on stderr the first time a model is allocated; it would be the noise in every
# one-line error and around every JSON Lines run, so it is dropped (anything else it prints is passed on).
_NATIVE_NOISE = ("INFO: Created TensorFlow Lite XNNPACK delegate",)


@contextlib.contextmanager
def _filtered_native_stderr() -> Iterator[None]:
    """Capture what native code writes to file descriptor 2 meanwhile; re-emit it minus _NATIVE_NOISE."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # pytest capture or an unusual stderr: leave it alone
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode("utf-8", "replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not line.startswith(_NATIVE_NOISE))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()
