"""Where frames come from: image files, folders, globs, video files, cameras, stream URLs.

Every source yields `Frame`s whose `image` is BGR uint8 (H, W, 3) -- the one frame format in edge/; conversion to
the model's gray input happens once, in preprocess. A still that cannot be read yields a Frame with `error` set
(reported, and the run goes on); a camera or URL that cannot be opened at all raises FashionEdgeError.

Live sources (cameras, streams) are read by a capture thread that keeps only the newest frame, so a slow model
never works through a backlog of stale frames; when a stream drops, the thread reconnects with exponential
backoff (0.5 s, 1 s, 2 s ... up to 8 s) for at most `reconnect` consecutive attempts.
HTTP MJPEG (multipart/x-mixed-replace, as served by most IP and ESP32 cameras and by `edge-classify --serve`)
is parsed here with urllib, so its timeouts and reconnects are ours; anything else (RTSP, HLS, ...) goes
through OpenCV's FFmpeg backend with open/read timeouts.
"""

from __future__ import annotations

import glob
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from ..errors import FashionEdgeError
from . import limits
from .image_header import HeaderError, declared_size

IMAGE_SUFFIXES = frozenset(
    [".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm", ".pnm", ".pbm", ".jp2"]
)
VIDEO_SUFFIXES = frozenset(
    [".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".mjpeg", ".mjpg", ".wmv"]
)
URL_SCHEMES = ("http://", "https://", "rtsp://", "rtsps://", "rtmp://", "udp://", "tcp://")
BACKOFF_START_S, BACKOFF_MAX_S = 0.5, 8.0
CAMERA_SIZE = (640, 480)

# OpenCV logs its own warnings (e.g. "can't open camera by index") to stderr; our errors already say it in one line.
# The call moved: OpenCV 5 has cv2.utils.logging, OpenCV 4 (e.g. 4.11, the last that accepts numpy 1, which a Pi with
# apt's picamera2 needs) has cv2.setLogLevel. 2 is LOG_LEVEL_ERROR in both.
if hasattr(cv2.utils, "logging"):
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
elif hasattr(cv2, "setLogLevel"):
    cv2.setLogLevel(2)


@dataclass
class Frame:
    """One image to classify: BGR uint8 `image`, or `error` saying why there is none."""

    source: str
    image: np.ndarray | None = None
    index: int | None = None  # frame number in a video or stream (None for a still image)
    error: str | None = None


class Source(Protocol):
    name: str
    live: bool  # frames are dropped rather than queued (camera, stream)
    fps: float | None  # the source's own frame rate when known (for --save-video)

    def frames(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


def is_url(text: str) -> bool:
    return text.lower().startswith(URL_SCHEMES)


# ---------------------------------------------------------------------------------------------------- stills


def read_image(path: Path) -> np.ndarray:
    """Decode an image file to BGR uint8; FashionEdgeError says why not (missing, not a regular file, over the
    size limits, empty, truncated, not an image)."""
    return decode_image(limits.read_bounded(Path(path), "file", "max-file-bytes"))


def check_image_size(width: int, height: int, bounds: limits.Limits | None = None) -> None:
    """Refuse a declared size of zero or over `max-image-pixels`, before anything of that size is allocated."""
    bounds = bounds or limits.current()
    if width <= 0 or height <= 0:
        raise FashionEdgeError(f"image declares a size of {width}x{height} pixels")
    if width * height > bounds.max_image_pixels:
        raise FashionEdgeError(
            f"image declares {width}x{height} = {width * height:,} pixels, over the {bounds.max_image_pixels:,}-"
            "pixel limit; shrink it, or raise the limit (--limit max-image-pixels=..., or "
            f"{limits.ENV_PREFIX}MAX_IMAGE_PIXELS)"
        )


def decode_image(data: bytes, bounds: limits.Limits | None = None) -> np.ndarray:
    """Encoded image bytes -> BGR uint8, after checking the header's declared size against the limits."""
    if not data:
        raise FashionEdgeError("empty file (0 bytes)")
    # libjpeg "decodes" a truncated JPEG by filling the rest with gray and only warns; an intact one ends with EOI
    if data[:2] == b"\xff\xd8" and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise FashionEdgeError("truncated JPEG (no end-of-image marker)")
    try:
        size = declared_size(data)
    except HeaderError as e:
        raise FashionEdgeError(f"not a readable image ({e})") from e
    if size is not None:
        check_image_size(*size, bounds)
    _bound_opencv_decoder(bounds or limits.current())
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)  # always 8-bit, 3-channel BGR
    except (cv2.error, MemoryError) as e:  # a decoder's own refusal (e.g. OpenCV's pixel limit, below)
        raise FashionEdgeError(f"not a readable image ({type(e).__name__}: {str(e).strip().splitlines()[-1]})") from e
    if image is None:
        raise FashionEdgeError("not a readable image (corrupt, truncated, or a format OpenCV cannot decode)")
    return image


def _bound_opencv_decoder(bounds: limits.Limits) -> None:
    """OpenCV's own pre-allocation check, for formats whose header image_header cannot read (e.g. .hdr, .sr).

    OpenCV reads OPENCV_IO_MAX_IMAGE_PIXELS once, at its first decode, so this takes effect only if set before
    that; declared_size() is the check that always applies.
    """
    os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(bounds.max_image_pixels))


@dataclass
class InputItem:
    """One positional input after expansion: a file to read, or the reason there is none."""

    path: str
    error: str | None = None

    @property
    def is_video(self) -> bool:
        return Path(self.path).suffix.lower() in VIDEO_SUFFIXES


def _folder_files(folder: Path) -> list[Path]:
    """Image and video files under `folder`, sorted. Symbolic links to folders are followed, but every folder is
    entered once (by device and inode), the real tree before any link into it: a link back up the tree is a loop
    cut short, not thousands of duplicates or a hang."""
    seen: set[tuple[int, int]] = set()
    files: list[Path] = []
    real, linked = [Path(folder)], []
    while real or linked:
        current = real.pop() if real else linked.pop(0)
        try:
            st = os.stat(current)
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError:  # vanished or unreadable: nothing to find there
            continue
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        for entry in entries:
            if entry.is_dir():
                (linked if entry.is_symlink() else real).append(Path(entry.path))
            elif Path(entry.name).suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
                files.append(Path(entry.path))
    return sorted(p for p in files if p.is_file())


def _glob(pattern: str) -> list[Path]:
    """Paths matching `pattern` (`**` = any depth). Unlike glob.glob, `**` does not descend into symbolic links to
    folders (pathlib's rule), so link loops cannot multiply the results or hang; hidden names need a leading dot
    in the pattern, as in a shell."""
    parts = Path(pattern).parts
    fixed = next(i for i, part in enumerate(parts) if glob.has_magic(part))  # the caller checked there is magic
    anchor, rest = Path(*parts[:fixed]) if fixed else Path("."), Path(*parts[fixed:])
    hidden_ok = any(part.startswith(".") for part in rest.parts)
    matches = (m for m in anchor.glob(str(rest)) if hidden_ok or not any(p.startswith(".") for p in m.parts[fixed:]))
    return sorted(matches)


def _unique(paths: list[Path]) -> list[Path]:
    """`paths` without repeats of the same file (two links to one image are one image), first one kept."""
    seen, unique = set(), []
    for path in paths:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def expand_inputs(args: list[str] | tuple[str, ...]) -> list[InputItem]:
    """Positional arguments -> files: a file as given, a folder recursively (images and videos), a glob pattern.

    Folder walks pick files by suffix; a file named explicitly is always tried (and reported if it is no image).
    """
    items: list[InputItem] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            files = _unique(_folder_files(path))
            items += [InputItem(str(p)) for p in files] or [InputItem(arg, "folder holds no image or video files")]
        elif path.is_file():
            items.append(InputItem(arg))
        elif path.exists():
            items.append(InputItem(arg, "not a regular file (a device, FIFO or socket); refusing to read it"))
        elif glob.has_magic(arg):
            matches = _glob(arg)
            files = _unique([p for m in matches for p in (_folder_files(m) if m.is_dir() else [m])])
            items += [InputItem(str(p)) for p in files] or [InputItem(arg, "no files match this pattern")]
        else:
            items.append(InputItem(arg, "no such file or folder"))
    return items


class ImageFiles:
    """Still images, one Frame each; unreadable files become error Frames and the run continues."""

    live = False
    fps = None

    def __init__(self, items: list[InputItem]) -> None:
        self.items = items
        self.name = f"{len(items)} image(s)"

    def frames(self) -> Iterator[Frame]:
        for item in self.items:
            if item.error:
                yield Frame(item.path, error=item.error)
                continue
            try:
                yield Frame(item.path, read_image(Path(item.path)))
            except FashionEdgeError as e:
                yield Frame(item.path, error=str(e))

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------------- video files


class VideoFile:
    """Every frame of a video file in order (none dropped), optionally only every `every`-th."""

    live = False

    def __init__(self, path: str, every: int = 1) -> None:
        self.name, self.every = str(path), max(1, int(every))
        if not Path(path).is_file():
            raise FashionEdgeError(f"{path}: no such video file")
        self._cap = cv2.VideoCapture(str(path))
        if not self._cap.isOpened():
            raise FashionEdgeError(f"{path}: OpenCV cannot open it as a video (corrupt, or a codec FFmpeg lacks)")
        try:  # frames are decoded one at a time, each at the size the container declares
            check_image_size(
                int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            )
        except FashionEdgeError as e:
            self._cap.release()
            raise FashionEdgeError(f"{path}: video frames: {e}") from e
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or None

    def frames(self) -> Iterator[Frame]:
        index = 0
        while True:
            if index % self.every:
                if not self._cap.grab():  # skipped frames are demuxed but not decoded
                    return
            else:
                ok, image = self._cap.read()
                if not ok:
                    return
                yield Frame(self.name, image, index)
            index += 1

    def close(self) -> None:
        self._cap.release()


# ---------------------------------------------------------------------------------------------------- live capture


class Capture(Protocol):
    """What the capture thread reads from: OpenCV's VideoCapture, our MJPEG reader, or Picamera2 (wrapped)."""

    def read(self) -> tuple[bool, np.ndarray | None]: ...

    def release(self) -> None: ...


class MjpegHttpCapture:
    """An HTTP multipart/x-mixed-replace JPEG stream (or a single-JPEG snapshot URL, polled) read with urllib.

    `timeout` bounds the connect and every socket read, so a server that stalls or vanishes is noticed.
    """

    def __init__(self, url: str, timeout: float) -> None:
        self.url, self.timeout = url, timeout
        self._resp = _http_open(url, timeout)
        content_type = self._resp.headers.get("Content-Type", "")
        self.snapshot = content_type.lower().startswith("image/")
        match = re.search(r'boundary="?([^";]+)"?', content_type)
        if not self.snapshot and (not content_type.lower().startswith("multipart/") or not match):
            self._resp.close()
            raise NotMjpeg(content_type)
        self._boundary = b"--" + match.group(1).encode().removeprefix(b"--") if match else b""
        self._at_headers = False  # True when the boundary line was already consumed while reading a part
        self.max_part_bytes = limits.current().max_part_bytes
        self.error: str | None = None  # why the last read failed, when the stream itself was at fault

    def read(self) -> tuple[bool, np.ndarray | None]:
        try:
            data = self._read_snapshot() if self.snapshot else self._read_part()
            if data is None:
                return False, None
            return True, decode_image(data)
        except StreamPartError as e:  # the stream broke a limit: say so (the reconnect status shows it)
            self.error = str(e)
        except (OSError, ValueError, FashionEdgeError):  # timeout, reset, malformed part, refused: stream broken
            pass
        return False, None

    def _read_snapshot(self) -> bytes | None:
        if self._resp is None:  # a snapshot URL gives one JPEG per request: ask again for the next frame
            self._resp = _http_open(self.url, self.timeout)
        try:
            length = self._resp.headers.get("Content-Length")
            if length is not None:
                self._check_length(length)
            data = self._resp.read(self.max_part_bytes + 1)
            if len(data) > self.max_part_bytes:
                raise StreamPartError(f"snapshot larger than the {self.max_part_bytes:,}-byte part limit")
            return data or None
        finally:
            self._resp.close()
            self._resp = None

    def _check_length(self, text: str) -> int:
        """A part's declared Content-Length, refused unless it is a number within 0..max_part_bytes."""
        try:
            length = int(text)
        except ValueError:
            raise StreamPartError(f"part with Content-Length {text!r}") from None
        if not 0 <= length <= self.max_part_bytes:
            raise StreamPartError(f"part declares {length:,} bytes; the part limit is {self.max_part_bytes:,}")
        return length

    def _lines(self, fp: Any) -> Iterator[bytes]:
        """The stream's lines (each at most 64 KiB), until max_part_bytes have gone by without a complete part."""
        budget = self.max_part_bytes + (64 << 10)
        while True:
            line = fp.readline(65536)
            if not line:
                return
            budget -= len(line)
            if budget < 0:
                raise StreamPartError(f"no complete part within the {self.max_part_bytes:,}-byte part limit")
            yield line

    def _read_part(self) -> bytes | None:
        lines = self._lines(self._resp)
        # skip to the boundary line (unless it was already consumed while reading the previous part)
        if not self._at_headers and not any(line.strip().startswith(self._boundary) for line in lines):
            return None
        headers = {}
        for line in lines:
            if not line.strip():
                break
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        else:
            return None
        self._at_headers = False
        if "content-length" in headers:
            length = self._check_length(headers["content-length"])
            data = self._resp.read(length)
            return data if len(data) == length else None
        # no length: the part runs until the next boundary line
        chunks = []
        for line in lines:
            if line.strip().startswith(self._boundary):
                self._at_headers = True
                return b"".join(chunks).removesuffix(b"\r\n")
            chunks.append(line)
        return None

    def release(self) -> None:
        if self._resp is not None:
            self._resp.close()


class StreamPartError(ValueError):
    """A stream part broke the limits (no boundary, a bad or huge Content-Length, an endless snapshot)."""


class NotMjpeg(Exception):
    """The URL answered with something other than MJPEG or a JPEG: hand it to OpenCV/FFmpeg instead."""


def _http_open(url: str, timeout: float):
    import urllib.error  # only streams need it: keeps start-up and memory down for files
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "edge-classify"})
    try:
        return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - the user's own camera URL
    except urllib.error.HTTPError as e:
        raise FashionEdgeError(f"stream {url} answered HTTP {e.code} {e.reason}; check the URL path") from e
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise FashionEdgeError(
            f"cannot open stream {url}: {reason} (timeout {timeout:g} s); check the address and that the "
            "camera server is running"
        ) from e


def _opencv_url(url: str, timeout: float) -> cv2.VideoCapture:
    ms = int(timeout * 1000)
    cap = cv2.VideoCapture(
        url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
    )
    if not cap.isOpened():
        raise FashionEdgeError(f"cannot open stream {url} with OpenCV/FFmpeg within {timeout:g} s; check the URL")
    return cap


def open_url(url: str, timeout: float) -> Capture:
    """HTTP(S) MJPEG or snapshot URLs via our reader; RTSP and other streams via OpenCV's FFmpeg backend."""
    if url.lower().startswith(("http://", "https://")):
        try:
            return MjpegHttpCapture(url, timeout)
        except NotMjpeg:
            pass
    return _opencv_url(url, timeout)


def _video_devices() -> list[str]:
    return sorted(str(p) for p in Path("/dev").glob("video*"))


def open_camera(spec: str) -> Capture:
    """`spec`: an index ("0"), a device ("/dev/video2") or "picamera2". One clear error naming what was tried."""
    if spec == "picamera2":
        return PiCamera()
    device = f"/dev/video{spec}" if spec.isdigit() else spec
    found = _video_devices()
    hint = f"video devices here: {', '.join(found)}" if found else "there are no /dev/video* devices on this machine"
    if not Path(device).exists():
        raise FashionEdgeError(
            f"no camera at {device} (tried OpenCV V4L2 on --camera {spec}; {hint}); connect one or pick another "
            "with --camera; on a Raspberry Pi camera module use --camera picamera2; `edge-classify doctor` checks"
        )
    cap = cv2.VideoCapture(int(spec) if spec.isdigit() else device, cv2.CAP_V4L2)
    if not cap.isOpened():
        raise FashionEdgeError(
            f"{device} exists but OpenCV V4L2 cannot open it (busy, no permission — add yourself to the `video` "
            "group — or a libcamera-only camera: use --camera picamera2)"
        )
    cap.set(cv2.CAP_PROP_FRAME_WIDTH, CAMERA_SIZE[0])
    cap.set(cv2.CAP_PROP_FRAME_HEIGHT, CAMERA_SIZE[1])
    cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # fewer stale frames queued in the driver (not every driver honours it)
    return cap


class PiCamera:
    """A libcamera camera through Picamera2 (cv2.VideoCapture cannot open those). Not testable without a Pi."""

    def __init__(self) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError as e:
            raise FashionEdgeError(
                "--camera picamera2: the picamera2 module is not importable here; on Raspberry Pi OS run "
                "`sudo apt install python3-picamera2` and create the venv with --system-site-packages"
            ) from e
        try:
            self._cam = Picamera2()
            # "RGB888" in libcamera's naming is B, G, R byte order in memory: exactly OpenCV's BGR, no conversion
            self._cam.configure(self._cam.create_video_configuration({"format": "RGB888", "size": CAMERA_SIZE}))
            self._cam.start()
        except (RuntimeError, IndexError) as e:  # IndexError: Picamera2() with no camera attached
            raise FashionEdgeError(f"--camera picamera2: no usable camera ({e}); check the ribbon cable") from e

    def read(self) -> tuple[bool, np.ndarray | None]:
        try:
            return True, self._cam.capture_array()
        except RuntimeError:
            return False, None

    def release(self) -> None:
        self._cam.close()


class LiveSource:
    """A camera or stream read by a capture thread that keeps only the newest frame; reconnects with backoff.

    The first open happens in the caller's thread, so a missing camera or unreachable URL fails at once;
    `on_status(message)` hears about drops and reconnects (the CLI prints them and tells --serve viewers).
    """

    live = True

    def __init__(
        self,
        name: str,
        opener: Callable[[], Capture],
        reconnect: int = 5,
        on_status: Callable[[str], None] | None = None,
        every: int = 1,
    ) -> None:
        self.name, self._opener, self.reconnect, self.every = name, opener, max(0, int(reconnect)), max(1, int(every))
        self._on_status = on_status or (lambda message: None)
        self._cap = opener()
        get = getattr(self._cap, "get", None)
        self.fps = (float(get(cv2.CAP_PROP_FPS)) or None) if get else None
        self.status = "live"
        self._cond = threading.Condition()
        self._image: np.ndarray | None = None
        self._seq = 0  # frames captured so far; a jump between two delivered frames = frames dropped
        self._error: str | None = None
        self._done = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._capture, name=f"capture {name}", daemon=True)
        self._thread.start()

    def _status(self, message: str) -> None:
        self.status = message
        self._on_status(message)

    def _capture(self) -> None:
        try:
            self._capture_loop()
        except Exception as e:  # noqa: BLE001 - not swallowed: it becomes this source's error, reported by the run
            self._error = f"capture failed: {type(e).__name__}: {e}"
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def _capture_loop(self) -> None:
        """Read frames until stopped; on a failed read, reopen with backoff until the reconnect budget is spent."""
        failures = 0
        while not self._stop.is_set():
            ok, image = self._cap.read()
            if ok and image is not None:
                if failures:
                    self._status(f"{self.name}: reconnected")
                failures = 0
                with self._cond:
                    self._image, self._seq = image, self._seq + 1
                    self._cond.notify_all()
                continue
            self._cap.release()
            if self._stop.is_set():
                return
            why = f" ({self._cap.error})" if getattr(self._cap, "error", None) else ""  # e.g. a part over the limit
            self._cap = None
            while self._cap is None:
                if failures >= self.reconnect:
                    tried = f" after {failures} reconnect attempt(s)" if self.reconnect else " (--reconnect 0)"
                    self._error = f"stream lost{tried}{why}"
                    return
                failures += 1
                delay = min(BACKOFF_MAX_S, BACKOFF_START_S * 2 ** (failures - 1))
                self._status(
                    f"{self.name}: stream dropped{why}; reconnecting in {delay:g} s "
                    f"(attempt {failures}/{self.reconnect})"
                )
                if self._stop.wait(delay):
                    return
                try:
                    self._cap = self._opener()
                except FashionEdgeError as e:
                    self._status(str(e))

    def frames(self) -> Iterator[Frame]:
        delivered, taken = 0, 0
        while True:
            with self._cond:
                self._cond.wait_for(lambda seen=delivered: self._seq != seen or self._done)
                if self._seq == delivered:  # finished, nothing new
                    if self._error:
                        yield Frame(self.name, error=self._error)
                    return
                image, delivered = self._image, self._seq
            taken += 1
            if (taken - 1) % self.every == 0:
                yield Frame(self.name, image, delivered - 1)

    def close(self) -> None:
        self._stop.set()
        cap = self._cap
        # closing a socket ends a blocked read at once; an OpenCV capture must not be released mid-read
        if isinstance(cap, MjpegHttpCapture):
            cap.release()  # closing the socket ends a blocked read at once
        self._thread.join(timeout=5)
        if cap is not None and not self._thread.is_alive():
            cap.release()


def open_source(
    spec: str,
    *,
    every: int = 1,
    reconnect: int = 5,
    timeout: float = 10.0,
    on_status: Callable[[str], None] | None = None,
) -> Source:
    """A `--source` value -> a Source: a stream URL, a video file, or an image file."""
    if is_url(spec):
        return LiveSource(spec, lambda: open_url(spec, timeout), reconnect, on_status, every)
    path = Path(spec)
    if not path.exists() and (spec.isdigit() or spec.startswith("/dev/video")):
        raise FashionEdgeError(f"--source {spec}: no such file; for a camera use --camera {spec}")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFiles([InputItem(spec) if path.is_file() else InputItem(spec, "no such file")])
    return VideoFile(spec, every)


def open_camera_source(
    spec: str, *, every: int = 1, reconnect: int = 5, on_status: Callable[[str], None] | None = None
) -> Source:
    return LiveSource(f"camera {spec}", lambda: open_camera(spec), reconnect, on_status, every)
