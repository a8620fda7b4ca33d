"""The bundled fonts: every Vietnamese letter with every tone mark, and stacked marks inside the line."""

from __future__ import annotations

import unicodedata

import pytest
from fontTools.ttLib import TTFont

from signage.paths import FONT_BOLD, FONT_REGULAR
from signage.render.fonts import FontBook, FontFiles
from signage.render.typeset import line_height

BASES = "aăâeêioôơuưy"
TONES = ["", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323"]  # ngang, huyền, sắc, ngã, hỏi, nặng


def vietnamese_letters() -> list[str]:
    """The 134 precomposed letters (67 lower, 67 upper): 12 vowels x 6 tones, minus the 5 bare
    vowels a e i o u y that are plain ASCII, plus đ/Đ; built by composition, not typed."""
    letters = set()
    for base in BASES:
        for tone in TONES:
            letter = unicodedata.normalize("NFC", base + tone)
            if len(letter) == 1 and ord(letter) > 127:
                letters.add(letter)
    letters.add("đ")
    letters |= {letter.upper() for letter in letters}
    return sorted(letters)


def test_there_are_134_precomposed_letters() -> None:
    assert len(vietnamese_letters()) == 134


@pytest.mark.parametrize("path", [FONT_REGULAR, FONT_BOLD], ids=["regular", "bold"])
def test_font_covers_every_vietnamese_letter(path) -> None:
    cmap = TTFont(path).getBestCmap()
    missing = [ch for ch in vietnamese_letters() + list("–…“”•·") if ord(ch) not in cmap]
    assert missing == []


@pytest.mark.parametrize("bold", [False, True], ids=["regular", "bold"])
@pytest.mark.parametrize("size", [16, 36, 96])
def test_stacked_marks_stay_inside_the_line(display, bold: bool, size: int) -> None:
    """The tallest stacks (Ể Ỗ Ặ Ẫ) reach no higher than the ascent, so they never touch the line above.

    (Below 16 px hinting may round a stack a pixel past the ascent; the pixel test covers those sizes.)
    """
    font = FontBook().get(size, bold=bold)
    ascent, descent = font.get_ascent(), font.get_descent()
    for letter in vietnamese_letters():
        ((_, _, miny, maxy, _),) = font.metrics(letter)
        assert maxy <= ascent, f"{letter} rises to {maxy} above an ascent of {ascent}"
        assert miny >= descent, f"{letter} sinks to {miny} below a descent of {descent}"
    assert font.get_linesize() >= ascent - descent


@pytest.mark.parametrize("bold", [False, True], ids=["regular", "bold"])
@pytest.mark.parametrize("size", [10, 12, 14, 24, 48, 96])
def test_rendered_stacks_do_not_touch_the_line_above(display, size: int, bold: bool) -> None:
    """Pixels, not metrics: lines set as the typesetter sets them, `gjpqyỵ` over `ỂỖẶẪẨỲ`, never meet."""
    import pygame

    font = FontBook().get(size, bold=bold)
    step = line_height(font)
    above = font.render("gjpqyỵ ỹ ḡ", True, (255, 0, 0))
    below = font.render("ỂỖẶẪẨỲ ẴỠ", True, (0, 255, 0))
    page = pygame.Surface((max(above.get_width(), below.get_width()), step + below.get_height()))
    page.fill((0, 0, 0))
    page.blit(above, (0, 0))
    page.blit(below, (0, step), special_flags=pygame.BLEND_ADD)
    rows = range(page.get_height())
    cols = range(page.get_width())
    lowest_red = max(y for y in rows for x in cols if page.get_at((x, y)).r > 60)
    highest_green = min(y for y in rows for x in cols if page.get_at((x, y)).g > 60)
    assert lowest_red < highest_green, f"descenders reach row {lowest_red}, marks start at row {highest_green}"


def test_a_missing_font_falls_back_with_one_line(display, tmp_path, caplog) -> None:
    missing = tmp_path / "gone.ttf"
    book = FontBook(FontFiles(regular=missing))
    assert book.get(20).size("Tân Quan")[0] > 0
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [f"{missing}: file not found; falling back to the built-in face (Vietnamese may lack marks)"]
