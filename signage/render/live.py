"""Slides that change while they are on screen (a video, an audio bulletin's card): the seam the frame draws through."""

from __future__ import annotations

from typing import Protocol

import pygame


class Live(Protocol):
    """Drawn by the frame into the slide area each frame, after the slide's crossfade has finished."""

    @property
    def failed(self) -> str | None:
        """One line naming the file and the problem, once playback broke (the player then ends the slide)."""
        ...

    @property
    def moving(self) -> bool:
        """Whether it changes every frame (a video) rather than now and then (a progress bar)."""
        ...

    def begin(self, clock: float) -> None:
        """Start playing at monotonic time `clock` (sound starts too, where the board has it)."""
        ...

    def draw(self, target: pygame.Surface, area: pygame.Rect, clock: float) -> list[pygame.Rect]:
        """Draw what is due at `clock` into `area` of `target`; the rectangles changed."""
        ...

    def stop(self) -> None:
        """Stop and release decoders, threads and sound (idempotent)."""
        ...
