"""Does the edge preprocessing survive real photos? Accuracy on Fashion-MNIST test images rendered as camera frames.

Each test image is turned back into something like the photo it was made from, then into a 640x480 camera frame:
negated (dark garment on a light background), upscaled with interpolation to 150-400 px, slightly rotated and
blurred, placed off-centre, lit by an uneven gradient with vignetting, colour-tinted, noisy and JPEG-compressed.
The model is then scored three ways: on the dataset images themselves, on the rendered frames through
`edge.preprocess.to_model_input` (photo mode), and through the naive gray+resize pipeline (the baseline).

    python -m fashion_edge.benchmarks.photo_accuracy [--model PATH] [--per-class 50] [--json OUT]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import cv2
import numpy as np

from ..edge.registry import SHIPPED_VARIANTS

FRAME_W, FRAME_H = 640, 480


def render_photo(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One 28x28 Fashion-MNIST image (light on dark) -> a 640x480 BGR uint8 'photo' of it (dark on light)."""
    size = int(rng.integers(150, 401))
    reflectance = 1.0 - cv2.resize(image.astype(np.float32) / 255.0, (size, size), interpolation=cv2.INTER_CUBIC)
    angle = float(rng.uniform(-6, 6))
    rot = cv2.getRotationMatrix2D((size / 2, size / 2), angle, 1.0)
    reflectance = cv2.warpAffine(reflectance, rot, (size, size), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=1.0)  # fmt: skip
    scene = np.ones((FRAME_H, FRAME_W), dtype=np.float32)
    top, left = int(rng.integers(0, FRAME_H - size + 1)), int(rng.integers(0, FRAME_W - size + 1))
    scene[top : top + size, left : left + size] = np.clip(reflectance, 0.0, 1.0)
    # light: a linear gradient in a random direction (0.55..1.0) times a soft vignette centred off the frame centre
    ys, xs = np.mgrid[0:FRAME_H, 0:FRAME_W].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(theta) * (xs / FRAME_W - 0.5) + np.sin(theta) * (ys / FRAME_H - 0.5)) + 0.5
    low = rng.uniform(0.55, 0.8)
    light = low + (1.0 - low) * np.clip(ramp, 0, 1)
    cx, cy = rng.uniform(0.3, 0.7) * FRAME_W, rng.uniform(0.3, 0.7) * FRAME_H
    light *= 1.0 - 0.25 * (((xs - cx) ** 2 + (ys - cy) ** 2) / (FRAME_W**2 / 4 + FRAME_H**2 / 4))
    exposure = rng.uniform(190, 245)
    tint = rng.uniform(0.88, 1.06, size=3).astype(np.float32)  # per channel, B G R
    frame = (scene * light * exposure)[:, :, None] * tint[None, None, :]
    frame = cv2.GaussianBlur(frame, (0, 0), float(rng.uniform(0.4, 1.2)))
    frame += rng.normal(0.0, rng.uniform(2.0, 6.0), size=frame.shape).astype(np.float32)
    frame = np.clip(frame, 0, 255).astype(np.uint8)
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(60, 91))])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)


def iter_photos(images: np.ndarray, seed: int = 0) -> Iterator[np.ndarray]:
    """Render (N, 28, 28) images one by one with one seeded generator: the same inputs give the same frames."""
    rng = np.random.default_rng(seed)
    for image in images:
        yield render_photo(image, rng)


def render_photos(images: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    """All of `iter_photos` as a list (about 1 MB per frame: use iter_photos for big sets)."""
    return list(iter_photos(images, seed))


def measure(model_path: Path, images: np.ndarray, labels: np.ndarray, seed: int = 0,
            num_threads: int | None = None) -> dict[str, float]:  # fmt: skip
    """Top-1 accuracy on the dataset images, on rendered frames with photo preprocessing, and with the naive one."""
    from ..edge.card import card_path, read_card
    from ..edge.evaluate import predict_scores, top1_accuracy
    from ..edge.preprocess import PreprocessConfig, naive_input, to_model_input

    card = read_card(card_path(model_path))
    photo, auto, naive = [], [], []
    for frame in iter_photos(images, seed):  # frame by frame: only the 28x28 inputs are kept
        photo.append(to_model_input(frame, PreprocessConfig(mode="photo")))
        auto.append(to_model_input(frame))
        naive.append(naive_input(frame))

    def accuracy(x: np.ndarray | list[np.ndarray]) -> float:
        return top1_accuracy(predict_scores(model_path, card, np.stack(x), num_threads=num_threads), labels)

    return {
        "images": int(len(images)),
        "dataset_accuracy": accuracy(images),
        "photo_accuracy": accuracy(photo),
        "auto_accuracy": accuracy(auto),
        "naive_accuracy": accuracy(naive),
    }


@click.command()
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A .tflite with its card beside it (default: the shipped int8 model).")  # fmt: skip
@click.option("--variant", type=click.Choice(SHIPPED_VARIANTS), default="int8", show_default=True)
@click.option("--per-class", type=click.IntRange(1, 1000), default=50, show_default=True,
              help="Test images per class (stratified sample).")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Also write results here.")
@click.option("--save-examples", type=click.Path(file_okay=False, path_type=Path),
              help="Write a few rendered frames and their 28x28 inputs as PNGs here.")  # fmt: skip
def main(model_path: Path | None, variant: str, per_class: int, seed: int, json_out: Path | None,
         save_examples: Path | None) -> None:  # fmt: skip
    """Accuracy of the edge preprocessing on photo-like renders of the Fashion-MNIST test set."""
    from ..artifacts import atomic_write_json, ensure_writable_dir
    from ..data import load_fashion_mnist, stratified_sample
    from ..edge.preprocess import PreprocessConfig, naive_input, to_model_input
    from ..edge.registry import shipped_model
    from ..options import user_errors

    with user_errors():
        model_path = model_path or shipped_model(variant)
        data = load_fashion_mnist()
        idx = stratified_sample(data.y_test, per_class, seed)
        result = {"model": str(model_path), "seed": seed,
                  **measure(model_path, data.x_test[idx], data.y_test[idx], seed)}  # fmt: skip
        if save_examples:
            ensure_writable_dir(save_examples)
            for i, frame in enumerate(render_photos(data.x_test[idx[:8]], seed)):
                cv2.imwrite(str(save_examples / f"frame_{i}.jpg"), frame)
                cv2.imwrite(str(save_examples / f"photo_{i}.png"), to_model_input(frame, PreprocessConfig("photo")))
                cv2.imwrite(str(save_examples / f"naive_{i}.png"), naive_input(frame))
        if json_out:
            atomic_write_json(json_out, result)
    click.echo(json.dumps(result, indent=2))


if __name__ == "__main__":
    sys.exit(main())
