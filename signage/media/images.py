"""Decoding still images with Pillow: only declared formats, pixel limits, EXIF orientation, fast downscale.

Also what the drop folder takes (`take_image`): any phone or camera image, judged by its bytes, left as
the JPEG, PNG or WebP every board shows.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from signage.errors import MediaError
from signage.media.sniff import SNIFF_BYTES, looks_like_image

MAX_PIXELS = 64_000_000  # a 64-megapixel photo is the most any camera phone gives; beyond is a bomb
FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
TYPES = {pillow: media_type for media_type, pillow in FORMATS.items()}
# What the drop folder takes: a board shows the three above; the rest become one of them there.
TAKEN_FORMATS = (*FORMATS.values(), "HEIF", "GIF", "BMP", "TIFF")
# Photos (HEIC) become JPEG, which they were before a phone saved them; drawings, scans and frames
# (GIF, BMP, TIFF) become PNG, which loses nothing of them.
PHOTO_FORMATS = frozenset({"HEIF"})
JPEG_QUALITY = 90
# A converted picture is kept at most this size: a 4K board shows no more, and a 48-megapixel HEIC
# would otherwise come out as a JPEG four times that of a 4K screen.
MAX_CONVERTED_SIDE = 3840
LIGHT_GROUND = (250, 250, 247)
DARK_GROUND = (24, 24, 28)


@dataclass(frozen=True, slots=True)
class Picture:
    """Decoded pixels, ready for `pygame.image.frombytes`."""

    data: bytes
    size: tuple[int, int]
    mode: str  # "RGB" or "RGBA"


def fit_size(source: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The largest size with the source's aspect that fits inside `box`."""
    scale = min(box[0] / source[0], box[1] / source[1])
    return max(1, round(source[0] * scale)), max(1, round(source[1] * scale))


def legible_ground(image: Image.Image) -> tuple[int, int, int]:
    """The ground that keeps a transparent picture legible: light under dark content, dark under light content.

    Decided from the luminance of its opaque pixels alone (a Canva export of black text is mostly
    transparency, whose hidden colour says nothing); a picture with nothing opaque gets a light ground.
    """
    rgba = image.convert("RGBA")
    small = rgba.copy()
    small.thumbnail((256, 256))  # a mean needs no more; keeps this cheap on a 12-megapixel export
    alpha = small.getchannel("A")
    opaque = alpha.point(lambda value: 255 if value >= 128 else 0)
    if opaque.getbbox() is None:
        return LIGHT_GROUND
    luminance = small.convert("RGB").convert("L")
    histogram = luminance.histogram(mask=opaque)
    count = sum(histogram)
    mean = sum(level * number for level, number in enumerate(histogram)) / count
    return LIGHT_GROUND if mean < 128 else DARK_GROUND


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _register_heif() -> None:
    # Here, not at import: registering a Pillow plugin is a side effect a module's import must not have.
    from pillow_heif import register_heif_opener

    register_heif_opener()


def take_image(path: Path) -> tuple[str, str, int] | None:
    """Judge the staged copy at `path` by its bytes and leave there what a board shows: (media type, SHA-256, size).

    A JPEG, PNG or WebP stays as it is, whatever its name says. A HEIC/HEIF (turned as its
    orientation says), GIF (its first frame), BMP or TIFF (its first page) is converted in place to
    JPEG or PNG, so boards and feeds keep the three types they know. A transparent picture is laid
    on a ground that keeps it legible (`legible_ground`) and kept as PNG. None when the bytes are no
    image of these formats; MediaError when they are one but too large or damaged. The pixel limit
    is checked on the header, before anything is decoded.
    """
    _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=TAKEN_FORMATS) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise MediaError(f"{path}: image of {width}x{height} pixels is over the {MAX_PIXELS // 1_000_000}-megapixel limit")
                source = image.format or ""
                if source in TYPES and not _has_alpha(image):
                    return TYPES[source], *_hashed(path)
                image.load()  # the first frame or page: where a GIF or TIFF is opened
                upright = ImageOps.exif_transpose(image)
                if _has_alpha(upright):
                    rgba = upright.convert("RGBA")
                    ground = Image.new("RGBA", rgba.size, (*legible_ground(rgba), 255))
                    flat = Image.alpha_composite(ground, rgba).convert("RGB")
                else:
                    flat = upright.convert("RGB")
                # Bicubic in steps (reducing_gap): a 12 MP phone photo brought under the cap in a third of Lanczos's time, and
                # the board scales it again to its slide in any case.
                flat.thumbnail((MAX_CONVERTED_SIDE, MAX_CONVERTED_SIDE), Image.Resampling.BICUBIC, reducing_gap=3.0)
                photo = source in PHOTO_FORMATS and not _has_alpha(upright)
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError(f"{path}: image too large (decompression bomb refused)") from None
    except UnidentifiedImageError:
        with path.open("rb") as handle:
            if looks_like_image(handle.read(SNIFF_BYTES)):
                raise MediaError(f"{path}: not a readable image (damaged)") from None
        return None
    except (OSError, ValueError, SyntaxError) as exc:
        raise MediaError(f"{path}: cannot decode image: {exc}") from None
    converted = path.with_name(path.name + ".converted")
    try:
        if photo:
            flat.save(converted, "JPEG", quality=JPEG_QUALITY)  # not optimize=True: its second pass cost 0.14 s of 12 MP for ~5 %
        else:
            flat.save(converted, "PNG", optimize=False)
        os.replace(converted, path)
    except OSError as exc:
        converted.unlink(missing_ok=True)
        raise MediaError(f"{path}: cannot write the converted image: {exc.strerror or exc}") from None
    return ("image/jpeg" if photo else "image/png"), *_hashed(path)


def _hashed(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def decode_image(path: Path, box: tuple[int, int], media_type: str | None = None) -> Picture:
    """Decode `path` at about the size of `box` (aspect kept), EXIF orientation applied.

    JPEGs are decoded in the DCT domain at the smallest scale still above the box
    (Pillow's draft mode), which is most of the speed on a 12-megapixel photo.
    """
    formats = [FORMATS[media_type]] if media_type in FORMATS else list(FORMATS.values())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=formats) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise MediaError(f"{path}: image of {width}x{height} pixels is over the {MAX_PIXELS // 1_000_000}-megapixel limit")
                orientation = image.getexif().get(0x0112, 1)
                # Rotated by EXIF, the box's sides swap for the draft request.
                wanted = box if orientation in (1, 2, 3, 4) else (box[1], box[0])
                if image.format == "JPEG":
                    image.draft("RGB", fit_size(image.size, wanted))
                image.load()
                if orientation != 1:
                    image = ImageOps.exif_transpose(image)  # a copy: only when there is something to turn
                mode = "RGBA" if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info else "RGB"
                if image.mode != mode:
                    image = image.convert(mode)
                target = fit_size(image.size, box)
                if target != image.size:
                    # Pillow scales its filter's support with the reduction, so BILINEAR averages every
                    # source pixel (no aliasing) at half LANCZOS's cost; after draft() the ratio is under 2.
                    image = image.resize(target, Image.Resampling.BILINEAR, reducing_gap=3.0)
                return Picture(image.tobytes(), image.size, mode)
    except MediaError:
        raise
    except FileNotFoundError:
        raise MediaError(f"{path}: file not found") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError(f"{path}: image too large (decompression bomb refused)") from None
    except UnidentifiedImageError:
        expected = media_type or "a JPEG, PNG or WebP image"
        raise MediaError(f"{path}: not a readable {expected}") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise MediaError(f"{path}: cannot decode image: {exc}") from None
