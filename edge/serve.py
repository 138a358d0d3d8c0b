"""`edge-classify ... --serve [HOST:]PORT`: a live web view of what the classifier sees, standard library only.

    /              the page: the stream, the 28x28 the model saw, top-k scores, FPS, latency, source status
    /stream.mjpg   MJPEG (multipart/x-mixed-replace) of the frames with the prediction drawn on them
    /events        Server-Sent Events: one JSON object per result ("result"), source drops and returns ("status")
    /predictions   JSON: the latest result and the last RECENT results
    /snapshot.jpg  the latest annotated frame
    /healthz       JSON; 200 while results keep coming, 503 when the source is down or silent for STALE_S

Threads, and why inference never waits for a viewer: the classify loop calls `on_result`, which only stores a
reference to the newest frame and wakes the encoder (O(1): no copy, no JSON, no image work). One encoder thread
draws and JPEG-encodes the newest frame at most MAX_STREAM_FPS times a second, and only while someone watches the
stream; frames that arrive meanwhile are skipped, not queued. Two condition variables share one lock: `work` wakes
only the encoder, `cond` wakes the viewers, and only when a new JPEG, event or status exists. Each HTTP client has
its own thread that sends the shared buffer, so ten viewers cost ten socket writes of the same bytes, and a viewer
that leaves just ends its thread (a broken pipe is the normal way out). Binds 127.0.0.1 unless a host is given.

Hardening (edge/http_guard.py): capped connections (idle ones evicted first) and viewers (the newest beyond
`max-viewers` get 503; /healthz is never refused), socket timeouts, a Host allow-list, an optional token, and no
filesystem paths or URL credentials in anything sent (the model and a file source by their names).
"""

from __future__ import annotations

import errno
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from http import HTTPStatus
from importlib import resources
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import click
import cv2
import numpy as np

from ..errors import FashionEdgeError
from ..render import base64_text, image_png
from .annotate import annotate
from .http_guard import LOOPBACK_NAMES, GuardedHandler, GuardedServer, public_source, redact_urls
from .record import result_record

if TYPE_CHECKING:
    from .classifier import Prediction
    from .observer import Stats

DEFAULT_HOST = "127.0.0.1"
MAX_STREAM_FPS = 30.0  # more is invisible in a browser and costs a Pi's CPU and Wi-Fi
JPEG_QUALITY = 80
RECENT = 50
STALE_S = 5.0  # no result for this long from a live source = "no frames" on the page and 503 on /healthz
KEEPALIVE_S = 10.0  # an idle SSE or MJPEG connection gets a heartbeat this often, so dead clients are noticed
BOUNDARY = "fashion-edge-frame"
WAITING = "waiting for the first frame"


def parse_address(text: str) -> tuple[str, int]:
    """'8080' -> ('127.0.0.1', 8080); 'HOST:PORT', '[::1]:8080'; port 0 picks a free one."""
    text = text.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "", text
    host = host.strip("[]") or DEFAULT_HOST
    try:
        port = int(port_text)
    except ValueError:
        example = "--serve 8080 or --serve 0.0.0.0:8080"
        raise FashionEdgeError(f"--serve {text!r}: expected [HOST:]PORT, e.g. {example}") from None
    if not 0 <= port <= 65535:
        raise FashionEdgeError(f"--serve {text!r}: port must be 0..65535")
    return host, port


def _url(host: str, port: int) -> str:
    """The URL to open on this machine (a wildcard address is reachable here as loopback)."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"


class LiveState:
    """What the inference thread, the encoder thread and the HTTP threads share, guarded by one lock."""

    def __init__(self, info: dict[str, Any]) -> None:
        lock = threading.Lock()
        self.cond = threading.Condition(lock)  # viewers: a new JPEG, event or status
        self.work = threading.Condition(lock)  # the encoder: a new result, a new viewer, or closing
        self.info = info
        self.pending: tuple[np.ndarray, np.ndarray, Prediction, Stats, float] | None = None  # newest, not encoded
        self.jpeg: bytes | None = None
        self.jpeg_seq = 0
        self.event: dict[str, Any] | None = None  # newest result, as sent to the page
        self.event_seq = 0
        self.status: dict[str, Any] = {"type": "status", "live": True, "message": WAITING}
        self.status_seq = 0
        self.recent: deque[tuple[Prediction, Stats, float]] = deque(maxlen=RECENT)  # made into JSON on request
        self.frames = 0
        self.last_result_at: float | None = None
        self.started_at = time.monotonic()
        self.stream_viewers = 0
        self.event_viewers = 0
        self.closed = False

    def set_status(self, message: str, live: bool) -> None:
        with self.cond:
            self.status = {"type": "status", "live": live, "message": redact_urls(message), "time": time.time()}
            self.status_seq += 1
            self.cond.notify_all()

    def health(self) -> dict[str, Any]:
        with self.cond:
            now = time.monotonic()
            age = None if self.last_result_at is None else now - self.last_result_at
            silent_for = age if age is not None else now - self.started_at
            ok = self.status["live"] and silent_for < STALE_S
            return {
                "ok": ok,
                "status": self.status["message"],
                "frames": self.frames,
                "seconds_since_last_result": None if age is None else round(age, 3),
                "viewers": {"stream": self.stream_viewers, "events": self.event_viewers},
            }


def _event(prediction: Prediction, stats: Stats, at: float) -> dict[str, Any]:
    """The result record (record.py) as the page receives it: typed, stamped with the time it arrived, and with
    the source named without its folder or URL credentials."""
    record = result_record(prediction, stats)
    return {"type": "result", **record, "source": public_source(record["source"]), "time": round(at, 3)}


def _model_info(info: dict[str, Any]) -> dict[str, Any]:
    """What viewers learn about the model: its file name, variant, runtime, labels and quantization (no path)."""
    shown = {k: info.get(k) for k in ("variant", "runtime", "labels", "quantization")}
    return {"model": PurePath(str(info.get("path", ""))).name, **shown}


class LiveView:
    """The `--serve` observer (see observer.Observer): owns the HTTP server and the encoder thread."""

    def __init__(
        self, host: str, port: int, info: dict[str, Any], *, token: str | None = None, allow_hosts: tuple[str, ...] = ()
    ) -> None:
        self.state = LiveState(info)
        self.server = _bind(host, port, token=token, allow_hosts=allow_hosts)
        self.server.state = self.state  # type: ignore[attr-defined]  # handlers reach the state through the server
        self.host, self.port = host, self.server.server_address[1]
        self.url = _url(host, self.port)
        self._encoder = threading.Thread(target=self._encode_loop, name="serve encoder", daemon=True)
        self._http = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, name="serve http", daemon=True
        )
        self._encoder.start()
        self._http.start()

    # -- Observer: called from the inference thread; must return at once
    def on_result(self, frame: np.ndarray, model_input: np.ndarray, prediction: Prediction, stats: Stats) -> None:
        at = time.time()
        state = self.state
        with state.cond:  # references only: no copy, no JSON, no image work on the inference thread
            state.pending = (frame, model_input, prediction, stats, at)
            state.recent.append((prediction, stats, at))
            state.frames = stats.frames
            state.last_result_at = time.monotonic()
            # the first frame ends "waiting"; a drop is cleared by the source's "reconnected", not here: this frame may
            # have been captured before the drop, and clearing it now would hide the drop from every viewer
            if state.status["message"] == WAITING:
                state.status = {"type": "status", "live": True, "message": redact_urls(stats.status), "time": at}
                state.status_seq += 1
                state.cond.notify_all()
            state.work.notify()

    def on_status(self, message: str) -> None:
        # the loop reports only trouble (dropped, reconnecting, cannot open) and "reconnected", which clears it
        self.state.set_status(message, live="reconnected" in message.lower())

    def close(self) -> None:
        """Tell every viewer the run ended, stop the threads, free the port."""
        with self.state.cond:
            if self.state.closed:
                return
            self.state.status = {"type": "status", "live": False, "message": "the run has ended", "time": time.time()}
            self.state.status_seq += 1
            self.state.closed = True
            self.state.cond.notify_all()
            self.state.work.notify_all()
        self._encoder.join(timeout=2)
        self.server.shutdown()
        self.server.server_close()

    # -- the encoder thread
    def _encode_loop(self) -> None:
        state = self.state
        last_encode = 0.0
        while True:
            with state.cond:
                state.work.wait_for(lambda: state.closed or state.pending is not None)
                if state.closed:
                    return
                frame, model_input, prediction, stats, at = state.pending
                state.pending = None
                watched = state.stream_viewers > 0 or state.jpeg is None
            event = _event(prediction, stats, at) | {"input_png": base64_text(image_png(model_input))}
            jpeg = None
            if watched:  # nobody on /stream.mjpg: no drawing, no JPEG (a Pi's CPU belongs to inference)
                wait = 1.0 / MAX_STREAM_FPS - (time.monotonic() - last_encode)
                if wait > 0:
                    time.sleep(wait)  # newer frames replace `pending` meanwhile; we encode this one, then the newest
                drawn = annotate(frame, prediction, model_input, stats.fps, box=stats.box, nothing=stats.nothing)
                ok, buf = cv2.imencode(".jpg", drawn, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                jpeg = buf.tobytes() if ok else None
                last_encode = time.monotonic()
            with state.cond:
                state.event, state.event_seq = event, state.event_seq + 1
                if jpeg is not None:
                    state.jpeg, state.jpeg_seq = jpeg, state.jpeg_seq + 1
                state.cond.notify_all()


def _bind(host: str, port: int, **guard: Any) -> GuardedServer:
    """The server bound to host:port, or FashionEdgeError saying why not and what to do."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise FashionEdgeError(
            f"--serve: cannot resolve host {host!r} ({e.strerror}); use 127.0.0.1 (this machine "
            "only) or 0.0.0.0 (every interface)"
        ) from e
    family = infos[0][0]
    server_cls = type("_BoundServer", (GuardedServer,), {"address_family": family})
    try:
        return server_cls((host, port), _Handler, **guard)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise FashionEdgeError(
                f"--serve: port {port} on {host} is already in use; pick another port "
                f"(--serve {host}:{port + 1}) or stop what uses it (ss -ltnp 'sport = :{port}')"
            ) from e
        if e.errno == errno.EACCES:
            raise FashionEdgeError(
                f"--serve: no permission to listen on port {port}; ports below 1024 need root, use e.g. 8080"
            ) from e
        if e.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
            raise FashionEdgeError(
                f"--serve: {host} is not an address of this machine; use 127.0.0.1 (this machine "
                "only) or 0.0.0.0 (every interface)"
            ) from e
        raise FashionEdgeError(f"--serve: cannot listen on {host}:{port}: {e.strerror or e}") from e


def start_server(
    address: str, info: dict[str, Any], *, token: str | None = None, allow_hosts: tuple[str, ...] = ()
) -> LiveView:
    """Bind and start the web view (the hook `edge-classify --serve` calls); prints the URL to stderr.

    `token`: required by every path but /healthz (see http_guard); `allow_hosts`: Host names to answer besides
    this machine's own and loopback ones.
    """
    host, port = parse_address(address)
    view = LiveView(host, port, info, token=token, allow_hosts=allow_hosts)
    elsewhere = ""
    if host in ("0.0.0.0", "::"):
        elsewhere = f"; from other machines: http://{socket.gethostname()}.local:{view.port}/ or this machine's IP"
    click.echo(f"serving the live view on {view.url}{elsewhere} (Ctrl-C stops)", err=True)
    if host not in LOOPBACK_NAMES and not token:
        click.echo(
            f"warning: --serve {address} is reachable from the network and has no token: anyone who can "
            "reach this machine can watch; set FASHION_EDGE_TOKEN or --token",
            err=True,
        )
    return view


# ---------------------------------------------------------------------------------------------------------- HTTP


def _page() -> bytes:
    return (resources.files("fashion_edge.edge") / "serve_page.html").read_bytes()


# ------------------------------------------------------------------------------------------------- video pacing


class _Realtime:
    """A finite video source played at its own frame rate: a live view of a file should look like a camera. A frame
    later than one frame period (a loaded machine) moves the schedule on: play resumes from there, not in a burst."""

    def __init__(self, source: Any) -> None:
        self._source = source

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)

    def frames(self) -> Iterator[Any]:
        fps = float(getattr(self._source, "fps", None) or 25.0)
        start = time.monotonic()
        for frame in self._source.frames():
            if frame.index is not None:
                delay = start + frame.index / fps - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                elif delay < -1.0 / fps:
                    start -= delay
            yield frame


def realtime(sources: Iterable[Any]) -> Iterator[Any]:
    """Sources for a --serve run: video files paced to their frame rate; live sources and stills as they are."""
    for source in sources:
        paced = not source.live and source.fps is not None
        yield _Realtime(source) if paced else source


class _Handler(GuardedHandler):
    server_version = "fashion-edge"

    @property
    def state(self) -> LiveState:
        return self.server.state  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # one line per request would drown the classification lines on stdout/stderr

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        path = self.path.split("?", 1)[0]
        routes = {
            "/": self._page,
            "/index.html": self._page,
            "/stream.mjpg": self._stream,
            "/events": self._events,
            "/predictions": self._predictions,
            "/snapshot.jpg": self._snapshot,
            "/healthz": self._healthz,
        }
        handler = routes.get(path)
        try:
            if handler is None:
                self._send(
                    HTTPStatus.NOT_FOUND,
                    b"not found: try / (the page), /stream.mjpg, /events, /predictions, /snapshot.jpg or /healthz\n",
                    "text/plain; charset=utf-8",
                )
            else:
                handler()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            self.close_connection = True  # the viewer left: nothing to clean up beyond this thread

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, obj: Any, status: int = HTTPStatus.OK) -> None:
        self._send(status, (json.dumps(obj) + "\n").encode(), "application/json")

    def _page(self) -> None:
        self._send(HTTPStatus.OK, _page(), "text/html; charset=utf-8")

    def _predictions(self) -> None:
        state = self.state
        with state.cond:
            recent = [_event(*item) for item in state.recent]
            latest = dict(state.event) if state.event else (recent[-1] if recent else None)
            body = {
                "model": _model_info(state.info),
                "status": state.status,
                "frames": state.frames,
                "latest": latest,
                "recent": recent,
            }
        self._json(body)

    def _healthz(self) -> None:
        health = self.state.health()
        shown = health if self.authorized else {"ok": health["ok"]}  # without the token: healthy or not, no more
        self._json(shown, HTTPStatus.OK if health["ok"] else HTTPStatus.SERVICE_UNAVAILABLE)

    def _snapshot(self) -> None:
        with self.state.cond:
            jpeg = self.state.jpeg
        if jpeg is None:
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, b"no frame yet\n", "text/plain; charset=utf-8")
        else:
            self._send(HTTPStatus.OK, jpeg, "image/jpeg")

    def _streaming_headers(self, content_type: str) -> None:
        self.close_connection = True  # endless body: no keep-alive, no Content-Length
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()

    def _stream(self) -> None:
        state = self.state
        if not self.server.add_viewer():
            self.refuse_viewer()
            return
        with state.cond:
            state.stream_viewers += 1
            state.work.notify()  # the encoder may be holding a frame it skipped for want of viewers
        try:
            self._streaming_headers(f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            sent = 0
            while True:
                with state.cond:
                    state.cond.wait_for(lambda sent=sent: state.closed or state.jpeg_seq != sent, timeout=KEEPALIVE_S)
                    if state.closed:
                        return
                    jpeg, seq = state.jpeg, state.jpeg_seq
                if jpeg is None or seq == sent:
                    continue  # nothing new: the browser keeps showing the last frame
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                self.wfile.write(head + jpeg + b"\r\n")
                self.wfile.flush()
                sent = seq
        finally:
            self.server.remove_viewer()
            with state.cond:
                state.stream_viewers -= 1

    def _events(self) -> None:
        state = self.state
        if not self.server.add_viewer():
            self.refuse_viewer()
            return
        with state.cond:
            state.event_viewers += 1
            info = _model_info(state.info)
        try:
            self._streaming_headers("text/event-stream")
            self._sse({"type": "model", **info})
            sent_event, sent_status = 0, -1
            while True:
                with state.cond:
                    changed = state.cond.wait_for(
                        lambda e=sent_event, s=sent_status: (
                            state.closed or state.event_seq != e or state.status_seq != s
                        ),
                        timeout=KEEPALIVE_S,
                    )
                    status, status_seq = state.status, state.status_seq
                    event, event_seq = state.event, state.event_seq
                    closed = state.closed
                messages = []
                if status_seq != sent_status:
                    messages.append(status)
                    sent_status = status_seq
                if event is not None and event_seq != sent_event:
                    messages.append(event)
                    sent_event = event_seq
                for message in messages:
                    self._sse(message)
                if closed:
                    return
                if not changed:
                    self.wfile.write(b": keepalive\n\n")
                    self.wfile.flush()
        finally:
            self.server.remove_viewer()
            with state.cond:
                state.event_viewers -= 1

    def _sse(self, obj: dict[str, Any]) -> None:
        self.wfile.write(f"event: {obj['type']}\ndata: {json.dumps(obj)}\n\n".encode())
        self.wfile.flush()
