"""Fuzzing the image path: random bytes, truncations and mutations of real PNG/JPEG/BMP/WebP files, random shapes.

Each case must end in a BGR uint8 image (or a 28x28 model input), or in FashionEdgeError with a one-line message:
never another exception, never an allocation beyond the limits. Sized to run in seconds (CI budget: 2 minutes
for all fuzz tests together); FUZZ_PROFILE=long runs 2000 examples per test.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fashion_edge.edge import limits
from fashion_edge.edge.image_header import HeaderError, declared_size
from fashion_edge.edge.preprocess import PreprocessConfig, preprocess, to_model_input
from fashion_edge.edge.sources import decode_image
from fashion_edge.errors import FashionEdgeError

settings.register_profile("ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("FUZZ_PROFILE", "ci"))

FUZZ_LIMITS = limits.Limits(max_image_pixels=4 << 20)  # a mutated header may declare anything up to this


def _seed_image() -> np.ndarray:
    """A small garment-like photo: light background, a dark shape, some texture (so encoders do real work)."""
    rng = np.random.default_rng(7)
    image = np.full((48, 40, 3), 220, np.uint8)
    cv2.rectangle(image, (10, 8), (30, 40), (60, 40, 30), -1)
    return np.clip(image + rng.integers(-8, 8, image.shape), 0, 255).astype(np.uint8)


SEEDS = {ext: cv2.imencode(ext, _seed_image())[1].tobytes() for ext in (".png", ".jpg", ".bmp", ".webp")}


def check_decode(data: bytes) -> None:
    """decode_image: a BGR uint8 image within the limits, or FashionEdgeError with a one-line message."""
    try:
        image = decode_image(data, FUZZ_LIMITS)
    except FashionEdgeError as e:
        assert str(e) and "\n" not in str(e)
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.shape[0] * image.shape[1] <= FUZZ_LIMITS.max_image_pixels


@given(st.binary(max_size=2048))
def test_random_bytes(data):
    check_decode(data)


@given(st.sampled_from(sorted(SEEDS)), st.data())
def test_truncated_files(ext, data):
    seed = SEEDS[ext]
    check_decode(seed[: data.draw(st.integers(0, len(seed) - 1))])


@given(st.sampled_from(sorted(SEEDS)), st.data())
def test_mutated_files(ext, data):
    """Overwrite a few bytes, biased towards the header (where sizes, lengths and markers live)."""
    mutated = bytearray(SEEDS[ext])
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, min(len(mutated) - 1, 64)) | st.integers(0, len(mutated) - 1))
        mutated[at] = data.draw(st.integers(0, 255))
    check_decode(bytes(mutated))


@given(st.sampled_from(sorted(SEEDS)), st.integers(1, 1 << 16), st.integers(1, 1 << 16))
def test_declared_sizes_are_read_and_enforced(ext, width, height):
    """A header edited to declare any size: the parser reads exactly that, and the limit holds."""
    image = np.zeros((min(height, 64), min(width, 64), 3), np.uint8)
    data = cv2.imencode(ext, image)[1].tobytes()
    assert declared_size(data) == (image.shape[1], image.shape[0])
    if ext == ".png":  # IHDR at a fixed place: declare the drawn size without encoding it
        data = data[:16] + width.to_bytes(4, "big") + height.to_bytes(4, "big") + data[24:]
        assert declared_size(data) == (width, height)
        check_decode(data)


@given(
    st.sampled_from(
        [
            b"\x89PNG\r\n\x1a\n",
            b"\xff\xd8",
            b"BM",
            b"GIF89a",
            b"RIFF",
            b"II*\x00",
            b"MM\x00*",
            b"P5",
            b"P7",
            b"\x00\x00\x00\x0cjP  ",
            b"\xff\x4f\xff\x51",
        ]
    ),  # fmt: skip
    st.binary(max_size=256),
)
def test_header_parser_on_known_magics(magic, rest):
    try:
        size = declared_size(magic + rest)
    except HeaderError:
        return
    assert size is None or (len(size) == 2 and all(isinstance(v, int) and v >= 0 for v in size))


@given(
    st.integers(1, 600),
    st.integers(1, 600),
    st.sampled_from([1, 3, 4]),
    st.sampled_from(["auto", "photo", "dataset"]),
    st.sampled_from(["random", "flat", "dark-on-light"]),
)
@settings(max_examples=80)
def test_any_shape_preprocesses(height, width, channels, mode, content):
    rng = np.random.default_rng(height * 1000 + width)
    if content == "random":
        image = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    else:
        image = np.full((height, width, channels), 230 if content == "dark-on-light" else 17, np.uint8)
        image[height // 4 : 3 * height // 4 + 1, width // 3 : 2 * width // 3 + 1] = 30
    frame, config = (image[:, :, 0] if channels == 1 else image), PreprocessConfig(mode=mode)
    out = to_model_input(frame, config)
    assert out.shape == (28, 28) and out.dtype == np.uint8
    pre = preprocess(frame, config)  # the loop's entry: every candidate object, each a model input
    assert pre.inputs and all(x.shape == (28, 28) and x.dtype == np.uint8 for x in pre.inputs)


@pytest.mark.parametrize("shape", [(1, 60000), (60000, 1), (2, 30000)])
def test_extreme_strips(shape):
    frame = np.full((*shape, 3), 128, np.uint8)
    frame[:, : shape[1] // 2] = 20
    assert to_model_input(frame).shape == (28, 28)
    assert all(x.shape == (28, 28) for x in preprocess(frame).inputs)
