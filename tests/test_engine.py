"""The playback engine: each rule a test, scenarios from a clerk's point of view, properties with hypothesis."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signage.engine import (
    IDLE,
    TEXT_SECONDS_MAX,
    TEXT_SECONDS_MIN,
    Rules,
    Schedule,
    is_playable,
    plan,
    turn_seconds,
)
from signage.model import Bulletin, Kind, Media, Playable, Priority, Slot

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
MON = datetime(2026, 11, 23, 0, 0, tzinfo=HCM)  # Monday 23/11/2026
RULES = Rules("tan-quan", HCM)
IMAGE = Media("0" * 64, 1000, "image/jpeg")


def at(day: int, hh: int, mm: int = 0, ss: float = 0) -> datetime:
    """Monday + `day` days, at hh:mm:ss in Vietnam."""
    return MON + timedelta(days=day, hours=hh, minutes=mm, seconds=ss)


def item(
    bid: str,
    *,
    priority: str = "normal",
    duration: float | None = 10,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    slots: tuple[Slot, ...] = (),
    boards: tuple[str, ...] = ("*",),
    revision: int = 1,
    kind: Kind = Kind.TEXT,
    body: str = "Nội dung",
) -> Playable:
    media = (
        None
        if kind is Kind.TEXT
        else IMAGE
        if kind is Kind.IMAGE
        else Media("1" * 64, 1000, "video/mp4" if kind is Kind.VIDEO else "application/pdf")
    )
    bulletin = Bulletin(
        id=bid,
        revision=revision,
        kind=kind,
        title=bid,
        body=body,
        media=media,
        duration_s=duration,
        priority=Priority(priority),
        valid_from=valid_from,
        valid_until=valid_until,
        slots=slots,
        boards=boards,
    )
    return Playable(bulletin)


def ids(entries) -> list[str | None]:
    return [e.bulletin for e in entries]


# -- validity ---------------------------------------------------------------------------


def test_shows_only_inside_validity_and_leaves_mid_slide_at_valid_until() -> None:
    notice = item("hop-dan", duration=60, valid_from=at(0, 9), valid_until=at(0, 9, 0, 30))
    other = item("rac", duration=60)
    entries = plan(RULES, [notice, other], at(0, 8, 59), hours=0.05)
    assert [(e.bulletin, e.start, e.end) for e in entries[:3]] == [
        ("rac", at(0, 8, 59), at(0, 9)),
        ("hop-dan", at(0, 9), at(0, 9, 0, 30)),  # joins at the next turn, leaves at valid_until, mid-slide
        ("rac", at(0, 9, 0, 30), at(0, 9, 1, 30)),
    ]
    for entry in entries:
        if entry.bulletin == "hop-dan":
            assert at(0, 9) <= entry.start and entry.end <= at(0, 9, 0, 30)


def test_valid_until_cuts_the_turn_on_screen_at_that_instant() -> None:
    notice = item("hop-dan", duration=60, valid_until=at(0, 9, 0, 30))
    other = item("rac", duration=60)
    schedule = Schedule.start(RULES, [notice, other], at(0, 9))
    assert schedule.at(at(0, 9, 0, 29.9)).bulletin_id == "hop-dan"
    after = schedule.at(at(0, 9, 0, 30))
    assert after.bulletin_id == "rac" and after.start == at(0, 9, 0, 30)


def test_a_withdrawn_bulletin_leaves_at_once() -> None:
    notice, other = item("hop-dan", duration=60), item("rac", duration=60)
    schedule = Schedule.start(RULES, [notice, other], at(0, 9))
    assert schedule.at(at(0, 9, 0, 5)).bulletin_id == "hop-dan"
    schedule.replace([other], at(0, 9, 0, 7))  # the newer feed no longer has it
    decision = schedule.at(at(0, 9, 0, 7))
    assert decision.bulletin_id == "rac" and decision.start == at(0, 9, 0, 7)


# -- slots and time zone -------------------------------------------------------------------


def test_slots_use_days_and_hours_in_the_board_zone() -> None:
    weekday_mornings = (Slot(frozenset({0, 1, 2, 3, 4}), time(7), time(11)),)
    notice = item("hop-dan", slots=weekday_mornings)
    assert is_playable(notice.bulletin, "tan-quan", at(0, 7))
    assert not is_playable(notice.bulletin, "tan-quan", at(0, 11))  # until is exclusive
    assert not is_playable(notice.bulletin, "tan-quan", at(5, 8))  # Saturday
    utc_0030 = datetime(2026, 11, 23, 0, 30, tzinfo=ZoneInfo("UTC"))  # 07:30 in Vietnam
    assert is_playable(notice.bulletin, "tan-quan", utc_0030.astimezone(HCM))


def test_a_slot_past_midnight_belongs_to_the_day_it_starts() -> None:
    friday_night = (Slot(frozenset({4}), time(22), time(2)),)
    notice = item("dem", slots=friday_night)
    assert is_playable(notice.bulletin, "tan-quan", at(4, 23))  # Friday 23:00
    assert is_playable(notice.bulletin, "tan-quan", at(5, 1, 59))  # Saturday 01:59
    assert not is_playable(notice.bulletin, "tan-quan", at(5, 2))
    assert not is_playable(notice.bulletin, "tan-quan", at(4, 1))  # Friday 01:00 belongs to Thursday's night


def test_a_slot_end_cuts_the_turn_like_valid_until() -> None:
    notice = item("hop-dan", duration=600, slots=(Slot(frozenset(range(7)), time(7), time(8)),))
    other = item("rac", duration=600)
    entries = plan(RULES, [notice, other], at(0, 7, 55), hours=0.5)
    ends = [e.end for e in entries if e.bulletin == "hop-dan"]
    assert ends and max(ends) <= at(0, 8)
    assert any(e.start == at(0, 8) and e.bulletin == "rac" for e in entries)


def test_no_slots_means_always() -> None:
    notice = item("luon")
    assert all(is_playable(notice.bulletin, "tan-quan", at(d, h)) for d in range(7) for h in range(24))


def test_only_bulletins_for_this_board() -> None:
    mine, theirs, everyone = item("a", boards=("tan-quan",)), item("b", boards=("tan-hung",)), item("c", boards=("*",))
    shown = set(ids(plan(RULES, [mine, theirs, everyone], at(0, 9), hours=1)))
    assert shown == {"a", "c"}


# -- priorities ----------------------------------------------------------------------------


def test_normal_bulletins_rotate_in_a_stable_order() -> None:
    entries = plan(RULES, [item("a"), item("b"), item("c")], at(0, 9), hours=0.05)
    assert ids(entries)[:9] == ["a", "b", "c"] * 3


def test_high_is_shown_twice_as_often_spread_out_never_twice_in_a_row() -> None:
    playables = [item("n1"), item("uu-tien", priority="high"), item("n2"), item("n3")]
    sequence = ids(plan(RULES, playables, at(0, 9), hours=1))
    counts = Counter(sequence)
    assert counts["uu-tien"] == pytest.approx(2 * counts["n1"], abs=2)
    assert counts["n1"] == pytest.approx(counts["n2"], abs=1) == pytest.approx(counts["n3"], abs=1)
    assert all(a != b for a, b in itertools.pairwise(sequence))
    positions = [k for k, b in enumerate(sequence) if b == "uu-tien"]
    gaps = [b - a for a, b in itertools.pairwise(positions)]
    assert max(gaps) <= 3  # spread: never more than two others between two showings


def test_a_lone_high_bulletin_with_one_normal_alternates() -> None:
    sequence = ids(plan(RULES, [item("n"), item("h", priority="high")], at(0, 9), hours=0.1))
    assert all(a != b for a, b in itertools.pairwise(sequence))


def test_emergency_preempts_within_a_second_and_only_emergencies_show() -> None:
    schedule = Schedule.start(RULES, [item("a", duration=60), item("b", duration=60)], at(0, 9))
    assert schedule.at(at(0, 9, 0, 20)).bulletin_id == "a"
    storm = item("bao", priority="emergency", duration=15, valid_until=at(0, 10))
    flood = item("lu", priority="emergency", duration=15, valid_until=at(0, 9, 30))
    schedule.replace([item("a", duration=60), item("b", duration=60), storm, flood], at(0, 9, 0, 20))
    decision = schedule.at(at(0, 9, 0, 20))
    assert decision.bulletin_id == "bao" and decision.start == at(0, 9, 0, 20)
    seen = [schedule.at(at(0, 9, 0, 20 + s)).bulletin_id for s in range(0, 29 * 60, 5)]
    assert set(seen) == {"bao", "lu"}  # several emergencies rotate, nothing else
    assert schedule.at(at(0, 9, 45)).bulletin_id == "bao"  # lu expired, bao alone
    back = schedule.at(at(0, 10))
    assert back.bulletin_id in {"a", "b"} and back.start == at(0, 10)  # at once when the last one ends


def test_an_emergency_arriving_by_validity_preempts_mid_turn() -> None:
    storm = item("bao", priority="emergency", valid_from=at(0, 9, 13))
    entries = plan(RULES, [item("a", duration=600), storm], at(0, 9, 10), hours=0.1)
    assert entries[0].bulletin == "a" and entries[0].end == at(0, 9, 13)
    assert entries[1].bulletin == "bao" and entries[1].start == at(0, 9, 13)
    assert set(ids(entries[1:])) == {"bao"}


def test_screen_hours_and_an_emergency_that_wakes_the_screen() -> None:
    rules = Rules("tan-quan", HCM, screen_on=time(6), screen_off=time(22))
    entries = plan(rules, [item("a")], at(0, 21, 59), hours=0.1)
    assert entries[-1].bulletin is None and entries[-1].start == at(0, 22)
    storm = item("bao", priority="emergency", valid_from=at(1, 2), valid_until=at(1, 3))
    night = plan(rules, [item("a"), storm], at(0, 23), hours=5)
    assert [(e.bulletin, e.start) for e in night if e.bulletin != "bao"] == [(None, at(0, 23)), (None, at(1, 3))]
    assert {e.bulletin for e in night if at(1, 2) <= e.start < at(1, 3)} == {"bao"}
    asleep = plan(Rules("tan-quan", HCM, time(6), time(22), emergency_wakes_screen=False), [item("a"), storm], at(0, 23), hours=5)
    assert ids(asleep) == [None]


def test_screen_comes_back_on_at_its_hour() -> None:
    rules = Rules("tan-quan", HCM, screen_on=time(6), screen_off=time(22))
    entries = plan(rules, [item("a")], at(1, 5, 59), hours=0.1)
    assert entries[0].bulletin is None and entries[0].end == at(1, 6)
    assert entries[1].bulletin == "a" and entries[1].start == at(1, 6)


# -- fairness -------------------------------------------------------------------------------


def test_a_new_bulletin_joins_at_the_next_turn() -> None:
    base = [item(f"n{i}") for i in range(6)]
    schedule = Schedule.start(RULES, base, at(0, 9))
    schedule.at(at(0, 9, 0, 25))  # n2 on screen
    schedule.replace([*base, item("moi")], at(0, 9, 0, 25))
    assert schedule.at(at(0, 9, 0, 25)).bulletin_id == "n2"  # nothing cut
    assert schedule.at(at(0, 9, 0, 30)).bulletin_id == "moi"
    assert [schedule.at(at(0, 9, 0, 40 + 10 * k)).bulletin_id for k in range(4)] == ["n3", "n4", "n5", "n0"]


def test_a_new_revision_restarts_nothing_else() -> None:
    base = [item("a"), item("b"), item("c")]
    schedule = Schedule.start(RULES, base, at(0, 9))
    before = schedule.at(at(0, 9, 0, 15))
    edited = [item("a"), item("b", revision=2, body="Đã sửa"), item("c")]
    schedule.replace(edited, at(0, 9, 0, 15))
    after = schedule.at(at(0, 9, 0, 15))
    assert (before.bulletin_id, before.start) == (after.bulletin_id, after.start) == ("b", at(0, 9, 0, 10))
    assert after.playable is not None and after.playable.bulletin.revision == 2  # the edit shows for the rest of the turn
    assert [schedule.at(at(0, 9, 0, 20 + 10 * k)).bulletin_id for k in range(3)] == ["c", "a", "b"]


def test_every_playable_bulletin_shows_within_one_cycle() -> None:
    playables = [item(f"n{i}", duration=5 + i) for i in range(8)] + [item("h", priority="high", duration=7)]
    cycle = sum(turn_seconds(p) for p in playables) + 7
    entries = plan(RULES, playables, at(0, 9), hours=cycle / 3600)
    assert set(ids(entries)) == {p.bulletin.id for p in playables}


# -- durations ------------------------------------------------------------------------------


def test_durations_by_kind() -> None:
    assert turn_seconds(item("a", duration=20)) == 20
    assert turn_seconds(item("a", duration=None, body="ngắn")) == TEXT_SECONDS_MIN
    assert turn_seconds(item("a", duration=None, body="chữ " * 2000)) == TEXT_SECONDS_MAX
    assert TEXT_SECONDS_MIN < turn_seconds(item("a", duration=None, body="chữ " * 60)) < TEXT_SECONDS_MAX
    assert turn_seconds(item("a", duration=None, kind=Kind.IMAGE)) == 10
    video = item("v", duration=None, kind=Kind.VIDEO)
    assert turn_seconds(Playable(video.bulletin, media_seconds=42.5)) == 42.5
    pdf = item("p", duration=None, kind=Kind.PDF)
    assert turn_seconds(Playable(pdf.bulletin, page_count=3)) == 36


# -- empty ------------------------------------------------------------------------------------


def test_nothing_playable_is_the_idle_slide_until_something_is() -> None:
    later = item("sau", valid_from=at(0, 9, 30))
    entries = plan(RULES, [later], at(0, 9), hours=1)
    assert (entries[0].bulletin, entries[0].start, entries[0].end) == (IDLE, at(0, 9), at(0, 9, 30))
    assert entries[1].bulletin == "sau"


# -- the clerk's week -----------------------------------------------------------------------


def test_a_week_with_a_meeting_notice_and_a_storm_warning() -> None:
    """Meeting notice Monday–Wednesday 07:00–11:00; a storm warning arrives Tuesday 09:13 as an emergency
    and stays until 12:00; the screen is on 06:00–22:00; two standing notices rotate."""
    rules = Rules("tan-quan", HCM, screen_on=time(6), screen_off=time(22))
    meeting = item(
        "hop-dan",
        priority="high",
        duration=20,
        valid_from=at(0, 0),
        valid_until=at(3, 0),
        slots=(Slot(frozenset({0, 1, 2}), time(7), time(11)),),
    )
    standing = [item("rac", duration=15), item("tiem-chung", duration=25)]
    storm = item("bao", priority="emergency", duration=30, valid_from=at(1, 9, 13), valid_until=at(1, 12))
    entries = plan(rules, [meeting, *standing, storm], at(0, 0), hours=24 * 7)

    def shown(bid: str) -> list:
        return [e for e in entries if e.bulletin == bid]

    # The meeting notice: only Monday to Wednesday, only 07:00–11:00, and not during the storm.
    for e in shown("hop-dan"):
        local = e.start.astimezone(HCM)
        assert (
            local.weekday() in (0, 1, 2) and time(7) <= local.time() and e.end <= local.replace(hour=11, minute=0, second=0, microsecond=0)
        )
        assert not (at(1, 9, 13) <= e.start < at(1, 12))
    assert {e.start.astimezone(HCM).weekday() for e in shown("hop-dan")} == {0, 1, 2}
    # The storm: at 09:13 sharp on Tuesday, alone until 12:00.
    during = [e for e in entries if at(1, 9, 13) <= e.start < at(1, 12)]
    assert during[0].start == at(1, 9, 13) and {e.bulletin for e in during} == {"bao"}
    assert any(e.end == at(1, 9, 13) for e in entries)  # the turn on screen was cut at 09:13
    # The screen: off every night 22:00–06:00.
    for day in range(7):
        assert any(e.bulletin is None and e.start <= at(day, 22, 0, 1) and e.end >= at(day + 1, 5, 59) for e in entries) or day == 6
    assert all(
        e.bulletin is None for e in entries if time(22) <= e.start.astimezone(HCM).time() or e.start.astimezone(HCM).time() < time(6)
    )
    # High shows about twice as often as each normal while it is in its slot.
    monday_morning = [e.bulletin for e in entries if at(0, 7) <= e.start < at(0, 11)]
    counts = Counter(monday_morning)
    assert counts["hop-dan"] == pytest.approx(2 * counts["rac"], rel=0.1)


# -- properties ---------------------------------------------------------------------------------

ANCHOR = at(0, 6)


@st.composite
def bulletin_sets(draw: st.DrawFn) -> list[Playable]:
    count = draw(st.integers(1, 9))
    result = []
    for index in range(count):
        start = draw(st.integers(-120, 600))
        length = draw(st.integers(1, 900))
        slots: tuple[Slot, ...] = ()
        if draw(st.booleans()):
            begin = draw(st.integers(0, 23 * 60))
            end = draw(st.integers(0, 24 * 60 - 1).filter(lambda m, b=begin: m != b))
            days = frozenset(draw(st.sets(st.integers(0, 6), min_size=1)))
            slots = (Slot(days, time(begin // 60, begin % 60), time(end // 60, end % 60)),)
        result.append(
            item(
                f"b{index}",
                priority=draw(st.sampled_from(["normal", "normal", "high", "emergency"])),
                duration=draw(st.sampled_from([5, 10, 17.5, 30])),
                valid_from=ANCHOR + timedelta(minutes=start) if draw(st.booleans()) else None,
                valid_until=ANCHOR + timedelta(minutes=start + length) if draw(st.booleans()) else None,
                slots=slots,
                boards=draw(st.sampled_from([("*",), ("tan-quan",), ("tan-hung",)])),
            )
        )
    return result


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(playables=bulletin_sets(), hours_on=st.booleans())
def test_never_shows_what_may_not_play_and_an_emergency_always_wins(playables: list[Playable], hours_on: bool) -> None:
    rules = Rules("tan-quan", HCM, time(6, 30), time(21)) if hours_on else RULES
    entries = plan(rules, playables, ANCHOR, hours=18)
    by_id = {p.bulletin.id: p.bulletin for p in playables}
    for entry in entries:
        if entry.bulletin in (None, IDLE):
            continue
        bulletin = by_id[entry.bulletin]
        for moment in (entry.start, entry.end - timedelta(milliseconds=1)):
            assert is_playable(bulletin, "tan-quan", moment), (entry, bulletin)
            emergencies = [b for b in by_id.values() if b.priority is Priority.EMERGENCY and is_playable(b, "tan-quan", moment)]
            if emergencies:
                assert bulletin.priority is Priority.EMERGENCY, (entry, emergencies)
    for a, b in itertools.pairwise(entries):
        assert a.end == b.start and a.start < a.end  # a gapless timeline


@PROPERTY
@given(playables=bulletin_sets())
def test_plan_is_deterministic(playables: list[Playable]) -> None:
    assert plan(RULES, playables, ANCHOR, hours=6) == plan(RULES, playables, ANCHOR, hours=6)


@PROPERTY
@given(playables=bulletin_sets(), step_ms=st.sampled_from([100, 700, 2500]))
def test_stepping_finely_or_jumping_gives_the_same_timeline(playables: list[Playable], step_ms: int) -> None:
    """Asked every `step_ms`, the schedule shows exactly what the boundary-jumping plan shows."""
    window = timedelta(minutes=20)
    start = ANCHOR + timedelta(hours=2)
    entries = plan(RULES, playables, start, hours=window.total_seconds() / 3600)
    stepped = Schedule.start(RULES, playables, start)
    moment = start
    index = 0
    while moment < start + window:
        while entries[index].end <= moment:
            index += 1
        expected = entries[index].bulletin
        got = stepped.at(moment)
        shown = None if not got.screen_on else (got.playable.bulletin.id if got.playable else IDLE)
        assert shown == expected, (moment, shown, entries[index])
        moment += timedelta(milliseconds=step_ms)


def test_every_playable_bulletin_appears_within_a_cycle_property() -> None:
    @PROPERTY
    @given(durations=st.lists(st.sampled_from([5.0, 10.0, 20.0]), min_size=1, max_size=12), highs=st.integers(0, 3))
    def check(durations: list[float], highs: int) -> None:
        playables = [item(f"n{i}", duration=d) for i, d in enumerate(durations)]
        playables += [item(f"h{i}", priority="high", duration=10) for i in range(highs)]
        cycle = sum(turn_seconds(p) for p in playables) + 10 * highs
        seen = set(ids(plan(RULES, playables, ANCHOR, hours=cycle / 3600)))
        assert seen == {p.bulletin.id for p in playables}

    check()


def test_a_high_bulletin_passed_over_keeps_its_credit_and_shows_twice_each_normal() -> None:
    """Two normals ahead of one high in the list: the high was shown only 1.5 times as often."""
    sequence = ids(plan(RULES, [item("n1"), item("n2"), item("h", priority="high")], at(0, 9), hours=6))
    counts = Counter(sequence)
    assert counts["h"] / counts["n1"] == pytest.approx(2.0, rel=0.05)
    assert all(a != b for a, b in itertools.pairwise(sequence))


def test_high_shows_twice_each_normal_over_long_windows_property() -> None:
    @PROPERTY
    @given(
        normals=st.integers(2, 6),
        highs=st.integers(1, 3),
        durations=st.lists(st.sampled_from([5.0, 10.0, 20.0]), min_size=9, max_size=9),
        order=st.randoms(use_true_random=False),
    )
    def check(normals: int, highs: int, durations: list[float], order) -> None:
        playables = [item(f"n{i}", duration=durations[i]) for i in range(normals)]
        playables += [item(f"h{i}", priority="high", duration=durations[normals + i]) for i in range(highs)]
        order.shuffle(playables)
        counts = Counter(ids(plan(RULES, playables, ANCHOR, hours=4)))
        for high in (f"h{i}" for i in range(highs)):
            for normal in (f"n{i}" for i in range(normals)):
                assert counts[high] / counts[normal] == pytest.approx(2.0, rel=0.05), (high, normal, counts)

    check()


# -- the command ------------------------------------------------------------------------------


def test_signage_plan_json_and_table(tmp_path: Path) -> None:
    (tmp_path / "list.toml").write_text(
        textwrap.dedent(
            """
            [[bulletins]]
            id = "hop-dan"
            kind = "text"
            title = "Họp dân"
            body = "Tối thứ Bảy."
            duration_s = 30
            slots = [{days = ["sat"], from = "07:00", until = "09:00"}]
            [[bulletins]]
            id = "rac"
            kind = "text"
            title = "Thu gom rác"
            body = "Sáng thứ Hai."
            duration_s = 30
            """
        ),
        encoding="utf-8",
    )
    config = tmp_path / "board.toml"
    config.write_text(
        '[board]\nid = "tan-quan"\nname = "UBND xã Tân Quan"\n[playlists]\npaths = ["list.toml"]\n[display]\non = "06:00"\noff = "22:00"\n',
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "signage", "plan", "--config", str(config), "--from", "2026-11-28T05:00:00+07:00", "--hours", "5"]
    result = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    timeline = json.loads(result.stdout)
    assert timeline[0] == {"start": "2026-11-28T05:00:00+07:00", "end": "2026-11-28T06:00:00+07:00", "bulletin": None, "state": "off"}
    saturday_morning = [e["bulletin"] for e in timeline if "2026-11-28T07:00" <= e["start"] < "2026-11-28T09:00"]
    assert Counter(saturday_morning) == {"hop-dan": 120, "rac": 120}
    assert all(e["bulletin"] == "rac" for e in timeline if e["start"] >= "2026-11-28T09:00")
    assert set(timeline[1]) == {"start", "end", "bulletin"}

    readable = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert readable.returncode == 0
    lines = readable.stdout.splitlines()
    assert lines[0] == "Thứ Bảy, 28/11/2026"
    assert lines[1] == "  05:00–06:00  màn hình tắt (screen off)"
    assert lines[3].startswith("  07:00–08:00  ") and "hop-dan ×60 (30 phút)" in lines[3]


def test_a_display_command_holds_until_the_next_scheduled_change() -> None:
    rules = Rules("tan-quan", HCM, screen_on=time(6), screen_off=time(22))
    schedule = Schedule.start(rules, [item("a")], at(0, 23))
    assert not schedule.at(at(0, 23)).screen_on
    schedule.override_screen(True, at(0, 23, 30))  # display_on from the district at 23:30
    assert schedule.at(at(0, 23, 30)).bulletin_id == "a"
    assert schedule.at(at(1, 5, 59)).screen_on  # held through the night...
    assert schedule.at(at(1, 6, 1)).screen_on  # ...to the next change (06:00, on anyway)
    schedule.override_screen(False, at(1, 10))  # display_off at 10:00
    assert not schedule.at(at(1, 21, 59)).screen_on
    assert schedule.at(at(2, 6, 0, 1)).bulletin_id == "a"  # 22:00 passed (off anyway), 06:00 turns it on again


# -- a clock that steps ------------------------------------------------------------------------


def turns_after(schedule: Schedule, start: datetime, seconds: float, step_s: float = 0.5) -> list[tuple[float, str | None]]:
    """(seconds from `start`, bulletin) at each change, asking every `step_s` as a player's frames would."""
    changes: list[tuple[float, str | None]] = []
    for k in range(int(seconds / step_s) + 1):
        decision = schedule.at(start + timedelta(seconds=k * step_s))
        if not changes or changes[-1][1] != decision.bulletin_id:
            changes.append((k * step_s, decision.bulletin_id))
    return changes


@pytest.mark.parametrize("step", [timedelta(hours=-1), timedelta(hours=-7), timedelta(days=1)], ids=["back-1h", "back-7h", "forward-1day"])
def test_a_clock_step_mid_turn_keeps_the_turn_for_its_rest_then_rotates_at_its_pace(step: timedelta) -> None:
    """Asked about an earlier time, the Schedule held the turn on screen until the clock came back (an hour)."""
    schedule = Schedule.start(RULES, [item("a"), item("b"), item("c")], at(0, 9))
    assert schedule.at(at(0, 9, 0, 4)).bulletin_id == "a"
    stepped = at(0, 9, 0, 4) + step  # four seconds into a's ten, the clock steps
    schedule.rebase(stepped, step)
    assert turns_after(schedule, stepped, 35) == [(0, "a"), (6, "b"), (16, "c"), (26, "a")]


def test_a_clock_step_into_the_night_darkens_the_screen_once_the_turn_ends() -> None:
    rules = Rules("tan-quan", HCM, screen_on=time(6), screen_off=time(22))
    schedule = Schedule.start(rules, [item("a"), item("b")], at(0, 15))
    schedule.at(at(0, 15, 0, 2))
    stepped = at(0, 23, 0, 2)
    schedule.rebase(stepped, stepped - at(0, 15, 0, 2))
    assert schedule.at(stepped + timedelta(seconds=7)).bulletin_id == "a"
    assert not schedule.at(stepped + timedelta(seconds=8)).screen_on
    night = schedule.at(stepped + timedelta(seconds=9))
    assert not night.screen_on and night.until == at(1, 6)


def test_a_clock_step_past_a_bulletins_validity_takes_it_off_at_once() -> None:
    notice = item("hop-dan", valid_until=at(0, 12))
    schedule = Schedule.start(RULES, [notice, item("rac")], at(0, 9))
    assert schedule.at(at(0, 9, 0, 1)).bulletin_id == "hop-dan"
    schedule.rebase(at(1, 9, 0, 1), timedelta(days=1))
    decision = schedule.at(at(1, 9, 0, 1))
    assert decision.bulletin_id == "rac" and decision.start == at(1, 9, 0, 1)


def test_a_clock_stepped_back_out_of_the_screen_off_hours_lights_the_screen_at_once() -> None:
    rules = Rules("tan-quan", HCM, screen_on=time(6), screen_off=time(22))
    schedule = Schedule.start(rules, [item("a")], at(0, 23))
    assert not schedule.at(at(0, 23, 0, 1)).screen_on
    schedule.rebase(at(0, 16, 0, 1), timedelta(hours=-7))
    decision = schedule.at(at(0, 16, 0, 1))
    assert decision.screen_on and decision.bulletin_id == "a"
