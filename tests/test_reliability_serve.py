"""--serve under idle, slow, non-reading, too many and hostile clients: caps, timeouts, Host allow-list, token."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from fashion_edge.edge import limits
from fashion_edge.edge.classifier import Prediction
from fashion_edge.edge.observer import Stats
from fashion_edge.edge.postprocess import Class
from fashion_edge.edge.serve import LiveView, start_server

LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
INFO = {"path": "/secret/place/fashion_int8.tflite", "variant": "int8", "runtime": "litert", "labels": LABELS,
        "quantization": {"scheme": "full-int8"}}  # fmt: skip
NOISE = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)  # ~300 KB as JPEG: fills buffers


def feed(view: LiveView, i: int, source: str = "/home/someone/videos/clip.avi") -> None:
    """One classified frame, as the classify loop hands it over (a noisy one: big JPEGs fill socket buffers)."""
    scores = np.full(10, 0.02, np.float32)
    scores[3] = 0.82
    prediction = Prediction([Class(3, 0.82, LABELS[3])], scores, 1.5)
    view.on_result(NOISE, np.zeros((28, 28), np.uint8), prediction, Stats(source, i, i + 1, 24.0, 1.5, 2.5, "ok"))


class Feeder:
    """Feeds frames at ~30 FPS in a thread, as a live camera would, until stopped."""

    def __init__(self, view: LiveView) -> None:
        self.view, self.stop = view, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        i = 0
        while not self.stop.wait(1 / 30):
            feed(self.view, i)
            i += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


@pytest.fixture
def small_limits() -> Iterator[limits.Limits]:
    bounds = limits.Limits(request_timeout_s=1.0, max_viewers=2, max_connections=16)
    limits.configure(bounds)
    yield bounds
    limits.configure(None)


@pytest.fixture
def view(small_limits) -> Iterator[LiveView]:
    v = start_server("127.0.0.1:0", INFO)
    feeder = Feeder(v)
    yield v
    feeder.close()
    v.close()


def request(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    body = response.read() if response.status != 200 or "stream" not in path else b""
    conn.close()
    return response.status, dict(response.getheaders()), body


def open_viewer(port: int, path: str = "/stream.mjpg", rcvbuf: int = 4096) -> socket.socket:
    """A viewer that asks for the stream and then never reads: its socket buffer fills and stays full."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    return sock


def wait_for(predicate, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


# ---------------------------------------------------------------------------------------------------- the flood

_SERVER = """
import resource, time
import numpy as np
from fashion_edge.edge.classifier import Prediction
from fashion_edge.edge.observer import Stats
from fashion_edge.edge.postprocess import Class
from fashion_edge.edge.serve import start_server
resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))  # a Pi service's budget, scaled down: 350 clients exceed it
view = start_server("127.0.0.1:0", {"variant": "int8", "labels": [str(i) for i in range(10)]})
print(view.port, flush=True)
frame = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
prediction = Prediction([Class(3, 0.8, "3")], np.full(10, 0.1, np.float32), 1.5)
i = 0
while True:
    view.on_result(frame, np.zeros((28, 28), np.uint8), prediction, Stats("cam", i, i + 1, 30.0, 1.5, 2.5, "ok"))
    i += 1
    time.sleep(1 / 30)
"""


def test_healthz_answers_within_1s_under_300_idle_connections_and_50_non_reading_viewers():
    """The server runs in its own process with 256 file descriptors: 350 clients would exhaust them uncapped."""
    env = {**os.environ, "FASHION_EDGE_REQUEST_TIMEOUT_S": "10"}  # idle clients stay for the whole test
    server = subprocess.Popen([sys.executable, "-c", _SERVER], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, env=env)  # fmt: skip
    held: list[socket.socket] = []
    try:
        port = int(server.stdout.readline())
        for _ in range(300):
            held.append(socket.create_connection(("127.0.0.1", port), timeout=5))  # connect, send nothing
        held += [open_viewer(port) for _ in range(50)]
        time.sleep(1.0)  # the viewers' buffers fill up; the idle ones sit
        for _ in range(5):
            start = time.monotonic()
            status, _, body = request(port, "/healthz")
            assert time.monotonic() - start < 1.0
            assert status == 200 and json.loads(body)["ok"] is True
            time.sleep(0.2)
        assert server.poll() is None
    finally:
        for sock in held:
            sock.close()
        server.kill()
        server.wait()


# ---------------------------------------------------------------------------------------------------- caps, timeouts


def test_viewers_beyond_the_cap_get_503_and_healthz_still_answers(view):
    first = [open_viewer(view.port, rcvbuf=1 << 20) for _ in range(2)]
    assert wait_for(lambda: view.server.viewers == 2)
    status, _, body = request(view.port, "/stream.mjpg")
    assert status == 503 and b"max-viewers" in body
    assert request(view.port, "/events")[0] == 503
    assert request(view.port, "/healthz")[0] == 200
    for sock in first:
        sock.close()
    assert wait_for(lambda: view.server.viewers == 0)
    sock = open_viewer(view.port, rcvbuf=1 << 20)
    assert sock.recv(64).startswith(b"HTTP/1.1 200")
    sock.close()


def test_a_viewer_that_stops_reading_is_dropped_after_the_timeout(view):
    sock = open_viewer(view.port)
    assert wait_for(lambda: view.server.viewers == 1, 5)
    assert wait_for(lambda: view.server.viewers == 0, 15)  # its socket buffer full for request_timeout_s (1 s)
    sock.close()


def test_a_request_that_never_completes_is_closed_after_the_timeout(view):
    sock = socket.create_connection(("127.0.0.1", view.port), timeout=10)
    sock.sendall(b"GET /heal")
    start = time.monotonic()
    assert sock.recv(1024) == b""  # the server hung up
    assert time.monotonic() - start < 5
    sock.close()


def test_idle_connections_beyond_the_cap_evict_the_oldest(view, small_limits):
    held = [socket.create_connection(("127.0.0.1", view.port)) for _ in range(small_limits.max_connections * 3)]
    try:
        assert request(view.port, "/healthz")[0] == 200
        assert view.server.open_connections <= small_limits.max_connections
        assert held[0].recv(16) == b""  # the oldest idle one was closed to make room
    finally:
        for sock in held:
            sock.close()


# ---------------------------------------------------------------------------------------------------- who may ask


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "192.0.2.7"])
def test_unknown_host_headers_are_refused(view, host):
    status, _, _ = request(view.port, "/snapshot.jpg", {"Host": host})
    assert status == 421


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "LOCALHOST:1234", "[::1]:80", socket.gethostname()])
def test_loopback_and_own_names_are_allowed(view, host):
    assert request(view.port, "/healthz", {"Host": host})[0] == 200


def test_allow_host_adds_names(small_limits):
    v = start_server("127.0.0.1:0", INFO, allow_hosts=("camera.lan",))
    try:
        assert request(v.port, "/healthz", {"Host": "camera.lan:8080"})[0] in (200, 503)
        assert request(v.port, "/healthz", {"Host": "other.lan"})[0] == 421
    finally:
        v.close()


def test_no_filesystem_paths_in_responses(view):
    assert wait_for(lambda: request(view.port, "/predictions")[2].count(b'"latest": {') == 1)
    body = request(view.port, "/predictions")[2].decode()
    assert "/secret/place" not in body and "/home/someone" not in body
    assert "clip.avi" in body and "fashion_int8.tflite" in body
    sock = socket.create_connection(("127.0.0.1", view.port), timeout=5)
    sock.sendall(b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
    data = b""
    while b"event: result" not in data:
        data += sock.recv(65536)
    sock.close()
    assert b"/secret/place" not in data and b"/home/someone" not in data


def test_token_guards_everything_but_a_bare_healthz(small_limits):
    v = start_server("127.0.0.1:0", INFO, token="s3cret-token")
    feeder = Feeder(v)
    try:
        assert request(v.port, "/predictions")[0] == 401
        assert request(v.port, "/stream.mjpg")[0] == 401
        assert request(v.port, "/predictions", {"Authorization": "Bearer wrong"})[0] == 401
        status, _, body = request(v.port, "/healthz")
        assert status in (200, 503) and set(json.loads(body)) == {"ok"}
        assert request(v.port, "/predictions", {"Authorization": "Bearer s3cret-token"})[0] == 200
        status, headers, _ = request(v.port, "/?token=s3cret-token")
        assert status == 200 and "HttpOnly" in headers["Set-Cookie"]
        cookie = headers["Set-Cookie"].split(";")[0]
        assert request(v.port, "/predictions", {"Cookie": cookie})[0] == 200
        status, _, body = request(v.port, "/healthz", {"Cookie": cookie})
        assert "frames" in json.loads(body)
    finally:
        feeder.close()
        v.close()


def test_frames_keep_flowing_to_a_reading_viewer_while_others_misbehave(view):
    stuck = open_viewer(view.port)
    conn = socket.create_connection(("127.0.0.1", view.port), timeout=5)
    conn.sendall(f"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1:{view.port}\r\n\r\n".encode())
    reader = conn.makefile("rb")
    assert b"200" in reader.readline()
    jpegs, data = 0, b""
    end = time.monotonic() + 5
    while jpegs < 5 and time.monotonic() < end:
        data += reader.read1(1 << 16)
        jpegs = data.count(b"Content-Type: image/jpeg")
    assert jpegs >= 5
    conn.close()
    stuck.close()
