"""The dashboard's decisions with a given `now`: online within three heartbeats, uptime per day, offline boards first."""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from signage.district.hub.config import BoardEntry
from signage.district.hub.dashboard import board_views, is_online, last_days, mean_uptime, uptime_fraction

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=TZ)


def test_online_means_heard_within_three_intervals() -> None:
    assert is_online(NOW.timestamp() - 899, 300, NOW)
    assert not is_online(NOW.timestamp() - 901, 300, NOW)
    assert not is_online(None, 300, NOW)


def test_uptime_of_past_days_and_of_today() -> None:
    assert uptime_fraction(144, 300, date(2026, 11, 22), NOW, TZ) == 0.5
    assert uptime_fraction(400, 300, date(2026, 11, 22), NOW, TZ) == 1.0  # capped
    assert uptime_fraction(72, 300, date(2026, 11, 23), NOW, TZ) == 0.5  # half of the 12 hours gone today


def test_board_views_order_and_strip() -> None:
    boards = [BoardEntry(board_id, board_id, b"k" * 32, "0" * 16) for board_id in ("a", "b", "c")]
    states = {
        "a": SimpleNamespace(last_seen=NOW.timestamp() - 60, heartbeat_s=60.0),
        "b": SimpleNamespace(last_seen=NOW.timestamp() - 3600, heartbeat_s=None),
    }
    days = last_days(date(2026, 11, 23), 2)
    rows = [SimpleNamespace(board="a", day="2026-11-22", heartbeats=1440), SimpleNamespace(board="b", day="2026-11-23", heartbeats=72)]
    views = board_views(boards, states, rows, days, NOW, TZ, 300.0)
    assert [(v.id, v.online, v.heartbeat_s) for v in views] == [("b", False, 300.0), ("c", False, 300.0), ("a", True, 60.0)]
    assert views[2].uptime == [(date(2026, 11, 22), 1.0), (date(2026, 11, 23), None)]
    assert views[0].uptime == [(date(2026, 11, 22), None), (date(2026, 11, 23), 0.5)]
    assert mean_uptime(views, days) == [(date(2026, 11, 22), 1 / 3), (date(2026, 11, 23), 0.5 / 3)]
