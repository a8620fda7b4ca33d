"""Colours of the board: a government-red header, a calm navy slide, a yellow ticker."""

from __future__ import annotations

from dataclasses import dataclass

from signage.model import Priority

RGB = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class SlideColours:
    top: RGB
    bottom: RGB
    title: RGB
    body: RGB
    rule: RGB
    badge_fill: RGB
    badge_text: RGB


NORMAL = SlideColours((12, 38, 71), (20, 56, 98), (255, 211, 77), (246, 246, 240), (255, 211, 77), (255, 211, 77), (12, 38, 71))
HIGH = SlideColours((12, 38, 71), (20, 56, 98), (255, 211, 77), (246, 246, 240), (255, 160, 40), (255, 160, 40), (30, 20, 0))
EMERGENCY = SlideColours((118, 0, 16), (168, 10, 30), (255, 255, 255), (255, 246, 230), (255, 210, 0), (255, 210, 0), (118, 0, 16))

HEADER_LEFT: RGB = (142, 14, 26)
HEADER_RIGHT: RGB = (186, 20, 34)
HEADER_NAME: RGB = (255, 210, 0)
HEADER_TEXT: RGB = (255, 255, 255)
TICKER_FILL: RGB = (255, 210, 0)
TICKER_TEXT: RGB = (28, 28, 28)
TICKER_DOT: RGB = (186, 20, 34)
CAPTION_BAND: tuple[int, int, int, int] = (0, 0, 0, 170)
CAPTION_TEXT: RGB = (255, 255, 255)


def slide_colours(priority: Priority) -> SlideColours:
    return {Priority.NORMAL: NORMAL, Priority.HIGH: HIGH, Priority.EMERGENCY: EMERGENCY}[priority]
