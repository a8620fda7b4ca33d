"""Writing, previewing, submitting, approving, rejecting and withdrawing bulletins, in the browser.

Every id from a URL or a form is looked up within the officer's units (another commune's bulletin is a 404, never a
403), every POST goes through the CSRF and origin checks, and who may press which button is `rules.may`'s alone: the
page only hides what the desk would refuse anyway. Work that touches the database, the disk or the renderer runs in
the thread pool, never on the event loop.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from signage.district.hub import schema as t
from signage.district.hub import sessions
from signage.district.hub.context import CROSS_SITE, FormRefused, HubContext, first, same_origin
from signage.district.hub.desk import PAGE, Draft, MediaRef, Targets, feed_dict
from signage.district.hub.preview import PREVIEW_SIZES, Previewer, describe_plays, plays_when
from signage.district.hub.rules import CATEGORIES, PRIORITY_LABELS, Facts, State, Verb, may, next_state
from signage.district.hub.uploads import KIND_WORDS, Received, UploadRefused, name_problem, read_multipart, take_upload
from signage.errors import BulletinError, Conflict, DeskError, MediaError, NotFound, SignageError
from signage.model import DAY_NAMES, MEDIA_TYPES, Bulletin, BulletinInput, Kind, Priority, parse_bulletin
from signage.text import clean_text

log = logging.getLogger(__name__)

KIND_LABELS = {"text": "Văn bản", "image": "Hình ảnh", "video": "Video", "pdf": "PDF", "audio": "Âm thanh"}
DAY_LABELS = ("T2", "T3", "T4", "T5", "T6", "T7", "CN")
SLOT_ROWS = 3
PLAYS_WHEN_BOARDS = 10
DEFAULT_DAYS_VALID = 7
SHA256 = re.compile(r"[0-9a-f]{64}")
PREVIEW_NAME = re.compile(r"([0-9]{2,4})x([0-9]{2,4})\.png")
CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])|24:00")


ENDED_PLAYS = {
    State.WITHDRAWN: "Không phát: bản tin đã bị thu hồi.",
    State.REJECTED: "Không phát: bản tin bị từ chối.",
    State.EXPIRED: "Không phát: bản tin đã hết hạn.",
}


class FormProblem(Exception):
    """What is wrong with the officer's form, in one Vietnamese line; the form is shown again with it."""


# --- the form, pure -----------------------------------------------------------------------------------


@dataclass
class FormValues:
    """The form's fields as the officer typed them (strings), to fill the form again."""

    kind: str = "text"
    title: str = ""
    body: str = ""
    priority: str = "normal"
    category: str = "khac"
    from_date: str = ""
    from_time: str = ""
    until_date: str = ""
    until_time: str = ""
    days: tuple[str, ...] = DAY_NAMES
    slots: tuple[tuple[str, str], ...] = (("", ""),) * SLOT_ROWS
    unit: str = ""
    boards: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    media: MediaRef | None = None


def new_values(now: datetime, zone: ZoneInfo, unit: str) -> FormValues:
    """A blank form: valid from this minute for a week."""
    start = now.astimezone(zone).replace(second=0, microsecond=0)
    end = start + timedelta(days=DEFAULT_DAYS_VALID)
    return FormValues(
        from_date=start.date().isoformat(),
        from_time=f"{start:%H:%M}",
        until_date=end.date().isoformat(),
        until_time=f"{end:%H:%M}",
        unit=unit,
    )


def values_of_form(form: Mapping[str, list[str]]) -> FormValues:
    def one(name: str, default: str = "") -> str:
        return first(dict(form), name, default)[:100_000]

    slots = tuple((one(f"slot_from_{n}").strip(), one(f"slot_until_{n}").strip()) for n in range(SLOT_ROWS))
    return FormValues(
        kind=one("kind", "text"),
        title=one("title"),
        body=one("body"),
        priority=one("priority", "normal"),
        category=one("category", "khac"),
        from_date=one("from_date").strip(),
        from_time=one("from_time").strip(),
        until_date=one("until_date").strip(),
        until_time=one("until_time").strip(),
        days=tuple(day for day in DAY_NAMES if day in form.get("days", [])),
        slots=slots,
        unit=one("unit"),
        boards=tuple(dict.fromkeys(form.get("board", []))),
        groups=tuple(dict.fromkeys(form.get("group", []))),
        units=tuple(dict.fromkeys(form.get("target_unit", []))),
    )


def values_of_revision(row: Any, unit: str, zone: ZoneInfo) -> FormValues:
    """The form filled with a stored revision (to edit it)."""
    targets = Targets.from_json(row.targets)
    start = datetime.fromtimestamp(row.valid_from, zone) if row.valid_from is not None else None
    end = datetime.fromtimestamp(row.valid_until, zone) if row.valid_until is not None else None
    stored = json.loads(row.slots or "[]")
    days: set[str] = set()
    slots: list[tuple[str, str]] = []
    for slot in stored:
        days |= set(slot.get("days", DAY_NAMES))
        if (slot.get("from", "00:00"), slot.get("until", "24:00")) != ("00:00", "24:00"):
            slots.append((slot.get("from", "00:00"), slot.get("until", "24:00")))
    slots += [("", "")] * (SLOT_ROWS - len(slots))
    media = MediaRef(row.media_sha256, row.media_type, int(row.media_bytes), row.media_name or "") if row.media_sha256 else None
    return FormValues(
        kind=row.kind,
        title=row.title,
        body=row.body or "",
        priority=row.priority,
        category=row.category,
        from_date=start.date().isoformat() if start else "",
        from_time=f"{start:%H:%M}" if start else "",
        until_date=end.date().isoformat() if end else "",
        until_time=f"{end:%H:%M}" if end else "",
        days=tuple(day for day in DAY_NAMES if day in days) if stored else DAY_NAMES,
        slots=tuple(slots[:SLOT_ROWS]),
        unit=unit,
        boards=targets.boards,
        groups=tuple(str(group) for group in targets.groups),
        units=targets.units,
        media=media,
    )


def draft_of(values: FormValues, zone: ZoneInfo) -> Draft:
    """The Draft the officer's form describes; FormProblem names the first thing wrong (pure).

    Title and body are cleaned as the board's own parser cleans them (NFC, invisible format characters such as
    the bidi overrides removed), so what the officer sees here is what the screens show.
    """
    try:
        kind = Kind(values.kind)
    except ValueError:
        raise FormProblem("Hãy chọn loại bản tin.") from None
    title = " ".join(clean_text(values.title)[0].split())
    if not title:
        raise FormProblem("Hãy nhập tiêu đề bản tin.")
    body = clean_text(values.body)[0].strip()
    if kind is Kind.TEXT and not body:
        raise FormProblem("Bản tin văn bản cần có nội dung.")
    media = values.media
    if kind is not Kind.TEXT:
        if media is None:
            raise FormProblem(f"Hãy tải lên tệp {KIND_WORDS[kind.value]} cho bản tin này.")
        if MEDIA_TYPES.get(media.type) is not kind:
            raise FormProblem(f"Tệp “{media.name}” không phải {KIND_WORDS[kind.value]}; hãy chọn đúng loại bản tin.")
    else:
        media = None
    try:
        priority = Priority(values.priority)
    except ValueError:
        raise FormProblem("Hãy chọn mức ưu tiên.") from None
    if values.category not in CATEGORIES:
        raise FormProblem("Hãy chọn lĩnh vực của bản tin.")
    valid_from = _moment(values.from_date, values.from_time, zone, "bắt đầu")
    valid_until = _moment(values.until_date, values.until_time, zone, "kết thúc")
    if valid_until <= valid_from:
        raise FormProblem("Thời gian kết thúc phải sau thời gian bắt đầu.")
    try:
        groups = tuple(int(group) for group in values.groups)
    except ValueError:
        raise FormProblem("Không tìm thấy nhóm bảng tin này.") from None
    return Draft(
        kind=kind,
        title=title,
        targets=Targets(values.boards, groups, values.units),
        body=body if kind is Kind.TEXT else "",
        media=media,
        priority=priority,
        category=values.category,
        valid_from=valid_from,
        valid_until=valid_until,
        slots=slots_of(values.days, values.slots),
    )


def _moment(day: str, clock: str, zone: ZoneInfo, what: str) -> datetime:
    try:
        chosen = date.fromisoformat(day)
    except ValueError:
        raise FormProblem(f"Hãy chọn ngày {what} (ngày/tháng/năm).") from None
    if not 2000 <= chosen.year <= 2100:
        raise FormProblem(f"Ngày {what} phải trong khoảng năm 2000 đến 2100.")
    match = CLOCK.fullmatch(clock or "00:00")
    if match is None or clock == "24:00":
        raise FormProblem(f"Giờ {what} phải có dạng giờ:phút, ví dụ 07:30.")
    return datetime.combine(chosen, time(int(match.group(1)), int(match.group(2))), zone)


def slots_of(days: Sequence[str], rows: Sequence[tuple[str, str]]) -> tuple[dict[str, Any], ...]:
    """feed-v1 slots from the days ticked and the time rows filled; none when it may play at any time."""
    if not days:
        raise FormProblem("Hãy chọn ít nhất một ngày trong tuần.")
    chosen = [day for day in DAY_NAMES if day in days]
    slots: list[dict[str, Any]] = []
    for start, end in rows:
        if not start and not end:
            continue
        if not CLOCK.fullmatch(start or "") or start == "24:00":
            raise FormProblem("Giờ bắt đầu của khung giờ phải có dạng giờ:phút, ví dụ 07:00.")
        end = end or "24:00"
        if not CLOCK.fullmatch(end):
            raise FormProblem("Giờ kết thúc của khung giờ phải có dạng giờ:phút, ví dụ 11:30.")
        if end == start:
            raise FormProblem(f"Khung giờ {start}–{end} trống: giờ kết thúc trùng giờ bắt đầu.")
        slots.append({"days": chosen, "from": start, "until": end})
    if not slots and len(chosen) < len(DAY_NAMES):
        slots.append({"days": chosen, "from": "00:00", "until": "24:00"})
    return tuple(slots)


def media_signature(csrf: str, media: MediaRef) -> str:
    """A kept upload rides in the form as hidden fields; this MAC (keyed by the session's CSRF value) makes sure the
    officer's form names only a file this session uploaded or a revision it could read already carried."""
    text = json.dumps([media.sha256, media.type, media.bytes, media.name], ensure_ascii=False)
    return hmac.new(csrf.encode(), text.encode(), hashlib.sha256).hexdigest()


def media_of_form(form: Mapping[str, list[str]], csrf: str) -> MediaRef | None:
    raw, signature = first(dict(form), "media"), first(dict(form), "media_sig")
    if not raw or not signature:
        return None
    try:
        sha, kind, size, name = json.loads(raw)
        media = MediaRef(str(sha), str(kind), int(size), str(name))
    except (ValueError, TypeError):
        return None
    return media if hmac.compare_digest(media_signature(csrf, media), signature) else None


def revision_bulletin(row: Any) -> Bulletin:
    """The Bulletin a board would hold for a stored revision (targets aside)."""
    approved = row.state in (State.APPROVED.value, State.REPLACED.value, State.WITHDRAWN.value, State.EXPIRED.value)
    data = feed_dict(row, ["*"], row.decided_by if approved else None, row.decided_at if approved else None)
    return parse_bulletin(data, BulletinInput(origin=f"bản tin {row.bulletin}"))


# --- the pages ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Action:
    verb: str  # the POST route's last segment
    label: str
    reason: bool = False  # asks for a reason
    danger: bool = False


def actions_for(officer: Any, tree: Any, head: Any, latest: Any) -> list[Action]:
    """The buttons this officer may press on this bulletin now (pure: rules.may and the states decide)."""
    state = State(latest.state)
    facts = Facts(author=latest.author, emergency=latest.priority == Priority.EMERGENCY.value)
    allowed = {verb for verb in Verb if may(officer.name, officer.grants, tree, verb, head.unit, facts) is None}
    found: list[Action] = []
    if Verb.WRITE in allowed:
        found.append(Action("edit", "Sửa bản tin"))
    if Verb.SUBMIT in allowed and next_state(state, Verb.SUBMIT):
        found.append(Action("submit", "Gửi duyệt"))
    if Verb.RECALL in allowed and next_state(state, Verb.RECALL):
        found.append(Action("recall", "Rút lại để sửa"))
    if Verb.APPROVE in allowed and next_state(state, Verb.APPROVE):
        found.append(Action("approve", "Duyệt và đăng"))
    if Verb.PUBLISH_ALONE in allowed and next_state(state, Verb.PUBLISH_ALONE) and latest.author == officer.name:
        found.append(Action("emergency", "Đăng khẩn cấp ngay", danger=True))
    if Verb.REJECT in allowed and next_state(state, Verb.REJECT):
        found.append(Action("reject", "Từ chối", reason=True, danger=True))
    if Verb.WITHDRAW in allowed and head.live is not None:
        found.append(Action("withdraw", "Thu hồi", reason=True, danger=True))
    return found


def routes(ctx: HubContext) -> list[BaseRoute]:
    config = ctx.config
    zone = config.timezone
    previewer = Previewer(config.media_dir.parent / "preview-cache")
    incoming = config.media_dir / ".incoming"

    def people() -> dict[str, str]:
        return {person.name: person.full_name or person.name for person, _ in ctx.desk.officers()}

    def csrf_of(request: Request) -> str:
        return sessions.csrf_token(request.cookies.get(sessions.SESSION_COOKIE))

    def latest_revisions(rows: Sequence[Any]) -> dict[str, Any]:
        """The newest revision of each listed bulletin, in one query."""
        if not rows:
            return {}
        r = t.revisions
        pairs = [(row.id, int(row.latest)) for row in rows]
        with ctx.desk.engine.connect() as conn:
            found = conn.execute(sa.select(r).where(sa.tuple_(r.c.bulletin, r.c.revision).in_(pairs)))
            return {row.bulletin: row for row in found}

    def live_alone(rows: Sequence[Any]) -> set[str]:
        """Which listed bulletins play a revision an approver published alone (marked everywhere)."""
        pairs = [(row.id, int(row.live)) for row in rows if row.live is not None]
        if not pairs:
            return set()
        r = t.revisions
        with ctx.desk.engine.connect() as conn:
            found = conn.execute(sa.select(r.c.bulletin).where(sa.tuple_(r.c.bulletin, r.c.revision).in_(pairs), r.c.alone.is_(True)))
            return set(found.scalars())

    # --- lists ---------------------------------------------------------------------------------------

    def listing(request: Request) -> Response:
        params = request.query_params
        state = params.get("state", "")
        state = state if state in {s.value for s in State} else ""
        query = params.get("q", "")[:100]
        page_text = params.get("page", "1")
        page = int(page_text) if page_text.isascii() and page_text.isdigit() and len(page_text) < 6 else 1
        units = ctx.reach(request)
        rows, total = ctx.desk.listing(units, state=state or None, query=query, page=max(1, page))
        return ctx.pages.render(
            request,
            "desk_list.html",
            rows=rows,
            latest=latest_revisions(rows),
            alone=live_alone(rows),
            total=total,
            page=max(1, page),
            pages_count=max(1, -(-total // PAGE)),
            state=state,
            query=query,
            states=State,
            unit_names=ctx.desk.unit_names(),
            people=people(),
            priority_labels=PRIORITY_LABELS,
            may_write=bool(ctx.reach(request, Verb.WRITE)),
        )

    def queue(request: Request) -> Response:
        units = ctx.reach(request, Verb.APPROVE)
        rows = ctx.desk.queue(units)
        return ctx.pages.render(
            request,
            "desk_queue.html",
            rows=rows,
            unit_names=ctx.desk.unit_names(),
            people=people(),
            priority_labels=PRIORITY_LABELS,
            categories=CATEGORIES,
            officer=ctx.officer(request),
        )

    # --- one bulletin --------------------------------------------------------------------------------

    def show(request: Request) -> Response:
        head = ctx.desk.bulletin(request.path_params["id"], ctx.reach(request))
        history = ctx.desk.history(head.id)
        latest = history[0]
        officer = ctx.officer(request)
        tree = ctx.desk.tree()
        moment = ctx.now()
        bulletin = revision_bulletin(latest)
        board_rows = {row.id: row for row in ctx.desk.boards()}
        targeted = sorted(ctx.desk.resolve(Targets.from_json(latest.targets)), key=lambda b: board_rows[b].name)
        when: list[tuple[Any, str]] = []
        # A revision that ended plays nowhere, whatever the engine would make of it were it live.
        ended = ENDED_PLAYS.get(State(latest.state))
        for board in targeted[:PLAYS_WHEN_BOARDS]:
            if ended is not None:
                when.append((board_rows[board], ended))
                continue
            others = ctx.desk.live_for_board(board)
            try:
                spans = plays_when(bulletin, others, board, moment.astimezone(zone))
                told = describe_plays(bulletin, others, board, moment.astimezone(zone), spans)
            except SignageError as exc:
                told = "Không tính được lịch phát."
                log.warning("plays_when for %s on %s: %s", head.id, board, exc)
            when.append((board_rows[board], told))
        return ctx.pages.render(
            request,
            "desk_show.html",
            head=head,
            latest=latest,
            history=history,
            actions=actions_for(officer, tree, head, latest),
            unit_names=ctx.desk.unit_names(),
            people=people(),
            priority_labels=PRIORITY_LABELS,
            categories=CATEGORIES,
            kinds=KIND_LABELS,
            states=State,
            sizes=preview_sizes(board_screens(ctx.store.board_states(), targeted)),
            when=when,
            targeted_count=len(targeted),
            publishing=ctx.publisher.enabled,
        )

    async def preview_png(request: Request) -> Response:
        match = PREVIEW_NAME.fullmatch(request.path_params["size"])
        size = (int(match.group(1)), int(match.group(2))) if match else None

        def draw() -> Response:
            head = ctx.desk.bulletin(request.path_params["id"], ctx.reach(request))
            row = ctx.desk.revision(head.id, request.path_params["revision"])
            # Only the listed sizes and those of the boards it targets: a URL cannot ask the renderer for any size.
            targeted = ctx.desk.resolve(Targets.from_json(row.targets))
            if size not in preview_sizes(board_screens(ctx.store.board_states(), targeted)):
                return PlainTextResponse("Không có cỡ xem trước này.", status_code=404)
            media = config.media_dir / row.media_sha256 if row.media_sha256 else None
            # The header a board shows is its own name: that of the first board it reaches (by name), else the unit's.
            names = {board.id: board.name for board in ctx.desk.boards()}
            reached = sorted(names[board] for board in targeted if board in names)
            title = reached[0] if reached else ctx.desk.unit_names().get(head.unit, config.title)
            try:
                png = previewer.frame_png(revision_bulletin(row), media, size, ctx.now().astimezone(zone), title)
            except (MediaError, BulletinError) as exc:
                return PlainTextResponse(str(exc), status_code=422)
            return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})

        return await run_in_threadpool(draw)

    def media_file(request: Request) -> Response:
        sha = request.path_params["sha256"]
        if not SHA256.fullmatch(sha):
            raise NotFound("Không tìm thấy tệp này.")
        r, b = t.revisions, t.source_bulletins
        units = sorted(ctx.reach(request))
        with ctx.desk.engine.connect() as conn:
            used = conn.execute(
                sa.select(r.c.media_name).join(b, b.c.id == r.c.bulletin).where(r.c.media_sha256 == sha, b.c.unit.in_(units)).limit(1)
            ).first()
        path = config.media_dir / sha
        if used is None or not path.is_file():
            raise NotFound("Không tìm thấy tệp này.")
        # Never the uploaded type: a file named .png holding HTML must not become a page of the hub.
        return FileResponse(
            path,
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="ban-tin-{sha[:12]}.bin"', "Cache-Control": "private"},
        )

    # --- the form --------------------------------------------------------------------------------------

    def form_page(request: Request, values: FormValues, head: Any | None, problem: str = "", status: int = 200) -> Response:
        writable = ctx.reach(request, Verb.WRITE)
        names = ctx.desk.unit_names()
        owner_units = sorted(writable, key=lambda u: (u != ctx.desk.root, names.get(u, u)))
        media_sig = media_signature(csrf_of(request), values.media) if values.media else ""
        return ctx.pages.render(
            request,
            "desk_form.html",
            status=status,
            values=values,
            head=head,
            problem=problem,
            owner_units=[(unit, names.get(unit, unit)) for unit in owner_units] if head is None else [],
            boards=ctx.desk.boards(writable),
            groups=[group for group, _ in ctx.desk.groups(writable)],
            target_units=[(unit, names.get(unit, unit)) for unit in owner_units],
            unit_names=names,
            kinds=KIND_LABELS,
            priority_labels=PRIORITY_LABELS,
            categories=CATEGORIES,
            day_names=list(zip(DAY_NAMES, DAY_LABELS, strict=True)),
            media_json=json.dumps([values.media.sha256, values.media.type, values.media.bytes, values.media.name], ensure_ascii=False)
            if values.media
            else "",
            media_sig=media_sig,
            max_upload=f"{config.max_upload_bytes / (1024 * 1024):g} MB",
        )

    def new_form(request: Request) -> Response:
        writable = ctx.reach(request, Verb.WRITE)
        names = ctx.desk.unit_names()
        default = min(writable, key=lambda u: (u == ctx.desk.root, names.get(u, u)))
        return form_page(request, new_values(ctx.now(), zone, default), None)

    def edit_form(request: Request) -> Response:
        head = ctx.desk.bulletin(request.path_params["id"], ctx.reach(request))
        latest = ctx.desk.revision(head.id, int(head.latest))
        return form_page(request, values_of_revision(latest, head.unit, zone), head)

    async def save(request: Request) -> Response:
        """POST /desk/new and /desk/{id}/edit: the multipart form with its upload."""
        bulletin_id = request.path_params.get("id")
        head = None
        if bulletin_id is not None:  # another commune's bulletin is a 404 before a byte of the body is read
            head = await run_in_threadpool(ctx.desk.bulletin, bulletin_id, ctx.reach(request))
        if not same_origin(request):
            raise FormRefused(403, CROSS_SITE)
        try:
            form = await read_multipart(
                request,
                incoming=incoming,
                max_file_bytes=config.max_upload_bytes,
                accept_name=name_problem,
                check_token=lambda value: ctx.check_origin_and_token(request, value),
            )
        except UploadRefused as exc:
            return await run_in_threadpool(refused_form, request, head, exc)
        received: Received | None = None
        if form.uploads:
            try:
                received = await run_in_threadpool(take_upload, form.uploads[0], config.media_dir)
            except UploadRefused as exc:
                values = values_of_form(form.fields)
                values.media = media_of_form(form.fields, csrf_of(request))
                return await run_in_threadpool(form_page, request, values, head, exc.what, exc.status)
        return await run_in_threadpool(save_form, request, head, form.fields, received)

    def refused_form(request: Request, head: Any | None, exc: UploadRefused) -> Response:
        # The form's own fields were not all read: the page says what was refused, the officer starts from the form.
        if exc.status == 403:
            return ctx.pages.problem(request, 403, exc.what)
        values = (
            new_values(ctx.now(), zone, min(ctx.reach(request, Verb.WRITE)))
            if head is None
            else values_of_revision(ctx.desk.revision(head.id, int(head.latest)), head.unit, zone)
        )
        # The fields before the file (the form puts kind, title and body there) are kept; the rest start afresh.
        typed = values_of_form(exc.fields)
        for name in ("kind", "title", "body"):
            if name in exc.fields:
                setattr(values, name, getattr(typed, name))
        return form_page(request, values, head, exc.what, exc.status)

    def save_form(request: Request, head: Any | None, fields: dict[str, list[str]], received: Received | None) -> Response:
        values = values_of_form(fields)
        values.media = media_of_form(fields, csrf_of(request))
        if received is not None and received.sha256 is not None:
            values.media = MediaRef(received.sha256, str(received.type), received.bytes, received.filename)
            values.kind = str(received.kind)  # the file decides what kind of bulletin it is
        elif received is not None:  # a .txt or .docx: its title and body
            values.kind, values.title, values.body = "text", received.title, received.body
        if head is not None:
            values.unit = head.unit
        try:
            draft = draft_of(values, zone)
            actor = ctx.actor(request)
            if head is None:
                if values.unit not in ctx.reach(request, Verb.WRITE):
                    raise FormProblem("Hãy chọn đơn vị của bản tin.")
                bulletin_id = ctx.desk.create(actor, values.unit, draft)
                revision = 1
            else:
                bulletin_id = head.id
                revision = ctx.desk.edit(actor, bulletin_id, draft)
            if first(fields, "action") == "submit":
                ctx.desk.submit(ctx.actor(request), bulletin_id, revision)
        except FormProblem as exc:
            return form_page(request, values, head, str(exc), 400)
        except (Conflict, NotFound) as exc:
            status = 409 if isinstance(exc, Conflict) else 404
            if head is None and isinstance(exc, NotFound):  # a target outside the unit: say so on the form
                return form_page(request, values, head, str(exc), 400)
            return ctx.pages.problem(request, status, str(exc))
        except DeskError as exc:
            return form_page(request, values, head, str(exc), 400)
        return RedirectResponse(f"/desk/{bulletin_id}", status_code=303)

    # --- state changes ---------------------------------------------------------------------------------

    def act(verb: str) -> Any:
        async def endpoint(request: Request) -> Response:
            head = await run_in_threadpool(ctx.desk.bulletin, request.path_params["id"], ctx.reach(request))
            form = await ctx.read_form(request)
            return await run_in_threadpool(apply, request, head, verb, form)

        endpoint.__name__ = f"desk_{verb}"
        return endpoint

    def apply(request: Request, head: Any, verb: str, form: dict[str, list[str]]) -> Response:
        actor = ctx.actor(request)
        revision_text = first(form, "revision")
        revision = int(revision_text) if revision_text.isascii() and revision_text.isdigit() and len(revision_text) < 12 else 0
        if verb != "withdraw":
            row = ctx.desk.revision(head.id, revision)
            if first(form, "stamp") and first(form, "stamp") != stamp_of(row):
                raise Conflict("Bản tin vừa được sửa sau khi bạn mở trang; hãy xem lại rồi làm lại.")
        touched: set[str] = set()
        reason = first(form, "reason")
        if verb == "submit":
            ctx.desk.submit(actor, head.id, revision)
        elif verb == "recall":
            ctx.desk.recall(actor, head.id, revision)
        elif verb == "approve":
            touched = ctx.desk.approve(actor, head.id, revision)
        elif verb == "emergency":
            touched = ctx.desk.approve(actor, head.id, revision, alone=True)
        elif verb == "reject":
            ctx.desk.reject(actor, head.id, revision, reason)
        elif verb == "withdraw":
            touched = ctx.desk.withdraw(actor, head.id, reason)
        if touched:
            try:
                ctx.publisher.publish(touched)
            except (SignageError, OSError) as exc:
                log.error("publishing after %s of %s failed: %s", verb, head.id, exc)
                return ctx.pages.problem(
                    request, 500, "Đã ghi nhận nhưng chưa ghi được bản tin cho các bảng; hệ thống sẽ thử lại, hãy báo quản trị."
                )
        return RedirectResponse(f"/desk/{head.id}", status_code=303)

    guard = ctx.guard
    return [
        Route("/desk", guard(verb=Verb.READ)(threaded(listing)), methods=["GET"]),
        Route("/desk/new", guard(verb=Verb.WRITE)(threaded(new_form)), methods=["GET"]),
        Route("/desk/new", guard(page=False, verb=Verb.WRITE)(save), methods=["POST"]),
        Route("/queue", guard(verb=Verb.APPROVE)(threaded(queue)), methods=["GET"]),
        Route("/media/{sha256}", guard(page=False)(threaded(media_file)), methods=["GET"]),
        Route("/desk/{id}", guard()(threaded(show)), methods=["GET"]),
        Route("/desk/{id}/edit", guard(verb=Verb.WRITE)(threaded(edit_form)), methods=["GET"]),
        Route("/desk/{id}/edit", guard(page=False, verb=Verb.WRITE)(save), methods=["POST"]),
        Route("/desk/{id}/preview/{revision:int}/{size}", guard(page=False)(preview_png), methods=["GET"]),
        *(
            Route(f"/desk/{{id}}/{verb}", guard(page=False)(act(verb)), methods=["POST"])
            for verb in ("submit", "recall", "approve", "emergency", "reject", "withdraw")
        ),
    ]


def stamp_of(row: Any) -> str:
    """What the officer saw: a revision mended in place keeps its number, but not its time of writing."""
    return f"{float(row.created_at):.6f}"


def threaded(endpoint: Any) -> Any:
    """A sync page run in the thread pool (ctx.guard awaits it)."""

    async def run(request: Request) -> Response:
        return await run_in_threadpool(endpoint, request)  # type: ignore[no-any-return]

    run.__name__ = endpoint.__name__
    return run


def board_screens(states: Mapping[str, Any], boards: Iterable[str]) -> Counter[tuple[int, int]]:
    """How many of `boards` report each screen size (their latest status's `screen`; boards before it say nothing)."""
    sizes: Counter[tuple[int, int]] = Counter()
    for board in boards:
        state = states.get(board)
        size = screen_of(state.status if state is not None else None)
        if size is not None:
            sizes[size] += 1
    return sizes


def screen_of(status: str | None) -> tuple[int, int] | None:
    """A board's screen from its status JSON, if it says one the renderer can draw (64..3840 a side)."""
    try:
        screen = json.loads(status or "{}").get("screen")
    except (ValueError, AttributeError):
        return None
    if not isinstance(screen, list) or len(screen) != 2 or not all(isinstance(n, int) and 64 <= n <= 3840 for n in screen):
        return None
    return screen[0], screen[1]


def preview_sizes(screens: Counter[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """The targeted boards' own screens first (most boards first), then the standard sizes not already among them."""
    sizes = {size: f"Màn hình {size[0]}×{size[1]} của {count} bảng tin nhận" for size, count in screens.most_common(6)}
    return sizes | {size: label for size, label in PREVIEW_SIZES.items() if size not in sizes}
