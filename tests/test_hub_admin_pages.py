"""The administration pages over real HTTP (uvicorn on port 0), with a signing key so feeds are really published:
communes, people and roles, accepting a board that joined, groups, commands, the record; every route against every
role; the attacks of one commune's officers on another's."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.routing import Mount, Route

from signage.district.hub import HubConfig, create_app, sessions
from signage.district.hub import schema as t
from signage.district.hub.app import hash_password
from signage.district.hub.desk import Actor, Desk, Draft, Targets
from signage.district.hub.rules import Role
from signage.district.hub.store import HubStore
from signage.envelope import generate_key, key_id, public_key_text, public_raw
from signage.kiosk.join import join_envelope
from signage.model import Kind
from tests.hubserver import START, minutes, report_envelope, screenshot_envelope, serve, write_hub_config

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

    def commands(self, unit: str) -> list[dict[str, Any]]:
        """The commands in the unit's feed; none while it has never been published."""
        if not (self.config.site_dir / unit / "feed.json").exists():
            return []
        return list(self.feed(unit).get("commands", []))

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


# --- who may use which route: one hub, one commune's officers, the province's ------------------------------------

A, B = "xa-tan-quan", "xa-tan-hung"
ROLES = ("none", "editor_a", "approver_a", "admin_a", "admin_province")
SIGN_IN = {"editor_a": "bientap-a", "approver_a": "duyet-a", "admin_a": "quantri-a", "admin_province": ROOT_ADMIN}
ANYONE = frozenset(ROLES)
SIGNED_IN = frozenset(ROLES) - {"none"}
ADMINS = frozenset({"admin_a", "admin_province"})
COMMANDERS = frozenset({"approver_a", "admin_a", "admin_province"})


@dataclass
class World:
    """A hub with two communes, A (board tan-quan, group "Chợ") and B (board tan-hung, group "Trường"), and one
    officer per role; every session signed in once."""

    hub: Hub
    app: Any
    group_a: int
    group_b: int
    bulletin_a: str
    officers: dict[str, requests.Session]

    def waiting(self, board_id: str | None = None) -> str:
        """A board's join request as the join endpoint stores it; its keyid."""
        key = Ed25519PrivateKey.generate()
        keyid = key_id(public_raw(key))
        moment = self.hub.clock.now.timestamp()
        with self.hub.store.engine.begin() as conn:
            conn.execute(
                sa.insert(t.board_requests),
                {"keyid": keyid, "board_id": board_id or f"moi-{secrets.token_hex(4)}", "name": "Bảng mới",
                 "public_key": public_key_text(public_raw(key)), "address": "192.0.2.7", "requested_at": moment,
                 "last_seen": moment, "times": 1},
            )  # fmt: skip
        return keyid

    def person(self, unit: str = A, role: Role = Role.EDITOR) -> str:
        name = f"nguoi-{secrets.token_hex(3)}"
        self.hub.desk.add_officer(self.hub.actor(), name, "Người Tạm", PASSWORD_HASH[0], unit, [role])
        return name

    def roles_of(self, name: str) -> set[tuple[str, str]]:
        officer = self.hub.desk.officer(name)
        return set() if officer is None else {(grant.unit, grant.role.value) for grant in officer.grants}


PASSWORD_HASH: list[str] = []


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    app, config, clock, keys = make_hub(tmp_path_factory.mktemp("world"), "hub.db")
    store = app.state.store
    desk = Desk(store.engine, config.media_dir, config.unit_name)
    PASSWORD_HASH[:] = [hash_password(PASSWORD)]
    with serve(app) as url:
        hub = Hub(url, config, store, desk, clock, keys)
        actor = hub.actor()
        assert desk.add_unit(actor, "Xã Tân Quan", desk.root) == A and desk.add_unit(actor, "Xã Tân Hưng", desk.root) == B
        desk.move_board(actor, "tan-quan", A)
        desk.move_board(actor, "tan-hung", B)
        for name, unit, role in [("bientap-a", A, Role.EDITOR), ("duyet-a", A, Role.APPROVER), ("quantri-a", A, Role.ADMIN),
                                 ("quantri-b", B, Role.ADMIN), ("spare-a", A, Role.EDITOR)]:  # fmt: skip
            desk.add_officer(actor, name, name.title(), PASSWORD_HASH[0], unit, [role])
        group_a = desk.add_group(actor, A, "Chợ", ["tan-quan"])
        group_b = desk.add_group(actor, B, "Trường", ["tan-hung"])
        draft = Draft(Kind.TEXT, "Lịch tiêm chủng", Targets(units=(A,)), body="Thứ Hai, 7 giờ, trạm y tế xã.",
                      valid_until=clock.now + timedelta(days=7))  # fmt: skip
        bulletin_a = desk.create(Actor("bientap-a", "test", clock.now), A, draft)
        assert requests.post(url + "/report", data=report_envelope(keys["tan-quan"], "tan-quan", 1), timeout=10).status_code == 200
        shot = requests.post(url + "/report/screenshot", data=screenshot_envelope(keys["tan-quan"], "tan-quan", 1), timeout=10)
        assert shot.status_code == 200, shot.text
        officers = {role: hub.sign_in(name) for role, name in SIGN_IN.items()}
        officers["none"] = requests.Session()
        yield World(hub, app, group_a, group_b, bulletin_a, officers)


Request = tuple[str, dict[str, Any] | list[tuple[str, str]] | None]  # path, form (None: GET)


def unique(prefix: str) -> str:
    return f"{prefix} {secrets.token_hex(3)}"


def new_person_form() -> dict[str, str]:
    name = f"moi-{secrets.token_hex(3)}"
    return {"name": name, "full_name": "Người Mới", "password": PASSWORD, "password_again": PASSWORD, "unit": A, "role": "editor"}


# Every route of the app: who may use it (on commune A's things), and a request that uses it.
MATRIX: dict[tuple[str, str], tuple[frozenset[str], Callable[[World], Request]]] = {
    ("GET", "/healthz"): (ANYONE, lambda w: ("/healthz", None)),
    ("GET", "/login"): (ANYONE, lambda w: ("/login", None)),
    ("GET", "/feeds/{path:path}"): (ANYONE, lambda w: ("/feeds/key.pub", None)),
    ("GET", "/"): (SIGNED_IN, lambda w: ("/", None)),
    ("GET", "/boards/{board}"): (SIGNED_IN, lambda w: ("/boards/tan-quan", None)),
    ("GET", "/bulletins"): (SIGNED_IN, lambda w: ("/bulletins", None)),
    ("GET", "/bulletins/{bulletin}"): (SIGNED_IN, lambda w: ("/bulletins/hq-2026-0142", None)),
    ("GET", "/screenshots/{board}/{name}"): (SIGNED_IN, lambda w: ("/screenshots/tan-quan/1.png", None)),
    ("GET", "/export.csv"): (SIGNED_IN, lambda w: ("/export.csv?board=tan-quan", None)),
    ("GET", "/desk"): (SIGNED_IN, lambda w: ("/desk", None)),
    ("GET", "/desk/new"): (frozenset({"editor_a", "approver_a"}), lambda w: ("/desk/new", None)),
    ("GET", "/queue"): (frozenset({"approver_a"}), lambda w: ("/queue", None)),
    ("GET", "/desk/{id}"): (SIGNED_IN, lambda w: (f"/desk/{w.bulletin_a}", None)),
    ("GET", "/desk/{id}/edit"): (frozenset({"editor_a", "approver_a"}), lambda w: (f"/desk/{w.bulletin_a}/edit", None)),
    ("GET", "/admin"): (ADMINS, lambda w: ("/admin", None)),
    ("GET", "/admin/units"): (ADMINS, lambda w: ("/admin/units", None)),
    ("GET", "/admin/people"): (ADMINS, lambda w: ("/admin/people", None)),
    ("GET", "/admin/boards"): (ADMINS, lambda w: ("/admin/boards", None)),
    ("GET", "/admin/groups"): (ADMINS, lambda w: ("/admin/groups", None)),
    ("GET", "/audit"): (ADMINS, lambda w: ("/audit", None)),
    ("GET", "/audit.csv"): (ADMINS, lambda w: ("/audit.csv", None)),
    ("POST", "/admin/units"): (ADMINS, lambda w: ("/admin/units", {"name": unique("Thôn"), "parent": A})),
    ("POST", "/admin/people"): (ADMINS, lambda w: ("/admin/people", new_person_form())),
    ("POST", "/admin/people/{name}/roles"): (ADMINS, lambda w: ("/admin/people/bientap-a/roles", {"unit": A, "role": "editor"})),
    ("POST", "/admin/people/{name}/password"): (
        ADMINS,
        lambda w: ("/admin/people/spare-a/password", {"password": PASSWORD, "password_again": PASSWORD}),
    ),
    ("POST", "/admin/people/{name}/remove"): (ADMINS, lambda w: (f"/admin/people/{w.person()}/remove", {})),
    ("POST", "/admin/boards/accept"): (ADMINS, lambda w: ("/admin/boards/accept", {"keyid": w.waiting(), "unit": A, "name": "Bảng"})),
    ("POST", "/admin/boards/refuse"): (frozenset({"admin_province"}), lambda w: ("/admin/boards/refuse", {"keyid": w.waiting()})),
    ("POST", "/admin/boards/{board}/move"): (ADMINS, lambda w: ("/admin/boards/tan-quan/move", {"unit": A})),
    ("POST", "/admin/groups"): (ADMINS, lambda w: ("/admin/groups", {"name": unique("Nhóm"), "unit": A, "board": "tan-quan"})),
    ("POST", "/admin/groups/{group}/boards"): (ADMINS, lambda w: (f"/admin/groups/{w.group_a}/boards", {"board": "tan-quan"})),
    ("POST", "/admin/groups/{group}/command"): (
        COMMANDERS,
        lambda w: (f"/admin/groups/{w.group_a}/command", {"action": "screenshot"}),
    ),
    ("POST", "/boards/{board}/command"): (COMMANDERS, lambda w: ("/boards/tan-quan/command", {"action": "sync"})),
}
# Not requested here: signing in and out (they would end the sessions and feed the sign-in throttle; their own tests
# are in test_hub_app.py and test_hub_security.py). Both are open to anyone by design.
UNREQUESTED = {("POST", "/login"), ("POST", "/logout")}


def app_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every route of the officers' app, under the boards' endpoints and the headers."""
    while not hasattr(app, "routes"):
        app = app.app
    found = []
    for route in app.routes:
        if isinstance(route, Route):
            found += [(method, route.path) for method in sorted(route.methods or ()) if method != "HEAD"]
        elif not isinstance(route, Mount):  # /static: files anyone may fetch
            raise AssertionError(f"unexpected route {route!r}")
    return found


def outcome(answer: requests.Response) -> str:
    """allowed, refused, or what else happened (a failure of the test)."""
    location = answer.headers.get("location", "")
    if answer.status_code in (200, 304) or (answer.status_code == 303 and not location.startswith("/login")):
        return "allowed"
    if answer.status_code in (401, 403, 404) or (answer.status_code == 303 and location.startswith("/login")):
        return "refused"
    return f"answered {answer.status_code}: {answer.text[:200]}"


def ask(world: World, role: str, method: str, path: str, form: Any) -> requests.Response:
    session = world.officers[role]
    if method == "GET":
        return session.get(world.hub.url + path, allow_redirects=False, timeout=30)
    return post(world.hub, session, path, form or {})


@pytest.mark.parametrize("role", ROLES)
def test_route_role_matrix(world: World, role: str) -> None:
    """Every route of the app, as `role`: allowed or refused as MATRIX says. A route MATRIX does not know (another
    module's, added later) must at least refuse someone not signed in."""
    wrong = []
    for method, path in app_routes(world.app):
        if (method, path) in UNREQUESTED:
            continue
        if (method, path) not in MATRIX:
            if role == "none":
                filled = re.sub(r"\{[^}:]+(:int)?[^}]*\}", lambda m: "1" if m.group(1) else "x", path)
                got = outcome(ask(world, role, method, filled, {}))
                if got != "refused":
                    wrong.append(f"{method} {path}: {got}, expected refused")
            continue
        allowed, build = MATRIX[(method, path)]
        target, form = build(world)
        got = outcome(ask(world, role, method, target, form))
        expected = "allowed" if role in allowed else "refused"
        if got != expected:
            wrong.append(f"{method} {target}: {got}, expected {expected}")
    assert wrong == []


def test_route_role_matrix_names_no_route_the_app_lacks(world: World) -> None:
    assert set(MATRIX) | UNREQUESTED <= set(app_routes(world.app))


# --- attacks: one commune's officers on another's, and on the record --------------------------------------------


def refused_page(answer: requests.Response, status: int) -> str:
    assert answer.status_code == status, (answer.status_code, answer.text[:300])
    return answer.text


def test_commune_admin_cannot_accept_board_into_another_commune(world: World) -> None:
    admin = world.officers["admin_a"]
    page = admin.get(world.hub.url + "/admin/boards", timeout=10).text
    assert f'value="{B}"' not in page and f'value="{world.hub.desk.root}"' not in page  # not offered
    keyid = world.waiting("tan-hung-2")
    for unit in (B, world.hub.desk.root, "khong-co"):
        answer = post(world.hub, admin, "/admin/boards/accept", {"keyid": keyid, "unit": unit, "name": "Bảng của xã khác"})
        assert "Không tìm thấy đơn vị này." in refused_page(answer, 404)
    assert keyid in {row.keyid for row in world.hub.desk.requests()}
    assert "tan-hung-2" not in world.hub.desk.board_units()
    # Nor refuse what the province decides on.
    refused_page(post(world.hub, admin, "/admin/boards/refuse", {"keyid": keyid}), 403)
    assert keyid in {row.keyid for row in world.hub.desk.requests()}


def test_commune_admin_cannot_grant_roles_in_another_commune_by_editing_form(world: World) -> None:
    admin, root = world.officers["admin_a"], world.hub.desk.root
    before = world.roles_of("bientap-a")
    for unit in (B, root):  # another commune, or the province above: an administrator of everything
        refused_page(post(world.hub, admin, "/admin/people/bientap-a/roles", {"unit": unit, "role": "admin"}), 404)
        refused_page(post(world.hub, admin, "/admin/people/quantri-a/roles", {"unit": unit, "role": "admin"}), 404)
        person = new_person_form() | {"unit": unit, "role": "admin"}
        refused_page(post(world.hub, admin, "/admin/people", person), 404)
        assert world.hub.desk.officer(person["name"]) is None
    assert world.roles_of("bientap-a") == before and world.roles_of("quantri-a") == {(A, "admin")}
    # Another commune's person is not there to be changed (nor named on the page).
    assert "quantri-b" not in admin.get(world.hub.url + "/admin/people", timeout=10).text
    refused_page(post(world.hub, admin, "/admin/people/quantri-b/roles", {"unit": A, "role": "editor"}), 404)
    refused_page(post(world.hub, admin, "/admin/people/quantri-b/password", {"password": PASSWORD, "password_again": PASSWORD}), 404)
    refused_page(post(world.hub, admin, "/admin/people/quantri-b/remove", {}), 404)
    assert world.roles_of("quantri-b") == {(B, "admin")}
    # A role the system does not have.
    assert "Vai trò không có" in refused_page(post(world.hub, admin, "/admin/people/bientap-a/roles", {"unit": A, "role": "root"}), 400)


def test_officer_cannot_remove_own_admin_role(world: World) -> None:
    admin = world.officers["admin_a"]
    for form in ({"unit": A, "role": "editor"}, {"unit": A}):
        assert "tự bỏ quyền quản trị" in refused_page(post(world.hub, admin, "/admin/people/quantri-a/roles", form), 403)
    assert "tự xóa" in refused_page(post(world.hub, admin, "/admin/people/quantri-a/remove", {}), 403)
    assert world.roles_of("quantri-a") == {(A, "admin")}
    assert admin.get(world.hub.url + "/admin", allow_redirects=False, timeout=10).status_code == 200  # still signed in


def test_commune_admin_cannot_lock_out_the_province_admin_who_holds_a_role_in_the_commune(world: World) -> None:
    world.hub.desk.set_roles(world.hub.actor(), ROOT_ADMIN, A, [Role.EDITOR])
    try:
        admin = world.officers["admin_a"]
        page = admin.get(world.hub.url + "/admin/people", timeout=10).text
        assert ROOT_ADMIN in page  # seen, for the role in the commune
        form = {"password": "mật-khẩu-của-kẻ-gian", "password_again": "mật-khẩu-của-kẻ-gian"}
        assert "quản trị viên cấp trên" in refused_page(post(world.hub, admin, f"/admin/people/{ROOT_ADMIN}/password", form), 403)
        refused_page(post(world.hub, admin, f"/admin/people/{ROOT_ADMIN}/remove", {}), 403)
        # The commune's role is the commune's to take back; the province's stays.
        assert post(world.hub, admin, f"/admin/people/{ROOT_ADMIN}/roles", {"unit": A}).status_code == 303
        assert world.roles_of(ROOT_ADMIN) == {(world.hub.desk.root, "admin")}
        assert world.officers["admin_province"].get(world.hub.url + "/admin", allow_redirects=False, timeout=10).status_code == 200
    finally:
        world.hub.desk.set_roles(world.hub.actor(), ROOT_ADMIN, A, [])


def test_commune_admin_cannot_move_or_group_another_communes_board_by_editing_url(world: World) -> None:
    admin = world.officers["admin_a"]
    refused_page(post(world.hub, admin, "/admin/boards/tan-hung/move", {"unit": A}), 404)
    refused_page(post(world.hub, admin, "/admin/boards/tan-quan/move", {"unit": B}), 404)
    refused_page(post(world.hub, admin, "/admin/groups", {"name": unique("Nhóm"), "unit": A, "board": "tan-hung"}), 404)
    refused_page(post(world.hub, admin, f"/admin/groups/{world.group_a}/boards", {"board": "tan-hung"}), 404)
    refused_page(post(world.hub, admin, f"/admin/groups/{world.group_b}/boards", {"board": "tan-quan"}), 404)
    assert world.hub.desk.board_units()["tan-hung"] == B and world.hub.desk.board_units()["tan-quan"] == A
    assert dict((int(row.id), boards) for row, boards in world.hub.desk.groups())[world.group_b] == ["tan-hung"]
    page = admin.get(world.hub.url + "/admin/boards", timeout=10).text
    assert 'href="/boards/tan-hung"' not in page and "Tan Hung" not in page


def test_approver_cannot_command_another_communes_board_or_group(world: World) -> None:
    approver = world.officers["approver_a"]
    before = world.hub.commands(B)
    refused_page(post(world.hub, approver, "/boards/tan-hung/command", {"action": "restart"}), 404)
    refused_page(post(world.hub, approver, f"/admin/groups/{world.group_b}/command", {"action": "restart"}), 404)
    refused_page(post(world.hub, approver, "/boards/tan-quan/command", {"action": "format_disk"}), 403)
    assert world.hub.commands(B) == before
    assert all(row.issued_by != "duyet-a" for row in world.hub.desk.commands_for("tan-hung"))
    # An editor of the commune sees its board but gets no command form, and a crafted one is refused.
    page = world.officers["editor_a"].get(world.hub.url + "/boards/tan-quan", timeout=10).text
    assert "/boards/tan-quan/command" not in page
    refused_page(post(world.hub, world.officers["editor_a"], "/boards/tan-quan/command", {"action": "restart"}), 403)


def test_group_command_reaches_every_board_of_the_group_and_only_them(world: World) -> None:
    answer = post(world.hub, world.officers["approver_a"], f"/admin/groups/{world.group_a}/command", {"action": "display_off"})
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/groups?xong=command"
    latest = [c for c in world.hub.commands(A) if c["action"] == "display_off"]
    assert [c["boards"] for c in latest] == [["tan-quan"]]
    assert not [c for c in world.hub.commands(B) if c["action"] == "display_off"]


def test_forms_from_another_site_or_without_the_session_field_are_refused(world: World) -> None:
    admin, name = world.officers["admin_province"], unique("Thôn")
    evil = admin.post(
        world.hub.url + "/admin/units",
        data={"name": name, "parent": A, "csrf": csrf(admin)},
        headers={"Origin": "http://evil.example"},
        allow_redirects=False,
        timeout=10,
    )
    assert "trang khác" in refused_page(evil, 403)
    bare = admin.post(world.hub.url + "/admin/units", data={"name": name, "parent": A}, allow_redirects=False, timeout=10)
    assert "hết hạn" in refused_page(bare, 403)
    assert name not in world.hub.desk.unit_names().values()


def test_commune_admin_reads_only_their_units_record(world: World) -> None:
    actor = world.hub.actor()
    world.hub.desk.record(actor, "unit.add", B, "việc của xã Tân Hưng")
    world.hub.desk.record(actor, "unit.add", A, "việc của xã Tân Quan")
    commune = world.officers["admin_a"].get(world.hub.url + "/audit", timeout=10).text
    assert "việc của xã Tân Quan" in commune and "việc của xã Tân Hưng" not in commune
    assert "<td>Đăng nhập</td>" not in commune  # sign-ins are the root's administrators' to read
    exported = world.officers["admin_a"].get(world.hub.url + "/audit.csv", timeout=10).content.decode("utf-8-sig")
    assert "việc của xã Tân Quan" in exported and "việc của xã Tân Hưng" not in exported
    province = world.officers["admin_province"].get(world.hub.url + "/audit", timeout=10).text
    assert "việc của xã Tân Hưng" in province and "<td>Đăng nhập</td>" in province
    assert world.officers["admin_province"].get(world.hub.url + "/audit?from=9999-12-31", timeout=10).status_code == 400


def test_audit_rows_cannot_be_changed_through_any_route(world: World) -> None:
    """No route updates or deletes a row of the record: every route, every method, as the province's administrator
    with a valid session field and forms naming a row; the rows held before are all still there, unchanged."""
    world.hub.desk.record(world.hub.actor(), "unit.add", A, "hàng phải còn nguyên")
    before = world.hub.audit()
    admin = world.officers["admin_province"]
    form = {"id": str(before[-1]["id"]), "action": "sign_in", "officer": ROOT_ADMIN, "subject": "", "detail": "", "csrf": csrf(admin)}
    paths = {path for _, path in app_routes(world.app)} | {"/audit/1", "/audit.csv/1", "/admin/audit"}
    for path in sorted(paths - {"/logout", "/login"}):
        filled = re.sub(r"\{[^}]+\}", str(before[-1]["id"]), path).replace("{", "")
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            answer = admin.request(
                method, world.hub.url + filled, data=form, headers={"Origin": world.hub.url}, allow_redirects=False, timeout=30
            )
            assert answer.status_code < 500, (method, filled, answer.text[:200])
    after = world.hub.audit()
    assert after[: len(before)] == before
    # And the code holds no statement that could: the record is only ever inserted into.
    for source in (Path(__file__).parents[1] / "signage" / "district" / "hub").glob("*.py"):
        text = source.read_text(encoding="utf-8")
        assert not re.search(r"(update|delete)\(\s*(t\.|schema\.)?audit\b", text), source.name


def test_a_reset_password_ends_the_persons_sessions_and_each_change_to_people_is_recorded(world: World) -> None:
    admin = world.officers["admin_a"]
    victim = world.hub.sign_in("spare-a")
    assert victim.get(world.hub.url + "/", allow_redirects=False, timeout=10).status_code == 200
    new = "mật-khẩu-mới-của-spare"
    mismatch = post(world.hub, admin, "/admin/people/spare-a/password", {"password": new, "password_again": new + "x"})
    assert "Hai lần nhập mật khẩu không giống nhau." in refused_page(mismatch, 400)
    answer = post(world.hub, admin, "/admin/people/spare-a/password", {"password": new, "password_again": new})
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/people?xong=password"
    assert victim.get(world.hub.url + "/", allow_redirects=False, timeout=10).headers["location"].startswith("/login")
    world.hub.sign_in("spare-a", new)
    leaving = world.person()
    assert post(world.hub, admin, f"/admin/people/{leaving}/remove", {}).status_code == 303
    assert world.hub.desk.officer(leaving) is None
    rows = [row for row in world.hub.audit() if row["officer"] == "quantri-a" and row["action"] in ("officer.password", "officer.remove")]
    assert [(row["action"], row["subject"], row["address"], row["unit"]) for row in rows[-2:]] == [
        ("officer.password", "người dùng “spare-a”", "127.0.0.1", A),
        ("officer.remove", f"người dùng “{leaving}”", "127.0.0.1", A),
    ]


def test_changing_roles_shows_what_a_person_holds_and_adding_at_a_unit_never_takes_roles_away(tmp_path: Path) -> None:
    app, config, clock, _ = make_hub(tmp_path, "hub.db")
    store = app.state.store
    desk = Desk(store.engine, config.media_dir, config.unit_name)
    with serve(app) as url:
        hub = Hub(url, config, store, desk, clock, {})
        quan = desk.add_unit(hub.actor(), "Xã Tân Quan", desk.root)
        desk.add_officer(hub.actor(), "lan", "Lê Thị Lan", hash_password(PASSWORD), quan, [Role.EDITOR])
        admin = hub.sign_in(ROOT_ADMIN)
        page = admin.get(url + "/admin/people", timeout=10).text
        row = page[page.index("Lê Thị Lan") :]
        form = row[: row.index("Thêm vai trò")]
        assert f'name="unit" value="{quan}"' in form and 'value="editor" checked' in form  # what she holds, ticked
        # "Thêm vai trò" at her unit with only approver ticked: she keeps editor too (it was a blank form that replaced).
        assert post(hub, admin, "/admin/people/lan/roles", [("mode", "add"), ("unit", quan), ("role", "approver")]).status_code == 303
        held = {grant.role for grant in desk.officer("lan").grants}  # type: ignore[union-attr]
        assert held == {Role.EDITOR, Role.APPROVER}
        assert post(hub, admin, "/admin/people/lan/roles", [("mode", "add"), ("unit", quan)]).status_code == 400  # nothing to add


def test_the_boards_page_shows_the_feed_keys_fingerprint_the_board_prints_when_it_joins(hub: Hub) -> None:
    from signage.district.hub.admin_pages import fingerprint
    from signage.envelope import key_id, load_private_key, public_raw

    page = hub.sign_in(ROOT_ADMIN).get(hub.url + "/admin/boards", timeout=10).text
    assert hub.config.source_key is not None
    expected = fingerprint(key_id(public_raw(load_private_key(hub.config.source_key))))
    assert expected in page and len(expected) == 19


def test_the_first_administrator_made_on_the_server_has_a_full_name_and_administers_the_root(tmp_path: Path) -> None:
    import subprocess
    import sys

    _, config, _, _ = make_hub(tmp_path, "hub.db")
    command = [sys.executable, "-m", "signage", "hub", "--config", str(config.path)]
    made = subprocess.run(
        [*command, "--add-user", "quantri", "--full-name", " Nguyễn  Văn Tỉnh "],
        input=PASSWORD + "\n",
        text=True,
        capture_output=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    assert "quản trị “Huyện Hớn Quản”" in made.stdout
    store = HubStore.open(config.database_url, config.timezone)
    try:
        officer = Desk(store.engine, config.media_dir, config.unit_name).officer("quantri")
    finally:
        store.close()
    assert officer is not None and officer.full_name == "Nguyễn Văn Tỉnh"
    assert [(grant.unit, grant.role) for grant in officer.grants] == [(t.ROOT_UNIT, Role.ADMIN)]
