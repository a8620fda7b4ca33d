"""What the dashboard shows, decided from stored rows and a given `now`: online, uptime, the board table."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from signage.district.hub.config import BoardEntry

OFFLINE_AFTER_HEARTBEATS = 3
PAGE_SIZE = 100  # boards per page of the table: a province's thousand boards stay a fast page


@dataclass(frozen=True, slots=True)
class BoardView:
    id: str
    name: str
    online: bool
    last_seen: float | None
    heartbeat_s: float
    state: Any | None  # the board_state row, or None when never heard from
    uptime: list[tuple[date, float | None]] = field(default_factory=list)

    @property
    def status(self) -> dict[str, Any]:
        if self.state is None or not self.state.status:
            return {}
        return json.loads(self.state.status)


def is_online(last_seen: float | None, heartbeat_s: float, now: datetime) -> bool:
    """Heard from within three heartbeat intervals of `now`."""
    return last_seen is not None and now.timestamp() - last_seen <= OFFLINE_AFTER_HEARTBEATS * heartbeat_s


def heartbeat_of(state: Any | None, default_s: float) -> float:
    return float(state.heartbeat_s) if state is not None and state.heartbeat_s else default_s


def last_days(today: date, count: int) -> list[date]:
    return [today - timedelta(days=count - 1 - index) for index in range(count)]


def uptime_fraction(heartbeats: int, heartbeat_s: float, day: date, now: datetime, timezone: ZoneInfo) -> float:
    """heartbeats × interval over the day's length (today: the part already gone), at most 1."""
    span = uptime_span(day, now, timezone)
    if span < 86400.0:  # today: at least one interval, so the first heartbeat is not over 100 %
        span = max(span, heartbeat_s)
    return min(1.0, heartbeats * heartbeat_s / span)


def board_views(
    boards: Sequence[BoardEntry],
    states: Mapping[str, Any],
    day_rows: Iterable[Any],
    days: Sequence[date],
    now: datetime,
    timezone: ZoneInfo,
    default_heartbeat_s: float,
) -> list[BoardView]:
    """The rows of the board table, in the order of `boards` (see `triage`)."""
    heartbeats: dict[tuple[str, str], int] = {(row.board, row.day): int(row.heartbeats) for row in day_rows}
    views = []
    for board in boards:
        state = states.get(board.id)
        interval = heartbeat_of(state, default_heartbeat_s)
        last_seen = state.last_seen if state is not None else None
        uptime: list[tuple[date, float | None]] = []
        for day in days:
            count = heartbeats.get((board.id, day.isoformat()))
            uptime.append((day, None if count is None else uptime_fraction(count, interval, day, now, timezone)))
        views.append(BoardView(board.id, board.name, is_online(last_seen, interval, now), last_seen, interval, state, uptime))
    return views


def triage(
    boards: Sequence[BoardEntry], states: Mapping[str, Any], now: datetime, default_heartbeat_s: float, query: str = ""
) -> tuple[list[BoardEntry], int]:
    """The boards in the table's order, those needing attention first (offline, then with an error), then by id;
    only those whose id or name contains `query` (case- and accent-sensitive as typed). Also: how many are online."""
    needle = query.strip().casefold()
    ranked = []
    online_count = 0
    for board in boards:
        state = states.get(board.id)
        online = is_online(state.last_seen if state is not None else None, heartbeat_of(state, default_heartbeat_s), now)
        online_count += online
        if needle and needle not in board.id.casefold() and needle not in board.name.casefold():
            continue
        ranked.append((online, not (state is not None and state.last_error), board.id, board))
    ranked.sort(key=lambda entry: entry[:3])
    return [entry[3] for entry in ranked], online_count


def mean_uptime_from_totals(
    seconds: Mapping[str, float], boards: int, days: Sequence[date], now: datetime, timezone: ZoneInfo
) -> list[tuple[date, float]]:
    """Per day, the mean uptime over `boards` boards from the day's heard-from seconds summed over them."""
    result = []
    for day in days:
        span = 86400.0 * max(1, boards)
        if day == now.astimezone(timezone).date():
            span = max(1.0, uptime_span(day, now, timezone)) * max(1, boards)
        result.append((day, min(1.0, seconds.get(day.isoformat(), 0.0) / span)))
    return result


def uptime_span(day: date, now: datetime, timezone: ZoneInfo) -> float:
    """Seconds of `day` gone by `now`: the whole day, or today's part."""
    local_now = now.astimezone(timezone)
    if day == local_now.date():
        return (local_now - datetime.combine(day, time(0), timezone)).total_seconds()
    return 86400.0
