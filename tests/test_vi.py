"""Vietnamese dates and clocks as the board shows them."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from signage.vi import format_clock, format_date

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def test_the_week_in_vietnamese() -> None:
    days = [format_date(datetime(2026, 11, 23 + offset, 9, 0, tzinfo=HCM)) for offset in range(7)]
    assert days == [
        "Thứ Hai, 23/11/2026",
        "Thứ Ba, 24/11/2026",
        "Thứ Tư, 25/11/2026",
        "Thứ Năm, 26/11/2026",
        "Thứ Sáu, 27/11/2026",
        "Thứ Bảy, 28/11/2026",
        "Chủ Nhật, 29/11/2026",
    ]


def test_the_board_zone_decides_the_day() -> None:
    utc_evening = datetime(2026, 11, 22, 18, 30, tzinfo=UTC)  # 01:30 on Monday in Vietnam
    local = utc_evening.astimezone(HCM)
    assert format_date(local) == "Thứ Hai, 23/11/2026"
    assert format_clock(local) == "01:30"
