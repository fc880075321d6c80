"""Colour arithmetic on numpy images: CIELAB and local means."""

from __future__ import annotations

import cv2
import numpy as np

# sRGB (D65) to XYZ, and the D65 white point.
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ],
    dtype=np.float32,
)
_WHITE = np.array([0.95047, 1.0, 1.08883], dtype=np.float32)


_UNIT = np.arange(256, dtype=np.float64) / 255.0
# sRGB decoding of every 8-bit level, so images need a lookup instead of a power per pixel.
_LINEAR = np.where(_UNIT <= 0.04045, _UNIT / 12.92, ((_UNIT + 0.055) / 1.055) ** 2.4).astype(
    np.float32
)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (L* 0..100, a*, b*) of an 8-bit sRGB image, shape (..., 3)."""
    linear = _LINEAR[np.asarray(rgb, dtype=np.uint8)]
    xyz = linear @ (_RGB_TO_XYZ.T / _WHITE)
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    lightness = 116 * f[..., 1] - 16
    red_green = 500 * (f[..., 0] - f[..., 1])
    yellow_blue = 200 * (f[..., 1] - f[..., 2])
    return np.stack((lightness, red_green, yellow_blue), axis=-1).astype(np.float32)


def box_mean(values: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the (2r+1)^2 window around each pixel (edges repeated)."""
    size = 2 * radius + 1
    return cv2.blur(
        np.asarray(values, dtype=np.float32), (size, size), borderType=cv2.BORDER_REPLICATE
    )
