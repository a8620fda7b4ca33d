"""Who may do what in the source system, and which state a bulletin moves to: pure decisions, no I/O, no clock.

Units form a tree: the province (the root) and its communes. A role held at a unit holds for it and every unit
beneath it, so the province's approver may approve a commune's bulletin and a commune's people never reach another
commune. Four eyes: the author of a revision never approves it; only an emergency may be written and published by
one approver alone, and is marked so everywhere (Thông tư 39/2020: an emergency plays at once).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class Role(enum.Enum):
    EDITOR = "editor"
    APPROVER = "approver"
    ADMIN = "admin"

    @property
    def label_vi(self) -> str:
        return {"editor": "Biên tập viên", "approver": "Người duyệt", "admin": "Quản trị"}[self.value]


class State(enum.Enum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"  # and published: in the feeds while it is valid
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    REPLACED = "replaced"  # was approved; a newer approved revision of the same bulletin plays instead

    @property
    def label_vi(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    State.DRAFT: "Nháp",
    State.SUBMITTED: "Chờ duyệt",
    State.APPROVED: "Đã duyệt",
    State.REJECTED: "Bị từ chối",
    State.WITHDRAWN: "Đã thu hồi",
    State.EXPIRED: "Hết hạn",
    State.REPLACED: "Đã thay bằng bản mới",
}


class Verb(enum.Enum):
    READ = "read"
    WRITE = "write"  # create a bulletin, edit a draft, or start a new revision of a published one
    SUBMIT = "submit"
    RECALL = "recall"  # the author takes a submitted revision back to a draft
    APPROVE = "approve"
    PUBLISH_ALONE = "publish_alone"  # an emergency, written and approved by one approver
    REJECT = "reject"
    WITHDRAW = "withdraw"
    EXPIRE = "expire"  # the hub's own, when a bulletin's validity ends
    COMMAND = "command"  # screenshot, sync, restart, display on/off
    MANAGE = "manage"  # people, roles, boards, groups, communes


# Priority words of Thông tư 39/2020 as the officer picks them.
PRIORITY_LABELS = {"normal": "Thường", "high": "Ưu tiên", "emergency": "Khẩn cấp"}

# Lĩnh vực: what a bulletin is about, for the effectiveness figures.
CATEGORIES = {
    "chinh-sach": "Chủ trương, chính sách, pháp luật",
    "y-te": "Y tế, phòng chống dịch bệnh",
    "thien-tai": "Phòng chống thiên tai, cứu hộ",
    "an-ninh": "An ninh trật tự, an toàn giao thông",
    "giao-duc": "Giáo dục",
    "van-hoa": "Văn hóa, thể thao, du lịch",
    "kinh-te": "Kinh tế, nông nghiệp, việc làm",
    "hanh-chinh": "Thủ tục hành chính, dịch vụ công",
    "moi-truong": "Tài nguyên, môi trường",
    "khac": "Khác",
}

# Which roles may do each verb (at the unit that owns the subject, or any unit above it).
ALLOWED: dict[Verb, frozenset[Role]] = {
    Verb.READ: frozenset(Role),
    Verb.WRITE: frozenset({Role.EDITOR, Role.APPROVER}),
    Verb.SUBMIT: frozenset({Role.EDITOR, Role.APPROVER}),
    Verb.RECALL: frozenset({Role.EDITOR, Role.APPROVER}),
    Verb.APPROVE: frozenset({Role.APPROVER}),
    Verb.PUBLISH_ALONE: frozenset({Role.APPROVER}),
    Verb.REJECT: frozenset({Role.APPROVER}),
    Verb.WITHDRAW: frozenset({Role.APPROVER}),
    Verb.EXPIRE: frozenset(),  # the hub's alone
    Verb.COMMAND: frozenset({Role.APPROVER, Role.ADMIN}),
    Verb.MANAGE: frozenset({Role.ADMIN}),
}

# From a revision's state, the verb that moves it, and where to.
TRANSITIONS: dict[tuple[State, Verb], State] = {
    (State.DRAFT, Verb.WRITE): State.DRAFT,
    (State.REJECTED, Verb.WRITE): State.DRAFT,  # the author mends it and sends it again
    (State.DRAFT, Verb.SUBMIT): State.SUBMITTED,
    (State.SUBMITTED, Verb.RECALL): State.DRAFT,
    (State.SUBMITTED, Verb.APPROVE): State.APPROVED,
    (State.SUBMITTED, Verb.REJECT): State.REJECTED,
    (State.DRAFT, Verb.PUBLISH_ALONE): State.APPROVED,
    (State.SUBMITTED, Verb.PUBLISH_ALONE): State.APPROVED,
    (State.APPROVED, Verb.WITHDRAW): State.WITHDRAWN,
    (State.APPROVED, Verb.EXPIRE): State.EXPIRED,
}

VERB_DONE = {
    Verb.SUBMIT: "gửi duyệt",
    Verb.RECALL: "rút lại",
    Verb.APPROVE: "duyệt",
    Verb.PUBLISH_ALONE: "đăng khẩn cấp",
    Verb.REJECT: "từ chối",
    Verb.WITHDRAW: "thu hồi",
    Verb.WRITE: "sửa",
}


@dataclass(frozen=True, slots=True)
class Grant:
    unit: str
    role: Role


@dataclass(frozen=True, slots=True)
class UnitTree:
    """The units and their parents (the root's is None)."""

    parents: Mapping[str, str | None]

    def chain(self, unit: str) -> list[str]:
        """The unit, its parent, … up to the root; [] for an unknown unit. A cycle (a damaged table) stops."""
        chain: list[str] = []
        current: str | None = unit
        while current is not None and current in self.parents and current not in chain:
            chain.append(current)
            current = self.parents[current]
        return chain

    def within(self, unit: str) -> set[str]:
        """The unit and every unit beneath it."""
        return {candidate for candidate in self.parents if unit in self.chain(candidate)}

    def root(self) -> str | None:
        return next((unit for unit, parent in self.parents.items() if parent is None), None)


def roles_at(grants: Iterable[Grant], tree: UnitTree, unit: str) -> set[Role]:
    """The roles an officer holds at `unit`: those granted there or at any unit above it."""
    chain = set(tree.chain(unit))
    return {grant.role for grant in grants if grant.unit in chain}


def reach(grants: Iterable[Grant], tree: UnitTree, verb: Verb = Verb.READ) -> set[str]:
    """Every unit where the officer may do `verb`."""
    allowed = ALLOWED[verb]
    units: set[str] = set()
    for grant in grants:
        if grant.role in allowed:
            units |= tree.within(grant.unit)
    return units


@dataclass(frozen=True, slots=True)
class Facts:
    """What a decision about one revision needs to know besides the officer's roles."""

    author: str | None = None
    emergency: bool = False


NO_FACTS = Facts()


def may(officer: str, grants: Iterable[Grant], tree: UnitTree, verb: Verb, unit: str, facts: Facts | None = None) -> str | None:
    """None when `officer` may do `verb` to something of `unit`, else the reason, in Vietnamese."""
    facts = facts or NO_FACTS
    held = roles_at(grants, tree, unit)
    if not held & ALLOWED[verb]:
        needed = " hoặc ".join(sorted(role.label_vi.lower() for role in ALLOWED[verb])) or "hệ thống"
        return f"Việc này cần quyền {needed} của đơn vị này."
    if verb is Verb.APPROVE and facts.author == officer:
        return "Người viết bản tin không được tự duyệt bản tin của mình; cần một người duyệt khác."
    if verb is Verb.PUBLISH_ALONE and not facts.emergency:
        return "Chỉ bản tin khẩn cấp mới được một người duyệt tự đăng ngay."
    if verb is Verb.RECALL and facts.author not in (None, officer) and not held & ALLOWED[Verb.APPROVE]:
        return "Chỉ người viết mới rút lại được bản tin đang chờ duyệt."
    return None


def next_state(state: State, verb: Verb) -> State | None:
    """Where `verb` takes a revision in `state`; None when it cannot (already decided, say, by someone else)."""
    return TRANSITIONS.get((state, verb))


def refusal_of_state(state: State, verb: Verb) -> str:
    """Why `verb` cannot be done to a revision in `state`, for the officer who tried."""
    done = VERB_DONE.get(verb, verb.value)
    return f"Không thể {done} bản tin đang ở trạng thái “{state.label_vi}”; có thể người khác vừa xử lý nó, hãy tải lại trang."


def edit_makes_new_revision(state: State) -> bool:
    """Editing a published (or finished) revision starts a new one, which waits for approval while the old plays on;
    a draft or a rejected one is mended in place; a submitted one goes back to a draft."""
    return state in (State.APPROVED, State.WITHDRAWN, State.EXPIRED, State.REPLACED)
