"""A document's slide pages kept as their pictures, each composed onto the slide when it is shown."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import overload

import pygame


@dataclass(frozen=True, slots=True)
class Layer:
    """A surface and where it goes on the slide."""

    surface: pygame.Surface
    rect: pygame.Rect


@dataclass(frozen=True, slots=True)
class PackedLayer:
    """A picture kept packed (a PDF page's band: a few hundred KB for 4.7 MB of pixels), made a surface when shown."""

    unpack: Callable[[], pygame.Surface]
    rect: pygame.Rect
    held_bytes: int


class ComposedOnShow(Sequence[pygame.Surface]):
    """Pages composed when asked for: the slide's background, then page `i`'s picture (with a shadow) and its marks.

    A PDF page at 1080p is a picture of 1.6 MB on a slide of 7 MB: kept as whole slides, a 30-page
    document held 206 MB, and one composed while a video played added 41 MB for six pages on top of the
    video's. Composing a page costs a copy and two blits (about 2 ms at 1080p), once per page turn.
    The last page composed is kept (it is on screen); nothing else is. A packed picture (a band of a
    PDF page shown large) is unpacked when its page is composed, about 10 ms at 1080p.
    """

    def __init__(
        self,
        background: pygame.Surface,
        pictures: Sequence[Layer | PackedLayer],
        markers: Sequence[Layer | tuple[Layer, ...] | None],
        shadow: int,
    ) -> None:
        self._background = background
        self._pictures = tuple(pictures)
        self._markers = tuple(m if isinstance(m, tuple) else (m,) if m is not None else () for m in markers)
        self._shadow = shadow
        self._last: tuple[int, pygame.Surface] | None = None

    def __len__(self) -> int:
        return len(self._pictures)

    @property
    def held_pages(self) -> int:
        """What this holds, in slides' worth of pixels: the background, the pictures and the page on screen."""
        slide = self._background.get_width() * self._background.get_height() * self._background.get_bytesize()
        pictures = sum(
            layer.held_bytes
            if isinstance(layer, PackedLayer)
            else layer.surface.get_width() * layer.surface.get_height() * layer.surface.get_bytesize()
            for layer in self._pictures
        )
        return 2 + math.ceil(pictures / slide)

    @overload
    def __getitem__(self, index: int) -> pygame.Surface: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[pygame.Surface]: ...

    def __getitem__(self, index: int | slice) -> pygame.Surface | Sequence[pygame.Surface]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        if self._last is not None and self._last[0] == index:
            return self._last[1]
        slide = self._background.copy()
        picture = self._pictures[index]
        slide.fill((0, 0, 0), picture.rect.move(self._shadow, self._shadow))  # a hint of shadow: the page lies on the board
        slide.blit(picture.unpack() if isinstance(picture, PackedLayer) else picture.surface, picture.rect)
        for marker in self._markers[index]:
            slide.blit(marker.surface, marker.rect)
        self._last = (index, slide)
        return slide
