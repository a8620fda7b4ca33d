"""The source system's rules and data, on real SQLite and PostgreSQL, publishing real signed feeds into a site folder.

A province with two communes (Tân Quan, Tân Hưng), a board in each, and their people. Each test is named after what
an officer does and what must (or must never) follow; the feeds are read back with the board's own verifier.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from signage.district.hub.desk import Actor, Desk, Draft, Targets
from signage.district.hub.feeds import FeedSite
from signage.district.hub.publishing import Publisher
from signage.district.hub.rules import Facts, Grant, Role, State, UnitTree, Verb, may, next_state, reach
from signage.district.hub.store import HubStore
from signage.district.publish import read_held_feed
from signage.envelope import generate_key, load_private_key
from signage.errors import Conflict, NotAllowed, NotFound
from signage.model import Kind, Priority

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 23, 9, 5, tzinfo=HCM)
TREE = UnitTree({"tinh": None, "tan-quan": "tinh", "tan-hung": "tinh"})


# --- the rules (pure) --------------------------------------------------------------------------------------


def test_author_never_approves_own_revision_even_as_approver() -> None:
    grants = [Grant("tan-quan", Role.APPROVER)]
    assert may("lan", grants, TREE, Verb.APPROVE, "tan-quan", Facts(author="lan")) is not None
    assert may("lan", grants, TREE, Verb.APPROVE, "tan-quan", Facts(author="binh")) is None


def test_only_an_emergency_may_be_published_by_one_approver_alone() -> None:
    grants = [Grant("tan-quan", Role.APPROVER)]
    assert may("lan", grants, TREE, Verb.PUBLISH_ALONE, "tan-quan", Facts(author="lan", emergency=False)) is not None
    assert may("lan", grants, TREE, Verb.PUBLISH_ALONE, "tan-quan", Facts(author="lan", emergency=True)) is None
    assert may("an", [Grant("tan-quan", Role.EDITOR)], TREE, Verb.PUBLISH_ALONE, "tan-quan", Facts(emergency=True)) is not None


def test_commune_roles_stop_at_the_commune_and_province_roles_reach_every_commune() -> None:
    commune = [Grant("tan-quan", Role.APPROVER)]
    province = [Grant("tinh", Role.APPROVER)]
    assert may("lan", commune, TREE, Verb.APPROVE, "tan-hung", Facts(author="x")) is not None
    assert may("lan", commune, TREE, Verb.APPROVE, "tinh", Facts(author="x")) is not None
    assert may("tu", province, TREE, Verb.APPROVE, "tan-hung", Facts(author="x")) is None
    assert reach(commune, TREE) == {"tan-quan"}
    assert reach(province, TREE) == {"tinh", "tan-quan", "tan-hung"}
    assert reach([Grant("tan-quan", Role.EDITOR)], TREE, Verb.MANAGE) == set()


def test_states_move_only_along_the_approval_path() -> None:
    assert next_state(State.DRAFT, Verb.SUBMIT) is State.SUBMITTED
    assert next_state(State.SUBMITTED, Verb.APPROVE) is State.APPROVED
    assert next_state(State.APPROVED, Verb.APPROVE) is None  # a second approver finds it decided
    assert next_state(State.REJECTED, Verb.APPROVE) is None
    assert next_state(State.DRAFT, Verb.APPROVE) is None  # nothing is approved unseen
    assert next_state(State.WITHDRAWN, Verb.WITHDRAW) is None
    assert next_state(State.APPROVED, Verb.EXPIRE) is State.EXPIRED


def test_a_damaged_unit_table_with_a_cycle_does_not_hang_the_rules() -> None:
    looped = UnitTree({"a": "b", "b": "a"})
    assert looped.chain("a") == ["a", "b"]
    assert may("x", [Grant("a", Role.ADMIN)], looped, Verb.MANAGE, "b") is None


# --- the desk, on a real database, publishing real feeds ---------------------------------------------------


@dataclass
class Province:
    desk: Desk
    store: HubStore
    publisher: Publisher
    site: Path
    clock: list[datetime]

    def actor(self, name: str, minutes: float = 0) -> Actor:
        return Actor(name, "192.0.2.7", self.clock[0] + timedelta(minutes=minutes))

    def feed(self, unit: str) -> dict[str, dict]:
        held = read_held_feed(self.site / unit / "feed.json", load_private_key(self.site.parent / "district.key"), "test key")
        return {b.id: b for b in held.bulletins.values()}


@pytest.fixture(params=["sqlite", "postgresql"])
def province(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Province]:
    url = f"sqlite:///{tmp_path / 'hub.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    url = url if not url.startswith("postgresql://") else "postgresql+psycopg://" + url.split("://", 1)[1]
    store = HubStore.open(url, HCM)
    key = tmp_path / "district.key"
    generate_key(key)
    key.chmod(0o600)
    clock = [NOW]
    desk = Desk(store.engine, tmp_path / "media", "Tỉnh Bình Phước")
    site = FeedSite(tmp_path / "site", key, "Hệ thống thông tin nguồn tỉnh", timedelta(days=7))
    publisher = Publisher(desk, site, lambda: clock[0])
    store.set_user("admin", "x", NOW)  # the CLI's first administrator: admin of the province
    admin = Actor("admin", "127.0.0.1", NOW)
    for unit_name in ("Xã Tân Quan", "Xã Tân Hưng"):
        desk.add_unit(admin, unit_name, "tinh")
    with store.engine.begin() as conn:
        from signage.district.hub import schema as t

        conn.execute(
            t.boards.insert(),
            [
                {"id": "tq-cho", "name": "Chợ Tân Quan", "public_key": "ed25519:x", "keyid": "a" * 16, "unit": "xa-tan-quan"},
                {"id": "tq-ubnd", "name": "UBND Tân Quan", "public_key": "ed25519:y", "keyid": "b" * 16, "unit": "xa-tan-quan"},
                {"id": "th-ubnd", "name": "UBND Tân Hưng", "public_key": "ed25519:z", "keyid": "c" * 16, "unit": "xa-tan-hung"},
            ],
        )
    people = {"an": ("xa-tan-quan", [Role.EDITOR]), "lan": ("xa-tan-quan", [Role.APPROVER]), "binh": ("xa-tan-quan", [Role.APPROVER]),
              "hung": ("xa-tan-hung", [Role.APPROVER]), "tu": ("tinh", [Role.APPROVER]), "mai": ("tinh", [Role.APPROVER])}  # fmt: skip
    for name, (unit, roles) in people.items():
        desk.add_officer(admin, name, name.title(), "x", unit, roles)
    try:
        yield Province(desk, store, publisher, tmp_path / "site", clock)
    finally:
        store.close()


def notice(title: str = "Lịch tiêm chủng tháng 12", **changes: object) -> Draft:
    fields: dict = dict(kind=Kind.TEXT, title=title, body="Trạm y tế xã tiêm chủng mở rộng vào sáng thứ Bảy.",
                        targets=Targets(units=("xa-tan-quan",)), category="y-te", valid_until=NOW + timedelta(days=10))  # fmt: skip
    fields.update(changes)
    return Draft(**fields)  # type: ignore[arg-type]


def test_editor_writes_approver_of_the_commune_approves_and_only_its_boards_feed_carries_it(province: Province) -> None:
    desk = province.desk
    bid = desk.create(province.actor("an"), "xa-tan-quan", notice())
    desk.submit(province.actor("an", 1), bid, 1)
    with pytest.raises(NotAllowed):
        desk.approve(province.actor("an", 2), bid, 1)  # an editor has no approver's role in any case
    touched = desk.approve(province.actor("lan", 3), bid, 1)
    assert touched == {"xa-tan-quan"}
    province.publisher.publish(touched | {"xa-tan-hung"})
    feed = province.feed("xa-tan-quan")
    assert list(feed) == [bid] and feed[bid].boards == ("*",)
    assert feed[bid].approved_by == "lan" and feed[bid].approved_at == NOW + timedelta(minutes=3)
    assert province.feed("xa-tan-hung") == {}  # the other commune's board never receives it


def test_approver_cannot_approve_a_revision_they_wrote(province: Province) -> None:
    desk = province.desk
    bid = desk.create(province.actor("lan"), "xa-tan-quan", notice())
    desk.submit(province.actor("lan"), bid, 1)
    with pytest.raises(NotAllowed, match="không được tự duyệt"):
        desk.approve(province.actor("lan", 1), bid, 1)
    desk.approve(province.actor("binh", 2), bid, 1)
    assert desk.revision(bid, 1).decided_by == "binh"


def test_approver_of_another_commune_cannot_see_or_approve_it(province: Province) -> None:
    desk = province.desk
    bid = desk.create(province.actor("an"), "xa-tan-quan", notice())
    desk.submit(province.actor("an"), bid, 1)
    with pytest.raises(NotFound):
        desk.approve(province.actor("hung"), bid, 1)
    assert desk.queue(desk.reach("hung")) == []
    assert [row.bulletin for row in desk.queue(desk.reach("tu"))] == [bid]  # the province's approver sees it


def test_editor_cannot_target_a_board_of_another_commune(province: Province) -> None:
    with pytest.raises(NotFound):
        province.desk.create(province.actor("an"), "xa-tan-quan", notice(targets=Targets(boards=("th-ubnd",))))
    with pytest.raises(NotFound):
        province.desk.create(province.actor("an"), "xa-tan-quan", notice(targets=Targets(units=("xa-tan-hung",))))
    with pytest.raises(NotAllowed):
        province.desk.create(province.actor("an"), "xa-tan-hung", notice(targets=Targets(units=("xa-tan-hung",))))


def test_province_bulletin_for_every_commune_reaches_each_feed_as_all_its_boards(province: Province) -> None:
    desk = province.desk
    bid = desk.create(province.actor("tu"), "tinh", notice(targets=Targets(units=("tinh",))))
    desk.submit(province.actor("tu"), bid, 1)
    with pytest.raises(NotFound):
        desk.approve(province.actor("lan", 1), bid, 1)  # a commune's approver cannot reach the province's bulletin
    touched = desk.approve(province.actor("mai", 1), bid, 1)
    assert touched == {"xa-tan-quan", "xa-tan-hung"}
    province.publisher.publish(touched)
    assert province.feed("xa-tan-quan")[bid].boards == ("*",) and province.feed("xa-tan-hung")[bid].boards == ("*",)


def test_a_group_of_some_boards_reaches_only_those_boards(province: Province) -> None:
    desk = province.desk
    market = desk.add_group(province.actor("admin"), "xa-tan-quan", "Chợ", ["tq-cho"])
    bid = desk.create(province.actor("an"), "xa-tan-quan", notice(targets=Targets(groups=(market,))))
    desk.submit(province.actor("an"), bid, 1)
    province.publisher.publish(desk.approve(province.actor("lan"), bid, 1))
    assert province.feed("xa-tan-quan")[bid].boards == ("tq-cho",)


def test_a_board_accepted_or_moved_into_a_commune_plays_what_targets_that_commune_and_no_longer_its_old_ones(
    province: Province,
) -> None:
    desk = province.desk
    quan = desk.create(province.actor("an"), "xa-tan-quan", notice("Bão số 9", priority=Priority.EMERGENCY))
    desk.submit(province.actor("an"), quan, 1)
    desk.approve(province.actor("lan"), quan, 1)
    hung = desk.create(province.actor("hung"), "xa-tan-hung", notice("Họp dân Tân Hưng", targets=Targets(units=("xa-tan-hung",))))
    desk.submit(province.actor("hung"), hung, 1)
    desk.approve(province.actor("tu"), hung, 1)
    # A board joins after the emergency went out to its commune: accepted, it must carry it (targets name the commune).
    with desk.engine.begin() as conn:
        from signage.district.hub import schema as t

        moment = NOW.timestamp()
        conn.execute(t.board_requests.insert().values(keyid="d" * 16, board_id="tq-truong", name="Trường Tân Quan",
                     public_key="ed25519:w", address="192.0.2.9", requested_at=moment, last_seen=moment, times=1))  # fmt: skip
    desk.accept_board(province.actor("admin"), "d" * 16, "xa-tan-quan", "Trường Tân Quan")
    # And a board moved from Tân Hưng to Tân Quan takes Tân Quan's bulletins, never Tân Hưng's any more.
    desk.move_board(province.actor("admin"), "th-ubnd", "xa-tan-quan")
    province.publisher.publish({"xa-tan-quan", "xa-tan-hung"})
    assert set(province.feed("xa-tan-quan")) == {quan} and province.feed("xa-tan-quan")[quan].boards == ("*",)
    assert province.feed("xa-tan-hung") == {}  # no board of Tân Hưng is left


def test_a_board_added_to_or_taken_from_a_group_gains_or_loses_what_targets_the_group(province: Province) -> None:
    desk = province.desk
    market = desk.add_group(province.actor("admin"), "xa-tan-quan", "Chợ", ["tq-cho"])
    bid = desk.create(province.actor("an"), "xa-tan-quan", notice(targets=Targets(groups=(market,))))
    desk.submit(province.actor("an"), bid, 1)
    province.publisher.publish(desk.approve(province.actor("lan"), bid, 1))
    touched = desk.set_group_boards(province.actor("admin"), market, ["tq-ubnd"])  # the market's board is now the hall's
    assert touched == {"xa-tan-quan"}
    province.publisher.publish(touched)
    assert province.feed("xa-tan-quan")[bid].boards == ("tq-ubnd",)


def test_two_approvers_approving_at_once_publish_it_once(province: Province) -> None:
    desk = province.desk
    bid = desk.create(province.actor("an"), "xa-tan-quan", notice())
    desk.submit(province.actor("an"), bid, 1)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def approve(name: str) -> None:
        barrier.wait()
        try:
            desk.approve(province.actor(name, 1), bid, 1)
            outcomes.append("approved")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=approve, args=(name,)) for name in ("lan", "binh")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["approved", "conflict"]
    approvals = [row for row in desk.audit_rows(None, action="bulletin.approve")]
    assert len(approvals) == 1


def test_editing_an_approved_bulletin_waits_while_the_approved_one_keeps_playing(province: Province) -> None:
    desk = province.desk
    bid = desk.create(province.actor("an"), "xa-tan-quan", notice())
    desk.submit(province.actor("an"), bid, 1)
    province.publisher.publish(desk.approve(province.actor("lan", 1), bid, 1))
    assert desk.edit(province.actor("an", 2), bid, notice("Lịch tiêm chủng (đổi giờ)")) == 2
    desk.submit(province.actor("an", 3), bid, 2)
    province.publisher.publish({"xa-tan-quan"})
    assert province.feed("xa-tan-quan")[bid].revision == 1  # revision 2 waits; 1 plays on
    assert desk.bulletin(bid, None).live == 1
    province.publisher.publish(desk.approve(province.actor("binh", 4), bid, 2))
    assert province.feed("xa-tan-quan")[bid].title == "Lịch tiêm chủng (đổi giờ)"
    assert [State(row.state) for row in desk.history(bid)] == [State.APPROVED, State.REPLACED]


def test_rejected_revision_tells_the_author_why_and_never_reaches_a_feed(province: Province) -> None:
    desk = province.desk
    bid = desk.create(province.actor("an"), "xa-tan-quan", notice())
    desk.submit(province.actor("an"), bid, 1)
    with pytest.raises(NotAllowed):
        desk.reject(province.actor("lan"), bid, 1, "   ")  # a reason is required
    desk.reject(province.actor("lan"), bid, 1, "Sai ngày tiêm, đề nghị kiểm tra lại.")
    assert desk.revision(bid, 1).reason == "Sai ngày tiêm, đề nghị kiểm tra lại."
    with pytest.raises(Conflict):
        desk.approve(province.actor("binh"), bid, 1)
    province.publisher.publish({"xa-tan-quan"})
    assert province.feed("xa-tan-quan") == {}


def test_withdrawal_takes_it_out_of_the_feed(province: Province) -> None:
    desk = province.desk
    bid = desk.create(province.actor("an"), "xa-tan-quan", notice())
    desk.submit(province.actor("an"), bid, 1)
    province.publisher.publish(desk.approve(province.actor("lan"), bid, 1))
    assert bid in province.feed("xa-tan-quan")
    with pytest.raises(NotAllowed):
        desk.withdraw(province.actor("an"), bid, "")  # an editor cannot withdraw
    province.publisher.publish(desk.withdraw(province.actor("binh"), bid, "Đã hết đợt tiêm."))
    assert province.feed("xa-tan-quan") == {}
    assert desk.bulletin(bid, None).live is None
    row = desk.revision(bid, 1)  # who approved it stays on record beside who withdrew it
    assert (row.decided_by, row.ended_by, row.reason) == ("lan", "binh", "Đã hết đợt tiêm.")


def test_emergency_published_by_one_approver_alone_is_marked_so(province: Province) -> None:
    desk = province.desk
    bid = desk.create(province.actor("lan"), "xa-tan-quan", notice("Cảnh báo lũ quét", priority=Priority.EMERGENCY, category="thien-tai"))
    province.publisher.publish(desk.approve(province.actor("lan"), bid, 1, alone=True))
    assert province.feed("xa-tan-quan")[bid].priority is Priority.EMERGENCY
    row = desk.revision(bid, 1)
    assert row.alone and row.decided_by == "lan"
    assert "một người duyệt" in next(iter(desk.audit_rows(None, action="bulletin.publish_alone"))).detail
    normal = desk.create(province.actor("lan"), "xa-tan-quan", notice("Họp dân"))
    with pytest.raises(NotAllowed, match="khẩn cấp"):
        desk.approve(province.actor("lan"), normal, 1, alone=True)


def test_a_bulletin_whose_validity_ended_expires_and_leaves_the_feed(province: Province) -> None:
    desk = province.desk
    bid = desk.create(province.actor("an"), "xa-tan-quan", notice(valid_until=NOW + timedelta(hours=2)))
    desk.submit(province.actor("an"), bid, 1)
    province.publisher.publish(desk.approve(province.actor("lan"), bid, 1))
    province.clock[0] = NOW + timedelta(hours=3)
    assert "xa-tan-quan" in province.publisher.tend()
    assert province.feed("xa-tan-quan") == {}
    assert desk.revision(bid, 1).state == State.EXPIRED.value


def test_tending_republishes_a_feed_half_way_to_expiry(province: Province) -> None:
    province.publisher.publish({"xa-tan-quan", "xa-tan-hung"})
    province.clock[0] = NOW + timedelta(days=2)
    assert province.publisher.tend() == set()
    province.clock[0] = NOW + timedelta(days=4)
    assert province.publisher.tend() == {"xa-tan-quan", "xa-tan-hung"}


def test_commands_reach_only_the_boards_named_in_their_communes_feed(province: Province) -> None:
    desk = province.desk
    with pytest.raises(NotFound):
        desk.issue_command(province.actor("lan"), "screenshot", ["th-ubnd"])  # another commune's board
    command, touched = desk.issue_command(province.actor("lan"), "screenshot", ["tq-cho"])
    province.publisher.publish(touched)
    held = read_held_feed(province.site / "xa-tan-quan" / "feed.json", load_private_key(province.site.parent / "district.key"), "k")
    assert [(c.id, c.boards) for c in held.commands] == [(command, ("tq-cho",))]


def test_every_change_leaves_one_audit_row_with_who_and_from_where(province: Province) -> None:
    desk = province.desk
    bid = desk.create(province.actor("an"), "xa-tan-quan", notice())
    desk.submit(province.actor("an"), bid, 1)
    desk.approve(province.actor("lan"), bid, 1)
    rows = list(desk.audit_rows(desk.reach("lan")))
    actions = [row.action for row in rows]
    assert actions[:3] == ["bulletin.approve", "bulletin.submit", "bulletin.write"]
    assert {row.address for row in rows[:3]} == {"192.0.2.7"} and rows[0].officer == "lan"
    assert "Lịch tiêm chủng" in rows[0].subject
    # Tân Hưng's approver sees his commune's record (it was made, he was added), none of Tân Quan's bulletins.
    assert sorted(row.action for row in desk.audit_rows(desk.reach("hung"))) == ["officer.add", "unit.add"]


def test_a_full_disk_while_publishing_keeps_the_approval_and_publishes_once_room_returns(
    province: Province, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    desk, site = province.desk, province.publisher.site
    assert site is not None
    real = site.publish_many

    def full(*args: object, **kwargs: object) -> object:
        raise OSError(errno.ENOSPC, "No space left on device")

    bid = desk.create(province.actor("an"), "xa-tan-quan", notice())
    desk.submit(province.actor("an"), bid, 1)
    monkeypatch.setattr(site, "publish_many", full)
    assert province.publisher.publish(desk.approve(province.actor("lan"), bid, 1)) == {}  # the click is not an error page
    assert desk.bulletin(bid, None).live == 1  # the approval stands
    assert province.publisher.problem is not None and "thử lại" in province.publisher.problem
    province.publisher.tend()  # still full: tried again, nothing written, still told
    assert province.publisher.problem is not None
    assert not (province.site / "xa-tan-quan" / "feed.json").exists()
    monkeypatch.setattr(site, "publish_many", real)
    assert "xa-tan-quan" in province.publisher.tend()  # room again: the next pass publishes it
    assert bid in province.feed("xa-tan-quan") and province.publisher.problem is None


def test_what_the_boards_parser_refuses_is_told_in_vietnamese() -> None:
    from signage.district.hub.desk import problem_vi

    assert (
        problem_vi("bản tin: bulletin 'xem-truoc': valid_until: is not after valid_from")
        == "Thời gian kết thúc phải sau thời gian bắt đầu."
    )
    assert problem_vi("bản tin: bulletin 'xem-truoc': title: empty") == "Tiêu đề đang trống."
    assert problem_vi("bản tin: bulletin 'x': slots[0].until: equals from: an empty slot").startswith("Giờ kết thúc của khung giờ trùng")
    assert "(" in problem_vi("bản tin: bulletin 'x': kind: something new")  # the board's words kept when not known


def test_a_draft_the_board_would_refuse_is_refused_in_vietnamese(province: Province) -> None:
    slot = {"days": ["mon"], "from": "09:00", "until": "09:00"}
    with pytest.raises(NotAllowed, match="khung giờ"):
        province.desk.create(province.actor("an"), "xa-tan-quan", notice(slots=(slot,)))
