"""What every page module of the source system is handed: the stores, the pages, the clock, who is signed in,
the guards (signed in, a role somewhere) and the form reader that checks the CSRF field and the page's origin."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from signage.district.hub import sessions
from signage.district.hub.config import HubConfig
from signage.district.hub.desk import Actor, Desk, Officer
from signage.district.hub.pages import Pages
from signage.district.hub.preview import Previewer
from signage.district.hub.publishing import Publisher
from signage.district.hub.rules import Role, Verb
from signage.district.hub.store import HubStore
from signage.errors import Conflict, DeskError, NotAllowed, NotFound

Clock = Callable[[], datetime]
Endpoint = Callable[[Request], Response | Awaitable[Response]]
MAX_FORM_BYTES = 64 * 1024  # a bulletin's text form (uploads go through their own streaming reader)
MAX_FORM_FIELDS = 2000  # a form may tick many boards
CROSS_SITE = "Yêu cầu gửi từ một trang khác đã bị từ chối. Hãy mở lại trang của hệ thống rồi thử lại."
STALE_FORM = "Biểu mẫu đã hết hạn (phiên đăng nhập đã đổi). Hãy mở lại trang rồi thử lại."


class FormRefused(Exception):
    """A form that is not read: from another site, without this session's CSRF field, too large."""

    def __init__(self, status: int, what: str) -> None:
        super().__init__(what)
        self.status, self.what = status, what


@dataclass
class HubContext:
    config: HubConfig
    store: HubStore
    desk: Desk
    pages: Pages
    now: Clock
    officer_of: Callable[[Request], str | None]
    publisher: Publisher
    previewer: Previewer  # the board's own renderer in a worker process (preview.py); blocking: run it in a thread

    def officer(self, request: Request) -> Officer | None:
        """The signed-in officer with their roles (looked up once per request), or None."""
        if hasattr(request.state, "officer_obj"):
            return request.state.officer_obj  # type: ignore[no-any-return]
        name = self.officer_of(request)
        found = self.desk.officer(name) if name else None
        request.state.officer_obj = found
        if found is not None:
            roles = {grant.role for grant in found.grants}
            request.state.nav = {
                "write": bool(roles & {Role.EDITOR, Role.APPROVER}),
                "approve": Role.APPROVER in roles,
                "admin": Role.ADMIN in roles,
                "name": found.shown,
                "publish_problem": self.publisher.problem,
            }
        return found

    def actor(self, request: Request) -> Actor:
        officer = self.officer(request)
        assert officer is not None, "guarded routes only"
        return Actor(officer.name, client_address(request), self.now())

    def reach(self, request: Request, verb: Verb = Verb.READ) -> set[str]:
        officer = self.officer(request)
        return set() if officer is None else self.desk.reach(officer.name, verb)

    def visible_boards(self, request: Request) -> list[Any]:
        """The accepted boards within the officer's units (rows with id, name, unit), by name."""
        return self.desk.boards(self.reach(request))

    def reach_boards(self, request: Request) -> set[str]:
        return {row.id for row in self.visible_boards(request)}

    def scope(self, request: Request) -> set[str] | None:
        """The boards whose figures the officer reads: None (every board) for the root unit's people, else those
        within their units (a commune's officers see their commune's plays, uptime and CSV, not the province's)."""
        return None if self.desk.root in self.reach(request) else self.reach_boards(request)

    def titles(self, ids: Iterable[str]) -> dict[str, str]:
        """The source system's titles of these bulletin ids (a drop folder's bulletins keep their ids)."""
        return self.desk.titles(ids)

    def guard(self, *, page: bool = True, verb: Verb | None = None) -> Callable[[Endpoint], Endpoint]:
        """Only a signed-in officer passes (a page redirects to the login, anything else answers 401); with `verb`,
        only one who may do it at some unit (403 page otherwise). Works for sync and async endpoints; DeskErrors
        raised inside become Vietnamese pages (NotFound 404, NotAllowed 403, Conflict 409)."""

        def wrap(endpoint: Endpoint) -> Endpoint:
            @wraps(endpoint)
            async def guarded(request: Request) -> Response:
                if self.officer(request) is None:
                    if page and request.method == "GET":
                        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
                    return PlainTextResponse("Vui lòng đăng nhập trước.", status_code=401)
                if verb is not None and not self.reach(request, verb):
                    return self.pages.problem(request, 403, "Tài khoản của bạn không có quyền dùng trang này.")
                try:
                    result = endpoint(request)
                    if inspect.isawaitable(result):
                        result = await result
                    return result
                except FormRefused as exc:
                    return self.pages.problem(request, exc.status, exc.what)
                except NotFound as exc:
                    return self.pages.problem(request, 404, str(exc))
                except NotAllowed as exc:
                    return self.pages.problem(request, 403, str(exc))
                except Conflict as exc:
                    return self.pages.problem(request, 409, str(exc))
                except DeskError as exc:
                    return self.pages.problem(request, 400, str(exc))

            return guarded

        return wrap

    def check_origin_and_token(self, request: Request, field: str | None) -> None:
        """A form must come from a page of this hub and carry this session's CSRF field."""
        if not same_origin(request):
            raise FormRefused(403, CROSS_SITE)
        if not sessions.csrf_ok(request.cookies.get(sessions.SESSION_COOKIE), field):
            raise FormRefused(403, STALE_FORM)

    async def read_form(self, request: Request, max_bytes: int = MAX_FORM_BYTES) -> dict[str, list[str]]:
        """An urlencoded form, read under `max_bytes`, its origin and CSRF field checked; each field's values."""
        if not same_origin(request):
            raise FormRefused(403, CROSS_SITE)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            raise FormRefused(415, "Biểu mẫu gửi lên không đúng dạng.")
        declared = request.headers.get("content-length", "")
        if declared and (not declared.isascii() or not declared.isdigit() or int(declared) > max_bytes):
            raise FormRefused(413, "Biểu mẫu quá lớn.")
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise FormRefused(413, "Biểu mẫu quá lớn.")
                chunks.append(chunk)
        except ClientDisconnect:
            raise FormRefused(400, "Biểu mẫu chưa gửi hết.") from None
        try:
            form = parse_qs(b"".join(chunks).decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
        except ValueError:
            raise FormRefused(413, "Biểu mẫu có quá nhiều trường.") from None
        self.check_origin_and_token(request, first(form, "csrf"))
        return form


def first(form: dict[str, list[str]], name: str, default: str = "") -> str:
    values = form.get(name)
    return values[0] if values else default


def client_address(request: Request) -> str:
    return request.client.host if request.client else "?"


def same_origin(request: Request) -> bool:
    """A browser's POST must come from a page of this hub (Origin, else Referer); clients sending neither pass
    (the CSRF field still has to match)."""
    host = request.headers.get("host", "")
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return True
    return urlsplit(source).netloc == host


def problem_of(exc: DeskError) -> tuple[int, str]:
    status = 404 if isinstance(exc, NotFound) else 403 if isinstance(exc, NotAllowed) else 409 if isinstance(exc, Conflict) else 400
    return status, str(exc)
