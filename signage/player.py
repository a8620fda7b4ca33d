"""The main loop: content → what may play → composed slides → frames on the output.

The loop owns the main thread (SDL wants it). Slides are composed one ahead in the
composer's worker, so the screen never waits on a decode and never shows a gap.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

import pygame

from signage.boardtime import BoardTime
from signage.config import BoardConfig
from signage.content import load_content
from signage.engine import Decision, Rules, Schedule, playable_now, turn_seconds
from signage.errors import SignageError, StoreError
from signage.jobs import ContentChanged, Jobs, RunCommands, SignedTime
from signage.kiosk.heap import Heap
from signage.kiosk.notify import FrameWatchdog, Notifier
from signage.kiosk.power import ScreenPower
from signage.model import Action, Kind, Playable, Priority
from signage.paths import LOGO
from signage.render.composer import Composer, Slide
from signage.render.fonts import FontBook, font_files
from signage.render.frame import Frame
from signage.render.header import load_logo
from signage.render.layout import Layout
from signage.render.output import Output, save_png
from signage.render.pages import ComposedOnShow
from signage.render.slides import idle_slide
from signage.render.ticker import ticker_items
from signage.report.plays import PlayLog

log = logging.getLogger(__name__)


class Clock(Protocol):
    """Wall time for decisions, monotonic time for durations and animation; tests pass their own.

    The wall clock may step either way at any moment (NTP, a hardware clock kept in local time, a
    dead battery): the player watches one against the other (see `signage.boardtime`).
    """

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


@dataclass(frozen=True, slots=True)
class SystemClock:
    timezone: ZoneInfo

    def now(self) -> datetime:
        return datetime.now(self.timezone)

    def monotonic(self) -> float:
        return time.monotonic()


def rules_of(config: BoardConfig) -> Rules:
    display = config.display
    return Rules(config.board.id, config.board.timezone, display.on, display.off, display.emergency_wakes_screen)


SlideKey = tuple[str, object]  # (bulletin id, revision) or ("", date) for the idle slide
CACHED_SLIDES = 4  # the one on screen, the next, and a couple that come round often (a short rotation)
CACHED_PAGES = 8  # and not more pages than this between them (7 MB a page at 1080p; a PDF brings up to 30)
FIRST_SLIDE_SECONDS = 2.0  # how long the first frame waits for the first slide before the idle slide goes up
UNREPORTED_PLAYS = 100  # plays kept on a board without a hub, which nobody takes


def signed_time(config: BoardConfig) -> datetime | None:
    """When the feed the board holds was signed: a time that has certainly passed (None without a feed)."""
    if config.feed is None:
        return None
    from signage.feed.sync import open_store

    try:
        store, _ = open_store(config)
        try:
            return store.feed().generated_at
        finally:
            store.close()
    except StoreError as exc:
        if not exc.repeat:  # a full disk is told once, by whichever job meets it first
            log.error("%s", exc)
        return None


def displayable(page: pygame.Surface, frame: pygame.Surface) -> pygame.Surface:
    """`page` in the frame's pixel format, for fast blits: converted only if it is not in it already.

    The composer draws into surfaces of the display's format: a copy (7 MB a page at 1080p) would
    only double each slide for a moment, leaving a hole in the heap.
    """
    same = page.get_bitsize() == frame.get_bitsize() and page.get_masks() == frame.get_masks()
    return page if same and not page.get_flags() & pygame.SRCALPHA else page.convert()


def held_pages(slide: Slide) -> int:
    """The slide-sized surfaces `slide` holds (a document composed on show holds fewer than its pages)."""
    pages = slide.pages
    return pages.held_pages if isinstance(pages, ComposedOnShow) else len(pages)


def slide_key(playable: Playable | None, now: datetime) -> SlideKey:
    if playable is None:
        return ("", now.date())
    return (playable.bulletin.id, playable.bulletin.revision)


class Player:
    def __init__(
        self,
        config: BoardConfig,
        output: Output,
        clock: Clock,
        *,
        screenshot_dir: Path | None = None,
        screenshot_every: float | None = None,
        notifier: Notifier | None = None,
        power: ScreenPower | None = None,
        heap: Heap | None = None,
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
        self.composer = Composer(self.layout, files, config.board.name, self.logo, volume=config.display.volume, clock=clock.monotonic)
        self.content = load_content(config)
        self.waiting: frozenset[str] = frozenset()  # held bulletins whose new revision's media is on its way
        self.failed: set[tuple[str, int]] = set()  # bulletins whose media would not compose, by revision
        self.time = BoardTime()
        self.time.learn(signed_time(config), clock.monotonic())
        now, _, _ = self.time.read(clock.now(), clock.monotonic())
        self.schedule = Schedule.start(rules_of(config), self.content, now)
        self.plays = PlayLog(limit=None if config.report is not None else UNREPORTED_PLAYS)
        self._cut: str | None = None  # why the play on screen is being cut, decided when the schedule moved on
        self._screen_on: bool | None = None
        self.reporter = None
        if config.report is not None:
            from signage.report.reporter import Reporter

            self.reporter = Reporter(
                config, self.plays, lambda: (self.plays.now_playing, self._screen_on), time_status=self.time.report, screen=(width, height)
            )
        self.jobs = Jobs.for_board(config, self.content, lambda: load_content(config), reporter=self.reporter)
        self.turn: Decision | None = None  # the turn on screen
        self.slide: Slide | None = None
        self.page = 0
        self._ready: OrderedDict[SlideKey, Slide] = OrderedDict()
        self._jobs: dict[SlideKey, Future[Slide]] = {}
        self.screenshot_dir = screenshot_dir
        self.screenshot_every = screenshot_every
        self._screenshot_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="screenshot") if screenshot_dir else None
        self.frames = 0
        self.first_frame_at: float | None = None
        self._last_mono = 0.0
        self._next_shot = 0.0
        self.notifier = notifier if notifier is not None else Notifier.from_environment()
        self.watchdog = FrameWatchdog(self.notifier)
        self.power = power  # None: the black frame alone (headless, tests)
        self._power_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="screen-power") if power else None
        self.heap = heap  # None: the heap is left to itself (tests)
        self._heap_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="heap") if heap else None
        self._trimming: Future[bool] | None = None

    # -- content -----------------------------------------------------------------

    def eligible(self) -> list[Playable]:
        """What the engine may schedule: not failed, and no audio bulletins on a board without speakers."""
        skip_audio = not self.config.display.audio
        return [
            p
            for p in self.content
            if (p.bulletin.id, p.bulletin.revision) not in self.failed and not (skip_audio and p.bulletin.kind is Kind.AUDIO)
        ]

    def set_content(self, playables: list[Playable], now: datetime | None = None, waiting: frozenset[str] = frozenset()) -> None:
        """New bulletins (a feed accepted, the inbox changed): the engine decides what that changes."""
        self.content, self.waiting = playables, waiting
        self.schedule.replace(self.eligible(), self.now()[0] if now is None else now)
        held = {(p.bulletin.id, p.bulletin.revision) for p in playables}
        self._let_go(lambda key: not key[0] or key in held)  # revisions superseded, bulletins withdrawn

    def now(self) -> tuple[datetime, float]:
        """The time to play by and the monotonic reading; a step of the wall clock is handled here, once."""
        mono = self.clock.monotonic()
        now, jump, before = self.time.read(self.clock.now(), mono)
        if jump is not None and before is not None:
            log.warning("%s", jump.line(before))
            by = timedelta(seconds=jump.by_s)
            # The turn on screen keeps the rest of its time; the engine re-plans the rest from `now`.
            self.schedule.rebase(now, by)
            turn = self.turn
            if turn is not None and turn.playable is not None and turn.screen_on:
                self.turn = Decision(turn.playable, True, turn.start + by, turn.until + by)
        return now, mono

    # -- slides, composed ahead --------------------------------------------------

    def _slide_for(self, playable: Playable | None, now: datetime, *, wait: float = 0.0) -> Slide | None:
        """The composed slide, or None while it is being composed (after waiting up to `wait` s) or failed (then dropped)."""
        key = slide_key(playable, now)
        slide = self._ready.get(key)
        if slide is not None:
            self._ready.move_to_end(key)
            return slide
        job = self._jobs.get(key)
        if job is None:
            job = self.composer.submit(playable) if playable is not None else self.composer.submit_idle(now)
            self._jobs[key] = job
        if not job.done() and wait > 0:
            futures_wait([job], timeout=wait)
        if not job.done():
            return None
        del self._jobs[key]
        try:
            composed = job.result()
        except Exception as exc:  # a bad bulletin must never take the board down
            if not isinstance(exc, SignageError):
                log.exception("cannot compose a slide for %s", key[0] or "the idle slide")
            else:
                log.error("%s", exc)
            if playable is not None:
                self.failed.add((playable.bulletin.id, playable.bulletin.revision))
                self.schedule.replace(self.eligible(), now)
            return None
        pages = composed.pages
        if not isinstance(pages, ComposedOnShow):  # those compose each page on the loop, in the display's format
            pages = tuple(displayable(page, self.output.frame) for page in pages)
        slide = Slide(composed.playable, pages, composed.weights, live=composed.live)
        self._ready[key] = slide
        # Kept, a slide saves composing it again only if its bulletin comes round within a few turns: in a
        # longer rotation it would just hold its pages, so only this one and the one it follows are kept.
        kept = CACHED_SLIDES if len(self.eligible()) <= CACHED_SLIDES else 2
        while len(self._ready) > 1 and (len(self._ready) > kept or sum(map(held_pages, self._ready.values())) > CACHED_PAGES):
            self._ready.popitem(last=False)
        return slide

    def _let_go(self, keep: Callable[[SlideKey], bool]) -> None:
        """Forget composed slides, and compositions under way, that no turn will ask for.

        A slide composed for a revision since replaced, or a bulletin withdrawn, is never asked for
        again: kept, its pages (7 MB apiece at 1080p) would be held for as long as the board runs.
        """
        for key in [key for key in self._jobs if not keep(key)]:
            self._jobs.pop(key).cancel()  # one already running finishes and is dropped with its result
        for key in [key for key in self._ready if not keep(key)]:
            del self._ready[key]

    def _show(self, decision: Decision, now: datetime, *, wait: float = 0.0) -> None:
        """Put the decided turn on screen if its slide is ready; otherwise keep what is there."""
        mono = self.clock.monotonic()
        if not decision.screen_on:
            self.plays.end(now, "screen_off", mono)
            self._cut = None
            self.frame.blank()
            self.turn, self.slide = decision, None
            return
        slide = self._slide_for(decision.playable, now, wait=wait)
        if slide is None:
            return
        self.plays.end(now, self._cut or self._why_cut(decision), mono)
        self._cut = None
        if decision.playable is not None:
            # A slide that came late (composing, or a new revision taking over the turn) is owed only what the turn has left.
            left = decision.start + timedelta(seconds=turn_seconds(decision.playable)) - now
            self.plays.begin(decision.playable, now, mono, planned_s=max(0.0, left.total_seconds()))
        self.frame.show(slide.pages[0], fade=self.slide is not None)
        if slide.live is not None:
            # A live slide (video, audio) is consumed by playing: composed afresh for its next turn.
            self.frame.play(slide.live(), self.clock.monotonic())
            self._ready.pop(slide_key(decision.playable, now), None)
        self.turn, self.slide, self.page = decision, slide, 0
        self._hand_back_free_memory()
        playing = playable_now(self.eligible(), self.config.board.id, now)
        self.frame.set_ticker(ticker_items(self.config, playing))
        upcoming = self.schedule.peek_next()
        next_key = slide_key(upcoming, now) if upcoming is not None else None
        for key in [key for key in self._jobs if key != next_key]:  # composed ahead for a turn that went otherwise
            self._jobs.pop(key).cancel()
        if len(self.eligible()) > CACHED_SLIDES:  # a long rotation: no other kept slide comes round soon
            shown = slide_key(decision.playable, now)
            self._let_go(lambda key: key in (shown, next_key))
        if upcoming is not None:
            self._slide_for(upcoming, now)  # compose it while this one shows

    def _hand_back_free_memory(self) -> None:
        """Once a turn, off the loop: the pages the last slides' composing freed go back to the system (see kiosk.heap)."""
        if self.heap is None or self._heap_pool is None or (self._trimming is not None and not self._trimming.done()):
            return
        self._trimming = self._heap_pool.submit(self.heap.trim)

    def _why_cut(self, decision: Decision) -> str:
        """Why the bulletin on screen gives way to `decision`, should its turn not be over yet.

        Judged when the engine moves on, from what the board holds then: the next slide may take a
        while to compose, and by then the bulletin may be back in a new revision.
        """
        current = self.plays.current
        coming = decision.playable
        if current is None:
            return "expired"
        bulletin = current.bulletin
        if coming is not None and coming.bulletin.priority is Priority.EMERGENCY and bulletin.priority is not Priority.EMERGENCY:
            return "emergency"
        held = [p.bulletin for p in self.content if p.bulletin.id == bulletin.id]
        if bulletin.id in self.waiting or any(other.revision != bulletin.revision for other in held):
            return "revised"  # a new revision took its place, or will once its media is here
        if not held:
            return "withdrawn"
        if (bulletin.id, bulletin.revision) in self.failed:
            return "error"
        # Its validity or slot ended. (A turn that ran its course is completed and gives no reason.)
        return "expired"

    def run_commands(self, commands: list[tuple[str, Action]], now: datetime) -> None:
        """Carry out the district's commands (each already recorded as run) and record how each went."""
        outcomes: list[tuple[str, str]] = []
        for command_id, action in commands:
            if action in (Action.DISPLAY_ON, Action.DISPLAY_OFF):
                on = action is Action.DISPLAY_ON
                # Until the next scheduled change; the screen's power follows the decision (see _follow_screen_hours).
                self.schedule.override_screen(on, now)
                outcome = "ok"
            elif action is Action.RELOAD:
                self.set_content(load_content(self.config), now, self.waiting)
                outcome = "ok"
            elif action is Action.SYNC:
                outcome = "ok" if self.jobs.run_now("feed") else "failed: bảng tin không có nguồn tin để đồng bộ"
            elif action is Action.RESTART:
                self.stop_event.set()  # a clean exit; systemd's Restart=always brings the player back
                outcome = "ok"
            elif self.reporter is not None:  # screenshot: the reporter records the outcome once it is queued
                self.reporter.screenshot(self.output.frame.copy(), command_id)
                log.info("command %s (screenshot): taken", command_id)
                continue
            else:
                outcome = "failed: bảng tin chưa có địa chỉ gửi báo cáo ([report] url) để gửi ảnh màn hình"
            log.info("command %s (%s): %s", command_id, action.value, outcome)
            outcomes.append((command_id, outcome))
        if self.config.feed is not None:
            from signage.feed.sync import open_store

            store, _ = open_store(self.config)
            try:
                for command_id, outcome in outcomes:
                    store.command_done(command_id, outcome)
            finally:
                store.close()

    def _live_failed(self, message: str, now: datetime) -> None:
        """A video or sound broke mid-play: the slide ends now, the bulletin is reported and left out."""
        log.error("%s", message)
        self.plays.end(now, "error", self.clock.monotonic())
        self.frame.play(None, 0.0)
        playable = self.turn.playable if self.turn is not None else None
        if playable is not None:
            self.failed.add((playable.bulletin.id, playable.bulletin.revision))
            self.schedule.replace(self.eligible(), now)

    def _page_due(self, now: datetime) -> int:
        """Which page of the slide on screen is due: the turn shared out by the pages' text."""
        assert self.turn is not None and self.slide is not None
        if len(self.slide.pages) == 1 or self.turn.playable is None:
            return 0
        total = turn_seconds(self.turn.playable)
        elapsed = (now - self.turn.start).total_seconds()
        whole = sum(self.slide.weights)
        reached = 0.0
        for index, weight in enumerate(self.slide.weights):
            reached += total * weight / whole
            if elapsed < reached:
                return index
        return len(self.slide.pages) - 1

    def _same_turn(self, decision: Decision) -> bool:
        turn = self.turn
        if turn is None or turn.start != decision.start or turn.screen_on != decision.screen_on:
            return False
        return slide_key(turn.playable, turn.start) == slide_key(decision.playable, decision.start)

    # -- the loop ------------------------------------------------------------------

    def start(self) -> None:
        """Show the first turn, waiting up to FIRST_SLIDE_SECONDS for it (there is nothing to fade from).

        Past that the idle slide is drawn here and the turn follows once its slide is ready: the
        first frame never waits on a slide that is slow or stuck composing.
        """
        mono = self.clock.monotonic()
        self._last_mono = mono
        self._next_shot = mono
        deadline = time.monotonic() + FIRST_SLIDE_SECONDS  # real seconds: a wait on the composer's thread
        while self.turn is None:  # a bulletin that fails to compose is dropped; idle is the floor
            now, _ = self.now()
            self._show(self.schedule.at(now), now, wait=max(0.0, deadline - time.monotonic()))
            if self.turn is None and self._jobs:
                self.frame.show(idle_slide(self.config.board.name, now, self.layout, self.fonts, self.logo).convert(), fade=False)
                return

    def _abandon_overdue(self, now: datetime) -> None:
        """A slide composing past the composer's budget: its bulletin is skipped until its revision changes,
        a fresh worker takes the queue, and the screen keeps what it shows meanwhile."""
        overdue = self.composer.overdue()
        if overdue is None:
            return
        playable, future = overdue
        name = f"bulletin {playable.bulletin.id}" if playable is not None else "the idle slide"
        log.error("%s: composing its slide took over %g s; skipped", name, self.composer.budget_seconds)
        self.composer.abandon()
        for key in [key for key, job in self._jobs.items() if job is future]:
            del self._jobs[key]
        if playable is not None:
            self.failed.add((playable.bulletin.id, playable.bulletin.revision))
            self.schedule.replace(self.eligible(), now)

    def step(self) -> None:
        """One frame: follow the engine's decision, advance animations by the elapsed time, present."""
        now, mono = self.now()
        for event in self.jobs.drain():
            if isinstance(event, ContentChanged):
                self.set_content(event.playables, now, event.waiting)
            elif isinstance(event, RunCommands):
                self.run_commands(event.commands, now)
            elif isinstance(event, SignedTime):
                self.time.learn(event.generated_at, mono)
        self._abandon_overdue(now)
        live = self.frame.live
        if live is not None and live.failed:
            self._live_failed(live.failed, now)
        decision = self.schedule.at(now)
        if decision.screen_on is not self._screen_on:
            self._follow_screen_hours(decision.screen_on)
        if not self._same_turn(decision):
            if self._cut is None and decision.screen_on:
                self._cut = self._why_cut(decision)
            self._show(decision, now)
        else:
            self._cut = None  # the engine came back to the turn on screen before the next slide was ready
            if self.slide is not None:
                due = self._page_due(now)
                if due != self.page:
                    self.page = due
                    self.frame.show(self.slide.pages[due])
        dirty = self.frame.update(now, mono - self._last_mono, mono)
        alive = mono > self._last_mono  # a loop whose clock stands still is not playing, whatever it presents
        self._last_mono = mono
        self.output.present(dirty)
        self.frames += 1
        if self.first_frame_at is None:
            self.first_frame_at = mono
            log.info("first frame on screen")
            self.notifier.ready(f"playing {decision.bulletin_id or 'the idle slide'}")
        self.watchdog.frame_presented(self.frames, mono, alive)
        if self.screenshot_every and mono >= self._next_shot:
            self.screenshot(now)
            self._next_shot = mono + self.screenshot_every

    def _follow_screen_hours(self, screen_on: bool) -> None:
        """The engine's screen hours changed: power the screen off the loop (DPMS and CEC can take seconds)."""
        self._screen_on = screen_on
        if self.power is None or self._power_pool is None:
            return
        power = self.power
        power.override(None)  # a district command lasts until the next scheduled change

        def switch() -> None:
            methods = power.on() if screen_on else power.off()
            log.info("screen %s by schedule: %s", "on" if screen_on else "off", ", ".join(methods) or "black frame only")

        self._power_pool.submit(switch)

    def _idle_wait(self) -> float:
        """Seconds until something can change on a still frame: the clock's next second, or the engine's next decision.

        Never more than a second, so a step of the wall clock is seen within a frame even on a still one.
        """
        now, _ = self.now()
        until = self.schedule.at(now).until
        pending = 0.05 if self._jobs else 1.0  # a slide being composed: look again soon
        return max(0.005, min(1.0 - (now.timestamp() % 1.0), (until - now).total_seconds(), pending))

    def run(self, for_seconds: float | None = None) -> None:
        """Play until stopped (signal, window closed) or for `for_seconds`."""
        frame_seconds = 1.0 / self.config.display.fps
        started = self.clock.monotonic()
        next_frame = started
        try:
            self.start()
            self.jobs.start()
            while not self.stop_event.is_set():
                if for_seconds is not None and self.clock.monotonic() - started >= for_seconds:
                    break
                self._handle_events()
                self.step()
                if self.frame.animating:
                    # Paced by deadlines, not by sleeping a fixed time: exactly `fps` on average.
                    next_frame = max(next_frame + frame_seconds, self.clock.monotonic() - frame_seconds)
                    # A plain sleep: Event.wait builds a lock and a waiter every frame, a tenth of the ticker's CPU;
                    # a stop (a signal, another thread) is still seen at the end of this one frame.
                    time.sleep(max(0.0, next_frame - self.clock.monotonic()))
                else:
                    next_frame = self.clock.monotonic()
                    self.stop_event.wait(self._idle_wait())
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
        self._screenshot_pool.submit(_save_screenshot, copy, path)

    def close(self) -> None:
        self.notifier.stopping()
        now, mono = self.now()
        self.plays.end(now, "stopped", mono)
        self.frame.play(None, 0.0)  # silence and release decoders before exit
        self.jobs.shutdown()
        if self.reporter is not None:
            self.reporter.close()
        self.composer.close()
        if self._screenshot_pool is not None:
            self._screenshot_pool.shutdown(wait=True)
        if self._power_pool is not None:
            self._power_pool.shutdown(wait=True)
        if self._heap_pool is not None:
            self._heap_pool.shutdown(wait=True)
        self.notifier.close()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop_event.set())


def _save_screenshot(surface: pygame.Surface, path: Path) -> None:
    try:
        save_png(surface, path)
    except StoreError as exc:  # a full disk must not stop the board
        log.error("%s", exc)
