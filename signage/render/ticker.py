"""The ticker: a strip of titles scrolling at constant pixels per second, whatever the frame rate."""

from __future__ import annotations

from collections.abc import Sequence

import pygame

from signage.render import theme
from signage.render.fonts import FontBook


class Ticker:
    def __init__(self, rect: pygame.Rect, fonts: FontBook, pixels_per_second: float | None = None) -> None:
        self.rect = rect
        self.font = fonts.get(max(9, round(rect.height * 0.52)), bold=True)
        self.speed = pixels_per_second if pixels_per_second is not None else rect.height * 2.2
        self.offset = 0.0
        self.items: tuple[str, ...] = ()
        self.segments: list[pygame.Surface] = []
        self.cycle = 0
        self.strip = pygame.Surface(rect.size)
        dot_r = max(2, rect.height // 10)
        self.separator = pygame.Surface((dot_r * 8, rect.height), pygame.SRCALPHA)
        pygame.draw.circle(self.separator, theme.TICKER_DOT, (dot_r * 4, rect.height // 2), dot_r)

    @property
    def active(self) -> bool:
        return bool(self.segments)

    def set_items(self, items: Sequence[str]) -> None:
        """Replace the text; the strip goes on from where it is, no jump back to the start."""
        items = tuple(" ".join(item.split()) for item in items if item.strip())
        if items == self.items:
            return
        self.items = items
        self.segments = [self.font.render(item, True, theme.TICKER_TEXT) for item in items]
        self.cycle = sum(s.get_width() + self.separator.get_width() for s in self.segments)
        if self.cycle:
            self.offset %= self.cycle

    def advance(self, dt: float) -> None:
        if self.cycle:
            self.offset = (self.offset + self.speed * dt) % self.cycle

    def draw(self, target: pygame.Surface) -> pygame.Rect:
        strip = self.strip
        strip.fill(theme.TICKER_FILL)
        if self.cycle:
            x = -round(self.offset)
            index = 0
            mid = self.rect.height // 2
            while x < self.rect.width:
                segment = self.segments[index % len(self.segments)]
                if x + segment.get_width() > 0:
                    strip.blit(segment, segment.get_rect(midleft=(x, mid)))
                x += segment.get_width()
                strip.blit(self.separator, (x, 0))
                x += self.separator.get_width()
                index += 1
        target.blit(strip, self.rect)
        return self.rect
