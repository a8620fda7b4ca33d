"""Administering the source system in the browser: communes, people and roles, boards, groups, commands, the record.

Every id a URL or a form carries is checked against the units the officer manages (or may command) before the desk
is asked: another commune's person, board, group or unit answers 404, so a page never confirms that it exists. The
desk decides again (rules.may) and writes each change with its audit row.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from signage.district.hub.context import HubContext, first
from signage.district.hub.desk import COMMAND_LABELS, Actor, officer_name_ok
from signage.district.hub.rules import Grant, Role, Verb
from signage.envelope import key_id, parse_public_key
from signage.errors import DeskError, NotFound, SignageError

log = logging.getLogger(__name__)

AUDIT_PAGE = 100
MIN_PASSWORD = 10
MAX_PASSWORD = 200
MAX_NAME = 100

# What an audit row's action means, for the officer reading the record (and the filter's choices).
ACTION_LABELS = {
    "sign_in": "Đăng nhập",
    "sign_in.failed": "Đăng nhập sai mật khẩu",
    "unit.add": "Thêm đơn vị",
    "officer.add": "Thêm người dùng",
    "officer.roles": "Đổi vai trò",
    "officer.password": "Đặt lại mật khẩu",
    "officer.remove": "Xóa người dùng",
    "board.accept": "Nhận bảng tin",
    "board.refuse": "Từ chối bảng tin",
    "board.move": "Chuyển bảng tin",
    "group.add": "Thêm nhóm",
    "group.boards": "Đổi bảng tin của nhóm",
    "command": "Gửi lệnh",
    "bulletin.write": "Viết bản tin",
    "bulletin.edit": "Sửa bản tin",
    "bulletin.submit": "Gửi duyệt",
    "bulletin.recall": "Rút lại",
    "bulletin.approve": "Duyệt",
    "bulletin.publish_alone": "Đăng khẩn cấp",
    "bulletin.reject": "Từ chối bản tin",
    "bulletin.withdraw": "Thu hồi",
    "bulletin.expire": "Hết hạn",
}
AUDIT_CSV_HEADER = ("Thời điểm", "Người thực hiện", "Địa chỉ", "Việc", "Đơn vị", "Đối tượng", "Chi tiết")

# What a redirect after a form tells the officer: a fixed key, never text from the request shown back.
DONE = {
    "unit": "Đã thêm đơn vị.",
    "person": "Đã thêm người dùng.",
    "roles": "Đã đổi vai trò.",
    "password": "Đã đặt lại mật khẩu; các phiên đăng nhập của người này đã kết thúc.",
    "removed": "Đã xóa người dùng.",
    "accepted": "Đã nhận bảng tin; nó sẽ gửi báo cáo và nhận bản tin của đơn vị trong giây lát.",
    "refused": "Đã từ chối yêu cầu kết nối.",
    "moved": "Đã chuyển bảng tin sang đơn vị mới.",
    "group": "Đã thêm nhóm.",
    "members": "Đã đổi bảng tin của nhóm.",
    "command": "Đã gửi lệnh; bảng tin sẽ nhận ở lần đồng bộ tới.",
    "unpublished": "Đã lưu, nhưng chưa xuất bản lại được nguồn tin; hệ thống sẽ thử lại trong vài phút.",
}


def fingerprint(keyid: str) -> str:
    """A keyid in groups of four, as `signage join` prints it, to be read aloud over the phone: `3f2a 9c01 b7e4 5d6f`."""
    return " ".join(keyid[i : i + 4] for i in range(0, len(keyid), 4))


def roles_text(grants: Iterable[Grant], unit_names: dict[str, str]) -> list[tuple[str, str]]:
    """(unit name, its roles in Vietnamese) per unit, units by name."""
    by_unit: dict[str, list[Role]] = {}
    for grant in grants:
        by_unit.setdefault(grant.unit, []).append(grant.role)
    order = list(Role)
    return sorted(
        (unit_names.get(unit, unit), ", ".join(role.label_vi for role in sorted(roles, key=order.index))) for unit, roles in by_unit.items()
    )


def password_problem(password: str, again: str, name: str) -> str | None:
    """What is wrong with a new password typed twice, or None."""
    if password != again:
        return "Hai lần nhập mật khẩu không giống nhau."
    if len(password) < MIN_PASSWORD:
        return f"Mật khẩu cần ít nhất {MIN_PASSWORD} ký tự."
    if len(password) > MAX_PASSWORD:
        return f"Mật khẩu dài quá {MAX_PASSWORD} ký tự."
    if password.strip().lower() == name.lower():
        return "Mật khẩu không được trùng tên đăng nhập."
    return None


def may_manage_person(person_grants: Sequence[Grant], manage_reach: set[str], root: str) -> bool:
    """An administrator may reset the password of, or remove, only someone all of whose roles lie within the units
    they manage (a commune's administrator never locks out the province's); the root's administrators anyone."""
    if root in manage_reach:
        return True
    return bool(person_grants) and all(grant.unit in manage_reach for grant in person_grants)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    officer: str = ""
    action: str = ""
    first: date | None = None
    last: date | None = None
    page: int = 1

    def query(self, **change: Any) -> str:
        values = {"officer": self.officer, "action": self.action, "from": self.first, "to": self.last, "page": self.page}
        values.update(change)
        return urlencode({key: value for key, value in values.items() if value not in ("", None) and not (key == "page" and value == 1)})


def audit_filter(params: Any) -> AuditFilter | str:
    """The record's filter from a query string, or what is wrong with it."""
    from signage.district.hub.app import FIRST_DAY, LAST_DAY, ascii_int  # app imports this module: read at call time

    officer = str(params.get("officer", "")).strip()[:100]
    action = str(params.get("action", ""))
    if action and action not in ACTION_LABELS:
        return "Không có loại việc này trong nhật ký."
    try:
        since = date.fromisoformat(params["from"]) if params.get("from") else None
        until = date.fromisoformat(params["to"]) if params.get("to") else None
    except ValueError:
        return "Ngày “từ” và “đến” phải có dạng năm-tháng-ngày, ví dụ 2026-11-23."
    if any(day is not None and not FIRST_DAY <= day <= LAST_DAY for day in (since, until)):
        return f"Chỉ xem được các ngày từ năm {FIRST_DAY.year} đến năm {LAST_DAY.year}."
    if since and until and until < since:
        return "Ngày “đến” đứng trước ngày “từ”."
    page = ascii_int(params.get("page", "1"), 6) or 1
    return AuditFilter(officer, action, since, until, max(1, page))


def routes(ctx: HubContext) -> list[BaseRoute]:
    pages, desk = ctx.pages, ctx.desk
    manage = ctx.guard(verb=Verb.MANAGE)
    command_guard = ctx.guard(verb=Verb.COMMAND)

    def done(path: str, what: str) -> RedirectResponse:
        return RedirectResponse(f"{path}?xong={what}", status_code=303)

    def notice(request: Request) -> str | None:
        return DONE.get(request.query_params.get("xong", ""))

    def managed(request: Request) -> set[str]:
        return ctx.reach(request, Verb.MANAGE)

    def unit_choices(units: set[str]) -> list[Any]:
        """The units an officer may pick, the root first then by name."""
        return [row for row in desk.units() if row.id in units]

    def publish(units: Iterable[str], *, link: bool = False) -> bool:
        """Republish after a change; a failure is logged and told (the change itself stands, the tender retries)."""
        try:
            if link:
                ctx.publisher.link_boards()
            ctx.publisher.publish(units)
        except (SignageError, OSError) as exc:
            log.error("publishing after an administrator's change failed: %s", exc)
            return False
        return True

    def unit_in(units: set[str], unit: str) -> str:
        if unit not in units:
            raise NotFound("Không tìm thấy đơn vị này.")
        return unit

    # --- overview and units ---------------------------------------------------------------------------

    @manage
    def home(request: Request) -> Response:
        units = managed(request)
        return pages.render(
            request,
            "admin_home.html",
            units=unit_choices(units),
            people=len(desk.officers(None if desk.root in units else units)),
            boards=len(desk.boards(units)),
            waiting=len(desk.requests()),
            groups=len(desk.groups(units)),
            publishing=ctx.publisher.enabled,
        )

    @manage
    def units_page(request: Request) -> Response:
        units = managed(request)
        names = desk.unit_names()
        rows = [(row, names.get(row.parent, "") if row.parent else "") for row in desk.units() if row.id in units]
        counts: dict[str, int] = {}
        for board in desk.boards(units):
            counts[board.unit] = counts.get(board.unit, 0) + 1
        return pages.render(request, "admin_units.html", rows=rows, counts=counts, parents=unit_choices(units), notice=notice(request))

    @manage
    async def add_unit(request: Request) -> Response:
        form = await ctx.read_form(request)
        parent = unit_in(managed(request), first(form, "parent"))
        await run_in_threadpool(desk.add_unit, ctx.actor(request), first(form, "name")[: MAX_NAME * 2], parent)
        return done("/admin/units", "unit")

    # --- people -----------------------------------------------------------------------------------------

    def person_in_view(request: Request, name: str) -> tuple[Any, list[Grant]]:
        units = managed(request)
        for row, grants in desk.officers(None if desk.root in units else units):
            if row.name == name:
                return row, grants
        raise NotFound("Không tìm thấy người dùng này.")

    @manage
    def people_page(request: Request) -> Response:
        units = managed(request)
        names = desk.unit_names()
        me = ctx.officer(request)
        assert me is not None
        people = [
            {
                "name": row.name,
                "full_name": row.full_name or "",
                "roles": roles_text(grants, names),
                "grants": {(grant.unit, grant.role.value) for grant in grants},
                # One form per unit where the person holds roles, its boxes ticked as they stand (the units this
                # administrator manages): saving it never takes away what the page did not show.
                "held": [
                    (unit_id, names.get(unit_id, unit_id), {grant.role.value for grant in grants if grant.unit == unit_id})
                    for unit_id in sorted({grant.unit for grant in grants if grant.unit in units}, key=lambda u: names.get(u, u))
                ],
                "manageable": may_manage_person(grants, units, desk.root),
                "me": row.name == me.name,
            }
            for row, grants in desk.officers(None if desk.root in units else units)
        ]
        return pages.render(
            request,
            "admin_people.html",
            people=people,
            units=unit_choices(units),
            roles=list(Role),
            notice=notice(request),
            min_password=MIN_PASSWORD,
        )

    def chosen_roles(form: dict[str, list[str]]) -> list[Role]:
        values = {role.value: role for role in Role}
        picked = form.get("role", [])
        if any(value not in values for value in picked):
            raise DeskError("Vai trò không có trong hệ thống.")
        return [values[value] for value in picked]

    @manage
    async def add_person(request: Request) -> Response:
        from signage.district.hub.app import hash_password  # app imports this module: read at call time

        form = await ctx.read_form(request)
        unit = unit_in(managed(request), first(form, "unit"))
        name = first(form, "name").strip()
        full_name = " ".join(first(form, "full_name").split())
        roles = chosen_roles(form)
        if not officer_name_ok(name):
            raise DeskError("Tên đăng nhập chỉ gồm chữ thường không dấu, số, dấu chấm, gạch dưới hoặc gạch ngang (2–50 ký tự).")
        if not full_name or len(full_name) > MAX_NAME or not full_name.isprintable():
            raise DeskError(f"Họ và tên phải có từ 1 đến {MAX_NAME} ký tự in được.")
        if not roles:
            raise DeskError("Hãy chọn ít nhất một vai trò.")
        problem = password_problem(first(form, "password"), first(form, "password_again"), name)
        if problem:
            raise DeskError(problem)
        digest = await run_in_threadpool(hash_password, first(form, "password"))  # Argon2id: 64 MiB, off the loop
        await run_in_threadpool(desk.add_officer, ctx.actor(request), name, full_name, digest, unit, roles)
        return done("/admin/people", "person")

    @manage
    async def set_roles(request: Request) -> Response:
        form = await ctx.read_form(request)
        person, _ = person_in_view(request, request.path_params["name"])
        unit = unit_in(managed(request), first(form, "unit"))
        roles = chosen_roles(form)
        if first(form, "mode") == "add":  # roles at another unit: added to what the person holds there, never replacing it
            if not roles:
                raise DeskError("Hãy chọn ít nhất một vai trò để thêm.")
            roles = sorted({*roles, *(grant.role for grant in _grants_at(person.name, unit))}, key=lambda role: role.value)
        await run_in_threadpool(desk.set_roles, ctx.actor(request), person.name, unit, roles)
        return done("/admin/people", "roles")

    def _grants_at(name: str, unit: str) -> list[Grant]:
        officer = desk.officer(name)
        return [grant for grant in (officer.grants if officer else ()) if grant.unit == unit]

    @manage
    async def reset_password(request: Request) -> Response:
        from signage.district.hub.app import hash_password  # app imports this module: read at call time

        form = await ctx.read_form(request)
        person, _ = person_in_view(request, request.path_params["name"])
        problem = password_problem(first(form, "password"), first(form, "password_again"), person.name)
        if problem:
            raise DeskError(problem)
        digest = await run_in_threadpool(hash_password, first(form, "password"))
        await run_in_threadpool(desk.reset_password, ctx.actor(request), person.name, digest)  # ends their sessions
        return done("/admin/people", "password")

    @manage
    async def remove_person(request: Request) -> Response:
        await ctx.read_form(request)  # the Origin and the session's field, though the form carries nothing else
        person, _ = person_in_view(request, request.path_params["name"])
        await run_in_threadpool(desk.remove_officer, ctx.actor(request), person.name)
        return done("/admin/people", "removed")

    # --- boards -----------------------------------------------------------------------------------------

    @manage
    def boards_page(request: Request) -> Response:
        units = managed(request)
        names = desk.unit_names()
        boards = [
            {
                "id": row.id,
                "name": row.name,
                "unit": row.unit,
                "unit_name": names.get(row.unit, row.unit),
                "fingerprint": fingerprint(row.keyid),
                "from_config": bool(row.from_config),
                "added_at": row.added_at,
            }
            for row in desk.boards(units)
        ]
        waiting = [
            {
                "keyid": row.keyid,
                "board_id": row.board_id,
                "name": row.name,
                "address": row.address,
                "requested_at": row.requested_at,
                "last_seen": row.last_seen,
                "times": row.times,
                "fingerprint": fingerprint(row.keyid),
            }
            for row in desk.requests()
        ]
        site = ctx.publisher.site
        # What `signage join` prints on the board as the feed key's fingerprint: the technician compares the two.
        feed_key = (site.public_key_text(), fingerprint(key_id(parse_public_key(site.public_key_text())))) if site else None
        return pages.render(
            request,
            "admin_boards.html",
            feed_key=feed_key,
            boards=boards,
            waiting=waiting,
            units=unit_choices(units),
            may_refuse=desk.root in units,
            notice=notice(request),
            publishing=ctx.publisher.enabled,
        )

    @manage
    async def accept_board(request: Request) -> Response:
        form = await ctx.read_form(request)
        unit = unit_in(managed(request), first(form, "unit"))
        keyid = first(form, "keyid")[:16]
        await run_in_threadpool(desk.accept_board, ctx.actor(request), keyid, unit, first(form, "name")[: MAX_NAME * 2])
        published = await run_in_threadpool(publish, {unit}, link=True)
        return done("/admin/boards", "accepted" if published else "unpublished")

    @manage
    async def refuse_board(request: Request) -> Response:
        form = await ctx.read_form(request)
        await run_in_threadpool(desk.refuse_request, ctx.actor(request), first(form, "keyid")[:16])
        return done("/admin/boards", "refused")

    @manage
    async def move_board(request: Request) -> Response:
        form = await ctx.read_form(request)
        units = managed(request)
        board = desk.board(request.path_params["board"], units)
        unit = unit_in(units, first(form, "unit"))
        former = await run_in_threadpool(desk.move_board, ctx.actor(request), board.id, unit)
        published = await run_in_threadpool(publish, {former, unit}, link=True)
        return done("/admin/boards", "moved" if published else "unpublished")

    # --- groups -----------------------------------------------------------------------------------------

    def group_in(units: set[str], text: str) -> tuple[Any, list[str]]:
        from signage.district.hub.app import ascii_int

        group_id = ascii_int(text, 18)
        found = next(((row, boards) for row, boards in desk.groups(units) if group_id is not None and int(row.id) == group_id), None)
        if found is None:
            raise NotFound("Không tìm thấy nhóm bảng tin này.")
        return found

    @manage
    def groups_page(request: Request) -> Response:
        units = managed(request)
        names = desk.unit_names()
        boards = desk.boards(units)
        board_names = {row.id: row.name for row in boards}
        tree = desk.tree()
        groups = []
        for row, members in desk.groups(units):
            within = tree.within(row.unit)
            groups.append(
                {
                    "id": int(row.id),
                    "name": row.name,
                    "unit_name": names.get(row.unit, row.unit),
                    "members": [(board, board_names.get(board, board)) for board in members],
                    "member_ids": set(members),
                    "choices": [board for board in boards if board.unit in within],
                }
            )
        return pages.render(
            request,
            "admin_groups.html",
            groups=groups,
            units=unit_choices(units),
            boards=[(board, names.get(board.unit, board.unit)) for board in boards],
            actions=COMMAND_LABELS,
            notice=notice(request),
            publishing=ctx.publisher.enabled,
        )

    @manage
    async def add_group(request: Request) -> Response:
        form = await ctx.read_form(request)
        unit = unit_in(managed(request), first(form, "unit"))
        await run_in_threadpool(desk.add_group, ctx.actor(request), unit, first(form, "name")[: MAX_NAME * 2], form.get("board", []))
        return done("/admin/groups", "group")

    @manage
    async def set_members(request: Request) -> Response:
        form = await ctx.read_form(request)
        group, _ = group_in(managed(request), request.path_params["group"])
        touched = await run_in_threadpool(desk.set_group_boards, ctx.actor(request), int(group.id), form.get("board", []))
        published = await run_in_threadpool(publish, touched) if touched else True
        return done("/admin/groups", "members" if published else "unpublished")

    # --- commands ---------------------------------------------------------------------------------------

    def issue(actor: Actor, action: str, boards: Sequence[str]) -> bool:
        _, units = desk.issue_command(actor, action, boards)
        return publish(units)

    @command_guard
    async def group_command(request: Request) -> Response:
        form = await ctx.read_form(request)
        _, members = group_in(ctx.reach(request, Verb.COMMAND), request.path_params["group"])
        published = await run_in_threadpool(issue, ctx.actor(request), first(form, "action"), members)
        return done("/admin/groups", "command" if published else "unpublished")

    @command_guard
    async def board_command(request: Request) -> Response:
        form = await ctx.read_form(request)
        board = desk.board(request.path_params["board"], ctx.reach(request, Verb.COMMAND))
        published = await run_in_threadpool(issue, ctx.actor(request), first(form, "action"), [board.id])
        return done(f"/boards/{board.id}", "command" if published else "unpublished")

    # --- the record -------------------------------------------------------------------------------------

    def period_bounds(chosen: AuditFilter) -> tuple[float | None, float | None]:
        zone = ctx.config.timezone
        since = datetime.combine(chosen.first, time(0), zone).timestamp() if chosen.first else None
        until = datetime.combine(chosen.last + timedelta(days=1), time(0), zone).timestamp() if chosen.last else None
        return since, until

    def audit_scope(request: Request) -> set[str] | None:
        units = managed(request)
        return None if desk.root in units else units  # the root's administrators read all, sign-ins too

    @manage
    def audit_page(request: Request) -> Response:
        chosen = audit_filter(request.query_params)
        if isinstance(chosen, str):
            return pages.problem(request, 400, chosen)
        since, until = period_bounds(chosen)
        rows = list(
            desk.audit_rows(
                audit_scope(request),
                officer=chosen.officer,
                action=chosen.action,
                since=since,
                until=until,
                limit=AUDIT_PAGE + 1,
                offset=(chosen.page - 1) * AUDIT_PAGE,
            )
        )
        more = len(rows) > AUDIT_PAGE
        people = {row.name: row.full_name for row, _ in desk.officers(None)}
        return pages.render(
            request,
            "audit.html",
            rows=rows[:AUDIT_PAGE],
            more=more,
            chosen=chosen,
            labels=ACTION_LABELS,
            unit_names=desk.unit_names(),
            people=people,
            csv_query=chosen.query(page=1),
        )

    @manage
    def audit_csv(request: Request) -> Response:
        chosen = audit_filter(request.query_params)
        if isinstance(chosen, str):
            return pages.problem(request, 400, chosen)
        since, until = period_bounds(chosen)
        rows = desk.audit_rows(
            audit_scope(request), officer=chosen.officer, action=chosen.action, since=since, until=until, limit=1_000_000
        )
        return StreamingResponse(
            audit_csv_chunks(rows, pages.when, desk.unit_names()),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="nhat-ky.csv"'},
        )

    return [
        Route("/admin", home, methods=["GET"]),
        Route("/admin/units", units_page, methods=["GET"]),
        Route("/admin/units", add_unit, methods=["POST"]),
        Route("/admin/people", people_page, methods=["GET"]),
        Route("/admin/people", add_person, methods=["POST"]),
        Route("/admin/people/{name}/roles", set_roles, methods=["POST"]),
        Route("/admin/people/{name}/password", reset_password, methods=["POST"]),
        Route("/admin/people/{name}/remove", remove_person, methods=["POST"]),
        Route("/admin/boards", boards_page, methods=["GET"]),
        Route("/admin/boards/accept", accept_board, methods=["POST"]),
        Route("/admin/boards/refuse", refuse_board, methods=["POST"]),
        Route("/admin/boards/{board}/move", move_board, methods=["POST"]),
        Route("/admin/groups", groups_page, methods=["GET"]),
        Route("/admin/groups", add_group, methods=["POST"]),
        Route("/admin/groups/{group}/boards", set_members, methods=["POST"]),
        Route("/admin/groups/{group}/command", group_command, methods=["POST"]),
        Route("/boards/{board}/command", board_command, methods=["POST"]),
        Route("/audit", audit_page, methods=["GET"]),
        Route("/audit.csv", audit_csv, methods=["GET"]),
    ]


def board_commands(ctx: HubContext, request: Request, board_id: str) -> dict[str, Any]:
    """What the board page's command form needs: whether the officer may command the board, the actions, and the
    commands issued to it with the outcome the board reported (matched by command id)."""
    may_command = board_id in {row.id for row in ctx.desk.boards(ctx.reach(request, Verb.COMMAND))}
    outcomes = {row.id: row for row in ctx.store.commands(board_id, limit=200)}
    issued = [(row, outcomes.get(row.id)) for row in ctx.desk.commands_for(board_id)]
    return {
        "may_command": may_command,
        "command_actions": COMMAND_LABELS,
        "issued": issued,
        "issuers": {person.name: person.full_name or person.name for person, _ in ctx.desk.officers()} if issued else {},
        "command_notice": DONE.get(request.query_params.get("xong", "")),
    }


def audit_csv_chunks(rows: Iterable[Any], when: Any, unit_names: dict[str, str], rows_per_chunk: int = 1000) -> Iterator[bytes]:
    """The record as CSV: UTF-8 with a BOM (Excel reads Vietnamese), Vietnamese headers, text cells never formulas."""
    from signage.district.hub.app import _text_cell  # app imports this module: read at call time

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(AUDIT_CSV_HEADER)
    pending = 0
    for row in rows:
        writer.writerow(
            (
                when(row.at),
                _text_cell(row.officer),
                _text_cell(row.address),
                _text_cell(ACTION_LABELS.get(row.action, row.action)),
                _text_cell(unit_names.get(row.unit, row.unit or "")),
                _text_cell(row.subject),
                _text_cell(row.detail),
            )
        )
        pending += 1
        if pending >= rows_per_chunk:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue().encode("utf-8")
