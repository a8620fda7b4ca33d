"""The main loop: content → what may play → composed slides → frames on the output.

The loop owns the main thread (SDL wants it). Slides are composed one ahead in the
composer's worker, so the screen never waits on a decode and never shows a gap.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

import pygame

from signage.config import BoardConfig
from signage.engine import playable_now
from signage.errors import SignageError
from signage.model import Playable, Priority
from signage.paths import LOGO
from signage.playlist import load_playlists
from signage.render.composer import Composer, Slide
from signage.render.fonts import FontBook, FontFiles
from signage.render.frame import Frame
from signage.render.layout import Layout
from signage.render.output import Output

log = logging.getLogger(__name__)


class Clock(Protocol):
    """Wall time for decisions, monotonic time for animation; tests pass their own."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


@dataclass(frozen=True, slots=True)
class SystemClock:
    timezone: ZoneInfo

    def now(self) -> datetime:
        return datetime.now(self.timezone)

    def monotonic(self) -> float:
        return time.monotonic()


def font_files(config: BoardConfig) -> FontFiles:
    defaults = FontFiles()
    return FontFiles(regular=config.display.font or defaults.regular, bold=config.display.font_bold or defaults.bold)


def load_logo(path: Path) -> pygame.Surface | None:
    try:
        return pygame.image.load(path).convert_alpha()
    except (pygame.error, FileNotFoundError, OSError) as exc:
        log.error("%s: cannot load logo (%s); the header goes without it", path, exc)
        return None


def load_content(config: BoardConfig) -> list[Playable]:
    """Everything the board could play, from its local sources (feed and inbox join in later issues)."""
    return load_playlists(config.playlists).playables


def ticker_items(config: BoardConfig, playables: list[Playable]) -> list[str]:
    """The standing message, then the titles of what may play, emergencies first."""
    ranked = sorted(playables, key=lambda p: p.bulletin.priority is not Priority.EMERGENCY)
    items = [config.ticker.text] if config.ticker.text else []
    return items + [p.bulletin.title for p in ranked]


class Player:
    def __init__(
        self,
        config: BoardConfig,
        output: Output,
        clock: Clock,
        *,
        screenshot_dir: Path | None = None,
        screenshot_every: float | None = None,
    ) -> None:
        self.config = config
        self.output = output
        self.clock = clock
        self.stop_event = threading.Event()
        width, height = output.frame.get_size()
        self.layout = Layout.for_size(width, height, ticker=config.ticker.enabled)
        files = font_files(config)
        self.fonts = FontBook(files)
        self.logo = load_logo(config.display.logo or LOGO)
        self.frame = Frame(
            self.layout,
            self.fonts,
            config.board.name,
            self.logo,
            ticker_speed=config.ticker.pixels_per_second,
            transition_seconds=config.display.transition_seconds,
            surface=output.frame,
        )
        self.composer = Composer(self.layout, files, config.board.name, self.logo)
        self.content = load_content(config)
        self.failed: set[tuple[str, int]] = set()  # bulletins whose media would not compose
        self.position = -1  # index in the rotation of the slide on screen
        self.slide: Slide | None = None
        self.page = 0
        self.page_deadline = 0.0
        self.pending: Future[Slide] | None = None
        self._pending_index = -1
        self._pending_playable: Playable | None = None
        self.screenshot_dir = screenshot_dir
        self.screenshot_every = screenshot_every
        self._screenshot_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="screenshot") if screenshot_dir else None
        self.frames = 0
        self.first_frame_at: float | None = None
        self._last_mono = 0.0
        self._next_shot = 0.0

    # -- what comes next ---------------------------------------------------

    def _candidates(self, now: datetime) -> list[Playable]:
        return [p for p in playable_now(self.content, self.config.board.id, now) if (p.bulletin.id, p.bulletin.revision) not in self.failed]

    def _next_after(self, now: datetime) -> tuple[int, Playable | None]:
        """The next playable in rotation order after the one on screen (simple order until the engine lands)."""
        candidates = self._candidates(now)
        if not candidates:
            return -1, None
        index = (self.position + 1) % len(candidates)
        return index, candidates[index]

    def _prepare_next(self, now: datetime) -> None:
        index, playable = self._next_after(now)
        self._pending_index, self._pending_playable = index, playable
        self.pending = self.composer.submit(playable) if playable else self.composer.submit_idle(now)

    def _take_pending(self) -> Slide | None:
        """The prepared slide, or None (its media failed: logged, skipped until its revision changes)."""
        assert self.pending is not None
        try:
            slide = self.pending.result()
        except SignageError as exc:
            log.error("%s", exc)
            slide = None
        except Exception as exc:  # a bad bulletin must never take the board down
            log.exception("cannot compose a slide: %s", exc)
            slide = None
        if slide is None:
            return None
        pages = tuple(page.convert() for page in slide.pages)
        return Slide(slide.playable, pages, slide.seconds)

    def _failed_pending(self) -> None:
        playable = self._pending_playable
        if playable is not None:
            self.failed.add((playable.bulletin.id, playable.bulletin.revision))

    def _advance(self, mono: float, now: datetime, *, first: bool = False) -> None:
        """Move to the next page, or the next slide once it is ready (never a blank in between)."""
        # Deadlines follow each other, not the frame that noticed them: no drift over a day.
        base = self.page_deadline if 0 <= mono - self.page_deadline < 0.5 else mono
        if self.slide is not None and self.page + 1 < len(self.slide.pages):
            self.page += 1
            self.frame.show(self.slide.pages[self.page])
            self.page_deadline = base + self.slide.seconds[self.page]
            return
        if self.pending is None:
            self._prepare_next(now)
        assert self.pending is not None
        if not first and not self.pending.done():
            return  # still composing: the current slide stays a little longer
        slide = self._take_pending()
        if slide is None:
            self._failed_pending()
            self._prepare_next(now)
            return
        self.position = self._pending_index
        self.slide, self.page = slide, 0
        self.frame.show(slide.pages[0], fade=not first)
        self.page_deadline = base + slide.seconds[0]
        self.frame.set_ticker(ticker_items(self.config, self._candidates(now)))
        self._prepare_next(now)

    # -- the loop ------------------------------------------------------------

    def start(self) -> None:
        """Compose and show the first slide (synchronously: there is nothing to fade from)."""
        mono = self.clock.monotonic()
        self._last_mono = mono
        self._next_shot = mono
        self._advance(mono, self.clock.now(), first=True)
        while self.slide is None:  # the first candidates failed to compose: try on, down to idle
            self._advance(mono, self.clock.now(), first=True)

    def step(self) -> None:
        """One frame: rotate if due, advance animations by the elapsed time, present what changed."""
        mono = self.clock.monotonic()
        now = self.clock.now()
        if mono >= self.page_deadline:
            self._advance(mono, now)
        dirty = self.frame.update(now, mono - self._last_mono)
        self._last_mono = mono
        self.output.present(dirty)
        self.frames += 1
        if self.first_frame_at is None:
            self.first_frame_at = mono
            log.info("first frame on screen")
        if self.screenshot_every and mono >= self._next_shot:
            self.screenshot(now)
            self._next_shot = mono + self.screenshot_every

    def run(self, for_seconds: float | None = None) -> None:
        """Play until stopped (signal, window closed) or for `for_seconds`."""
        ticks = pygame.time.Clock()
        fps = self.config.display.fps
        started = self.clock.monotonic()
        try:
            self.start()
            while not self.stop_event.is_set():
                if for_seconds is not None and self.clock.monotonic() - started >= for_seconds:
                    break
                self._handle_events()
                self.step()
                if self.frame.animating:
                    ticks.tick(fps)
                else:
                    # Nothing moves: wake for the next second's clock or the next page, whichever first.
                    mono = self.clock.monotonic()
                    wait = min(1.0 - (time.time() % 1.0), max(0.0, self.page_deadline - mono))
                    self.stop_event.wait(max(0.005, wait))
        finally:
            elapsed = self.clock.monotonic() - started if self.first_frame_at is not None else 0.0
            if elapsed > 0:
                log.info("played %d frames in %.1f s (%.1f fps)", self.frames, elapsed, self.frames / elapsed)
            self.close()

    def _handle_events(self) -> None:
        for event in pygame.event.get():
            if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN and event.key in (pygame.K_ESCAPE, pygame.K_q)):
                self.stop_event.set()
            elif event.type in (pygame.WINDOWEXPOSED, pygame.VIDEOEXPOSE, pygame.WINDOWRESTORED):
                self.frame.invalidate()

    def screenshot(self, now: datetime) -> None:
        """Save the frame as it is now, as PNG, written atomically off the loop."""
        assert self.screenshot_dir is not None and self._screenshot_pool is not None
        copy = self.output.frame.copy()
        path = self.screenshot_dir / f"frame-{now:%Y%m%d-%H%M%S}-{self.frames:06d}.png"
        self._screenshot_pool.submit(save_png, copy, path)

    def close(self) -> None:
        self.composer.close()
        if self._screenshot_pool is not None:
            self._screenshot_pool.shutdown(wait=True)

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop_event.set())


def save_png(surface: pygame.Surface, path: Path) -> None:
    """Write a PNG so that a reader never sees half a file: temporary name, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.tmp.png")
    try:
        pygame.image.save(surface, str(temporary))
        with temporary.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except (OSError, pygame.error) as exc:
        log.error("%s: cannot save screenshot: %s", path, exc)
        temporary.unlink(missing_ok=True)
