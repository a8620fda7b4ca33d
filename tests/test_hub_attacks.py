"""Attacks on the boards' side of the hub (issue 13), each test named after what the attacker does.

A real hub under uvicorn on loopback (raw sockets where HTTP clients would be too polite), on SQLite and
PostgreSQL; the pure decisions (ingest, limits) called directly with the clock passed in.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import io
import json
import os
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from signage.district.hub import HubConfig, create_app
from signage.district.hub.app import hash_password
from signage.district.hub.ingest import PinnedBoards, Refusal, Report, decide_report, decide_screenshot
from signage.district.hub.server import limits_of, server_settings
from signage.envelope import PNG_TYPE, REPORT_TYPE, public_raw, sign
from tests.hubserver import START, envelope_of, minutes, play, report_body, report_envelope, serve, write_hub_config

PASSWORD = "mật-khẩu-đủ-dài"
KEY = Ed25519PrivateKey.generate()
PINNED = PinnedBoards([("tan-quan", public_raw(KEY))])


class Clock:
    """The hub's "now", moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Hub:
    url: str
    keys: dict[str, Ed25519PrivateKey]
    clock: Clock
    app: Any

    def post(self, raw: bytes, path: str = "/report") -> requests.Response:
        return requests.post(self.url + path, data=raw, timeout=30)

    def report(self, board: str, seq: int, **fields: Any) -> requests.Response:
        return self.post(report_envelope(self.keys[board], board, seq, **fields))

    def officer(self) -> requests.Session:
        session = requests.Session()
        answer = session.post(self.url + "/login", data={"username": "an", "password": PASSWORD}, timeout=10)
        assert answer.status_code == 200, answer.text
        return session


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str:
    return "hub.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")


@contextmanager
def running_hub(folder: Path, database: str, boards: tuple[str, ...] = ("tan-quan", "tan-hung"), **hub: Any) -> Iterator[Hub]:
    """A real hub on loopback with the given `[hub]` keys, served as `signage hub` serves it."""
    keys = {board: Ed25519PrivateKey.generate() for board in boards}
    config = HubConfig.load(write_hub_config(folder, keys, database=database, **hub))
    clock = Clock(START + minutes(1))
    app = create_app(config, clock=clock)
    app.state.store.set_user("an", hash_password(PASSWORD), START)
    with serve(app, **server_settings(limits_of(config))) as url:
        yield Hub(url, keys, clock, app)


@pytest.fixture
def hub(tmp_path: Path, database: str) -> Iterator[Hub]:
    with running_hub(tmp_path, database) as running:
        yield running


def refused(outcome: object, status: int, *words: str) -> Refusal:
    assert isinstance(outcome, Refusal), outcome
    assert outcome.status == status, outcome
    for word in words:
        assert word in outcome.reason, outcome
    assert "\n" not in outcome.reason
    return outcome


def signed_payload(text: str) -> bytes:
    return sign(text.encode("utf-8"), REPORT_TYPE, [KEY])


# --- 12: numbers the parser cannot hold ------------------------------------------------------------


def test_report_with_a_5000_digit_integer_is_400_not_a_crash() -> None:
    body = json.dumps(report_body("tan-quan", 1)).replace('"seq": 1', '"seq": ' + "9" * 5000)
    refused(decide_report(signed_payload(body), PINNED), 400, "seq", "digits")
    deep = json.dumps(report_body("tan-quan", 1, status={"uptime_s": 1})).replace('"uptime_s": 1', '"uptime_s": ' + "1" * 17)
    refused(decide_report(signed_payload(deep), PINNED), 400, "digits")
    long_float = json.dumps(report_body("tan-quan", 1)).replace('"seq": 1', '"seq": 1.' + "0" * 400)
    refused(decide_report(signed_payload(long_float), PINNED), 400)


def test_board_posting_a_5000_digit_integer_gets_400_over_http(hub: Hub) -> None:
    body = json.dumps(report_body("tan-quan", 1)).replace('"seq": 1', '"seq": ' + "9" * 5000)
    answer = hub.post(sign(body.encode(), REPORT_TYPE, [hub.keys["tan-quan"]]))
    assert answer.status_code == 400, answer.text
    assert hub.report("tan-quan", 2).status_code == 200


# --- 13: times far from now ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sent_at": "0001-01-01T00:00:00+07:00"}, "sent_at"),
        ({"sent_at": "9999-12-31T23:59:59-07:00"}, "sent_at"),
        ({"sent_at": "2019-12-31T23:59:59+00:00"}, "sent_at"),
        ({"plays": [play("hq-1", datetime.fromisoformat("0001-01-01T00:00:00+07:00"))]}, "plays[0].started_at"),
        ({"plays": [play("hq-1", datetime.fromisoformat("9999-12-31T23:59:59-12:00"))]}, "plays[0].started_at"),
        ({"commands_done": [{"id": "cmd-1", "ok": True, "at": "0001-01-01T00:00:00+01:00"}]}, "commands_done[0].at"),
        ({"status": {"clock": "0001-01-01T00:00:00+07:00"}}, "status.clock"),
        ({"status": {"last_sync_at": "9999-12-31T23:59:59-12:00"}}, "status.last_sync_at"),
        (
            {"play_totals": [{"bulletin": "x", "revision": 1, "day": "0001-01-01", "count": 1, "completed": 1, "shown_s": 1}]},
            "play_totals[0].day",
        ),
        ({"heartbeat_days": [{"day": "9999-12-31", "count": 3}]}, "heartbeat_days[0].day"),
    ],
)
def test_report_with_a_time_near_year_1_or_9999_is_400_naming_the_field(change: dict[str, Any], field: str) -> None:
    body = report_body("tan-quan", 5)
    if "status" in change:
        body["status"].update(change.pop("status"))
    body.update(change)
    refused(decide_report(envelope_of(body, KEY), PINNED, now=START), 400, f"report: {field}")


def test_report_sent_more_than_a_day_ahead_of_the_hub_is_400() -> None:
    refused(decide_report(report_envelope(KEY, "tan-quan", 5, sent_at=START + minutes(60 * 25)), PINNED, now=START), 400, "sent_at")
    assert isinstance(decide_report(report_envelope(KEY, "tan-quan", 5, sent_at=START + minutes(60 * 23)), PINNED, now=START), Report)


def test_board_posting_year_1_and_9999_times_gets_400_and_its_next_report_goes_through(hub: Hub) -> None:
    key = hub.keys["tan-quan"]
    year_one = report_body("tan-quan", 1, plays=[play("hq-1", START)])
    year_one["sent_at"] = "0001-01-01T00:00:00+07:00"
    assert hub.post(envelope_of(year_one, key)).status_code == 400
    far = report_body("tan-quan", 2, plays=[play("hq-1", datetime.fromisoformat("9999-12-31T23:59:59-12:00"))])
    assert hub.post(envelope_of(far, key)).status_code == 400
    shot = sign(screenshot_bytes("tan-quan", 3, taken_at="0001-01-01T00:00:00+07:00"), PNG_TYPE, [key])
    assert hub.post(shot, "/report/screenshot").status_code == 400
    assert hub.report("tan-quan", 4).status_code == 200


# --- 4: numbers whose sums overflow ---------------------------------------------------------------

INT64_MAX = 2**63 - 1


@pytest.mark.parametrize(
    ("total", "field"),
    [
        ({"count": INT64_MAX, "completed": 0, "shown_s": 1}, "play_totals[0].count"),
        ({"count": 86_401, "completed": 0, "shown_s": 1}, "play_totals[0].count"),
        ({"count": 10, "completed": 10, "shown_s": 1e300}, "play_totals[0].shown_s"),
        ({"count": 0, "completed": 0, "shown_s": 5}, "play_totals[0].shown_s"),
    ],
)
def test_play_totals_beyond_what_a_day_holds_are_400(total: dict[str, Any], field: str) -> None:
    entry = {"bulletin": "hq-1", "revision": 1, "day": "2026-11-22", **total}
    refused(decide_report(envelope_of(report_body("tan-quan", 5, play_totals=[entry]), KEY), PINNED, now=START), 400, field)


def test_plays_and_heartbeats_beyond_what_a_day_holds_are_400() -> None:
    long_play = report_body("tan-quan", 5, plays=[play("hq-1", START, shown_s=86_400 * 3)])
    refused(decide_report(envelope_of(long_play, KEY), PINNED, now=START), 400, "plays[0].shown_s")
    beats = report_body("tan-quan", 5, heartbeat_days=[{"day": "2026-11-22", "count": 86_401}])
    refused(decide_report(envelope_of(beats, KEY), PINNED, now=START), 400, "heartbeat_days[0].count")


def test_board_summing_play_totals_to_int64_max_cannot_break_the_officers_pages(hub: Hub) -> None:
    """1,024 totals of 2**53-1 plays each (each below the old bound) from each of two boards: one day's sum passes 2**63."""
    most = 2**53 - 1
    totals = [{"bulletin": f"hq-{n}", "revision": 1, "day": "2026-11-23", "count": most, "completed": 0, "shown_s": 1} for n in range(1024)]
    answers = [hub.post(envelope_of(report_body(board, 1, play_totals=totals), hub.keys[board])) for board in ("tan-quan", "tan-hung")]
    officer = hub.officer()
    for path in ("/", "/bulletins?from=2026-11-23&to=2026-11-23", "/boards/tan-quan"):
        assert officer.get(hub.url + path, timeout=10).status_code == 200, path
    assert all(answer.status_code == 400 and "play_totals[0].count" in answer.json()["error"] for answer in answers)


def test_aggregates_stored_by_an_older_hub_near_int64_max_still_sum(hub: Hub) -> None:
    """Robust anyway: rows an older hub let in (no bounds then) must not overflow the pages' sums."""
    import sqlalchemy as sa

    from signage.district.hub import schema as t

    store = hub.app.state.store
    with store.engine.begin() as conn:
        for board in ("tan-quan", "tan-hung"):
            conn.execute(sa.insert(t.play_days), {"board": board, "bulletin": "hq-1", "revision": 1, "day": "2026-11-23",
                                                  "count": INT64_MAX - 2, "completed": INT64_MAX - 2, "shown_s": 1e18})  # fmt: skip
            conn.execute(
                sa.insert(t.board_days), {"board": board, "day": "2026-11-23", "heartbeats": INT64_MAX - 2, "plays": INT64_MAX - 2}
            )
    officer = hub.officer()
    for path in ("/", "/bulletins?from=2026-11-23&to=2026-11-23", "/bulletins/hq-1?from=2026-11-23&to=2026-11-23", "/boards/tan-quan"):
        assert officer.get(hub.url + path, timeout=10).status_code == 200, path
    # A board's report adding to a row already at the top does not overflow the upsert (and so is not a 503 for ever).
    total = {"bulletin": "hq-1", "revision": 1, "day": "2026-11-23", "count": 5, "completed": 5, "shown_s": 1}
    assert hub.post(envelope_of(report_body("tan-quan", 9, play_totals=[total]), hub.keys["tan-quan"])).status_code == 200


# --- 10: text the database refuses ----------------------------------------------------------------


def test_feed_error_with_a_nul_does_not_make_the_board_look_offline(hub: Hub) -> None:
    """A feed server answering `HTTP/1.1 500 Bad\\x00Thing` put a NUL into last_error: PostgreSQL refused every report."""
    answer = hub.report("tan-quan", 1, status={"last_error": "feed: HTTP 500 Bad\x00Thing", "now_playing": "hq-1"})
    assert answer.status_code == 200, answer.text
    state = hub.app.state.store.board_state("tan-quan")
    assert state is not None and state.last_error == "feed: HTTP 500 BadThing"
    assert "\x00" not in state.status and "\\u0000" not in state.status


def test_control_characters_and_lone_surrogates_in_any_text_are_cleaned_or_refused(hub: Hub) -> None:
    key = hub.keys["tan-quan"]
    body = report_body(
        "tan-quan",
        1,
        plays=[play("hq-1", START, 3.0, False, reason="error")],
        commands_done=[{"id": "cmd-1", "ok": False, "at": START.isoformat(), "detail": "lỗi\x00\x1b[31m đỏ\x7f\x85"}],
        status={"version": "0.1\x00", "feed_notes": "ghi chú\x00 \ud800 hết", "extra": {"k\x00": ["\x01a"]}},
    )
    payload = json.dumps(body, ensure_ascii=True).encode()  # \ud800 travels as an escape, as a board's json would write it
    answer = hub.post(sign(payload, REPORT_TYPE, [key]))
    assert answer.status_code == 200, answer.text
    state = hub.app.state.store.board_state("tan-quan")
    assert state.version == "0.1"
    status = json.loads(state.status)
    assert status["feed_notes"] == "ghi chú  hết" and status["extra"] == {"k": ["a"]}
    assert hub.app.state.store.commands("tan-quan")[0].detail == "lỗi[31m đỏ"
    assert hub.officer().get(hub.url + "/boards/tan-quan", timeout=10).status_code == 200
    bad_id = report_body("tan-quan", 2, plays=[play("hq-\ud800", START)])
    answer = hub.post(sign(json.dumps(bad_id, ensure_ascii=True).encode(), REPORT_TYPE, [key]))
    assert answer.status_code == 400 and "plays[0].bulletin" in answer.json()["error"]


def test_board_version_longer_than_its_column_is_cut_not_a_503(hub: Hub) -> None:
    answer = hub.report("tan-quan", 1, status={"version": "9" * 150})
    assert answer.status_code == 200, answer.text
    assert hub.app.state.store.board_state("tan-quan").version == "9" * 100


def test_report_the_database_cannot_hold_is_422_and_not_sent_again_for_ever(tmp_path: Path, database: str) -> None:
    """Whatever the checks miss, a value the database refuses is the report's fault (4xx), not the hub's (503)."""
    import sqlalchemy as sa

    from signage.district.hub import schema as t
    from signage.district.hub.config import database_url
    from signage.district.hub.store import create_engine

    narrow = sa.MetaData()
    t.board_state.to_metadata(narrow).append_constraint(sa.CheckConstraint("length(version) <= 10", name="short_version"))
    engine = create_engine(database_url(tmp_path / "hub.toml", database))
    narrow.create_all(engine)  # as an older hub, or an administrator's hand, might have left it
    engine.dispose()
    with running_hub(tmp_path, database) as hub:
        answer = hub.report("tan-quan", 1, status={"version": "0.1.0-long-version"})
        assert answer.status_code == 422, answer.text
        assert "tan-quan seq 1" in answer.json()["error"]
        assert hub.report("tan-quan", 2).status_code == 200


# --- 18: screenshots larger than a board sends ----------------------------------------------------


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def screenshot_bytes(board: str, seq: int, size: tuple[int, int] = (96, 54), taken_at: str = START.isoformat(), depth: int = 8) -> bytes:
    """A PNG with the board's tEXt chunks; its pixels compress to almost nothing whatever the size."""
    width, height = size
    colour = 2  # RGB
    row = b"\x00" + bytes(width * 3 * depth // 8)
    data = zlib.compress(row * height, 9)
    texts = b"".join(
        png_chunk(b"tEXt", key + b"\x00" + value.encode("latin-1"))
        for key, value in ((b"signage:board", board), (b"signage:seq", str(seq)), (b"signage:taken_at", taken_at))
    )
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + texts + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def test_4096_square_screenshot_is_refused_from_its_header_before_decoding() -> None:
    png = screenshot_bytes("tan-quan", 7, size=(4096, 4096))
    assert len(png) < 100_000  # 64 KiB on the wire, 48 MiB once decoded
    refused(decide_screenshot(sign(png, PNG_TYPE, [KEY]), PINNED), 400, "4096x4096", "1920")
    # Garbage where the pixels should be: refused for its size all the same, so the size was read before any decoding.
    header_only = png.replace(png[png.index(b"IDAT") - 4 :], png_chunk(b"IDAT", b"junk") + png_chunk(b"IEND", b""))
    refused(decide_screenshot(sign(header_only, PNG_TYPE, [KEY]), PINNED), 400, "4096x4096")
    tall = screenshot_bytes("tan-quan", 8, size=(480, 4000))
    refused(decide_screenshot(sign(tall, PNG_TYPE, [KEY]), PINNED), 400, "480x4000")
    deep = screenshot_bytes("tan-quan", 9, size=(960, 540), depth=16)
    refused(decide_screenshot(sign(deep, PNG_TYPE, [KEY]), PINNED), 400, "16 bits")
    largest = screenshot_bytes("tan-quan", 10, size=(1920, 1080))
    assert decide_screenshot(sign(largest, PNG_TYPE, [KEY]), PINNED).width == 1920  # type: ignore[union-attr]


def test_a_board_screenshot_made_by_pillow_still_passes() -> None:
    image = Image.new("RGB", (960, 540), (10, 20, 30))
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in (("signage:board", "tan-quan"), ("signage:seq", "3"), ("signage:taken_at", START.isoformat())):
        info.add_text(key, value)
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    assert decide_screenshot(sign(out.getvalue(), PNG_TYPE, [KEY]), PINNED).height == 540  # type: ignore[union-attr]


# --- 11: replays of what the hub pruned ------------------------------------------------------------


def test_screenshot_replayed_after_it_was_pruned_is_not_stored_again_and_the_dead_board_stays_offline(
    tmp_path: Path, database: str
) -> None:
    with running_hub(tmp_path, database, screenshots_kept=2) as hub:
        key = hub.keys["tan-quan"]
        captured = sign(screenshot_bytes("tan-quan", 1), PNG_TYPE, [key])
        assert hub.post(captured, "/report/screenshot").json()["duplicate"] is False
        for seq in (2, 3, 4):  # the board takes three more: screenshot 1 is pruned (two kept)
            assert hub.post(sign(screenshot_bytes("tan-quan", seq), PNG_TYPE, [key]), "/report/screenshot").status_code == 200
        store = hub.app.state.store
        assert [row.seq for row in store.screenshot_list("tan-quan")] == [4, 3]
        seen = store.board_state("tan-quan").last_seen
        hub.clock.now = START + minutes(60 * 24)  # the board died a day ago; the attacker replays what it captured
        answer = hub.post(captured, "/report/screenshot")
        assert answer.status_code == 200 and answer.json()["duplicate"] is True
        assert [row.seq for row in store.screenshot_list("tan-quan")] == [4, 3]
        assert store.board_state("tan-quan").last_seen == seen
        page = hub.officer().get(hub.url + "/", timeout=10).text
        assert '<span class="big">0</span> Trực tuyến' in page


def eventually(check: Any, seconds: float = 10.0) -> None:
    """Wait for the hub's own background work (retention runs in its thread) to show."""
    import time

    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.05)


def test_report_replayed_after_retention_pruned_it_is_a_duplicate_and_counts_nothing(tmp_path: Path, database: str) -> None:
    with running_hub(tmp_path, database, keep_plays_days=30) as hub:
        key = hub.keys["tan-quan"]
        captured = report_envelope(key, "tan-quan", 1, plays=[play("hq-1", START)])
        assert hub.post(captured).status_code == 200
        store = hub.app.state.store
        later = START + minutes(60 * 24 * 40)
        hub.clock.now = later
        assert hub.report("tan-quan", 2, sent_at=later).status_code == 200  # the hub's hourly retention runs on it
        eventually(lambda: store.floors("tan-quan")[0] == 1)
        assert store.recent_plays("tan-quan") == []
        assert store.plays_per_day(START.date(), START.date()) == {"2026-11-23": 1}  # the aggregate stays
        answer = hub.post(captured)
        assert answer.status_code == 200 and answer.json()["duplicate"] is True
        assert store.plays_per_day(START.date(), START.date()) == {"2026-11-23": 1}  # not counted twice
        assert store.recent_plays("tan-quan") == []


def test_report_held_back_and_delivered_a_day_late_does_not_mark_the_board_online(hub: Hub) -> None:
    """A report never delivered (captured on the way) carries a new seq: stored, but its signed time says when."""
    held_back = report_envelope(hub.keys["tan-quan"], "tan-quan", 7, sent_at=START)
    hub.clock.now = START + minutes(60 * 24)
    assert hub.post(held_back).json() == {"ok": True, "seq": 7, "duplicate": False}
    state = hub.app.state.store.board_state("tan-quan")
    assert state.last_seen <= START.timestamp() + 300
    assert '<span class="big">0</span> Trực tuyến' in hub.officer().get(hub.url + "/", timeout=10).text


# --- 9: one board filling the disk ----------------------------------------------------------------


def test_board_flooding_reports_gets_429_with_retry_after_and_keeps_them_queued(tmp_path: Path, database: str) -> None:
    with running_hub(tmp_path, database, board_report_burst=5, board_reports_per_hour=60) as hub:
        key = hub.keys["tan-quan"]
        answers = [hub.post(report_envelope(key, "tan-quan", seq)) for seq in range(1, 9)]
        assert [answer.status_code for answer in answers] == [200] * 5 + [429] * 3
        assert 1 <= int(answers[-1].headers["retry-after"]) <= 60
        assert hub.report("tan-hung", 1).status_code == 200  # another board is not held up
        hub.clock.now += minutes(1)  # a minute refills one report
        assert hub.post(report_envelope(key, "tan-quan", 6)).status_code == 200
        assert hub.post(report_envelope(key, "tan-quan", 7)).status_code == 429
        # The board's sender keeps a 429 queued and stops for now: nothing lost, nothing hammered.
        from signage.report.queue import Entry
        from signage.report.sender import Sender

        outcome = Sender(hub.url + "/report").post(Entry(seq=7, kind="report", envelope=report_envelope(key, "tan-quan", 7), attempts=0))
        assert not outcome.delivered and outcome.stop and not outcome.uncertain


def test_report_with_7100_plays_is_refused_before_its_plays_are_parsed() -> None:
    plays = [play("hq-1", START + minutes(n / 60), shown_s=1) for n in range(7100)]
    refused(decide_report(envelope_of(report_body("tan-quan", 5, plays=plays), KEY), PINNED, now=START), 400, "plays: 7100 entries", "5000")


def test_board_past_its_daily_quota_has_its_plays_folded_into_day_totals_not_lost(tmp_path: Path, database: str) -> None:
    with running_hub(tmp_path, database, board_rows_per_day=100) as hub:
        key = hub.keys["tan-quan"]
        for seq in range(1, 6):  # 5 reports of 60 plays: 300 plays, the quota is 100 rows a day
            plays = [play(f"hq-{n % 3}", START + minutes(seq * 60 + n / 6), shown_s=10) for n in range(60)]
            assert hub.post(report_envelope(key, "tan-quan", seq, plays=plays)).status_code == 200
        store = hub.app.state.store
        import sqlalchemy as sa

        from signage.district.hub import schema as t

        with store.engine.connect() as conn:
            stored_plays = conn.execute(sa.select(sa.func.count()).select_from(t.plays)).scalar_one()
            totals = conn.execute(sa.select(sa.func.sum(t.play_totals.c.count), sa.func.count()).select_from(t.play_totals)).one()
        assert stored_plays == 100  # row by row up to the quota
        assert int(totals[0]) == 200 and totals[1] <= 12  # the rest as per-day totals: a few rows
        assert store.plays_per_day(START.date(), (START + minutes(60 * 24)).date()) == {"2026-11-23": 300}
        rows = hub.officer().get(hub.url + "/export.csv?from=2026-11-23&to=2026-11-24", timeout=10).text.splitlines()[1:]
        assert sum(int(row.rsplit(",", 1)[1]) for row in rows) == 300  # proof of play: every one of them


def test_board_adding_totals_past_twice_its_quota_waits_for_tomorrow(tmp_path: Path, database: str) -> None:
    with running_hub(tmp_path, database, board_rows_per_day=100) as hub:
        key = hub.keys["tan-quan"]
        totals = [
            {"bulletin": f"hq-{n}", "revision": 1, "day": "2026-11-22", "count": 1, "completed": 1, "shown_s": 10} for n in range(150)
        ]
        assert hub.post(envelope_of(report_body("tan-quan", 1, play_totals=totals), key)).status_code == 200
        answer = hub.post(envelope_of(report_body("tan-quan", 2, play_totals=totals), key))
        assert answer.status_code == 429
        assert 0 < int(answer.headers["retry-after"]) <= 86400
        hub.clock.now += minutes(60 * 24)
        assert hub.post(envelope_of(report_body("tan-quan", 2, sent_at=hub.clock.now, play_totals=totals), key)).status_code == 200


def test_old_plays_and_screenshots_are_pruned_and_the_dashboard_figures_stay(tmp_path: Path, database: str) -> None:
    with running_hub(tmp_path, database, keep_plays_days=30) as hub:
        key = hub.keys["tan-quan"]
        total = {"bulletin": "hq-7", "revision": 1, "day": "2026-11-22", "count": 40, "completed": 40, "shown_s": 800}
        hub.post(report_envelope(key, "tan-quan", 1, plays=[play("hq-1", START)] * 3, play_totals=[total],
                                 commands_done=[{"id": "cmd-1", "ok": True}]))  # fmt: skip
        hub.post(sign(screenshot_bytes("tan-quan", 2), PNG_TYPE, [key]), "/report/screenshot")
        store = hub.app.state.store
        later = START + minutes(60 * 24 * 31)
        hub.clock.now = later
        assert hub.post(report_envelope(key, "tan-quan", 3, sent_at=later, plays=[play("hq-2", later)])).status_code == 200
        eventually(lambda: store.commands("tan-quan") == [] and store.screenshot_list("tan-quan") == [])
        assert [row.bulletin for row in store.recent_plays("tan-quan")] == ["hq-2"]
        rows = hub.officer().get(hub.url + "/export.csv?from=2026-11-01&to=2026-12-31", timeout=10).text.splitlines()[1:]
        assert [row.split(",")[1] for row in rows] == ["hq-2"]  # the raw records are gone...
        assert store.plays_per_day(date(2026, 11, 1), later.date())["2026-11-23"] == 3  # ...the day's figures stay
        assert {row.bulletin: int(row.count) for row in store.bulletin_totals(date(2026, 11, 1), later.date())}["hq-7"] == 40
        assert store.board_state("tan-quan").screenshot_seq == 2


def test_retention_prunes_in_batches_and_says_what_it_deleted(tmp_path: Path, database: str) -> None:
    from signage.district.hub.config import BoardEntry, database_url
    from signage.district.hub.ingest import Screenshot, decide_screenshot
    from signage.district.hub.store import HubStore
    from signage.envelope import key_id

    store = HubStore.open(database_url(tmp_path / "hub.toml", database), START.tzinfo)  # type: ignore[arg-type]
    try:
        raw = public_raw(KEY)
        store.sync_boards([BoardEntry("tan-quan", "UBND xã Tân Quan", raw, key_id(raw))])
        for seq in range(1, 4):
            report = decide_report(report_envelope(KEY, "tan-quan", seq, plays=[play("hq-1", START)] * 4), PINNED)
            assert isinstance(report, Report)
            store.ingest_report(report, START)
        shot = decide_screenshot(sign(screenshot_bytes("tan-quan", 9), PNG_TYPE, [KEY]), PINNED)
        assert isinstance(shot, Screenshot)
        store.ingest_screenshot(shot, b"thumb", START, keep=5)
        deleted = store.prune(START + minutes(60 * 24 * 10), keep_days=5, batch=5, pause_s=0)
        assert deleted["plays"] == 12 and deleted["reports"] == 3 and deleted["screenshots"] == 1
        assert store.floors("tan-quan") == (3, 9)
        report = decide_report(report_envelope(KEY, "tan-quan", 2, plays=[play("hq-1", START)]), PINNED)
        assert store.ingest_report(report, START + minutes(60 * 24 * 10)).value == "held"  # type: ignore[arg-type]  # pruned: a replay
    finally:
        store.close()


# --- 16: junk that buries a board's refusal, and the log ------------------------------------------


def test_fifty_junk_posts_do_not_push_a_board_refusal_off_the_dashboard(hub: Hub) -> None:
    wrong = report_envelope(hub.keys["tan-hung"], "tan-quan", 1)  # a real board's key, naming another board
    assert hub.post(wrong).status_code == 403
    stranger = Ed25519PrivateKey.generate()
    for seq in range(50):
        assert hub.post(report_envelope(stranger, "tan-quan", seq + 1)).status_code == 401
    for _ in range(10):
        assert hub.post(b"x" * 10).status_code == 400
    page = hub.officer().get(hub.url + "/", timeout=10).text
    assert "signed by board &#39;tan-hung&#39; but names board &#39;tan-quan&#39;" in page
    junk = page[page.index("không có chữ ký") :]
    assert "127.0.0.1" in junk and '<td class="num">60</td>' in junk  # counted per address, not listed one by one
    assert page.count("no signature names the keyid") <= 1


def test_junk_flood_writes_one_log_line_a_minute_per_address(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.WARNING, logger="signage.hub")
    stranger = Ed25519PrivateKey.generate()
    for seq in range(50):
        hub.post(report_envelope(stranger, "tan-quan", seq + 1))
    lines = [record.getMessage() for record in caplog.records if record.getMessage().startswith("refused /report")]
    assert len(lines) == 1 and "from 127.0.0.1: 401" in lines[0]
    hub.clock.now += minutes(1.5)
    hub.post(report_envelope(stranger, "tan-quan", 99))
    lines = [record.getMessage() for record in caplog.records if record.getMessage().startswith("refused /report")]
    assert len(lines) == 2 and "(49 more like it in the last minute)" in lines[1]
    # A board's refusal is never drowned: its own key, its own line.
    hub.post(report_envelope(hub.keys["tan-hung"], "tan-quan", 1))
    assert any("board tan-hung at 127.0.0.1: 403" in record.getMessage() for record in caplog.records)


# --- 3: taking the hub down without a key ---------------------------------------------------------


def raw_connection(url: str, source: str = "127.0.0.1") -> socket.socket:
    """A TCP connection to the hub from `source` (any 127.0.0.x: another machine, as far as the hub can tell)."""
    host, port = url.removeprefix("http://").split(":")
    conn = socket.create_connection((host, int(port)), timeout=10, source_address=(source, 0))
    return conn


def closed_within(conn: socket.socket, seconds: float) -> bytes:
    """What the hub says before it closes the connection; fails if it stays open longer than `seconds`."""
    conn.settimeout(seconds)
    said = b""
    try:
        while chunk := conn.recv(65536):
            said += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"still open after {seconds} s (said {said[:80]!r})")
    return said


def test_client_that_never_finishes_its_headers_is_closed(tmp_path: Path) -> None:
    with running_hub(tmp_path, "hub.db", header_timeout_seconds=1) as hub:
        silent = raw_connection(hub.url)
        half = raw_connection(hub.url)
        half.sendall(b"POST /report HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n")
        assert closed_within(half, 5).startswith(b"HTTP/1.1 408")
        assert closed_within(silent, 5).startswith(b"HTTP/1.1 408")
        # A kept-alive connection's next request has the same deadline.
        kept = raw_connection(hub.url)
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n")
        kept.settimeout(5)
        assert kept.recv(65536).startswith(b"HTTP/1.1 200")
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: h")
        assert closed_within(kept, 5).startswith(b"HTTP/1.1 408")


def test_headers_that_never_end_are_refused_431_not_buffered(tmp_path: Path) -> None:
    with running_hub(tmp_path, "hub.db") as hub:
        flood = raw_connection(hub.url)
        flood.sendall(b"GET /" + b"a" * 200_000)
        assert closed_within(flood, 5).startswith(b"HTTP/1.1 431")
        many = raw_connection(hub.url)
        with contextlib.suppress(OSError):  # the hub may close while we still send
            many.sendall(b"GET / HTTP/1.1\r\n" + b"X-Junk: 0123456789abcdef\r\n" * 10_000)
        assert closed_within(many, 5).startswith(b"HTTP/1.1 431")


def test_body_trickled_below_the_minimum_rate_is_closed(tmp_path: Path) -> None:
    with running_hub(tmp_path, "hub.db", header_timeout_seconds=1) as hub:
        slow = raw_connection(hub.url)
        slow.sendall(b"POST /report HTTP/1.1\r\nHost: hub\r\nContent-Length: 100000\r\n\r\n")
        started = time.monotonic()
        slow.settimeout(0.5)
        said = b""
        while time.monotonic() - started < 8:
            try:
                slow.sendall(b"x" * 10)  # 20 bytes a second
                said += slow.recv(65536)
                if said:
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        assert time.monotonic() - started < 6
        assert said == b"" or said.startswith(b"HTTP/1.1 408")
        # Most of the body at once, then a trickle: each window must bring its share, so it is closed as soon.
        front = raw_connection(hub.url)
        front.sendall(b"POST /report/screenshot HTTP/1.1\r\nHost: hub\r\nContent-Length: 1000000\r\n\r\n" + b"A" * 500_000)
        started = time.monotonic()
        assert closed_within(front, 6).startswith(b"HTTP/1.1 408")
        assert time.monotonic() - started < 4
        assert hub.report("tan-quan", 1).status_code == 200


def test_a_thousand_half_sent_requests_do_not_shut_out_a_board(tmp_path: Path) -> None:
    """1,100 half-sent requests used to take every descriptor (1,024): now the oldest waiting are closed for the new."""
    with running_hub(tmp_path, "hub.db", max_connections=50, max_connections_per_address=100_000) as hub:
        before = len(os.listdir("/proc/self/fd"))
        attackers = []
        for _ in range(300):
            conn = raw_connection(hub.url, "127.0.0.2")
            conn.sendall(b"POST /report HTTP/1.1\r\nHost: hub\r\n")
            attackers.append(conn)
        time.sleep(0.5)
        # The test's own 300 sockets, and at most 50 of the hub's (and a few it is closing).
        assert len(os.listdir("/proc/self/fd")) - before < 300 + 50 + 20
        started = time.monotonic()
        for seq in range(1, 6):
            assert hub.report("tan-quan", seq).status_code == 200
        assert time.monotonic() - started < 5
        for conn in attackers:
            conn.close()


def test_one_address_cannot_hold_more_than_its_share_of_connections(tmp_path: Path) -> None:
    with running_hub(tmp_path, "hub.db", max_connections_per_address=5) as hub:
        held = [raw_connection(hub.url, "127.0.0.3") for _ in range(5)]
        extra = raw_connection(hub.url, "127.0.0.3")
        assert closed_within(extra, 5).startswith(b"HTTP/1.1 503")
        assert hub.report("tan-quan", 1).status_code == 200  # a board from another address
        for conn in held:
            conn.close()


def test_stalled_uploads_cannot_hold_more_than_the_hubs_body_budget(tmp_path: Path) -> None:
    """100 stalled screenshot uploads held 871 MiB: now what bodies hold in all is capped (503 past it)."""
    mib = 1024 * 1024
    with running_hub(tmp_path, "hub.db", max_body_bytes_in_flight=mib, max_connections_per_address=1000) as hub:
        stalled = []
        for _ in range(2):
            conn = raw_connection(hub.url, "127.0.0.4")
            conn.sendall(b"POST /report/screenshot HTTP/1.1\r\nHost: hub\r\nContent-Length: 4000000\r\n\r\n" + b"A" * 600_000)
            stalled.append(conn)
        answers = []
        for conn in stalled:  # whichever passed the budget second is turned away; the first still waits
            conn.settimeout(2)
            try:
                answers.append(conn.recv(65536))
            except TimeoutError:
                answers.append(b"")
        refused = [said for said in answers if said]
        assert len(refused) == 1 and refused[0].startswith(b"HTTP/1.1 503") and b"retry-after: 30" in refused[0].lower()
        assert hub.report("tan-quan", 1).status_code == 200  # a report (a few KiB) never waits on the budget
        for conn in stalled:
            conn.close()
        time.sleep(0.3)
        again = raw_connection(hub.url, "127.0.0.4")  # the budget is given back when an upload ends
        again.sendall(b"POST /report/screenshot HTTP/1.1\r\nHost: hub\r\nContent-Length: 600000\r\n\r\n" + b"A" * 600_000)
        # Answered (not 503: the budget came back); the hub may keep the connection for its 5 s keep-alive after it.
        assert closed_within(again, 30).startswith(b"HTTP/1.1 400")


def test_megabytes_of_junk_json_do_not_hold_up_the_other_requests(hub: Hub) -> None:
    """1 MiB of junk JSON used to cost 1.1 s of the event loop: four senders pushed /healthz to 3 s."""
    from signage.envelope import key_id

    pinned = key_id(public_raw(hub.keys["tan-quan"])).encode()
    junk = [
        b'{"a": [' + b"{}," * 300_000 + b"{}]}",  # no known keyid: refused before parsing
        b'{"signatures": [{"keyid": "%s"}], "a": [' % pinned + b"{}," * 300_000 + b"{}]}",  # a known one: shape
        b'{"payloadType": "x", "signatures": [{"keyid": "%s", "sig": "AA=="}], "payload": "' % pinned + b"A" * 1_000_000 + b'"}',
    ]
    stop = threading.Event()

    def send_junk(body: bytes) -> None:
        """From another machine (127.0.0.5), one request a connection, as fast as the hub answers."""
        while not stop.is_set():
            with contextlib.suppress(OSError), raw_connection(hub.url, "127.0.0.5") as conn:
                conn.sendall(b"POST /report HTTP/1.1\r\nHost: hub\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                conn.recv(65536)

    senders = [threading.Thread(target=send_junk, args=(junk[n % 3],)) for n in range(4)]
    for sender in senders:
        sender.start()
    try:
        worst = 0.0
        with requests.Session() as session:
            for _ in range(20):
                started = time.monotonic()
                assert session.get(hub.url + "/healthz", timeout=10).status_code == 200
                worst = max(worst, time.monotonic() - started)
                time.sleep(0.05)
        plays = [play("hq-1", START + minutes(n / 60), shown_s=1) for n in range(4900)]  # a real 800 KB report, in a thread
        assert hub.report("tan-quan", 1, plays=plays).status_code == 200
    finally:
        stop.set()
        for sender in senders:
            sender.join()
    assert worst < 0.5, worst


def test_screenshots_are_decoded_at_most_two_at_a_time(tmp_path: Path) -> None:
    """Eight 4096x4096 screenshots at once took the hub to 1.27 GB; a board's are at most 1920x1920, two decoded at once."""
    from signage.district.hub.endpoint import BoardEndpoints, BodyBudget, Endpoint

    running = {"now": 0, "most": 0}
    lock = threading.Lock()

    def decode(raw: bytes) -> dict[str, Any]:
        with lock:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
        time.sleep(0.2)
        with lock:
            running["now"] -= 1
        return {"ok": True}

    from starlette.applications import Starlette

    app = BoardEndpoints(Starlette(), {"/shot": Endpoint(1024, decode, concurrency=2)}, lambda *a: None, BodyBudget(1024 * 1024))
    with serve(app) as url, concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: requests.post(url + "/shot", data=b"x", timeout=10).status_code, range(8)))
    assert answers == [200] * 8 and running["most"] == 2
    with running_hub(tmp_path, "hub.db") as hub:
        assert hub.app.app.endpoints["/report/screenshot"].concurrency == 2


# --- 10 (the board's half): the error is made clean where it is made ---------------------------------


@contextmanager
def raw_http_server(answer: bytes) -> Iterator[str]:
    """A server on loopback that answers every connection with `answer`, bytes as given (a misbehaving feed host)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve_forever() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    conn.recv(65536)
                    conn.sendall(answer)

    thread = threading.Thread(target=serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 500 Bad\x00Thing\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gz\x1b[2Jip\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        b"HTTP/1.1 5\x00\r\n\r\n",
    ],
)
def test_feed_server_answering_a_nul_or_escape_cannot_put_it_in_the_boards_last_error(answer: bytes) -> None:
    from signage.errors import FetchError
    from signage.feed.http import Fetcher

    with raw_http_server(answer) as url:
        fetcher = Fetcher(connect_timeout=2, read_timeout=2)
        try:
            with pytest.raises(FetchError) as caught:
                fetcher.get_feed(url + "/feed.json", etag=None, last_modified=None, max_bytes=1024, deadline_s=5)
        finally:
            fetcher.close()
    message = str(caught.value)
    assert not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in message), message


def test_address_sending_junk_again_and_again_is_turned_away_before_its_body_is_read(hub: Hub) -> None:
    stranger = Ed25519PrivateKey.generate()
    junk = report_envelope(stranger, "tan-quan", 1)
    statuses = []
    for _ in range(62):
        with raw_connection(hub.url, "127.0.0.6") as conn:
            conn.sendall(b"POST /report HTTP/1.1\r\nHost: hub\r\nContent-Length: %d\r\n\r\n" % len(junk) + junk)
            statuses.append(conn.recv(65536))
    assert all(said.startswith(b"HTTP/1.1 401") for said in statuses[:60])
    assert statuses[-1].startswith(b"HTTP/1.1 429") and b"retry-after: " in statuses[-1].lower()
    assert hub.report("tan-quan", 1).status_code == 200  # a board from its own address is not held up
