"""The hub's web app: boards POST signed reports and screenshots; officers sign in and read the dashboard."""

from __future__ import annotations

import csv
import io
import logging
import secrets
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import jinja2
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from signage.district.hub import charts, dashboard
from signage.district.hub.config import HubConfig
from signage.district.hub.endpoint import BoardEndpoints, Endpoint
from signage.district.hub.ingest import PinnedBoards, Refusal, decide_report, decide_screenshot, thumbnail
from signage.district.hub.store import HubStore
from signage.district.hub.throttle import SignInThrottle

log = logging.getLogger("signage.hub")

HERE = Path(__file__).parent
SESSION_COOKIE = "signage_hub"
SESSION_SECONDS = 12 * 3600
REFUSALS_KEPT = 50
MAX_EXPORT_DAYS = 400
MAX_FORM_BYTES = 16 * 1024
CSV_HEADER = ("board", "bulletin", "revision", "started_at", "shown_s", "completed", "reason", "count")
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class RefusalRecord:
    at: datetime
    remote: str
    path: str
    status: int
    reason: str


class _TooLarge(Exception):
    pass


class Officers:
    """Argon2id password checks; an unknown name costs a hash too, so timing does not tell which names exist."""

    def __init__(self, store: HubStore) -> None:
        self.store = store
        self.hasher = PasswordHasher()
        self._dummy = self.hasher.hash(secrets.token_hex(16))

    def check(self, name: str, password: str) -> bool:
        stored = self.store.password_hash(name) if name else None
        try:
            return self.hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def hash_password(password: str) -> str:
    return PasswordHasher().hash(password)


def create_app(config: HubConfig, *, clock: Clock | None = None, store: HubStore | None = None) -> BoardEndpoints:
    """The hub as an ASGI app. `clock` gives "now" (tests pass a fixed one); the store is opened here unless given."""
    now = clock or (lambda: datetime.now(config.timezone))
    own_store = store is None
    store = store or HubStore.open(config.database_url, config.timezone)
    store.sync_boards(config.boards)
    pinned = PinnedBoards([(board.id, board.public_key) for board in config.boards])
    officers = Officers(store)
    throttle = SignInThrottle()
    refusals: deque[RefusalRecord] = deque(maxlen=REFUSALS_KEPT)
    board_names = {board.id: board.name for board in config.boards}
    pages = _Pages(config, now)

    def refused(remote: str, path: str, status: int, reason: str) -> None:
        log.warning("refused %s from %s: %d %s", path, remote, status, reason)
        refusals.appendleft(RefusalRecord(now(), remote, path, status, reason))

    async def read_body(request: Request, limit: int) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise _TooLarge(f"Content-Length {declared[:20]} is over the limit of {limit} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _TooLarge(f"body is over the limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def handle_report(raw: bytes) -> dict[str, Any] | Refusal:
        decision = decide_report(raw, pinned)
        if isinstance(decision, Refusal):
            return decision
        duplicate = store.ingest_report(decision, now())
        return {"ok": True, "seq": decision.seq, "duplicate": duplicate}

    def handle_screenshot(raw: bytes) -> dict[str, Any] | Refusal:
        decision = decide_screenshot(raw, pinned)
        if isinstance(decision, Refusal):
            return decision
        duplicate = store.ingest_screenshot(decision, thumbnail(decision.png), now(), config.screenshots_kept)
        return {"ok": True, "seq": decision.seq, "duplicate": duplicate}

    def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    # --- officers ---------------------------------------------------------------------------------

    def login_page(request: Request) -> Response:
        if request.session.get("user"):
            return RedirectResponse("/", status_code=303)
        return pages.render(request, "login.html", next=_safe_next(request.query_params.get("next")))

    async def login(request: Request) -> Response:
        if not _same_origin(request):
            return PlainTextResponse("cross-site request refused", status_code=403)
        try:
            raw = await read_body(request, MAX_FORM_BYTES)
        except _TooLarge:
            return PlainTextResponse("form too large", status_code=413)
        except ClientDisconnect:
            return Response(status_code=400)
        # The login form is a plain urlencoded HTML form: parsed here, under the size limit read above.
        try:
            form = dict(parse_qsl(raw.decode("utf-8", errors="replace"), max_num_fields=10))
        except ValueError:
            return PlainTextResponse("too many form fields", status_code=400)
        name, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
        target = _safe_next(str(form.get("next", "")))
        remote = request.client.host if request.client else "?"
        keys, moment = (f"name:{name.casefold()[:100]}", f"addr:{remote}"), now().timestamp()
        wait = throttle.wait_s(keys, moment)
        if wait > 0:
            log.warning("sign-in for %r from %s refused: too many wrong passwords", name[:100], remote)
            error = f"Nhập sai quá nhiều lần. Vui lòng thử lại sau {max(1, round(wait / 60))} phút."
            return pages.render(request, "login.html", status=429, error=error, username=name, next=target)
        if not await run_in_threadpool(officers.check, name, password):
            throttle.failed(keys, moment)
            log.warning("failed sign-in for %r from %s", name[:100], remote)
            return pages.render(request, "login.html", status=401, error="Sai tên đăng nhập hoặc mật khẩu.", username=name, next=target)
        throttle.succeeded(keys[0])
        request.session.clear()
        request.session["user"] = name
        log.info("officer %s signed in", name)
        return RedirectResponse(target or "/", status_code=303)

    def logout(request: Request) -> Response:
        if not _same_origin(request):
            return PlainTextResponse("cross-site request refused", status_code=403)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @_officer(page=True)
    def overview(request: Request) -> Response:
        moment = now()
        today = moment.astimezone(config.timezone).date()
        days14, days30 = dashboard.last_days(today, 14), dashboard.last_days(today, 30)
        query = request.query_params.get("q", "")[:100]
        states = store.board_states()
        ranked, online = dashboard.triage(config.boards, states, moment, config.heartbeat_seconds, query)
        pages_count = max(1, -(-len(ranked) // dashboard.PAGE_SIZE))
        page_text = request.query_params.get("page", "1")
        page = min(pages_count, max(1, int(page_text))) if page_text.isdigit() and len(page_text) < 6 else 1
        shown = ranked[(page - 1) * dashboard.PAGE_SIZE : page * dashboard.PAGE_SIZE]
        views = dashboard.board_views(
            shown,
            states,
            store.board_days(days14[0], today, boards=[board.id for board in shown]),
            days14,
            moment,
            config.timezone,
            config.heartbeat_seconds,
        )
        per_day = store.plays_per_day(days30[0], today)
        plays_chart = charts.bar_chart([(day, per_day.get(day.isoformat(), 0)) for day in days30], label="Lượt phát theo ngày")
        heard = store.heard_seconds_per_day(days14[0], today, config.heartbeat_seconds)
        uptime = dashboard.mean_uptime_from_totals(heard, len(config.boards), days14, moment, config.timezone)
        uptime_chart = charts.bar_chart(
            [(day, value * 100) for day, value in uptime], label="Thời gian hoạt động", unit="%", maximum=100, colour="#2e8b57"
        )
        return pages.render(
            request,
            "dashboard.html",
            views=views,
            boards_total=len(config.boards),
            matching=len(ranked),
            query=query,
            page=page,
            pages_count=pages_count,
            online=online,
            offline=len(config.boards) - online,
            plays_chart=plays_chart,
            uptime_chart=uptime_chart,
            plays_today=per_day.get(today.isoformat(), 0),
            refusals=list(refusals),
            strip=charts.uptime_strip,
            default_from=(today - timedelta(days=29)).isoformat(),
            default_to=today.isoformat(),
        )

    @_officer(page=True)
    def board_page(request: Request) -> Response:
        board_id = request.path_params["board"]
        entry = next((board for board in config.boards if board.id == board_id), None)
        if entry is None:
            return pages.render(request, "missing.html", status=404, what=f"Không có bảng tin “{board_id}”.")
        moment = now()
        today = moment.astimezone(config.timezone).date()
        days30 = dashboard.last_days(today, 30)
        state = store.board_state(board_id)
        day_rows = store.board_days(days30[0], today, board_id)
        view = dashboard.board_views(
            [entry], {board_id: state} if state else {}, day_rows, days30, moment, config.timezone, config.heartbeat_seconds
        )[0]
        plays_by_day = {row.day: int(row.plays) for row in day_rows}
        return pages.render(
            request,
            "board.html",
            view=view,
            reported=view.status,
            uptime_chart=charts.bar_chart(
                [(day, (fraction or 0) * 100) for day, fraction in view.uptime],
                label="Thời gian hoạt động",
                unit="%",
                maximum=100,
                colour="#2e8b57",
            ),
            plays_chart=charts.bar_chart([(day, plays_by_day.get(day.isoformat(), 0)) for day in days30], label="Lượt phát theo ngày"),
            screenshots=store.screenshot_list(board_id),
            plays=store.recent_plays(board_id),
            commands=store.commands(board_id),
            default_from=(today - timedelta(days=29)).isoformat(),
            default_to=today.isoformat(),
        )

    def last_days_of(request: Request, days: int) -> tuple[date, date] | Response:
        """The period a page asks for (`from`, `to`), by default the last `days` days to today."""
        today = now().astimezone(config.timezone).date()
        return _period(request, today - timedelta(days=days - 1), today)

    @_officer(page=True)
    def bulletins_page(request: Request) -> Response:
        period = last_days_of(request, 7)
        if isinstance(period, Response):
            return period
        first, last = period
        return pages.render(request, "bulletins.html", rows=store.bulletin_totals(first, last), first=first, last=last)

    @_officer(page=True)
    def bulletin_page(request: Request) -> Response:
        bulletin = request.path_params["bulletin"]
        period = last_days_of(request, 7)
        if isinstance(period, Response):
            return period
        first, last = period
        rows = [
            (row.board, board_names.get(row.board, row.board), int(row.count), int(row.completed), float(row.shown_s), row.first_day,
             row.last_day)
            for row in store.bulletin_boards(first, last, bulletin)
        ]  # fmt: skip
        rows.sort(key=lambda row: (-row[2], row[1]))
        return pages.render(request, "bulletin.html", bulletin=bulletin, rows=rows, first=first, last=last)

    @_officer(page=False)
    def screenshot(request: Request) -> Response:
        board, name = request.path_params["board"], request.path_params["name"]
        seq_text, thumb = (name[: -len(".thumb.png")], True) if name.endswith(".thumb.png") else (name.removesuffix(".png"), False)
        if not name.endswith(".png") or not seq_text.isdigit() or len(seq_text) > 16:
            return PlainTextResponse("not found", status_code=404)
        png = store.screenshot_png(board, int(seq_text), thumb=thumb)
        if png is None:
            return PlainTextResponse("not found", status_code=404)
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"})

    @_officer(page=False)
    def export_csv(request: Request) -> Response:
        period = last_days_of(request, 30)
        if isinstance(period, Response):
            return period
        first, last = period
        board = request.query_params.get("board") or None
        if board is not None and board not in board_names:
            return PlainTextResponse(f"unknown board {board[:64]!r}", status_code=400)
        filename = f"phat-song-{board + '-' if board else ''}{first.isoformat()}-{last.isoformat()}.csv"
        return StreamingResponse(
            _csv_chunks(store, first, last, board),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if own_store:
            store.close()

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", overview, methods=["GET"]),
        Route("/boards/{board}", board_page, methods=["GET"]),
        Route("/bulletins", bulletins_page, methods=["GET"]),
        Route("/bulletins/{bulletin}", bulletin_page, methods=["GET"]),
        Route("/screenshots/{board}/{name}", screenshot, methods=["GET"]),
        Route("/export.csv", export_csv, methods=["GET"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        Middleware(
            SessionMiddleware,
            secret_key=store.session_secret(),
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_SECONDS,
            same_site="lax",
            https_only=False,  # a district office LAN often has no TLS; SameSite=Lax still keeps cross-site posts out
        )
    ]
    officers_app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    officers_app.state.store = store
    officers_app.state.refusals = refusals
    endpoints = {
        "/report": Endpoint(config.max_report_bytes, handle_report, on_loop=True),
        "/report/screenshot": Endpoint(config.max_screenshot_bytes, handle_screenshot, on_loop=False),  # Pillow: off the loop
    }
    return BoardEndpoints(officers_app, endpoints, refused)


def _officer(page: bool) -> Callable[[Callable[[Request], Response]], Callable[[Request], Response]]:
    """Only a signed-in officer passes: a page redirects (303) to the login, anything else answers 401."""

    def wrap(endpoint: Callable[[Request], Response]) -> Callable[[Request], Response]:
        @wraps(endpoint)
        def guarded(request: Request) -> Response:
            if not request.session.get("user"):
                if page:
                    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
                return PlainTextResponse("sign in first", status_code=401)
            return endpoint(request)

        return guarded

    return wrap


def _same_origin(request: Request) -> bool:
    """A browser's POST must come from a page of this hub (Origin, else Referer); clients sending neither pass."""
    host = request.headers.get("host", "")
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return True
    return urlsplit(source).netloc == host


def _safe_next(target: str | None) -> str:
    """Only a path on this hub, never another site (`//evil`, `https://…`)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return ""
    return target


def _period(request: Request, default_first: date, default_last: date) -> tuple[date, date] | Response:
    try:
        first = date.fromisoformat(request.query_params.get("from") or default_first.isoformat())
        last = date.fromisoformat(request.query_params.get("to") or default_last.isoformat())
    except ValueError:
        return PlainTextResponse("from and to must be dates YYYY-MM-DD", status_code=400)
    if last < first:
        return PlainTextResponse("to is before from", status_code=400)
    if (last - first).days >= MAX_EXPORT_DAYS:
        return PlainTextResponse(f"a period is at most {MAX_EXPORT_DAYS} days", status_code=400)
    return first, last


def _csv_chunks(store: HubStore, first: date, last: date, board: str | None, rows_per_chunk: int = 1000) -> Iterator[bytes]:
    """UTF-8 with a BOM (so Excel reads Vietnamese right), a header line, then rows in chunks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(CSV_HEADER)
    pending = 0
    for row in store.export_rows(first, last, board):
        writer.writerow((row.board, row.bulletin, row.revision, row.started_at, _number(row.shown_s), row.completed, row.reason, row.count))
        pending += 1
        if pending >= rows_per_chunk:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue().encode("utf-8")


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


class _Pages:
    """The Jinja2 templates, with the hub's title, the officer's name and date filters in the hub's time zone."""

    def __init__(self, config: HubConfig, now: Clock) -> None:
        self.config, self.now = config, now
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
        self.env.filters["when"] = self.when
        self.env.filters["ago"] = self.ago
        self.env.filters["stamp"] = self.stamp
        self.env.filters["gb"] = lambda value: "—" if value is None else f"{value / 1e9:.1f} GB"
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

    def render(self, request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(
            title=self.config.title, user=request.session.get("user"), path=request.url.path, now=self.now(), **values
        )
        return HTMLResponse(Markup(html), status_code=status)
