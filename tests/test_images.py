"""Image slides: EXIF orientation, aspect kept, bombs and impostors refused in one line."""

from __future__ import annotations

from pathlib import Path

import pygame
import pytest
from PIL import Image

from signage.errors import MediaError
from signage.media import images
from signage.media.images import decode_image, fit_size
from signage.model import BulletinInput, Source, parse_bulletin
from signage.playlist import describe_media
from signage.render.fonts import FontBook
from signage.render.layout import Layout
from signage.render.slides import image_slide


def two_tone(path: Path, size: tuple[int, int], orientation: int | None = None, fmt: str = "JPEG") -> None:
    """Left half red, right half blue; optionally tagged with an EXIF orientation."""
    image = Image.new("RGB", size, (220, 20, 20))
    image.paste((20, 20, 220), (size[0] // 2, 0, size[0], size[1]))
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    image.save(path, fmt, exif=exif.tobytes(), quality=95)


def colour_at(picture: images.Picture, x: float, y: float) -> tuple[int, int, int]:
    w, h = picture.size
    bpp = len(picture.mode)
    offset = (int(y * (h - 1)) * w + int(x * (w - 1))) * bpp
    return tuple(picture.data[offset : offset + 3])


def test_exif_orientation_is_honoured(tmp_path: Path) -> None:
    path = tmp_path / "phone.jpg"
    two_tone(path, (400, 300), orientation=6)  # the camera was turned: view it rotated 90° clockwise
    picture = decode_image(path, (1000, 1000), "image/jpeg")
    assert picture.size == (750, 1000)  # portrait now, aspect kept
    top, bottom = colour_at(picture, 0.5, 0.1), colour_at(picture, 0.5, 0.9)
    assert top[0] > 150 and top[2] < 80  # red on top
    assert bottom[2] > 150 and bottom[0] < 80  # blue below


def test_a_big_jpeg_fits_the_box_with_its_aspect(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    two_tone(path, (4000, 3000))
    picture = decode_image(path, (1920, 896), "image/jpeg")
    assert picture.size == fit_size((4000, 3000), (1920, 896)) == (1195, 896)


def test_png_transparency_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "logo.png"
    image = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (25, 25, 75, 75))
    image.save(path)
    picture = decode_image(path, (200, 200), "image/png")
    assert picture.mode == "RGBA" and picture.data[3] == 0


@pytest.mark.parametrize(
    ("size", "message"),
    [
        ((9000, 8000), r"bomb\.png: image of 9000x8000 pixels is over the 64-megapixel limit"),
        ((12000, 12000), r"bomb\.png: image too large \(decompression bomb refused\)"),
    ],
)
def test_a_decompression_bomb_is_refused(tmp_path: Path, size: tuple[int, int], message: str) -> None:
    path = tmp_path / "bomb.png"
    Image.new("1", size).save(path)  # tens of megapixels in a few kilobytes
    assert path.stat().st_size < 100_000
    with pytest.raises(MediaError, match=message):
        decode_image(path, (1920, 1080), "image/png")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"empty\.jpg: media file is empty"),
        (b"<html><body>captive portal</body></html>", r"empty\.jpg: not a supported media file"),
        (b"%PDF-1.7\n" + b"0" * 100, r"empty\.jpg: named \.jpg but the bytes are application/pdf"),
    ],
)
def test_impostors_are_refused_by_content(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(content)
    with pytest.raises(MediaError, match=message):
        describe_media(path)


def test_a_truncated_jpeg_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpg"
    two_tone(path, (800, 600))
    path.write_bytes(path.read_bytes()[:600])
    with pytest.raises(MediaError) as caught:
        decode_image(path, (400, 300), "image/jpeg")
    assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)


def test_a_png_declared_as_jpeg_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.jpg"
    two_tone(path, (100, 100), fmt="PNG")
    with pytest.raises(MediaError, match="not a readable image/jpeg"):
        decode_image(path, (100, 100), "image/jpeg")


def test_image_slide_centres_the_picture_over_a_fill_and_keeps_the_caption_off_it(display, tmp_path: Path) -> None:
    path = tmp_path / "wide.jpg"
    two_tone(path, (1600, 400))
    media = describe_media(path)
    bulletin = parse_bulletin(
        {"id": "w", "kind": "image", "title": "Ảnh", "body": "Chú thích ảnh", "media": media}, BulletinInput("t", Source.PLAYLIST)
    )
    layout = Layout.for_size(1920, 1080)
    slide = image_slide(bulletin, path, layout, FontBook())
    assert slide.get_size() == layout.slide.size
    w, h = slide.get_size()
    # 4:1 picture across the full width, vertically centred in the room above the caption band.
    left, right = slide.get_at((w // 4, h // 3)), slide.get_at((3 * w // 4, h // 3))
    assert left.r > 150 and right.b > 150
    top_fill = slide.get_at((w // 2, 5))
    assert max(top_fill[:3]) < 140  # the fill is darkened
    bottom = pygame.transform.average_color(slide, (0, h - 20, w, 20))
    assert max(bottom[:3]) < 80  # the caption band, not the picture


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00", "video/mp4"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", None),  # an iPhone photo is not a video
        (b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00", "audio/mp4"),  # audio, not a video
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm", "video/webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", None),
    ],
)
def test_sniffing_tells_video_from_its_cousins(head: bytes, expected: str | None) -> None:
    from signage.media.sniff import sniff

    assert sniff(head) == expected
