"""The header: logo, commune name, and the date and clock, which alone are redrawn."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

import pygame

from signage.render import theme
from signage.render.fonts import FontBook
from signage.render.slides import gradient
from signage.render.typeset import ellipsize
from signage.vi import WEEKDAYS, format_clock, format_date

log = logging.getLogger(__name__)


class Header:
    def __init__(self, rect: pygame.Rect, fonts: FontBook, board_name: str, logo: pygame.Surface | None) -> None:
        self.rect = rect
        h = rect.height
        self.pad = max(3, round(h * 0.22))
        self.name_font = fonts.get(max(9, round(h * 0.36)), bold=True)
        self.clock_font = fonts.get(max(9, round(h * 0.42)), bold=True)
        self.date_font = fonts.get(max(9, round(h * 0.27)))
        self.base = pygame.transform.rotate(gradient((h, rect.width), theme.HEADER_LEFT, theme.HEADER_RIGHT), 90)
        self.base = pygame.transform.flip(self.base, False, True)  # left colour on the left

        # The right block is as wide as its widest possible text, so nothing shifts when it changes.
        clock_w = max(self.clock_font.size(f"{d}{d}:{d}{d}")[0] for d in "0123456789")
        date_w = max(self.date_font.size(f"{day}, 28/12/2026")[0] for day in WEEKDAYS)
        gap = self.pad
        logo_w = 0
        if logo is not None and h >= 24:
            logo_h = round(h * 0.76)
            scaled = pygame.transform.smoothscale(logo, (round(logo.get_width() * logo_h / logo.get_height()), logo_h))
            self.base.blit(scaled, (self.pad, (h - logo_h) // 2))
            logo_w = scaled.get_width() + gap
        name_x = self.pad + logo_w
        name_room = rect.width - name_x - gap - clock_w - date_w - gap - self.pad
        # The date goes first when room is short, or when it would be too small to read (LED walls).
        self.show_date = self.name_font.size(board_name)[0] <= name_room and self.date_font.get_height() >= 14
        if not self.show_date:  # a narrow frame (portrait, LED wall) keeps the name and the clock
            name_room += date_w + gap
            date_w = 0
        name = ellipsize(board_name, self.name_font, max(10, name_room))
        label = self.name_font.render(name, True, theme.HEADER_NAME)
        self.name_rect = label.get_rect(topleft=(name_x + rect.left, rect.top + (h - label.get_height()) // 2))
        self.base.blit(label, (name_x, (h - label.get_height()) // 2))
        right_w = clock_w + (date_w + gap if self.show_date else 0)
        self.clock_rect = pygame.Rect(rect.right - self.pad - right_w, rect.top, right_w, h)
        self.clock_w = clock_w
        self.shown = ""
        self._minute: tuple[datetime, datetime] | None = None  # the minute whose text is on screen

    def draw(self, target: pygame.Surface) -> None:
        target.blit(self.base, self.rect)
        self.shown = ""
        self._minute = None

    def update(self, target: pygame.Surface, now: datetime) -> pygame.Rect | None:
        """Redraw the date and clock if their text changed; the dirty rectangle or None."""
        minute = self._minute
        if minute is not None and minute[0] <= now < minute[1]:
            return None  # every frame asks; the text changes once a minute (a clock stepped back leaves the window)
        start = now.replace(second=0, microsecond=0)
        self._minute = (start, start + timedelta(minutes=1))
        clock, date = format_clock(now), format_date(now)
        text = f"{date} {clock}"
        if text == self.shown:
            return None
        self.shown = text
        local = self.clock_rect.move(-self.rect.left, -self.rect.top)
        target.blit(self.base, self.clock_rect, local)
        clock_surface = self.clock_font.render(clock, True, theme.HEADER_TEXT)
        right = self.clock_rect.right
        mid = self.clock_rect.centery
        target.blit(clock_surface, clock_surface.get_rect(midright=(right, mid)))
        if self.show_date:
            date_surface = self.date_font.render(date, True, theme.HEADER_TEXT)
            target.blit(date_surface, date_surface.get_rect(midright=(right - self.clock_w - self.pad, mid)))
        return self.clock_rect


def load_logo(path: Path) -> pygame.Surface | None:
    try:
        return pygame.image.load(path).convert_alpha()
    except (pygame.error, FileNotFoundError, OSError) as exc:
        log.error("%s: cannot load logo (%s); the header goes without it", path, exc)
        return None
