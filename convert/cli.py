"""`fashion-edge convert`: a trained model.keras -> verified `.tflite` variants with their model cards."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..edge.variants import CONVERTIBLE, VARIANTS
from ..options import data_dir_option, out_dir_option, progress_bar, user_errors
from ..render import kb
from .calibration import DEFAULT_CALIBRATION_IMAGES, MIN_CALIBRATION_IMAGES
from .converter import IO_TYPES


@click.command("convert")
@click.argument("model_path", metavar="MODEL.keras", type=click.Path(path_type=Path, dir_okay=False))
@out_dir_option("runs/tflite", "fashion_<variant>.tflite and its card fashion_<variant>.json")
@click.option(
    "--variants",
    default=",".join(VARIANTS),
    show_default=True,
    help=f"Comma-separated, from {', '.join(CONVERTIBLE)}. int16x8 (int16 activations) runs on reference kernels "
    "(~100x slower than int8 on x86); int8_mixed keeps the --float-layers in float (its card lists them).",
)
@click.option(
    "--calibration",
    "calibration_images",
    type=int,
    default=DEFAULT_CALIBRATION_IMAGES,
    show_default=True,
    help=f"int8 calibration images from the training split, stratified per class (>= {MIN_CALIBRATION_IMAGES}).",
)
@click.option(
    "--calibration-augment",
    is_flag=True,
    help="Calibrate on the images plus a flipped, shifted copy of each (ranges closer to what training saw).",
)
@click.option(
    "--float-layers",
    default="auto:2",
    show_default=True,
    help="int8_mixed only: auto:N keeps the N layers with the largest int8 error (ranked on training images) in "
    "float, or give comma-separated tensor names from `fashion-edge report`.",
)
@click.option(
    "--calibration-seed", type=int, default=0, show_default=True, help="Seed for picking the calibration images."
)
@click.option(
    "--io",
    "io_type",
    type=click.Choice(IO_TYPES),
    default="uint8",
    show_default=True,
    help="int8 model input type: uint8 takes raw pixels (scale 1, zero point 0); int8 takes pixel-128.",
)
@click.option(
    "--max-drop",
    "max_drop_pp",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Warn when a variant's test accuracy is more than this many points below the Keras model's.",
)
@click.option("--strict", is_flag=True, help="Make a --max-drop violation an error (then no model is written).")
@click.option(
    "--qat-epochs",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Also write int8_qat: int8 after N epochs of quantization-aware fine-tuning "
    "(needs tf-keras and tensorflow-model-optimization).",
)
@click.option(
    "--verify-limit",
    type=click.IntRange(min=1),
    help="Verify on only the first N test images (default: all 10,000).",
)
@data_dir_option
def convert_command(
    model_path: Path,
    out_dir: Path,
    variants: str,
    calibration_images: int,
    calibration_augment: bool,
    float_layers: str,
    calibration_seed: int,
    io_type: str,
    max_drop_pp: float,
    strict: bool,
    qat_epochs: int,
    verify_limit: int | None,
    data_dir: Path | None,
) -> None:
    """Convert MODEL.keras to TFLite variants, each verified on the test set, with a model card beside it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ INFO/WARNING lines are not actionable here
    from .tflite import convert_model, parse_variants

    with user_errors():
        results = convert_model(
            model_path,
            out_dir,
            parse_variants(variants),
            calibration_images,
            io_type,
            calibration_seed=calibration_seed,
            data_dir=data_dir,
            verify_limit=verify_limit,
            max_drop_pp=max_drop_pp,
            strict=strict,
            qat_epochs=qat_epochs,
            float_layers=float_layers,
            calibration_augment=calibration_augment,
            progress_bar=progress_bar,
        )
    click.echo(f"{'variant':<10}  {'size KB':>8}  {'accuracy':>8}  {'agreement':>9}  {'drop pp':>7}  file")
    for r in results:
        click.echo(
            f"{r.variant:<10}  {kb(r.size_bytes):8.1f}  {r.test_accuracy:8.4f}  {r.agreement_with_float:9.4f}"
            f"  {r.accuracy_drop_pp:7.2f}  {r.model_path}"
        )
    for r in results:
        if r.warning:
            click.secho(f"warning: {r.warning}", fg="yellow", err=True)
