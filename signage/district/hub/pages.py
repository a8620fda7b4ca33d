"""The hub's pages: Jinja2 templates with the hub's title, the officer's name, the CSRF field and dates in its zone."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from signage.district.hub import sessions
from signage.district.hub.config import HubConfig

HERE = Path(__file__).parent
Clock = Callable[[], datetime]
PROBLEM_HEADINGS = {400: "Yêu cầu chưa đúng", 403: "Bị từ chối", 404: "Không tìm thấy", 413: "Quá lớn"}


# Why a play ended before its turn did (report/plays.py REASONS, the board's words), as the officer reads it.
STOP_REASONS = {
    "emergency": "nhường bản tin khẩn cấp",
    "withdrawn": "bản tin bị thu hồi",
    "expired": "hết hạn",
    "revised": "có bản mới",
    "screen_off": "tắt màn hình",
    "error": "lỗi khi phát",
    "stopped": "bảng tin dừng",
}


def disk_size(size: float | None) -> str:
    """A board's free disk or cache; under a gigabyte in megabytes (a cache of a few notices read "0.0 GB")."""
    if size is None:
        return "—"
    return decimal_vi(f"{size / 1e9:.1f}") + " GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


def decimal_vi(number: str) -> str:
    """A decimal as Vietnamese writes it: a comma before the fraction (82,5 GB)."""
    return number.replace(".", ",")


def file_size(size: int) -> str:
    """An upload's size for the officer: a poster of 30 KB is not "0.0 MB"."""
    if size < 1024 * 1024:
        return f"{max(1, -(-size // 1024))} KB"
    return decimal_vi(f"{size / (1024 * 1024):.1f}") + " MB"


class Pages:
    """The Jinja2 templates, with the hub's title, the officer's name and date filters in the hub's time zone."""

    def __init__(self, config: HubConfig, now: Clock) -> None:
        self.config, self.now = config, now
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
        self.env.filters["when"] = self.when
        self.env.filters["ago"] = self.ago
        self.env.filters["stamp"] = self.stamp
        self.env.filters["gb"] = disk_size
        self.env.filters["file_size"] = file_size
        self.env.filters["stop_reason"] = lambda code: STOP_REASONS.get(code or "", code or "—")
        self.env.filters["day"] = lambda value: (date.fromisoformat(value) if isinstance(value, str) else value).strftime("%d/%m/%Y")

    def when(self, value: float | datetime | None) -> str:
        if value is None:
            return "—"
        moment = (
            datetime.fromtimestamp(value, self.config.timezone)
            if isinstance(value, float | int)
            else value.astimezone(self.config.timezone)
        )
        return moment.strftime("%d/%m/%Y %H:%M")

    def stamp(self, value: object) -> str:
        """A board's ISO 8601 time as `23/11/2026 18:29:13` in the hub's zone (its own text if it is not one)."""
        if not isinstance(value, str) or not value:
            return "—"
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.utcoffset() is None:
            return value
        return moment.astimezone(self.config.timezone).strftime("%d/%m/%Y %H:%M:%S")

    def ago(self, value: float | None) -> str:
        if value is None:
            return "chưa kết nối"
        seconds = max(0.0, self.now().timestamp() - value)
        if seconds < 60:
            return "vừa xong"
        if seconds < 3600:
            return f"{seconds // 60:.0f} phút trước"
        if seconds < 86400 * 2:
            return f"{seconds // 3600:.0f} giờ trước"
        return f"{seconds // 86400:.0f} ngày trước"

    def render(
        self, request: Request, name: str, status: int = 200, headers: Mapping[str, str] | None = None, **values: Any
    ) -> HTMLResponse:
        # The officer's name only if this request already looked the session up: rendering never queries.
        officer = getattr(request.state, "officer", None)
        values.setdefault("csrf", sessions.csrf_token(request.cookies.get(sessions.SESSION_COOKIE)) if officer else "")
        values.setdefault("nav", getattr(request.state, "nav", {}))
        html = self.env.get_template(name).render(title=self.config.title, user=officer, path=request.url.path, now=self.now(), **values)
        return HTMLResponse(Markup(html), status_code=status, headers=headers)

    def problem(self, request: Request, status: int, what: str, headers: Mapping[str, str] | None = None) -> HTMLResponse:
        """A one-line refusal an officer reads, as a page of the hub."""
        heading = PROBLEM_HEADINGS.get(status, "Không thực hiện được")
        return self.render(request, "error.html", status=status, headers=headers, heading=heading, what=what)
