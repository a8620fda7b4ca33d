"""What an officer sees before approving: the exact frame the boards will show, and when it will play.

The frame is drawn by the board's own renderer (signage/render/still.py) in one worker process of its
own, killed at a time limit and restarted if it dies, so a hostile or broken file never hangs or
crashes the hub. When it plays is the board's own engine run over the next hours (pure, clock given).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import multiprocessing
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

from signage import __version__
from signage.engine import IDLE, Rules, is_playable, next_change, plan
from signage.errors import MediaError, OverLimit, SignageError
from signage.model import Bulletin, Kind, Playable, Priority, bulletin_json
from signage.render.still import Draw, FrameRequest, draw_frame, serve

log = logging.getLogger(__name__)

# The frames the boards of a commune come in: a TV on its side or upright, and a small LED wall.
# 384x192 is a wall of 6x6 common P5 modules (64x32 each) and the smallest frame the renderer's
# reference images hold (tests/comparison_images): the layout gives header and ticker a larger share
# there, the header keeps the name and clock (no room for the date), and text pages at the legible minimum.
PREVIEW_SIZES: Mapping[tuple[int, int], str] = MappingProxyType(
    {
        (1920, 1080): "Màn hình ngang 1920×1080",
        (1080, 1920): "Màn hình dọc 1080×1920",
        (384, 192): "Bảng LED nhỏ 384×192",
    }
)
MIN_SIDE, MAX_SIDE = 64, 3840  # a frame outside these is a caller's mistake (a 4K side is 59 MB square)

TIME_LIMIT_SECONDS = 20.0  # one frame; the decoders' own budgets (PDF 8 s, video probe 10 s) fit inside it
START_LIMIT_SECONDS = 60.0  # a fresh worker imports pygame, PyAV and PDFium: seconds on a busy two-core server
QUEUE_FACTOR = 3  # a request waits for the worker at most this many time limits (a page asks for three sizes)
CACHE_KEEP_SECONDS = 3600.0  # a frame shows its minute: older ones are never asked for again
PRUNE_EVERY_SECONDS = 600.0
FAILURES_KEPT = 256
FAILURE_SECONDS = 600.0  # a file that hung or failed is not drawn again for this long (each try would hold the worker)
CACHE_VERSION = 1  # bump when the drawing changes for the same inputs
DEFAULT_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")

_KIND_VI = {Kind.IMAGE: "ảnh", Kind.VIDEO: "video", Kind.PDF: "PDF", Kind.AUDIO: "âm thanh", Kind.TEXT: "văn bản"}


def _short(title: str, limit: int = 60) -> str:
    """A title short enough for a one-line message."""
    title = " ".join(title.split())
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def frame_key(request: FrameRequest) -> str:
    """What a drawn frame depends on, hashed: the bulletin's content, its media, the size, the title, the minute."""
    bulletin = request.bulletin
    parts = {
        "v": [CACHE_VERSION, __version__],
        "bulletin": bulletin_json(bulletin),
        "media": bulletin.media.sha256 if bulletin.media else None,
        "size": list(request.size),
        "header": request.header_title,
        "minute": request.now.isoformat(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _failure_key(request: FrameRequest) -> str:
    """A failure does not depend on the minute: the same file fails at every one."""
    return frame_key(FrameRequest(request.bulletin, request.media_path, request.size, datetime.min, request.header_title))


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    conn: Connection


class Previewer:
    """Draws preview frames in one long-lived worker process (spawned, SDL dummy drivers), caching them on disk.

    Safe to call from several threads (the hub's thread pool): calls take turns at the one worker.
    `draw` is the seam tests use (a module-level function: it is pickled by name into the worker).
    """

    def __init__(
        self,
        cache_dir: Path,
        *,
        time_limit_s: float = TIME_LIMIT_SECONDS,
        start_limit_s: float = START_LIMIT_SECONDS,
        draw: Draw = draw_frame,
    ) -> None:
        self.cache_dir = cache_dir
        self.time_limit_s = time_limit_s
        self.start_limit_s = start_limit_s
        self._draw = draw
        self._context = multiprocessing.get_context("spawn")  # never fork a process with the hub's threads in it
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        self._failures: OrderedDict[str, tuple[datetime, SignageError]] = OrderedDict()
        self._pruned_at: datetime | None = None
        self.started = 0  # workers started so far (a restart shows here)

    def __enter__(self) -> Previewer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def frame_png(self, bulletin: Bulletin, media_path: Path | None, size: tuple[int, int], now: datetime, header_title: str) -> bytes:
        """The frame the boards show for `bulletin` at `now` (its minute), as PNG bytes.

        Raises `MediaError` (or `OverLimit`: too slow, over a decoder's limit) with one Vietnamese line.
        Blocks for up to a few time limits: call it from a worker thread, not the event loop.
        """
        width, height = size
        if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
            raise ValueError(f"preview size {width}x{height} is outside {MIN_SIDE}..{MAX_SIDE}")
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime (the boards' time zone)")
        if bulletin.kind is not Kind.TEXT and (media_path is None or bulletin.media is None):
            raise MediaError(f"“{_short(bulletin.title)}” chưa có tệp {_KIND_VI[bulletin.kind]} để xem trước.")
        request = FrameRequest(bulletin, media_path, (width, height), now.replace(second=0, microsecond=0), header_title)
        key = frame_key(request)
        cached = self._read_cache(key)
        if cached is not None:
            return cached
        if not self._lock.acquire(timeout=self.time_limit_s * QUEUE_FACTOR):
            raise MediaError("Máy chủ đang bận vẽ các bản xem trước khác; hãy tải lại trang sau ít phút.")
        try:
            cached = self._read_cache(key)  # drawn by the call this one waited behind
            if cached is not None:
                return cached
            failure = self._failure(_failure_key(request), now)
            if failure is not None:
                raise type(failure)(str(failure))
            worker = self._ready_worker()  # a worker that will not start is no fault of this bulletin's: not remembered
            try:
                png = self._draw_in_worker(worker, request)
            except SignageError as exc:
                self._remember_failure(_failure_key(request), now, exc)
                raise
            self._write_cache(key, png)
            self._prune(now)
            return png
        finally:
            self._lock.release()

    def close(self) -> None:
        """Stop the worker (it is restarted by the next call)."""
        with self._lock:
            self._stop_worker(polite=True)

    # -- the worker ------------------------------------------------------------------

    def _start_worker(self) -> _Worker:
        parent, child = self._context.Pipe(duplex=True)
        # The worker's own limit is later than ours: it only ends a draw the hub is no longer there to kill.
        own_limit = self.time_limit_s * 2 + 5
        process = self._context.Process(target=serve, args=(child, self._draw, own_limit), name="signage-preview", daemon=True)
        process.start()
        child.close()  # the worker's end lives in the worker alone: its death is an EOF here
        self.started += 1
        worker = _Worker(process, parent)
        self._worker = worker
        try:
            ready = parent.poll(self.start_limit_s) and parent.recv() == ("ready",)
        except (EOFError, OSError):
            ready = False
        if not ready:
            log.error("preview worker did not start (waited up to %g s; exit code %s)", self.start_limit_s, process.exitcode)
            self._stop_worker(polite=False)
            raise MediaError("Không khởi động được trình vẽ bản xem trước; hãy thử lại sau.")
        log.info("preview worker started (pid %s)", process.pid)
        return worker

    def _stop_worker(self, *, polite: bool) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        if polite and worker.process.is_alive():
            with contextlib.suppress(OSError):
                worker.conn.send(None)
            worker.process.join(2.0)
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(5.0)
        worker.conn.close()

    def _ready_worker(self) -> _Worker:
        if self._worker is not None and self._worker.process.is_alive():
            return self._worker
        self._stop_worker(polite=False)  # a dead one's pipe and zombie cleared
        return self._start_worker()

    def _draw_in_worker(self, worker: _Worker, request: FrameRequest) -> bytes:
        title = _short(request.bulletin.title)
        try:
            worker.conn.send(request)
            if not worker.conn.poll(self.time_limit_s):
                log.error("preview of bulletin %s at %dx%d: over %g s; killed", request.bulletin.id, *request.size, self.time_limit_s)
                self._stop_worker(polite=False)
                raise OverLimit(f"Vẽ bản xem trước của “{title}” mất quá {self.time_limit_s:g} giây nên đã dừng.")
            answer = worker.conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            exitcode = worker.process.exitcode if not worker.process.is_alive() else None
            log.error("preview of bulletin %s at %dx%d: the worker died (exit code %s)", request.bulletin.id, *request.size, exitcode)
            self._stop_worker(polite=False)
            raise MediaError(f"Trình vẽ bản xem trước dừng đột ngột khi vẽ “{title}”; tệp này không xem trước được.") from None
        if answer[0] == "ok":
            return answer[1]
        _, kind, text = answer
        if answer[0] == "failed":
            log.error("preview of bulletin %s at %dx%d failed:\n%s", request.bulletin.id, *request.size, text)
            raise MediaError(f"Không vẽ được bản xem trước của “{title}” (lỗi của máy chủ, đã ghi vào nhật ký).")
        log.warning("preview of bulletin %s at %dx%d refused: %s", request.bulletin.id, *request.size, text)
        what = _KIND_VI[request.bulletin.kind]
        if kind == "over_limit":
            raise OverLimit(f"Tệp {what} của “{title}” vượt giới hạn mà bảng tin chấp nhận.")
        if kind == "media":
            raise MediaError(f"Tệp {what} của “{title}” hỏng hoặc không đúng định dạng; bảng tin sẽ không phát được.")
        raise MediaError(f"Không vẽ được bản xem trước của “{title}”: nội dung không hợp lệ.")

    # -- what is remembered ------------------------------------------------------------

    def _failure(self, key: str, now: datetime) -> SignageError | None:
        found = self._failures.get(key)
        if found is None:
            return None
        when, error = found
        if abs((now - when).total_seconds()) > FAILURE_SECONDS:
            del self._failures[key]
            return None
        return error

    def _remember_failure(self, key: str, now: datetime, error: SignageError) -> None:
        self._failures[key] = (now, error)
        self._failures.move_to_end(key)
        while len(self._failures) > FAILURES_KEPT:
            self._failures.popitem(last=False)

    def _read_cache(self, key: str) -> bytes | None:
        try:
            return (self.cache_dir / f"{key}.png").read_bytes()
        except OSError:
            return None

    def _write_cache(self, key: str, png: bytes) -> None:
        """Written under a temporary name and renamed, so a reader never gets half a picture; a failure costs a redraw."""
        path = self.cache_dir / f"{key}.png"
        temporary = self.cache_dir / f".{key}.{threading.get_ident()}.tmp"
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(png)
            temporary.replace(path)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            log.warning("%s: cannot keep the preview: %s", path, exc)

    def _prune(self, now: datetime) -> None:
        """Frames of past minutes go (an hour's grace), at most once every ten minutes."""
        if self._pruned_at is not None and abs((now - self._pruned_at).total_seconds()) < PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = now
        oldest = now.timestamp() - CACHE_KEEP_SECONDS
        try:
            entries = list(self.cache_dir.iterdir())
        except OSError:
            return
        for entry in entries:
            try:
                if entry.suffix in (".png", ".tmp") and entry.stat().st_mtime < oldest:
                    entry.unlink()
            except OSError:
                continue


# -- when it plays -----------------------------------------------------------------------

Interval = tuple[datetime, datetime]


def _zone(now: datetime) -> ZoneInfo:
    return now.tzinfo if isinstance(now.tzinfo, ZoneInfo) else DEFAULT_ZONE


def _rules(board_id: str, now: datetime, screen_hours: tuple[time, time] | None, emergency_wakes_screen: bool) -> Rules:
    on, off = screen_hours if screen_hours is not None else (None, None)
    return Rules(board_id, _zone(now), on, off, emergency_wakes_screen)


def _with(bulletin: Bulletin, others: Sequence[Bulletin], media_seconds: float | None, page_count: int | None) -> list[Playable]:
    """What the board would hold: its bulletins, with this one added (in place of an older revision of it)."""
    held = [Playable(other) for other in others if other.id != bulletin.id]
    return [*held, Playable(bulletin, media_seconds=media_seconds, page_count=page_count)]


def _windows(bulletin: Bulletin, board_id: str, start: datetime, end: datetime, zone: ZoneInfo) -> list[Interval]:
    """When the bulletin itself may play within [start, end): validity, slots and board, edge by edge."""
    windows: list[Interval] = []
    moment = start
    while moment < end:
        edge = min(next_change(bulletin, moment, zone), end).astimezone(zone)
        if is_playable(bulletin, board_id, moment):
            if windows and windows[-1][1] == moment:  # one slot ending where the next begins
                windows[-1] = (windows[-1][0], edge)
            else:
                windows.append((moment, edge))
        moment = edge
    return windows


def _window_at(windows: Sequence[Interval], moment: datetime, fallback: Interval) -> Interval:
    return next((window for window in windows if window[0] <= moment < window[1]), fallback)


def plays_when(
    bulletin: Bulletin,
    others: Sequence[Bulletin],
    board_id: str,
    now: datetime,
    hours: int = 24,
    media_seconds: float | None = None,
    *,
    page_count: int | None = None,
    screen_hours: tuple[time, time] | None = None,
    emergency_wakes_screen: bool = True,
) -> list[Interval]:
    """The spans of the next `hours` in which `bulletin` is on the board's screen, by the board's own engine.

    `others` are what the board already plays. The engine's timeline decides which turns it gets; turns
    with only others' turns between them are one span (it is in the rotation), from the moment it may
    play (its slot opens, an emergency or the dark screen ends) to the moment it may not (its slot or
    validity ends, the screen goes dark, an emergency takes the screen). The edges are those moments,
    not the first and last turns, which on a real board fall anywhere within a turn of them. Times are
    in `now`'s zone (a ZoneInfo; else Vietnam's).
    """
    rules = _rules(board_id, now, screen_hours, emergency_wakes_screen)
    start = now.astimezone(rules.timezone)
    end = start + timedelta(hours=hours)
    windows = _windows(bulletin, board_id, start, end, rules.timezone)
    playables = _with(bulletin, others, media_seconds, page_count)
    emergencies = {p.bulletin.id for p in playables if p.bulletin.priority is Priority.EMERGENCY}
    ours = bulletin.id
    spans: list[Interval] = []
    span: Interval | None = None  # open while it is in the rotation
    last_turn = start  # the start of its latest turn
    blocked_until = start  # the end of the latest stretch in which nothing but an emergency, the idle slide or darkness showed

    def close(at: datetime) -> None:
        nonlocal span
        if span is not None:
            window = _window_at(windows, last_turn, span)
            spans.append((span[0], min(window[1], at)))
            span = None

    for entry in plan(rules, playables, start, hours):
        if entry.bulletin == ours:
            if span is None:
                span = (max(_window_at(windows, entry.start, (entry.start, entry.end))[0], blocked_until), entry.end)
            last_turn = entry.start
            continue
        blocking = entry.bulletin in (None, IDLE) or (entry.bulletin in emergencies and ours not in emergencies)
        if blocking:
            blocked_until = entry.end
            close(entry.start)
        elif span is not None and not is_playable(bulletin, board_id, entry.start):
            close(entry.start)
    close(end)
    return spans


def _when_not(bulletin: Bulletin, others: Sequence[Bulletin], board_id: str, now: datetime, hours: int, rules: Rules) -> str:
    """Why a bulletin has no turn in the next `hours`, in a few Vietnamese words (pure)."""
    end = now + timedelta(hours=hours)
    if not bulletin.targets(board_id):
        return "không gửi tới bảng này"
    if bulletin.valid_until is not None and bulletin.valid_until <= now:
        return "đã hết hạn"
    if bulletin.valid_from is not None and bulletin.valid_from >= end:
        return f"chưa đến thời gian hiệu lực (từ {bulletin.valid_from.astimezone(rules.timezone):%d/%m/%Y %H:%M})"
    # The moments it may play, walked edge by edge (validity, slots, screen hours).
    zone = rules.timezone
    moment = max(now, bulletin.valid_from or now).astimezone(zone)
    in_slot = screen_on = emergency_free = False
    others_emergencies = [o for o in others if o.priority is Priority.EMERGENCY and o.id != bulletin.id]
    while moment < end:
        if is_playable(bulletin, board_id, moment):
            in_slot = True
            if rules.screen_is_on(moment) or (bulletin.priority is Priority.EMERGENCY and rules.emergency_wakes_screen):
                screen_on = True
                if bulletin.priority is Priority.EMERGENCY or not any(is_playable(o, board_id, moment) for o in others_emergencies):
                    emergency_free = True
        edges = [next_change(bulletin, moment, zone), rules.next_screen_change(moment)]
        edges += [next_change(o, moment, zone) for o in others_emergencies]
        moment = min(edges).astimezone(zone)
    if not in_slot:
        return "ngoài khung giờ"
    if not screen_on:
        return "màn hình tắt trong khung giờ phát"
    if not emergency_free:
        return "thông báo khẩn cấp khác chiếm màn hình"
    return "khung giờ quá ngắn, không đến lượt"


def _day_label(day: datetime, today: datetime) -> str:
    from signage.vi import WEEKDAYS

    offset = (day.date() - today.date()).days
    if offset == 0:
        return "Hôm nay"
    if offset == 1:
        return "Ngày mai"
    return f"{WEEKDAYS[day.weekday()]} {day:%d/%m}"


def describe_plays(
    bulletin: Bulletin,
    others: Sequence[Bulletin],
    board_id: str,
    now: datetime,
    spans: Sequence[Interval],
    hours: int = 24,
    *,
    screen_hours: tuple[time, time] | None = None,
    emergency_wakes_screen: bool = True,
) -> str:
    """`spans` (from `plays_when`) in one Vietnamese line, by day: "Hôm nay 07:00–11:30, 13:30–17:00; Ngày mai 07:00–09:00".

    With no span, why not: "Không phát trong 24 giờ tới: ngoài khung giờ".
    """
    rules = _rules(board_id, now, screen_hours, emergency_wakes_screen)
    local_now = now.astimezone(rules.timezone)
    if not spans:
        return f"Không phát trong {hours} giờ tới: {_when_not(bulletin, others, board_id, local_now, hours, rules)}"
    window_end = local_now + timedelta(hours=hours)
    if len(spans) == 1 and spans[0][0] <= local_now + timedelta(minutes=1) and spans[0][1] >= window_end - timedelta(minutes=1):
        return f"Phát suốt {hours} giờ tới (theo lượt cùng các bản tin khác)"
    days: dict[str, list[str]] = {}
    for span_start, span_end in spans:
        piece_start = span_start.astimezone(rules.timezone)
        span_end = span_end.astimezone(rules.timezone)
        while piece_start < span_end:  # a span across midnight is told on each day it touches
            midnight = datetime.combine(piece_start.date() + timedelta(days=1), time(0), rules.timezone)
            piece_end = min(span_end, midnight)
            until = "24:00" if piece_end == midnight else f"{piece_end:%H:%M}"
            days.setdefault(_day_label(piece_start, local_now), []).append(f"{piece_start:%H:%M}–{until}")
            piece_start = piece_end
    told = "; ".join(f"{day} {', '.join(pieces)}" for day, pieces in days.items())
    # The last span reaching the window's end is cut by the window, not by the bulletin: say it goes on.
    return told + (" (và sau đó)" if spans[-1][1] >= window_end - timedelta(minutes=1) else "")
