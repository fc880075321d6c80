"""Real photographs that ship inside packages, and the variants the emulator must cope with.

Portraits: matplotlib's Grace Hopper (``mpl-data/sample_data/grace_hopper.jpg``) and
scikit-image's astronaut (Eileen Collins); a side view: scikit-image's cameraman, cropped;
scikit-image's ``lfw_subset`` (100 faces and 100
non-faces from Labeled Faces in the Wild, 25x25 grey crops, upscaled and framed here).
Non-faces: scikit-image's photos of things (coffee, a cat, a rocket, coins, the moon, bricks,
grass, gravel, the Hubble deep field, stained tissue, a retina, a page, text, a horse
silhouette, cells, a clock, a logo, microaneurysms) and matplotlib's MRI slice. Every one is a
file inside the installed wheels; nothing is downloaded (``bundled_file`` checks).
"""

from __future__ import annotations

import gzip
import io
from functools import cache
from pathlib import Path

import matplotlib
import numpy as np
import skimage.data
from PIL import Image

EXIF_ORIENTATION = 0x0112
PHONE_SIZE = (3024, 4032)  # a 12 MP phone selfie
REENCODINGS = ("q95", "q75", "q50", "60pc")
# scikit-image's photos of things, each a file of its own inside the wheel.
NON_FACE_PHOTOS = {
    "coffee": "coffee.png",
    "chelsea": "chelsea.png",
    "rocket": "rocket.jpg",
    "coins": "coins.png",
    "moon": "moon.png",
    "brick": "brick.png",
    "grass": "grass.png",
    "gravel": "gravel.png",
    "hubble_deep_field": "hubble_deep_field.jpg",
    "immunohistochemistry": "ihc.png",
    "retina": "retina.jpg",
    "page": "page.png",
    "text": "text.png",
    "horse": "horse.png",
    "cell": "cell.png",
    "clock": "clock_motion.png",
    "logo": "logo.png",
    "microaneurysms": "microaneurysms.png",
}


def bundled_file(package_data: Path, name: str) -> Path:
    """A data file that must be inside the installed wheel (never fetched from the network)."""
    path = package_data / name
    assert path.is_file(), f"{name} is not in the installed wheel at {package_data}"
    return path


def _skimage_data() -> Path:
    return Path(skimage.data.__file__).parent


def _matplotlib_data() -> Path:
    return Path(matplotlib.get_data_path()) / "sample_data"


def jpeg(image: Image.Image, quality: int = 90, **save: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, **save)
    return buffer.getvalue()


@cache
def grace_hopper() -> Image.Image:
    return Image.open(bundled_file(_matplotlib_data(), "grace_hopper.jpg")).convert("RGB")


@cache
def astronaut() -> Image.Image:
    bundled_file(_skimage_data(), "astronaut.png")
    return Image.fromarray(skimage.data.astronaut())


PORTRAITS = {"grace_hopper": grace_hopper, "astronaut": astronaut}


@cache
def side_face() -> Image.Image:
    """scikit-image's cameraman, cropped to his head and shoulders: a face seen from the side."""
    bundled_file(_skimage_data(), "camera.png")
    return Image.fromarray(skimage.data.camera()).crop((120, 40, 380, 300)).convert("RGB")


# Where the faces are (left, top, right, bottom of brows-to-chin, cheek to cheek), marked by
# hand on the originals.
FACES_MARKED = {"grace_hopper": (180, 150, 345, 330), "astronaut": (175, 70, 270, 180)}


def rolled(image: Image.Image, degrees: float) -> Image.Image:
    """Turned ``degrees`` counter-clockwise as seen (PIL's sense), corners filled grey."""
    return image.rotate(degrees, resample=Image.Resampling.BICUBIC, fillcolor=(128, 128, 128))


def exif_rotated(image: Image.Image) -> bytes:
    """Stored turned a quarter, with EXIF orientation 6 saying how to turn it upright."""
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    return jpeg(image.transpose(Image.Transpose.ROTATE_90), exif=exif.tobytes())


def phone_sized(image: Image.Image) -> Image.Image:
    """Upscaled to the width of a 12 MP selfie and framed to its 3024x4032."""
    width, height = PHONE_SIZE
    big = image.resize((width, round(width * image.height / image.width)), Image.Resampling.BICUBIC)
    canvas = Image.new("RGB", PHONE_SIZE, big.getpixel((0, big.height - 1)))
    canvas.paste(big, (0, (height - big.height) // 2))
    return canvas


def reencoded(image: Image.Image, how: str) -> bytes:
    """The photo saved again: at JPEG quality 95 / 75 / 50, or at 60 % of its size."""
    if how == "60pc":
        size = (round(image.width * 0.6), round(image.height * 0.6))
        return jpeg(image.resize(size, Image.Resampling.LANCZOS))
    return jpeg(image, quality=int(how[1:]))


@cache
def portrait_variants(name: str) -> dict[str, bytes]:
    """Every variant of one portrait the emulator must find the face in."""
    image = PORTRAITS[name]()
    variants = {
        "colour": jpeg(image),
        "grey": jpeg(image.convert("L")),
        "exif_rotated": exif_rotated(image),
        "phone_12mp": jpeg(phone_sized(image)),
        "mirrored": jpeg(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
        **{f"rolled_{d:+d}": jpeg(rolled(image, d)) for d in (-15, -10, 10, 15)},
        **{how: reencoded(image, how) for how in REENCODINGS},
    }
    return variants


@cache
def lfw_photos() -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """scikit-image's LFW subset as photos: (100 faces, 100 non-faces).

    Each 25x25 crop is upscaled 8x and framed in a grey border of 40 % on every side, as a
    face fills a selfie rather than the whole frame.
    """
    bundled_file(_skimage_data(), "lfw_subset.npy")
    crops = skimage.data.lfw_subset()
    photos = []
    for crop in crops:
        face = Image.fromarray((crop * 255).round().astype(np.uint8)).resize(
            (200, 200), Image.Resampling.BICUBIC
        )
        framed = Image.new("L", (360, 360), 128)
        framed.paste(face, (80, 80))
        photos.append(jpeg(framed))
    return tuple(photos[:100]), tuple(photos[100:])


def _non_face(array: np.ndarray) -> bytes:
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    image = Image.fromarray(array)
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    if min(image.size) < 128:  # the tiny ones: large enough to be looked at
        image = image.resize((image.width * 3, image.height * 3), Image.Resampling.BICUBIC)
    return jpeg(image)


@cache
def non_face_photos() -> dict[str, bytes]:
    """Real photos without a face: things, textures, animals, space, medical images."""
    photos = {}
    for name, file_name in NON_FACE_PHOTOS.items():
        bundled_file(_skimage_data(), file_name)
        loader = "clock" if name == "clock" else name
        photos[name] = _non_face(getattr(skimage.data, loader)())
    with gzip.open(bundled_file(_matplotlib_data(), "s1045.ima.gz")) as mri:
        raw = mri.read()
    slice_ = np.frombuffer(raw, np.uint16).reshape(256, 256).astype(np.float64)
    photos["mri"] = _non_face((slice_ / slice_.max() * 255).astype(np.uint8))
    return photos
