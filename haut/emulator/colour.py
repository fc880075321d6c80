"""Colour arithmetic on numpy images: CIELAB, a YCbCr skin test and local means."""

from __future__ import annotations

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


# Highest Cr (red-difference chroma) still counted as skin. The classic box stops at 173-185,
# which loses a flushed, sunburnt or rosacea face (Cr 190-220) exactly when redness matters;
# only near-pure reds (Cr above this) are left out.
SKIN_CR_MAX = 225


def skin_mask(rgb: np.ndarray) -> np.ndarray:
    """Skin-coloured pixels: a YCbCr skin box widened towards red, lit enough, and warm.

    Any skin tone, and flushed skin too (see ``SKIN_CR_MAX``). "Warm" means red is the largest
    channel and the hue is at most 10 degrees on the magenta side of red: skin lies between red
    and yellow, so pinkish greys (a grey wall or shirt under warm light) are not skin, while a
    red tint, which scales green and blue alike, keeps skin skin.
    """
    rgb = np.asarray(rgb, dtype=np.float32)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    luma = 0.299 * red + 0.587 * green + 0.114 * blue
    chroma_blue = 128 - 0.168736 * red - 0.331264 * green + 0.5 * blue
    chroma_red = 128 + 0.5 * red - 0.418688 * green - 0.081312 * blue
    spread = red - np.minimum(green, blue)
    return (
        (luma >= 40)
        & (chroma_red >= 133)
        & (chroma_red <= SKIN_CR_MAX)
        & (chroma_blue >= 77)
        & (chroma_blue <= 130)
        & (red >= green)
        & (6 * (green - blue) >= -spread)
    )


def box_mean(values: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the (2r+1)^2 window around each pixel (edges repeated), via an integral image."""
    size = 2 * radius + 1
    padded = np.pad(values.astype(np.float64), radius, mode="edge")
    integral = np.zeros((padded.shape[0] + 1, padded.shape[1] + 1))
    integral[1:, 1:] = padded.cumsum(axis=0).cumsum(axis=1)
    total = (
        integral[size:, size:]
        - integral[:-size, size:]
        - integral[size:, :-size]
        + integral[:-size, :-size]
    )
    return (total / (size * size)).astype(np.float32)
