"""edge/sources: files, folders, globs, corrupt files, a real video file, an MJPEG stream served here, cameras."""

from __future__ import annotations

import socket
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import MjpegServer, frame_number, free_port, numbered_frame

from fashion_edge.edge.sources import (
    ImageFiles,
    LiveSource,
    MjpegHttpCapture,
    VideoFile,
    expand_inputs,
    open_camera,
    open_url,
    read_image,
)
from fashion_edge.errors import FashionEdgeError

# ---------------------------------------------------------------------------------------------------- files


@pytest.fixture
def image_tree(tmp_path: Path) -> Path:
    """Two good PNGs (one in a subfolder), a JPEG, a corrupt PNG, a truncated JPEG, an empty file, a text file."""
    (tmp_path / "sub").mkdir()
    cv2.imwrite(str(tmp_path / "a.png"), numbered_frame(1))
    cv2.imwrite(str(tmp_path / "sub" / "b.png"), numbered_frame(2))
    cv2.imwrite(str(tmp_path / "c.jpg"), numbered_frame(3))
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    jpeg = (tmp_path / "c.jpg").read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not an image, and not picked up from a folder")
    return tmp_path


def test_folders_recurse_and_pick_images_by_suffix(image_tree):
    names = sorted(Path(i.path).name for i in expand_inputs([str(image_tree)]))
    assert names == ["a.png", "b.png", "c.jpg", "corrupt.png", "empty.png", "truncated.jpg"]


def test_globs_and_missing_paths(image_tree):
    items = expand_inputs([str(image_tree / "**" / "*.png"), str(image_tree / "nope.png"), str(image_tree / "*.gif")])
    found = [Path(i.path).name for i in items if i.error is None]
    assert sorted(found) == ["a.png", "b.png", "corrupt.png", "empty.png"]
    errors = {Path(i.path).name: i.error for i in items if i.error}
    assert errors == {"nope.png": "no such file or folder", "*.gif": "no files match this pattern"}


def test_bad_files_become_error_frames_and_the_rest_still_decode(image_tree):
    frames = list(ImageFiles(expand_inputs([str(image_tree)])).frames())
    good = {Path(f.source).name: frame_number(f.image) for f in frames if f.error is None}
    bad = {Path(f.source).name: f.error for f in frames if f.error}
    assert good == {"a.png": 1, "b.png": 2, "c.jpg": 3}
    assert set(bad) == {"corrupt.png", "truncated.jpg", "empty.png"}
    assert "truncated" in bad["truncated.jpg"] and "empty" in bad["empty.png"]
    for f in frames:
        assert f.error or (f.image.dtype == np.uint8 and f.image.shape == (120, 160, 3))


def test_grayscale_and_alpha_images_come_out_bgr(tmp_path):
    cv2.imwrite(str(tmp_path / "gray.png"), np.full((10, 12), 100, np.uint8))
    cv2.imwrite(str(tmp_path / "rgba.png"), np.full((10, 12, 4), 100, np.uint8))
    for name in ("gray.png", "rgba.png"):
        assert read_image(tmp_path / name).shape == (10, 12, 3)


# ---------------------------------------------------------------------------------------------------- video


@pytest.fixture
def video_file(tmp_path: Path) -> Path:
    """A real 30-frame MJPG .avi written with cv2.VideoWriter; frame n has brightness 7n."""
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (160, 120))
    assert writer.isOpened()
    for n in range(30):
        writer.write(numbered_frame(n))
    writer.release()
    return path


def test_video_file_yields_every_frame_in_order(video_file):
    source = VideoFile(str(video_file))
    frames = list(source.frames())
    source.close()
    assert [f.index for f in frames] == list(range(30))
    assert [frame_number(f.image) for f in frames] == list(range(30))
    assert source.fps == pytest.approx(15.0)


def test_video_every_n_skips_frames(video_file):
    frames = list(VideoFile(str(video_file), every=7).frames())
    assert [f.index for f in frames] == [0, 7, 14, 21, 28]
    assert [frame_number(f.image) for f in frames] == [0, 7, 14, 21, 28]


def test_unreadable_video_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 1000)
    with pytest.raises(FashionEdgeError, match="cannot open it as a video"):
        VideoFile(str(bad))


# ---------------------------------------------------------------------------------------------------- streams


@pytest.mark.parametrize("with_length", [True, False])
def test_mjpeg_stream_frames_arrive_in_order(with_length):
    with MjpegServer([numbered_frame(n) for n in range(20)], with_length=with_length) as server:
        cap = open_url(server.url, timeout=5)
        assert isinstance(cap, MjpegHttpCapture)
        numbers = []
        for _ in range(25):
            ok, image = cap.read()
            assert ok and image.shape == (120, 160, 3)
            numbers.append(frame_number(image))
        cap.release()
    assert numbers == [n % 20 for n in range(25)]


def test_snapshot_url_is_polled():
    with MjpegServer([numbered_frame(5)]) as server:
        cap = open_url(server.url.replace("stream.mjpg", "snapshot.jpg"), timeout=5)
        assert all(frame_number(cap.read()[1]) == 5 for _ in range(3))
        assert server.connections == 3  # one request per frame


def test_live_source_reconnects_after_the_server_drops_mid_stream():
    statuses: list[str] = []
    with MjpegServer([numbered_frame(n) for n in range(10)], drop_after=5) as server:
        source = LiveSource(server.url, lambda: open_url(server.url, timeout=5), reconnect=3,
                            on_status=statuses.append)  # fmt: skip
        frames = []
        for frame in source.frames():
            assert frame.error is None
            frames.append(frame)
            if len(frames) == 15:
                break
        source.close()
    assert server.connections >= 2
    assert any("reconnecting" in s for s in statuses) and any("reconnected" in s for s in statuses)
    indices = [f.index for f in frames]
    assert indices == sorted(indices) and len(set(indices)) == 15  # newest-frame hand-off: increasing, no repeats


def test_live_source_gives_up_after_the_reconnect_budget():
    statuses: list[str] = []
    server = MjpegServer([numbered_frame(1)], drop_after=3).__enter__()
    source = LiveSource(server.url, lambda: open_url(server.url, timeout=1), reconnect=1, on_status=statuses.append)
    server.stop()  # the camera is gone for good: the one reconnect attempt fails
    frames = list(source.frames())
    source.close()
    assert frames[-1].error == "stream lost after 1 reconnect attempt(s)"
    assert any("cannot open stream" in s for s in statuses)


def test_live_source_keeps_only_the_newest_frame():
    with MjpegServer([numbered_frame(n) for n in range(30)], fps=100) as server:
        source = LiveSource(server.url, lambda: open_url(server.url, timeout=5))
        got = []
        for frame in source.frames():
            got.append(frame.index)
            time.sleep(0.1)  # a slow model: frames captured meanwhile are replaced, not queued
            if len(got) == 4:
                break
        source.close()
    assert all(b - a >= 3 for a, b in zip(got, got[1:], strict=False)), got


def test_unreachable_url_fails_fast_with_a_clear_message():
    port = free_port()  # nothing listens there: connection refused
    with pytest.raises(FashionEdgeError, match=f"cannot open stream http://127.0.0.1:{port}/"):
        open_url(f"http://127.0.0.1:{port}/", timeout=2)


def test_silent_server_times_out():
    with socket.socket() as listener:  # accepts TCP (backlog) but never answers HTTP
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/stream.mjpg"
        start = time.monotonic()
        with pytest.raises(FashionEdgeError, match="timed out"):
            open_url(url, timeout=0.5)
        assert time.monotonic() - start < 5


# ---------------------------------------------------------------------------------------------------- cameras


def test_missing_camera_names_what_was_tried():
    if Path("/dev/video0").exists():
        pytest.skip("this machine has a camera")
    with pytest.raises(FashionEdgeError) as e:
        open_camera("0")
    message = str(e.value)
    assert "/dev/video0" in message and "V4L2" in message and "\n" not in message


def test_picamera2_absent_says_how_to_install():
    try:
        import picamera2  # noqa: F401
    except ImportError:
        with pytest.raises(FashionEdgeError, match="python3-picamera2"):
            open_camera("picamera2")
    else:
        pytest.skip("picamera2 is installed here")


def test_non_mjpeg_http_urls_go_through_opencv(video_file):
    """A URL that serves a video file (not MJPEG) is handed to OpenCV's FFmpeg backend: the RTSP/HLS path."""
    import functools
    from http.server import SimpleHTTPRequestHandler

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(video_file.parent))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        cap = open_url(f"http://127.0.0.1:{httpd.server_address[1]}/{video_file.name}", timeout=5)
        assert isinstance(cap, cv2.VideoCapture)
        numbers = [frame_number(cap.read()[1]) for _ in range(5)]
        cap.release()
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert numbers == [0, 1, 2, 3, 4]


def test_a_crashing_capture_is_reported_not_swallowed():
    class Broken:
        def read(self):
            raise RuntimeError("driver fell over")

        def release(self) -> None:
            pass

    source = LiveSource("camera 9", Broken)
    frames = list(source.frames())
    source.close()
    assert [f.error for f in frames] == ["capture failed: RuntimeError: driver fell over"]
