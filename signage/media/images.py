"""Decoding still images with Pillow: only declared formats, pixel limits, EXIF orientation, fast downscale."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from signage.errors import MediaError

MAX_PIXELS = 64_000_000  # a 64-megapixel photo is the most any camera phone gives; beyond is a bomb
FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


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
