"""Board reports: proof of play, the durable queue and its cap, sending through a real HTTP receiver."""

from __future__ import annotations

import base64
import io
import json
import socket
import textwrap
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pygame
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageStat

from signage.config import load_config
from signage.envelope import REPORT_TYPE, generate_key, parse_public_key, public_key_text, public_raw, verify
from signage.errors import SignageError
from signage.model import Action, Bulletin, Command, Kind, Playable, Priority
from signage.report import payload as payloads
from signage.report.plays import Play, PlayLog
from signage.report.queue import ReportQueue
from signage.report.reporter import Reporter
from signage.status import board_status
from signage.store.db import Store

from .reportsink import Sink, serve
from .test_player import THREE, StepClock, board, run_for, started

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=HCM)


def play(bulletin: str, minutes: float, shown: float = 20.0, completed: bool = True) -> Play:
    return Play(bulletin, 1, T0 + timedelta(minutes=minutes), shown, completed, None if completed else "emergency")


def opened(envelope: bytes) -> dict[str, Any]:
    return json.loads(base64.b64decode(json.loads(envelope)["payload"]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- plays -----------------------------------------------------------------------------


def text_playable(bulletin_id: str, duration: float, revision: int = 1) -> Playable:
    return Playable(Bulletin(id=bulletin_id, revision=revision, kind=Kind.TEXT, title="T", body="B", duration_s=duration))


def test_a_play_is_completed_when_it_lasted_its_turn_and_says_why_when_cut() -> None:
    log = PlayLog()
    log.begin(text_playable("a", 20), T0)
    assert log.now_playing == "a"
    full = log.end(T0 + timedelta(seconds=19.7), "expired")
    log.begin(text_playable("b", 20), T0 + timedelta(seconds=20))
    cut = log.end(T0 + timedelta(seconds=25), "emergency")
    assert log.end(T0 + timedelta(seconds=30), "stopped") is None  # nothing on screen: nothing to end
    assert full is not None and full.completed and full.reason is None and full.as_json()["shown_s"] == 19.7
    assert cut is not None and not cut.completed and cut.as_json()["reason"] == "emergency" and cut.shown_s == 5.0
    assert [p.bulletin for p in log.take()] == ["a", "b"] and log.take() == []


plays_strategy = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 60 * 24 * 3), st.floats(0, 60), st.booleans()), max_size=60
)


@settings(max_examples=60, deadline=None)
@given(st.lists(plays_strategy, min_size=1, max_size=6))
def test_merging_reports_keeps_every_count_second_and_completion(reports: list[list[tuple[str, int, float, bool]]]) -> None:
    bodies = [
        payloads.report("tan-quan", seq, T0, {"n": seq}, [play(b, m, s, c).as_json() for b, m, s, c in entries], [])
        for seq, entries in enumerate(reports, start=5)
    ]
    merged = payloads.merge([payloads.merge(bodies[:2], HCM), *bodies[2:]], HCM)  # a merged report merges again
    flat = [p for entries in reports for p in entries]
    totals = merged["play_totals"]
    assert merged["seq"] == 5 and merged["covers_seq"] == [5, 4 + len(reports)] and merged["status"] == {"n": 4 + len(reports)}
    assert sum(t["count"] for t in totals) == len(flat)
    assert sum(h["count"] for h in merged["heartbeat_days"]) == len(reports)  # each merged report was a heartbeat
    assert sum(t["completed"] for t in totals) == sum(c for *_, c in flat)
    assert sum(t["shown_s"] for t in totals) == pytest.approx(sum(round(s, 2) for _, _, s, _ in flat), abs=0.01 * max(1, len(totals)))
    for total in totals:  # each play counted on the local day it started
        expected = [e for e in flat if e[0] == total["bulletin"] and (T0 + timedelta(minutes=e[1])).date().isoformat() == total["day"]]
        assert total["count"] == len(expected)


# -- the queue ---------------------------------------------------------------------------


@pytest.fixture
def key_and_store(tmp_path: Path):
    key = generate_key(tmp_path / "board.key")
    store = Store(tmp_path / "board.db")
    yield key, store
    store.close()


def test_seq_counts_up_and_each_command_outcome_is_told_once(key_and_store) -> None:
    key, store = key_and_store
    queue = ReportQueue(store, key, "tan-quan", HCM)
    store.add_commands([Command("cmd-1", Action.SYNC, ("tan-quan",), T0, T0 + timedelta(hours=1))], T0)
    assert store.claim_commands(T0) == [("cmd-1", Action.SYNC)]
    assert queue.add_report({}, [], T0) == 1  # the command is still running: not told yet
    store.command_done("cmd-1", "ok")
    second = queue.add_report({"x": 1}, [play("a", 0)], T0)
    third = queue.add_report({}, [], T0)
    entries = queue.pending()
    assert (second, third) == (2, 3) and [e.seq for e in entries] == [1, 2, 3] and queue.count() == 3
    bodies = [json.loads(verify(e.envelope, REPORT_TYPE, [public_raw(key)], 1, "t").payload) for e in entries]
    assert [b["commands_done"] for b in bodies] == [[], [{"id": "cmd-1", "ok": True, "at": T0.isoformat()}], []]
    assert bodies[1]["plays"] == [play("a", 0).as_json()] and bodies[1]["board"] == "tan-quan"
    queue.delivered(1)
    assert [e.seq for e in queue.pending()] == [2, 3]


def test_over_its_cap_the_queue_merges_what_never_left_and_keeps_what_may_have(key_and_store) -> None:
    key, store = key_and_store
    queue = ReportQueue(store, key, "tan-quan", HCM, queue_max=10)
    for n in range(10):
        queue.add_report({"n": n}, [play("a", n), play("b", n, completed=False)], T0)
    queue.failed(2, "lost answer", uncertain=True)  # may be at the hub already: never merged
    queue.failed(3, "refused", uncertain=False)
    queue.add_report({"n": 10}, [play("a", 10)], T0)  # the 11th passes the cap
    entries = queue.pending()
    bodies = {e.seq: opened(e.envelope) for e in entries}
    merged = [b for b in bodies.values() if "covers_seq" in b]
    assert len(merged) == 1 and merged[0]["seq"] == 1 and merged[0]["covers_seq"] == [1, 6]
    assert 2 in bodies and "covers_seq" not in bodies[2]
    assert len(entries) == 11 - 5 + 1
    counted = sum(len(b["plays"]) for b in bodies.values()) + sum(t["count"] for b in merged for t in b["play_totals"])
    assert counted == 21  # every play is still there, in full or in a total
    verify(next(e.envelope for e in entries if e.seq == 1), REPORT_TYPE, [public_raw(key)], 1, "t")


def test_a_new_screenshot_replaces_one_never_sent(key_and_store) -> None:
    key, store = key_and_store
    queue = ReportQueue(store, key, "tan-quan", HCM)
    first = queue.add_screenshot(lambda seq: b"png %d" % seq, T0)
    queue.add_report({}, [], T0)
    second = queue.add_screenshot(lambda seq: b"png %d" % seq, T0)
    assert [(e.seq, e.kind) for e in queue.pending()] == [(2, "report"), (second, "screenshot")] and first == 1


# -- sending -----------------------------------------------------------------------------


def reporting_board(tmp_path: Path, url: str, *, extra: str = "") -> tuple[Path, bytes]:
    key = generate_key(tmp_path / "board.key")
    report = f"""
    [report]
    url = "{url}"
    key = "board.key"
    heartbeat_seconds = 2
    screenshot_width = 320
    {extra}
    """
    return board(tmp_path, THREE, extra=textwrap.dedent(report)), public_raw(key)


def reporter_for(config_path: Path, log: PlayLog) -> Reporter:
    return Reporter(load_config(config_path), log, lambda: (log.now_playing, True), now=lambda: T0)


def test_hub_down_then_up_every_play_arrives_exactly_once(tmp_path: Path) -> None:
    port = free_port()
    config_path, public = reporting_board(tmp_path, f"http://127.0.0.1:{port}/report")
    log = PlayLog()
    reporter = reporter_for(config_path, log)
    played = []
    for n in range(5):  # five heartbeats with nobody listening
        for k in range(3):
            log.begin(text_playable("abc"[k], 2), T0 + timedelta(minutes=n, seconds=k * 2))
            played.append(log.end(T0 + timedelta(minutes=n, seconds=k * 2 + 2), "expired"))
        assert reporter.heartbeat() == n + 1
    assert "cannot connect" in (reporter.last_error or "")
    assert board_status(load_config(config_path), T0)["reports_queued"] == 5  # `signage status` says what waits
    sink = Sink(public)
    with serve(sink, port):
        reporter.heartbeat()  # the sixth, and everything queued before it
    assert sorted(sink.reports) == [1, 2, 3, 4, 5, 6] and sink.duplicates == 0
    assert sink.plays() == [p.as_json() for p in played if p is not None]
    assert reporter.last_error is None
    assert board_status(load_config(config_path), T0)["reports_queued"] == 0
    store = Store(tmp_path / "state" / "board.db")
    assert store.db.execute("SELECT count(*) FROM report_queue").fetchone()[0] == 0
    store.close()


def test_a_lost_answer_is_resent_as_the_same_bytes_and_never_merged(tmp_path: Path) -> None:
    sink = Sink(b"")
    with serve(sink) as url:
        config_path, sink.public_key = reporting_board(tmp_path, url)
        log = PlayLog()
        reporter = reporter_for(config_path, log)
        sink.mode = "drop"  # the hub stores it, the answer never comes back
        reporter.heartbeat()
        store = Store(tmp_path / "state" / "board.db")
        assert store.db.execute("SELECT uncertain, attempts FROM report_queue").fetchall() == [(1, 1)]
        sink.mode = "ok"
        assert reporter.send() == 1
        assert sorted(sink.reports) == [1] and sink.duplicates == 1  # the hub saw it twice, stores it once
        assert store.db.execute("SELECT count(*) FROM report_queue").fetchone()[0] == 0
        store.close()


def test_a_refusing_hub_keeps_the_reports_queued(tmp_path: Path) -> None:
    sink = Sink(b"", mode="401")
    with serve(sink) as url:
        config_path, sink.public_key = reporting_board(tmp_path, url)
        reporter = reporter_for(config_path, PlayLog())
        reporter.heartbeat()
        reporter.heartbeat()
        assert sink.requests == 2 and "HTTP 401" in (reporter.last_error or "")  # stops at the first refusal each time
        sink.mode = "ok"
        reporter.send()
        assert sorted(sink.reports) == [1, 2]


def test_one_refused_report_stays_queued_and_the_others_go(tmp_path: Path) -> None:
    sink = Sink(b"", refuse={2})
    with serve(sink) as url:
        config_path, sink.public_key = reporting_board(tmp_path, url)
        reporter = reporter_for(config_path, PlayLog())
        for _ in range(3):
            reporter.heartbeat()
        assert sorted(sink.reports) == [1, 3] and "HTTP 400" in (reporter.last_error or "")
        assert board_status(load_config(config_path), T0)["reports_queued"] == 1
        sink.refuse.clear()
        reporter.send()
        assert sorted(sink.reports) == [1, 2, 3] and reporter.last_error is None


def test_a_missing_board_key_stops_the_start_naming_the_file(tmp_path: Path) -> None:
    config_path, _ = reporting_board(tmp_path, "http://127.0.0.1:9/report")
    (tmp_path / "board.key").unlink()
    with pytest.raises(SignageError, match=r"board\.key: cannot read key"):
        reporter_for(config_path, PlayLog())


# -- in the player -----------------------------------------------------------------------


def test_the_player_reports_what_it_showed_and_sends_the_real_frame(tmp_path: Path) -> None:
    sink = Sink(b"")
    with serve(sink) as url:
        config_path, sink.public_key = reporting_board(tmp_path, url)
        clock = StepClock()
        with started(config_path, clock) as player:
            run_for(player, clock, 7.2)
            assert player.reporter is not None and player.plays.now_playing == "a"
            store = Store(tmp_path / "state" / "board.db")
            now = clock.now()
            store.add_commands([Command("cmd-9", Action.SCREENSHOT, ("tan-quan",), now, now + timedelta(hours=1))], now)
            commands = store.claim_commands(clock.now())
            store.close()
            player.run_commands(commands, clock.now())
            player.reporter._pool.submit(lambda: None).result(timeout=10)
            frame = pygame.image.tobytes(player.output.frame, "RGB")
        # closing sent the last report: the plays so far and the screenshot command's outcome
    shots = list(sink.screenshots.values())
    assert len(shots) == 1
    shot = shots[0]
    assert shot.size == (320, 180) and shot.text["signage:board"] == "tan-quan" and shot.text["signage:command"] == "cmd-9"
    plays = sink.plays()
    assert [(p["bulletin"], p["completed"]) for p in plays] == [("a", True), ("b", True), ("c", True), ("a", False)]
    assert plays[-1]["reason"] == "stopped" and 1.0 < plays[-1]["shown_s"] < 1.4
    done = [d for r in sink.reports.values() for d in r["commands_done"]]
    assert done == [{"id": "cmd-9", "ok": True, "at": done[0]["at"], "detail": f"ảnh màn hình số {min(sink.screenshots)}"}]
    last = sink.reports[max(sink.reports)]["status"]
    assert last["now_playing"] is None and last["heartbeat_s"] == 2 and last["version"]  # the last report: the board stopping
    assert last["feed_notes"] is None and last["clock_behind_trusted"] is False and last["disk_free_bytes"] > 0
    # the screenshot is the real frame on screen, downscaled
    expected = Image.frombytes("RGB", (640, 360), frame).resize((320, 180), Image.Resampling.LANCZOS)
    difference = ImageChops.difference(expected, shot.convert("RGB"))
    assert max(ImageStat.Stat(difference).mean) < 4


def test_an_emergency_cut_is_reported_as_such(tmp_path: Path) -> None:
    config_path = board(tmp_path, THREE)
    clock = StepClock()
    with started(config_path, clock) as player:
        run_for(player, clock, 1.0)
        storm = Bulletin(id="khan", revision=1, kind=Kind.TEXT, title="Khẩn", body="Bão", duration_s=3, priority=Priority.EMERGENCY)
        urgent = Playable(storm)
        player.set_content([*player.content, urgent])
        run_for(player, clock, 0.5)
        plays = player.plays.take()
    assert [(p.bulletin, p.completed, p.reason) for p in plays] == [("a", False, "emergency")]


def test_public_key_roundtrip_for_the_hub(tmp_path: Path) -> None:
    key = generate_key(tmp_path / "k")
    assert parse_public_key(public_key_text(public_raw(key))) == public_raw(key)


def test_screenshot_png_names_its_board_and_seq(tmp_path: Path) -> None:
    from signage.report.screenshot import png_of

    pygame.init()
    surface = pygame.Surface((1920, 1080))
    surface.fill((200, 30, 30))
    png = png_of(surface, 960, board="tan-hung", seq=42, taken_at=T0, command=None)
    image = Image.open(io.BytesIO(png))
    assert image.size == (960, 540) and image.text["signage:seq"] == "42" and "signage:command" not in image.text
    assert image.getpixel((10, 10)) == (200, 30, 30)
