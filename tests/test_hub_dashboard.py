"""The dashboard's decisions with a given `now`: online within three heartbeats, uptime per day, offline boards first."""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from signage.district.hub.config import BoardEntry
from signage.district.hub.dashboard import board_views, is_online, last_days, mean_uptime_from_totals, triage, uptime_fraction

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


def test_triage_puts_offline_then_erring_boards_first_and_filters() -> None:
    boards = [BoardEntry(board_id, f"UBND xã {name}", b"k" * 32, "0" * 16) for board_id, name in
              [("a", "Tân Quan"), ("b", "Tân Hưng"), ("c", "Thanh An"), ("d", "An Phú")]]  # fmt: skip
    fresh = NOW.timestamp() - 60
    states = {
        "a": SimpleNamespace(last_seen=fresh, heartbeat_s=300.0, last_error=None),
        "b": SimpleNamespace(last_seen=fresh, heartbeat_s=300.0, last_error="feed: hết hạn"),
        "d": SimpleNamespace(last_seen=NOW.timestamp() - 3600, heartbeat_s=300.0, last_error=None),
    }
    ranked, online = triage(boards, states, NOW, 300.0)
    assert [b.id for b in ranked] == ["c", "d", "b", "a"] and online == 2
    ranked, online = triage(boards, states, NOW, 300.0, query="tân")
    assert [b.id for b in ranked] == ["b", "a"] and online == 2  # the count is over every board


def test_board_views_keep_the_order_given_and_fill_the_strip() -> None:
    boards = [BoardEntry(board_id, board_id, b"k" * 32, "0" * 16) for board_id in ("b", "c", "a")]
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


def test_mean_uptime_over_every_board_from_summed_seconds() -> None:
    days = last_days(date(2026, 11, 23), 2)
    heard = {"2026-11-22": 86400.0, "2026-11-23": 21600.0}  # one board all day; today half of the 12 h gone, for one
    assert mean_uptime_from_totals(heard, 3, days, NOW, TZ) == [(date(2026, 11, 22), 1 / 3), (date(2026, 11, 23), 0.5 / 3)]
    assert mean_uptime_from_totals({}, 0, days, NOW, TZ) == [(date(2026, 11, 22), 0.0), (date(2026, 11, 23), 0.0)]


def test_chart_axis_labels_stay_short() -> None:
    from signage.district.hub.charts import _short

    assert [_short(v) for v in (950, 1440, 28800, 2_880_000, 3_000_000)] == ["950", "1,4k", "29k", "2,9tr", "3tr"]


def test_count_chart_with_no_plays_or_an_odd_top_labels_its_middle_line_with_a_whole_number() -> None:
    import re

    from signage.district.hub.charts import bar_chart

    def labels(values: list[int]) -> list[str]:
        chart = bar_chart([(date(2026, 11, 1 + n), v) for n, v in enumerate(values)], label="Lượt phát theo ngày")
        return re.findall(r'text-anchor="end">([^<]*)</text>', chart)

    assert labels([0, 0, 0]) == ["0", "1", "2"]  # was 0, 0, 1: the middle line's 0.5 shown as 0
    assert labels([3, 7, 1]) == ["0", "4", "8"]
