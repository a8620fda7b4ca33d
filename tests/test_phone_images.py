"""Phone and camera images in the drop folder: HEIC, GIF, BMP, TIFF, .jfif, a PNG named .jpg, transparent exports (issue 16)."""

from __future__ import annotations

import io
import shutil
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pillow_heif
import pygame
import pytest
from PIL import Image, ImageDraw, ImageFont

from signage.config import BoardConfig, load_config
from signage.content import load_content
from signage.inbox.watch import InboxWatch
from signage.media.images import MAX_PIXELS, decode_image, legible_ground
from signage.model import Playable
from signage.paths import FONT_BOLD
from signage.render.fonts import FontBook
from signage.render.layout import Layout
from signage.render.slides import image_slide
from signage.store.db import Store
from tests.test_inbox import until

RED, BLUE = (220, 20, 20), (20, 20, 220)


@pytest.fixture
def config(tmp_path: Path) -> BoardConfig:
    path = tmp_path / "board.toml"
    path.write_text(
        textwrap.dedent(
            """
            [board]
            id = "tan-quan"
            name = "UBND xã Tân Quan"
            data_dir = "state"
            [inbox]
            path = "bangtin"
            settle_seconds = 0.6
            """
        ),
        encoding="utf-8",
    )
    return load_config(path)


@pytest.fixture
def watch(config: BoardConfig) -> Iterator[InboxWatch]:
    watcher = InboxWatch(config, lambda changes: None)
    watcher.start()
    yield watcher
    watcher.stop()


def playing(config: BoardConfig) -> dict[str, Playable]:
    return {p.bulletin.title: p for p in load_content(config)}


def two_tone(size: tuple[int, int], first: tuple[int, int, int] = RED, second: tuple[int, int, int] = BLUE) -> Image.Image:
    """Left half `first`, right half `second`."""
    image = Image.new("RGB", size, first)
    image.paste(second, (size[0] // 2, 0, size[0], size[1]))
    return image


def colour_at(playable: Playable, x: float, y: float) -> tuple[int, int, int]:
    """The colour the board decodes at (x, y), as fractions of the picture, from the copy it plays."""
    assert playable.media_path is not None and playable.bulletin.media is not None
    picture = decode_image(playable.media_path, (400, 400), playable.bulletin.media.type)
    w, h = picture.size
    offset = (int(y * (h - 1)) * w + int(x * (w - 1))) * len(picture.mode)
    return tuple(picture.data[offset : offset + 3])  # type: ignore[return-value]


def near(colour: tuple[int, int, int], wanted: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 40 for a, b in zip(colour, wanted, strict=True))


def reason_of(config: BoardConfig, name: str) -> str:
    return (config.inbox.quarantine / f"{name}.reason.txt").read_text(encoding="utf-8")


def test_an_iphone_heic_photo_is_taken_upright_as_a_jpeg(config: BoardConfig, watch: InboxWatch) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # held upright: the sensor's picture is turned 90° clockwise to view it
    pillow_heif.register_heif_opener()
    two_tone((400, 300)).save(config.inbox.path / "Chợ phiên.HEIC", "HEIF", exif=exif.tobytes(), quality=90)
    until(lambda: "Chợ phiên" in playing(config), watch)
    photo = playing(config)["Chợ phiên"]
    assert photo.bulletin.media is not None and photo.bulletin.media.type == "image/jpeg"
    assert near(colour_at(photo, 0.5, 0.1), RED) and near(colour_at(photo, 0.5, 0.9), BLUE)  # portrait, red on top
    assert not config.inbox.quarantine.exists()


def test_gif_bmp_tiff_and_jfif_are_taken_showing_their_first_frame(config: BoardConfig, watch: InboxWatch) -> None:
    frames = [Image.new("RGB", (120, 80), colour) for colour in (RED, BLUE)]
    frames[0].save(config.inbox.path / "chuc-mung.gif", save_all=True, append_images=frames[1:], duration=500, loop=0)
    two_tone((120, 80)).save(config.inbox.path / "so-do.bmp")
    frames[0].save(config.inbox.path / "ban-quet.tiff", save_all=True, append_images=frames[1:])
    two_tone((120, 80)).save(config.inbox.path / "zalo.jfif", "JPEG", quality=95)
    until(lambda: {"chuc-mung", "so-do", "ban-quet", "zalo"} <= set(playing(config)), watch)
    shown = playing(config)
    types = {title: shown[title].bulletin.media.type for title in ("chuc-mung", "so-do", "ban-quet", "zalo")}  # type: ignore[union-attr]
    assert types == {"chuc-mung": "image/png", "so-do": "image/png", "ban-quet": "image/png", "zalo": "image/jpeg"}
    assert near(colour_at(shown["chuc-mung"], 0.5, 0.5), RED) and near(colour_at(shown["ban-quet"], 0.5, 0.5), RED)
    for title in ("so-do", "zalo"):
        assert near(colour_at(shown[title], 0.1, 0.5), RED) and near(colour_at(shown[title], 0.9, 0.5), BLUE)


def test_a_png_or_webp_saved_as_jpg_is_taken_by_its_bytes(config: BoardConfig, watch: InboxWatch) -> None:
    two_tone((100, 60)).save(config.inbox.path / "tu-png.jpg", "PNG")
    two_tone((100, 60)).save(config.inbox.path / "tu-webp.jpg", "WEBP", lossless=True)
    until(lambda: {"tu-png", "tu-webp"} <= set(playing(config)), watch)
    shown = playing(config)
    assert shown["tu-png"].bulletin.media.type == "image/png"  # type: ignore[union-attr]
    assert shown["tu-webp"].bulletin.media.type == "image/webp"  # type: ignore[union-attr]
    assert near(colour_at(shown["tu-webp"], 0.1, 0.5), RED) and near(colour_at(shown["tu-webp"], 0.9, 0.5), BLUE)


def test_bytes_that_are_no_image_are_still_set_aside_whatever_the_name(config: BoardConfig, watch: InboxWatch) -> None:
    (config.inbox.path / "trang.jpg").write_bytes(b"<html><body>captive portal</body></html>")
    (config.inbox.path / "anh.heic").write_bytes(b"%PDF-1.7\n" + b"0" * 200)
    until(
        lambda: (config.inbox.quarantine / "anh.heic.reason.txt").exists() and (config.inbox.quarantine / "trang.jpg.reason.txt").exists(),
        watch,
    )
    assert "nội dung tệp không đúng với đuôi tên tệp" in reason_of(config, "trang.jpg")
    assert "nội dung tệp không đúng với đuôi tên tệp" in reason_of(config, "anh.heic")
    assert playing(config) == {}


def test_a_damaged_phone_photo_is_set_aside_as_damaged_not_as_misnamed(config: BoardConfig, watch: InboxWatch) -> None:
    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    two_tone((400, 300)).save(buffer, "HEIF", quality=90)
    (config.inbox.path / "cat.heic").write_bytes(buffer.getvalue()[:120])  # a copy cut short
    (config.inbox.path / "dau.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50)
    # A still file that will not decode is given the decoder's patience; the test drives `poll` with none.
    store = Store(config.board.data_dir / "board.db")
    try:
        watch.inbox.poll(store, time.monotonic(), settle=0, patience=0)
    finally:
        store.close()
    assert "ảnh bị hỏng" in reason_of(config, "cat.heic") and "ảnh bị hỏng" in reason_of(config, "dau.jpg")


def test_a_gif_over_the_pixel_limit_is_set_aside_before_it_is_decoded(config: BoardConfig, watch: InboxWatch) -> None:
    Image.new("1", (9000, 8000)).save(config.inbox.path / "bom.gif")  # 72 megapixels in a few hundred kilobytes
    assert MAX_PIXELS < 9000 * 8000
    until(lambda: (config.inbox.quarantine / "bom.gif.reason.txt").exists(), watch, seconds=30)
    assert "ảnh quá lớn" in reason_of(config, "bom.gif")


def canva_export(text_colour: tuple[int, int, int]) -> Image.Image:
    """A Canva-like export: text in one colour on full transparency."""
    image = Image.new("RGBA", (1200, 400), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT_BOLD), 90)
    draw.text((60, 60), "THÔNG BÁO", font=font, fill=(*text_colour, 255))
    draw.text((60, 200), "Họp dân ấp Hai", font=font, fill=(*text_colour, 255))
    return image


def test_legible_ground_is_light_under_dark_content_and_dark_under_light_content() -> None:
    dark, light = legible_ground(canva_export((0, 0, 0))), legible_ground(canva_export((255, 255, 255)))
    assert min(dark) > 200 and max(light) < 60
    assert min(legible_ground(Image.new("RGBA", (10, 10), (0, 0, 0, 0)))) > 200  # nothing opaque: a light ground


def slide_pixels(display: object, playable: Playable) -> tuple[pygame.Surface, Path]:
    assert playable.media_path is not None
    return image_slide(playable.bulletin, playable.media_path, Layout.for_size(1920, 1080), FontBook()), playable.media_path


def ocr(path: Path) -> str | None:
    if shutil.which("tesseract") is None:
        return None
    langs = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30).stdout.split()
    if "vie" not in langs:
        return None
    return subprocess.run(
        ["tesseract", str(path), "-", "-l", "vie", "--psm", "6"], capture_output=True, text=True, timeout=120, check=True
    ).stdout


@pytest.mark.parametrize(("text_colour", "ground_is_light"), [((0, 0, 0), True), ((255, 255, 255), False)])
def test_a_transparent_canva_export_is_shown_on_a_ground_that_keeps_its_text_legible(
    display: object, config: BoardConfig, watch: InboxWatch, tmp_path: Path, text_colour: tuple[int, int, int], ground_is_light: bool
) -> None:
    canva_export(text_colour).save(config.inbox.path / "canva.png")
    until(lambda: "canva" in playing(config), watch)
    slide, _ = slide_pixels(display, playing(config)["canva"])
    w, h = slide.get_size()
    picture = pygame.Rect(0, 0, w, round(w * 400 / 1200))
    picture.center = (w // 2, h // 2)
    # The picture's ground, where no letter is (its left margin), against the text's own colour.
    ground = slide.get_at((picture.left + 10, picture.centery))[:3]
    luminance = 0.299 * ground[0] + 0.587 * ground[1] + 0.114 * ground[2]
    assert luminance > 200 if ground_is_light else luminance < 60
    letters = [slide.get_at((x, y))[:3] for x in range(picture.left, picture.right, 4) for y in range(picture.top, picture.bottom, 4)]
    assert any(all(abs(a - b) < 30 for a, b in zip(pixel, text_colour, strict=True)) for pixel in letters)
    shot = tmp_path / "slide.png"
    pygame.image.save(slide, str(shot))
    read = ocr(shot)
    if read is not None:
        assert "THÔNG" in read and "Họp dân ấp Hai" in read, read  # tesseract may take BÁO's acute for a hook


def test_a_transparent_png_stays_transparent_when_a_feed_brings_it(tmp_path: Path) -> None:
    # Only the drop folder lays a ground under it: the board decodes a feed's PNG as it was published.
    buffer = io.BytesIO()
    canva_export((0, 0, 0)).save(buffer, "PNG")
    (tmp_path / "feed.png").write_bytes(buffer.getvalue())
    assert decode_image(tmp_path / "feed.png", (600, 200), "image/png").mode == "RGBA"
