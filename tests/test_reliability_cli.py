"""edge-classify and fashion-edge bench against bad batches and failing outputs (no TensorFlow: the shipped model).

Every case: no traceback, one line per problem, a non-zero exit, the good items still classified, and nothing
half-written left under a final name.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import BLOCK_TENSORFLOW, bench_run_doc

RUNNER = BLOCK_TENSORFLOW + "\nfrom fashion_edge.{module} import main\nmain(sys.argv[1:], prog_name='{prog}')\n"


def run_cli(*args: str | Path, module: str = "edge.cli", stdout: int | None = subprocess.PIPE,
            file_size_limit: int | None = None, timeout: float = 120) -> subprocess.CompletedProcess:  # fmt: skip
    """The CLI in a subprocess; `file_size_limit` makes writes past that many bytes fail, as on a full disk
    (matplotlib is then blocked: its font cache could not be written either, and rebuilding it takes minutes)."""

    def limit_files() -> None:
        if file_size_limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    prog = "edge-classify" if module == "edge.cli" else "fashion-edge"
    code = RUNNER.format(module=module, prog=prog)
    if file_size_limit is not None:
        code = "import sys\nsys.modules['matplotlib'] = None\n" + code
    result = subprocess.run([sys.executable, "-c", code, *map(str, args)],
                            stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=timeout,
                            preexec_fn=limit_files)  # fmt: skip
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr
    return result


def garment(path: Path, size: tuple[int, int] = (120, 100)) -> Path:
    image = np.full((size[1], size[0], 3), 230, np.uint8)
    cv2.rectangle(image, (size[0] // 4, size[1] // 5), (3 * size[0] // 4, 4 * size[1] // 5), (40, 40, 40), -1)
    cv2.imwrite(str(path), image)
    return path


def png_bomb(path: Path, width: int = 50000, height: int = 50000) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")))
    return path


@pytest.fixture
def batch(tmp_path: Path) -> Path:
    """Good images interleaved with hostile ones (sorted names decide the order)."""
    folder = tmp_path / "batch"
    folder.mkdir()
    garment(folder / "a_good.png")
    png_bomb(folder / "b_bomb.png")
    cv2.imwrite(str(folder / "c_strip.png"), np.full((1, 1000, 3), 90, np.uint8))  # degenerate, but an image
    (folder / "d_text.jpg").write_text("not an image")
    jpeg = cv2.imencode(".jpg", np.zeros((50, 50, 3), np.uint8))[1].tobytes()
    (folder / "e_truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    garment(folder / "f_good.jpg", (300, 200))
    (folder / "g_loop").symlink_to(".")
    return folder


def test_a_batch_with_hostile_files_classifies_the_good_ones(batch):
    fifo = batch.parent / "h_fifo.png"
    os.mkfifo(fifo)
    result = run_cli(batch, fifo, "--json")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    by_name = {Path(r["source"]).name: r for r in records}
    assert len(records) == len(by_name) == 7  # the loop adds nothing
    assert {n for n, r in by_name.items() if "label" in r} == {"a_good.png", "c_strip.png", "f_good.jpg"}
    assert "max-image-pixels" in by_name["b_bomb.png"]["error"]
    assert "not a regular file" in by_name["h_fifo.png"]["error"]
    assert all("error" in by_name[n] for n in ("d_text.jpg", "e_truncated.jpg"))
    assert result.returncode == 1


def test_limits_from_the_command_line_and_the_environment(batch):
    result = run_cli(batch / "f_good.jpg", "--limit", "max-image-pixels=10000")
    assert result.returncode == 1 and "300x200" in result.stderr
    bad = run_cli(batch / "f_good.jpg", "--limit", "max-pixels=3")
    assert bad.returncode != 0 and "max-image-pixels" in bad.stderr


def test_any_preprocessing_error_is_that_frames_error(monkeypatch):
    """The classify loop's one error boundary: an unexpected exception (here OpenCV's) fails that frame only."""
    from fashion_edge.edge import cli, preprocess
    from fashion_edge.edge.classifier import Classifier
    from fashion_edge.edge.registry import shipped_model
    from fashion_edge.edge.sources import Frame

    class Frames:
        live, fps, name = False, None, "three frames"

        def frames(self):
            for i in range(3):
                yield Frame(f"frame{i}", np.full((60, 60, 3), 7 if i == 1 else 200, np.uint8))

        def close(self) -> None:
            pass

    real = preprocess.preprocess  # what the loop calls (through nothing.classify_frame) to make model inputs

    def flaky(image, config=None):
        if image[0, 0, 0] == 7:
            raise cv2.error("OpenCV(5.0.0) resize.cpp:4220: error: (-215:Assertion failed) inv_scale_x > 0")
        return real(image, config)

    monkeypatch.setattr(preprocess, "preprocess", flaky)
    lines: list[str] = []
    outputs = cli.Outputs(json_lines=True, echo=lines.append)
    summary = cli.classify_sources(iter([Frames()]), Classifier(shipped_model()), preprocess.PreprocessConfig(),
                                   outputs)  # fmt: skip
    records = [json.loads(line) for line in lines]
    assert [r["source"] for r in records] == ["frame0", "frame1", "frame2"]
    assert "label" in records[0] and "label" in records[2]
    assert "error" in records[1] and "cv2.error" in records[1]["error"] and "\n" not in records[1]["error"]
    assert summary.results == 2 and summary.failures == [("frame1", records[1]["error"])]


def test_stdout_on_a_full_disk_is_one_line_and_exit_1(batch):
    with open("/dev/full", "w") as full:
        result = run_cli(batch / "a_good.png", batch / "f_good.jpg", stdout=full)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "standard output" in result.stderr


def test_save_video_where_nothing_can_be_written_names_the_real_error(batch):
    result = run_cli(batch / "a_good.png", "--save-video", "/proc/edge-classify-test.avi")
    assert result.returncode == 1 and "--save-video" in result.stderr


def test_save_video_on_a_full_disk_keeps_no_finished_looking_file(tmp_path):
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 240))
    rng = np.random.default_rng(0)
    for _ in range(60):
        writer.write(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8))  # noise: ~50 KB a frame
    writer.release()
    out = tmp_path / "out" / "annotated.avi"
    out.parent.mkdir()
    result = run_cli(clip, "--save-video", out, file_size_limit=clip.stat().st_size // 4)
    assert result.returncode == 1 and "--save-video" in result.stderr
    assert not out.exists()
    assert list(out.parent.iterdir()) == []  # no partial left behind either
    whole = run_cli(clip, "--save-video", out)
    assert whole.returncode == 0 and out.exists()
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) == 60


def test_bench_reports_on_a_full_disk_are_all_old_or_all_new(tmp_path):
    """The table comes first (minutes of measuring are not lost); the three reports are a set. `bench merge` writes
    through the same path as a bench run and takes seconds."""
    run = tmp_path / "pi5.json"
    run.write_text(json.dumps(bench_run_doc()))
    out = tmp_path / "bench"
    out.mkdir()
    for name in ("bench.json", "bench.md", "bench.html"):
        (out / name).write_text("the previous run's")
    result = run_cli("bench", "merge", run, "--out", out, module="cli", file_size_limit=2048)  # bench.json: 3 KB
    assert result.returncode == 1
    assert "| Format" in result.stdout  # the results table was printed before the writing failed
    assert "cannot write the reports" in result.stderr and "none was written" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["bench.html", "bench.json", "bench.md"]  # no temporaries
    assert all((out / name).read_text() == "the previous run's" for name in ("bench.json", "bench.md", "bench.html"))
    assert run_cli("bench", "merge", run, "--out", out, module="cli").returncode == 0
    assert json.loads((out / "bench.json").read_text())["kind"] == "merged"
