"""Turns a playable bulletin into ready slide surfaces, ahead of its turn, in a worker thread.

Composing has a budget: text is typeset with a time budget of its own, and a worker busy on one
slide for longer than `COMPOSE_SECONDS` (a read that hangs on a failing card, a decoder that spins)
can be abandoned: it finishes alone, its result dropped, while a fresh worker takes the queue.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

import pygame

from signage.engine import turn_seconds
from signage.errors import MediaError
from signage.limits import Budget
from signage.model import Kind, Playable
from signage.render.fonts import FontBook, FontFiles
from signage.render.layout import Layout
from signage.render.live import Live
from signage.render.slides import caption_strip, idle_slide, image_slide, pdf_pages, text_pages, video_box, video_page

log = logging.getLogger(__name__)

# The longest one slide may take to compose. A PDF's pages get 8 s of rendering (media/pdf.py), a
# video opens its first frame within a few; a text at the caps takes well under a second.
COMPOSE_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class Slide:
    """A bulletin composed for the frame: one surface per page and how long each stays."""

    playable: Playable | None  # None: the idle slide
    pages: Sequence[pygame.Surface]  # a tuple, or a document's `ComposedOnShow`
    weights: tuple[int, ...]  # each page's share of the turn (its text length)
    live: Callable[[], Live] | None = None  # what draws over the page while it shows; called when the slide goes on screen

    @property
    def key(self) -> tuple[str, int] | None:
        b = self.playable.bulletin if self.playable else None
        return (b.id, b.revision) if b else None


def compose(playable: Playable, layout: Layout, fonts: FontBook, *, volume: float = 0.8, budget: Budget | None = None) -> Slide:
    """Draw every page of `playable`; raises `MediaError` when its media cannot be shown (or its text outlasts `budget`)."""
    bulletin = playable.bulletin
    if bulletin.kind is Kind.TEXT:
        pages = text_pages(bulletin, layout, fonts, budget=budget)
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
        return Slide(playable, pages, tuple(1 for _ in range(len(pages))))
    if bulletin.kind is Kind.VIDEO:
        from signage.media.video import VideoClip, VideoPlayback  # PyAV loads only on boards that show videos

        assert playable.media_path is not None
        strip = caption_strip(bulletin, layout, fonts)  # its title, below the picture
        clip = VideoClip(playable.media_path, video_box(layout, strip))  # opened here, ahead of its turn: no gap
        page, rect = video_page(clip, layout, strip)
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


@dataclass(eq=False)
class _Job:
    future: Future[Slide]
    work: Callable[[FontBook], Slide]
    playable: Playable | None  # None: the idle slide


@dataclass(eq=False)
class _Worker:
    """One composing thread with its own fonts. A daemon: one stuck in a read never holds up the board's exit."""

    jobs: queue.SimpleQueue[_Job | None]
    font_files: FontFiles
    clock: Callable[[], float]
    current: tuple[_Job, float] | None = None  # the job under way and when it started
    retired: bool = False
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, name="composer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        fonts: FontBook | None = None  # created here, used only by this thread
        while True:
            job = self.jobs.get()
            if self.retired:  # replaced while it was stuck: what it took belongs to the new worker
                self.jobs.put(job)
                return
            if job is None:
                return
            if not job.future.set_running_or_notify_cancel():
                continue
            self.current = (job, self.clock())
            try:
                fonts = fonts if fonts is not None else FontBook(self.font_files)
                slide = job.work(fonts)
            except BaseException as exc:  # the caller sees it on the future, as ThreadPoolExecutor does
                job.future.set_exception(exc)
            else:
                job.future.set_result(slide)
            finally:
                self.current = None


class Composer:
    """A worker thread with its own fonts; results are converted to the display's format on the caller's side.

    `clock` (monotonic seconds) times the work under way for `overdue`; the player passes its own.
    """

    def __init__(
        self,
        layout: Layout,
        font_files: FontFiles,
        board_name: str,
        logo: pygame.Surface | None,
        *,
        volume: float = 0.8,
        clock: Callable[[], float] = time.monotonic,
        budget_seconds: float = COMPOSE_SECONDS,
    ) -> None:
        self.layout = layout
        self.volume = volume
        self.board_name = board_name
        self.logo = logo.copy() if logo is not None else None
        self.clock = clock
        self.budget_seconds = budget_seconds
        self._font_files = font_files
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._worker = _Worker(self._jobs, font_files, clock)

    def _put(self, playable: Playable | None, work: Callable[[FontBook], Slide]) -> Future[Slide]:
        future: Future[Slide] = Future()
        self._jobs.put(_Job(future, work, playable))
        return future

    def submit(self, playable: Playable) -> Future[Slide]:
        return self._put(playable, lambda fonts: compose(playable, self.layout, fonts, volume=self.volume))

    def submit_idle(self, now: datetime) -> Future[Slide]:
        def work(fonts: FontBook) -> Slide:
            return Slide(None, (idle_slide(self.board_name, now, self.layout, fonts, self.logo),), (1,))

        return self._put(None, work)

    def overdue(self) -> tuple[Playable | None, Future[Slide]] | None:
        """The slide the worker has been composing for longer than `budget_seconds` (and its future), or None."""
        current = self._worker.current
        if current is None or self.clock() - current[1] <= self.budget_seconds:
            return None
        return current[0].playable, current[0].future

    def abandon(self) -> None:
        """Leave the worker to finish its slide alone (the result is dropped) and start a fresh one on the queue."""
        self._worker.retired = True
        self._worker = _Worker(self._jobs, self._font_files, self.clock)

    def close(self, timeout: float = 2.0) -> None:
        """Cancel what waits, and wait a little for the slide under way (never for a stuck one)."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.future.cancel()
        self._jobs.put(None)
        self._worker.thread.join(timeout)
