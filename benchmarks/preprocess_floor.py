"""Where preprocessing's time goes, and how low it could go. The CPU time of `preprocess` on edge_footprint's 640x480
frames (decoded first, one OpenCV thread) against:

1. the same frames at 320x240 and 160x120: what the pixels cost (a smaller frame makes the same calls);
2. the pipeline with one stage replaced by its own results, recorded on the same frames and replayed in order (the
   outputs stay identical): that stage's share. The gray conversion's share: the frames given already gray;
3. a skeleton of the same steps in ~30 OpenCV calls without their robustness (`skeleton`; no accuracy claimed):
   what the pixels and the calls no design can skip cost;
4. the numpy reference of the compiled kernels (edge/_kernels.c), where they are built: what they save;

and counts the OpenCV and numpy calls the pipeline's own code makes a frame (what most of its time goes to).

All variants interleaved pass by pass in one process, the order rotated each pass; the figure is the median ratio of
a variant's pass to the full pipeline's pass beside it. On a shared VM the speed moves minute to minute by more than
these differences, and a ratio within one pass does not.

    python -m fashion_edge.benchmarks.preprocess_floor [--frames 100] [--passes 11] [--json OUT]
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import BuiltinFunctionType, ModuleType
from typing import Any
from unittest import mock

import click
import cv2
import numpy as np

from ..edge import kernels, locate, preprocess
from .edge_footprint import decoded_frames, make_inputs

SIZES = ((320, 240), (160, 120))
STAGES = {  # the stage -> the function whose results are replayed
    "lighting fit": (locate, "fit_lighting"),
    "candidates": (locate, "find_candidates"),  # (labelled, grown, measured, uprighted)
    "crop": (preprocess, "_crop_input"),
}


def skeleton(frame: np.ndarray) -> np.ndarray | None:
    """The pipeline's steps without their robustness (no accuracy claimed): gray, the working copy, cell means, one
    band-only fit of the lighting surface and its background, ink, one threshold, labelling, the largest blob's
    moments, its crop shrunk to CROP_SIDE with its ink, fitted to 28x28 and sharpened. None without a blob."""
    work, factor, _ = locate.downscale(frame)
    cells = locate._cells(work, locate.COARSE)
    z = cv2.log(cv2.max(cells, 1.0)).ravel()
    surface = locate.Lighting(locate._fit_grid(*cells.shape).band_fit @ z, locate._NO_LINES, locate._NO_STEPS, 1.0)
    background = cv2.max(surface.over(*work.shape), 1.0)
    above = (cv2.max(locate.darkness(work, background), 0.0) > locate.MIN_INK).view(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(above, 8, cv2.CV_32S, cv2.CCL_GRANA)
    if count < 2:
        return None
    blob = int(stats[1:, cv2.CC_STAT_AREA].argmax()) + 1
    x, y, w, h = stats[blob, :4].tolist()
    cv2.moments((labels[y : y + h, x : x + w] == blob).view(np.uint8), True)
    x0, y0, x1, y1 = int(x / factor), int(y / factor), math.ceil((x + w) / factor), math.ceil((y + h) / factor)
    region = locate.shrink(locate.to_gray(frame[y0:y1, x0:x1]), preprocess.CROP_SIDE)
    under = cv2.resize(background[y : y + h, x : x + w], region.shape[::-1], None, 0, 0, cv2.INTER_LINEAR)
    return preprocess.sharpen(preprocess.fit_to_square(locate.ink(region, under, True)), scale=255.0)


def replaying(module: ModuleType, name: str, frames: list[np.ndarray]) -> Callable[[], list[Any]]:
    """A run of `preprocess` over `frames` with `module.name` replaced by its own results on them, recorded now and
    replayed in order; the run returns the outputs (identical to the pipeline's)."""
    original, results = getattr(module, name), []

    def record(*args: Any) -> Any:
        results.append(original(*args))
        return results[-1]

    with mock.patch.object(module, name, record):
        for frame in frames:
            preprocess.preprocess(frame)

    def run() -> list[Any]:
        replay = iter(results)
        with mock.patch.object(module, name, lambda *args: next(replay)):
            return [preprocess.preprocess(frame) for frame in frames]

    return run


def variants(frames: list[np.ndarray]) -> dict[str, Callable[[], Any]]:
    """Each variant as a run over the frames, the full pipeline first."""
    runs: dict[str, Callable[[], Any]] = {"pipeline": lambda: [preprocess.preprocess(f) for f in frames]}
    for w, h in SIZES:
        smaller = [cv2.resize(f, (w, h), None, 0, 0, cv2.INTER_AREA) for f in frames]
        runs[f"{w}x{h} frames"] = lambda smaller=smaller: [preprocess.preprocess(f) for f in smaller]
    gray = [preprocess.to_gray(f) for f in frames]
    runs["frames given gray"] = lambda: [preprocess.preprocess(g) for g in gray]
    for stage, (module, name) in STAGES.items():
        runs[f"{stage} replayed"] = replaying(module, name, frames)
    runs["skeleton"] = lambda: [skeleton(f) for f in frames]
    if kernels.compiled is not None:
        runs["numpy reference"] = lambda: _without_kernels(runs["pipeline"])
    return runs


def _without_kernels(run: Callable[[], Any]) -> Any:
    with mock.patch.object(kernels, "compiled", None):
        return run()


def library_calls(frames: list[np.ndarray]) -> dict[str, float]:
    """OpenCV and numpy calls (functions and methods; numpy's operators are not calls) that this package's own code
    makes per frame in `preprocess`, counted with sys.setprofile."""
    opencv = {id(f) for f in vars(cv2).values() if isinstance(f, BuiltinFunctionType)}
    package = os.path.realpath(Path(__file__).parents[1]) + os.sep
    ours: dict[Any, bool] = {}  # code object -> whether it is this package's
    counts: Counter[str] = Counter()

    def count(frame: Any, event: str, arg: Any) -> None:
        if event != "c_call":
            return
        code = frame.f_code
        if code not in ours:
            ours[code] = os.path.realpath(code.co_filename).startswith(package)
        if not ours[code]:
            return
        owner = getattr(arg, "__self__", None)
        if id(arg) in opencv:
            counts["opencv"] += 1
        elif isinstance(owner, np.ndarray | np.ufunc) or getattr(owner, "__name__", "").startswith("numpy"):
            counts["numpy"] += 1

    sys.setprofile(count)
    try:
        for frame in frames:
            preprocess.preprocess(frame)
    finally:
        sys.setprofile(None)
    return {kind: counts[kind] / len(frames) for kind in ("opencv", "numpy")}


def interleaved(runs: dict[str, Callable[[], Any]], passes: int, frames: int) -> dict[str, list[float]]:
    """CPU milliseconds per frame of each run, pass by pass, the order rotated each pass."""
    names, times = list(runs), {name: [] for name in runs}
    for p in range(passes):
        for name in names[p % len(names) :] + names[: p % len(names)]:
            started = time.process_time()
            runs[name]()
            times[name].append(1000 * (time.process_time() - started) / frames)
    return times


def measure(frames: list[np.ndarray], passes: int) -> dict[str, dict[str, float]]:
    """Per variant: its best pass (ms a frame) and the median ratio of its passes to the pipeline's beside them."""
    times = interleaved(variants(frames), passes, len(frames))
    base = times["pipeline"]
    return {
        name: {"best_ms": min(t), "median_ratio": statistics.median(a / b for a, b in zip(t, base, strict=True))}
        for name, t in times.items()
    }


@click.command()
@click.option("--frames", type=click.IntRange(5, 300), default=100, show_default=True, help="Frames per pass.")
@click.option("--passes", type=click.IntRange(1, 100), default=11, show_default=True, help="Passes of each variant.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Also write results here.")
def main(frames: int, passes: int, json_out: Path | None) -> None:
    """CPU time of preprocessing 640x480 frames against smaller frames, replayed stages and a call-lean skeleton."""
    from ..artifacts import atomic_write_json

    with tempfile.TemporaryDirectory(prefix="preprocess_floor_") as tmp:
        _, video = make_inputs(Path(tmp), frames)
        images = decoded_frames(video, frames)
    results, calls = measure(images, passes), library_calls(images)
    which = "compiled kernels" if kernels.compiled is not None else "numpy reference (kernels not built)"
    click.echo(f"{len(images)} frames of 640x480, {passes} passes, CPU time at 1 OpenCV thread, {which}:")
    for name, r in results.items():
        click.echo(f"  {name:26s} best pass {r['best_ms']:.3f} ms  {r['median_ratio']:.3f}x the pipeline")
    click.echo(f"the pipeline's own calls a frame: {calls['opencv']:.1f} OpenCV, {calls['numpy']:.1f} numpy")
    if json_out:
        atomic_write_json(
            json_out,
            {
                "frames": len(images),
                "passes": passes,
                "kernels": kernels.compiled is not None,
                "variants": results,
                "calls": calls,
            },
        )


if __name__ == "__main__":
    sys.exit(main())
