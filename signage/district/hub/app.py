"""The hub's web app: boards POST signed reports and screenshots; officers sign in and read the dashboard."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from functools import wraps
from pathlib import Path
from urllib.parse import parse_qsl, quote

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from signage.district.hub import admin_pages, charts, dashboard, desk_pages, sessions
from signage.district.hub.config import HubConfig
from signage.district.hub.context import HubContext, same_origin
from signage.district.hub.desk import Actor, Desk
from signage.district.hub.endpoint import BoardEndpoints, BoardIntake, BodyBudget
from signage.district.hub.feeds import FeedSite, feed_routes
from signage.district.hub.headers import SecurityHeaders
from signage.district.hub.ingest import PinnedBoards
from signage.district.hub.pages import Pages
from signage.district.hub.preview import Previewer
from signage.district.hub.publishing import Publisher, Tender
from signage.district.hub.refusals import RefusalLog
from signage.district.hub.rules import CATEGORIES
from signage.district.hub.sessions import SESSION_COOKIE
from signage.district.hub.store import HubStore
from signage.district.hub.throttle import SignInGate

log = logging.getLogger("signage.hub")

HERE = Path(__file__).parent
MAX_EXPORT_DAYS = 400
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)  # any period asked for lies within (and dates stay computable)
MAX_FORM_BYTES = 16 * 1024
# Argon2id takes 64 MiB for each password it checks: two at a time keep a flood of sign-ins to 128 MiB.
MAX_PASSWORD_CHECKS = 2
# Text cells a spreadsheet would read as a formula (OWASP's list; the fullwidth forms, which some locales read alike).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
CSV_HEADER = ("board", "bulletin", "revision", "started_at", "shown_s", "completed", "reason", "count")
Clock = Callable[[], datetime]


class _TooLarge(Exception):
    pass


class Officers:
    """Argon2id password checks; an unknown name costs a hash too, so timing does not tell which names exist."""

    def __init__(self, store: HubStore) -> None:
        self.store = store
        self.hasher = PasswordHasher()
        self._dummy = self.hasher.hash(secrets.token_hex(16))

    def check(self, name: str, password: str) -> tuple[bool, bool]:
        """(whether the name is an officer's, whether the password is theirs)."""
        stored = self.store.password_hash(name) if name else None
        try:
            return stored is not None, self.hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return stored is not None, False


def hash_password(password: str) -> str:
    return PasswordHasher().hash(password)


def create_app(config: HubConfig, *, clock: Clock | None = None, store: HubStore | None = None) -> SecurityHeaders:
    """The hub as an ASGI app. `clock` gives "now" (tests pass a fixed one); the store is opened here unless given."""
    now = clock or (lambda: datetime.now(config.timezone))
    own_store = store is None
    store = store or HubStore.open(config.database_url, config.timezone, now=now().timestamp())  # now: an upgrade's time
    store.sync_boards(config.boards)
    pinned = PinnedBoards([(board.id, board.public_key) for board in config.boards])
    officers = Officers(store)
    gate = SignInGate(store)
    password_checks = asyncio.Semaphore(MAX_PASSWORD_CHECKS)
    refusals = RefusalLog(now)  # the boards' refusals apart from anonymous junk, logged at most once a minute each
    pages = Pages(config, now)
    desk = Desk(store.engine, config.media_dir, config.unit_name)
    site = (
        FeedSite(config.site_dir, config.source_key, config.title, timedelta(days=config.feed_expires_days)) if config.source_key else None
    )
    publisher = Publisher(desk, site, now)
    tender = Tender(publisher)
    previewer = Previewer(config.media_dir.parent / "previews")  # its worker process starts on the first preview

    def board_names() -> dict[str, str]:
        return {board.id: board.name for board in desk.boards()}

    async def read_body(request: Request, limit: int) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and (ascii_int(declared, 20) is None or int(declared) > limit):
            raise _TooLarge(f"Content-Length {declared[:20]} is over the limit of {limit} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _TooLarge(f"body is over the limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    # --- officers ---------------------------------------------------------------------------------

    def secure(request: Request) -> bool:
        """Whether the cookie is Secure: always for a hub published over https, else when this request came over
        HTTPS (directly, or as a trusted proxy said): plain HTTP on an office LAN keeps working."""
        return config.https_only or request.url.scheme == "https"

    def officer_of(request: Request) -> str | None:
        """The signed-in officer, or None: the session's row looked up by its hash, once per request."""
        if hasattr(request.state, "officer"):
            return request.state.officer
        token, officer = request.cookies.get(SESSION_COOKIE), None
        if sessions.well_formed(token):
            assert token is not None
            digest, moment = sessions.token_hash(token), now().timestamp()
            row = store.session(digest)  # None too when its officer was removed
            if row is not None and sessions.alive(row.created_at, row.last_seen, moment):
                officer = row.officer
                if sessions.needs_touch(row.last_seen, moment):
                    store.touch_session(digest, moment)
            elif row is not None:
                store.end_session(digest)
        request.state.officer = officer
        return officer

    ctx = HubContext(config, store, desk, pages, now, officer_of, publisher, previewer)

    def guard(page: bool) -> Callable[[Callable[[Request], Response]], Callable[[Request], Response]]:
        """Only a signed-in officer passes: a page redirects (303) to the login, anything else answers 401."""

        def wrap(endpoint: Callable[[Request], Response]) -> Callable[[Request], Response]:
            @wraps(endpoint)
            def guarded(request: Request) -> Response:
                if ctx.officer(request) is None:
                    if page:
                        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
                    return PlainTextResponse("Vui lòng đăng nhập trước.", status_code=401)
                return endpoint(request)

            return guarded

        return wrap

    def login_page(request: Request) -> Response:
        if officer_of(request):
            return RedirectResponse("/", status_code=303)
        return pages.render(request, "login.html", next=_safe_next(request.query_params.get("next")))

    async def login(request: Request) -> Response:
        if not same_origin(request):
            return pages.problem(request, 403, CROSS_SITE)
        try:
            raw = await read_body(request, MAX_FORM_BYTES)
        except _TooLarge:
            return pages.problem(request, 413, "Biểu mẫu đăng nhập quá lớn.")
        except ClientDisconnect:
            return Response(status_code=400)
        # The login form is a plain urlencoded HTML form: parsed here, under the size limit read above.
        try:
            form = dict(parse_qsl(raw.decode("utf-8", errors="replace"), max_num_fields=10))
        except ValueError:
            return pages.problem(request, 400, "Biểu mẫu đăng nhập có quá nhiều trường.")
        name, password = str(form.get("username", "")).strip()[:200], str(form.get("password", ""))
        target = _safe_next(str(form.get("next", "")))
        remote = request.client.host if request.client else "?"
        moment = now().timestamp()
        attempt = await run_in_threadpool(gate.enter, name, remote, moment)
        if attempt.wait_s > 0:
            known = await run_in_threadpool(store.password_hash, name) is not None
            log.warning("sign-in for %s from %s held: too many wrong passwords", _who(name, known), remote)
            error = f"Nhập sai quá nhiều lần. Vui lòng thử lại sau {max(1, round(attempt.wait_s / 60))} phút."
            return pages.render(request, "login.html", status=429, error=error, username=name, next=target)
        async with password_checks:
            known, right = await run_in_threadpool(officers.check, name, password)
        if not right:
            log.warning("failed sign-in for %s from %s", _who(name, known), remote)
            if known:
                await run_in_threadpool(desk.record, Actor(name, remote, now()), "sign_in.failed", None, "đăng nhập sai mật khẩu")
            return pages.render(request, "login.html", status=401, error="Sai tên đăng nhập hoặc mật khẩu.", username=name, next=target)
        token, old = sessions.new_token(), request.cookies.get(SESSION_COOKIE)

        def start() -> None:
            gate.passed(attempt, moment)
            if sessions.well_formed(old):
                store.end_session(sessions.token_hash(str(old)))
            store.start_session(sessions.token_hash(token), name, moment, expired_before=moment - sessions.IDLE_S)

        await run_in_threadpool(start)
        await run_in_threadpool(desk.record, Actor(name, remote, now()), "sign_in", None, "đăng nhập")
        log.info("officer %s signed in from %s", name, remote)
        response = RedirectResponse(target or "/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE, token, max_age=sessions.LIFETIME_S, path="/", secure=secure(request), httponly=True, samesite="lax"
        )
        return response

    def logout(request: Request) -> Response:
        if not same_origin(request):
            return pages.problem(request, 403, CROSS_SITE)
        token = request.cookies.get(SESSION_COOKIE)
        if sessions.well_formed(token):
            store.end_session(sessions.token_hash(str(token)))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", secure=secure(request), httponly=True, samesite="lax")
        return response

    @guard(page=True)
    def overview(request: Request) -> Response:
        moment = now()
        today = moment.astimezone(config.timezone).date()
        days14, days30 = dashboard.last_days(today, 14), dashboard.last_days(today, 30)
        query = request.query_params.get("q", "")[:100]
        states = store.board_states()
        visible = ctx.visible_boards(request)
        ranked, online = dashboard.triage(visible, states, moment, config.heartbeat_seconds, query)
        pages_count = max(1, -(-len(ranked) // dashboard.PAGE_SIZE))
        page = min(pages_count, max(1, ascii_int(request.query_params.get("page", "1"), 6) or 1))
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
        scope = ctx.scope(request)
        per_day = store.plays_per_day(days30[0], today, scope)
        plays_chart = charts.bar_chart([(day, per_day.get(day.isoformat(), 0)) for day in days30], label="Lượt phát theo ngày")
        heard = store.heard_seconds_per_day(days14[0], today, config.heartbeat_seconds, scope)
        uptime = dashboard.mean_uptime_from_totals(heard, len(visible), days14, moment, config.timezone)
        uptime_chart = charts.bar_chart(
            [(day, value * 100) for day, value in uptime], label="Thời gian hoạt động", unit="%", maximum=100, colour="#2e8b57"
        )
        return pages.render(
            request,
            "dashboard.html",
            views=views,
            boards_total=len(visible),
            matching=len(ranked),
            query=query,
            page=page,
            pages_count=pages_count,
            online=online,
            offline=len(visible) - online,
            plays_chart=plays_chart,
            uptime_chart=uptime_chart,
            plays_today=per_day.get(today.isoformat(), 0),
            titles=ctx.titles(state.now_playing for state in states.values() if state.now_playing),
            refusals=refusals.from_boards(),
            junk=refusals.anonymous(),
            strip=charts.uptime_strip,
            default_from=(today - timedelta(days=29)).isoformat(),
            default_to=today.isoformat(),
        )

    @guard(page=True)
    def board_page(request: Request) -> Response:
        board_id = request.path_params["board"]
        entry = next((board for board in ctx.visible_boards(request) if board.id == board_id), None)
        if entry is None:
            return pages.problem(request, 404, f"Không có bảng tin “{board_id}”.")
        moment = now()
        today = moment.astimezone(config.timezone).date()
        days30 = dashboard.last_days(today, 30)
        state = store.board_state(board_id)
        day_rows = store.board_days(days30[0], today, board_id)
        view = dashboard.board_views(
            [entry], {board_id: state} if state else {}, day_rows, days30, moment, config.timezone, config.heartbeat_seconds
        )[0]
        plays_by_day = {row.day: int(row.plays) for row in day_rows}
        plays = store.recent_plays(board_id)
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
            plays=plays,
            titles=ctx.titles([*(row.bulletin for row in plays), *([state.now_playing] if state and state.now_playing else [])]),
            commands=store.commands(board_id),
            **admin_pages.board_commands(ctx, request, board_id),
            default_from=(today - timedelta(days=29)).isoformat(),
            default_to=today.isoformat(),
        )

    def last_days_of(request: Request, days: int) -> tuple[date, date] | Response:
        """The period a page asks for (`from`, `to`), by default the last `days` days to today; else a 400 page."""
        today = now().astimezone(config.timezone).date()
        params = request.query_params
        period = parse_period(params.get("from"), params.get("to"), today - timedelta(days=days - 1), today)
        return pages.problem(request, 400, period) if isinstance(period, str) else period

    @guard(page=True)
    def bulletins_page(request: Request) -> Response:
        period = last_days_of(request, 7)
        if isinstance(period, Response):
            return period
        first, last = period
        rows = store.bulletin_totals(first, last, ctx.scope(request))
        ids = [row.bulletin for row in rows]
        categories = ctx.desk.categories(ids)
        by_category: dict[str, list[float]] = {}
        for row in rows:  # the effectiveness figures by lĩnh vực: plays, hours shown, bulletins
            totals = by_category.setdefault(categories.get(row.bulletin, ""), [0, 0.0, 0])
            totals[0] += int(row.count)
            totals[1] += float(row.shown_s)
            totals[2] += 1
        return pages.render(
            request, "bulletins.html", rows=rows, first=first, last=last, titles=ctx.titles(ids), categories=categories,
            category_names=CATEGORIES, by_category=sorted(by_category.items(), key=lambda item: -item[1][0]),
        )  # fmt: skip

    @guard(page=True)
    def bulletin_page(request: Request) -> Response:
        bulletin = request.path_params["bulletin"]
        if not _id_like(bulletin):  # never sent to the database: PostgreSQL refuses a NUL in any text
            return pages.problem(request, 404, "Không có bản tin này.")
        period = last_days_of(request, 7)
        if isinstance(period, Response):
            return period
        first, last = period
        names = board_names()
        rows = [
            (row.board, names.get(row.board, row.board), int(row.count), int(row.completed), float(row.shown_s), row.first_day,
             row.last_day)
            for row in store.bulletin_boards(first, last, bulletin, ctx.scope(request))
        ]  # fmt: skip
        rows.sort(key=lambda row: (-row[2], row[1]))
        bulletin_title = ctx.titles([bulletin]).get(bulletin, bulletin)
        return pages.render(request, "bulletin.html", bulletin=bulletin, bulletin_title=bulletin_title, rows=rows, first=first, last=last)

    @guard(page=False)
    def screenshot(request: Request) -> Response:
        board, name = request.path_params["board"], request.path_params["name"]
        if board not in ctx.reach_boards(request):
            return PlainTextResponse("Không tìm thấy ảnh màn hình này.", status_code=404)
        seq_text, thumb = (name[: -len(".thumb.png")], True) if name.endswith(".thumb.png") else (name.removesuffix(".png"), False)
        seq = ascii_int(seq_text, 16) if name.endswith(".png") else None
        png = None if seq is None else store.screenshot_png(board, seq, thumb=thumb)
        if png is None:
            return PlainTextResponse("Không tìm thấy ảnh màn hình này.", status_code=404)
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"})

    @guard(page=False)
    def export_csv(request: Request) -> Response:
        period = last_days_of(request, 30)
        if isinstance(period, Response):
            return period
        first, last = period
        board = request.query_params.get("board") or None
        if board is not None and board not in ctx.reach_boards(request):
            return pages.problem(request, 400, f"Không có bảng tin “{board[:64]}”.")
        filename = f"phat-song-{board + '-' if board else ''}{first.isoformat()}-{last.isoformat()}.csv"
        return StreamingResponse(
            _csv_chunks(store, first, last, board, ctx.scope(request)),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tender.start()
        yield
        tender.stop()
        previewer.close()
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
        *desk_pages.routes(ctx),
        *admin_pages.routes(ctx),
        *(feed_routes(site) if site is not None else []),
    ]

    def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        text = "Không tìm thấy trang này." if status == 404 else "Trang này không nhận yêu cầu như vậy."
        return pages.problem(request, status, text, headers=getattr(exc, "headers", None))

    def server_error(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("Máy chủ gặp lỗi; vui lòng thử lại sau ít phút.", status_code=500)

    handlers = {404: not_found, 405: not_found, 500: server_error}
    officers_app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)  # type: ignore[arg-type]
    officers_app.state.store = store
    officers_app.state.refusals = refusals
    officers_app.state.desk, officers_app.state.publisher = desk, publisher
    intake = BoardIntake(config, store, pinned, now)
    boards_app = BoardEndpoints(officers_app, intake.endpoints(), refusals.record, BodyBudget(config.max_body_bytes_in_flight))
    return SecurityHeaders(boards_app, always_https=config.https_only)


CROSS_SITE = "Yêu cầu gửi từ một trang khác đã bị từ chối. Hãy mở lại trang của hệ thống rồi thử lại."


def ascii_int(text: str | None, max_digits: int) -> int | None:
    """A non-negative number written in ASCII digits, at most `max_digits` of them; None for anything else.

    Not str.isdigit() alone: "²" and "①" pass it and make int() raise; "٣" passes both.
    """
    if not text or len(text) > max_digits or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def parse_period(from_text: str | None, to_text: str | None, default_first: date, default_last: date) -> tuple[date, date] | str:
    """The days asked for, or what is wrong with them (in Vietnamese, for the officer who asked)."""
    try:
        first = date.fromisoformat(from_text or default_first.isoformat())
        last = date.fromisoformat(to_text or default_last.isoformat())
    except ValueError:
        return "Ngày “từ” và “đến” phải là ngày có dạng năm-tháng-ngày, ví dụ 2026-11-23."
    if first < FIRST_DAY or last > LAST_DAY:
        return f"Chỉ xem được các ngày từ năm {FIRST_DAY.year} đến năm {LAST_DAY.year}."
    if last < first:
        return "Ngày “đến” đứng trước ngày “từ”."
    if (last - first).days >= MAX_EXPORT_DAYS:
        return f"Mỗi lần chỉ xem được tối đa {MAX_EXPORT_DAYS} ngày."
    return first, last


def _id_like(text: str) -> bool:
    """A bulletin or board id as a URL may carry one: 1 to 200 printable characters (no NUL, no escape)."""
    return 0 < len(text) <= 200 and text.isprintable()


def _who(name: str, known: bool) -> str:
    """A typed name as a log line may show it: an officer's name, else a short hash (it may be a password)."""
    if known:
        return f"officer {name!r}"
    return f"unknown name #{hashlib.sha256(name.encode('utf-8')).hexdigest()[:6]} ({len(name)} characters)"


def _safe_next(target: str | None) -> str:
    """Only a path on this hub, never another site (`//evil`, `https://…`)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return ""
    return target


def _csv_chunks(
    store: HubStore, first: date, last: date, board: str | None, boards: set[str] | None = None, rows_per_chunk: int = 1000
) -> Iterator[bytes]:
    """UTF-8 with a BOM (so Excel reads Vietnamese right), a header line, then rows in chunks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(CSV_HEADER)
    pending = 0
    for row in store.export_rows(first, last, board, boards):
        writer.writerow(
            (
                _text_cell(row.board), _text_cell(row.bulletin), row.revision, _text_cell(row.started_at),
                _number(row.shown_s), row.completed, _text_cell(row.reason), row.count,
            )
        )  # fmt: skip
        pending += 1
        if pending >= rows_per_chunk:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue().encode("utf-8")


def _text_cell(value: str) -> str:
    """A text cell a spreadsheet shows as text, never runs: OWASP's apostrophe before a formula's first character.

    Bulletin ids and reasons come from the boards (a board's key is on a PC in a commune office); the CSV is
    opened in Excel at the district. Numbers are written as numbers and need nothing.
    """
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"
