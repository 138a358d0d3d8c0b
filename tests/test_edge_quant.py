"""edge/quant: the affine math, its clipping and the widening that avoids int8 wrap-around."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fashion_edge.edge.quant import dequantize, is_quantized, quantize
from fashion_edge.errors import FashionEdgeError


def test_raw_pixels_pass_straight_into_uint8_scale_1():
    pixels = np.arange(256, dtype=np.float32)
    q = quantize(pixels, 1.0, 0, "uint8")
    assert q.dtype == np.uint8
    np.testing.assert_array_equal(q, np.arange(256))


def test_int8_input_with_zero_point_minus_128_shifts_pixels():
    q = quantize(np.array([0.0, 128.0, 255.0]), 1.0, -128, np.int8)
    np.testing.assert_array_equal(q, [-128, 0, 127])
    np.testing.assert_array_equal(dequantize(q, 1.0, -128), [0.0, 128.0, 255.0])


def test_dequantize_widens_before_subtracting_zero_point():
    # 127 - (-128) = 255 does not fit int8: without widening it wraps to -1.
    out = dequantize(np.array([127], dtype=np.int8), 0.5, -128)
    assert out.dtype == np.float32
    assert out[0] == pytest.approx(127.5)


def test_quantize_clips_to_dtype_range():
    np.testing.assert_array_equal(quantize(np.array([-1e6, 1e6]), 0.1, 3, "int8"), [-128, 127])
    np.testing.assert_array_equal(quantize(np.array([-5.0, 300.0]), 1.0, 0, "uint8"), [0, 255])


def test_float_tensors_pass_through():
    x = np.array([[0.0, 254.5]], dtype=np.float64)
    for q in (quantize(x, 0.0, 0, "float32"), quantize(x, 0.0, 0, "int8"), quantize(x, 0.3, 7, "float32")):
        assert q.dtype == np.float32
        np.testing.assert_array_equal(q, x)
    assert dequantize(np.float32([1.5]), 0.2, 3)[0] == 1.5
    assert not is_quantized(0.0, "int8") and not is_quantized(1.0, "float32") and is_quantized(0.1, "int8")


def test_unsupported_integer_dtype_is_an_error():
    with pytest.raises(FashionEdgeError, match="cannot quantize"):
        quantize(np.zeros(2), 1.0, 0, "uint16")


@given(st.floats(1e-4, 10.0), st.integers(-128, 127), st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=20))
def test_round_trip_error_is_at_most_half_a_step_inside_the_range(scale, zero_point, values):
    x = np.array(values)
    lo, hi = scale * (-128 - zero_point), scale * (127 - zero_point)
    x = x[(x >= lo) & (x <= hi)]
    back = dequantize(quantize(x, scale, zero_point, "int8"), scale, zero_point)
    assert np.all(np.abs(back - x) <= scale / 2 * (1 + 1e-5) + 1e-6)
