"""Report numbering that survives the loss of a board's database: the hub's half (issue 17, item 4).

A board whose database is lost, wiped or sent back in time by a power cut numbers its reports again (from 1, or
from where the file still said), in a new epoch or the same one. Each test is named after what happens to the
board or the hub, done for real: the board's own queue and sender against a real hub on loopback (SQLite and
PostgreSQL), its database emptied or its WAL deleted, answers lost on the way by a relay that cuts the
connection after the hub has answered, a hub database made by the schema before epochs.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signage.config import load_config
from signage.district.hub import HubConfig, create_app
from signage.district.hub import schema as t
from signage.district.hub.config import database_url
from signage.district.hub.ingest import PinnedBoards, Refusal, Report, decide_report
from signage.district.hub.store import HubStore
from signage.envelope import generate_key, public_raw
from signage.model import Bulletin, Kind, Playable
from signage.report.plays import Play, PlayLog
from signage.report.reporter import Reporter
from signage.store.db import Store
from tests import hub_schema_v1 as v1
from tests.hubserver import START, envelope_of, minutes, play, report_body, serve, write_hub_config
from tests.test_player import THREE, board

ROOT = Path(__file__).resolve().parent.parent
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=HCM)
E1, E2 = "9f2c41d07a3be815", "04d5e6f708192a3b"
BOARD = "tan-quan"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str:
    """The `database` value of a hub.toml: an SQLite file, or a fresh PostgreSQL database."""
    return "hub.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")


class Clock:
    """A wall clock the test moves (the board's, and the hub's a second behind it)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Hub:
    url: str
    key: Ed25519PrivateKey
    clock: Clock
    store: HubStore

    def post(self, raw: bytes, path: str = "/report") -> requests.Response:
        return requests.post(self.url + path, data=raw, timeout=30)

    def report(self, seq: int, epoch: str | None, sent_at: datetime, **fields: Any) -> requests.Response:
        return self.post(envelope(self.key, seq, epoch, sent_at, **fields))


def envelope(key: Ed25519PrivateKey, seq: int, epoch: str | None, sent_at: datetime, **fields: Any) -> bytes:
    body = report_body(BOARD, seq, sent_at, **fields)
    if epoch is not None:
        body["epoch"] = epoch
    return envelope_of(body, key)


@contextmanager
def running_hub(folder: Path, database: str, key: Ed25519PrivateKey, clock: Clock, **hub: Any) -> Iterator[Hub]:
    folder.mkdir(exist_ok=True)
    config = HubConfig.load(write_hub_config(folder, {BOARD: key}, database=database, **hub))
    app = create_app(config, clock=clock)
    with serve(app) as url:
        yield Hub(url, key, clock, app.state.store)


def eventually(check: Any, seconds: float = 15.0) -> None:
    """Wait for the hub's own background work (retention runs in its thread)."""
    import time

    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.05)


def plays_at_hub(store: HubStore) -> Counter[tuple[str, str]]:
    """(bulletin, local start) of every play the hub holds for the board, with how many times each."""
    rows = store.export_rows(date(2026, 11, 1), date(2027, 1, 31), BOARD)
    return Counter((row.bulletin, row.started_at) for row in rows if row.count == 1)


def local(moment: datetime) -> str:
    return moment.astimezone(HCM).strftime("%Y-%m-%d %H:%M:%S")


# -- the board's database lost: its own queue and sender against the hub ----------------------------------


class Relay:
    """An HTTP relay on loopback between the board and the hub: each POST passed on and its answer passed back,
    except the next `lose` answers: the request reaches the hub, which answers, and the connection is cut."""

    def __init__(self, hub_url: str) -> None:
        self.hub_url = hub_url
        self.lose = 0
        self.statuses: list[int] = []

    @contextmanager
    def running(self) -> Iterator[str]:
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                answer = requests.post(relay.hub_url + self.path, data=body, timeout=30)
                relay.statuses.append(answer.status_code)
                if relay.lose:  # the hub answered; the answer is lost on the way back
                    relay.lose -= 1
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


@dataclass
class Board:
    """The board's own reporter (queue, sender) with a clock the test moves, five minutes a heartbeat."""

    reporter: Reporter
    log: PlayLog
    clock: Clock
    database: Path

    def heartbeats(self, count: int) -> list[Play]:
        """`count` heartbeats of three 20-second plays each; the plays made."""
        played = []
        for _ in range(count):
            for turn in range(3):
                start = self.clock.now + timedelta(seconds=turn * 20)
                self.log.begin(Playable(Bulletin(id="abc"[turn], revision=1, kind=Kind.TEXT, title="T", body="B", duration_s=20)), start)
                ended = self.log.end(start + timedelta(seconds=20), "expired")
                assert ended is not None
                played.append(ended)
            self.clock.now += minutes(5)
            self.reporter.heartbeat()
        return played

    def queued(self) -> int:
        store = Store(self.database)
        try:
            return store.db.execute("SELECT count(*) FROM report_queue").fetchone()[0]
        finally:
            store.close()


@contextmanager
def board_reporting_to(folder: Path, url: str, key_path: Path, clock: Clock) -> Iterator[Board]:
    config = board(folder, THREE, extra=f'[report]\nurl = "{url}/report"\nkey = "{key_path.name}"\nheartbeat_seconds = 300\n')
    loaded = load_config(config)
    log = PlayLog()
    reporter = Reporter(loaded, log, lambda: (log.now_playing, True), now=clock)
    try:
        yield Board(reporter, log, clock, loaded.board.data_dir / "board.db")
    finally:
        reporter._pool.shutdown(wait=True)


def lose_the_database(database: Path, how: str, snapshot: bytes) -> None:
    if how == "emptied":
        database.write_bytes(b"")
    else:  # a power cut, and the WAL lost with it: the file goes back to the snapshot (same epoch, older seqs)
        database.write_bytes(snapshot)
        for side in ("-wal", "-shm"):
            database.with_name(database.name + side).unlink(missing_ok=True)


def snapshot_of(database: Path) -> tuple[sqlite3.Connection, bytes]:
    """The main file as the disk holds it now; a connection kept open so what follows stays in the WAL."""
    holder = sqlite3.connect(database)
    holder.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return holder, database.read_bytes()


@pytest.mark.parametrize("loss", ["emptied", "wal_deleted"])
def test_reports_after_the_boards_database_is_lost_reach_the_hub_once_each_though_an_answer_is_lost(
    tmp_path: Path, database: str, loss: str
) -> None:
    """Before: the hub keyed reports by (board, seq); a resent report of the new life, whose first answer was lost,
    was answered "duplicate" for the earlier life's report, and the board deleted it: its plays were lost."""
    key_path = tmp_path / "board.key"
    key = generate_key(key_path)
    clock = Clock(T0)
    with running_hub(tmp_path / "hub", database, key, clock) as hub:  # the hub's clock is the board's
        relay = Relay(hub.url)
        with relay.running() as url, board_reporting_to(tmp_path, url, key_path, clock) as kiosk:
            played = kiosk.heartbeats(4)
            holder, snapshot = snapshot_of(kiosk.database)
            played += kiosk.heartbeats(6)
            holder.close()
            lose_the_database(kiosk.database, loss, snapshot)
            relay.lose = 1  # the new life's first report reaches the hub; its answer does not reach the board
            played += kiosk.heartbeats(8)
            for _ in range(3):
                kiosk.reporter.send()
            assert kiosk.queued() == 0
        at_hub = plays_at_hub(hub.store)
        assert sum(at_hub.values()) == len(played) == 54, f"{len(played) - sum(at_hub.values())} plays lost"
        assert at_hub == Counter((play.bulletin, local(play.started_at)) for play in played), "each play once"
        if loss == "wal_deleted":  # the same epoch numbered again: the hub told the board, which renumbered
            assert 409 in relay.statuses
            assert relay.statuses.count(409) <= 2  # the one whose answer was lost, and its resend: no loop


def test_a_report_sent_again_is_answered_same_and_counted_once(tmp_path: Path, database: str) -> None:
    key = Ed25519PrivateKey.generate()
    with running_hub(tmp_path, database, key, Clock(START + minutes(1))) as hub:
        raw = envelope(key, 7, E1, START, plays=[play("hq-1", START)])
        assert hub.post(raw).json() == {"ok": True, "seq": 7, "duplicate": False}
        again = hub.post(raw)
        assert (again.status_code, again.json()) == (200, {"ok": True, "seq": 7, "duplicate": True, "same": True})
        assert sum(plays_at_hub(hub.store).values()) == 1


def test_other_bytes_under_a_held_epoch_and_seq_are_a_409_collision_and_nothing_of_them_is_stored(tmp_path: Path, database: str) -> None:
    key = Ed25519PrivateKey.generate()
    with running_hub(tmp_path, database, key, Clock(START + minutes(30))) as hub:
        assert hub.report(5, E1, START, plays=[play("hq-1", START)]).status_code == 200
        other = hub.report(5, E1, START + minutes(20), plays=[play("hq-2", START + minutes(20))], status={"now_playing": "hq-2"})
        assert other.status_code == 409
        answer = other.json()
        assert answer["ok"] is False and answer["collision"] is True
        assert "5" in answer["error"] and E1 in answer["error"] and "\n" not in answer["error"]
        assert list(plays_at_hub(hub.store)) == [("hq-1", local(START))]  # nothing of the other report
        assert hub.store.board_state(BOARD).now_playing == "hq-2026-0142"
        # Renumbered by the board into a new epoch, the same plays arrive, once.
        moved = hub.report(10, E2, START + minutes(20), plays=[play("hq-2", START + minutes(20))], status={"now_playing": "hq-2"})
        assert moved.json() == {"ok": True, "seq": 10, "duplicate": False}
        assert sorted(plays_at_hub(hub.store)) == [("hq-1", local(START)), ("hq-2", local(START + minutes(20)))]


def test_a_board_without_epochs_keeps_reporting_and_its_resends_are_duplicates(tmp_path: Path, database: str) -> None:
    key = Ed25519PrivateKey.generate()
    with running_hub(tmp_path, database, key, Clock(START + minutes(1))) as hub:
        raw = envelope(key, 3, None, START, plays=[play("hq-1", START)])
        assert hub.post(raw).json() == {"ok": True, "seq": 3, "duplicate": False}
        assert hub.post(raw).json() == {"ok": True, "seq": 3, "duplicate": True, "same": True}
        assert hub.report(3, "", START, plays=[play("hq-1", START)]).status_code == 409  # "" is no epoch: other bytes, same key
        assert hub.report(3, E1, START, plays=[play("hq-1", START)]).json()["duplicate"] is False  # a new epoch's 3


# -- newest status across epochs --------------------------------------------------------------------------


def test_a_report_of_an_earlier_epoch_arriving_late_never_rolls_back_the_boards_status(tmp_path: Path, database: str) -> None:
    """Before: "newest" was the highest seq, so the new life's status (seqs from 1) never showed, and a late
    report of the earlier life (a higher seq) overwrote it."""
    key = Ed25519PrivateKey.generate()
    with running_hub(tmp_path, database, key, Clock(START + minutes(60))) as hub:
        state = lambda: hub.store.board_state(BOARD)  # noqa: E731
        assert hub.report(50, E1, START, status={"now_playing": "e1-50"}).status_code == 200
        assert hub.report(1, E2, START + minutes(10), status={"now_playing": "e2-1"}).json()["duplicate"] is False
        assert state().now_playing == "e2-1"  # the new life shows
        assert hub.report(51, E1, START + minutes(5), status={"now_playing": "e1-51"}).json()["duplicate"] is False
        assert state().now_playing == "e2-1"  # the earlier life's late report counts its plays, not its status
        # Within one epoch seq decides, not time: the board's clock stepped back an hour between two reports.
        assert hub.report(2, E2, START + minutes(10 - 60), status={"now_playing": "e2-2"}).status_code == 200
        assert state().now_playing == "e2-2"
        assert state().last_seq == 2


# -- replays of what the hub pruned, per epoch ------------------------------------------------------------


def test_a_pruned_report_of_an_earlier_epoch_replayed_is_never_stored_again_while_the_new_epochs_low_seqs_are(
    tmp_path: Path, database: str
) -> None:
    """Before: the floor of pruned seqs was per board, so after a lost database every report of the new life
    below the earlier life's highest pruned seq was taken for a replay and lost."""
    key = Ed25519PrivateKey.generate()
    with running_hub(tmp_path, database, key, Clock(START + minutes(1)), keep_plays_days=30) as hub:
        captured = envelope(key, 2, E1, START, plays=[play("hq-1", START + minutes(1))])
        for seq in (1, 3):
            assert hub.report(seq, E1, START, plays=[play("hq-1", START + minutes(seq))]).status_code == 200
        assert hub.post(captured).status_code == 200
        later = START + timedelta(days=40)
        hub.clock.now = later
        assert hub.report(1, E2, later, plays=[play("hq-2", later)]).json()["duplicate"] is False  # retention starts
        with hub.store.engine.connect() as conn:
            count = lambda: conn.execute(sa.text("SELECT count(*) FROM reports")).scalar_one()  # noqa: E731
            eventually(lambda: count() == 1)  # the earlier life's three reports pruned
        assert hub.report(2, E2, later, plays=[play("hq-2", later + minutes(1))]).json()["duplicate"] is False
        assert hub.store.plays_per_day(later.date(), later.date()) == {later.date().isoformat(): 2}
        seen = hub.store.board_state(BOARD).last_seen
        hub.clock.now = later + timedelta(days=2)  # the board went dark; an attacker replays what it captured
        replayed = hub.post(captured)
        assert replayed.status_code == 200 and replayed.json()["duplicate"] is True
        assert hub.store.plays_per_day(START.date(), START.date()) == {START.date().isoformat(): 3}  # not counted twice
        assert hub.store.board_state(BOARD).last_seen == seen  # nor the board shown as heard from


# -- screenshots after the board's database is lost ---------------------------------------------------------


def test_screenshots_after_the_boards_database_is_lost_are_stored_not_taken_for_replays(tmp_path: Path, database: str) -> None:
    """Before: the new life's screenshots (seqs from 1 again) were at or below the earlier life's pruned seq, or
    held under it: "duplicate", and the board took them as delivered. An officer's screenshot never came."""
    import pygame

    key_path = tmp_path / "board.key"
    key = generate_key(key_path)
    clock = Clock(T0)
    with running_hub(tmp_path / "hub", database, key, clock, screenshots_kept=3) as hub:
        with board_reporting_to(tmp_path, hub.url, key_path, clock) as kiosk:
            kiosk.heartbeats(2)
            for _ in range(4):  # seqs 3, 4, 5, 6: 3 pruned (three kept)
                clock.now += minutes(1)
                assert kiosk.reporter.screenshot(pygame.Surface((64, 36))).result() is not None
            assert [row.seq for row in hub.store.screenshot_list(BOARD)] == [6, 5, 4]
            lose_the_database(kiosk.database, "emptied", b"")
            kiosk.heartbeats(1)
            reborn = clock.now
            sent = []
            for _ in range(3):  # seqs 2, 3 (pruned before), 4 (held, another picture)
                clock.now += minutes(1)
                frame = pygame.Surface((64, 36))
                frame.fill((200, 30, 30))
                sent.append(kiosk.reporter.screenshot(frame).result())
            assert kiosk.queued() == 0
        shots = {row.seq: row.taken_at for row in hub.store.screenshot_list(BOARD)}
        assert sorted(shots) == sorted(sent), f"held {sorted(shots)}, the board sent {sent}"  # the newest three: the new life's
        assert all(taken_at > reborn.timestamp() for taken_at in shots.values())
        assert hub.store.board_state(BOARD).screenshot_seq == sent[-1]


def test_an_officers_browser_that_kept_a_boards_old_screenshot_is_sent_the_new_picture_under_the_same_seq(
    tmp_path: Path, database: str
) -> None:
    """Pictures are cached a day by the officers' browsers: the address must change with the picture, now that a
    board's new life replaces an old picture under its seq."""
    import re

    from signage.district.hub.app import hash_password
    from tests.hubserver import screenshot_envelope

    key = Ed25519PrivateKey.generate()
    with running_hub(tmp_path, database, key, Clock(START + timedelta(days=1))) as hub:
        hub.store.set_user("an", hash_password("mật-khẩu-đủ-dài"), START)
        officer = requests.Session()
        assert officer.post(hub.url + "/login", data={"username": "an", "password": "mật-khẩu-đủ-dài"}, timeout=10).ok

        def addresses() -> set[str]:
            pages = officer.get(hub.url + "/", timeout=10).text + officer.get(hub.url + f"/boards/{BOARD}", timeout=10).text
            return set(re.findall(r'(?:href|src)="(/screenshots/[^"]+)"', pages))

        old = screenshot_envelope(key, BOARD, 4, taken_at=START)
        assert hub.post(old, "/report/screenshot").json()["duplicate"] is False
        before = addresses()
        new = screenshot_envelope(key, BOARD, 4, taken_at=START + timedelta(hours=20), size=(64, 36))
        assert hub.post(new, "/report/screenshot").json()["duplicate"] is False  # the board's new life, seq 4 again
        after = addresses()
        assert len(before) == len(after) == 2 and not before & after, (before, after)  # picture and thumbnail, each anew
        big = next(address for address in after if ".thumb." not in address)
        assert officer.get(hub.url + big, timeout=10).content == hub.store.screenshot_png(BOARD, 4)


# -- a hub database made before epochs ---------------------------------------------------------------------


def v1_database(url: str) -> None:
    """A hub database as schema version 1 left it: reports 1 and 2 pruned, 3..6 held, a merged report's totals
    under seq 5, the board's state at seq 6."""
    engine = sa.create_engine(url)
    try:
        v1.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(sa.insert(v1.settings), [{"key": "schema_version", "value": "1"}])
            conn.execute(
                sa.insert(v1.reports),
                [{"board": BOARD, "seq": seq, "received_at": (START + minutes(seq)).timestamp(),
                  "sent_at": (START + minutes(seq)).timestamp()} for seq in range(3, 7)],
            )  # fmt: skip
            conn.execute(
                sa.insert(v1.plays),
                [{"board": BOARD, "seq": seq, "idx": 0, "bulletin": "hq-old", "revision": 1, "day": "2026-11-23", "shown_s": 20.0,
                  "started_at": (START + minutes(seq)).timestamp(), "completed": True, "reason": None} for seq in (3, 4, 6)],
            )  # fmt: skip
            conn.execute(
                sa.insert(v1.play_totals),
                [{"board": BOARD, "seq": 5, "idx": 0, "bulletin": "hq-old", "revision": 1, "day": "2026-11-22", "count": 4,
                  "completed": 4, "shown_s": 80.0}],
            )  # fmt: skip
            conn.execute(
                sa.insert(v1.play_days),
                [{"board": BOARD, "bulletin": "hq-old", "revision": 1, "day": "2026-11-23", "count": 3, "completed": 3, "shown_s": 60.0},
                 {"board": BOARD, "bulletin": "hq-old", "revision": 1, "day": "2026-11-22", "count": 4, "completed": 4, "shown_s": 80.0}],
            )  # fmt: skip
            conn.execute(
                sa.insert(v1.board_state),
                [{"board": BOARD, "last_seen": (START + minutes(6)).timestamp(), "last_seq": 6, "sent_at": (START + minutes(6)).timestamp(),
                  "status": "{}", "now_playing": "old-life", "screenshot_seq": None, "screenshot_at": None}],
            )  # fmt: skip
            conn.execute(sa.insert(v1.board_floors), [{"board": BOARD, "report_seq": 2, "screenshot_seq": 0}])
    finally:
        engine.dispose()


def test_a_hub_database_made_before_epochs_is_upgraded_in_place_and_keeps_every_report_once(tmp_path: Path, database: str) -> None:
    """Before: the new life's reports under seqs the old rows held (or below the board's pruned seq) were
    "duplicates", and a merged report's totals under a held seq could not be stored."""
    key = Ed25519PrivateKey.generate()
    url = database_url(tmp_path / "hub.toml", database)
    v1_database(url)
    upgraded_at = START + timedelta(days=1)
    with running_hub(tmp_path, database, key, Clock(upgraded_at)) as hub:
        with hub.store.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT value FROM settings WHERE key = 'schema_version'")).scalar_one() == str(t.SCHEMA_VERSION)
        # What was stored before the upgrade is there, and what a board sends of it again is a duplicate:
        assert hub.report(6, None, START + minutes(6)).json()["duplicate"] is True  # a board without epochs
        assert hub.report(2, None, START + minutes(2)).json()["duplicate"] is True  # pruned before the upgrade
        assert hub.report(6, E1, START + minutes(6)).json()["duplicate"] is True  # sent with an epoch to the old hub
        # A report the old hub never held, though its seq was in use there:
        assert hub.report(4, E1, START + minutes(40), plays=[play("hq-e1", START + minutes(40))]).json()["duplicate"] is False
        later = upgraded_at + timedelta(days=2)
        hub.clock.now = later
        first = hub.report(1, E2, later, plays=[play("hq-new", later)], status={"now_playing": "new-life"})
        assert first.json() == {"ok": True, "seq": 1, "duplicate": False}
        assert hub.store.board_state(BOARD).now_playing == "new-life"
        total = {"bulletin": "hq-new", "revision": 1, "day": "2026-11-25", "count": 5, "completed": 5, "shown_s": 100.0}
        merged = hub.report(5, E2, later, covers_seq=[5, 9], play_totals=[total])
        assert merged.json() == {"ok": True, "seq": 5, "duplicate": False}
        assert hub.report(5, E2, later, covers_seq=[5, 9], play_totals=[total]).json()["same"] is True
        assert plays_at_hub(hub.store) == Counter(
            {("hq-old", local(START + minutes(seq))): 1 for seq in (3, 4, 6)}
            | {("hq-e1", local(START + minutes(40))): 1, ("hq-new", local(later)): 1}
        )
        totals = {row.bulletin: int(row.count) for row in hub.store.bulletin_totals(date(2026, 11, 1), date(2026, 12, 31))}
        assert totals == {"hq-old": 7, "hq-e1": 1, "hq-new": 6}
    store = HubStore.open(url, HCM)  # opened again: nothing more to do
    store.close()


def test_a_hub_upgrade_killed_at_any_moment_leaves_the_old_database_whole_and_the_next_start_finishes_it(
    tmp_path: Path, database: str
) -> None:
    """`signage hub --add-user` (any start) upgrades a database of schema 1. Killed with SIGKILL (a power cut, an
    impatient administrator) a little later each time, from the moment it says it begins until it gets to the end:
    each time the database is schema 1 whole, never half upgraded, and the start that is let run upgrades it."""
    url = database_url(tmp_path / "hub.toml", database)
    v1_database(url)
    rows = 300_000  # a year of a few boards: the upgrade lasts long enough to be killed in its every step
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for table in ("reports", "play_totals"):
                if engine.dialect.name == "postgresql":  # no autovacuum worker on them (a superuser's: it would keep the drop waiting)
                    conn.exec_driver_sql(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
                values = "x, x, x" if table == "reports" else "x, 0, 'hq-1', 1, '2026-11-20', 1, 1, 1.0"
                conn.exec_driver_sql(
                    f"WITH RECURSIVE n(x) AS (SELECT 100 UNION ALL SELECT x + 1 FROM n WHERE x < {rows + 99}) "
                    f"INSERT INTO {table} SELECT '{BOARD}', {values} FROM n"
                )
    finally:
        engine.dispose()

    def looked_at() -> tuple[str, set[str], set[str], int, int]:
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                version = conn.execute(sa.text("SELECT value FROM settings WHERE key = 'schema_version'")).scalar_one()
                reports = conn.execute(sa.text("SELECT count(*) FROM reports")).scalar_one()
                totals = conn.execute(sa.text("SELECT count(*) FROM play_totals")).scalar_one()
            seen = sa.inspect(engine)
            changed = ("reports", "play_totals", "board_state", "screenshots")
            columns = {column["name"] for table in changed for column in seen.get_columns(table)}
            tables = set(seen.get_table_names())
            return version, columns, tables, reports, totals
        finally:
            engine.dispose()

    config = write_hub_config(tmp_path, {BOARD: Ed25519PrivateKey.generate()}, database=database)
    command = [sys.executable, "-m", "signage", "hub", "--config", str(config), "--add-user", "an"]
    delay, kills = 0.0, 0
    while True:
        upgrading = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        assert upgrading.stdin is not None and upgrading.stderr is not None
        upgrading.stdin.write("mật-khẩu-đủ-dài\n")
        upgrading.stdin.close()
        said = ""
        while "upgrading the hub's database to schema 2" not in said:  # other warnings may come first
            line = upgrading.stderr.readline()
            assert line, f"no upgrade began: {said}"
            said += line
        try:
            upgrading.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            upgrading.send_signal(signal.SIGKILL)
            kills += 1
        upgrading.wait(timeout=60)
        version, columns, _, reports, totals = looked_at()
        if version == str(t.SCHEMA_VERSION):  # done (and the kill, if any, came after its commit)
            break
        assert not columns & {"epoch", "sha256", "last_epoch"}, f"half upgraded, killed after {delay:.2f} s: {columns}"
        assert (reports, totals) == (rows + 4, rows + 1)
        assert upgrading.returncode != 0
        delay += 0.15
    assert kills >= 3, "the upgrade was too quick to be killed in its steps"
    version, columns, tables, reports, totals = looked_at()
    assert version == str(t.SCHEMA_VERSION) and {"epoch", "sha256", "last_epoch"} <= columns and "report_floors" in tables
    assert (reports, totals) == (rows + 4, rows + 1)


# -- the field itself ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "epoch",
    ["9F2C41D07A3BE815", "9f2c41d07a3be81", "9f2c41d07a3be8150", "9f2c41d07a3be81g", " 9f2c41d07a3be81", 5, None, ["x"]],
)
def test_an_epoch_not_of_16_lowercase_hex_digits_is_400_naming_the_field(epoch: Any) -> None:
    key = Ed25519PrivateKey.generate()
    body = report_body(BOARD, 1)
    body["epoch"] = epoch
    outcome = decide_report(envelope_of(body, key), PinnedBoards([(BOARD, public_raw(key))]))
    assert isinstance(outcome, Refusal) and outcome.status == 400, outcome
    assert outcome.reason.startswith("report: epoch: expected 16 lowercase hex digits") and "\n" not in outcome.reason


@pytest.mark.parametrize("epoch", [E1, ""])
def test_an_epoch_of_16_hex_digits_or_empty_is_taken(epoch: str) -> None:
    key = Ed25519PrivateKey.generate()
    body = report_body(BOARD, 1)
    body["epoch"] = epoch
    outcome = decide_report(envelope_of(body, key), PinnedBoards([(BOARD, public_raw(key))]))
    assert isinstance(outcome, Report), outcome
