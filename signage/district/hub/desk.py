"""The source system's data: units, people, boards, groups, bulletins and their revisions, commands and the record.

Every change is one transaction that also writes its audit row, so the record never misses an action that took
effect nor holds one that did not. Who may do it is decided by `rules` (pure) before anything is written; a state
change is a conditional UPDATE (`WHERE state = 'submitted'`), so of two approvers acting on one revision at once
exactly one wins and the other is told. Times are UTC epoch seconds, as in the rest of the hub's database.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from signage.district.hub import schema as t
from signage.district.hub.rules import (
    CATEGORIES,
    NO_FACTS,
    PRIORITY_LABELS,
    Facts,
    Grant,
    Role,
    State,
    UnitTree,
    Verb,
    may,
    next_state,
    reach,
    refusal_of_state,
)
from signage.errors import BulletinError, Conflict, NotAllowed, NotFound
from signage.inbox.rules import ascii_slug
from signage.model import BOARD_ID, Bulletin, BulletinInput, Kind, Priority, Source, parse_bulletin
from signage.vi import problem_vi

ROOT_UNIT = t.ROOT_UNIT
MAX_TARGETS = 1000
PAGE = 50
BUILT_KEPT = 20_000  # approved revisions kept built (a province's live bulletins, each in a feed or two)
KIND_WORDS = {"text": "văn bản", "image": "hình ảnh", "video": "video", "pdf": "PDF", "audio": "âm thanh"}
COMMAND_LABELS = {
    "screenshot": "Chụp màn hình",
    "sync": "Đồng bộ",
    "restart": "Khởi động lại",
    "display_on": "Bật màn hình",
    "display_off": "Tắt màn hình",
}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, from where, and when (the caller's clock)."""

    officer: str
    address: str
    at: datetime

    @property
    def ts(self) -> float:
        return self.at.timestamp()


@dataclass(frozen=True, slots=True)
class Targets:
    boards: tuple[str, ...] = ()
    groups: tuple[int, ...] = ()
    units: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps({"boards": list(self.boards), "groups": list(self.groups), "units": list(self.units)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Targets:
        data = json.loads(text)
        return cls(tuple(data.get("boards", ())), tuple(int(g) for g in data.get("groups", ())), tuple(data.get("units", ())))

    def empty(self) -> bool:
        return not (self.boards or self.groups or self.units)


@dataclass(frozen=True, slots=True)
class MediaRef:
    sha256: str
    type: str
    bytes: int
    name: str


@dataclass(frozen=True, slots=True)
class Draft:
    """What an officer wrote: one revision's content."""

    kind: Kind
    title: str
    targets: Targets
    body: str = ""
    media: MediaRef | None = None
    duration_s: float | None = None
    priority: Priority = Priority.NORMAL
    category: str = "khac"
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    slots: tuple[Mapping[str, Any], ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Officer:
    name: str
    full_name: str | None
    grants: tuple[Grant, ...]

    @property
    def shown(self) -> str:
        return self.full_name or self.name


def _ts(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _moment(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def feed_dict(row: Any, boards: Sequence[str], approved_by: str | None, approved_at: float | None) -> dict[str, Any]:
    """A revision as feed-v1 writes a bulletin (`boards` already resolved for one feed)."""
    data: dict[str, Any] = {
        "id": row.bulletin,
        "revision": int(row.revision),
        "kind": row.kind,
        "title": row.title,
        "priority": row.priority,
        "boards": list(boards),
    }
    if row.body:
        data["body"] = row.body
    if row.media_sha256:
        data["media"] = {"sha256": row.media_sha256, "bytes": int(row.media_bytes), "type": row.media_type}
    if row.duration_s is not None:
        data["duration_s"] = row.duration_s
    # No "from" given: from its approval (feed-v1 needs one; a board plays nothing before it in any case).
    valid_from = row.valid_from if row.valid_from is not None else approved_at if approved_at is not None else row.created_at
    data["valid_from"] = _moment(valid_from).isoformat()  # type: ignore[union-attr]
    if row.valid_until is not None:
        data["valid_until"] = _moment(row.valid_until).isoformat()  # type: ignore[union-attr]
    slots = json.loads(row.slots or "[]")
    if slots:
        data["slots"] = slots
    if approved_by:
        data["approved_by"] = approved_by
        data["approved_at"] = _moment(approved_at).isoformat()  # type: ignore[union-attr]
    return data


def draft_problem(draft: Draft, now: datetime) -> str | None:
    """What is wrong with a draft as a board would see it (the board's own parser), or None; `now`: when it is written
    (it plays from its approval when no "from" is given)."""
    row = _DraftRow(draft, now)
    try:
        parse_bulletin(feed_dict(row, ["*"], None, None), BulletinInput(origin="bản tin", source=Source.FEED, strict=True))
    except BulletinError as exc:
        return str(exc)
    return None


class _DraftRow:
    """A Draft dressed as a revisions row, for feed_dict."""

    def __init__(self, draft: Draft, now: datetime) -> None:
        self.bulletin, self.revision, self.kind, self.title = "xem-truoc", 1, draft.kind.value, draft.title
        self.priority, self.body, self.duration_s = draft.priority.value, draft.body, draft.duration_s
        media = draft.media
        self.media_sha256, self.media_bytes, self.media_type = (media.sha256, media.bytes, media.type) if media else (None, None, None)
        self.valid_from, self.valid_until = _ts(draft.valid_from), _ts(draft.valid_until)
        self.slots = json.dumps(list(draft.slots))
        self.created_at = now.timestamp()


def draft_bulletin(draft: Draft, now: datetime, bulletin_id: str = "xem-truoc", revision: int = 1) -> Bulletin:
    """The Bulletin a board would hold for this draft were it approved `now` (for the preview)."""
    row = _DraftRow(draft, now)
    row.bulletin, row.revision = bulletin_id, revision
    return parse_bulletin(feed_dict(row, ["*"], None, None), BulletinInput(origin="bản tin", source=Source.FEED))


class Desk:
    """The source system over the hub's database (the same engine as HubStore)."""

    def __init__(self, engine: Engine, media_root: Path, root_name: str) -> None:
        self.engine = engine
        self.media_root = media_root
        self._built_cache: OrderedDict[tuple[str, int, tuple[str, ...]], Bulletin] = OrderedDict()
        self._built_lock = threading.Lock()
        self.root = self._ensure_root(root_name)

    # --- units ------------------------------------------------------------------------------------

    def _ensure_root(self, name: str) -> str:
        with self.engine.begin() as conn:
            root = conn.execute(sa.select(t.units.c.id).where(t.units.c.parent.is_(None))).scalar()
            if root is None:
                conn.execute(
                    sa.insert(t.units),
                    {"id": ROOT_UNIT, "name": name, "parent": None, "created_at": datetime.now(UTC).timestamp()},
                )
                root = ROOT_UNIT
        return str(root)

    def tree(self) -> UnitTree:
        with self.engine.connect() as conn:
            return UnitTree({row.id: row.parent for row in conn.execute(sa.select(t.units.c.id, t.units.c.parent))})

    def units(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(t.units).order_by(t.units.c.parent.is_not(None), t.units.c.name)))

    def unit_names(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {row.id: row.name for row in conn.execute(sa.select(t.units.c.id, t.units.c.name))}

    def add_unit(self, actor: Actor, name: str, parent: str) -> str:
        name = _clean_name(name, "Tên đơn vị")
        self._allowed(actor.officer, Verb.MANAGE, parent)
        base = ascii_slug(name)[:50] or "don-vi"
        with self.engine.begin() as conn:
            taken = set(conn.execute(sa.select(t.units.c.id).where(t.units.c.id.like(f"{base}%"))).scalars())
            if name in {row for row in conn.execute(sa.select(t.units.c.name)).scalars()}:
                raise Conflict(f"Đã có đơn vị tên “{name}”.")
            unit_id = base if base not in taken else next(f"{base}-{n}" for n in range(2, 10_000) if f"{base}-{n}" not in taken)
            conn.execute(sa.insert(t.units), {"id": unit_id, "name": name, "parent": parent, "created_at": actor.ts})
            self._record(conn, actor, "unit.add", unit_id, f"đơn vị “{name}”", "")
        return unit_id

    # --- people ------------------------------------------------------------------------------------

    def officer(self, name: str) -> Officer | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.users.c.name, t.users.c.full_name).where(t.users.c.name == name)).first()
            if row is None:
                return None
            grants = conn.execute(sa.select(t.roles.c.unit, t.roles.c.role).where(t.roles.c.officer == name))
            return Officer(row.name, row.full_name, tuple(Grant(g.unit, Role(g.role)) for g in grants if g.role in _ROLE_VALUES))

    def officers(self, units: set[str] | None = None) -> list[tuple[Any, list[Grant]]]:
        """People with their grants; with `units`, only those holding a role within them (an admin's view)."""
        with self.engine.connect() as conn:
            grants: dict[str, list[Grant]] = {}
            for g in conn.execute(sa.select(t.roles)):
                if g.role in _ROLE_VALUES:
                    grants.setdefault(g.officer, []).append(Grant(g.unit, Role(g.role)))
            people = list(conn.execute(sa.select(t.users.c.name, t.users.c.full_name, t.users.c.created_at).order_by(t.users.c.name)))
        if units is not None:
            people = [p for p in people if any(g.unit in units for g in grants.get(p.name, []))]
        return [(p, grants.get(p.name, [])) for p in people]

    def has_admin(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(t.roles.c.officer).where(t.roles.c.role == Role.ADMIN.value).limit(1)).first() is not None

    def add_officer(self, actor: Actor | None, name: str, full_name: str, password_hash: str, unit: str, roles: Iterable[Role]) -> None:
        """A new officer with roles at `unit`; `actor` None only for the CLI's first administrator."""
        if not officer_name_ok(name):
            raise NotAllowed("Tên đăng nhập chỉ gồm chữ thường không dấu, số, dấu chấm, gạch dưới hoặc gạch ngang (2–50 ký tự).")
        if actor is not None:
            self._allowed(actor.officer, Verb.MANAGE, unit)
        with self.engine.begin() as conn:
            if conn.execute(sa.select(t.users.c.name).where(t.users.c.name == name)).first() is not None:
                raise Conflict(f"Đã có người dùng “{name}”.")
            now = actor.ts if actor else datetime.now(UTC).timestamp()
            conn.execute(
                sa.insert(t.users), {"name": name, "password_hash": password_hash, "created_at": now, "full_name": full_name or None}
            )
            roles = sorted({role.value for role in roles})
            if roles:
                conn.execute(sa.insert(t.roles), [{"officer": name, "unit": unit, "role": role} for role in roles])
            if actor is not None:
                self._record(
                    conn, actor, "officer.add", unit, f"người dùng “{name}”", f"vai trò: {', '.join(Role(r).label_vi for r in roles)}"
                )

    def set_roles(self, actor: Actor, name: str, unit: str, roles: Iterable[Role]) -> None:
        self._allowed(actor.officer, Verb.MANAGE, unit)
        wanted = sorted({role.value for role in roles})
        if (
            name == actor.officer
            and Role.ADMIN.value not in wanted
            and unit in {g.unit for g in self._grants(name) if g.role is Role.ADMIN}
        ):
            raise NotAllowed("Không thể tự bỏ quyền quản trị của chính mình; hãy nhờ một quản trị viên khác.")
        with self.engine.begin() as conn:
            if conn.execute(sa.select(t.users.c.name).where(t.users.c.name == name)).first() is None:
                raise NotFound(f"Không có người dùng “{name}”.")
            conn.execute(sa.delete(t.roles).where(t.roles.c.officer == name, t.roles.c.unit == unit))
            if wanted:
                conn.execute(sa.insert(t.roles), [{"officer": name, "unit": unit, "role": role} for role in wanted])
            self._record(
                conn,
                actor,
                "officer.roles",
                unit,
                f"người dùng “{name}”",
                f"vai trò: {', '.join(Role(r).label_vi for r in wanted) or 'không'}",
            )

    def grant_root_admin(self, name: str) -> None:
        """The CLI's first administrator: admin of the root unit."""
        with self.engine.begin() as conn:
            exists = conn.execute(
                sa.select(t.roles.c.officer).where(t.roles.c.officer == name, t.roles.c.unit == self.root, t.roles.c.role == "admin")
            )
            if exists.first() is None:
                conn.execute(sa.insert(t.roles), {"officer": name, "unit": self.root, "role": Role.ADMIN.value})

    def reset_password(self, actor: Actor, name: str, password_hash: str) -> None:
        """An administrator sets a person's password; every session of theirs ends, in the transaction of its record."""
        unit = self._manageable_person(actor, name)
        with self.engine.begin() as conn:
            if conn.execute(sa.update(t.users).where(t.users.c.name == name).values(password_hash=password_hash)).rowcount != 1:
                raise NotFound("Không tìm thấy người dùng này.")
            conn.execute(sa.delete(t.sessions).where(t.sessions.c.officer == name))
            self._record(conn, actor, "officer.password", unit, f"người dùng “{name}”", "các phiên đăng nhập đã kết thúc")

    def remove_officer(self, actor: Actor, name: str) -> None:
        """An administrator removes a person (never themselves): their roles and sessions go with them."""
        if name == actor.officer:
            raise NotAllowed("Không thể tự xóa tài khoản của chính mình; hãy nhờ một quản trị viên khác.")
        unit = self._manageable_person(actor, name)
        held = ", ".join(f"{g.role.label_vi} ({g.unit})" for g in self._grants(name))
        with self.engine.begin() as conn:
            conn.execute(sa.delete(t.sessions).where(t.sessions.c.officer == name))
            conn.execute(sa.delete(t.roles).where(t.roles.c.officer == name))
            if conn.execute(sa.delete(t.users).where(t.users.c.name == name)).rowcount != 1:
                raise NotFound("Không tìm thấy người dùng này.")
            self._record(conn, actor, "officer.remove", unit, f"người dùng “{name}”", f"vai trò: {held or 'không'}")

    def _manageable_person(self, actor: Actor, name: str) -> str:
        """Whose record a change to `name` is (the unit nearest the root among their roles); NotAllowed unless every
        role they hold lies within the units the actor manages (a commune's administrator never locks out the
        province's); the root's administrators manage anyone."""
        tree, grants = self.tree(), self._grants(name)
        managed = reach(self._grants(actor.officer), tree, Verb.MANAGE)
        if self.root not in managed and not (grants and all(g.unit in managed for g in grants)):
            raise NotAllowed("Người này còn giữ vai trò ở đơn vị khác; chỉ quản trị viên cấp trên mới làm được việc này.")
        return min((g.unit for g in grants), key=lambda unit: (len(tree.chain(unit)), unit), default=self.root)

    def _grants(self, name: str) -> tuple[Grant, ...]:
        officer = self.officer(name)
        return officer.grants if officer else ()

    def _allowed(self, officer: str, verb: Verb, unit: str, facts: Facts = NO_FACTS) -> None:
        refusal = may(officer, self._grants(officer), self.tree(), verb, unit, facts)
        if refusal:
            raise NotAllowed(refusal)

    def reach(self, officer: str, verb: Verb = Verb.READ) -> set[str]:
        return reach(self._grants(officer), self.tree(), verb)

    # --- boards and groups --------------------------------------------------------------------------

    def boards(self, units: set[str] | None = None) -> list[Any]:
        """Accepted boards (id, name, unit, keyid, from_config, added_at); a board without a unit is the root's."""
        unit = sa.func.coalesce(t.boards.c.unit, self.root).label("unit")
        query = sa.select(t.boards.c.id, t.boards.c.name, unit, t.boards.c.keyid, t.boards.c.from_config, t.boards.c.added_at)
        with self.engine.connect() as conn:
            rows = list(conn.execute(query.order_by(t.boards.c.name)))
        return rows if units is None else [row for row in rows if row.unit in units]

    def board(self, board_id: str, units: set[str] | None = None) -> Any:
        found = next((row for row in self.boards(units) if row.id == board_id), None)
        if found is None:
            raise NotFound("Không tìm thấy bảng tin này.")
        return found

    def _board_names(self, boards: Iterable[str]) -> str:
        """Boards as the record names them: by name, at most 500 characters."""
        names = {row.id: row.name for row in self.boards()}
        return ", ".join(sorted(names.get(board, board) for board in set(boards)))[:500]

    def board_units(self) -> dict[str, str]:
        return {row.id: row.unit for row in self.boards()}

    def requests(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(t.board_requests).order_by(t.board_requests.c.requested_at)))

    def accept_board(self, actor: Actor, keyid: str, unit: str, name: str) -> str:
        """A waiting board into `unit`: its requested id, the name the administrator gives. Bumps the boards'
        generation in the same transaction, so every hub process pins its key within a second."""
        self._allowed(actor.officer, Verb.MANAGE, unit)
        name = _clean_name(name, "Tên bảng tin")
        with self.engine.begin() as conn:
            request = conn.execute(sa.select(t.board_requests).where(t.board_requests.c.keyid == keyid)).first()
            if request is None:
                raise NotFound("Yêu cầu kết nối này không còn (có thể đã được xử lý).")
            if conn.execute(sa.select(t.boards.c.id).where(t.boards.c.id == request.board_id)).first() is not None:
                raise Conflict(f"Mã bảng tin “{request.board_id}” đã được dùng cho một bảng tin khác.")
            conn.execute(
                sa.insert(t.boards),
                {
                    "id": request.board_id,
                    "name": name,
                    "public_key": request.public_key,
                    "keyid": keyid,
                    "unit": unit,
                    "added_at": actor.ts,
                    "from_config": False,
                },
            )
            conn.execute(sa.delete(t.board_requests).where(t.board_requests.c.keyid == keyid))
            self._place_board(conn, str(request.board_id), unit)
            _bump_generation(conn)
            self._record(
                conn, actor, "board.accept", unit, f"bảng tin “{name}”", f"mã {request.board_id}, khóa {keyid}, từ {request.address}"
            )
        return str(request.board_id)

    def refuse_request(self, actor: Actor, keyid: str) -> None:
        self._allowed(actor.officer, Verb.MANAGE, self.root)
        with self.engine.begin() as conn:
            request = conn.execute(sa.select(t.board_requests).where(t.board_requests.c.keyid == keyid)).first()
            if request is None:
                raise NotFound("Yêu cầu kết nối này không còn (có thể đã được xử lý).")
            conn.execute(sa.delete(t.board_requests).where(t.board_requests.c.keyid == keyid))
            self._record(conn, actor, "board.refuse", self.root, f"yêu cầu của “{request.name}”", f"mã {request.board_id}, khóa {keyid}")

    def move_board(self, actor: Actor, board_id: str, unit: str) -> str:
        """Returns the board's former unit (its feed is republished without the board's bulletins)."""
        old = self.board(board_id)
        self._allowed(actor.officer, Verb.MANAGE, old.unit)
        self._allowed(actor.officer, Verb.MANAGE, unit)
        with self.engine.begin() as conn:
            conn.execute(sa.update(t.boards).where(t.boards.c.id == board_id).values(unit=unit))
            # A group holds only boards of its own unit's subtree.
            tree = self.tree()
            for group in conn.execute(sa.select(t.groups.c.id, t.groups.c.unit)):
                if unit not in tree.within(group.unit):
                    conn.execute(sa.delete(t.group_boards).where(t.group_boards.c.group_id == group.id, t.group_boards.c.board == board_id))
            self._place_board(conn, board_id, unit)
            names = self.unit_names()
            self._record(
                conn,
                actor,
                "board.move",
                unit,
                f"bảng tin “{old.name}”",
                f"từ {names.get(old.unit, old.unit)} sang {names.get(unit, unit)}",
            )
        return str(old.unit)

    def _place_board(self, conn: sa.Connection, board_id: str, unit: str) -> None:
        """The live bulletins `board_id` receives now that it sits in `unit` with its groups, in live_boards. A
        bulletin's units and groups are resolved when it is approved, so a board accepted, moved, or added to or taken
        from a group later is placed again here: it gains what targets its new unit or group (an emergency already out
        to the commune) and loses what reached it only through its old one. The same test as `resolve`, for one
        board: its unit within a target unit, one of its groups, itself."""
        lineage = set(self.tree().chain(unit))
        groups = set(conn.execute(sa.select(t.group_boards.c.group_id).where(t.group_boards.c.board == board_id)).scalars())
        r, b = t.revisions, t.source_bulletins
        live = conn.execute(sa.select(r.c.bulletin, r.c.targets).join(b, sa.and_(b.c.id == r.c.bulletin, b.c.live == r.c.revision)))
        wanted = []
        for bulletin_id, text in live:
            targets = Targets.from_json(text)
            if board_id in targets.boards or groups & set(targets.groups) or lineage & set(targets.units):
                wanted.append(bulletin_id)
        conn.execute(sa.delete(t.live_boards).where(t.live_boards.c.board == board_id))
        if wanted:
            conn.execute(sa.insert(t.live_boards), [{"bulletin": bulletin_id, "board": board_id} for bulletin_id in sorted(wanted)])

    def groups(self, units: set[str] | None = None) -> list[tuple[Any, list[str]]]:
        with self.engine.connect() as conn:
            members: dict[int, list[str]] = {}
            for row in conn.execute(sa.select(t.group_boards)):
                members.setdefault(int(row.group_id), []).append(row.board)
            rows = list(conn.execute(sa.select(t.groups).order_by(t.groups.c.name)))
        return [(row, sorted(members.get(int(row.id), []))) for row in rows if units is None or row.unit in units]

    def add_group(self, actor: Actor, unit: str, name: str, boards: Sequence[str]) -> int:
        name = _clean_name(name, "Tên nhóm")
        self._allowed(actor.officer, Verb.MANAGE, unit)
        self._check_boards_within(boards, unit)
        with self.engine.begin() as conn:
            if conn.execute(sa.select(t.groups.c.id).where(t.groups.c.unit == unit, t.groups.c.name == name)).first() is not None:
                raise Conflict(f"Đơn vị này đã có nhóm “{name}”.")
            group_id = int(conn.execute(sa.insert(t.groups).values(unit=unit, name=name)).inserted_primary_key[0])
            if boards:
                conn.execute(sa.insert(t.group_boards), [{"group_id": group_id, "board": b} for b in sorted(set(boards))])
            self._record(conn, actor, "group.add", unit, f"nhóm “{name}”", f"{len(set(boards))} bảng tin")
        return group_id

    def set_group_boards(self, actor: Actor, group_id: int, boards: Sequence[str]) -> set[str]:
        """Returns the units of the boards that joined or left the group (their feeds change when a live bulletin
        targets the group)."""
        group = self._group(group_id, self.reach(actor.officer, Verb.MANAGE))
        self._check_boards_within(boards, group.unit)
        board_units = self.board_units()
        with self.engine.begin() as conn:
            old = set(conn.execute(sa.select(t.group_boards.c.board).where(t.group_boards.c.group_id == group_id)).scalars())
            conn.execute(sa.delete(t.group_boards).where(t.group_boards.c.group_id == group_id))
            if boards:
                conn.execute(sa.insert(t.group_boards), [{"group_id": group_id, "board": b} for b in sorted(set(boards))])
            changed = {board for board in old ^ set(boards) if board in board_units}
            for board in sorted(changed):
                self._place_board(conn, board, board_units[board])
            self._record(
                conn,
                actor,
                "group.boards",
                group.unit,
                f"nhóm “{group.name}”",
                f"{len(set(boards))} bảng tin: {self._board_names(boards)}",
            )
        return {board_units[board] for board in changed}

    def _group(self, group_id: int, units: set[str]) -> Any:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.groups).where(t.groups.c.id == group_id)).first()
        if row is None or row.unit not in units:
            raise NotFound("Không tìm thấy nhóm bảng tin này.")
        return row

    def _check_boards_within(self, boards: Sequence[str], unit: str) -> None:
        allowed = self.tree().within(unit)
        units = self.board_units()
        for board in boards:
            if units.get(board) not in allowed:
                raise NotFound("Không tìm thấy bảng tin này trong đơn vị.")

    # --- targets -------------------------------------------------------------------------------------

    def resolve(self, targets: Targets) -> set[str]:
        """The boards a bulletin targets: its boards, its groups' boards, every board within its units."""
        units = self.board_units()
        chosen = {board for board in targets.boards if board in units}
        if targets.groups:
            with self.engine.connect() as conn:
                chosen |= set(
                    conn.execute(sa.select(t.group_boards.c.board).where(t.group_boards.c.group_id.in_(targets.groups))).scalars()
                )
        if targets.units:
            tree = self.tree()
            within = set().union(*(tree.within(unit) for unit in targets.units))
            chosen |= {board for board, unit in units.items() if unit in within}
        return {board for board in chosen if board in units}

    def check_targets(self, targets: Targets, owner: str) -> None:
        """Every target lies within the owner unit's subtree (a commune's people target only their commune)."""
        if targets.empty():
            raise NotAllowed("Hãy chọn ít nhất một bảng tin, nhóm hoặc đơn vị nhận bản tin.")
        if len(targets.boards) + len(targets.groups) + len(targets.units) > MAX_TARGETS:
            raise NotAllowed(f"Chọn tối đa {MAX_TARGETS} nơi nhận.")
        within = self.tree().within(owner)
        self._check_boards_within(targets.boards, owner)
        if any(unit not in within for unit in targets.units):
            raise NotFound("Không tìm thấy đơn vị này.")
        for group in targets.groups:
            self._group(group, within)

    # --- bulletins -----------------------------------------------------------------------------------

    def create(self, actor: Actor, unit: str, draft: Draft) -> str:
        self._allowed(actor.officer, Verb.WRITE, unit)
        self._check_draft(draft, unit, actor.at)
        bulletin_id = f"{unit[:20]}-{secrets.token_hex(4)}".replace("--", "-")
        with self.engine.begin() as conn:
            conn.execute(
                sa.insert(t.source_bulletins),
                {
                    "id": bulletin_id,
                    "unit": unit,
                    "created_by": actor.officer,
                    "created_at": actor.ts,
                    "updated_at": actor.ts,
                    "latest": 1,
                    "live": None,
                    "title": draft.title,
                    "state": State.DRAFT.value,
                },
            )
            conn.execute(sa.insert(t.revisions), self._revision_row(bulletin_id, 1, draft, actor))
            self._record(
                conn,
                actor,
                "bulletin.write",
                unit,
                f"bản tin “{draft.title}”",
                f"bản 1, {KIND_WORDS[draft.kind.value]}, mức {PRIORITY_LABELS[draft.priority.value].lower()}",
            )
        return bulletin_id

    def edit(self, actor: Actor, bulletin_id: str, draft: Draft) -> int:
        """A draft or rejected revision is mended in place, a submitted one goes back to a draft; a published one
        gets a new revision, which waits for approval while the published one plays on."""
        head = self.bulletin(bulletin_id, self.reach(actor.officer))
        self._allowed(actor.officer, Verb.WRITE, head.unit)
        self._check_draft(draft, head.unit, actor.at)
        latest = self.revision(bulletin_id, int(head.latest))
        state = State(latest.state)
        with self.engine.begin() as conn:
            if state in (State.DRAFT, State.REJECTED, State.SUBMITTED):
                revision = int(head.latest)
                done = conn.execute(
                    sa.update(t.revisions)
                    .where(t.revisions.c.bulletin == bulletin_id, t.revisions.c.revision == revision, t.revisions.c.state == state.value)
                    .values(
                        **{
                            k: v
                            for k, v in self._revision_row(bulletin_id, revision, draft, actor).items()
                            if k not in ("bulletin", "revision")
                        },
                        submitted_at=None,
                        decided_by=None,
                        decided_at=None,
                        reason=None,
                    )
                )
                if done.rowcount != 1:
                    raise Conflict(refusal_of_state(state, Verb.WRITE))
            else:
                revision = int(head.latest) + 1
                conn.execute(sa.insert(t.revisions), self._revision_row(bulletin_id, revision, draft, actor))
            self._head(conn, bulletin_id, actor, latest=revision, title=draft.title, state=State.DRAFT)
            self._record(conn, actor, "bulletin.edit", head.unit, f"bản tin “{draft.title}”", f"bản {revision}")
        return revision

    def _check_draft(self, draft: Draft, unit: str, now: datetime) -> None:
        if draft.category not in _CATEGORIES:
            raise NotAllowed("Hãy chọn lĩnh vực của bản tin.")
        if draft.valid_until is None:
            raise NotAllowed("Hãy chọn đến khi nào bản tin còn hiệu lực (một bản tin không được phát mãi).")
        if draft.valid_until <= now:
            raise NotAllowed("Thời gian hết hiệu lực đã qua; hãy chọn một thời điểm sau bây giờ.")
        self.check_targets(draft.targets, unit)
        problem = draft_problem(draft, now)
        if problem:
            raise NotAllowed(f"Bản tin chưa hợp lệ: {problem_vi(problem)}")

    def _revision_row(self, bulletin_id: str, revision: int, draft: Draft, actor: Actor) -> dict[str, Any]:
        media = draft.media
        return {
            "bulletin": bulletin_id,
            "revision": revision,
            "state": State.DRAFT.value,
            "kind": draft.kind.value,
            "title": draft.title,
            "body": draft.body,
            "media_sha256": media.sha256 if media else None,
            "media_type": media.type if media else None,
            "media_bytes": media.bytes if media else None,
            "media_name": media.name if media else None,
            "duration_s": draft.duration_s,
            "priority": draft.priority.value,
            "category": draft.category,
            "valid_from": _ts(draft.valid_from),
            "valid_until": _ts(draft.valid_until),
            "slots": json.dumps(list(draft.slots), ensure_ascii=False),
            "targets": draft.targets.to_json(),
            "author": actor.officer,
            "created_at": actor.ts,
            "alone": False,
        }

    def _head(self, conn: Connection, bulletin_id: str, actor: Actor, **values: Any) -> None:
        if "state" in values:
            values["state"] = values["state"].value
        conn.execute(sa.update(t.source_bulletins).where(t.source_bulletins.c.id == bulletin_id).values(updated_at=actor.ts, **values))

    def submit(self, actor: Actor, bulletin_id: str, revision: int) -> None:
        self._move(actor, bulletin_id, revision, Verb.SUBMIT)

    def recall(self, actor: Actor, bulletin_id: str, revision: int) -> None:
        self._move(actor, bulletin_id, revision, Verb.RECALL)

    def reject(self, actor: Actor, bulletin_id: str, revision: int, reason: str) -> None:
        reason = " ".join(reason.split())[:1000]
        if not reason:
            raise NotAllowed("Hãy ghi lý do từ chối để người viết biết cần sửa gì.")
        self._move(actor, bulletin_id, revision, Verb.REJECT, reason=reason)

    def approve(self, actor: Actor, bulletin_id: str, revision: int, *, alone: bool = False) -> set[str]:
        """Approve and publish; `alone`: an emergency written and approved by one approver. Returns the units whose
        feeds change (those of the boards it now targets and of those it targeted before)."""
        return self._move(actor, bulletin_id, revision, Verb.PUBLISH_ALONE if alone else Verb.APPROVE)

    def withdraw(self, actor: Actor, bulletin_id: str, reason: str) -> set[str]:
        head = self.bulletin(bulletin_id, self.reach(actor.officer))
        if head.live is None:
            raise Conflict("Bản tin này không còn đang phát; không có gì để thu hồi.")
        return self._move(actor, bulletin_id, int(head.live), Verb.WITHDRAW, reason=" ".join(reason.split())[:1000] or None)

    def _move(self, actor: Actor | None, bulletin_id: str, revision: int, verb: Verb, reason: str | None = None) -> set[str]:
        """One state change of one revision, decided by the rules, applied only if no one changed it meanwhile."""
        head = self.bulletin(bulletin_id, None if actor is None else self.reach(actor.officer))
        row = self.revision(bulletin_id, revision)
        state = State(row.state)
        if actor is not None:
            self._allowed(actor.officer, verb, head.unit, Facts(author=row.author, emergency=row.priority == Priority.EMERGENCY.value))
        target = next_state(state, verb)
        if target is None:
            raise Conflict(refusal_of_state(state, verb))
        who = actor or Actor("hệ thống", "-", datetime.now(UTC))
        values: dict[str, Any] = {"state": target.value}
        if verb is Verb.SUBMIT:
            values["submitted_at"] = who.ts
        if verb in (Verb.APPROVE, Verb.PUBLISH_ALONE, Verb.REJECT):
            values.update(decided_by=who.officer, decided_at=who.ts)
        if verb in (Verb.WITHDRAW, Verb.EXPIRE):
            values.update(ended_by=who.officer, ended_at=who.ts)
        if verb is Verb.PUBLISH_ALONE:
            values.update(alone=True, submitted_at=row.submitted_at or who.ts)
        if reason is not None:
            values["reason"] = reason
        touched: set[str] = set()
        board_units = self.board_units()
        with self.engine.begin() as conn:
            done = conn.execute(
                sa.update(t.revisions)
                .where(t.revisions.c.bulletin == bulletin_id, t.revisions.c.revision == revision, t.revisions.c.state == state.value)
                .values(**values)
            )
            if done.rowcount != 1:
                raise Conflict(refusal_of_state(state, verb))
            head_values: dict[str, Any] = {}
            if target is State.APPROVED or verb in (Verb.WITHDRAW, Verb.EXPIRE):
                old = set(conn.execute(sa.select(t.live_boards.c.board).where(t.live_boards.c.bulletin == bulletin_id)).scalars())
                touched |= {board_units[b] for b in old if b in board_units}
                conn.execute(sa.delete(t.live_boards).where(t.live_boards.c.bulletin == bulletin_id))
                if target is State.APPROVED:
                    if head.live is not None and int(head.live) != revision:
                        conn.execute(
                            sa.update(t.revisions)
                            .where(
                                t.revisions.c.bulletin == bulletin_id,
                                t.revisions.c.revision == int(head.live),
                                t.revisions.c.state == State.APPROVED.value,
                            )
                            .values(state=State.REPLACED.value)
                        )
                    new = self.resolve(Targets.from_json(row.targets))
                    if new:
                        conn.execute(sa.insert(t.live_boards), [{"bulletin": bulletin_id, "board": b} for b in sorted(new)])
                    touched |= {board_units[b] for b in new}
                    head_values["live"] = revision
                else:
                    head_values["live"] = None
            if revision == int(head.latest):
                head_values["state"] = target
            self._head(conn, bulletin_id, who, **head_values)
            detail = (
                f"bản {revision}"
                + (f"; lý do: {reason}" if reason else "")
                + ("; một người duyệt đăng khẩn cấp" if verb is Verb.PUBLISH_ALONE else "")
            )
            self._record(conn, who, f"bulletin.{verb.value}", head.unit, f"bản tin “{row.title}”", detail)
        return touched

    def expire_due(self, now: datetime) -> set[str]:
        """Live bulletins whose validity ended: expired, out of the feeds. Returns the units whose feeds change."""
        with self.engine.connect() as conn:
            due = list(
                conn.execute(
                    sa.select(t.source_bulletins.c.id, t.source_bulletins.c.live)
                    .join(
                        t.revisions,
                        sa.and_(t.revisions.c.bulletin == t.source_bulletins.c.id, t.revisions.c.revision == t.source_bulletins.c.live),
                    )
                    .where(t.revisions.c.valid_until.is_not(None), t.revisions.c.valid_until <= now.timestamp())
                )
            )
        touched: set[str] = set()
        for row in due:
            with suppress(Conflict):  # withdrawn meanwhile
                touched |= self._move(None, row.id, int(row.live), Verb.EXPIRE)
        return touched

    def bulletin(self, bulletin_id: str, units: set[str] | None) -> Any:
        """The bulletin's head row; NotFound unless it belongs to one of `units` (None: any)."""
        if not isinstance(bulletin_id, str) or len(bulletin_id) > 200 or not bulletin_id.isprintable():
            raise NotFound("Không tìm thấy bản tin này.")
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.source_bulletins).where(t.source_bulletins.c.id == bulletin_id)).first()
        if row is None or (units is not None and row.unit not in units):
            raise NotFound("Không tìm thấy bản tin này.")
        return row

    def revision(self, bulletin_id: str, revision: int) -> Any:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(t.revisions).where(t.revisions.c.bulletin == bulletin_id, t.revisions.c.revision == revision)
            ).first()
        if row is None:
            raise NotFound("Không tìm thấy bản này của bản tin.")
        return row

    def titles(self, ids: Iterable[str]) -> dict[str, str]:
        """Each known bulletin's newest title, by id (ids not of the source system are left out)."""
        wanted = sorted({bulletin_id for bulletin_id in ids if isinstance(bulletin_id, str) and bulletin_id})
        found: dict[str, str] = {}
        b = t.source_bulletins
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                rows = conn.execute(sa.select(b.c.id, b.c.title).where(b.c.id.in_(wanted[start : start + 500])))
                found.update({row.id: row.title for row in rows})
        return found

    def categories(self, ids: Iterable[str]) -> dict[str, str]:
        """Each known bulletin's category (lĩnh vực) as its live or newest revision says, by id."""
        wanted = sorted({bulletin_id for bulletin_id in ids if isinstance(bulletin_id, str) and bulletin_id})
        found: dict[str, str] = {}
        b, r = t.source_bulletins, t.revisions
        revision = sa.func.coalesce(b.c.live, b.c.latest)
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                rows = conn.execute(
                    sa.select(b.c.id, r.c.category)
                    .join(r, sa.and_(r.c.bulletin == b.c.id, r.c.revision == revision))
                    .where(b.c.id.in_(wanted[start : start + 500]))
                )
                found.update({row.id: row.category for row in rows})
        return found

    def history(self, bulletin_id: str) -> list[Any]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(sa.select(t.revisions).where(t.revisions.c.bulletin == bulletin_id).order_by(t.revisions.c.revision.desc()))
            )

    def listing(self, units: set[str], *, state: str | None = None, query: str = "", page: int = 1) -> tuple[list[Any], int]:
        """Bulletins of `units`, newest change first, PAGE to a page; and how many match."""
        b = t.source_bulletins
        where = [b.c.unit.in_(sorted(units))]
        if state:
            where.append(b.c.state == state)
        if query:
            where.append(b.c.title.ilike(f"%{_like_escape(query)}%", escape="\\"))
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(b).where(*where)).scalar_one()
            rows = list(
                conn.execute(sa.select(b).where(*where).order_by(b.c.updated_at.desc()).limit(PAGE).offset((max(1, page) - 1) * PAGE))
            )
        return rows, int(total)

    def queue(self, units: set[str], limit: int = PAGE) -> list[Any]:
        """What waits for approval in `units`, oldest first."""
        r, b = t.revisions, t.source_bulletins
        query = (
            sa.select(r, b.c.unit)
            .join(b, b.c.id == r.c.bulletin)
            .where(r.c.state == State.SUBMITTED.value, b.c.unit.in_(sorted(units)))
            .order_by(r.c.submitted_at)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    # --- what the feeds carry ------------------------------------------------------------------------

    def boards_by_unit(self) -> dict[str, set[str]]:
        """Each unit's own boards (a feed's audience), from one query."""
        found: dict[str, set[str]] = {}
        for row in self.boards():
            found.setdefault(row.unit, set()).add(row.id)
        return found

    def feed_items(self, unit: str, unit_boards: set[str] | None = None) -> list[tuple[Bulletin, Path | None]]:
        """Every live bulletin that targets a board of `unit` (boards whose own unit it is), each with
        `boards` = ["*"] when it targets all of them, else the ones it targets; and its media file."""
        if unit_boards is None:
            unit_boards = self.boards_by_unit().get(unit, set())
        return self.feed_items_many({unit: unit_boards})[unit]

    def feed_items_many(self, audiences: Mapping[str, set[str]]) -> dict[str, list[tuple[Bulletin, Path | None]]]:
        """feed_items for several units (each with its boards) from one query of who targets which board, then
        only the revisions not built already: a province-wide approval republishes 100 feeds of ~150 bulletins,
        nearly all of them built before."""
        unit_of = {board: unit for unit, boards in audiences.items() for board in boards}
        targeted: dict[str, dict[tuple[str, int], list[str]]] = {unit: {} for unit in audiences}
        lb, r, b = t.live_boards, t.revisions, t.source_bulletins
        with self.engine.connect() as conn:
            if unit_of:
                # One row per bulletin with its boards joined by commas (a board id has none): a province-wide
                # bulletin is one row, not 300.
                joined = (
                    sa.func.string_agg(lb.c.board, ",")
                    if self.engine.dialect.name == "postgresql"
                    else sa.func.group_concat(lb.c.board, ",")
                )
                pairs = (
                    sa.select(lb.c.bulletin, b.c.live, joined)
                    .select_from(lb.join(b, b.c.id == lb.c.bulletin))
                    .where(b.c.live.is_not(None))
                    .group_by(lb.c.bulletin, b.c.live)
                )
                if len(unit_of) < 5000:  # else every live bulletin: cheaper than a statement naming thousands of boards
                    pairs = pairs.where(lb.c.board.in_(sorted(unit_of)))
                for bulletin_id, live, boards in conn.execute(pairs):
                    key = (bulletin_id, int(live))
                    for board in boards.split(","):
                        unit = unit_of.get(board)
                        if unit is not None:
                            targeted[unit].setdefault(key, []).append(board)
            wanted: dict[str, dict[tuple[str, int], tuple[str, ...]]] = {
                unit: {key: ("*",) if set(boards) == audiences[unit] else tuple(sorted(boards)) for key, boards in found.items()}
                for unit, found in targeted.items()
            }
            built = {unit: {key: self._cached((*key, targets)) for key, targets in keys.items()} for unit, keys in wanted.items()}
            missing = sorted({key for found in built.values() for key, bulletin in found.items() if bulletin is None})
            for start in range(0, len(missing), 500):
                chunk = sorted({bulletin_id for bulletin_id, _ in missing[start : start + 500]})
                rows = conn.execute(
                    sa.select(r).join(b, sa.and_(b.c.id == r.c.bulletin, b.c.live == r.c.revision)).where(r.c.bulletin.in_(chunk))
                )
                for row in rows:
                    key = (row.bulletin, int(row.revision))
                    for unit, keys in wanted.items():
                        if key in keys and built[unit][key] is None:
                            built[unit][key] = self._built(row, keys[key])
        return {
            unit: [
                (bulletin, self.media_root / bulletin.media.sha256 if bulletin.media else None)
                for _key, bulletin in sorted(found.items(), key=lambda pair: pair[0])
                if bulletin is not None  # a revision replaced between the two queries: the next publication has it
            ]
            for unit, found in built.items()
        }

    def _cached(self, key: tuple[str, int, tuple[str, ...]]) -> Bulletin | None:
        with self._built_lock:
            found = self._built_cache.get(key)
            if found is not None:
                self._built_cache.move_to_end(key)
            return found

    def _built(self, row: Any, targets: tuple[str, ...]) -> Bulletin:
        """The Bulletin of an approved revision for one feed's boards. An approved revision never changes, so it is
        built (parsed and checked as a board would) once per target list, not for every feed of every approval."""
        key = (row.bulletin, int(row.revision), targets)
        with self._built_lock:
            found = self._built_cache.get(key)
            if found is not None:
                self._built_cache.move_to_end(key)
                return found
        data = feed_dict(row, list(targets), row.decided_by, row.decided_at)
        bulletin = parse_bulletin(data, BulletinInput(origin=f"bản tin {row.bulletin}"))
        with self._built_lock:
            self._built_cache[key] = bulletin
            while len(self._built_cache) > BUILT_KEPT:
                self._built_cache.popitem(last=False)
        return bulletin

    def live_for_board(self, board_id: str) -> list[Bulletin]:
        """What a board plays now from the source system (for the preview's "when will it play")."""
        unit = self.board_units().get(board_id)
        if unit is None:
            return []
        return [bulletin for bulletin, _ in self.feed_items(unit) if bulletin.targets(board_id)]

    def issue_command(
        self, actor: Actor, action: str, boards: Sequence[str], expires_in: timedelta = timedelta(hours=24)
    ) -> tuple[str, set[str]]:
        """A command for `boards` (all of which the officer may command); returns its id and the units whose feeds carry it."""
        if action not in COMMAND_LABELS:
            raise NotAllowed("Lệnh này không có.")
        if not boards:
            raise NotAllowed("Hãy chọn ít nhất một bảng tin.")
        units = self.board_units()
        allowed = self.reach(actor.officer, Verb.COMMAND)
        if any(units.get(board) not in allowed for board in boards):
            raise NotFound("Không tìm thấy bảng tin này.")
        touched = {units[board] for board in boards}
        command_id = f"cmd-{secrets.token_hex(6)}"
        owner = sorted(touched)[0] if len(touched) == 1 else self.root
        with self.engine.begin() as conn:
            conn.execute(
                sa.insert(t.source_commands),
                {
                    "id": command_id,
                    "unit": owner,
                    "action": action,
                    "boards": json.dumps(sorted(set(boards))),
                    "issued_by": actor.officer,
                    "issued_at": actor.ts,
                    "expires_at": actor.ts + expires_in.total_seconds(),
                },
            )
            self._record(
                conn,
                actor,
                "command",
                owner,
                COMMAND_LABELS[action],
                f"cho {len(set(boards))} bảng tin: {self._board_names(boards)} (lệnh {command_id})",
            )
        return command_id, touched

    def live_commands(self, now: datetime) -> list[Any]:
        """Every command not yet expired, oldest first."""
        c = t.source_commands
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(c).where(c.c.expires_at > now.timestamp()).order_by(c.c.issued_at)))

    def feed_commands(
        self, unit: str, now: datetime, unit_boards: set[str] | None = None, live: Sequence[Any] | None = None
    ) -> list[dict[str, Any]]:
        """Unexpired commands for the boards of `unit`, as feed-v1 writes them (only those boards named)."""
        if unit_boards is None:
            unit_boards = self.boards_by_unit().get(unit, set())
        commands = []
        for row in self.live_commands(now) if live is None else live:
            boards = sorted(set(json.loads(row.boards)) & unit_boards)
            if boards:
                commands.append(
                    {
                        "id": row.id,
                        "boards": boards,
                        "action": row.action,
                        "issued_at": _moment(row.issued_at).isoformat(),  # type: ignore[union-attr]
                        "expires_at": _moment(row.expires_at).isoformat(),
                    }  # type: ignore[union-attr]
                )
        return commands

    def commands_for(self, board_id: str, limit: int = 20) -> list[Any]:
        c = t.source_commands
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(c)
                .where(c.c.boards.like(f'%"{_like_escape(board_id)}"%', escape="\\"))
                .order_by(c.c.issued_at.desc())
                .limit(limit)
            )
            return list(rows)

    def feeds_published(self, sequences: Mapping[str, int], at: datetime, expires_at: datetime) -> None:
        """Each unit's feed as just published (its sequence), in one transaction."""
        if not sequences:
            return
        ins = _insert(self.engine)(t.feeds)
        upsert = ins.on_conflict_do_update(
            index_elements=["unit"],
            set_={"sequence": ins.excluded.sequence, "published_at": ins.excluded.published_at, "expires_at": ins.excluded.expires_at},
        )
        rows = [
            {"unit": unit, "sequence": sequence, "published_at": at.timestamp(), "expires_at": expires_at.timestamp()}
            for unit, sequence in sequences.items()
        ]
        with self.engine.begin() as conn:
            conn.execute(upsert, rows)

    def feeds(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return {row.unit: row for row in conn.execute(sa.select(t.feeds))}

    def feed_units(self) -> set[str]:
        """Units that have boards (each has a feed)."""
        return {row.unit for row in self.boards()}

    # --- the record ----------------------------------------------------------------------------------

    def record(self, actor: Actor, action: str, unit: str | None, subject: str, detail: str = "") -> None:
        """An audit row for an action that changes nothing here (a sign-in, a failed one)."""
        with self.engine.begin() as conn:
            self._record(conn, actor, action, unit, subject, detail)

    def _record(self, conn: Connection, actor: Actor, action: str, unit: str | None, subject: str, detail: str) -> None:
        conn.execute(
            sa.insert(t.audit),
            {
                "at": actor.ts,
                "officer": actor.officer[:100],
                "address": actor.address[:100],
                "action": action,
                "unit": unit,
                "subject": subject[:1000],
                "detail": detail[:4000],
            },
        )

    def audit_rows(
        self,
        units: set[str] | None,
        *,
        officer: str = "",
        action: str = "",
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Iterator[Any]:
        """The record, newest first; `units` None: all of it (the root's administrators)."""
        a = t.audit
        where = []
        if units is not None:
            where.append(a.c.unit.in_(sorted(units)))
        if officer:
            where.append(a.c.officer == officer)
        if action:
            where.append(a.c.action.like(f"{_like_escape(action)}%", escape="\\"))
        if since is not None:
            where.append(a.c.at >= since)
        if until is not None:
            where.append(a.c.at < until)
        with self.engine.connect() as conn:
            yield from conn.execute(sa.select(a).where(*where).order_by(a.c.at.desc(), a.c.id.desc()).limit(limit).offset(offset))


_ROLE_VALUES = {role.value for role in Role}
_CATEGORIES = set(CATEGORIES)


def officer_name_ok(name: str) -> bool:
    return 2 <= len(name) <= 50 and name.isascii() and all(ch.islower() or ch.isdigit() or ch in "._-" for ch in name) and name[0].isalnum()


def _clean_name(name: str, what: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > 100 or not cleaned.isprintable():
        raise NotAllowed(f"{what} phải có từ 1 đến 100 ký tự in được.")
    return cleaned


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _bump_generation(conn: Connection) -> None:
    """The boards changed: every hub process re-reads the pinned keys (the join endpoint watches this)."""
    current = conn.execute(sa.select(t.settings.c.value).where(t.settings.c.key == "boards_generation")).scalar()
    if current is None:
        conn.execute(sa.insert(t.settings), {"key": "boards_generation", "value": "1"})
    else:
        conn.execute(sa.update(t.settings).where(t.settings.c.key == "boards_generation").values(value=str(int(current) + 1)))


def _insert(engine: Engine) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql if engine.dialect.name == "postgresql" else sqlite).insert


def valid_board_id(text: str) -> bool:
    return BOARD_ID.fullmatch(text) is not None
