"""Every bound edge-classify puts on what it reads and serves, in one place: defaults, environment, --limit.

A hostile or careless input must not take the device down, so inputs are bounded *before* they are read or
decoded: a file's size before reading it, an image's declared width x height before decoding it, a stream part's
length before buffering it, the number of clients before serving them. The defaults suit a Raspberry Pi (1 GB);
each limit can be changed with an environment variable or `edge-classify --limit NAME=VALUE` (repeatable):

    name               env variable                         default    what it bounds
    max-file-bytes     FASHION_EDGE_MAX_FILE_BYTES          64M        an image file or a model card, before reading
    max-image-pixels   FASHION_EDGE_MAX_IMAGE_PIXELS        24M        declared width x height, before decoding
    max-part-bytes     FASHION_EDGE_MAX_PART_BYTES          16M        one MJPEG part or snapshot from a stream URL
    max-card-bytes     FASHION_EDGE_MAX_CARD_BYTES          1M         a model card (JSON)
    max-viewers        FASHION_EDGE_MAX_VIEWERS             16         --serve: open /stream.mjpg + /events viewers
    max-connections    FASHION_EDGE_MAX_CONNECTIONS         128        --serve: open connections (idle ones evicted)
    request-timeout-s  FASHION_EDGE_REQUEST_TIMEOUT_S       10         --serve: to send a request / accept data

Values take K, M, G suffixes (x1024, x1024^2, x1024^3). 24M pixels (25.2 million) admits a 6000x4000 photo,
72 MB once decoded to BGR; a viewer is a /stream.mjpg or /events client (the newest beyond the cap gets 503).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, fields, replace
from pathlib import Path

from ..errors import FashionEdgeError

ENV_PREFIX = "FASHION_EDGE_"
_SUFFIXES = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


@dataclass(frozen=True)
class Limits:
    """The bounds (see the module docstring for what each one bounds and how to change it)."""

    max_file_bytes: int = 64 << 20
    max_image_pixels: int = 24 << 20
    max_part_bytes: int = 16 << 20
    max_card_bytes: int = 1 << 20
    max_viewers: int = 16
    max_connections: int = 128
    request_timeout_s: float = 10.0

    @staticmethod
    def names() -> list[str]:
        """The kebab-case names `--limit` takes."""
        return [f.name.replace("_", "-") for f in fields(Limits)]

    def with_setting(self, text: str) -> Limits:
        """'max-image-pixels=50M' -> a copy with that limit changed; FashionEdgeError on a bad name or value."""
        name, sep, value = text.partition("=")
        attr = name.strip().replace("-", "_")
        if not sep or attr not in {f.name for f in fields(Limits)}:
            raise FashionEdgeError(f"--limit {text!r}: expected NAME=VALUE with NAME one of {', '.join(self.names())}")
        return replace(self, **{attr: _parse_value(attr, value, f"--limit {name.strip()}")})


def _parse_value(attr: str, text: str, where: str) -> int | float:
    raw = text.strip().lower()
    factor = _SUFFIXES.get(raw[-1:], 1)
    number = raw[:-1] if factor != 1 else raw
    try:
        value = float(number) * factor
    except ValueError:
        raise FashionEdgeError(f"{where}={text!r}: expected a number (K, M, G suffixes allowed)") from None
    if not value > 0 or value == float("inf"):
        raise FashionEdgeError(f"{where}={text!r}: must be a positive number")
    return value if attr.endswith("_s") else int(value)


def from_env(environ: dict[str, str] | None = None) -> Limits:
    """The defaults, overridden by FASHION_EDGE_<NAME> environment variables."""
    environ = os.environ if environ is None else environ
    limits = Limits()
    for f in fields(Limits):
        key = ENV_PREFIX + f.name.upper()
        if key in environ:
            limits = replace(limits, **{f.name: _parse_value(f.name, environ[key], key)})
    return limits


def from_settings(settings: tuple[str, ...] | list[str], environ: dict[str, str] | None = None) -> Limits:
    """Defaults, then the environment, then each `--limit NAME=VALUE` in order (the command line wins)."""
    bounds = from_env(environ)
    for setting in settings:
        bounds = bounds.with_setting(setting)
    return bounds


_current: Limits | None = None


def current() -> Limits:
    """The limits in force: what `configure()` set (the CLI does, from --limit), else defaults + environment."""
    global _current
    if _current is None:
        _current = from_env()
    return _current


def configure(limits: Limits | None) -> None:
    """Set the process's limits (None: back to defaults + environment, read again on next use)."""
    global _current
    _current = limits


def read_bounded(path: Path, what: str = "file", limit: str = "max-file-bytes", limits: Limits | None = None) -> bytes:
    """The bytes of a regular file within the `limit` (a --limit name); FashionEdgeError for anything else.

    Opened non-blocking and checked with fstat *before* reading, so a FIFO (which would block forever), a device
    such as /dev/zero (endless), a folder, or a huge file is refused without reading a byte of it.
    """
    max_bytes = getattr(limits or current(), limit.replace("-", "_"))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise FashionEdgeError(f"cannot read: {e.strerror or e}") from e
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise FashionEdgeError(f"not a regular {what} (a folder, device, FIFO or socket); refusing to read it")
    with os.fdopen(fd, "rb") as f:
        if st.st_size > max_bytes:
            raise FashionEdgeError(
                f"{what} is {st.st_size:,} bytes, over the {max_bytes:,}-byte limit; if it is meant to be read, "
                f"raise the limit (--limit {limit}=..., or {ENV_PREFIX}{limit.replace('-', '_').upper()})"
            )
        try:
            data = f.read(max_bytes + 1)
        except OSError as e:
            raise FashionEdgeError(f"cannot read: {e.strerror or e}") from e
    if len(data) > max_bytes:  # it grew while we looked
        raise FashionEdgeError(f"{what} grew past the {max_bytes:,}-byte limit while being read")
    return data
