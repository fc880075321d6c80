"""Synthetic portraits for tests and the sample data: drawn faces and face-free landscapes.

:func:`render_face` draws a skin-toned face (hair, brows, eyes, nose, mouth, neck, shirt) on a
plain background, lit as a real face is (rounded, with eye sockets and the nose's shadow) so
that a real face detector (OpenCV's Haar cascades, which the emulator uses) sees a face in it;
its ``redness``, ``tone`` and ``blemishes`` move exactly the statistics the emulator's analysis
reads (blemishes are drawn inside the face areas the analysis places on the drawn eyes), so
tests can check that the emulated metrics respond. Everything is deterministic in the
arguments (a seeded generator picks colours and small offsets).
"""

from __future__ import annotations

import io
import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from haut.emulator.geometry import AREA_FRACTIONS
from haut.emulator.landmarks import EYE_LINE, EYE_SPAN, FACE_ASPECT

RGB = tuple[int, int, int]

_DARK_SKIN: RGB = (100, 64, 48)
_LIGHT_SKIN: RGB = (240, 198, 172)
_REDNESS_SHIFT = (30, -32, -20)
_BACKGROUNDS: tuple[tuple[RGB, RGB], ...] = (
    ((70, 90, 120), (180, 190, 200)),
    ((60, 100, 90), (190, 205, 200)),
    ((40, 40, 60), (120, 130, 160)),
    ((150, 160, 175), (215, 220, 228)),
)
_HAIR: tuple[RGB, ...] = ((22, 18, 18), (38, 28, 22), (30, 30, 36))
_SHIRTS: tuple[RGB, ...] = ((40, 60, 120), (30, 30, 30), (50, 110, 70), (110, 110, 120))
_IRIS: tuple[RGB, ...] = ((70, 50, 30), (60, 90, 130), (70, 100, 60))
_SIDE_SHIFT = {"front": 0.0, "right": 0.07, "left": -0.07}


def _mix(base: RGB, shift: tuple[float, float, float], amount: float) -> RGB:
    r, g, b = (min(255, max(0, round(c + s * amount))) for c, s in zip(base, shift, strict=True))
    return r, g, b


def skin_colour(tone: float, redness: float) -> RGB:
    """The face's base colour: ``tone`` 0 dark .. 1 light, ``redness`` 0 .. 1 flushed."""
    tone = min(max(tone, 0.0), 1.0)
    base = tuple(round(d + (lt - d) * tone) for d, lt in zip(_DARK_SKIN, _LIGHT_SKIN, strict=True))
    return _mix((base[0], base[1], base[2]), _REDNESS_SHIFT, min(max(redness, 0.0), 1.0))


def _blend(colour: RGB, other: RGB, share: float) -> RGB:
    r, g, b = (round(c + (o - c) * share) for c, o in zip(colour, other, strict=True))
    return r, g, b


def _scaled(colour: RGB, factor: float) -> RGB:
    r, g, b = (min(255, round(c * factor)) for c in colour)
    return r, g, b


def _gradient(size: tuple[int, int], top: RGB, bottom: RGB) -> Image.Image:
    width, height = size
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    rows = np.array(top, dtype=float) * (1 - ramp) + np.array(bottom, dtype=float) * ramp
    return Image.fromarray(np.repeat(rows, width, axis=1).astype(np.uint8), "RGB")


def _ellipse(cx: float, cy: float, ax: float, ay: float) -> tuple[float, float, float, float]:
    return cx - ax, cy - ay, cx + ax, cy + ay


def _finish(canvas: Image.Image, seed: int, image_format: str) -> bytes:
    """Soften, add sensor-like noise and encode."""
    pixels = np.asarray(canvas.filter(ImageFilter.GaussianBlur(0.7)), dtype=np.float32)
    noise = np.random.default_rng(seed).normal(0.0, 2.0, pixels.shape[:2])[:, :, None]
    out = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8), "RGB")
    buffer = io.BytesIO()
    if image_format.upper() == "PNG":
        out.save(buffer, "PNG")
    else:
        out.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


class _Portrait:
    """The drawing of one face; sizes are fractions of the face ellipse's semi-axes."""

    def __init__(self, size: tuple[int, int], rng: random.Random, side: str) -> None:
        width, height = size
        shift = _SIDE_SHIFT.get(side, 0.0)
        self.turn = shift / 0.07 if shift else 0.0
        self.cx = width * (0.5 + shift + rng.uniform(-0.015, 0.015))
        self.cy = height * (0.46 + rng.uniform(-0.01, 0.01))
        self.ay = height * 0.27
        # Keep a face's proportions on landscape photos too.
        self.ax = min(width * 0.27, 0.75 * self.ay) * (0.9 if shift else 1.0)
        self.hairline = self.cy - 0.75 * self.ay

    def at(self, u: float, v: float) -> tuple[float, float]:
        """Pixel at ellipse-relative offsets (u across, v down; -1..1), turned with the head."""
        return self.cx + (u + 0.12 * self.turn) * self.ax, self.cy + v * self.ay

    def draw_head(self, draw: ImageDraw.ImageDraw, skin: RGB, hair: RGB, shirt: RGB) -> None:
        width, height = draw.im.size
        draw.ellipse(_ellipse(width / 2, height * 1.06, width * 0.46, height * 0.26), fill=shirt)
        neck_half = 0.30 * self.ax
        draw.rectangle(
            (self.cx - neck_half, self.cy + 0.6 * self.ay, self.cx + neck_half, height * 0.86),
            fill=_scaled(skin, 0.86),
        )
        draw.ellipse(
            _ellipse(self.cx, self.cy - 0.12 * self.ay, 1.12 * self.ax, self.ay), fill=hair
        )
        draw.ellipse(_ellipse(self.cx, self.cy, self.ax, self.ay), fill=skin)

    def shade(self, canvas: Image.Image) -> Image.Image:
        """Light the face as a real one is lit: rounded, with eye sockets and the nose's shadow.

        A face detector knows a face by such shading (dark eye band over lighter cheeks, a
        light nose bridge between darker sockets, darker sides); a flat-coloured oval is not a
        face to it. The shading is smooth, so it makes no spots.
        """
        pixels = np.asarray(canvas, dtype=np.float32)
        height, width = pixels.shape[:2]
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        across = (xs - self.cx) / self.ax
        down = (ys - self.cy) / self.ay
        inside = across**2 + down**2 <= 1.0
        factor = 0.74 + 0.26 * np.sqrt(np.clip(1 - across**2, 0, 1))  # rounded cheeks and sides
        for sign in (-1, 1):
            ex, ey = self.at(sign * 0.40, -0.30)
            socket = ((xs - ex) / (0.30 * self.ax)) ** 2 + ((ys - ey) / (0.17 * self.ay)) ** 2
            factor *= 1 - 0.30 * np.exp(-socket)
        nx, ny = self.at(0.0, -0.05)
        bridge = ((xs - nx) / (0.09 * self.ax)) ** 2 + ((ys - ny) / (0.30 * self.ay)) ** 2
        factor *= 1 + 0.06 * np.exp(-bridge)
        sx, sy = self.at(0.0, 0.16)
        under_nose = ((xs - sx) / (0.20 * self.ax)) ** 2 + ((ys - sy) / (0.05 * self.ay)) ** 2
        factor *= 1 - 0.18 * np.exp(-under_nose)
        jaw = np.clip((down - 0.75) / 0.25, 0, 1)  # the jaw turns away from the light
        factor *= 1 - 0.15 * jaw
        shaded = np.where(inside[..., None], pixels * factor[..., None], pixels)
        return Image.fromarray(np.clip(shaded, 0, 255).astype(np.uint8), "RGB")

    def draw_fringe(self, draw: ImageDraw.ImageDraw, hair: RGB) -> None:
        """Hair over the top of the face, down to the hairline."""
        ax, ay, cy = 1.12 * self.ax, self.ay, self.cy - 0.12 * self.ay
        top = []
        for step in range(61):
            angle = math.pi + math.pi * step / 60
            x, y = self.cx + ax * math.cos(angle), cy + ay * math.sin(angle)
            if y <= self.hairline:
                top.append((x, y))
        draw.polygon(top, fill=hair)

    def draw_features(self, draw: ImageDraw.ImageDraw, skin: RGB, hair: RGB, iris: RGB) -> None:
        brow_width = max(2, round(0.07 * self.ay))
        lash = _scaled(hair, 0.6)
        for sign in (-1, 1):
            x0, y0 = self.at(sign * 0.64, -0.43)
            x1, y1 = self.at(sign * 0.16, -0.46)
            draw.line((x0, y0, x1, y1), fill=hair, width=brow_width)
            ex, ey = self.at(sign * 0.40, -0.26)
            # The white of the eye in the eye's shade: bright sclera would outshine the dark
            # eye band a face is known by.
            sclera = _blend(skin, (210, 208, 202), 0.55)
            draw.ellipse(_ellipse(ex, ey, 0.16 * self.ax, 0.05 * self.ay), fill=sclera)
            draw.ellipse(_ellipse(ex, ey, 0.08 * self.ax, 0.05 * self.ay), fill=_scaled(iris, 0.8))
            draw.ellipse(_ellipse(ex, ey, 0.035 * self.ax, 0.028 * self.ay), fill=(10, 10, 10))
            # The upper lid and its lashes: the dark line that makes an eye an eye.
            lid = [
                (ex + 0.17 * self.ax * math.cos(t), ey - 0.055 * self.ay * math.sin(t))
                for t in (math.pi * k / 12 for k in range(13))
            ]
            draw.line(lid, fill=lash, width=max(2, round(0.025 * self.ay)))
            nx, ny = self.at(sign * 0.09, 0.11)
            draw.ellipse(
                _ellipse(nx, ny, 0.05 * self.ax, 0.025 * self.ay), fill=_scaled(skin, 0.55)
            )
        mx, my = self.at(0.0, 0.36)
        lips = _mix(_scaled(skin, 0.8), (50, -20, -5), 1.0)
        draw.ellipse(_ellipse(mx, my, 0.30 * self.ax, 0.07 * self.ay), fill=lips)
        draw.line(
            (mx - 0.28 * self.ax, my, mx + 0.28 * self.ax, my),
            fill=_scaled(lips, 0.45),
            width=max(2, round(0.015 * self.ay)),
        )

    def blemish_spots(self, rng: random.Random, count: int) -> list[tuple[float, float, bool]]:
        """Spot centres on forehead, cheeks and chin; every other one red (acne-like).

        Placed inside the analysis' face areas as its template puts them on these eyes
        (:mod:`haut.emulator.landmarks`), a little in from their edges.
        """
        (left_x, eye_y), (right_x, _) = self.at(-0.40, -0.26), self.at(0.40, -0.26)
        width = (right_x - left_x) / EYE_SPAN
        height = width * FACE_ASPECT
        left, top = (left_x + right_x) / 2 - width / 2, eye_y - EYE_LINE * height
        places = [
            AREA_FRACTIONS[area] for area in ("forehead", "right_cheek", "left_cheek", "chin")
        ]
        spots = []
        for index in range(count):
            u0, v0, u1, v1 = places[index % len(places)]
            inset_u, inset_v = 0.2 * (u1 - u0), 0.2 * (v1 - v0)
            u, v = rng.uniform(u0 + inset_u, u1 - inset_u), rng.uniform(v0 + inset_v, v1 - inset_v)
            spots.append((left + u * width, top + v * height, index % 2 == 0))
        return spots


def render_face(
    seed: int,
    *,
    size: tuple[int, int] = (480, 640),
    redness: float = 0.0,
    tone: float = 0.5,
    blemishes: int = 0,
    side: str = "front",
    image_format: str = "JPEG",
) -> bytes:
    """A synthetic, clearly face-like portrait (JPEG or PNG bytes), deterministic in its args.

    ``side`` "right"/"left" shows the head turned (face shifted and narrower). Photos smaller
    than the analysis' minimum size are not faces to it, whatever is drawn.
    """
    rng = random.Random(seed)
    background = _BACKGROUNDS[rng.randrange(len(_BACKGROUNDS))]
    hair, shirt, iris = rng.choice(_HAIR), rng.choice(_SHIRTS), rng.choice(_IRIS)
    skin = skin_colour(tone, redness)
    canvas = _gradient(size, *background)
    portrait = _Portrait(size, rng, side)
    portrait.draw_head(ImageDraw.Draw(canvas), skin, hair, shirt)
    canvas = portrait.shade(canvas)
    draw = ImageDraw.Draw(canvas)
    portrait.draw_fringe(draw, hair)
    portrait.draw_features(draw, skin, hair, iris)
    radius = max(2.0, size[0] * 0.011)
    # On dark skin a blemish shows less: drawn as dark as on light skin it would outdo the
    # eyes and brows (as a real one never does), and no face detector would see a face.
    softer = max(0.0, 0.4 - tone) / 0.4
    for x, y, red in portrait.blemish_spots(rng, blemishes):
        if red:
            colour = _mix(skin, (25, -60, -45), 1.0 - 0.4 * softer)
        else:
            colour = _scaled(skin, 0.62 + 0.16 * softer)
        draw.ellipse(_ellipse(x, y, radius, radius), fill=colour)
    return _finish(canvas, seed, image_format)


def render_no_face(seed: int, *, size: tuple[int, int] = (480, 640)) -> bytes:
    """A face-free landscape (sky, sun, hills, lake) as JPEG bytes, deterministic in its args."""
    rng = random.Random(seed)
    width, height = size
    canvas = _gradient(size, (70, 120, 200), (170, 200, 235))
    draw = ImageDraw.Draw(canvas)
    sun_x, sun_y, sun_r = width * rng.uniform(0.2, 0.8), height * 0.18, width * 0.07
    draw.ellipse(_ellipse(sun_x, sun_y, sun_r, sun_r), fill=(250, 235, 120))
    for layer, green in enumerate(((60, 120, 60), (40, 95, 45), (30, 75, 40))):
        base = height * (0.5 + 0.1 * layer)
        phase, amplitude = rng.uniform(0, math.tau), height * rng.uniform(0.03, 0.08)
        ridge = [
            (x, base - amplitude * math.sin(phase + 6 * x / max(width, 1)))
            for x in range(0, width + 16, 16)
        ]
        draw.polygon([*ridge, (width, height), (0, height)], fill=green)
    draw.rectangle((0, height * 0.85, width, height), fill=(50, 90, 140))
    return _finish(canvas, seed, "JPEG")
