"""--serve in a real browser: Debian's chromium, headless, driven by Playwright, against edge-classify on a video file.

Skips unless both are installed: `apt-get install -y chromium` and `pip install playwright` (no browser download:
Playwright drives the system chromium through `executable_path`). $CHROMIUM overrides the browser path.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import default_sigint

from fashion_edge.data import CLASS_NAMES

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SHIPPED = Path(__file__).resolve().parents[1] / "edge" / "models" / "fashion_int8.tflite"
FPS, SECONDS = 20, 8

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and os.access(CHROMIUM, os.X_OK)), reason="no chromium: apt-get install -y chromium"
)
sync_api = pytest.importorskip("playwright.sync_api", reason="no playwright: pip install playwright")


@pytest.fixture
def model(request) -> Path:
    """The shipped int8 model when the package has it (no TensorFlow needed), else the tiny test model."""
    if SHIPPED.is_file():
        return SHIPPED
    return request.getfixturevalue("edge_models") / "fashion_int8.tflite"


def make_video(path: Path, garment: np.ndarray) -> None:
    """A dark garment (a real Fashion-MNIST test image, negated and enlarged) sliding across a light background."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (640, 480))
    big = cv2.resize(255 - garment, (224, 224), interpolation=cv2.INTER_CUBIC)
    for i in range(FPS * SECONDS):
        frame = np.full((480, 640), 235, np.uint8)
        x = 40 + (i * 3) % 360
        frame[128:352, x : x + 224] = np.minimum(frame[128:352, x : x + 224], big)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()


def start_edge_classify(source: str | Path, model: Path) -> tuple[subprocess.Popen, str]:
    """edge-classify --source SOURCE --serve 127.0.0.1:0; returns the process and the URL it printed."""
    exe = Path(sys.executable).with_name("edge-classify")
    cmd = [str(exe), "--source", str(source), "--model", str(model), "--serve", "127.0.0.1:0", "--json"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint
    )
    found: list[str] = []
    ready = threading.Event()

    def read_stderr() -> None:
        for line in proc.stderr:
            match = re.search(r"serving the live view on (http://\S+/)", line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=read_stderr, daemon=True).start()
    if not ready.wait(60) or not found:
        proc.kill()
        pytest.fail("edge-classify did not print the live view URL")
    return proc, found[0]


# A hash of what the <img> of the MJPEG stream shows right now (same origin, so the canvas is readable).
STREAM_HASH_JS = """() => {
  const img = document.getElementById('stream');
  if (!img.naturalWidth) return null;
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext('2d'); g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let h = 0;
  for (let i = 0; i < d.length; i += 97) h = (h * 31 + d[i]) >>> 0;
  return [c.width, c.height, h];
}"""


def test_live_view_in_chromium(fmnist, model, tmp_path):
    video = tmp_path / "clip.avi"
    make_video(video, fmnist.x_test[0])
    proc, url = start_edge_classify(video, model)
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(url)
            # a prediction with a real class name, and the model input shown beside the stream
            page.wait_for_function("() => document.getElementById('frames').textContent > 0", timeout=20000)
            assert page.inner_text("#label") in CLASS_NAMES
            assert page.get_attribute("#input", "src").startswith("data:image/png;base64,")
            assert len(page.query_selector_all("#scores tr")) == 10
            assert "int8" in page.inner_text("#model")
            # the stream advances: what the <img> shows changes, and so does the frame counter
            page.wait_for_function(f"({STREAM_HASH_JS})() !== null", timeout=10000)
            first, frames_before = page.evaluate(STREAM_HASH_JS), int(page.inner_text("#frames"))
            assert first[:2] == [640, 480]
            page.wait_for_function(
                f"JSON.stringify(({STREAM_HASH_JS})()) !== {json.dumps(json.dumps(first))}", timeout=10000
            )
            page.wait_for_function(f"() => +document.getElementById('frames').textContent > {frames_before}")
            # a video file plays at its own frame rate under --serve (unpaced it would run at hundreds of FPS);
            # no lower bound: a loaded CI machine may not keep up with 20 FPS
            assert 0 < float(page.inner_text("#fps")) < 1.5 * FPS
            page.screenshot(path=str(tmp_path / "live-view.png"))
            health = json.loads(urllib.request.urlopen(url + "healthz", timeout=5).read())
            assert health["ok"] and health["viewers"]["stream"] >= 1 and health["viewers"]["events"] >= 1
            # the video ends: the page says so instead of freezing silently
            page.wait_for_function(
                "() => document.getElementById('banner').textContent.includes('ended')", timeout=(SECONDS + 10) * 1000
            )
            browser.close()
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=10)


# Every text the banner ever shows, recorded as it changes (no polling race with a short outage).
BANNER_LOG_JS = """
window.bannerLog = [];
new MutationObserver(() => {
  const b = document.getElementById('banner');
  if (b && b.textContent !== window.bannerLog[window.bannerLog.length - 1]) window.bannerLog.push(b.textContent);
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def test_camera_dropping_out_is_shown_and_recovers(fmnist, model, tmp_path):
    """An IP camera (MJPEG over HTTP, served here) cuts the connection mid-stream; edge-classify reconnects. The page
    must say the source dropped, then clear that once frames come again, without a reload."""
    from helpers import MjpegServer

    garment = cv2.cvtColor(cv2.resize(255 - fmnist.x_test[1], (240, 240)), cv2.COLOR_GRAY2BGR)
    frames = [
        cv2.copyMakeBorder(garment, 120, 120, 200 + d, 200 - d, cv2.BORDER_CONSTANT, value=(235, 235, 235))
        for d in range(0, 40, 4)
    ]
    with MjpegServer(frames, fps=FPS) as camera:
        proc, url = start_edge_classify(camera.url, model)
        try:
            with sync_api.sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
                page = browser.new_page()
                page.add_init_script(BANNER_LOG_JS)
                page.goto(url)
                page.wait_for_function("() => document.getElementById('frames').textContent > 0", timeout=20000)
                camera.cut.set()  # the camera dies while the page watches (a timed drop raced Chromium's start)
                try:
                    page.wait_for_function("() => window.bannerLog.some((t) => t.includes('dropped'))", timeout=30000)
                except sync_api.TimeoutError:
                    log, frames = page.evaluate("window.bannerLog"), page.inner_text("#frames")
                    pytest.fail(f"no drop shown: {camera.connections} connections, banners {log}, {frames} frames")
                frames_at_drop = int(page.inner_text("#frames"))
                page.wait_for_function(
                    f"() => +document.getElementById('frames').textContent > {frames_at_drop + 5}", timeout=30000
                )
                log = page.evaluate("window.bannerLog")
                assert page.inner_text("#banner") == ""  # recovered: no stale warning left on screen
                dropped = next(i for i, t in enumerate(log) if "dropped" in t)
                assert "reconnecting" in log[dropped] and "" in log[dropped + 1 :], log  # shown, then cleared
                browser.close()
        finally:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=15) == 0  # Ctrl-C ends a live run normally
