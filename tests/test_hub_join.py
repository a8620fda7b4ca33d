"""Boards that join themselves: `signage join` against a real hub on loopback (SQLite and PostgreSQL), the waiting
request, its acceptance through the hub's data layer, and reports taken without a restart; the attacks on /join."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signage import envelope
from signage.cli import main
from signage.config import load_config
from signage.district.hub import HubConfig, create_app
from signage.district.hub import schema as t
from signage.district.hub.app import hash_password
from signage.district.hub.desk import Actor
from signage.district.hub.ingest import Refusal
from signage.district.hub.join import (
    MAX_WAITING,
    NEW_PER_ADDRESS,
    JoinBook,
    JoinRequest,
    Place,
    decide_join,
    place_of,
)
from signage.district.hub.rules import Role
from signage.envelope import JOIN_TYPE, key_id, load_private_key, public_key_text, public_raw, sign
from signage.kiosk.join import JOIN_FORMAT, fingerprint, hub_of, join_envelope, merged, sections
from tests.hubserver import report_envelope, serve, write_hub_config


class Clock:
    """The hub's "now", moved by the test; it starts at the real time, since `signage join` signs with the real clock."""

    def __init__(self) -> None:
        self.now = datetime.now().astimezone()

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Hub:
    url: str
    app: Any  # the hub's ASGI app: its state holds the data layer the administrators' pages use
    config: HubConfig
    clock: Clock
    pinned_key: Ed25519PrivateKey  # hub.toml's board "tan-hung"

    def join(self, raw: bytes) -> requests.Response:
        return requests.post(self.url + "/join", data=raw, timeout=10)

    def report(self, key: Ed25519PrivateKey, board: str, seq: int) -> requests.Response:
        raw = report_envelope(key, board, seq, sent_at=self.clock.now)
        return requests.post(self.url + "/report", data=raw, timeout=10)

    def requests_held(self) -> list[dict[str, Any]]:
        engine = sa.create_engine(self.config.database_url)
        try:
            with engine.connect() as conn:
                return [dict(row._mapping) for row in conn.execute(sa.select(t.board_requests).order_by(t.board_requests.c.requested_at))]
        finally:
            engine.dispose()


def _hub_config(tmp_path: Path, database: str, pinned: Ed25519PrivateKey | None) -> HubConfig:
    """hub.toml pinning `pinned` as "tan-hung", with a feed key (so the hub serves /feeds/key.pub)."""
    path = write_hub_config(tmp_path, {"tan-hung": pinned} if pinned else {}, database=database)
    feed_key = tmp_path / "feed.key"
    if not feed_key.exists():
        envelope.generate_key(feed_key)
    path.write_text(path.read_text(encoding="utf-8") + f"\n[source]\nkey = {json.dumps(str(feed_key))}\n", encoding="utf-8")
    return HubConfig.load(path)


def _serve_hub(config: HubConfig, clock: Clock, pinned: Ed25519PrivateKey) -> Iterator[Hub]:
    app = create_app(config, clock=clock)
    desk = app.state.desk
    if not desk.has_admin():
        desk.add_officer(None, "an", "Nguyễn Văn An", hash_password("mật-khẩu-đủ-dài"), desk.root, [Role.ADMIN])
    with serve(app) as url:
        yield Hub(url, app, config, clock, pinned)


@pytest.fixture(params=["sqlite", "postgresql"])
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hub]:
    database = "hub.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    pinned = Ed25519PrivateKey.generate()
    config = _hub_config(tmp_path, database, pinned)
    yield from _serve_hub(config, Clock(), pinned)


def request_of(
    key: Ed25519PrivateKey, board: str = "tan-quan", name: str = "UBND xã Tân Quan", *, sent_at: datetime | None = None
) -> bytes:
    return join_envelope(key, board, name, sent_at or datetime.now().astimezone(), hostname="bang-tan-quan")


def accept(hub: Hub, keyid: str) -> str:
    """What the administrators' page does when a waiting board is accepted: the hub's data layer (the Desk), which
    stores the board and changes the boards' generation in one transaction; no SQL of ours."""
    desk = hub.app.state.desk
    return desk.accept_board(Actor("an", "127.0.0.1", hub.clock.now), keyid, desk.root, "UBND xã Tân Quan")


def board_toml(tmp_path: Path) -> Path:
    path = tmp_path / "board.toml"
    state = tmp_path / "state"
    lines = [
        "[board]",
        'id = "tan-quan"',
        'name = "UBND xã Tân Quan"',
        f"data_dir = {json.dumps(str(state))}",
        "",
        "[display]",
        'on = "06:00"',
        'off = "22:00"',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- the board's side: signage join ---------------------------------------------------------------------------------


def test_a_board_joins_waits_and_reports_once_accepted_without_a_restart(
    hub: Hub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = board_toml(tmp_path)
    assert main(["join", "--hub", hub.url + "/", "--config", str(config_path)]) == 0
    said = capsys.readouterr().out
    key_path = tmp_path / "state" / "board.key"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600  # made as `signage keygen` makes it
    key = load_private_key(key_path)
    keyid = key_id(public_raw(key))
    assert f"Dấu vân tay khóa của bảng: {fingerprint(keyid)}" in said and len(fingerprint(keyid)) == 19
    assert "Chờ quản trị viên chấp nhận trên trang của hệ thống" in said
    config = load_config(config_path)  # still a config the player reads, now with the hub's report URL and the key
    assert config.report is not None and config.report.url == hub.url + "/report" and config.report.key == key_path
    assert "Đã ghi vào" in said and "[report]" in said

    [waiting] = hub.requests_held()
    assert (waiting["keyid"], waiting["board_id"], waiting["name"], waiting["times"]) == (keyid, "tan-quan", "UBND xã Tân Quan", 1)
    assert waiting["public_key"] == public_key_text(public_raw(key)) and waiting["address"] == "127.0.0.1"

    # Asked again (the technician runs it twice): the same row, refreshed; the config is not written twice.
    assert main(["join", "--hub", hub.url, "--config", str(config_path)]) == 0
    assert "Đã ghi vào" not in capsys.readouterr().out
    [again] = hub.requests_held()
    assert again["times"] == 2 and again["last_seen"] >= waiting["last_seen"]
    assert config_path.read_text(encoding="utf-8").count("[report]") == 1

    assert hub.report(key, "tan-quan", 1).status_code == 401  # waiting is not accepted

    accept(hub, keyid)
    deadline = datetime.now() + timedelta(seconds=10)
    answer = hub.report(key, "tan-quan", 1)
    while answer.status_code == 401 and datetime.now() < deadline:  # the hub looks again at most once a second
        time.sleep(0.1)
        answer = hub.report(key, "tan-quan", 1)
    assert answer.status_code == 200, answer.text
    assert hub.requests_held() == []

    assert main(["join", "--hub", hub.url, "--config", str(config_path)]) == 0
    assert "đã chấp nhận bảng này" in capsys.readouterr().out
    assert hub.report(hub.pinned_key, "tan-hung", 1).status_code == 200  # hub.toml's boards keep working


def test_an_accepted_board_reports_to_every_hub_process_on_the_database(tmp_path: Path) -> None:
    pinned = Ed25519PrivateKey.generate()
    config = _hub_config(tmp_path, "hub.db", pinned)
    clock = Clock()
    key = Ed25519PrivateKey.generate()
    keyid = key_id(public_raw(key))
    with contextmanager(_serve_hub)(config, clock, pinned) as hub, contextmanager(_serve_hub)(config, clock, pinned) as second:
        assert hub.join(request_of(key)).status_code == 202
        assert second.report(key, "tan-quan", 1).status_code == 401
        assert accept(hub, keyid) == "tan-quan"
        for other, seq in ((hub, 1), (second, 2)):
            deadline = datetime.now() + timedelta(seconds=10)
            answer = other.report(key, "tan-quan", seq)
            while answer.status_code == 401 and datetime.now() < deadline:
                time.sleep(0.1)
                answer = other.report(key, "tan-quan", seq)
            assert answer.status_code == 200, (other.url, answer.text)


def test_join_without_a_config_prints_the_lines_and_the_feed_key_when_the_hub_has_one(
    hub: Hub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_path = tmp_path / "k" / "board.key"
    args = ["join", "--hub", hub.url, "--id", "cho-tan-quan", "--name", "Chợ Tân Quan", "--key", str(key_path), "--print-config"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "Chờ quản trị viên chấp nhận" in captured.err and "Chờ" not in captured.out
    lines = tomllib.loads(captured.out)
    assert lines["report"] == {"url": hub.url + "/report", "key": str(key_path)}
    # The board pins the key the hub signs feeds with, and the technician reads its fingerprint.
    feed_key = public_raw(load_private_key(tmp_path / "feed.key"))
    assert lines["feed"] == {"url": hub.url + "/feeds/boards/cho-tan-quan/feed.json", "public_keys": [public_key_text(feed_key)]}
    assert f"Dấu vân tay khóa nguồn tin: {fingerprint(key_id(feed_key))}" in captured.err
    assert stat.S_IMODE(key_path.parent.stat().st_mode) == 0o700


def test_join_to_no_hub_is_one_line_in_vietnamese(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["join", "--hub", "http://127.0.0.1:9/", "--id", "tan-quan", "--name", "X", "--key", str(tmp_path / "board.key")]
    assert main(args) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("signage: error: http://127.0.0.1:9/join: không kết nối được") and "\n" not in error
    assert main(["join", "--hub", "hub.example", "--id", "tan-quan", "--name", "X"]) == 1
    assert "--hub: cần địa chỉ dạng https://hub.example/" in capsys.readouterr().err


def test_the_config_keeps_what_the_technician_wrote(tmp_path: Path) -> None:
    hub = hub_of("https://hub.example/tinh")
    assert hub.report_url == "https://hub.example/tinh/report" and hub.join_url == "https://hub.example/tinh/join"
    feed_key = public_raw(Ed25519PrivateKey.generate())
    wanted = sections(hub, "tan-quan", Path("/var/lib/signage/board.key"), feed_key)
    path = tmp_path / "board.toml"
    own = '[board]\nid = "tan-quan"\nname = "X"\n\n[feed]\nurl = "https://district.example/feed.json"\npublic_keys = ["%s"]\n'
    text, added, differing = merged(own % public_key_text(feed_key), path, wanted)
    assert (added, differing) == (["report"], ["feed"])
    assert tomllib.loads(text)["feed"]["url"] == "https://district.example/feed.json"  # never overwritten
    assert tomllib.loads(text)["report"]["url"] == "https://hub.example/tinh/report"
    again, added, differing = merged(text, path, wanted)
    assert (again, added, differing) == (text, [], ["feed"])


# --- the hub's side ---------------------------------------------------------------------------------------------------


def test_join_flood_from_one_address_is_held_after_five(hub: Hub) -> None:
    keys = [Ed25519PrivateKey.generate() for _ in range(NEW_PER_ADDRESS + 1)]
    for index, key in enumerate(keys[:NEW_PER_ADDRESS]):
        answer = hub.join(request_of(key, f"bang-{index}"))
        assert (answer.status_code, answer.json()["status"]) == (202, "waiting")
    held = hub.join(request_of(keys[-1], "bang-moi"))
    assert held.status_code == 429 and int(held.headers["retry-after"]) > 0
    assert hub.join(request_of(keys[0], "bang-0")).status_code == 202  # a waiting board asking again is not new
    assert len(hub.requests_held()) == NEW_PER_ADDRESS
    hub.clock.now += timedelta(hours=1, seconds=1)  # an hour on, the address may ask for another
    assert hub.join(request_of(keys[-1], "bang-moi", sent_at=hub.clock.now)).status_code == 202


def test_join_with_someone_elses_board_id_is_refused(hub: Hub, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stranger = Ed25519PrivateKey.generate()
    answer = hub.join(request_of(stranger, "tan-hung"))  # hub.toml's board, pinned to another key
    assert answer.status_code == 409 and "belongs to another key" in answer.json()["error"]
    assert hub.requests_held() == []
    key_path = tmp_path / "board.key"
    assert main(["join", "--hub", hub.url, "--id", "tan-hung", "--name", "X", "--key", str(key_path)]) == 1
    assert "hệ thống từ chối mã bảng này" in capsys.readouterr().err
    # The pinned board itself asking is told it is accepted (its key is that board's), and nothing is stored.
    own = hub.join(request_of(hub.pinned_key, "tan-hung"))
    assert (own.status_code, own.json()["status"]) == (200, "accepted")
    other_id = hub.join(request_of(hub.pinned_key, "tan-quan"))
    assert other_id.status_code == 409 and "'tan-hung'" in other_id.json()["error"]
    assert hub.requests_held() == []


def test_join_signed_by_another_key_than_it_carries_is_refused(hub: Hub) -> None:
    carried, signer = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    body = {"format": JOIN_FORMAT, "board": "tan-quan", "name": "UBND xã Tân Quan", "hostname": "x",
            "public_key": public_key_text(public_raw(carried)), "sent_at": datetime.now().astimezone().isoformat()}  # fmt: skip
    payload = json.dumps(body).encode()
    assert hub.join(sign(payload, JOIN_TYPE, [signer])).status_code == 401
    # A pinned board's public key (anyone may know it) carried by a stranger: refused alike.
    body["public_key"] = public_key_text(public_raw(hub.pinned_key))
    assert hub.join(sign(json.dumps(body).encode(), JOIN_TYPE, [signer])).status_code == 401
    # Signed by the carried key, but as a report: the type is what the signature covers.
    body["public_key"] = public_key_text(public_raw(carried))
    assert hub.join(sign(json.dumps(body).encode(), envelope.REPORT_TYPE, [carried])).status_code == 400
    assert hub.requests_held() == []


def test_join_request_with_markup_in_name_is_stored_as_text(hub: Hub) -> None:
    name = '<script>alert("x")</script> & <b>UBND</b>'
    answer = hub.join(request_of(Ed25519PrivateKey.generate(), "tan-quan", name))
    assert answer.status_code == 202
    assert [row["name"] for row in hub.requests_held()] == [name]  # verbatim: the page escapes it
    for hidden in ("UBND\u202exã", "UBND\nxã", "UBND\x1b[2Jxã", "UBND\u200bxã", "", "   ", "x" * 101):
        refused = hub.join(request_of(Ed25519PrivateKey.generate(), "tan-quan", hidden))
        assert refused.status_code == 400 and "name" in refused.json()["error"], repr(hidden)
    assert len(hub.requests_held()) == 1


def test_join_with_a_bad_id_or_a_clock_a_day_off_is_refused() -> None:
    key, now = Ed25519PrivateKey.generate(), datetime.now().astimezone()
    for board in ("Tân-Quan", "-x", "a" * 65, "tan quan"):
        outcome = decide_join(join_envelope(key, board, "X", now), now)
        assert isinstance(outcome, Refusal) and outcome.status == 400 and "board" in outcome.reason
    for off in (timedelta(days=1, seconds=1), -timedelta(days=1, seconds=1)):
        outcome = decide_join(join_envelope(key, "tan-quan", "X", now + off), now)
        assert isinstance(outcome, Refusal) and outcome.status == 400 and "sent_at" in outcome.reason
    taken = decide_join(join_envelope(key, "tan-quan", "X", now - timedelta(hours=23)), now)
    assert isinstance(taken, JoinRequest) and taken.keyid == key_id(public_raw(key))
    for junk in (b"", b"[]", b"{", b'{"payload": "!!"}', b"x" * 100):
        outcome = decide_join(junk, now)
        assert isinstance(outcome, Refusal) and outcome.status == 400 and outcome.board is None


def test_where_a_join_request_stands() -> None:
    now = datetime.now().astimezone()
    request = decide_join(join_envelope(Ed25519PrivateKey.generate(), "tan-quan", "X", now), now)
    assert isinstance(request, JoinRequest)
    free = {"key_board": None, "id_keyid": None, "waiting": False, "waiting_total": 0, "new_from_address": 0}
    cases = [
        ({}, Place.NEW),
        ({"key_board": "tan-quan"}, Place.ACCEPTED),
        ({"key_board": "cho"}, Place.OTHER_ID),
        ({"id_keyid": "0123456789abcdef"}, Place.TAKEN),
        ({"id_keyid": request.keyid}, Place.NEW),
        ({"waiting": True, "new_from_address": NEW_PER_ADDRESS, "waiting_total": MAX_WAITING}, Place.WAITING),
        ({"new_from_address": NEW_PER_ADDRESS}, Place.HELD),
        ({"waiting_total": MAX_WAITING}, Place.FULL),
    ]
    for facts, expected in cases:
        assert place_of(request, **{**free, **facts}) is expected, facts


def test_waiting_requests_are_forgotten_after_thirty_days_and_at_most_a_thousand_wait(tmp_path: Path) -> None:
    from signage.district.hub.store import HubStore

    store = HubStore.open(f"sqlite:///{tmp_path / 'hub.db'}", ZoneInfo("Asia/Ho_Chi_Minh"))
    book = JoinBook(store.engine)
    now = datetime.now().astimezone()
    old = decide_join(join_envelope(Ed25519PrivateKey.generate(), "cu", "X", now), now)
    assert isinstance(old, JoinRequest)
    assert book.place(old, "192.0.2.1", now.timestamp()) == (Place.NEW, None)
    later = now + timedelta(days=30, seconds=1)
    filler = [
        {"keyid": f"{index:016x}", "board_id": f"b-{index}", "name": "X", "public_key": "ed25519:x", "address": f"198.51.100.{index % 250}",
         "requested_at": later.timestamp() - 7200, "last_seen": later.timestamp(), "times": 1}
        for index in range(MAX_WAITING - 1)
    ]  # fmt: skip
    with store.engine.begin() as conn:
        conn.execute(sa.insert(t.board_requests), filler)
    fresh = [decide_join(join_envelope(Ed25519PrivateKey.generate(), f"moi-{i}", "X", later), later) for i in range(2)]
    assert isinstance(fresh[0], JoinRequest) and isinstance(fresh[1], JoinRequest)
    assert book.place(fresh[0], "203.0.113.9", later.timestamp()) == (Place.NEW, None)  # the old one is gone: room for one
    assert book.place(fresh[1], "203.0.113.9", later.timestamp()) == (Place.FULL, None)
    with store.engine.connect() as conn:
        held = set(conn.execute(sa.select(t.board_requests.c.board_id)).scalars())
    assert "cu" not in held and "moi-0" in held and len(held) == MAX_WAITING
    store.close()


def test_a_board_taken_out_of_hub_toml_is_no_longer_pinned_though_its_row_stays(tmp_path: Path) -> None:
    pinned = Ed25519PrivateKey.generate()
    config = _hub_config(tmp_path, "hub.db", pinned)
    clock = Clock()
    with contextmanager(_serve_hub)(config, clock, pinned) as hub:
        assert hub.report(pinned, "tan-hung", 1).status_code == 200
    emptied = _hub_config(tmp_path, "hub.db", None)
    with contextmanager(_serve_hub)(emptied, clock, pinned) as hub:
        assert hub.report(pinned, "tan-hung", 2).status_code == 401
        # Another board accepted changes the boards' generation: the keys are read again, tan-hung's row among them.
        other = Ed25519PrivateKey.generate()
        assert hub.join(request_of(other, "cho")).status_code == 202
        accept(hub, key_id(public_raw(other)))
        for _ in range(4):  # past the hub's next look at the boards (once a second)
            time.sleep(0.5)
            assert hub.report(pinned, "tan-hung", 3).status_code == 401


# --- kiosk/install.sh ---------------------------------------------------------------------------------------------------

INSTALL = Path(__file__).resolve().parent.parent / "kiosk" / "install.sh"


def _install(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(INSTALL), *args], capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL, timeout=120)


def test_install_joins_the_hub_as_the_players_user_and_never_into_an_image(tmp_path: Path) -> None:
    if shutil.which("rsync") is None:
        pytest.skip("rsync is needed (install.sh copies the tree with it)")
    answers = ["--board-id", "tan-quan", "--name", "UBND xã Tân Quan"]
    root = tmp_path / "root"
    dry = _install("--root", str(root), "--dry-run", *answers, "--hub", "https://hub.example/")
    assert dry.returncode == 0, dry.stderr
    # Under --root (an image or a chroot) no key is made: every board cloned from it would hold the same one.
    assert (
        "--root: not joining https://hub.example/" in dry.stdout
        and "runuser -u signage -- /opt/signage/.venv/bin/signage join" in dry.stdout
    )
    both = _install("--root", str(root), "--dry-run", *answers, "--hub", "https://hub.example/", "--feed-url", "https://x/f.json")
    assert both.returncode == 2 and "one or the other" in both.stderr
    bad = _install("--root", str(root), "--dry-run", *answers, "--hub", "hub.example")
    assert bad.returncode == 2 and "--hub: expected an http(s) address" in bad.stderr
    assert not root.exists()
