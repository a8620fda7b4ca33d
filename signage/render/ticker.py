"""The ticker: a strip of titles scrolling at constant pixels per second, whatever the frame rate."""

from __future__ import annotations

from collections.abc import Sequence

import pygame

from signage.config import BoardConfig
from signage.model import Playable, Priority
from signage.render import theme
from signage.render.fonts import FontBook

# The strip scrolls about 170 px a second at 1080p: 30 titles of up to 160 characters are ten minutes
# and more of scrolling, longer than anyone watches. Each title is a tile drawn in the main thread,
# about 1 MB at 1080p at that length, so a feed of thousands of bulletins with 500-character titles
# (3.6 MB each) must not become thousands of tiles: the first 30 (emergencies come first) are shown.
MAX_TICKER_ITEMS = 30
MAX_TICKER_CHARS = 160


def shortened(item: str) -> str:
    """A title cut to MAX_TICKER_CHARS at a word, with an ellipsis."""
    if len(item) <= MAX_TICKER_CHARS:
        return item
    cut = item[: MAX_TICKER_CHARS - 1]
    head = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return head.rstrip(" ,;:.-") + "…"


class Ticker:
    def __init__(self, rect: pygame.Rect, fonts: FontBook, pixels_per_second: float | None = None) -> None:
        self.rect = rect
        self.font = fonts.get(max(9, round(rect.height * 0.52)), bold=True)
        self.speed = pixels_per_second if pixels_per_second is not None else rect.height * 2.2
        self.offset = 0.0
        self.items: tuple[str, ...] = ()
        # One opaque tile per item, its text and the dot after it drawn once on the ticker's fill:
        # a frame then copies pixels (one or two blits), never blends text again.
        self.tiles: list[pygame.Surface] = []
        self.cycle = 0
        self._dot_radius = max(2, rect.height // 10)
        self._separator_width = self._dot_radius * 8

    @property
    def active(self) -> bool:
        return bool(self.tiles)

    def set_items(self, items: Sequence[str]) -> None:
        """Replace the text; the strip goes on from where it is, no jump back to the start."""
        items = tuple(shortened(" ".join(item.split())) for item in items if item.strip())[:MAX_TICKER_ITEMS]
        if items == self.items:
            return
        self.items = items
        self.tiles = [self._tile(item) for item in items]
        self.cycle = sum(tile.get_width() for tile in self.tiles)
        if self.cycle:
            self.offset %= self.cycle

    def _tile(self, item: str) -> pygame.Surface:
        text = self.font.render(item, True, theme.TICKER_TEXT)
        height, mid = self.rect.height, self.rect.height // 2
        tile = pygame.Surface((text.get_width() + self._separator_width, height))
        if pygame.display.get_surface() is not None:
            tile = tile.convert()  # the frame's own format: a blit is a copy, no conversion per frame
        tile.fill(theme.TICKER_FILL)
        tile.blit(text, text.get_rect(midleft=(0, mid)))
        pygame.draw.circle(tile, theme.TICKER_DOT, (text.get_width() + self._dot_radius * 4, mid), self._dot_radius)
        return tile

    def advance(self, dt: float) -> None:
        if self.cycle:
            self.offset = (self.offset + self.speed * dt) % self.cycle

    def draw(self, target: pygame.Surface) -> pygame.Rect:
        rect = self.rect
        if not self.cycle:
            target.fill(theme.TICKER_FILL, rect)
            return rect
        clip = target.get_clip()
        target.set_clip(rect.clip(clip))
        x = rect.left - round(self.offset)
        tiles = self.tiles
        index = 0
        while x < rect.right:
            tile = tiles[index % len(tiles)]
            if x + tile.get_width() > rect.left:
                target.blit(tile, (x, rect.top))
            x += tile.get_width()
            index += 1
        target.set_clip(clip)
        return rect


def ticker_items(config: BoardConfig, playables: list[Playable]) -> list[str]:
    """The standing message, then the titles of what may play, emergencies first."""
    ranked = sorted(playables, key=lambda p: p.bulletin.priority is not Priority.EMERGENCY)
    items = [config.ticker.text] if config.ticker.text else []
    return items + [p.bulletin.title for p in ranked]
