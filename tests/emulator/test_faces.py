"""Synthetic portraits: small, deterministic, and moved by their parameters."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from haut.emulator.faces import render_face, render_no_face, skin_colour


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_portraits_are_deterministic_in_their_arguments() -> None:
    assert render_face(3) == render_face(3)
    assert render_face(3) != render_face(4)
    assert render_face(3, redness=0.5) != render_face(3)
    assert render_no_face(3) == render_no_face(3)
    assert render_no_face(3) != render_no_face(4)


@pytest.mark.parametrize("side", ["front", "right", "left"])
def test_portraits_are_small_jpegs_of_the_requested_size(side: str) -> None:
    data = render_face(1, side=side)
    image = open_image(data)
    assert (image.format, image.size, image.mode) == ("JPEG", (480, 640), "RGB")
    assert len(data) < 80_000


def test_png_and_custom_sizes() -> None:
    image = open_image(render_face(1, size=(300, 400), image_format="PNG"))
    assert (image.format, image.size) == ("PNG", (300, 400))
    landscape = open_image(render_no_face(1, size=(640, 480)))
    assert (landscape.format, landscape.size) == ("JPEG", (640, 480))


def test_blemishes_change_the_picture() -> None:
    clear = np.asarray(open_image(render_face(2)).convert("L"), dtype=float)
    spotted = np.asarray(open_image(render_face(2, blemishes=8)).convert("L"), dtype=float)
    assert (np.abs(clear - spotted) > 30).sum() > 100


def test_skin_colour_follows_tone_and_redness() -> None:
    dark, light = skin_colour(0.0, 0.0), skin_colour(1.0, 0.0)
    assert sum(dark) < sum(light)
    calm, flushed = skin_colour(0.5, 0.0), skin_colour(0.5, 1.0)
    assert flushed[0] - flushed[1] > calm[0] - calm[1]
    assert skin_colour(-1.0, 5.0) == skin_colour(0.0, 1.0)


def test_turned_heads_are_drawn_off_centre() -> None:
    def skin_centre(data: bytes) -> float:
        """Mean column of the warm (skin) pixels across the middle of the picture."""
        pixels = np.asarray(open_image(data).convert("RGB"), dtype=int)[200:400]
        _, columns = np.nonzero(pixels[:, :, 0] > pixels[:, :, 2] + 25)
        return float(columns.mean())

    front = skin_centre(render_face(5))
    assert skin_centre(render_face(5, side="right")) > front + 10
    assert skin_centre(render_face(5, side="left")) < front - 10
