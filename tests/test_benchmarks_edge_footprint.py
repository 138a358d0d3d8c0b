"""benchmarks/edge_footprint: the script runs end to end, and edge-classify stays within its memory target."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

from fashion_edge.benchmarks.edge_footprint import TARGET_RSS_MB, main


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak RSS is read from /proc")
def test_footprint_script_reports_startup_memory_and_throughput(tiny_tflite_dir, tmp_path):
    out = tmp_path / "footprint.json"
    model = tiny_tflite_dir / "fashion_int8.tflite"
    result = CliRunner().invoke(main, ["--model", str(model), "--runs", "1", "--frames", "20", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "start -> first prediction" in result.output and "FPS end to end" in result.output
    figures = json.loads(out.read_text())
    assert 0 < figures["start_to_first_prediction_s"]["median"] < 30
    assert figures["video_1_thread"]["frames"] == 20 and figures["video_1_thread"]["frame_size"] == "640x480"
    assert figures["video_1_thread"]["fps"] > 1
    # the target for `edge-classify photo.jpg`; measured 74 MB on x86-64 with OpenCV 5 and LiteRT 2.3
    assert figures["peak_rss_mb"]["vmhwm_mb"] <= TARGET_RSS_MB
