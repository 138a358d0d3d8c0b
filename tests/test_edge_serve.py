"""--serve: the live web view over real HTTP on 127.0.0.1 (no browser here; see test_edge_serve_browser.py)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import cv2
import numpy as np
import pytest

from fashion_edge.edge.classifier import Prediction
from fashion_edge.edge.observer import Stats
from fashion_edge.edge.postprocess import Class
from fashion_edge.edge.serve import BOUNDARY, LiveView, parse_address, realtime, start_server
from fashion_edge.errors import FashionEdgeError

LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
INFO = {"path": "/m/fashion_int8.tflite", "variant": "int8", "runtime": "litert", "labels": LABELS,
        "quantization": {"scheme": "full-int8"}}  # fmt: skip


def feed(view: LiveView, i: int, label_id: int = 3) -> None:
    """One classified frame, as the classify loop would hand it over; frame content changes with i."""
    frame = np.zeros((240, 320, 3), np.uint8)
    cv2.putText(frame, str(i), (100, 150), cv2.FONT_HERSHEY_SIMPLEX, 3, (255, 255, 255), 5)
    model_input = np.zeros((28, 28), np.uint8)
    model_input[4:24, 8:20] = 200
    scores = np.full(10, 0.02, np.float32)
    scores[label_id] = 0.82
    prediction = Prediction([Class(label_id, 0.82, LABELS[label_id])], scores, 1.5)
    view.on_result(frame, model_input, prediction, Stats("clip.avi", i, i + 1, 24.0, 1.5, 2.5, "ok"))


@pytest.fixture
def view():
    v = start_server("127.0.0.1:0", INFO)
    yield v
    v.close()


def get(view: LiveView, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", view.port, timeout=5)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), body


def wait_for(predicate, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def read_mjpeg_parts(view: LiveView, count: int) -> list[bytes]:
    """Open /stream.mjpg like a browser and return the first `count` JPEG parts."""
    sock = socket.create_connection(("127.0.0.1", view.port), timeout=5)
    sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: localhost\r\n\r\n")
    stream = sock.makefile("rb")
    assert b"200" in stream.readline()
    while stream.readline() not in (b"\r\n", b""):
        pass
    parts = []
    while len(parts) < count:
        assert stream.readline().strip() == f"--{BOUNDARY}".encode()
        headers = {}
        while (line := stream.readline()) not in (b"\r\n", b""):
            key, value = line.decode().split(":", 1)
            headers[key.lower()] = value.strip()
        assert headers["content-type"] == "image/jpeg"
        parts.append(stream.read(int(headers["content-length"])))
        stream.readline()
    sock.close()
    return parts


def test_parse_address():
    assert parse_address("8080") == ("127.0.0.1", 8080)
    assert parse_address(":8080") == ("127.0.0.1", 8080)
    assert parse_address("0.0.0.0:9000") == ("0.0.0.0", 9000)
    assert parse_address("[::1]:8080") == ("::1", 8080)
    for bad in ("http", "host:port", "70000"):
        with pytest.raises(FashionEdgeError, match="(?i)port"):
            parse_address(bad)


def test_pages_json_and_404(view):
    status, headers, body = get(view, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html") and b"/events" in body
    assert get(view, "/healthz")[0] == 200  # up, waiting for the first frame
    assert get(view, "/snapshot.jpg")[0] == 503
    for i in range(3):
        feed(view, i)
    assert wait_for(lambda: get(view, "/snapshot.jpg")[0] == 200)
    snapshot = cv2.imdecode(np.frombuffer(get(view, "/snapshot.jpg")[2], np.uint8), cv2.IMREAD_COLOR)
    assert snapshot.shape == (240, 320, 3)
    predictions = json.loads(get(view, "/predictions")[2])
    assert predictions["latest"]["label"] == "Dress" and predictions["frames"] == 3
    assert [r["frame"] for r in predictions["recent"]] == [0, 1, 2]
    assert predictions["model"]["variant"] == "int8"
    status, _, body = get(view, "/nothing-here")
    assert status == 404 and b"/stream.mjpg" in body
    health = json.loads(get(view, "/healthz")[2])
    assert health["ok"] and health["frames"] == 3


def test_stream_advances_and_events_carry_predictions(view):
    stop = threading.Event()

    def producer():
        i = 0
        while not stop.is_set():
            feed(view, i, label_id=i % 10)
            i += 1
            time.sleep(0.01)

    thread = threading.Thread(target=producer, daemon=True)
    thread.start()
    try:
        parts = read_mjpeg_parts(view, 4)
        images = [cv2.imdecode(np.frombuffer(p, np.uint8), cv2.IMREAD_COLOR) for p in parts]
        assert all(img.shape == (240, 320, 3) for img in images)
        assert any(not np.array_equal(images[0], img) for img in images[1:])  # the stream advances

        sock = socket.create_connection(("127.0.0.1", view.port), timeout=5)
        sock.sendall(b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        stream = sock.makefile("rb")
        events = []
        while len([e for e in events if e["type"] == "result"]) < 3:
            line = stream.readline()
            if line.startswith(b"data: "):
                events.append(json.loads(line[6:]))
        sock.close()
    finally:
        stop.set()
        thread.join()
    assert events[0]["type"] == "model" and events[0]["labels"] == LABELS
    results = [e for e in events if e["type"] == "result"]
    assert len({r["frame"] for r in results}) == 3  # three different frames
    r = results[-1]
    assert r["label"] == LABELS[int(np.argmax(r["scores"]))] and r["latency_ms"] == 1.5 and r["fps"] == 24.0
    seen = cv2.imdecode(np.frombuffer(__import__("base64").b64decode(r["input_png"]), np.uint8), cv2.IMREAD_UNCHANGED)
    assert seen.shape == (28, 28) and seen[10, 10] == 200  # the model input, exactly


def test_viewers_cost_nothing_when_gone_and_never_slow_inference(view):
    feed(view, 0)
    assert wait_for(lambda: view.state.jpeg_seq == 1)
    for i in range(1, 200):
        feed(view, i)
    time.sleep(0.3)
    assert view.state.jpeg_seq == 1, "encoded JPEGs although nobody watches the stream"

    # ten viewers, half of which vanish mid-stream without a goodbye
    socks = []
    for _ in range(10):
        s = socket.create_connection(("127.0.0.1", view.port), timeout=5)
        s.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: localhost\r\n\r\n")
        socks.append(s)
    assert wait_for(lambda: view.state.stream_viewers == 10)
    start = time.perf_counter()
    for i in range(200, 700):
        feed(view, i)
        if i == 300:
            for s in socks[:5]:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
                s.close()
        time.sleep(0.001)
    per_call_ms = (time.perf_counter() - start) / 500 * 1000 - 1.0  # minus the sleep
    # on_result only stores a reference: it must not depend on viewers (feed() itself draws a digit, ~0.1 ms)
    assert per_call_ms < 2.0
    assert wait_for(lambda: view.state.stream_viewers == 5, timeout=15)
    for s in socks[5:]:
        s.close()
    assert wait_for(lambda: view.state.stream_viewers == 0, timeout=15)
    health = json.loads(get(view, "/healthz")[2])
    assert health["viewers"]["stream"] == 0 and health["ok"]


def test_camera_vanishing_and_returning(view):
    feed(view, 0)
    view.on_status("camera 0: stream dropped; reconnecting in 0.5 s (attempt 1/5)")
    status, _, body = get(view, "/healthz")
    assert status == 503 and "dropped" in json.loads(body)["status"]
    assert json.loads(get(view, "/predictions")[2])["status"]["live"] is False
    view.on_status("camera 0: reconnected")
    feed(view, 1)
    status, _, body = get(view, "/healthz")
    assert status == 200 and json.loads(get(view, "/predictions")[2])["status"]["live"] is True


def test_port_in_use_and_unbindable_host():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(FashionEdgeError, match=f"port {port} on 127.0.0.1 is already in use"):
            start_server(f"127.0.0.1:{port}", INFO)
    with pytest.raises(FashionEdgeError, match="not an address of this machine"):
        start_server("192.0.2.1:0", INFO)  # TEST-NET-1: never assigned to this machine
    with pytest.raises(FashionEdgeError, match="cannot resolve host"):
        start_server("no-such-host.invalid:8080", INFO)


def test_close_ends_streams_and_frees_the_port():
    view = start_server("127.0.0.1:0", INFO)
    port = view.port
    feed(view, 0)
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert wait_for(lambda: view.state.event_viewers == 1)
    view.close()
    data = b""
    while chunk := sock.recv(65536):  # the server ends the stream: recv returns b"" instead of hanging
        data += chunk
    sock.close()
    assert b"the run has ended" in data
    start_server(f"127.0.0.1:{port}", INFO).close()  # the port is free again


class FakeVideo:
    live, fps, name = False, 50.0, "clip.avi"

    def frames(self):
        for i in range(10):
            yield type("F", (), {"index": i})()

    def close(self):
        pass


def test_realtime_plays_video_files_at_their_frame_rate():
    (paced,) = list(realtime([FakeVideo()]))
    start = time.perf_counter()
    assert len(list(paced.frames())) == 10
    assert 0.17 < time.perf_counter() - start < 1.0  # 10 frames at 50 fps: 0.18 s
    assert paced.name == "clip.avi" and paced.fps == 50.0
    stills = type("Stills", (), {"live": False, "fps": None})()  # image files: nothing to pace
    assert list(realtime([stills])) == [stills]


def test_realtime_does_not_burst_to_catch_up_after_a_stall():
    (paced,) = list(realtime([FakeVideo()]))
    frames = paced.frames()
    next(frames)
    time.sleep(0.15)  # the consumer stalls for 7.5 frame periods (a loaded machine)
    next(frames)  # late: shown at once
    start = time.perf_counter()
    assert len(list(frames)) == 8
    assert time.perf_counter() - start > 0.15  # the other 8 at 50 fps (0.16 s), not in a burst to catch up
