"""The bulletin's title shown with its picture, video, sound or PDF page, in a strip that never covers the picture."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from pathlib import Path

import pygame
import pytest
from PIL import Image

from signage.model import Bulletin, BulletinInput, Kind, Media, Playable, Source, parse_bulletin
from signage.playlist import describe_media
from signage.render import theme
from signage.render.composer import compose
from signage.render.fonts import FontBook
from signage.render.layout import Layout

from .test_pdf_slides import hand_made_pdf
from .videoclips import numbered_clip

SIZES = [(1920, 1080), (1080, 1920), (384, 192)]
TITLE = "Thông báo lịch tiêm chủng tháng 12"
GREEN = (30, 200, 60)


def green_picture(path: Path, size: tuple[int, int]) -> Path:
    Image.new("RGB", size, GREEN).save(path, "PNG")
    return path


def playable(path: Path, kind: str, title: str, body: str = "") -> Playable:
    bulletin = parse_bulletin(
        {"id": "b", "kind": kind, "title": title, "body": body, "media": describe_media(path)}, BulletinInput("t", Source.INBOX)
    )
    return Playable(bulletin, path)


def words(text: str) -> list[str]:
    return unicodedata.normalize("NFC", text).lower().split()


def ocr(surface: pygame.Surface, tmp_path: Path, name: str) -> str:
    """The text tesseract (Vietnamese) reads in `surface`, scaled up 2x as the reference OCR test does."""
    path = tmp_path / f"{name}.png"
    big = pygame.transform.smoothscale(surface, (surface.get_width() * 2, surface.get_height() * 2))
    pygame.image.save(big, str(path))
    out = subprocess.run(["tesseract", str(path), "-", "-l", "vie", "--psm", "6"], capture_output=True, text=True, timeout=120, check=True)
    return out.stdout


def has_vietnamese_ocr() -> bool:
    if shutil.which("tesseract") is None:
        return False
    langs = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30).stdout.split()
    return "vie" in langs


needs_ocr = pytest.mark.skipif(not has_vietnamese_ocr(), reason="tesseract with Vietnamese (tesseract-ocr-vie) not installed")


def green_rows(slide: pygame.Surface) -> range:
    """The rows where the (pure green) picture shows, down the slide's middle column."""
    x = slide.get_width() // 2
    rows = [y for y in range(slide.get_height()) if slide.get_at((x, y))[:3] == GREEN]
    assert rows, "the picture is not on the slide"
    return range(rows[0], rows[-1] + 1)


def title_pixels(strip: pygame.Surface) -> int:
    """How many pixels of the strip are in the title's colour (the normal slide's yellow)."""
    colour = pygame.Color(*theme.NORMAL.title)
    return pygame.mask.from_threshold(strip, colour, (40, 40, 40, 255)).count()


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_an_image_slide_shows_its_title_in_a_strip_below_the_picture(display, tmp_path: Path, size: tuple[int, int]) -> None:
    picture = green_picture(tmp_path / "anh.png", (1600, 1000))
    layout = Layout.for_size(*size)
    slide = compose(playable(picture, "image", TITLE), layout, FontBook()).pages[0]
    pygame.image.save(slide, str(tmp_path / f"image-{size[0]}x{size[1]}.png"))
    rows = green_rows(slide)
    # The picture is fitted above the strip: nothing of it below, and the strip carries the title.
    strip = slide.subsurface((0, rows.stop, slide.get_width(), slide.get_height() - rows.stop))
    assert strip.get_height() >= layout.min_body_px // 2
    assert title_pixels(strip) > 20
    assert title_pixels(slide.subsurface((0, 0, slide.get_width(), rows.stop))) == 0


@needs_ocr
@pytest.mark.parametrize("size", SIZES[:2], ids=[f"{w}x{h}" for w, h in SIZES[:2]])
def test_the_image_title_reads_back_in_vietnamese(display, tmp_path: Path, size: tuple[int, int]) -> None:
    picture = green_picture(tmp_path / "anh.png", (1600, 1000))
    slide = compose(playable(picture, "image", TITLE, body="Trạm Y tế xã"), Layout.for_size(*size), FontBook()).pages[0]
    rows = green_rows(slide)
    read = words(ocr(slide.subsurface((0, rows.stop, slide.get_width(), slide.get_height() - rows.stop)), tmp_path, "strip"))
    for word in words(TITLE) + words("Trạm Y tế xã"):
        assert word in read, (word, read)


@pytest.mark.parametrize("fallback", ["Hình ảnh", "Hình ảnh 25/11/2026 08:15"])
def test_a_camera_named_photo_still_shows_its_kind_as_title(display, tmp_path: Path, fallback: str) -> None:
    picture = green_picture(tmp_path / "IMG_20261125_081530.png", (800, 600))
    slide = compose(playable(picture, "image", fallback), Layout.for_size(1920, 1080), FontBook()).pages[0]
    rows = green_rows(slide)
    assert title_pixels(slide.subsurface((0, rows.stop, slide.get_width(), slide.get_height() - rows.stop))) > 20


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_a_200_character_title_is_shortened_onto_one_line(display, tmp_path: Path, size: tuple[int, int]) -> None:
    long_title = ("Thông báo về việc tổ chức tiêm chủng mở rộng cho trẻ em dưới năm tuổi và phụ nữ có thai " * 3)[:200]
    picture = green_picture(tmp_path / "anh.png", (1600, 1000))
    layout = Layout.for_size(*size)
    short = compose(playable(picture, "image", "Ngắn"), layout, FontBook()).pages[0]
    long = compose(playable(picture, "image", long_title), layout, FontBook()).pages[0]
    pygame.image.save(long, str(tmp_path / f"long-{size[0]}x{size[1]}.png"))
    # One line: the picture keeps the same room whether the title is 4 or 200 characters long.
    assert green_rows(long) == green_rows(short)
    strip = long.subsurface((0, green_rows(long).stop, long.get_width(), long.get_height() - green_rows(long).stop))
    assert title_pixels(strip) > title_pixels(
        short.subsurface((0, green_rows(short).stop, short.get_width(), short.get_height() - green_rows(short).stop))
    )
    # Shortened within the slide's margins: the title's colour stops before the right padding.
    mask = pygame.mask.from_threshold(strip, pygame.Color(*theme.NORMAL.title), (40, 40, 40, 255))
    rightmost = max((x for x, _ in mask.outline()), default=0)
    assert rightmost <= long.get_width() - layout.padding


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_a_video_plays_above_a_strip_with_its_title(display, tmp_path: Path, size: tuple[int, int]) -> None:
    clip = numbered_clip(tmp_path / "VID_20261125_081530.mp4", seconds=1.0, size=(320, 240))
    layout = Layout.for_size(*size)
    slide = compose(playable(clip, "video", "Video"), layout, FontBook())
    playback = slide.live() if slide.live else None
    assert playback is not None
    try:
        page = slide.pages[0]
        pygame.image.save(page, str(tmp_path / f"video-{size[0]}x{size[1]}.png"))
        video = playback.rect.move(-layout.slide.left, -layout.slide.top)  # where frames play, on the page
        below = page.subsurface((0, video.bottom, page.get_width(), page.get_height() - video.bottom))
        # The frames are drawn every frame inside `video`: the title is on the page under it, drawn once.
        assert below.get_height() >= layout.min_body_px // 2
        assert title_pixels(below) > 20
        assert title_pixels(page.subsurface(video)) == 0
    finally:
        playback.stop()


def page_rect(slide: pygame.Surface) -> pygame.Rect:
    """The bounding box of the white page on the slide."""
    mask = pygame.mask.from_threshold(slide, pygame.Color(255, 255, 255), (8, 8, 8, 255))
    rects = mask.get_bounding_rects()
    assert rects, "no page on the slide"
    return rects[0].unionall(rects[1:])


PDF_SIZES = [(1920, 1080), (1080, 1920), (384, 192), (1280, 1024)]


@pytest.mark.parametrize("size", PDF_SIZES, ids=[f"{w}x{h}" for w, h in PDF_SIZES])
def test_a_pdf_page_shown_whole_has_its_title_beside_or_above_it(display, tmp_path: Path, size: tuple[int, int]) -> None:
    pdf = tmp_path / "quyet-dinh.pdf"
    hand_made_pdf(pdf)  # two A4 pages of pictures, no lines of text: each is shown whole
    layout = Layout.for_size(*size)
    slide = compose(playable(pdf, "pdf", TITLE), layout, FontBook())
    untitled = compose(playable(pdf, "pdf", "."), layout, FontBook())  # its page marks alone are in the title's colour too
    for number, (page, bare) in enumerate(zip(slide.pages, untitled.pages, strict=True), start=1):
        pygame.image.save(page, str(tmp_path / f"pdf-{size[0]}x{size[1]}-{number}.png"))
        on_page = page_rect(page)
        assert title_pixels(page.subsurface(on_page)) == 0  # never over the page
        assert title_pixels(page) - title_pixels(bare) > 100, number


@needs_ocr
def test_the_pdf_title_beside_its_page_reads_back(display, tmp_path: Path) -> None:
    pdf = tmp_path / "quyet-dinh.pdf"
    hand_made_pdf(pdf)
    layout = Layout.for_size(1920, 1080)
    page = compose(playable(pdf, "pdf", TITLE), layout, FontBook()).pages[0]
    on_page = page_rect(page)
    read = words(ocr(page.subsurface((0, 0, on_page.left, page.get_height())), tmp_path, "beside"))
    for word in words(TITLE):
        assert word in read, (word, read)


def test_a_pdf_page_that_fills_the_area_is_made_smaller_for_its_title(display, tmp_path: Path) -> None:
    pdf = tmp_path / "so-do.pdf"
    picture = Image.new("RGB", (1920, 896), (255, 255, 255))
    picture.paste((0, 0, 0), (860, 350, 1060, 550))
    picture.save(pdf, "PDF", resolution=72.0)  # a page of the slide area's own shape: no margin to spare
    layout = Layout.for_size(1920, 1080)
    page = compose(playable(pdf, "pdf", TITLE), layout, FontBook()).pages[0]
    bare = compose(playable(pdf, "pdf", "."), layout, FontBook()).pages[0]
    pygame.image.save(page, str(tmp_path / "filled.png"))
    on_page = page_rect(page)
    assert title_pixels(page.subsurface(on_page)) == 0
    assert title_pixels(page) - title_pixels(bare) > 100
    assert on_page.top > layout.min_body_px // 2  # the title's line is above the page


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_an_audio_card_already_shows_its_title_as_its_headline(display, tmp_path: Path, size: tuple[int, int]) -> None:
    from signage.render.audiocard import audio_card

    bulletin = Bulletin(id="ghi-am", revision=1, kind=Kind.AUDIO, title="Ghi âm", body="", media=Media("0" * 64, 1, "audio/mpeg"))
    card, _ = audio_card(bulletin, Layout.for_size(*size), FontBook(), 60)
    pygame.image.save(card, str(tmp_path / f"audio-{size[0]}x{size[1]}.png"))
    assert title_pixels(card) > 20
