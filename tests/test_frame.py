"""Frame cost by design: only the ticker (and the clock when its text changes) is redrawn per frame."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pygame
import pytest

from signage.render.fonts import FontBook
from signage.render.frame import Frame
from signage.render.layout import Layout

NOW = datetime(2026, 11, 23, 7, 5, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


def frame_of(size: tuple[int, int], ticker: bool = True) -> Frame:
    layout = Layout.for_size(*size, ticker=ticker)
    frame = Frame(layout, FontBook(), "UBND xã Tân Quan", None, transition_seconds=0.6)
    slide = pygame.Surface(layout.slide.size)
    slide.fill((20, 56, 98))
    frame.show(slide, fade=False)
    if ticker:
        frame.set_ticker(["Lịch tiêm chủng", "Họp dân ấp 2"])
    return frame


def test_per_frame_only_the_ticker_and_once_a_minute_the_clock(display) -> None:
    frame = frame_of((1920, 1080))
    assert frame.update(NOW, 0) is None  # the first frame is presented whole
    rects = [frame.update(NOW + timedelta(seconds=k / 60), 1 / 60) for k in range(1, 60 * 40)]
    ticker_only = [r for r in rects if r == [frame.layout.ticker]]
    with_clock = [r for r in rects if r != [frame.layout.ticker]]
    assert len(with_clock) == 1  # 07:05:30 → 07:06:00, once
    assert with_clock[0] == [frame.header.clock_rect, frame.layout.ticker]
    assert len(ticker_only) == len(rects) - 1


def test_without_a_ticker_a_still_frame_presents_nothing(display) -> None:
    frame = frame_of((1920, 1080), ticker=False)
    frame.update(NOW, 0)
    assert not frame.animating
    assert all(frame.update(NOW + timedelta(seconds=k), 1.0) == [] for k in range(1, 29))


@pytest.mark.parametrize(("size", "fade_frames"), [((1920, 1080), 36), ((3840, 2160), 18)])
def test_a_crossfade_redraws_the_slide_area_per_frame_or_at_30_hz_at_4k(display, size, fade_frames: int) -> None:
    frame = frame_of(size)
    frame.update(NOW, 0)
    other = pygame.Surface(frame.layout.slide.size)
    other.fill((200, 10, 30))
    frame.show(other)
    slide_redraws = 0
    for k in range(60):
        rects = frame.update(NOW, 1 / 60)
        slide_redraws += frame.layout.slide in rects
        if k == 15:
            mid = frame.surface.get_at(frame.layout.slide.center)
            assert 20 < mid.r < 200  # half way: a blend of both, never black
    assert slide_redraws == pytest.approx(fade_frames, abs=1)
    assert frame.surface.get_at(frame.layout.slide.center)[:3] == (200, 10, 30)
    assert not frame._fade_from
