"""Camera inputs for training: training-split garments rendered into 640x480 camera frames (`scenes.py`, the garment
conditions in turn) and run through the edge preprocessing, so a model can also learn the 28x28 inputs a camera gives
(resampled, uprighted, trimmed, sharpened, stretched), not only the dataset's. `fashion-edge train --extra-inputs`
reads the file (the small_camera profile needs it).

Never the validation split of the run they are for (same seed and fraction; training checks `source_index`), nor the
images the nothing-in-view threshold is calibrated on; the test set is never rendered for training. Rendered in worker
processes, chunk by chunk with a seed per chunk: any number of workers gives the same file.

    python -m fashion_edge.benchmarks.camera_inputs [--count 16000] [--seed 42] [--out runs/camera_inputs.npz]
"""

from __future__ import annotations

import io
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import click
import numpy as np

from ..host import allowed_cpus
from ..options import data_dir_option, user_errors
from .calibrate_nothing import calibration_indices
from .scenes import GARMENT_CONDITIONS, render_frame

CHUNK = 500  # frames per worker task (and per seed)
_STREAM = 777  # the camera set's random stream, beside the seed


def _render_chunk(images: np.ndarray, seed: int, chunk: int, start: int) -> tuple[np.ndarray, np.ndarray]:
    """Chunk number `chunk` of the set, from its position `start`: each image rendered under the next garment
    condition and preprocessed; kept[i] says whether preprocessing found a garment (else it is dropped)."""
    import cv2

    from ..edge.preprocess import MODEL_SIZE, preprocess

    cv2.setNumThreads(1)
    rng = np.random.default_rng([seed, _STREAM, chunk])
    conditions = list(GARMENT_CONDITIONS)
    inputs, kept = [], []
    for k, image in enumerate(images):
        pre = preprocess(render_frame(image, conditions[(start + k) % len(conditions)], rng))
        kept.append(pre.nothing is None)
        if kept[-1]:
            inputs.append(pre.model_input)
    empty = np.zeros((0, MODEL_SIZE, MODEL_SIZE), np.uint8)
    return (np.stack(inputs) if inputs else empty), np.array(kept, dtype=bool)


def camera_set(
    images: np.ndarray, labels: np.ndarray, pool: np.ndarray, count: int, seed: int, workers: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`count` images drawn (seeded) from indices `pool` of `images`, less the calibration images, as camera inputs:
    (N, 28, 28) uint8, their labels and their indices into `images`, N <= count."""
    pool = np.setdiff1d(pool, calibration_indices(labels))
    pick = np.sort(np.random.default_rng([seed, _STREAM]).choice(pool, min(count, len(pool)), replace=False))
    starts = range(0, len(pick), CHUNK)
    args = [(images[pick[i : i + CHUNK]], seed, n, i) for n, i in enumerate(starts)]
    workers = max(1, min(workers or allowed_cpus(), len(args)))
    if workers == 1:
        parts = [_render_chunk(*a) for a in args]
    else:
        # (spawned, not forked: the caller may have imported TensorFlow, whose threads do not survive a fork)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as executor:
            parts = list(executor.map(_render_chunk, *zip(*args, strict=True)))
    kept = np.concatenate([p[1] for p in parts])
    return np.concatenate([p[0] for p in parts]), labels[pick[kept]], pick[kept]


def write_camera_inputs(path: Path, count: int, seed: int, val_fraction: float, data_dir: Path | None = None) -> dict:
    """Render the camera inputs for a run with this `seed` and `val_fraction` and write them to `path` (.npz,
    atomically): x (N, 28, 28) uint8, y, source_index (into the training images) and `record` (JSON)."""
    from ..artifacts import atomic_write_bytes
    from ..data import load_fashion_mnist, stratified_split

    data = load_fashion_mnist(data_dir)
    train_idx, _ = stratified_split(data.y_train, val_fraction, seed)
    started = time.time()
    x, y, source = camera_set(data.x_train, data.y_train, train_idx, count, seed)
    record = {
        "rendered": count,
        "kept": len(y),
        "seed": seed,
        "val_fraction": val_fraction,
        "conditions": list(GARMENT_CONDITIONS),
        "render_time_s": round(time.time() - started, 1),
    }
    buffer = io.BytesIO()
    np.savez(buffer, x=x, y=y, source_index=source, record=np.array(json.dumps(record)))
    atomic_write_bytes(path, buffer.getvalue())
    return record


@click.command()
@click.option("--count", type=click.IntRange(10, 50000), default=16000, show_default=True, help="Frames to render.")
@click.option("--seed", type=int, default=42, show_default=True, help="The training run's seed (its split too).")
@click.option(
    "--val-fraction",
    type=click.FloatRange(0.0, 0.5, max_open=True),
    default=0.1,
    show_default=True,
    help="The training run's validation fraction: its validation images are never rendered.",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("runs/camera_inputs.npz"),
    show_default=True,
)
@data_dir_option
def main(count: int, seed: int, val_fraction: float, out_path: Path, data_dir: Path | None) -> None:
    """Render training images as camera frames, preprocess them, write the 28x28 inputs for `train --extra-inputs`."""
    from ..artifacts import ensure_writable_dir

    with user_errors():
        ensure_writable_dir(out_path.parent)
        click.echo(f"rendering {count} camera frames of training images on {allowed_cpus()} CPU(s) ...", err=True)
        record = write_camera_inputs(out_path, count, seed, val_fraction, data_dir)
    click.echo(f"wrote {out_path}: {json.dumps(record)}")


if __name__ == "__main__":
    sys.exit(main())
