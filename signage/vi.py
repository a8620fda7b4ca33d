"""Vietnamese calendar words: weekday names and the date and clock as a board shows them."""

from __future__ import annotations

from datetime import datetime

WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")


def format_date(moment: datetime) -> str:
    """`Thứ Hai, 23/11/2026` for a Monday (the moment is taken in its own time zone)."""
    return f"{WEEKDAYS[moment.weekday()]}, {moment:%d/%m/%Y}"


def format_clock(moment: datetime) -> str:
    """`07:05`: 24-hour clock, as Vietnamese offices write it."""
    return f"{moment:%H:%M}"
