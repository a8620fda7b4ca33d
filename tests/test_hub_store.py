"""The hub's database on SQLite and PostgreSQL alike: idempotent ingest, aggregates, screenshots kept, export rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signage.district.hub.config import BoardEntry, database_url
from signage.district.hub.ingest import PinnedBoards, Report, Screenshot, decide_report, decide_screenshot, thumbnail
from signage.district.hub.store import ExportRow, HubStore, Ingested
from signage.envelope import key_id, public_raw
from tests.hubserver import START, minutes, play, report_envelope, screenshot_envelope

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
KEY = Ed25519PrivateKey.generate()
PINNED = PinnedBoards([("tan-quan", public_raw(KEY))])
TOTAL = {"bulletin": "hq-7", "revision": 2, "day": "2026-11-20", "count": 412, "completed": 409, "shown_s": 8210.5}


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The `database` value of a hub.toml: an SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return "hub.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(database: str, tmp_path: Path) -> Iterator[HubStore]:
    hub = HubStore.open(database_url(tmp_path / "hub.toml", database), TZ)
    raw = public_raw(KEY)
    hub.sync_boards([BoardEntry("tan-quan", "UBND xã Tân Quan", raw, key_id(raw))])
    yield hub
    hub.close()


def report(seq: int, **fields: object) -> Report:
    outcome = decide_report(report_envelope(KEY, "tan-quan", seq, **fields), PINNED)
    assert isinstance(outcome, Report), outcome
    return outcome


def shot(seq: int) -> Screenshot:
    outcome = decide_screenshot(screenshot_envelope(KEY, "tan-quan", seq, taken_at=START + minutes(seq)), PINNED)
    assert isinstance(outcome, Screenshot), outcome
    return outcome


def day_totals(store: HubStore) -> list[tuple[str, str, int, str, int, int, float]]:
    rows = store.bulletin_boards(date(2026, 11, 1), date(2026, 11, 30))
    return [(r.bulletin, r.board, int(r.count), r.first_day, int(r.completed), 0, float(r.shown_s)) for r in rows]


def test_ingest_is_idempotent_per_board_epoch_and_seq(store: HubStore) -> None:
    plays = [play("hq-1", START), play("hq-1", START + minutes(1), 5.5, False, reason="emergency"), play("hq-2", START + minutes(2))]
    assert store.ingest_report(report(1, plays=plays), START) is Ingested.STORED
    assert store.ingest_report(report(1, plays=plays), START + minutes(1)) is Ingested.SAME  # a retry: acknowledged, nothing stored
    assert day_totals(store) == [
        ("hq-1", "tan-quan", 2, "2026-11-23", 1, 0, 25.5),
        ("hq-2", "tan-quan", 1, "2026-11-23", 1, 0, 20.0),
    ]
    days = store.board_days(date(2026, 11, 23), date(2026, 11, 23))
    assert [(r.board, r.day, r.heartbeats, r.plays) for r in days] == [("tan-quan", "2026-11-23", 1, 3)]
    assert store.plays_per_day(date(2026, 11, 1), date(2026, 11, 30)) == {"2026-11-23": 3}
    state = store.board_state("tan-quan")
    assert state is not None and state.last_seq == 1 and state.last_seen == START.timestamp()
    assert state.feed_sequence == 1042 and state.now_playing == "hq-2026-0142" and state.disk_free == 12_300_000_000


def test_merged_totals_count_and_an_older_report_never_overwrites_status(store: HubStore) -> None:
    store.ingest_report(report(3000, status={"now_playing": "newest"}, plays=[play("hq-7", START)], revision=2), START)
    merged = report(12, covers_seq=[12, 2027], play_totals=[TOTAL], status={"now_playing": "old", "last_error": "old error"})
    assert store.ingest_report(merged, START + minutes(5)) is Ingested.STORED
    assert store.ingest_report(merged, START + minutes(6)) is Ingested.SAME
    state = store.board_state("tan-quan")
    assert state is not None and state.now_playing == "newest" and state.last_seq == 3000 and state.last_error is None
    assert state.last_seen == (START + minutes(5)).timestamp()
    rows = store.bulletin_boards(date(2026, 11, 1), date(2026, 11, 30))
    assert [(r.bulletin, int(r.count), int(r.completed), float(r.shown_s)) for r in rows] == [("hq-7", 413, 410, 8230.5)]
    assert store.plays_per_day(date(2026, 11, 1), date(2026, 11, 30)) == {"2026-11-20": 412, "2026-11-23": 1}


def test_export_rows_follow_local_days(store: HubStore) -> None:
    late = datetime.fromisoformat("2026-11-22T23:30:00+07:00")
    early = datetime.fromisoformat("2026-11-22T17:10:00+00:00")  # 00:10 on the 23rd in Hà Nội
    store.ingest_report(report(1, plays=[play("hq-1", late), play("hq-2", early, 3.25, False, reason="withdrawn")]), START)
    store.ingest_report(report(2, play_totals=[TOTAL]), START)
    assert list(store.export_rows(date(2026, 11, 23), date(2026, 11, 23))) == [
        ExportRow("tan-quan", "hq-2", 1, "2026-11-23 00:10:00", 3.25, 0, "withdrawn", 1),
    ]
    assert list(store.export_rows(date(2026, 11, 20), date(2026, 11, 22))) == [
        ExportRow("tan-quan", "hq-1", 1, "2026-11-22 23:30:00", 20.0, 1, "", 1),
        ExportRow("tan-quan", "hq-7", 2, "2026-11-20", 8210.5, 409, "", 412),
    ]
    assert list(store.export_rows(date(2026, 11, 20), date(2026, 11, 30), board="tan-hung")) == []


def test_commands_done_recorded(store: HubStore) -> None:
    done = [{"id": "cmd-77", "ok": False, "at": START.isoformat(), "detail": "expired"}]
    store.ingest_report(report(1, commands_done=done), START)
    assert [(c.id, c.ok, c.detail) for c in store.commands("tan-quan")] == [("cmd-77", False, "expired")]


def test_screenshots_keep_the_newest_and_replays_are_duplicates(store: HubStore) -> None:
    for seq in range(1, 6):
        one = shot(seq)
        assert store.ingest_screenshot(one, thumbnail(one.png), START, keep=3) is Ingested.STORED
    assert store.ingest_screenshot(shot(5), b"", START, keep=3) is Ingested.SAME
    assert [row.seq for row in store.screenshot_list("tan-quan")] == [5, 4, 3]
    assert store.screenshot_png("tan-quan", 5) == shot(5).png
    assert store.screenshot_png("tan-quan", 1) is None
    state = store.board_state("tan-quan")
    assert state is not None and state.screenshot_seq == 5 and state.last_seq == 0
    # A report after a screenshot keeps the screenshot's place in the board's state.
    store.ingest_report(report(6), START + minutes(1))
    state = store.board_state("tan-quan")
    assert state is not None and state.screenshot_seq == 5 and state.last_seq == 6


def test_sessions_are_shared_by_hub_processes_and_end_with_the_password(store: HubStore, database: str, tmp_path: Path) -> None:
    store.set_user("an", "hash-1", START)
    store.start_session("a" * 64, "an", START.timestamp(), expired_before=0)
    other = HubStore.open(database_url(tmp_path / "hub.toml", database), TZ)  # a second hub process
    try:
        assert other.session("a" * 64) is not None and other.session("a" * 64).officer == "an"
        other.set_user("an", "hash-2", START)
        assert store.session("a" * 64) is None
        store.start_session("b" * 64, "an", START.timestamp(), expired_before=0)
        assert other.remove_user("an") is True and other.remove_user("an") is False
        assert store.session("b" * 64) is None
    finally:
        other.close()


def test_users(store: HubStore) -> None:
    assert store.set_user("an", "hash-1", START) is True
    assert store.set_user("an", "hash-2", START) is False
    assert store.password_hash("an") == "hash-2" and store.password_hash("bình") is None


def test_postgresql_ingest_survives_a_dropped_connection(postgres_url: str, tmp_path: Path) -> None:
    import psycopg

    hub = HubStore.open(database_url(tmp_path / "hub.toml", postgres_url), TZ)
    raw = public_raw(KEY)
    hub.sync_boards([BoardEntry("tan-quan", "UBND xã Tân Quan", raw, key_id(raw))])
    try:
        assert hub.ingest_report(report(1, plays=[play("hq-1", START)]), START) is Ingested.STORED
        with psycopg.connect(postgres_url, autocommit=True) as admin:  # the server restarts, a proxy drops it...
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        with pytest.raises(psycopg.OperationalError):
            hub.ingest_report(report(2, plays=[play("hq-1", START)]), START)  # answered 503: the board sends it again
        assert hub.ingest_report(report(2, plays=[play("hq-1", START)]), START) is Ingested.STORED  # a new connection
        assert hub.ingest_report(report(2, plays=[play("hq-1", START)]), START) is Ingested.SAME
        assert [row.seq for row in hub.recent_plays("tan-quan")] in ([1, 2], [2, 1])
    finally:
        hub.close()


def test_a_merged_report_brings_the_heartbeats_it_stands_for(store: HubStore) -> None:
    beats = [{"day": "2026-11-20", "count": 288}, {"day": "2026-11-21", "count": 100}]
    merged = report(12, covers_seq=[12, 399], play_totals=[TOTAL], heartbeat_days=beats)
    assert store.ingest_report(merged, START) is Ingested.STORED
    rows = {row.day: int(row.heartbeats) for row in store.board_days(date(2026, 11, 1), date(2026, 11, 30))}
    assert rows == {"2026-11-20": 288, "2026-11-21": 100}  # not one heartbeat on the day it arrived
    store.ingest_report(report(400), START)
    rows = {row.day: int(row.heartbeats) for row in store.board_days(date(2026, 11, 1), date(2026, 11, 30))}
    assert rows["2026-11-23"] == 1
