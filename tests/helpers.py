"""Helpers the tests share (imported as `from helpers import ...`; tests/ is on sys.path): a TensorFlow blocker
for subprocesses, an IP-camera stand-in, and `edge_classify` run the way a user runs it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np

# Python source that makes TensorFlow, Keras and tf-keras unimportable in a subprocess (prefix it to the code run
# there). Every attempt is recorded and reported on stderr at exit, so a test can prove none was even tried.
BLOCK_TENSORFLOW = """
import atexit, importlib.abc, sys
attempts = []
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
            attempts.append(name)
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
atexit.register(lambda: attempts and print("TF IMPORT ATTEMPTED:", attempts, file=sys.stderr))
"""

# A model small enough to train in seconds on a slice, yet it must learn (tests assert it beats chance).
TINY_STAGES = ((8,), (16,), (16,))


RUNNER = (
    BLOCK_TENSORFLOW
    + """
from fashion_edge.{module} import main
main(sys.argv[1:], prog_name="{prog}")
"""
)


def edge_classify(*args: str | Path, timeout: float = 120, module: str = "edge.cli") -> subprocess.CompletedProcess:
    prog = "edge-classify" if module == "edge.cli" else "fashion-edge"
    code = RUNNER.format(module=module, prog=prog)
    result = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                            timeout=timeout)  # fmt: skip
    assert "TF IMPORT ATTEMPTED" not in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result


def numbered_frame(n: int, size: tuple[int, int] = (160, 120)) -> np.ndarray:
    """A BGR frame whose mean brightness encodes `n` (so a test can tell which frame arrived)."""
    return np.full((size[1], size[0], 3), (n * 7) % 250, dtype=np.uint8)


def frame_number(image: np.ndarray) -> int:
    return int(round(float(image.mean()) / 7))


class MjpegServer:
    """multipart/x-mixed-replace JPEG frames on 127.0.0.1, like an IP camera.

    `drop_after`: the first connection is cut (socket closed without a goodbye) after that many frames; `cut` (an
    Event) cuts it when set, for a test that must be watching when it happens. Later connections stream until the
    server stops. `with_length`: send Content-Length headers (some cameras do not).
    """

    def __init__(self, frames: list[np.ndarray], fps: float = 50.0, drop_after: int | None = None,
                 with_length: bool = True) -> None:  # fmt: skip
        self.jpegs = [cv2.imencode(".jpg", f)[1].tobytes() for f in frames]
        self.fps, self.drop_after, self.with_length = fps, drop_after, with_length
        self.connections = 0
        self.stopping, self.cut = threading.Event(), threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                owner.connections += 1
                first = owner.connections == 1
                if self.path == "/snapshot.jpg":
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.end_headers()
                    self.wfile.write(owner.jpegs[0])
                    return
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                sent = 0
                try:
                    while not owner.stopping.is_set():
                        jpeg = owner.jpegs[sent % len(owner.jpegs)]
                        head = b"--frame\r\nContent-Type: image/jpeg\r\n"
                        head += f"Content-Length: {len(jpeg)}\r\n".encode() if owner.with_length else b""
                        self.wfile.write(head + b"\r\n" + jpeg + b"\r\n")
                        self.wfile.flush()
                        sent += 1
                        due = owner.drop_after is not None and sent >= owner.drop_after
                        if first and (due or owner.cut.is_set()):
                            self.connection.shutdown(socket.SHUT_RDWR)  # the camera "crashes" mid-stream
                            return
                        time.sleep(1.0 / owner.fps)
                except (BrokenPipeError, ConnectionResetError):
                    return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/stream.mjpg"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> MjpegServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_row(variant: str, threads: int, p50: float, accuracy: float, size: int, model: str = "small") -> dict:
    """One result row of a bench.json run, with plausible figures."""
    lat = {"mean": p50, "std": 0.01, "min": p50 * 0.9, "max": p50 * 2, "p50": p50, "p90": p50 * 1.2, "p99": p50 * 1.5}
    return {"variant": variant, "model": model, "format": f"TFLite {variant}", "runtime": "litert",
            "runtime_version": "2.3.0", "threads": threads, "batch": 1, "latency_ms": lat, "fps": 1000 / p50,
            "samples_ms": [p50] * 3, "interleaved": True, "accuracy": accuracy, "size_bytes": size,
            "peak_rss_mb": 150.0, "baseline_rss_mb": 27.0, "startup_s": 0.4, "xnnpack": True,
            "vs_float32": None}  # fmt: skip


def bench_run_doc() -> dict:
    """A small, valid bench.json run document (two variants on a Pi 5), for schema, report and output tests."""
    from fashion_edge.benchmarks.run import add_ratios

    results = [bench_row("float32", 1, 0.9, 0.91, 400_000), bench_row("int8", 1, 0.3, 0.905, 110_000)]
    add_ratios(results, baseline_runtime="litert")
    return {
        "schema": "fashion-edge-bench", "schema_version": 2, "kind": "run", "created_at": "2026-01-01T00:00:00+00:00",
        "fashion_edge_version": "0.1.0",
        "config": {"runs": 3, "warmup": 1, "batch": 1, "threads": [1], "runtimes": ["litert"], "pin_cpu": None,
                   "seed": 0, "test_images": 10000, "models_dir": "/m", "keras_model": None, "memory_threads": 1,
                   "xnnpack": True},
        "device": {"label": "pi5", "cpu_model": "Cortex-A76", "cpu_cores": 4, "cpus_allowed": 4, "arch": "aarch64",
                   "os": "Debian 12", "python": "3.11.2", "numpy": "1.26.4", "runtimes": {"litert": "2.3.0"},
                   "tensorflow": None, "xnnpack": True, "cpu_instructions": ["NEON", "NEON dot-product"],
                   "int8_expectation": "int8 has ARM dot-product kernels here: expect int8 faster than float32"},
        "results": results,
    }  # fmt: skip


def default_sigint() -> None:
    """Popen's preexec_fn for a child that a test stops with SIGINT: a harness started in the background (a CI job)
    runs with SIGINT ignored, which every child inherits, and Python then installs no KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
