"""Hostile and careless inputs to edge/sources: oversized images, non-regular files, symlink loops, bad streams."""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from fashion_edge.edge import limits
from fashion_edge.edge.image_header import HeaderError, declared_size
from fashion_edge.edge.preprocess import PreprocessConfig, to_model_input
from fashion_edge.edge.sources import ImageFiles, MjpegHttpCapture, VideoFile, expand_inputs, read_image
from fashion_edge.errors import FashionEdgeError


@pytest.fixture(autouse=True)
def default_limits() -> Iterator[None]:
    limits.configure(None)
    yield
    limits.configure(None)


def png_declaring(width: int, height: int, bit_depth: int = 8, colour: int = 2) -> bytes:
    """A tiny PNG whose IHDR declares width x height (its pixel data is a few compressed zero rows)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


# ---------------------------------------------------------------------------------------------------- decoding


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".webp", ".tif", ".ppm", ".jp2", ".gif"])
def test_declared_size_reads_every_format_opencv_writes(ext):
    ok, buf = cv2.imencode(ext, np.zeros((37, 53, 3), np.uint8))
    assert ok
    assert declared_size(buf.tobytes()) == (53, 37)


def test_declared_size_of_pgm_with_comments_and_unknown_formats():
    assert declared_size(b"P5\n# made by hand\n 640 # width\n480\n255\n") == (640, 480)
    assert declared_size(b"just some text") is None
    with pytest.raises(HeaderError):
        declared_size(b"\x89PNG\r\n\x1a\n\0\0")


@pytest.mark.parametrize(("width", "height", "depth", "colour"), [(50000, 50000, 8, 2), (30000, 30000, 1, 0)])
def test_a_tiny_file_declaring_a_huge_image_is_refused_before_decoding(tmp_path, width, height, depth, colour):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_declaring(width, height, depth, colour))
    assert path.stat().st_size < 200
    with pytest.raises(FashionEdgeError, match=rf"{width}x{height}.*max-image-pixels"):
        read_image(path)


def test_the_pixel_limit_is_configurable(tmp_path):
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), np.zeros((100, 200, 3), np.uint8))
    assert read_image(path).shape == (100, 200, 3)
    limits.configure(limits.Limits().with_setting("max-image-pixels=10000"))
    with pytest.raises(FashionEdgeError, match="200x100"):
        read_image(path)


def test_the_file_size_is_checked_before_reading(tmp_path):
    path = tmp_path / "big.jpg"
    with open(path, "wb") as f:
        f.truncate(2 << 20)  # sparse: 2 MiB that cost nothing to make
    limits.configure(limits.Limits(max_file_bytes=1 << 20))
    with pytest.raises(FashionEdgeError, match="over the 1,048,576-byte limit.*max-file-bytes"):
        read_image(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifos_devices_and_folders_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "photo.png"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.png"
    zero.symlink_to("/dev/zero")
    for path in (fifo, zero, tmp_path):
        start = time.monotonic()
        with pytest.raises(FashionEdgeError, match="not a regular file"):
            limits.read_bounded(path)
        assert time.monotonic() - start < 1
    items = expand_inputs([str(fifo), str(zero)])
    assert all(item.error and "not a regular file" in item.error for item in items)


def test_env_and_limit_settings_parse_and_refuse_nonsense():
    env = {"FASHION_EDGE_MAX_PART_BYTES": "2M", "FASHION_EDGE_REQUEST_TIMEOUT_S": "2.5"}
    parsed = limits.from_env(env)
    assert parsed.max_part_bytes == 2 << 20 and parsed.request_timeout_s == 2.5
    assert parsed.max_image_pixels == limits.Limits().max_image_pixels
    for bad in ({"FASHION_EDGE_MAX_VIEWERS": "many"}, {"FASHION_EDGE_MAX_VIEWERS": "-1"}):
        with pytest.raises(FashionEdgeError, match="FASHION_EDGE_MAX_VIEWERS"):
            limits.from_env(bad)
    with pytest.raises(FashionEdgeError, match="NAME one of"):
        limits.Limits().with_setting("max-everything=1")


def test_a_huge_video_frame_size_is_refused(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 240))
    for _ in range(3):
        writer.write(np.zeros((240, 320, 3), np.uint8))
    writer.release()
    assert len(list(VideoFile(str(path)).frames())) == 3
    limits.configure(limits.Limits(max_image_pixels=320 * 240 - 1))
    with pytest.raises(FashionEdgeError, match="320x240"):
        VideoFile(str(path))


def test_good_images_after_bad_ones_are_still_read(tmp_path):
    (tmp_path / "a_bomb.png").write_bytes(png_declaring(40000, 40000))
    cv2.imwrite(str(tmp_path / "b_good.png"), np.full((50, 40, 3), 200, np.uint8))
    frames = list(ImageFiles(expand_inputs([str(tmp_path)])).frames())
    assert [Path(f.source).name for f in frames] == ["a_bomb.png", "b_good.png"]
    assert frames[0].error and frames[0].image is None
    assert frames[1].error is None and frames[1].image.shape == (50, 40, 3)


# ---------------------------------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("shape", [(1, 1000), (1000, 1), (5, 5000), (5000, 5), (1, 1), (2, 3)])
@pytest.mark.parametrize("mode", ["auto", "photo", "dataset"])
def test_degenerate_shapes_preprocess_to_a_model_input(shape, mode):
    image = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    out = to_model_input(image, PreprocessConfig(mode=mode))
    assert out.shape == (28, 28) and out.dtype == np.uint8


def test_photo_working_copy_is_area_averaged():
    """The 160-px working copy must average (INTER_AREA), not sample: a fine checkerboard averages to gray."""
    board = (np.indices((1601, 1601)).sum(axis=0) % 2 * 255).astype(np.uint8)  # odd: sampling aliases
    out = to_model_input(np.dstack([board] * 3), PreprocessConfig(mode="photo"))
    assert out.max() < 64  # nothing stands out from an even gray: no object is invented from aliasing


# ---------------------------------------------------------------------------------------------------- globbing


@pytest.fixture
def looped_tree(tmp_path: Path) -> Path:
    """Two images and two symbolic-link loops (one to the parent, one across branches)."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "c").mkdir()
    cv2.imwrite(str(tmp_path / "a" / "1.png"), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "a" / "b" / "2.png"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "a" / "b" / "up").symlink_to("..")
    (tmp_path / "a" / "b" / "across").symlink_to("../../c")
    (tmp_path / "c" / "back").symlink_to("../a")
    return tmp_path


@pytest.mark.parametrize("pattern", ["", "/**", "/**/*.png", "/*/*.png", "/a"])
def test_symlink_loops_yield_each_image_once_and_finish(looped_tree, pattern):
    start = time.monotonic()
    items = expand_inputs([f"{looped_tree}{pattern}"])
    assert time.monotonic() - start < 5
    names = sorted(Path(i.path).name for i in items)
    assert names == (["1.png"] if pattern == "/*/*.png" else ["1.png", "2.png"])
    assert all(i.error is None for i in items)
    assert not any("up" in Path(i.path).parts or "back" in Path(i.path).parts for i in items)  # real paths first


# ---------------------------------------------------------------------------------------------------- streams


class RawServer:
    """An HTTP server on 127.0.0.1 that writes whatever `respond(write)` writes, to each connection."""

    def __init__(self, respond: Callable[[Callable[[bytes], None]], None]) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        self.respond, self.sent = respond, 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        def write(data: bytes) -> None:
            conn.sendall(data)
            self.sent += len(data)

        with conn:
            conn.recv(65536)
            with contextlib.suppress(OSError):  # the reader hung up: that is the point
                self.respond(write)

    def close(self) -> None:
        self.sock.close()


MULTIPART = b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n"
LIMIT = 64 << 10


def endless(head: bytes, filler: bytes) -> Callable[[Callable[[bytes], None]], None]:
    def respond(write: Callable[[bytes], None]) -> None:
        write(head)
        for _ in range(100_000):  # ~ GBs if nobody stops reading
            write(filler)

    return respond


@pytest.mark.parametrize(
    ("name", "respond"),
    [
        ("no boundary ever", endless(MULTIPART, b"x" * 1000 + b"\r\n")),
        ("part without a length", endless(MULTIPART + b"--frame\r\nContent-Type: image/jpeg\r\n\r\n", b"y" * 4096)),
        ("endless headers", endless(MULTIPART + b"--frame\r\n", b"X-Junk: 1\r\n")),
        ("endless snapshot", endless(b"HTTP/1.0 200 OK\r\nContent-Type: image/jpeg\r\n\r\n", b"z" * 4096)),
    ],
)
def test_stream_parts_are_bounded(name, respond):
    limits.configure(limits.Limits(max_part_bytes=LIMIT))
    server = RawServer(respond)
    try:
        cap = MjpegHttpCapture(server.url, timeout=5)
        start = time.monotonic()
        assert cap.read() == (False, None)
        assert time.monotonic() - start < 5
        assert "limit" in (cap.error or ""), name
        cap.release()
    finally:
        server.close()


@pytest.mark.parametrize("length", ["-1", "99999999999", "abc"])
def test_bad_content_lengths_are_refused(length):
    limits.configure(limits.Limits(max_part_bytes=LIMIT))
    head = MULTIPART + f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {length}\r\n\r\n".encode()
    server = RawServer(endless(head, b"w" * 4096))
    try:
        cap = MjpegHttpCapture(server.url, timeout=5)
        assert cap.read() == (False, None)
        assert "Content-Length" in (cap.error or "") or "declares" in (cap.error or "")
        cap.release()
    finally:
        server.close()


def test_a_snapshot_with_a_huge_content_length_is_refused_unread():
    limits.configure(limits.Limits(max_part_bytes=LIMIT))
    head = b"HTTP/1.0 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 9999999999\r\n\r\n"
    server = RawServer(endless(head, b"v" * 4096))
    try:
        cap = MjpegHttpCapture(server.url, timeout=5)
        assert cap.read() == (False, None)
        assert "9,999,999,999" in (cap.error or "")
    finally:
        server.close()
