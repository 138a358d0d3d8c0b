"""Affine (de)quantization between real values and a TFLite tensor's integers. Pure numpy, no TensorFlow.

TFLite's affine scheme (per tensor):
    real = scale * (q - zero_point)
    q    = clip(round(real / scale) + zero_point, dtype.min, dtype.max)
A float tensor has scale 0 (and zero point 0): values pass through unchanged as float32.
`q - zero_point` is computed in int64: in int8, 127 - (-128) = 255 would wrap to -1 (the raspberry_pi example's bug).
"""

from __future__ import annotations

import numpy as np

from ..errors import FashionEdgeError

_INTEGER_DTYPES = ("int8", "uint8", "int16", "int32")


def is_quantized(scale: float, dtype: str | np.dtype | type) -> bool:
    """True when a tensor stores integers that stand for reals (integer dtype and a non-zero scale)."""
    return np.dtype(dtype).name in _INTEGER_DTYPES and float(scale) != 0.0


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: str | np.dtype | type) -> np.ndarray:
    """Real values -> the tensor's storage type: round half to even (as TFLite), add zero point, clip to range.

    A float `dtype` or scale 0 means the tensor is not quantized: `x` comes back as float32.
    """
    dt = np.dtype(dtype)
    if dt.kind == "f" or float(scale) == 0.0:
        return np.asarray(x, dtype=np.float32)
    if dt.name not in _INTEGER_DTYPES:
        raise FashionEdgeError(f"cannot quantize to {dt.name}; expected one of {', '.join(_INTEGER_DTYPES)} or float")
    info = np.iinfo(dt)
    q = np.round(np.asarray(x, dtype=np.float64) / float(scale)) + int(zero_point)
    return np.clip(q, info.min, info.max).astype(dt)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """The tensor's storage values -> float32 reals: scale * (q - zero_point), widened first; scale 0 = float."""
    q = np.asarray(q)
    if q.dtype.kind == "f" or float(scale) == 0.0:
        return q.astype(np.float32)
    return (float(scale) * (q.astype(np.int64) - int(zero_point))).astype(np.float32)


def quantize_input(images_uint8: np.ndarray, input_spec: dict) -> np.ndarray:
    """Raw pixels (N, 28, 28[, 1]) -> (N, 28, 28, 1) in the card's input dtype (its scale and zero point).

    The shipped uint8 cards have scale 1 and zero point 0: the pixels go in unchanged.
    """
    x = np.asarray(images_uint8)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[1:] != (28, 28, 1):
        raise FashionEdgeError(f"expected images of shape (N, 28, 28), got {tuple(np.shape(images_uint8))}")
    return quantize(x.astype(np.float32), input_spec["scale"], input_spec["zero_point"], input_spec["dtype"])
