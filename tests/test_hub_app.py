"""The hub over real HTTP (uvicorn on port 0), on SQLite and PostgreSQL: reports, refusals, screenshots, officers, CSV."""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signage.district.hub import HubConfig, create_app
from signage.district.hub.app import hash_password
from tests.hubserver import (
    START,
    envelope_of,
    minutes,
    play,
    report_body,
    report_envelope,
    screenshot_envelope,
    serve,
    write_hub_config,
)

PASSWORD = "mật-khẩu-đủ-dài"


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

    def post(self, raw: bytes, path: str = "/report") -> requests.Response:
        return requests.post(self.url + path, data=raw, timeout=10)

    def officer(self) -> requests.Session:
        session = requests.Session()
        answer = session.post(self.url + "/login", data={"username": "an", "password": PASSWORD}, timeout=10)
        assert answer.status_code == 200 and answer.url == self.url + "/"
        return session


@pytest.fixture(params=["sqlite", "postgresql"])
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hub]:
    database = "hub.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    keys = {"tan-quan": Ed25519PrivateKey.generate(), "tan-hung": Ed25519PrivateKey.generate()}
    config = HubConfig.load(write_hub_config(tmp_path, keys, database=database, max_report_bytes=4096, screenshots_kept=2))
    clock = Clock(START + minutes(1))
    app = create_app(config, clock=clock)
    app.state.store.set_user("an", hash_password(PASSWORD), START)
    with serve(app) as url:
        yield Hub(url, keys, clock)


def test_a_report_is_stored_once_and_shown(hub: Hub) -> None:
    raw = report_envelope(hub.keys["tan-quan"], "tan-quan", 88, plays=[play("hq-2026-0142", START)])
    first, again = hub.post(raw), hub.post(raw)
    assert (first.status_code, first.json()) == (200, {"ok": True, "seq": 88, "duplicate": False})
    assert (again.status_code, again.json()) == (200, {"ok": True, "seq": 88, "duplicate": True, "same": True})
    page = hub.officer().get(hub.url + "/", timeout=10).text
    assert "UBND xã Tan Quan" in page and "hq-2026-0142" in page and "#1042" in page and "12,3 GB" in page
    assert "23/11/2026 09:06" in page  # last seen, in the hub's time zone
    assert '<span class="big">1</span> Trực tuyến' in page and '<span class="big">1</span> Mất kết nối' in page
    assert "<svg" in page and "Lượt phát theo ngày" in page
    officer = hub.officer()
    bulletins = officer.get(hub.url + "/bulletins?from=2026-11-23&to=2026-11-23", timeout=10).text
    assert "/bulletins/hq-2026-0142?from=2026-11-23&amp;to=2026-11-23" in bulletins
    where = officer.get(hub.url + "/bulletins/hq-2026-0142?from=2026-11-23&to=2026-11-23", timeout=10).text
    assert '<a href="/boards/tan-quan">UBND xã Tan Quan</a>' in where and "đã phát trên 1 bảng, 1 lượt" in where  # once, not twice
    assert "23/11/2026" in where
    note = "accepted sequence 7 below the stored 9: key rotation recovery"
    hub.post(report_envelope(hub.keys["tan-quan"], "tan-quan", 89, status={"feed_notes": note}))
    board = officer.get(hub.url + "/boards/tan-quan", timeout=10).text
    assert "Ghi chú nguồn tin" in board and note in board
    assert "23/11/2026 09:05:00" in board and "T09:05" not in board  # the board's clock and last sync, readable


def test_refusals_answer_and_never_stop_the_next_report(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="signage.hub")
    quan, hung, stranger = hub.keys["tan-quan"], hub.keys["tan-hung"], Ed25519PrivateKey.generate()
    forged = report_envelope(stranger, "tan-quan", 1).replace(b'"keyid":"', b'"keyid":"x')
    cases = [
        (report_envelope(stranger, "tan-quan", 1), 401),
        (forged, 401),
        (report_envelope(hung, "tan-quan", 1), 403),
        (b"{not json", 401),  # names no pinned keyid: refused before it is parsed
        (envelope_of(report_body("tan-quan", 1), quan, "image/png"), 400),
        (envelope_of(report_body("tan-quan", 0), quan), 400),
        (b"x" * 5000, 413),
    ]
    for raw, status in cases:
        answer = hub.post(raw)
        assert answer.status_code == status, (raw[:60], answer.text)
        assert answer.json()["ok"] is False
    # No Content-Length: a chunked body is cut off as it passes the limit.
    chunked = requests.post(hub.url + "/report", data=(b"y" * 1024 for _ in range(8)), timeout=10)
    assert chunked.status_code == 413
    assert hub.post(report_envelope(quan, "tan-quan", 1)).json() == {"ok": True, "seq": 1, "duplicate": False}
    assert any("refused /report from 127.0.0.1: 401" in record.getMessage() for record in caplog.records)
    page = hub.officer().get(hub.url + "/", timeout=10).text
    assert "Báo cáo bị từ chối" in page and "signed by board &#39;tan-hung&#39; but names board &#39;tan-quan&#39;" in page


def test_merged_totals_in_bulletins_and_csv(hub: Hub) -> None:
    key = hub.keys["tan-hung"]
    total = {"bulletin": "hq-7", "revision": 2, "day": "2026-11-20", "count": 412, "completed": 409, "shown_s": 8210.5}
    hub.post(report_envelope(key, "tan-hung", 12, covers_seq=[12, 30], play_totals=[total]))
    hub.post(
        report_envelope(key, "tan-hung", 31, plays=[play("hq-7", START, revision=2), play("hq-8", START, 2.5, False, reason="emergency")])
    )
    hub.post(report_envelope(hub.keys["tan-quan"], "tan-quan", 5, plays=[play("hq-7", START - minutes(60 * 24 * 10))]))
    officer = hub.officer()
    page = officer.get(hub.url + "/bulletins?from=2026-11-20&to=2026-11-23", timeout=10).text
    assert '<td class="num">413</td>' in page
    where = officer.get(hub.url + "/bulletins/hq-7?from=2026-11-20&to=2026-11-23", timeout=10).text
    assert "đã phát trên 1 bảng, 413 lượt" in where  # the tan-quan play is ten days earlier: outside the period
    answer = officer.get(hub.url + "/export.csv?from=2026-11-20&to=2026-11-23", timeout=10)
    assert answer.status_code == 200 and answer.content.startswith(b"\xef\xbb\xbf")
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows == [
        ["board", "bulletin", "revision", "started_at", "shown_s", "completed", "reason", "count"],
        ["tan-hung", "hq-7", "2", "2026-11-23 09:05:00", "20", "1", "", "1"],
        ["tan-hung", "hq-8", "1", "2026-11-23 09:05:00", "2.5", "0", "emergency", "1"],
        ["tan-hung", "hq-7", "2", "2026-11-20", "8210.5", "409", "", "412"],
    ]
    one_board = officer.get(hub.url + "/export.csv?from=2026-11-01&to=2026-11-30&board=tan-quan", timeout=10)
    assert [row[:2] for row in csv.reader(io.StringIO(one_board.content.decode("utf-8-sig")))][1:] == [["tan-quan", "hq-7"]]
    assert officer.get(hub.url + "/export.csv?from=2026-11-30&to=2026-11-01", timeout=10).status_code == 400
    assert officer.get(hub.url + "/export.csv?from=yesterday", timeout=10).status_code == 400


def test_screenshots_stored_shown_and_served(hub: Hub) -> None:
    key = hub.keys["tan-quan"]
    raw = screenshot_envelope(key, "tan-quan", 89, command="cmd-77")
    assert hub.post(raw, "/report/screenshot").json() == {"ok": True, "seq": 89, "duplicate": False}
    assert hub.post(raw, "/report/screenshot").json() == {"ok": True, "seq": 89, "duplicate": True, "same": True}
    assert hub.post(envelope_of(b"GIF89a", key, "image/png"), "/report/screenshot").status_code == 400
    assert hub.post(screenshot_envelope(hub.keys["tan-hung"], "tan-quan", 90), "/report/screenshot").status_code == 403
    officer = hub.officer()
    assert "/screenshots/tan-quan/89.thumb.png" in officer.get(hub.url + "/", timeout=10).text
    assert "cmd-77" in officer.get(hub.url + "/boards/tan-quan", timeout=10).text
    full = officer.get(hub.url + "/screenshots/tan-quan/89.png", timeout=10)
    assert full.status_code == 200 and full.headers["content-type"] == "image/png" and full.content.startswith(b"\x89PNG")
    assert officer.get(hub.url + "/screenshots/tan-quan/89.thumb.png", timeout=10).status_code == 200
    assert officer.get(hub.url + "/screenshots/tan-quan/1.png", timeout=10).status_code == 404
    assert requests.get(hub.url + "/screenshots/tan-quan/89.png", timeout=10).status_code == 401


def test_officers_sign_in_and_out(hub: Hub) -> None:
    anonymous = requests.Session()
    for path in ("/", "/boards/tan-quan", "/bulletins"):
        answer = anonymous.get(hub.url + path, allow_redirects=False, timeout=10)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
    assert anonymous.get(hub.url + "/export.csv", timeout=10).status_code == 401
    assert anonymous.get(hub.url + "/healthz", timeout=10).text == "ok"
    assert "Đăng nhập" in anonymous.get(hub.url + "/login", timeout=10).text
    wrong = anonymous.post(hub.url + "/login", data={"username": "an", "password": "sai"}, timeout=10)
    assert wrong.status_code == 401 and "Sai tên đăng nhập" in wrong.text
    assert anonymous.post(hub.url + "/login", data={"username": "ai", "password": PASSWORD}, timeout=10).status_code == 401
    back = anonymous.post(hub.url + "/login", data={"username": "an", "password": PASSWORD, "next": "/bulletins"}, timeout=10)
    assert back.status_code == 200 and back.url == hub.url + "/bulletins"
    assert anonymous.get(hub.url + "/export.csv", timeout=10).status_code == 200
    assert anonymous.get(hub.url + "/boards/nowhere", timeout=10).status_code == 404
    cross_site = anonymous.post(hub.url + "/logout", headers={"Origin": "http://evil.example"}, timeout=10)
    assert cross_site.status_code == 403
    out = anonymous.post(hub.url + "/logout", headers={"Origin": hub.url}, allow_redirects=False, timeout=10)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert anonymous.get(hub.url + "/", allow_redirects=False, timeout=10).status_code == 303
    evil_next = anonymous.post(hub.url + "/login", data={"username": "an", "password": PASSWORD, "next": "//evil.example/"}, timeout=10)
    assert evil_next.url == hub.url + "/"


def test_a_board_goes_offline_after_three_heartbeats(hub: Hub) -> None:
    hub.post(report_envelope(hub.keys["tan-quan"], "tan-quan", 1, status={"heartbeat_s": 60}))
    hub.post(report_envelope(hub.keys["tan-hung"], "tan-hung", 1))  # heartbeat 300 s
    officer = hub.officer()
    hub.clock.now = START + minutes(1) + minutes(3) - minutes(0.1)
    assert '<span class="big">2</span> Trực tuyến' in officer.get(hub.url + "/", timeout=10).text
    hub.clock.now = START + minutes(1) + minutes(3.5)
    page = officer.get(hub.url + "/", timeout=10).text
    assert '<span class="big">1</span> Trực tuyến' in page and '<span class="big">1</span> Mất kết nối' in page
    hub.clock.now = START + minutes(1) + minutes(16)
    assert '<span class="big">0</span> Trực tuyến' in officer.get(hub.url + "/", timeout=10).text


def test_a_province_of_boards_pages_the_table_with_trouble_first_and_finds_by_name(tmp_path: Path) -> None:
    keys = {f"xa-{n:03d}": Ed25519PrivateKey.generate() for n in range(130)}
    config = HubConfig.load(write_hub_config(tmp_path, keys))
    clock = Clock(START + minutes(1))
    app = create_app(config, clock=clock)
    app.state.store.set_user("an", hash_password(PASSWORD), START)
    with serve(app) as url:
        hub = Hub(url, keys, clock)
        for n in range(0, 130, 2):  # every other board reports; one of them with an error
            status = {"last_error": "feed: hết hạn"} if n == 64 else {}
            assert hub.post(report_envelope(keys[f"xa-{n:03d}"], f"xa-{n:03d}", 1, status=status)).status_code == 200
        officer = hub.officer()
        first = officer.get(url + "/", timeout=10).text
        rows = re.findall(r'<a href="/boards/(xa-\d+)">', first)
        assert len(rows) == 100 and "Trang 1/2" in first and '<span class="big">65</span> Trực tuyến' in first
        assert rows[:65] == [f"xa-{n:03d}" for n in range(1, 130, 2)]  # the silent ones first
        assert rows[65] == "xa-064"  # then the one with an error, then the rest
        second = re.findall(r'<a href="/boards/(xa-\d+)">', officer.get(url + "/?page=2", timeout=10).text)
        assert len(second) == 30 and not set(second) & set(rows)
        found = officer.get(url + "/?q=xa-12", timeout=10).text
        silent_first = (121, 123, 125, 127, 129, 120, 122, 124, 126, 128)
        assert re.findall(r'<a href="/boards/(xa-\d+)">', found) == [f"xa-{n:03d}" for n in silent_first]
        assert officer.get(url + "/?page=99", timeout=10).status_code == 200  # past the end: the last page


def test_too_many_wrong_passwords_make_the_name_wait(hub: Hub) -> None:
    officer = requests.Session()
    for _ in range(5):
        assert officer.post(hub.url + "/login", data={"username": "an", "password": "đoán-bừa"}, timeout=10).status_code == 401
    held = officer.post(hub.url + "/login", data={"username": "an", "password": PASSWORD}, timeout=10)
    assert held.status_code == 429 and "thử lại sau 15 phút" in held.text  # even the right password, for now
    hub.clock.now += minutes(15)
    assert officer.post(hub.url + "/login", data={"username": "an", "password": PASSWORD}, timeout=10).url == hub.url + "/"
