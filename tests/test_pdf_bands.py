"""A PDF of 12-pt text on a landscape screen: shown large, in bands cut between its lines, with its title."""

from __future__ import annotations

import shutil
import subprocess
from itertools import pairwise
from pathlib import Path

import pygame
import pytest
from PIL import Image, ImageDraw, ImageFont, ImageOps

from signage.media.pdf import band_cuts, blank_rows, ink_runs, render_pages
from signage.model import BulletinInput, Playable, Source, parse_bulletin
from signage.paths import FONT_BOLD, FONT_REGULAR
from signage.playlist import describe_media
from signage.render.composer import compose
from signage.render.fonts import FontBook
from signage.render.layout import Layout

DPI = 300
BODY = [
    "Ủy ban nhân dân xã thông báo lịch tiêm chủng mở rộng cho trẻ em",
    "dưới năm tuổi tại trạm y tế xã vào sáng thứ bảy hằng tuần.",
    "Phụ huynh mang theo sổ tiêm chủng và thẻ bảo hiểm y tế của trẻ.",
    "Người dân có việc cần hỏi xin liên hệ cán bộ văn hóa xã.",
]


def a4_notice(path: Path, lines: int = 36) -> None:
    """An A4 page at 300 dpi: a 14-pt bold heading and `lines` lines of 12-pt Vietnamese text (Pillow's PDF writer)."""
    page = Image.new("RGB", (round(8.27 * DPI), round(11.69 * DPI)), "white")
    draw = ImageDraw.Draw(page)
    point = DPI / 72
    body = ImageFont.truetype(str(FONT_REGULAR), round(12 * point))
    heading = ImageFont.truetype(str(FONT_BOLD), round(14 * point))
    left, y = round(85 * point), round(57 * point)  # 3 cm and 2 cm margins, as in an official notice
    draw.text((left + round(150 * point), y), "THÔNG BÁO", font=heading, fill="black")
    y += round(30 * point)
    for index in range(lines):
        draw.text((left, y), BODY[index % len(BODY)], font=body, fill="black")
        y += round(18 * point)  # 1.5 line spacing
    page.save(path, "PDF", resolution=DPI)


def notice(pdf: Path, title: str = "Lịch tiêm chủng tháng 12") -> Playable:
    bulletin = parse_bulletin({"id": "tc", "kind": "pdf", "title": title, "media": describe_media(pdf)}, BulletinInput("t", Source.INBOX))
    return Playable(bulletin, pdf, page_count=1)


def median_line_px(image: Image.Image) -> int:
    heights = sorted(bottom - top for top, bottom in ink_runs(blank_rows(image)))
    return heights[len(heights) // 2]


def test_bands_are_cut_only_in_blank_rows_and_follow_each_other_down_to_the_last_ink() -> None:
    blank = [True] * 10 + ([False] * 12 + [True] * 6) * 20 + [True] * 40  # 20 lines of 12 rows, 6 blank between
    cuts = band_cuts(blank, 100)
    assert cuts[0][0] == 0 and cuts[-1][1] == 10 + 18 * 20 - 6 + 5  # down to the last ink and a little paper, not the blank foot
    assert all(a[1] == b[0] for a, b in pairwise(cuts))
    assert all(0 < bottom - top <= 100 for top, bottom in cuts)
    assert all(blank[bottom] for _, bottom in cuts[:-1])  # each cut between two lines


def test_ink_taller_than_a_band_is_cut_where_it_must_be() -> None:
    blank = [True] * 5 + [False] * 250 + [True] * 5 + [False] * 10
    cuts = band_cuts(blank, 100)
    assert cuts[-1][1] == 270 and all(bottom - top <= 100 for top, bottom in cuts)


def test_an_a4_page_of_12_pt_text_shows_in_bands_at_least_2_5_times_as_large_with_its_title(display: None, tmp_path: Path) -> None:
    pdf = tmp_path / "thong-bao.pdf"
    a4_notice(pdf)
    layout = Layout.for_size(1920, 1080)
    pad = max(2, layout.padding // 3)
    (old_fit,) = render_pages(pdf, (layout.slide.width - 2 * pad, layout.slide.height - 2 * pad))
    old_line_px = median_line_px(Image.frombytes(old_fit.mode, old_fit.size, old_fit.data))

    slide = compose(notice(pdf), layout, FontBook())
    assert len(slide.pages) >= 3 and slide.weights == (1,) * len(slide.pages)  # the turn shared by the bands
    band_lines: list[int] = []
    for number, page in enumerate(slide.pages, start=1):
        assert page.get_size() == layout.slide.size
        pygame.image.save(page, str(tmp_path / f"band{number}.png"))
        shot = Image.open(tmp_path / f"band{number}.png").convert("RGB")
        white = [x for x in range(shot.width) if shot.getpixel((x, shot.height // 2)) == (255, 255, 255)]
        paper = [y for y in range(shot.height) if shot.getpixel((white[0] + 2, y)) == (255, 255, 255)]  # the page's margin
        band = shot.crop((white[0], paper[0], white[-1] + 1, paper[-1] + 1))
        rows = blank_rows(band)
        assert rows[0] and rows[-1], f"band {number} cuts a line"
        band_lines.append(median_line_px(band))
    assert min(band_lines) >= 2.5 * old_line_px, (band_lines, old_line_px)


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")
def test_the_bands_read_as_the_notice_and_its_title(display: None, tmp_path: Path) -> None:
    pdf = tmp_path / "thong-bao.pdf"
    a4_notice(pdf, lines=8)
    slide = compose(notice(pdf), Layout.for_size(1920, 1080), FontBook())
    pygame.image.save(slide.pages[0], str(tmp_path / "band1.png"))
    shot = Image.open(tmp_path / "band1.png").convert("L")
    paper_top = next(y for y in range(shot.height) if shot.getpixel((shot.width // 2, y)) == 255)
    title = ImageOps.invert(shot.crop((0, 0, shot.width, paper_top)))  # light on dark: tesseract reads dark on light
    title.resize((title.width * 2, title.height * 2)).save(tmp_path / "title.png")
    languages = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30).stdout.split()
    lang = "vie" if "vie" in languages else "eng"

    def read(name: str) -> str:
        out = subprocess.run(["tesseract", str(tmp_path / name), "-", "-l", lang], capture_output=True, text=True, timeout=120, check=True)
        return " ".join(out.stdout.split()).lower()

    body = read("band1.png")
    assert "thông báo lịch tiêm chủng" in body and "sổ tiêm chủng" in body, body
    assert "tiêm chủng tháng 12" in read("title.png")
