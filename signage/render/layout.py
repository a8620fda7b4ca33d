"""Where things go on a frame of any size, from a 4K TV to a 384x192 LED wall (pure geometry)."""

from __future__ import annotations

from dataclasses import dataclass

import pygame

MIN_TEXT_PX = 9  # below this no screen, LED or LCD, shows a readable Vietnamese letter


@dataclass(frozen=True, slots=True)
class Layout:
    width: int
    height: int
    header: pygame.Rect
    slide: pygame.Rect
    ticker: pygame.Rect
    padding: int  # inner margin of the slide area
    min_body_px: int  # the legible minimum for body text; below it text is paged
    max_body_px: int

    @property
    def unit(self) -> int:
        return min(self.width, self.height)

    @classmethod
    def for_size(cls, width: int, height: int, *, ticker: bool = True) -> Layout:
        unit = min(width, height)
        # Small frames (LED walls are seen from afar, with few pixels) give the header
        # and ticker a larger share so their letters stay above the legible minimum.
        small = max(0.0, min(1.0, (600 - unit) / 400))
        header_h = max(18, round(unit * (0.10 + 0.06 * small)))
        ticker_h = max(14, round(unit * (0.07 + 0.06 * small))) if ticker else 0
        header = pygame.Rect(0, 0, width, header_h)
        ticker_rect = pygame.Rect(0, height - ticker_h, width, ticker_h)
        slide = pygame.Rect(0, header_h, width, height - header_h - ticker_h)
        return cls(
            width=width,
            height=height,
            header=header,
            slide=slide,
            ticker=ticker_rect,
            padding=max(4, round(unit * 0.045)),
            min_body_px=max(MIN_TEXT_PX + 1, round(unit / 30)),
            max_body_px=max(MIN_TEXT_PX + 2, round(unit / 11)),
        )
