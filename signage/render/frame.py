"""The frame: header, slide area and ticker on one surface, with crossfades; reports what changed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pygame

from signage.render.fonts import FontBook
from signage.render.header import Header
from signage.render.layout import Layout
from signage.render.live import Live
from signage.render.ticker import Ticker


class Frame:
    """Owns the frame surface. `update(now, dt)` advances time and returns the dirty rectangles."""

    def __init__(
        self,
        layout: Layout,
        fonts: FontBook,
        board_name: str,
        logo: pygame.Surface | None,
        *,
        ticker_speed: float | None = None,
        transition_seconds: float = 0.6,
        surface: pygame.Surface | None = None,
    ) -> None:
        self.layout = layout
        self.surface = surface if surface is not None else pygame.Surface((layout.width, layout.height))
        self.header = Header(layout.header, fonts, board_name, logo)
        self.ticker = Ticker(layout.ticker, fonts, ticker_speed) if layout.ticker.height else None
        self.transition_seconds = transition_seconds
        self.slide: pygame.Surface | None = None
        self._fade_from: pygame.Surface | None = None
        self._fade_elapsed = 0.0
        self._full = True  # the next update redraws and presents everything
        self._blank = False  # screen hours are over: a black frame, nothing moves
        self.live: Live | None = None
        self._live_begun = False
        self.clock = 0.0  # monotonic time of the frame being drawn, for live slides
        self._dt = 0.0
        self._fade_drawn = 0.0
        # Above about 1080p a full-area alpha blit per frame would eat the frame budget of a modest PC.
        self._fade_step = 1 / 30 if layout.slide.width * layout.slide.height > 2_500_000 else 0.0

    @property
    def animating(self) -> bool:
        """Whether the next frames change without a new slide (ticker moving or a fade running)."""
        if self._blank:
            return False
        if self.live is not None and self.live.moving:
            return True
        return self._fade_from is not None or (self.ticker is not None and self.ticker.active)

    def set_ticker(self, items: Sequence[str]) -> None:
        if self.ticker is not None:
            self.ticker.set_items(items)

    def play(self, live: Live | None, clock: float) -> None:
        """Let `live` draw into the slide area; it begins when the slide's crossfade ends. The one before stops."""
        if live is self.live:
            return
        if self.live is not None:
            self.live.stop()
        self.live = live
        self._live_begun = False
        if live is not None and self._fade_from is None:
            live.begin(clock)
            self._live_begun = True

    def blank(self) -> None:
        """A black frame (the screen's off hours); the next `show` brings everything back."""
        self.play(None, 0.0)
        self._blank = True
        self.slide = None
        self._fade_from = None
        self._full = True

    def show(self, slide: pygame.Surface, *, fade: bool = True) -> None:
        """Make `slide` current: crossfaded from the one on screen, or cut if there is none.

        A live slide playing stops unless `play` gives it again after this call.
        """
        if self.live is not None:
            self.live.stop()
            self.live = None
        if self._blank:
            self._blank, self._full = False, True
        if self.slide is not None and fade and self.transition_seconds > 0:
            self._fade_from = self.slide
            self._fade_elapsed = self._fade_drawn = 0.0
        else:
            self._fade_from = None
            self.surface.blit(slide, self.layout.slide)
        self.slide = slide
        self._full = self._full or self._fade_from is None

    def update(self, now: datetime, dt: float, clock: float | None = None) -> list[pygame.Rect] | None:
        """Advance by `dt` seconds to `now` (monotonic `clock` for live slides); the rectangles to present, or None for all."""
        dirty: list[pygame.Rect] = []
        self.clock = self.clock + dt if clock is None else clock
        self._dt = dt
        if self._blank:
            if self._full:
                self.surface.fill((0, 0, 0))
                self._full = False
                return None
            return dirty
        if self._full:
            self.header.draw(self.surface)
            if self.slide is not None and self._fade_from is None:
                self.surface.blit(self.slide, self.layout.slide)
        clock = self.header.update(self.surface, now)
        if clock is not None:
            dirty.append(clock)
        if self._fade_from is not None and self.slide is not None:
            self._fade_elapsed += dt
            progress = min(1.0, self._fade_elapsed / self.transition_seconds)
            if progress < 1.0 and self._fade_elapsed - self._fade_drawn < self._fade_step * 0.9:
                return self._finish(dirty)  # a 4K fade steps at 30 Hz: each step costs ~10 ms
            self._fade_drawn = self._fade_elapsed
            self.surface.blit(self._fade_from, self.layout.slide)
            if progress >= 1.0:
                self._fade_from = None
                self.slide.set_alpha(None)
                self.surface.blit(self.slide, self.layout.slide)
            else:
                self.slide.set_alpha(round(255 * _ease(progress)))
                self.surface.blit(self.slide, self.layout.slide)
                self.slide.set_alpha(None)
            dirty.append(self.layout.slide)
        return self._finish(dirty)

    def _finish(self, dirty: list[pygame.Rect]) -> list[pygame.Rect] | None:
        if self.live is not None and self._fade_from is None:
            if not self._live_begun:  # the fade just ended: its clock starts now, so no frame is "late"
                self.live.begin(self.clock)
                self._live_begun = True
            dirty += self.live.draw(self.surface, self.layout.slide, self.clock)
        if self.ticker is not None:
            self.ticker.advance(self._dt)
            dirty.append(self.ticker.draw(self.surface))
        if self._full:
            self._full = False
            return None
        return dirty

    def invalidate(self) -> None:
        """Redraw and present everything at the next update (after the output was lost or exposed)."""
        self._full = True


def _ease(t: float) -> float:
    return t * t * (3 - 2 * t)  # smoothstep: no visible jolt at either end
