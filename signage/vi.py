"""Vietnamese calendar words: weekday names and the date and clock as a board shows them."""

from __future__ import annotations

import re
from datetime import datetime

WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")


def format_date(moment: datetime) -> str:
    """`Thứ Hai, 23/11/2026` for a Monday (the moment is taken in its own time zone)."""
    return f"{WEEKDAYS[moment.weekday()]}, {moment:%d/%m/%Y}"


def format_clock(moment: datetime) -> str:
    """`07:05`: 24-hour clock, as Vietnamese offices write it."""
    return f"{moment:%H:%M}"


# What the board's parser says of a field (English, for logs), as an officer reads it on a page.
FIELD_WORDS = {
    "title": "Tiêu đề", "body": "Nội dung", "media": "Tệp đính kèm", "bytes": "Tệp đính kèm", "type": "Loại tệp",
    "valid_from": "Thời gian bắt đầu", "valid_until": "Thời gian kết thúc", "slots": "Khung giờ", "days": "Ngày trong tuần",
    "from": "Giờ bắt đầu của khung giờ", "until": "Giờ kết thúc của khung giờ", "duration_s": "Thời lượng hiển thị",
    "priority": "Mức ưu tiên", "kind": "Loại bản tin", "boards": "Nơi nhận", "id": "Mã bản tin", "revision": "Số bản",
}  # fmt: skip
_FIELD_NAME = re.compile(r"\[\d+\]")
PROBLEM_WORDS = (
    ("too long", "quá dài"),
    ("empty", "đang trống"),
    ("missing", "còn thiếu"),
    ("is not after valid_from", "phải sau thời gian bắt đầu"),
    ("equals from", "trùng giờ bắt đầu (khung giờ trống)"),
    ("24:00 is not a start time", "24:00 không thể là giờ bắt đầu"),
    ("must be between", "nằm ngoài giới hạn cho phép"),
    ("unsupported media type", "là loại tệp bảng tin không phát được"),
    ("not an ISO 8601", "không phải ngày giờ hợp lệ"),
)


def problem_vi(problem: str) -> str:
    """`origin: bulletin 'x': field: problem` from the board's parser, as one Vietnamese line; the English kept after it
    when no phrase matches (a technician can still read what the board would say)."""
    parts = [part.strip() for part in problem.split(": ")]
    named = next(((n, _FIELD_NAME.sub("", part.rsplit(".", 1)[-1])) for n, part in enumerate(parts)
                  if _FIELD_NAME.sub("", part.rsplit(".", 1)[-1]) in FIELD_WORDS), None)  # fmt: skip
    field = named[1] if named else None
    rest = ": ".join(parts[named[0] + 1 :]) if named else problem
    said = next((vi for en, vi in PROBLEM_WORDS if rest.startswith(en)), None) or next((vi for en, vi in PROBLEM_WORDS if en in rest), None)
    if field is None:
        return f"bảng tin sẽ không nhận bản tin này ({problem})"
    return f"{FIELD_WORDS[field]} {said}." if said else f"{FIELD_WORDS[field]} không hợp lệ ({rest})."
