"""Whole frames compared with reference PNGs (reviewed by eye when they change), and read back by OCR.

Regenerate after a deliberate change of look:  UPDATE_REFERENCE=1 make test, then look at every
PNG in tests/comparison_images/ before committing them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import unicodedata
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pygame
import pytest
from PIL import Image, ImageChops

from signage.config import BoardConfig
from signage.render.fonts import FontBook
from signage.render.header import Header
from signage.render.layout import Layout
from signage.render.single import render_frame

from .conftest import ROOT

REFERENCES = ROOT / "tests" / "comparison_images"
AT = datetime(2026, 11, 23, 7, 5, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
SIZES = [(1920, 1080), (3840, 2160), (1080, 1920), (768, 384), (384, 192)]
CASES = [("demo-hop-dan-ap-2", size) for size in SIZES] + [
    ("demo-tiem-chung", (1920, 1080)),
    ("demo-phong-chong-bao", (1920, 1080)),
    ("demo-tiem-chung-poster", (1080, 1920)),
    ("demo-thu-gom-rac", (768, 384)),
]


def differing_fraction(actual: pygame.Surface, expected: pygame.Surface, threshold: int = 48) -> float:
    """The share of pixels whose colour differs by more than `threshold` in any channel."""
    assert actual.get_size() == expected.get_size()
    a, e = (Image.frombytes("RGB", s.get_size(), pygame.image.tobytes(s, "RGB")) for s in (actual, expected))
    red, green, blue = ImageChops.difference(a, e).split()
    worst = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    differing = sum(worst.point(lambda v: 255 if v > threshold else 0).histogram()[255:])
    return differing / (actual.get_width() * actual.get_height())


def test_the_comparison_sees_a_small_change(display) -> None:
    base = pygame.Surface((200, 100))
    base.fill((12, 38, 71))
    changed = base.copy()
    changed.fill((255, 211, 77), (10, 10, 10, 5))
    assert differing_fraction(base, base) == 0
    assert differing_fraction(changed, base) == pytest.approx(50 / 20000)


@pytest.mark.parametrize(("source", "size"), CASES, ids=[f"{s}-{w}x{h}" for s, (w, h) in CASES])
def test_frame_matches_reference(tmp_path: Path, source: str, size: tuple[int, int]) -> None:
    name = f"{source}-{size[0]}x{size[1]}.png"
    actual_path = tmp_path / name
    render_frame(BoardConfig.demo(), source, actual_path, size=size, at=AT)
    reference = REFERENCES / name
    if os.environ.get("UPDATE_REFERENCE") or not reference.exists():
        REFERENCES.mkdir(exist_ok=True)
        shutil.copy(actual_path, reference)
        if not os.environ.get("UPDATE_REFERENCE"):
            pytest.fail(f"{reference} was missing and has been written: look at it, then commit it")
        return
    actual, expected = pygame.image.load(actual_path), pygame.image.load(reference)
    # 4K frames are compared at half size: same verdict, a quarter of the work.
    if size[0] * size[1] > 4_000_000:
        half = (size[0] // 2, size[1] // 2)
        actual, expected = pygame.transform.smoothscale(actual, half), pygame.transform.smoothscale(expected, half)
    fraction = differing_fraction(actual, expected)
    if fraction > 0.002:
        failed = REFERENCES / "failed"
        failed.mkdir(exist_ok=True)
        shutil.copy(actual_path, failed / name)
        pytest.fail(f"{name}: {fraction:.2%} of pixels differ from the reference; see {failed / name}")


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_layout_leaves_nothing_overlapping(display, size: tuple[int, int]) -> None:
    layout = Layout.for_size(*size)
    assert layout.header.bottom == layout.slide.top and layout.slide.bottom == layout.ticker.top == size[1] - layout.ticker.height
    assert layout.slide.height >= size[1] * 0.6
    header = Header(layout.header, FontBook(), "UBND xã Tân Quan", None)
    assert layout.header.contains(header.name_rect) and layout.header.contains(header.clock_rect)
    assert header.name_rect.right < header.clock_rect.left
    assert header.name_rect.width > 0.15 * size[0]  # the name is never ellipsized to nothing


def ocr(image: Path, tmp_path: Path) -> str:
    out = subprocess.run(["tesseract", str(image), "-", "-l", "vie", "--psm", "6"], capture_output=True, text=True, timeout=120, check=True)
    return unicodedata.normalize("NFC", out.stdout)


needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="tesseract-ocr with tesseract-ocr-vie is needed (make test installs it)"
)


@needs_tesseract
def test_vietnamese_reads_back_by_ocr(display, tmp_path: Path) -> None:
    path = tmp_path / "frame.png"
    render_frame(BoardConfig.demo(), "demo-hop-dan-ap-2", path, size=(1920, 1080), at=AT)
    frame = pygame.image.load(path)
    layout = Layout.for_size(1920, 1080)
    slide = tmp_path / "slide.png"
    pygame.image.save(frame.subsurface(layout.slide), str(slide))
    text = ocr(slide, tmp_path)
    words = "Ban Nhân dân ấp 2 kính mời đại diện các hộ gia đình dự cuộc họp dân lúc 19 giờ 00 thứ Sáu".split()
    words += "Nội dung lấy ý kiến về dự án nâng cấp đường giao thông nông thôn tuyến bình xét hộ nghèo cận".split()
    words += "Thông báo họp dân triển khai công tác phòng chống cháy nổ mùa khô Rất mong bà con đến đông đủ đúng giờ".split()
    read = set(text.replace(",", " ").replace(".", " ").replace(";", " ").replace(":", " ").split())
    missing = [w for w in words if w not in read]
    assert len(missing) <= len(words) // 20, f"OCR missed {missing} in:\n{text}"

    header = tmp_path / "header.png"
    crop = frame.subsurface(layout.header)
    pygame.image.save(pygame.transform.smoothscale(crop, (crop.get_width() * 2, crop.get_height() * 2)), str(header))
    heading = ocr(header, tmp_path)
    assert "Thứ Hai, 23/11/2026" in heading and "07:05" in heading and "Tân Quan" in heading, heading
