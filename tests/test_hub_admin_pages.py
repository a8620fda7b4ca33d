"""The administration pages over real HTTP (uvicorn on port 0), with a signing key so feeds are really published:
communes, people and roles, accepting a board that joined, groups, commands, the record; every route against every
role; the attacks of one commune's officers on another's."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signage.district.hub import HubConfig, create_app, sessions
from signage.district.hub import schema as t
from signage.district.hub.app import hash_password
from signage.district.hub.desk import Actor, Desk
from signage.district.hub.store import HubStore
from signage.envelope import generate_key, key_id, public_raw
from signage.kiosk.join import join_envelope
from tests.hubserver import START, minutes, report_envelope, serve, write_hub_config

PASSWORD = "mật-khẩu-đủ-dài"
ROOT_ADMIN = "tinh"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Hub:
    url: str
    config: HubConfig
    store: HubStore
    desk: Desk
    clock: Clock
    keys: dict[str, Ed25519PrivateKey]
    sessions: dict[str, requests.Session] = field(default_factory=dict)

    def sign_in(self, name: str, password: str = PASSWORD) -> requests.Session:
        session = requests.Session()
        answer = session.post(self.url + "/login", data={"username": name, "password": password}, timeout=10)
        assert answer.status_code == 200 and answer.url == self.url + "/", answer.text[:300]
        return session

    def actor(self) -> Actor:
        return Actor(ROOT_ADMIN, "test", self.clock.now)

    def feed(self, unit: str) -> dict[str, Any]:
        """The unit's signed feed as a board would fetch it (the signature is the feeds' tests' concern)."""
        raw = (self.config.site_dir / unit / "feed.json").read_bytes()
        return json.loads(base64.b64decode(json.loads(raw)["payload"]))

    def audit(self) -> list[dict[str, Any]]:
        with self.store.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(sa.select(t.audit).order_by(t.audit.c.id))]


def csrf(session: requests.Session) -> str:
    return sessions.csrf_token(session.cookies.get(sessions.SESSION_COOKIE))


def post(hub: Hub, session: requests.Session, path: str, form: dict[str, Any] | list[tuple[str, str]]) -> requests.Response:
    """A form as the hub's own page sends it: its Origin, this session's CSRF field; redirects not followed."""
    fields = list(form.items()) if isinstance(form, dict) else list(form)
    fields.append(("csrf", csrf(session)))
    return session.post(hub.url + path, data=fields, headers={"Origin": hub.url}, allow_redirects=False, timeout=30)


def make_hub(tmp_path: Path, database: str) -> tuple[Any, HubConfig, Clock, dict[str, Ed25519PrivateKey]]:
    keys = {"tan-quan": Ed25519PrivateKey.generate(), "tan-hung": Ed25519PrivateKey.generate()}
    path = write_hub_config(tmp_path, keys, database=database)
    generate_key(tmp_path / "hub.key")
    with path.open("a", encoding="utf-8") as handle:
        handle.write('\n[source]\nkey = "hub.key"\nunit_name = "Huyện Hớn Quản"\n')
    config = HubConfig.load(path)
    clock = Clock(START + minutes(1))
    app = create_app(config, clock=clock)
    app.state.store.set_user(ROOT_ADMIN, hash_password(PASSWORD), START)
    return app, config, clock, keys


@pytest.fixture(params=["sqlite", "postgresql"])
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hub]:
    database = "hub.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    app, config, clock, keys = make_hub(tmp_path, database)
    store = app.state.store
    with serve(app) as url:
        yield Hub(url, config, store, Desk(store.engine, config.media_dir, config.unit_name), clock, keys)


def reported(hub: Hub, raw: bytes, within_s: float = 10.0) -> requests.Response:
    """POST a report until the hub takes it or `within_s` passes (a board's next heartbeat would retry alike)."""
    deadline = time.monotonic() + within_s
    while True:
        answer = requests.post(hub.url + "/report", data=raw, timeout=10)
        if answer.status_code != 401 or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def option_of(page: str, label: str) -> str:
    """The value of the <option> showing `label` on a page."""
    found = re.search(r'<option value="([^"]+)"[^>]*>' + re.escape(label) + "</option>", page)
    assert found, label
    return found.group(1)


def test_an_administrator_sets_up_a_commune_in_the_browser(hub: Hub) -> None:
    admin = hub.sign_in(ROOT_ADMIN)
    # A commune.
    answer = post(hub, admin, "/admin/units", {"name": "Xã Tân Quan", "parent": hub.desk.root})
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/units?xong=unit"
    units = admin.get(hub.url + answer.headers["location"], timeout=10).text
    assert "Xã Tân Quan" in units and "Đã thêm đơn vị." in units
    commune = option_of(admin.get(hub.url + "/admin/people", timeout=10).text, "Xã Tân Quan")

    # A person with roles, who can then sign in.
    person = {"name": "bich", "full_name": "Trần Thị Bích", "password": "mật-khẩu-của-bích", "password_again": "mật-khẩu-của-bích"}
    answer = post(hub, admin, "/admin/people", [*person.items(), ("unit", commune), ("role", "editor"), ("role", "approver")])
    assert answer.status_code == 303, answer.text[:300]
    people = admin.get(hub.url + "/admin/people", timeout=10).text
    assert "Trần Thị Bích" in people and "Biên tập viên, Người duyệt · <small>Xã Tân Quan</small>" in people
    hub.sign_in("bich", "mật-khẩu-của-bích")

    # A board joins; the administrator reads its fingerprint and accepts it into the commune under a name.
    board_key = Ed25519PrivateKey.generate()
    joined = requests.post(hub.url + "/join", data=join_envelope(board_key, "tan-quan-2", "Bảng UBND", hub.clock.now), timeout=10)
    assert joined.status_code in (200, 202), joined.text
    keyid = key_id(public_raw(board_key))
    boards = admin.get(hub.url + "/admin/boards", timeout=10).text
    spoken = " ".join(keyid[i : i + 4] for i in range(0, 16, 4))
    assert "Bảng tin chờ nhận (1)" in boards and spoken in boards and "tan-quan-2" in boards and "127.0.0.1" in boards
    answer = post(hub, admin, "/admin/boards/accept", {"keyid": keyid, "unit": commune, "name": "UBND xã Tân Quan (hội trường)"})
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/boards?xong=accepted"
    link = hub.config.site_dir / "boards" / "tan-quan-2"
    assert link.is_symlink() and link.readlink() == Path("..") / commune
    assert (link / "feed.json").is_file()
    boards = admin.get(hub.url + "/admin/boards", timeout=10).text
    assert "Bảng tin chờ nhận (0)" in boards and "UBND xã Tân Quan (hội trường)" in boards and "Tự kết nối" in boards
    assert "hub.toml" in boards  # the configured boards are listed as such
    # The board now reports without a restart (every hub process re-reads the pinned keys at most once a second).
    assert reported(hub, report_envelope(board_key, "tan-quan-2", 1)).status_code == 200

    # A configured board moved into the commune too, so a command for one board has a neighbour it must not reach.
    answer = post(hub, admin, "/admin/boards/tan-quan/move", {"unit": commune})
    assert answer.status_code == 303 and (hub.config.site_dir / "boards" / "tan-quan").readlink() == Path("..") / commune

    # A group of the commune's boards.
    answer = post(hub, admin, "/admin/groups", [("name", "Chợ"), ("unit", commune), ("board", "tan-quan-2")])
    assert answer.status_code == 303
    groups = admin.get(hub.url + "/admin/groups", timeout=10).text
    assert "Chợ" in groups and "UBND xã Tân Quan (hội trường)" in groups

    # A command from the board's page reaches that board alone, in its unit's feed.
    page = admin.get(hub.url + "/boards/tan-quan-2", timeout=10).text
    assert 'action="/boards/tan-quan-2/command"' in page and "Chụp màn hình" in page
    answer = post(hub, admin, "/boards/tan-quan-2/command", {"action": "screenshot"})
    assert answer.status_code == 303 and answer.headers["location"] == "/boards/tan-quan-2?xong=command"
    commands = hub.feed(commune)["commands"]
    assert [(c["action"], c["boards"]) for c in commands] == [("screenshot", ["tan-quan-2"])]
    page = admin.get(hub.url + "/boards/tan-quan-2?xong=command", timeout=10).text
    assert "Đã gửi lệnh" in page and "Chờ bảng tin" in page
    # The board runs it and says so: the page shows the outcome beside the command.
    done = [{"id": commands[0]["id"], "ok": True, "at": hub.clock.now.isoformat()}]
    raw = report_envelope(board_key, "tan-quan-2", 2, sent_at=hub.clock.now, commands_done=done)
    assert requests.post(hub.url + "/report", data=raw, timeout=10).status_code == 200
    page = admin.get(hub.url + "/boards/tan-quan-2", timeout=10).text
    assert '<span class="badge ok">Xong</span>' in page and "Chờ bảng tin" not in page

    # The record: each of those, by whom and from where, newest first.
    record = admin.get(hub.url + "/audit", timeout=10).text
    for label in ("Thêm đơn vị", "Thêm người dùng", "Nhận bảng tin", "Chuyển bảng tin", "Thêm nhóm", "Gửi lệnh", "Đăng nhập"):
        assert f"<td>{label}</td>" in record, label
    assert record.index("<td>Gửi lệnh</td>") < record.index("<td>Thêm đơn vị</td>")
    assert "127.0.0.1" in record and "23/11/2026 09:06" in record
    only = admin.get(hub.url + "/audit", params={"action": "board.accept"}, timeout=10).text
    assert "<td>Nhận bảng tin</td>" in only and "<td>Thêm nhóm</td>" not in only

    exported = admin.get(hub.url + "/audit.csv", timeout=10)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert exported.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0] == ["Thời điểm", "Người thực hiện", "Địa chỉ", "Việc", "Đơn vị", "Đối tượng", "Chi tiết"]
    accepted = rows[[row[3] for row in rows].index("Nhận bảng tin")]
    assert accepted[:5] == ["23/11/2026 09:06", ROOT_ADMIN, "127.0.0.1", "Nhận bảng tin", "Xã Tân Quan"]


def test_audit_csv_writes_formulas_as_text(hub: Hub) -> None:
    hub.desk.record(Actor(ROOT_ADMIN, "127.0.0.1", hub.clock.now), "unit.add", hub.desk.root, '=HYPERLINK("http://x")', "@SUM(A1)")
    rows = list(csv.reader(io.StringIO(hub.sign_in(ROOT_ADMIN).get(hub.url + "/audit.csv", timeout=10).content.decode("utf-8-sig"))))
    assert ['\'=HYPERLINK("http://x")', "'@SUM(A1)"] in [row[5:] for row in rows]
