"""The Fashion-MNIST loader on the real files: shapes, balance, checksums, corruption, search order, download."""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
from pathlib import Path

import numpy as np
import pytest

from fashion_edge import data
from fashion_edge.data import (
    CLASS_NAMES,
    CONTENT_SHA256,
    FILES,
    load_fashion_mnist,
    read_idx_gz,
    stratified_sample,
    stratified_split,
)
from fashion_edge.errors import FashionEdgeError


def test_shapes_dtypes_and_balance(fmnist):
    assert fmnist.x_train.shape == (60000, 28, 28) and fmnist.x_test.shape == (10000, 28, 28)
    assert fmnist.x_train.dtype == np.uint8 and fmnist.y_train.dtype == np.uint8
    assert len(CLASS_NAMES) == 10
    # Fashion-MNIST is exactly balanced: 6,000 training and 1,000 test images per class.
    assert np.bincount(fmnist.y_train).tolist() == [6000] * 10
    assert np.bincount(fmnist.y_test).tolist() == [1000] * 10
    # Real images, not zeros: light objects on a black background.
    assert fmnist.x_train[:, 0, 0].mean() < 5 and 60 < fmnist.x_train.mean() < 90


def test_checksums_match_the_published_content(fmnist):
    assert fmnist.content_sha256 == CONTENT_SHA256


@pytest.fixture
def data_copy(fmnist, tmp_path) -> Path:
    for name in FILES.values():
        shutil.copy(fmnist.source_dir / name, tmp_path / name)
    return tmp_path


def test_truncated_file_names_the_file(data_copy):
    target = data_copy / FILES["test_images"]
    raw = gzip.decompress(target.read_bytes())
    target.write_bytes(gzip.compress(raw[: len(raw) // 2]))
    with pytest.raises(FashionEdgeError, match="t10k-images-idx3-ubyte.gz.*truncated"):
        load_fashion_mnist(data_copy)


def test_cut_gzip_stream_names_the_file(data_copy):
    target = data_copy / FILES["train_labels"]
    target.write_bytes(target.read_bytes()[:1000])
    with pytest.raises(FashionEdgeError, match="train-labels-idx1-ubyte.gz"):
        load_fashion_mnist(data_copy)


def test_not_gzip_and_wrong_magic(tmp_path):
    junk = tmp_path / "junk.gz"
    junk.write_bytes(b"this is not gzip")
    with pytest.raises(FashionEdgeError, match="not a readable gzip"):
        read_idx_gz(junk, ndim=1)
    wrong = tmp_path / "wrong.gz"
    wrong.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 20))
    with pytest.raises(FashionEdgeError, match="not an IDX file"):
        read_idx_gz(wrong, ndim=1)


def test_mismatched_image_and_label_counts(data_copy):
    labels = data_copy / FILES["test_labels"]
    raw = gzip.decompress(labels.read_bytes())
    count = (9999).to_bytes(4, "big")
    labels.write_bytes(gzip.compress(raw[:4] + count + raw[8 : 8 + 9999]))
    with pytest.raises(FashionEdgeError, match="do not match"):
        load_fashion_mnist(data_copy)


def test_well_formed_but_different_content_is_refused(data_copy):
    labels = data_copy / FILES["test_labels"]
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[8], raw[9] = raw[9], (raw[8] + 1) % 10  # still valid labels, no longer the real ones
    labels.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(FashionEdgeError, match="t10k-labels-idx1-ubyte.gz is a well-formed IDX file but not"):
        load_fashion_mnist(data_copy)


def test_search_order(data_copy, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FashionEdgeError, match="lacks"):
        data.find_data_dir(empty)
    monkeypatch.setenv("FASHION_MNIST_DIR", str(data_copy))
    assert data.find_data_dir() == data_copy
    monkeypatch.setenv("FASHION_MNIST_DIR", str(empty))
    with pytest.raises(FashionEdgeError, match="FASHION_MNIST_DIR"):
        data.find_data_dir()
    monkeypatch.delenv("FASHION_MNIST_DIR")
    monkeypatch.setattr(data, "DEBIAN_DIR", empty)
    monkeypatch.setattr(data, "KERAS_CACHE_DIR", empty)
    with pytest.raises(FashionEdgeError, match="apt-get install dataset-fashion-mnist"):
        data.find_data_dir(download=False)


def test_download_checks_md5_and_keeps_only_good_files(data_copy, tmp_path, monkeypatch):
    """The fallback download, served from the local files (no network): bad MD5 -> error and nothing kept."""

    def fake_urlopen(url, timeout):
        return io.BytesIO((data_copy / url.rsplit("/", 1)[1]).read_bytes())

    monkeypatch.setattr(data.urllib.request, "urlopen", fake_urlopen)
    target = tmp_path / "cache"
    # Debian recompressed the files, so their bytes differ from the published MD5s: refused.
    with pytest.raises(FashionEdgeError, match="MD5 mismatch"):
        data.download_fashion_mnist(target)
    assert not any(p.suffix == ".gz" for p in target.iterdir())
    local_md5 = {n: hashlib.md5((data_copy / n).read_bytes()).hexdigest() for n in FILES.values()}
    monkeypatch.setattr(data, "PUBLISHED_GZ_MD5", local_md5)
    assert data.download_fashion_mnist(target) == target
    assert load_fashion_mnist(target).content_sha256 == CONTENT_SHA256


def test_stratified_split_is_balanced_disjoint_and_seeded(fmnist):
    rest, held = stratified_split(fmnist.y_train, 0.1, seed=3)
    assert len(held) == 6000 and len(rest) == 54000
    assert not np.intersect1d(rest, held).size
    assert np.bincount(fmnist.y_train[held]).tolist() == [600] * 10
    assert np.array_equal(held, stratified_split(fmnist.y_train, 0.1, seed=3)[1])
    assert not np.array_equal(held, stratified_split(fmnist.y_train, 0.1, seed=4)[1])
    picks = stratified_sample(fmnist.y_train, per_class=7, seed=0)
    assert np.bincount(fmnist.y_train[picks]).tolist() == [7] * 10
    with pytest.raises(FashionEdgeError):
        stratified_split(fmnist.y_train, 1.5, seed=0)
