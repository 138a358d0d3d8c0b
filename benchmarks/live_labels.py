"""Steady labels on a live source: how often the reported label flickers, and how fast it follows a real change.

The clip: a still camera over one garment (only the sensor noise changes from frame to frame), then a second
garment, then the empty surface (`scenes.render_clip`). Each frame goes through the full edge pipeline
(`nothing.classify_frame`); the labels are then reported raw (--smooth 0) and smoothed over N frames
(`smoothing.LabelSmoother`). Measured: label changes per 100 frames within the still segments (flicker), and frames
after each real change until the reported label is the new segment's usual one.

    python -m fashion_edge.benchmarks.live_labels [--model PATH] [--frames 60] [--condition low_contrast]
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import click
import numpy as np

from .models import model_options
from .scenes import GARMENT_CONDITIONS, render_clip

WINDOWS = (0, 3, 5, 9)
CLIP_CLASSES = (6, 0)  # a shirt, then a T-shirt: the pair the model confuses most, so the flicker is real


def clip_labels(
    model_path: Path, images: list[np.ndarray], frames: int, condition: str, seed: int = 0
) -> tuple[list[np.ndarray | None], list[int]]:
    """Per-frame class probabilities (None: nothing in view) over the clip, and where each segment starts."""
    from ..edge.classifier import Classifier
    from ..edge.nothing import classify_frame

    classifier = Classifier(model_path, num_threads=1)
    segments: list[tuple[np.ndarray | None, int]] = [(image, frames) for image in images] + [(None, frames)]
    scores = []
    for frame in render_clip(segments, condition, seed):
        result = classify_frame(frame, classifier)
        scores.append(None if result.nothing else result.prediction.scores)
    return scores, [k * frames for k in range(len(segments))]


def smooth_labels(scores: list[np.ndarray | None], window: int, n_classes: int = 10) -> list[int | None]:
    """What --smooth `window` reports for these per-frame probabilities (0 or 1: the raw labels)."""
    from ..edge.smoothing import LabelSmoother

    smoother = LabelSmoother(window)
    return [smoother.update(s, n_classes).class_id for s in scores]


def flicker_and_lag(reported: list[int | None], raw: list[int | None], starts: list[int]) -> dict[str, float]:
    """Label changes per 100 frames inside the segments, and mean frames to reach each new segment's usual label."""
    from ..edge.smoothing import label_changes

    ends = [*starts[1:], len(reported)]
    changes, lags = 0, []
    for k, (start, end) in enumerate(zip(starts, ends, strict=True)):
        usual = Counter(raw[start:end]).most_common(1)[0][0]
        settled = next((i for i in range(start, end) if reported[i] == usual), end) - start
        if k:
            lags.append(settled)
        changes += label_changes(reported[start + settled : end])
    return {"changes_per_100_frames": 100 * changes / len(reported), "frames_to_follow": float(np.mean(lags))}


@click.command()
@model_options()
@click.option("--frames", type=click.IntRange(10, 1000), default=60, show_default=True, help="Frames per segment.")
@click.option("--condition", type=click.Choice(list(GARMENT_CONDITIONS)), default="low_contrast", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def main(model_path: Path | None, model_size: str, variant: str, frames: int, condition: str, seed: int) -> None:
    """Flicker and lag of the reported label on a rendered clip, raw and smoothed."""
    from ..data import load_fashion_mnist
    from ..edge.registry import shipped_model
    from ..options import user_errors

    with user_errors():
        model_path = model_path or shipped_model(variant, model_size)
        data = load_fashion_mnist()
        images = [data.x_test[np.flatnonzero(data.y_test == c)[seed]] for c in CLIP_CLASSES]
        scores, starts = clip_labels(model_path, images, frames, condition, seed)
    raw = smooth_labels(scores, 1)
    rows = {f"--smooth {w}": flicker_and_lag(smooth_labels(scores, w), raw, starts) for w in WINDOWS}
    click.echo(f"clip: {len(raw)} frames ({condition}): garment, another garment, empty surface")
    click.echo("| labels | changes per 100 frames (still scene) | frames to follow a change |\n|---|---|---|")
    for name, row in rows.items():
        click.echo(f"| {name} | {row['changes_per_100_frames']:.1f} | {row['frames_to_follow']:.1f} |")
    click.echo(json.dumps({"model": str(model_path), "frames": len(raw), "condition": condition, "results": rows}))


if __name__ == "__main__":
    sys.exit(main())
