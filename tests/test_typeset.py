"""Typesetting: wrapping at word boundaries, the largest size that fits, paging past the minimum."""

from __future__ import annotations

import pytest

from signage.render.fonts import FontBook
from signage.render.typeset import ellipsize, set_text, wrap

BODY = (
    "Trạm Y tế xã Tân Quan tổ chức tiêm chủng mở rộng vào ngày 25 và 26/11/2026, từ 7 giờ 00 đến 11 giờ 00.\n\n"
    "Đối tượng: trẻ em dưới 5 tuổi và phụ nữ có thai. Khi đi tiêm, phụ huynh mang theo sổ tiêm chủng."
)


@pytest.fixture
def fonts(display) -> FontBook:
    return FontBook()


@pytest.mark.parametrize("width", [120, 300, 700, 1500])
def test_wrap_keeps_words_whole_and_within_width(fonts, width: int) -> None:
    font = fonts.get(28)
    lines = wrap(BODY, font, width)
    assert all(font.size(line)[0] <= width for line in lines)
    words = BODY.split()
    assert "".join("".join(lines).split()) == "".join(words)  # nothing lost
    if all(font.size(w)[0] <= width for w in words):
        assert " ".join(lines).split() == words  # and no word split
    assert "" in lines  # the paragraph break survives


def test_a_word_wider_than_the_line_is_broken_between_characters(fonts) -> None:
    font = fonts.get(20)
    url = "https://dichvucong.gov.vn/p/home/dvc-trang-chu.html"
    lines = wrap(f"Xem {url} nhé", font, 150)
    assert all(font.size(line)[0] <= 150 for line in lines)
    assert "".join(lines).replace(" ", "") == f"Xem{url}nhé"


def test_the_largest_size_that_fits(fonts) -> None:
    pages = set_text(fonts, "Thông báo", BODY, 1400, 600, min_px=20, max_px=200)
    assert len(pages) == 1
    size = pages[0].body.size
    page = pages[0]
    assert page.title.height + page.gap + page.body.height <= 600
    bigger = set_text(fonts, "Thông báo", BODY, 1400, 600 * 10, min_px=size + 1, max_px=size + 1)[0]
    assert bigger.title.height + bigger.gap + bigger.body.height > 600  # one pixel more would not fit


def test_short_text_stops_at_the_maximum(fonts) -> None:
    page = set_text(fonts, "Họp", "Tối nay.", 1400, 800, min_px=20, max_px=90)[0]
    assert page.body.size == 90


def test_past_the_minimum_the_body_is_paged_and_nothing_is_lost(fonts) -> None:
    long_body = "\n\n".join([BODY] * 8)
    pages = set_text(fonts, "Thông báo dài", long_body, 900, 500, min_px=30, max_px=90)
    assert len(pages) > 1
    assert all(p.body.size == 30 for p in pages)
    assert [(p.number, p.count) for p in pages] == [(i + 1, len(pages)) for i in range(len(pages))]
    for p in pages:
        assert p.title.height + p.gap + p.body.height + p.body.line_height <= 500
        assert p.body.lines[0].strip() and p.body.lines[-1].strip()  # no page starts or ends blank
    words = " ".join(line for p in pages for line in p.body.lines).split()
    assert words == long_body.split()


def test_ellipsize(fonts) -> None:
    font = fonts.get(24)
    short = ellipsize("Ủy ban nhân dân xã Tân Quan, huyện Hớn Quản", font, 200)
    assert short.endswith("…") and font.size(short)[0] <= 200
    assert ellipsize("Tân Quan", font, 500) == "Tân Quan"
