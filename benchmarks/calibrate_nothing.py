"""Calibrate a model's "nothing in view" threshold on held-out frames and store it in the model's card.

Held out means never reported on: the garments are Fashion-MNIST *training* images (the figures in the README come
from test images), rendered under every garment condition of `benchmarks.scenes` with a seed of their own. The
threshold is the `--quantile` of the model's top score on those frames (`edge.nothing.calibrate`, TF-free) and is
written into the card beside the model, atomically, under "nothing".

    python -m fashion_edge.benchmarks.calibrate_nothing [--model PATH | --model-size small|nano] [--per-class 25]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import numpy as np

from ..data import stratified_sample
from ..edge.nothing import DEFAULT_QUANTILE
from ..edge.registry import SHIPPED_VARIANTS
from .models import model_options
from .scenes import GARMENT_CONDITIONS, iter_frames

CALIBRATION_SEED = 1009  # not the benchmark's seed: other frames, other images
CALIBRATION_PER_CLASS = 25  # x 8 conditions x 10 classes: 2,000 frames, so a 0.5% quantile rests on 10 of them


def calibration_indices(labels: np.ndarray, per_class: int = CALIBRATION_PER_CLASS) -> np.ndarray:
    """The training images the threshold is calibrated on (indices into `labels`, the training labels): kept out of
    the camera inputs for training (camera_inputs.py), so the calibration frames stay held out."""
    return stratified_sample(labels, per_class, CALIBRATION_SEED)


def held_out_frames(images: np.ndarray, seed: int = CALIBRATION_SEED) -> Iterator[np.ndarray]:
    """`images` rendered under every garment condition in turn."""
    for condition in GARMENT_CONDITIONS:
        yield from iter_frames(images, condition, seed)


@click.command()
@model_options(with_variant=False)
@click.option(
    "--per-class",
    type=click.IntRange(2, 500),
    default=CALIBRATION_PER_CLASS,
    show_default=True,
    help="Training images per class, each rendered under every garment condition.",
)
@click.option(
    "--quantile",
    type=click.FloatRange(0.001, 0.2),
    default=DEFAULT_QUANTILE,
    show_default=True,
    help="Fraction of held-out garment frames the model-side check may turn away.",
)
@click.option("--dry-run", is_flag=True, help="Print the calibration, do not write the card.")
def main(model_path: Path | None, model_size: str, per_class: int, quantile: float, dry_run: bool) -> None:
    """Calibrate the model-side "nothing in view" threshold and store it in the model card(s)."""
    from ..data import load_fashion_mnist
    from ..edge.classifier import Classifier
    from ..edge.nothing import calibrate, store_calibration
    from ..edge.registry import shipped_model
    from ..options import user_errors

    with user_errors():
        data = load_fashion_mnist()
        idx = calibration_indices(data.y_train, per_class)
        paths = [model_path] if model_path else [shipped_model(v, model_size) for v in SHIPPED_VARIANTS]
        for path in paths:
            calibration = calibrate(Classifier(path, num_threads=1), held_out_frames(data.x_train[idx]), quantile)
            calibration |= {
                "held_out": f"{len(idx)} training images x {len(GARMENT_CONDITIONS)} conditions, "
                f"seed {CALIBRATION_SEED}"
            }
            if not dry_run:
                store_calibration(path, calibration)
            click.echo(f"{path}: {json.dumps(calibration)}{'' if dry_run else ' (stored in its card)'}")


if __name__ == "__main__":
    sys.exit(main())
