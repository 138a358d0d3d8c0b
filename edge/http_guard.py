"""What keeps `--serve` answering when clients are many, slow, idle or hostile: one server class, one handler base.

- **Connections are capped** (`max-connections`): when a new one would exceed the cap, the oldest connection that
  has not yet sent a complete request (idle keep-alive, slowloris, a port scan) is closed to make room, so a flood
  of idle sockets can neither exhaust file descriptors nor lock out `/healthz`. The listen backlog is 128, not 5.
- **Every socket has a timeout** (`request-timeout-s`): a request must arrive, and a viewer must accept data,
  within it; a viewer that stops reading is dropped when its socket buffer has been full that long.
- **Long-lived viewers are capped** (`max-viewers`): /stream.mjpg and /events beyond the cap get 503 at once
  (the newest are refused, the ones watching keep their stream); short requests such as /healthz are not counted.
- **Host allow-list**: a request whose `Host` is not a loopback name, the address it arrived on, this machine's
  name, or an `--allow-host` is refused (421), so a web page on the LAN cannot read the view through DNS
  rebinding. `--allow-host '*'` turns the check off (behind a reverse proxy that checks it).
- **Optional token** (`--token`, or FASHION_EDGE_TOKEN): every path but /healthz then needs it, as
  `Authorization: Bearer TOKEN`, `?token=TOKEN` (which also sets a cookie, so a browser's page, stream and events
  work after opening `http://HOST:PORT/?token=TOKEN` once), or that cookie. /healthz answers without it, but
  says only whether the view is healthy.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import re
import socket
import threading
import time
from collections import OrderedDict
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import PurePath
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .limits import Limits, current

COOKIE = "fashion_edge_token"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "127.0.0.1", "::1"})
OPEN_PATHS = frozenset({"/healthz"})  # answered without the token (with no detail)
LISTEN_BACKLOG = 128
_URL_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)


def _host_name(header: str) -> str:
    """'Example.LAN:8080' -> 'example.lan'; '[::1]:8080' -> '::1'."""
    host = header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return (host.rsplit(":", 1)[0] if host.count(":") == 1 else host).rstrip(".")


def redact_urls(text: str) -> str:
    """`text` with the user:password@ of any URL in it removed (status messages name the stream they are about)."""
    return _URL_CREDENTIALS.sub(r"\1", text)


def public_source(name: str) -> str:
    """A source as shown to web viewers: a URL without its user:password or query, a camera ("camera 0") as it
    is, a file by its name, not its path."""
    if "://" in name:
        parts = urlsplit(name)
        return parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1], query="").geturl()
    return name if name.startswith("camera ") else PurePath(name).name or name


class GuardedServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer with a connection cap (evicting idle connections first), a viewer cap, a bigger
    backlog, the Host allow-list and the token; see the module docstring."""

    daemon_threads = True  # a viewer's thread never keeps the process alive
    allow_reuse_address = True  # restart at once after a crash (TIME_WAIT); a *listening* port still fails to bind
    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        *,
        limits: Limits | None = None,
        token: str | None = None,
        allow_hosts: tuple[str, ...] | list[str] = (),
    ) -> None:
        self.limits = limits or current()
        self.token = token or None
        self.allow_any_host = "*" in allow_hosts
        names = {_host_name(h) for h in allow_hosts if h != "*"} | LOOPBACK_NAMES | {_host_name(address[0])}
        hostname = socket.gethostname().lower()
        # no getfqdn(): a DNS lookup could stall start-up on a device without network
        self.allowed_hosts = frozenset(names | {hostname, f"{hostname}.local"})
        self._guard = threading.Lock()
        self._idle: OrderedDict[socket.socket, None] = OrderedDict()  # accepted, no complete request yet
        self._open: set[socket.socket] = set()
        self.viewers = 0
        self.evicted = 0
        super().__init__(address, handler)

    # -- connections
    def get_request(self) -> tuple[socket.socket, Any]:
        try:
            return super().get_request()
        except OSError as e:
            if e.errno in (errno.EMFILE, errno.ENFILE):  # out of descriptors: back off instead of spinning a core
                time.sleep(0.05)
            raise

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        with self._guard:
            while len(self._open) >= self.limits.max_connections and self._idle:
                oldest, _ = self._idle.popitem(last=False)
                self._open.discard(oldest)
                self.evicted += 1
                with contextlib.suppress(OSError):  # its thread reads EOF and ends; close_request closes it
                    oldest.shutdown(socket.SHUT_RDWR)
            full = len(self._open) >= self.limits.max_connections
            if not full:
                self._open.add(request)
                self._idle[request] = None
        if full:  # every connection is busy with a real request: refuse this one without a thread
            with contextlib.suppress(OSError):
                request.setblocking(False)
                request.send(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def mark_busy(self, request: socket.socket) -> None:
        with self._guard:
            self._idle.pop(request, None)

    def mark_idle(self, request: socket.socket) -> bool:
        """Waiting for the next request on a kept-alive connection; False if it was evicted meanwhile."""
        with self._guard:
            if request not in self._open:
                return False
            self._idle[request] = None
            return True

    def close_request(self, request: socket.socket) -> None:
        with self._guard:
            self._idle.pop(request, None)
            self._open.discard(request)
        super().close_request(request)

    @property
    def open_connections(self) -> int:
        with self._guard:
            return len(self._open)

    # -- viewers
    def add_viewer(self) -> bool:
        """Take a viewer slot; False when all max_viewers are taken (the caller answers 503)."""
        with self._guard:
            if self.viewers >= self.limits.max_viewers:
                return False
            self.viewers += 1
            return True

    def remove_viewer(self) -> None:
        with self._guard:
            self.viewers -= 1


class GuardedHandler(BaseHTTPRequestHandler):
    """Socket timeouts, busy/idle bookkeeping, the Host check and the token for a GuardedServer's requests.

    Subclasses implement do_GET as usual; `self.authorized` says whether the token was given (always True when no
    token is set), for paths in OPEN_PATHS that answer either way.
    """

    server: GuardedServer
    protocol_version = "HTTP/1.1"
    authorized = True
    _set_cookie = False

    def setup(self) -> None:
        self.timeout = self.server.limits.request_timeout_s  # StreamRequestHandler applies it to the socket
        super().setup()

    def handle_one_request(self) -> None:
        if not self.server.mark_idle(self.connection):
            self.close_connection = True
            return
        super().handle_one_request()

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        self.server.mark_busy(self.connection)
        return self._allowed()

    def _allowed(self) -> bool:
        """The Host check, then the token; sends the refusal itself and returns False when refused."""
        host = self.headers.get("Host")
        if host is not None and not self.server.allow_any_host:
            name = _host_name(host)
            if name not in self.server.allowed_hosts and name != _host_name(self.connection.getsockname()[0]):
                self._refuse(
                    HTTPStatus.MISDIRECTED_REQUEST,
                    "this server does not answer to that Host name; start it with --allow-host NAME to add one",
                )
                return False
        if self.server.token is None:
            return True
        self.authorized = self._token_given()
        if self.authorized or urlsplit(self.path).path in OPEN_PATHS:
            return True
        self._refuse(
            HTTPStatus.UNAUTHORIZED,
            "a token is needed: open /?token=TOKEN once in the browser, or send Authorization: Bearer TOKEN",
        )
        return False

    def _token_given(self) -> bool:
        token = self.server.token or ""
        offered = []
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            offered.append(auth[7:].strip())
        for part in self.headers.get("Cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE:
                offered.append(value)
        from_query = parse_qs(urlsplit(self.path).query).get("token", [])
        offered += from_query
        ok = any(hmac.compare_digest(o.encode(), token.encode()) for o in offered)
        self._set_cookie = ok and bool(from_query)
        return ok

    def end_headers(self) -> None:
        if self._set_cookie:
            self.send_header("Set-Cookie", f"{COOKIE}={self.server.token}; HttpOnly; SameSite=Strict; Path=/")
        super().end_headers()

    def _refuse(self, status: int, message: str) -> None:
        body = (message + "\n").encode()
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def refuse_viewer(self) -> None:
        """503 for a stream or events viewer over the max-viewers cap."""
        self._refuse(
            HTTPStatus.SERVICE_UNAVAILABLE,
            f"too many viewers (the limit is {self.server.limits.max_viewers};"
            " the server's --limit max-viewers=N raises it); try again later",
        )
