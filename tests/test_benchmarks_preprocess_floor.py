"""benchmarks/preprocess_floor: every variant measures what it says (a replayed stage gives the pipeline's own
outputs), and the script reports each against the pipeline."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from fashion_edge.benchmarks.edge_footprint import decoded_frames, make_inputs
from fashion_edge.benchmarks.preprocess_floor import STAGES, main, variants
from fashion_edge.edge import kernels


def _same(a, b) -> bool:
    return (
        a.boxes == b.boxes
        and a.nothing == b.nothing
        and a.objects == b.objects
        and all(np.array_equal(x, y) for x, y in zip(a.inputs, b.inputs, strict=True))
    )


def test_replayed_stages_and_gray_frames_give_the_pipelines_outputs(tmp_path):
    frames = decoded_frames(make_inputs(tmp_path, 6)[1], 6)
    runs = variants(frames)
    full = runs["pipeline"]()
    assert len(full) == 6 and all(p.nothing is None for p in full)  # photo frames: a garment in each
    for name in [f"{stage} replayed" for stage in STAGES] + ["frames given gray"]:
        outputs = runs[name]()
        assert all(_same(a, b) for a, b in zip(full, outputs, strict=True)), name
        assert all(_same(a, b) for a, b in zip(full, runs[name](), strict=True)), name  # replays again, in order
    small = runs["160x120 frames"]()
    assert all(p.model_input.shape == (28, 28) for p in small)
    skeleton_inputs = runs["skeleton"]()
    assert all(x is not None and x.shape == (28, 28) and x.dtype == np.uint8 and x.max() > 0 for x in skeleton_inputs)


def test_script_reports_every_variant_against_the_pipeline(tmp_path):
    out = tmp_path / "floor.json"
    result = CliRunner().invoke(main, ["--frames", "5", "--passes", "2", "--json", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["frames"] == 5 and figures["passes"] == 2
    found = figures["variants"]
    reference = {"numpy reference"} if kernels.compiled is not None else set()
    assert figures["kernels"] == bool(reference)
    assert (
        set(found)
        == {"pipeline", "320x240 frames", "160x120 frames", "frames given gray", "skeleton"}
        | {f"{stage} replayed" for stage in STAGES}
        | reference
    )
    assert found["pipeline"]["median_ratio"] == 1.0
    assert all(0.005 < v["best_ms"] < 1000 and 0 < v["median_ratio"] < 100 for v in found.values())
    assert all(f"{name:26s} best pass {v['best_ms']:.3f} ms" in result.output for name, v in found.items())
    calls = figures["calls"]  # this package's own OpenCV and numpy calls a frame (~10 and ~20 with the kernels)
    assert 3 < calls["opencv"] < 200 and 3 < calls["numpy"] < 200
    assert f"{calls['opencv']:.1f} OpenCV, {calls['numpy']:.1f} numpy" in result.output
