"""The data stage: Fashion-MNIST from its IDX `.gz` files (search, download fallback, strict parsing, stratified
splits). Every stage reads the data from here; it imports nothing of the pipeline.

No TensorFlow here: the loader is plain numpy so train/, convert/, benchmarks/ and tests can use it cheaply.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .artifacts import atomic_path
from .errors import FashionEdgeError

CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
# MD5s of the .gz files as published by Zalando Research; checked on download only (Debian recompresses them).
PUBLISHED_GZ_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
# SHA-256 of the decompressed IDX bytes: the same however the file was compressed.
CONTENT_SHA256 = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
DOWNLOAD_URLS = (
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
KERAS_CACHE_DIR = Path.home() / ".keras" / "datasets" / "fashion-mnist"
_IDX_MAGIC = {1: 2049, 3: 2051}  # ndim -> magic number (0x00000801 labels, 0x00000803 images)


@dataclass(frozen=True)
class FashionMNIST:
    """uint8 images (N, 28, 28) and uint8 labels (N,), plus where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source_dir: Path
    content_sha256: dict[str, str]


def _has_all(directory: Path) -> bool:
    return all((directory / name).is_file() for name in FILES.values())


def find_data_dir(data_dir: Path | None = None, *, download: bool = True) -> Path:
    """Return the first directory holding all four files. Search order: `data_dir`, $FASHION_MNIST_DIR,
    /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist), the Keras cache, then a download."""
    if data_dir is not None:
        data_dir = Path(data_dir)
        if not _has_all(data_dir):
            missing = [n for n in FILES.values() if not (data_dir / n).is_file()]
            raise FashionEdgeError(f"--data-dir {data_dir} lacks {', '.join(missing)}")
        return data_dir
    env = os.environ.get("FASHION_MNIST_DIR")
    if env:
        if not _has_all(Path(env)):
            raise FashionEdgeError(f"$FASHION_MNIST_DIR={env} does not hold the four Fashion-MNIST .gz files")
        return Path(env)
    for candidate in (DEBIAN_DIR, KERAS_CACHE_DIR):
        if _has_all(candidate):
            return candidate
    if not download:
        raise FashionEdgeError(
            "Fashion-MNIST not found; on Debian/Ubuntu run `apt-get install dataset-fashion-mnist`, "
            "or pass --data-dir DIR holding the four IDX .gz files"
        )
    return download_fashion_mnist(KERAS_CACHE_DIR)


def download_fashion_mnist(target: Path) -> Path:
    """Download the four files into `target`, each checked against its published MD5 before it is kept."""
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES.values():
        if (target / name).is_file():
            continue
        errors = []
        for base in DOWNLOAD_URLS:
            try:
                with urllib.request.urlopen(base + name, timeout=30) as response:
                    payload = response.read()
            except OSError as e:
                errors.append(f"{base}: {e}")
                continue
            if hashlib.md5(payload).hexdigest() != PUBLISHED_GZ_MD5[name]:
                errors.append(f"{base}: MD5 mismatch")
                continue
            with atomic_path(target / name) as tmp:
                tmp.write_bytes(payload)
            break
        else:
            raise FashionEdgeError(
                f"could not download {name} ({'; '.join(errors)}); install `dataset-fashion-mnist` or pass --data-dir"
            )
    return target


def read_idx_gz(path: Path, ndim: int) -> tuple[np.ndarray, str]:
    """Parse one gzip'd IDX file strictly; return (uint8 array, sha256 of the decompressed bytes)."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise FashionEdgeError(f"{path} is not a readable gzip file ({e}); re-install or re-download it") from e
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise FashionEdgeError(f"{path} is truncated: {len(raw)} bytes, shorter than an IDX header")
    magic, *dims = struct.unpack(f">{1 + ndim}I", raw[:header_size])
    if magic != _IDX_MAGIC[ndim]:
        raise FashionEdgeError(f"{path} is not an IDX file of {ndim} dimension(s) (magic {magic:#010x})")
    expected = header_size + int(np.prod(dims))
    if len(raw) != expected:
        raise FashionEdgeError(f"{path} is truncated or padded: {len(raw)} bytes, header says {expected}")
    array = np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(dims)
    return array, hashlib.sha256(raw).hexdigest()


def load_fashion_mnist(data_dir: Path | None = None, *, download: bool = True) -> FashionMNIST:
    """Load all four files; raise FashionEdgeError naming the file on any corruption or mismatch."""
    directory = find_data_dir(data_dir, download=download)
    arrays, hashes = {}, {}
    for key, name in FILES.items():
        arrays[key], hashes[name] = read_idx_gz(directory / name, ndim=3 if key.endswith("images") else 1)
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
            raise FashionEdgeError(f"{directory}: {split} images {images.shape} do not match labels {labels.shape}")
        if labels.max() >= len(CLASS_NAMES):
            raise FashionEdgeError(f"{directory / FILES[split + '_labels']} holds labels outside 0..9")
    for name, digest in hashes.items():
        if digest != CONTENT_SHA256[name]:
            raise FashionEdgeError(
                f"{directory / name} is a well-formed IDX file but not Fashion-MNIST's (its content sha256 differs); "
                "re-install dataset-fashion-mnist or delete it to re-download"
            )
    return FashionMNIST(
        arrays["train_images"],
        arrays["train_labels"],
        arrays["test_images"],
        arrays["test_labels"],
        directory,
        hashes,
    )


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (rest, held) where `held` takes `fraction` of every class; seeded, sorted."""
    if not 0.0 < fraction < 1.0:
        raise FashionEdgeError(f"split fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    held = []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        held.append(rng.choice(idx, size=max(1, round(len(idx) * fraction)), replace=False))
    held_idx = np.sort(np.concatenate(held))
    rest_idx = np.setdiff1d(np.arange(len(labels)), held_idx)
    return rest_idx, held_idx


def stratified_sample(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """`per_class` indices of each class (fewer if a class is smaller), seeded, sorted."""
    rng = np.random.default_rng(seed)
    picks = [
        rng.choice(idx, size=min(per_class, len(idx)), replace=False)
        for idx in (np.flatnonzero(labels == c) for c in np.unique(labels))
    ]
    return np.sort(np.concatenate(picks))
