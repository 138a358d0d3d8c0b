"""`fashion-edge report`: the quantization accuracy report (Markdown, self-contained HTML, JSON) for a models folder."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..options import data_dir_option, out_dir_option, progress_bar, user_errors
from ..render import kb
from .report import DEFAULT_DEBUG_IMAGES, DEFAULT_DENYLIST_LAYERS


@click.command("report")
@click.argument("models_dir", metavar="MODELS_DIR", type=click.Path(path_type=Path, file_okay=False))
@out_dir_option("runs/report", "report.md, report.html, report.json and the PNGs")
@click.option(
    "--keras",
    "keras_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The model.keras the models were converted from (per-layer errors; default: a matching model.keras "
    "in MODELS_DIR or its parent).",
)
@click.option("--limit", type=click.IntRange(min=10), help="Evaluate on only the first N test images (default all).")
@click.option(
    "--debug-images",
    type=click.IntRange(min=1),
    default=DEFAULT_DEBUG_IMAGES,
    show_default=True,
    help="Test images run through the per-layer QuantizationDebugger.",
)
@click.option(
    "--denylist-layers",
    type=click.IntRange(min=0),
    default=DEFAULT_DENYLIST_LAYERS,
    show_default=True,
    help="Measure int8 with up to this many of the worst layers kept in float.",
)
@data_dir_option
def report_command(
    models_dir: Path,
    out_dir: Path,
    keras_path: Path | None,
    limit: int | None,
    debug_images: int,
    denylist_layers: int,
    data_dir: Path | None,
) -> None:
    """Write the quantization accuracy report for the fashion_*.tflite models (and cards) in MODELS_DIR."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ INFO/WARNING lines are not actionable here
    from .report import build_report

    with user_errors():
        report = build_report(
            models_dir,
            out_dir,
            keras_path=keras_path,
            limit=limit,
            data_dir=data_dir,
            debug_images=debug_images,
            denylist_layers=denylist_layers,
            progress_bar=progress_bar,
        )
    for v in report["variants"]:
        click.echo(f"{v['variant']:<8} {kb(v['size_bytes']):7.1f} KB  accuracy {v['test_accuracy']:.4f}")
    if "int8_vs_float32" in report:
        c = report["int8_vs_float32"]
        click.echo(
            f"int8 vs float32: drop {c['drop_pp']:.2f} pp, agreement {100 * c['agreement']:.2f}%, "
            f"{kb(c['int8_size_bytes']):.1f} KB"
        )
    if "skipped" in report.get("per_layer", {}):
        click.echo(f"per-layer errors skipped: {report['per_layer']['skipped']}")
    click.echo(f"wrote {out_dir / 'report.html'}, report.md, report.json")
