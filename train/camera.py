"""Camera-like training inputs: training-split garments rendered into 640x480 camera frames (benchmarks/scenes.py,
the garment conditions in turn) and run through the edge preprocessing, so the model also learns the 28x28 inputs a
camera gives (resampled, uprighted, trimmed, sharpened, stretched), not only the dataset's.

Never the validation split (it picks nothing here, but stays clean), nor the images the nothing-in-view threshold is
calibrated on; the test set is never rendered for training. TF-free: it runs before TensorFlow is imported, in
worker processes, chunk by chunk with a seed per chunk (any number of workers gives the same set).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ..benchmarks.calibrate_nothing import calibration_indices
from ..benchmarks.scenes import GARMENT_CONDITIONS, render_frame
from ..host import allowed_cpus

CHUNK = 500  # frames per worker task (and per seed)
_STREAM = 777  # the camera set's random stream, beside the run's seed


def _render_chunk(
    images: np.ndarray, labels: np.ndarray, seed: int, chunk: int, start: int
) -> tuple[np.ndarray, np.ndarray]:
    """Chunk number `chunk` of the set, from its position `start`: each image rendered under the next garment
    condition and preprocessed; frames preprocessing turns away (nothing in view) are dropped."""
    import cv2

    from ..edge.preprocess import MODEL_SIZE, preprocess

    cv2.setNumThreads(1)
    rng = np.random.default_rng([seed, _STREAM, chunk])
    conditions = list(GARMENT_CONDITIONS)
    kept, kept_labels = [], []
    for k, (image, label) in enumerate(zip(images, labels, strict=True)):
        pre = preprocess(render_frame(image, conditions[(start + k) % len(conditions)], rng))
        if pre.nothing is None:
            kept.append(pre.model_input)
            kept_labels.append(label)
    empty = np.zeros((0, MODEL_SIZE, MODEL_SIZE), np.uint8)
    return (np.stack(kept) if kept else empty), np.array(kept_labels, dtype=labels.dtype)


def camera_set(
    images: np.ndarray, labels: np.ndarray, pool: np.ndarray, count: int, seed: int, workers: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """`count` images drawn (seeded) from indices `pool` of `images`, less the calibration images, as camera inputs:
    (N, 28, 28) uint8 and their labels, N <= count."""
    pool = np.setdiff1d(pool, calibration_indices(labels))
    pick = np.sort(np.random.default_rng([seed, _STREAM]).choice(pool, min(count, len(pool)), replace=False))
    starts = range(0, len(pick), CHUNK)
    args = [(images[pick[i : i + CHUNK]], labels[pick[i : i + CHUNK]], seed, n, i) for n, i in enumerate(starts)]
    workers = max(1, min(workers or allowed_cpus(), len(args)))
    if workers == 1:
        parts = [_render_chunk(*a) for a in args]
    else:
        # (spawned, not forked: the caller may have imported TensorFlow, whose threads do not survive a fork)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as executor:
            parts = list(executor.map(_render_chunk, *zip(*args, strict=True)))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
