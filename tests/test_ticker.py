"""The ticker moves at constant pixels per second, whatever the frame rate."""

from __future__ import annotations

import pygame
import pytest

from signage.render.fonts import FontBook
from signage.render.ticker import Ticker


@pytest.fixture
def ticker(display) -> Ticker:
    t = Ticker(pygame.Rect(0, 1000, 1920, 80), FontBook(), pixels_per_second=180)
    t.set_items(["Lịch tiêm chủng mở rộng", "Thông báo họp dân ấp 2", "Phòng, chống bão lũ"])
    return t


def test_speed_does_not_depend_on_frame_rate(ticker: Ticker) -> None:
    at_60 = Ticker(ticker.rect, FontBook(), pixels_per_second=180)
    at_60.set_items(ticker.items)
    for _ in range(120):
        at_60.advance(1 / 60)
    for _ in range(50):
        ticker.advance(1 / 25)
    assert at_60.offset == pytest.approx(360.0)
    assert ticker.offset == pytest.approx(360.0)


def test_default_speed_scales_with_the_strip(display) -> None:
    small = Ticker(pygame.Rect(0, 0, 384, 23), FontBook())
    large = Ticker(pygame.Rect(0, 0, 3840, 151), FontBook())
    assert large.speed / small.speed == pytest.approx(151 / 23)


def test_the_strip_wraps_around_and_changes_as_it_moves(ticker: Ticker) -> None:
    frame = pygame.Surface((1920, 1080))
    ticker.draw(frame)
    before = pygame.image.tobytes(frame.subsurface(ticker.rect), "RGB")
    ticker.advance(0.5)
    ticker.draw(frame)
    assert pygame.image.tobytes(frame.subsurface(ticker.rect), "RGB") != before
    ticker.advance(ticker.cycle / ticker.speed)  # one whole cycle later: the same picture
    ticker.draw(frame)
    again = pygame.image.tobytes(frame.subsurface(ticker.rect), "RGB")
    ticker.offset = 90.0
    ticker.draw(frame)
    assert again == pygame.image.tobytes(frame.subsurface(ticker.rect), "RGB")


def test_new_items_do_not_jump_back_to_the_start(ticker: Ticker) -> None:
    ticker.advance(2.0)
    ticker.set_items([*ticker.items, "Thu gom rác"])
    assert ticker.offset == pytest.approx(360.0)
