"""Turns a playable bulletin into ready slide surfaces, ahead of its turn, in a worker thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import pygame

from signage.engine import turn_seconds
from signage.errors import MediaError
from signage.model import Kind, Playable
from signage.render.fonts import FontBook, FontFiles
from signage.render.layout import Layout
from signage.render.live import Live
from signage.render.slides import idle_slide, image_slide, pdf_pages, text_pages, video_page

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Slide:
    """A bulletin composed for the frame: one surface per page and how long each stays."""

    playable: Playable | None  # None: the idle slide
    pages: tuple[pygame.Surface, ...]
    weights: tuple[int, ...]  # each page's share of the turn (its text length)
    live: Callable[[], Live] | None = None  # what draws over the page while it shows; called when the slide goes on screen

    @property
    def key(self) -> tuple[str, int] | None:
        b = self.playable.bulletin if self.playable else None
        return (b.id, b.revision) if b else None


def compose(playable: Playable, layout: Layout, fonts: FontBook, *, volume: float = 0.8) -> Slide:
    """Draw every page of `playable`; raises `MediaError` when its media cannot be shown."""
    bulletin = playable.bulletin
    if bulletin.kind is Kind.TEXT:
        pages = text_pages(bulletin, layout, fonts)
        return Slide(playable, tuple(s for s, _ in pages), tuple(max(1, len(t)) for _, t in pages))
    if bulletin.kind is Kind.IMAGE:
        assert playable.media_path is not None
        slide = image_slide(bulletin, playable.media_path, layout, fonts)
        return Slide(playable, (slide,), (1,))
    if bulletin.kind is Kind.PDF:
        assert playable.media_path is not None
        pages = pdf_pages(bulletin, playable.media_path, layout, fonts)
        if not pages:
            raise MediaError(f"{playable.media_path}: PDF without pages")
        return Slide(playable, tuple(pages), tuple(1 for _ in pages))
    if bulletin.kind is Kind.VIDEO:
        from signage.media.video import VideoClip, VideoPlayback  # PyAV loads only on boards that show videos

        assert playable.media_path is not None
        clip = VideoClip(playable.media_path, layout.slide.size)  # opened here, ahead of its turn: no gap
        page, rect = video_page(clip, layout)
        turn = turn_seconds(playable)
        loop = turn if turn > clip.duration + 0.05 else None  # a turn longer than the clip plays it again
        return Slide(playable, (page,), (1,), live=lambda: VideoPlayback(clip, rect, loop_seconds=loop, volume=volume))
    if bulletin.kind is Kind.AUDIO:
        from signage.render.audiocard import AudioCard, audio_card

        media_path = playable.media_path
        assert media_path is not None
        if not media_path.is_file():  # found now, the bulletin is dropped instead of showing a card that never plays
            raise MediaError(f"{media_path}: file not found")
        seconds = turn_seconds(playable)  # the bar runs with the turn, which is the sound's length unless duration_s cuts it
        page, strip = audio_card(bulletin, layout, fonts, seconds)
        return Slide(playable, (page,), (1,), live=lambda: AudioCard(media_path, seconds, volume, strip))
    raise MediaError(f"{playable.media_path}: {bulletin.kind.value} bulletins are not playable yet (bulletin {bulletin.id})")


class Composer:
    """One worker thread with its own fonts; results are converted to the display's format on the caller's side."""

    def __init__(self, layout: Layout, font_files: FontFiles, board_name: str, logo: pygame.Surface | None, *, volume: float = 0.8) -> None:
        self.layout = layout
        self.volume = volume
        self.board_name = board_name
        self.logo = logo.copy() if logo is not None else None
        self._fonts: FontBook | None = None
        self._font_files = font_files
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="composer")

    def _book(self) -> FontBook:
        if self._fonts is None:  # created in the worker, used only there
            self._fonts = FontBook(self._font_files)
        return self._fonts

    def submit(self, playable: Playable) -> Future[Slide]:
        return self._pool.submit(lambda: compose(playable, self.layout, self._book(), volume=self.volume))

    def submit_idle(self, now: datetime) -> Future[Slide]:
        def work() -> Slide:
            surface = idle_slide(self.board_name, now, self.layout, self._book(), self.logo)
            return Slide(None, (surface,), (1,))

        return self._pool.submit(work)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
