"""The desk pages over real HTTP: officers write, submit, approve, reject and withdraw bulletins; the units' feeds
are really signed and written (a [source] key 0600), and read back with the board's own verifier."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from signage.district.hub import HubConfig, create_app
from signage.district.hub import schema as t
from signage.district.hub.app import hash_password
from signage.district.hub.desk import Actor, Desk
from signage.district.hub.rules import Role
from signage.district.publish import read_held_feed
from signage.envelope import generate_key, load_private_key
from tests.hubserver import START, minutes, play, report_envelope, serve, write_hub_config

PASSWORD = "mật-khẩu-đủ-dài"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class DeskHub:
    url: str
    desk: Desk
    site: Path
    media: Path
    key: Ed25519PrivateKey
    quan: str  # the commune units' ids
    hung: str
    board_keys: dict[str, Ed25519PrivateKey] = field(default_factory=dict)

    def officer(self, name: str) -> requests.Session:
        session = requests.Session()
        answer = session.post(self.url + "/login", data={"username": name, "password": PASSWORD}, timeout=10)
        assert answer.status_code == 200, answer.text
        return session

    def feed(self, unit: str) -> dict[str, Any]:
        """The unit's feed as a board verifies it: its bulletins by id."""
        held = read_held_feed(self.site / unit / "feed.json", self.key, "hub.key")
        return held.bulletins

    def audit(self, action: str) -> list[Any]:
        with self.desk.engine.connect() as conn:
            return list(conn.execute(sa.select(t.audit).where(t.audit.c.action == action)))


@pytest.fixture(params=["sqlite"])
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DeskHub]:
    database = "hub.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    keys = {"bang-tan-quan": Ed25519PrivateKey.generate(), "bang-tan-hung": Ed25519PrivateKey.generate()}
    config_path = write_hub_config(tmp_path, keys, database=database)
    key = generate_key(tmp_path / "hub.key")  # as `signage keygen` writes it: 0600
    with config_path.open("a", encoding="utf-8") as handle:
        handle.write('\n[source]\nkey = "hub.key"\nsite = "site"\nmedia = "media"\nunit_name = "Tỉnh Bình Phước"\nmax_upload_mb = 1\n')
    config = HubConfig.load(config_path)
    app = create_app(config, clock=Clock(START + minutes(1)))
    store = app.state.store
    desk = Desk(store.engine, config.media_dir, config.unit_name)
    hashed = hash_password(PASSWORD)
    store.set_user("admin", hashed, START)
    desk.grant_root_admin("admin")
    admin = Actor("admin", "127.0.0.1", START)
    quan = desk.add_unit(admin, "Xã Tân Quan", desk.root)
    hung = desk.add_unit(admin, "Xã Tân Hưng", desk.root)
    desk.move_board(admin, "bang-tan-quan", quan)
    desk.move_board(admin, "bang-tan-hung", hung)
    desk.add_officer(admin, "bientap", "Trần Thị Bích", hashed, quan, [Role.EDITOR])
    desk.add_officer(admin, "duyet1", "Lê Văn Một", hashed, quan, [Role.APPROVER])
    desk.add_officer(admin, "duyet2", "Phạm Văn Hai", hashed, quan, [Role.APPROVER])
    desk.add_officer(admin, "khac", "Ngô Văn Khác", hashed, hung, [Role.EDITOR, Role.APPROVER])
    with serve(app) as url:
        yield DeskHub(url, desk, config.site_dir, config.media_dir, load_private_key(tmp_path / "hub.key"), quan, hung, keys)
    assert key is not None


def csrf_of(session: requests.Session, url: str) -> str:
    match = CSRF.search(session.get(url + "/desk/new", timeout=10).text)
    assert match, "the form carries the CSRF field"
    return match.group(1)


def form_fields(token: str, title: str, body: str = "Nội dung thông báo.", **extra: Any) -> list[tuple[str, str]]:
    fields = {
        "csrf": token,
        "kind": "text",
        "title": title,
        "body": body,
        "priority": "normal",
        "category": "hanh-chinh",
        "from_date": "2026-11-23",
        "from_time": "08:00",
        "until_date": "2026-11-30",
        "until_time": "17:00",
        "action": "save",
    }
    boards = extra.pop("boards", ["bang-tan-quan"])
    fields.update(extra)
    return [*fields.items(), *[("days", day) for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]] + [
        ("board", board) for board in boards
    ]


NO_FILE = {"upload": ("", b"", "application/octet-stream")}


def write(
    hub: DeskHub, session: requests.Session, title: str, *, files: dict[str, Any] | None = None, path: str = "/desk/new", **extra: Any
) -> requests.Response:
    token = csrf_of(session, hub.url)
    extra.setdefault("unit", hub.quan)
    fields = form_fields(token, title, **extra)
    return session.post(hub.url + path, data=fields, files=files or NO_FILE, allow_redirects=False, timeout=30)


def bulletin_id(answer: requests.Response) -> str:
    assert answer.status_code == 303, answer.text
    return answer.headers["location"].rsplit("/", 1)[-1]


def act(hub: DeskHub, session: requests.Session, bulletin: str, verb: str, revision: int, **extra: str) -> requests.Response:
    token = csrf_of(session, hub.url)
    data = {"csrf": token, "revision": str(revision), **extra}
    return session.post(f"{hub.url}/desk/{bulletin}/{verb}", data=data, allow_redirects=False, timeout=30)


# --- the main flow ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("hub", ["sqlite", "postgresql"], indirect=True)
def test_text_bulletin_written_submitted_approved_by_another_and_published(hub: DeskHub) -> None:
    author, approver = hub.officer("bientap"), hub.officer("duyet2")
    made = bulletin_id(write(hub, author, "Họp dân ấp 2", action="submit"))
    page = author.get(f"{hub.url}/desk/{made}", timeout=10).text
    assert "Họp dân ấp 2" in page and "Chờ duyệt" in page and "Trần Thị Bích" in page

    listing = author.get(hub.url + "/desk", timeout=10).text
    assert "Họp dân ấp 2" in listing and "Xã Tân Quan" in listing and "23/11/2026 09:06" in listing

    queue = approver.get(hub.url + "/queue", timeout=10).text
    assert f"/desk/{made}/preview/1/1920x1080.png" in queue and "Họp dân ấp 2" in queue

    assert approver.get(f"{hub.url}/desk/{made}", timeout=10).text.count("Duyệt và đăng") == 1
    assert act(hub, approver, made, "approve", 1).status_code == 303
    published = hub.feed(hub.quan)[made]
    assert published.title == "Họp dân ấp 2" and published.approved_by == "duyet2"
    assert published.boards == ("*",)
    shown = approver.get(f"{hub.url}/desk/{made}", timeout=10).text
    assert "Đã duyệt" in shown and "Phạm Văn Hai" in shown


def test_author_cannot_approve_their_own_bulletin(hub: DeskHub) -> None:
    approver = hub.officer("duyet1")  # an approver who writes: four eyes still hold
    made = bulletin_id(write(hub, approver, "Lịch tiêm chủng", action="submit"))
    assert "Duyệt và đăng" not in approver.get(f"{hub.url}/desk/{made}", timeout=10).text
    refused = act(hub, approver, made, "approve", 1)
    assert refused.status_code == 403 and "không được tự duyệt" in refused.text
    assert not (hub.site / hub.quan / "feed.json").exists() or made not in hub.feed(hub.quan)


def test_rejection_reason_is_shown_to_the_author(hub: DeskHub) -> None:
    author, approver = hub.officer("bientap"), hub.officer("duyet1")
    made = bulletin_id(write(hub, author, "Thông báo thu thuế", action="submit"))
    assert act(hub, approver, made, "reject", 1, reason="Sai số tiền ở dòng 2").status_code == 303
    page = author.get(f"{hub.url}/desk/{made}", timeout=10).text
    assert "Bị từ chối" in page and "Sai số tiền ở dòng 2" in page and "Lê Văn Một" in page
    empty = act(hub, approver, made, "reject", 1, reason=" ")
    assert empty.status_code in (403, 409)


def test_edit_of_an_approved_bulletin_waits_while_the_first_plays_then_withdraw_removes_it(hub: DeskHub) -> None:
    author, approver = hub.officer("bientap"), hub.officer("duyet1")
    made = bulletin_id(write(hub, author, "Cắt điện ngày 25", action="submit"))
    assert act(hub, approver, made, "approve", 1).status_code == 303

    edited = write(hub, author, "Cắt điện ngày 26", path=f"/desk/{made}/edit", action="submit")
    assert edited.status_code == 303
    history = [row.revision for row in hub.desk.history(made)]
    assert history == [2, 1]
    assert hub.feed(hub.quan)[made].title == "Cắt điện ngày 25" and hub.feed(hub.quan)[made].revision == 1
    assert "Bản 1 đang phát" in author.get(f"{hub.url}/desk/{made}", timeout=10).text

    assert act(hub, approver, made, "approve", 2).status_code == 303
    assert hub.feed(hub.quan)[made].title == "Cắt điện ngày 26" and hub.feed(hub.quan)[made].revision == 2

    assert act(hub, approver, made, "withdraw", 2, reason="Lịch đã đổi").status_code == 303
    assert made not in hub.feed(hub.quan)
    assert "Đã thu hồi" in author.get(f"{hub.url}/desk/{made}", timeout=10).text


def test_approvers_own_emergency_is_published_alone_and_marked(hub: DeskHub) -> None:
    approver = hub.officer("duyet1")
    made = bulletin_id(write(hub, approver, "Bão số 9 đổ bộ", priority="emergency"))
    page = approver.get(f"{hub.url}/desk/{made}", timeout=10).text
    assert "Đăng khẩn cấp ngay" in page and "KHẨN CẤP" in page
    assert act(hub, approver, made, "emergency", 1).status_code == 303
    published = hub.feed(hub.quan)[made]
    assert published.priority.value == "emergency" and published.approved_by == "duyet1"
    listing = hub.officer("bientap").get(hub.url + "/desk", timeout=10).text
    assert "KHẨN CẤP" in listing and "đăng bởi một người duyệt" in listing
    editor = hub.officer("bientap")
    other = bulletin_id(write(hub, editor, "Khẩn của biên tập viên", priority="emergency"))
    assert act(hub, editor, other, "emergency", 1).status_code == 403  # an editor cannot publish alone


def test_validation_error_shows_the_form_again_with_the_input(hub: DeskHub) -> None:
    author = hub.officer("bientap")
    answer = write(hub, author, "Tiêu đề giữ lại", until_date="2026-11-20")
    assert answer.status_code == 400
    assert "Thời gian kết thúc phải sau thời gian bắt đầu." in answer.text and 'value="Tiêu đề giữ lại"' in answer.text
    no_target = write(hub, author, "Không nơi nhận", boards=[])
    assert no_target.status_code == 400 and "Hãy chọn ít nhất một bảng tin" in no_target.text


# --- attacks ----------------------------------------------------------------------------------------------


def test_editor_of_another_commune_cannot_open_or_edit_bulletin_by_editing_url(hub: DeskHub) -> None:
    author, stranger = hub.officer("bientap"), hub.officer("khac")
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(picture, "PNG")
    made = bulletin_id(write(hub, author, "Ảnh nội bộ", kind="image", files={"upload": ("anh.png", picture.getvalue(), "image/png")}))
    sha = hub.desk.revision(made, 1).media_sha256
    for path in (f"/desk/{made}", f"/desk/{made}/edit", f"/desk/{made}/preview/1/1920x1080.png", f"/media/{sha}"):
        assert stranger.get(hub.url + path, timeout=10).status_code == 404, path
    assert write(hub, stranger, "Chiếm bản tin", path=f"/desk/{made}/edit").status_code == 404
    for verb in ("submit", "approve", "withdraw", "reject"):
        assert act(hub, stranger, made, verb, 1, reason="x").status_code == 404, verb
    # Nor may they target the other commune's board from their own bulletin.
    aimed = write(hub, stranger, "Gửi sang xã khác", unit=hub.hung, boards=["bang-tan-quan"])
    assert aimed.status_code == 400 and "Không tìm thấy" in aimed.text
    assert hub.desk.revision(made, 1).title == "Ảnh nội bộ"
    assert author.get(f"{hub.url}/media/{sha}", timeout=10).status_code == 200


def test_form_without_csrf_field_is_refused(hub: DeskHub) -> None:
    author, approver = hub.officer("bientap"), hub.officer("duyet1")
    made = bulletin_id(write(hub, author, "Thông báo A", action="submit"))
    bare = approver.post(f"{hub.url}/desk/{made}/approve", data={"revision": "1"}, allow_redirects=False, timeout=10)
    assert bare.status_code == 403 and "Biểu mẫu đã hết hạn" in bare.text
    fields = [pair for pair in form_fields("", "Không có mã") if pair[0] != "csrf"]
    blank = author.post(hub.url + "/desk/new", data=fields, files=NO_FILE, allow_redirects=False, timeout=10)
    assert blank.status_code == 403
    assert [row.title for row in hub.desk.listing({hub.quan})[0]] == ["Thông báo A"]
    assert hub.desk.revision(made, 1).state == "submitted"


def test_form_from_another_site_is_refused(hub: DeskHub) -> None:
    author, approver = hub.officer("bientap"), hub.officer("duyet1")
    made = bulletin_id(write(hub, author, "Thông báo B", action="submit"))
    token = csrf_of(approver, hub.url)
    evil = {"Origin": "http://evil.example"}
    answer = approver.post(
        f"{hub.url}/desk/{made}/approve", data={"csrf": token, "revision": "1"}, headers=evil, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 403 and "trang khác" in answer.text
    token = csrf_of(author, hub.url)
    forged = author.post(
        hub.url + "/desk/new", data=form_fields(token, "Từ trang lạ"), files=NO_FILE, headers=evil, allow_redirects=False, timeout=10
    )
    assert forged.status_code == 403
    assert hub.desk.revision(made, 1).state == "submitted" and len(hub.desk.listing({hub.quan})[0]) == 1


def test_upload_over_the_limit_is_refused_and_nothing_kept(hub: DeskHub) -> None:
    author = hub.officer("bientap")
    big = b"\xff\xd8\xff\xe0" + b"\0" * (1024 * 1024 + 10)  # past max_upload_mb = 1
    answer = write(hub, author, "Ảnh lớn", kind="image", files={"upload": ("anh-lon.jpg", big, "image/jpeg")})
    assert answer.status_code == 413 and "anh-lon.jpg" in answer.text and "1 MB" in answer.text
    assert 'value="Ảnh lớn"' in answer.text  # what was typed before the file is on the form again
    # Streamed with no Content-Length too: cut off as it passes the limit.
    token = csrf_of(author, hub.url)
    boundary = "signage-test-boundary"

    def chunks() -> Iterator[bytes]:
        yield f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'.encode()
        yield f'--{boundary}\r\nContent-Disposition: form-data; name="upload"; filename="dai.mp4"\r\n\r\n'.encode()
        for _ in range(40):
            yield b"\0" * 65536

    streamed = author.post(
        hub.url + "/desk/new",
        data=chunks(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        allow_redirects=False,
        timeout=30,
    )
    assert streamed.status_code == 413 and "dai.mp4" in streamed.text
    leftovers = [p for p in hub.media.rglob("*") if p.is_file()] if hub.media.exists() else []
    assert leftovers == []
    assert hub.desk.listing({hub.quan})[1] == 0


def test_upload_named_png_holding_html_is_refused(hub: DeskHub) -> None:
    author = hub.officer("bientap")
    html = b"<!doctype html><script>alert(document.cookie)</script>"
    answer = write(hub, author, "Ảnh giả", kind="image", files={"upload": ("anh.png", html, "image/png")})
    assert answer.status_code == 415 and "anh.png" in answer.text and "không lưu tệp này" in answer.text
    named = write(hub, author, "Trang web", kind="image", files={"upload": ("trang.html", html, "text/html")})
    assert named.status_code == 415 and "trang.html" in named.text
    leftovers = [p for p in hub.media.rglob("*") if p.is_file()] if hub.media.exists() else []
    assert leftovers == [] and hub.desk.listing({hub.quan})[1] == 0


def test_uploaded_media_is_never_served_with_its_own_type(hub: DeskHub) -> None:
    author = hub.officer("bientap")
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(picture, "PNG")
    made = bulletin_id(write(hub, author, "Ảnh họp", kind="image", files={"upload": ("hop.png", picture.getvalue(), "image/png")}))
    row = hub.desk.revision(made, 1)
    assert row.kind == "image" and row.media_type == "image/png" and (hub.media / row.media_sha256).is_file()
    served = author.get(f"{hub.url}/media/{row.media_sha256}", timeout=10)
    assert served.status_code == 200 and served.content == picture.getvalue()
    assert served.headers["content-type"] == "application/octet-stream"
    assert served.headers["content-disposition"].startswith("attachment")
    assert served.headers["x-content-type-options"] == "nosniff"
    assert author.get(f"{hub.url}/media/{'0' * 64}", timeout=10).status_code == 404
    document = io.BytesIO()
    Image.new("RGB", (200, 280), (250, 250, 250)).save(document, "PDF")
    made = bulletin_id(write(hub, author, "Văn bản PDF", kind="text", files={"upload": ("qd.pdf", document.getvalue(), "application/pdf")}))
    row = hub.desk.revision(made, 1)
    assert (row.kind, row.media_type, row.media_name) == ("pdf", "application/pdf", "qd.pdf")  # the file decides the kind
    assert author.get(f"{hub.url}/media/{row.media_sha256}", timeout=10).headers["content-type"] == "application/octet-stream"
    assert author.get(f"{hub.url}/media/..%2Fhub.db", timeout=10).status_code == 404


def test_title_with_script_and_rtl_controls_is_shown_as_text(hub: DeskHub) -> None:
    author, approver = hub.officer("bientap"), hub.officer("duyet2")
    title = "<script>alert(1)</script> Thông ba\u0301o \u202egnot\u202c"  # a combining tone mark and a right-to-left override
    made = bulletin_id(write(hub, author, title, body="Nội dung <b>đậm</b>\u2066", action="submit"))
    page = author.get(f"{hub.url}/desk/{made}", timeout=10).text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\u202e" not in page and "Thông báo" in page
    assert "<b>đậm</b>" not in page and "&lt;b&gt;đậm&lt;/b&gt;" in page
    assert act(hub, approver, made, "approve", 1).status_code == 303
    published = hub.feed(hub.quan)[made]
    assert published.title == "<script>alert(1)</script> Thông báo gnot"  # NFC, the controls gone, as the board parses it
    assert published.body == "Nội dung <b>đậm</b>"


@pytest.mark.parametrize("hub", ["sqlite", "postgresql"], indirect=True)
def test_two_approvers_approving_at_once_publish_once(hub: DeskHub) -> None:
    author = hub.officer("bientap")
    made = bulletin_id(write(hub, author, "Một lần thôi", action="submit"))
    approvers = [hub.officer("duyet1"), hub.officer("duyet2")]
    tokens = [csrf_of(session, hub.url) for session in approvers]
    barrier = threading.Barrier(2)
    answers: list[requests.Response] = []

    def approve(index: int) -> None:
        barrier.wait()
        answers.append(
            approvers[index].post(
                f"{hub.url}/desk/{made}/approve",
                data={"csrf": tokens[index], "revision": "1"},
                allow_redirects=False,
                timeout=30,
            )
        )

    threads = [threading.Thread(target=approve, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answer.status_code for answer in answers) == [303, 409]
    assert "người khác vừa xử lý" in next(answer.text for answer in answers if answer.status_code == 409)
    assert [row.state for row in hub.desk.history(made)] == ["approved"]
    assert len(hub.audit("bulletin.approve")) == 1
    assert hub.feed(hub.quan)[made].approved_by in ("duyet1", "duyet2")


# --- uploads and previews ------------------------------------------------------------------------------------


def test_text_and_word_uploads_fill_title_and_body(hub: DeskHub) -> None:
    import docx

    author = hub.officer("bientap")
    notice = "Lịch tiếp công dân\nChủ tịch xã tiếp công dân sáng thứ Năm.\n".encode()
    made = bulletin_id(write(hub, author, "", body="", files={"upload": ("lich.txt", notice, "text/plain")}))
    row = hub.desk.revision(made, 1)
    assert (row.kind, row.title, row.body) == ("text", "Lịch tiếp công dân", "Chủ tịch xã tiếp công dân sáng thứ Năm.")
    assert row.media_sha256 is None

    document = docx.Document()
    document.add_heading("Thông báo nghỉ lễ", level=1)
    document.add_paragraph("Ủy ban nghỉ lễ từ ngày 1/1.")
    word = io.BytesIO()
    document.save(word)
    made = bulletin_id(write(hub, author, "", body="", files={"upload": ("nghi-le.docx", word.getvalue(), "application/octet-stream")}))
    row = hub.desk.revision(made, 1)
    assert (row.kind, row.title, row.body) == ("text", "Thông báo nghỉ lễ", "Ủy ban nghỉ lễ từ ngày 1/1.")
    broken = write(hub, author, "", body="", files={"upload": ("hong.docx", b"PK\x03\x04 not a package", "application/octet-stream")})
    assert broken.status_code == 415 and "hong.docx" in broken.text


def test_kept_upload_survives_a_validation_error_and_cannot_be_forged(hub: DeskHub) -> None:
    author = hub.officer("bientap")
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 160, 60)).save(picture, "PNG")
    again = write(hub, author, "", kind="image", files={"upload": ("ruong.png", picture.getvalue(), "image/png")})
    assert again.status_code == 400 and "Hãy nhập tiêu đề" in again.text and "ruong.png" in again.text
    kept = dict(re.findall(r'name="(media|media_sig)" value="([^"]*)"', again.text))
    fields = form_fields(csrf_of(author, hub.url), "Ruộng lúa", kind="image", unit=hub.quan)
    media = kept["media"].replace("&#34;", '"')
    made = bulletin_id(
        author.post(hub.url + "/desk/new", data=[*fields, ("media", media), ("media_sig", kept["media_sig"])], files=NO_FILE,
                    allow_redirects=False, timeout=10)
    )  # fmt: skip
    assert hub.desk.revision(made, 1).media_name == "ruong.png"
    forged = media.replace(media[2:66], "0" * 64)
    refused = author.post(
        hub.url + "/desk/new", data=[*fields, ("media", forged), ("media_sig", kept["media_sig"])], files=NO_FILE, timeout=10
    )
    assert refused.status_code == 400 and "Hãy tải lên tệp ảnh" in refused.text


def test_preview_is_the_boards_frame_at_the_listed_sizes_and_the_page_tells_when_it_plays(hub: DeskHub) -> None:
    author = hub.officer("bientap")
    made = bulletin_id(write(hub, author, "Ngày hội đại đoàn kết", action="submit"))
    page = author.get(f"{hub.url}/desk/{made}", timeout=10).text
    assert f"/desk/{made}/preview/1/1920x1080.png" in page and f"/desk/{made}/preview/1/384x192.png" in page
    assert "UBND xã Bang Tan Quan" in page and "Phát suốt 24 giờ tới" in page
    frame = author.get(f"{hub.url}/desk/{made}/preview/1/384x192.png", timeout=120)
    assert frame.status_code == 200 and frame.headers["content-type"] == "image/png"
    assert frame.headers["cache-control"].startswith("private")
    assert Image.open(io.BytesIO(frame.content)).size == (384, 192)
    assert author.get(f"{hub.url}/desk/{made}/preview/1/100x100.png", timeout=10).status_code == 404
    assert author.get(f"{hub.url}/desk/{made}/preview/7/384x192.png", timeout=10).status_code == 404


def test_preview_is_drawn_at_the_screen_size_the_targeted_board_reports_and_no_other(hub: DeskHub) -> None:
    status = {"now_playing": None, "clock": (START + minutes(1)).isoformat(), "screen": [1366, 768]}
    answer = requests.post(hub.url + "/report", data=report_envelope(hub.board_keys["bang-tan-quan"], "bang-tan-quan", 1, status=status))
    assert answer.status_code == 200
    author = hub.officer("bientap")
    made = bulletin_id(write(hub, author, "Lịch tiếp công dân", action="submit"))
    page = author.get(f"{hub.url}/desk/{made}", timeout=10).text
    assert f"/desk/{made}/preview/1/1366x768.png" in page and "Màn hình 1366×768 của 1 bảng tin nhận" in page
    frame = author.get(f"{hub.url}/desk/{made}/preview/1/1366x768.png", timeout=120)
    assert frame.status_code == 200 and Image.open(io.BytesIO(frame.content)).size == (1366, 768)
    assert author.get(f"{hub.url}/desk/{made}/preview/1/1367x768.png", timeout=10).status_code == 404  # not any size a URL asks


def test_commune_officer_reads_their_communes_figures_by_title_and_never_anothers(hub: DeskHub) -> None:
    author, approver, other = hub.officer("bientap"), hub.officer("duyet2"), hub.officer("khac")
    made = bulletin_id(write(hub, author, "Lịch tiêm chủng tháng 12", action="submit"))
    assert act(hub, approver, made, "approve", 1).status_code == 303
    at = START + minutes(1)
    sent = [
        ("bang-tan-quan", [play(made, at, revision=1)]),
        ("bang-tan-hung", [play("inbox-hop-dan-thon-3-1a2b3c4d", at)]),
    ]
    for board, plays in sent:
        answer = requests.post(hub.url + "/report", data=report_envelope(hub.board_keys[board], board, 1, sent_at=at, plays=plays))
        assert answer.status_code == 200, answer.text
    period = "?from=2026-11-23&to=2026-11-23"
    mine = author.get(hub.url + "/bulletins" + period, timeout=10).text
    assert "Lịch tiêm chủng tháng 12" in mine and made not in mine.replace(f"/bulletins/{made}", "")  # the title, not the id
    assert "Thủ tục hành chính, dịch vụ công" in mine  # its lĩnh vực, in the figures by category
    assert "inbox-hop-dan-thon-3" not in mine  # Tân Hưng's plays are not Tân Quan's figures
    theirs = other.get(hub.url + "/bulletins" + period, timeout=10).text
    assert "inbox-hop-dan-thon-3" in theirs and "Lịch tiêm chủng" not in theirs
    csv_text = author.get(hub.url + "/export.csv" + period, timeout=10).content.decode("utf-8-sig")
    assert "bang-tan-quan" in csv_text and "bang-tan-hung" not in csv_text
    board_page = author.get(hub.url + "/boards/bang-tan-quan", timeout=10).text
    assert "Lịch tiêm chủng tháng 12" in board_page


# --- the multipart reader, pure -------------------------------------------------------------------------------

BODY = (
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="csrf"\r\n\r\n'
    b"abc\r\n"
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="upload"; filename="C:\\\\Users\\\\an\\\\\xe1\xba\xa2nh %22x%22.png"\r\n'
    b"Content-Type: image/png\r\n\r\n"
    b"\r\n--Xy\r\n\x00\xff\r\n-"
    b"\r\n--XyZ--\r\nepilogue"
)


def events_of(chunks: list[bytes]) -> list[Any]:
    from signage.district.hub.uploads import MultipartReader, PartData

    reader = MultipartReader("XyZ")
    events: list[Any] = []
    for chunk in chunks:
        for event in reader.feed(chunk):
            if isinstance(event, PartData) and events and isinstance(events[-1], PartData):
                events[-1] = PartData(events[-1].data + event.data)  # data may come in any number of pieces
            else:
                events.append(event)
    reader.close()
    return events


def test_multipart_reader_gives_the_same_parts_however_the_body_is_cut() -> None:
    from signage.district.hub.uploads import Part, PartData, PartEnd

    whole = events_of([BODY])
    assert whole == [
        Part("csrf", None, ""),
        PartData(b"abc"),
        PartEnd(),
        Part("upload", "Ảnh %22x%22.png", "image/png"),
        PartData(b"\r\n--Xy\r\n\x00\xff\r\n-"),
        PartEnd(),
    ]
    assert events_of([BODY[i : i + 1] for i in range(len(BODY))]) == whole
    for cut in range(1, len(BODY)):
        assert events_of([BODY[:cut], BODY[cut:]]) == whole, cut


def test_multipart_body_cut_short_is_refused() -> None:
    from signage.district.hub.uploads import UploadRefused

    with pytest.raises(UploadRefused):
        events_of([BODY[: BODY.index(b"\r\n--XyZ--")]])


def test_file_sent_before_the_csrf_field_is_refused_and_nothing_written(hub: DeskHub) -> None:
    author = hub.officer("bientap")
    token = csrf_of(author, hub.url)
    picture = io.BytesIO()
    Image.new("RGB", (64, 48)).save(picture, "PNG")
    answer = author.post(
        hub.url + "/desk/new",
        files=[("upload", ("truoc.png", picture.getvalue(), "image/png")), ("csrf", (None, token)), ("title", (None, "Đảo thứ tự"))],
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 403
    leftovers = [p for p in hub.media.rglob("*") if p.is_file()] if hub.media.exists() else []
    assert leftovers == [] and hub.desk.listing({hub.quan})[1] == 0
