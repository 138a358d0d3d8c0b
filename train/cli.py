"""`fashion-edge train`: fit the CNN with a named profile and write its artifacts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from ..options import data_dir_option, out_dir_option, user_errors
from .distribute import SCALINGS, STRATEGIES, DistributeOptions, plan

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)  # an input file the run reads (--teacher, --init, ...)


@click.command("train")
@click.option(
    "--profile",
    type=click.Choice(["quick", "full", "small", "small_camera", "nano"]),
    default="quick",
    show_default=True,
    help="quick: minutes, a tiny net; full: 32/64,64/128 convs with a flatten head, ~20 min; small then "
    "small_camera (its fine-tune with camera inputs: needs --init and --extra-inputs), and nano: the shipped models' "
    "recipes (make model). Interrupted runs resume from --out/checkpoint.",
)
@click.option("--epochs", type=click.IntRange(min=1), help="Override the profile's epoch count.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Override the profile's batch size.")
@click.option("--seed", type=int, help="Random seed (same seed, same weights on the same machine).")
@click.option("--train-limit", type=click.IntRange(min=10), help="Train on only this many images (smoke runs).")
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
    default="default",
    show_default=True,
    help="tf.distribute strategy: default (one device); mirrored (every local GPU, or --devices logical CPU "
    "devices); multi-worker (the cluster in TF_CONFIG, needs tf-keras; see docs/distributed.md).",
)
@click.option(
    "--devices",
    type=click.IntRange(min=1),
    help="With --strategy mirrored: split the CPU into N logical devices (tests replication, not speed).",
)
@click.option(
    "--batch-scaling",
    type=click.Choice(SCALINGS),
    default="fixed",
    show_default=True,
    help="fixed: --batch-size is the global batch, split over the replicas, learning rate as tuned; linear: the "
    "global batch and the peak learning rate are multiplied by the number of replicas.",
)
@click.option(
    "--teacher",
    type=_FILE,
    multiple=True,
    help="A trained .keras model to distil from: each training target mixes its softmax in (the nano profile "
    "needs one; make model passes runs/small/model.keras). Repeat it to distil from an ensemble: the mean of the "
    "teachers' softmaxes. Teachers never ship.",
)
@click.option(
    "--distill-weight",
    type=click.FloatRange(min=0.0, max=1.0, max_open=True),
    help="Share of each target taken from the teacher's softmax [default: the profile's, or 0.5 with --teacher].",
)
@click.option(
    "--init",
    type=_FILE,
    help="A trained .keras model of the same architecture to start from (small_camera needs one: "
    "runs/small/model.keras from --profile small).",
)
@click.option(
    "--extra-inputs",
    type=_FILE,
    help="An .npz of more training inputs (small_camera needs one: `python -m "
    "fashion_edge.benchmarks.camera_inputs` renders training images as camera frames and preprocesses them).",
)
@out_dir_option("runs/train", "model.keras, history.json and training.json")
@data_dir_option
def train_command(
    profile: str,
    epochs: int | None,
    batch_size: int | None,
    seed: int | None,
    train_limit: int | None,
    strategy: str,
    devices: int | None,
    batch_scaling: str,
    teacher: tuple[Path, ...],
    distill_weight: float | None,
    init: Path | None,
    extra_inputs: Path | None,
    out_dir: Path,
    data_dir: Path | None,
) -> None:
    """Train the Fashion-MNIST CNN and save model.keras, history.json and training.json to --out."""
    from .fit import DISTILL_WEIGHT, PROFILES, train

    overrides = {
        k: v
        for k, v in dict(epochs=epochs, batch_size=batch_size, seed=seed, train_limit=train_limit).items()
        if v is not None
    }
    cfg = replace(PROFILES[profile], **overrides)
    if distill_weight is not None or (teacher and not cfg.distill_weight):
        cfg = replace(cfg, distill_weight=DISTILL_WEIGHT if distill_weight is None else distill_weight)
    options = DistributeOptions(strategy, devices, batch_scaling)
    with user_errors():
        is_chief = plan(options).is_chief
        result = train(
            cfg, out_dir, data_dir, distribution=options, teacher=teacher, init=init, extra_inputs=extra_inputs
        )
    if not is_chief:
        click.echo(f"worker done (val accuracy {result.val_accuracy:.4f}); the chief writes the artifacts")
        return
    click.echo(
        f"saved {result.model_path} | val accuracy {result.val_accuracy:.4f} | "
        f"test accuracy {result.test_accuracy:.4f} | {result.wall_time_s:.0f} s"
    )
