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
    local_now = now.astimezone(timezone)
    if day == local_now.date():
        elapsed = (local_now - datetime.combine(day, time(0), timezone)).total_seconds()
        span = max(elapsed, heartbeat_s)
    else:
        span = 86400.0
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
    """The board table: offline boards first (they need attention), then by id."""
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
    views.sort(key=lambda view: (view.online, view.id))
    return views


def mean_uptime(views: Sequence[BoardView], days: Sequence[date]) -> list[tuple[date, float]]:
    """Per day, the mean uptime over every configured board (a board not heard from that day counts 0)."""
    if not views:
        return [(day, 0.0) for day in days]
    result = []
    for index, day in enumerate(days):
        total = sum(view.uptime[index][1] or 0.0 for view in views)
        result.append((day, total / len(views)))
    return result
