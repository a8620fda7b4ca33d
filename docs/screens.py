"""The screenshots of the officers' guides (docs/huong-dan-*.md), taken from a real hub.

A hub is seeded on loopback with a real `[source]` signing key; boards join it (POST /join, signed by their own keys)
and report; Chromium (Debian's, through Playwright) signs in as the administrator, an editor and approvers and does
what each guide tells, taking each page as it goes. Pages are taken 1280 wide and kept as 256-colour PNGs.
Debian's `chromium` and `chromium-l10n` (the browser's own date fields and file button in Vietnamese) are needed.

    .venv/bin/python docs/screens.py                 # writes docs/images/*.png
    .venv/bin/python docs/screens.py --keep /tmp/hub  # and keeps the hub's folder (database, feeds) to look at

Every page is checked as it is taken (no broken image, no Content-Security-Policy complaint, no error page where
none is meant); what is wrong is listed at the end and the exit status is 1.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from the project: `tests.hubserver` is the hub on loopback
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # the board's renderer draws a report's screenshot offscreen
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import pygame  # noqa: E402
import requests  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright  # noqa: E402

from signage.cli import main as signage_main  # noqa: E402
from signage.district.hub import HubConfig, create_app  # noqa: E402
from signage.district.hub.app import hash_password  # noqa: E402
from signage.district.hub.desk import Actor, Desk, Draft, Targets  # noqa: E402
from signage.envelope import PNG_TYPE, generate_key, sign  # noqa: E402
from signage.kiosk.join import join_envelope  # noqa: E402
from signage.model import Kind  # noqa: E402
from signage.paths import FONT_BOLD, FONT_REGULAR  # noqa: E402
from signage.report.screenshot import png_of  # noqa: E402
from tests.hubserver import play, report_envelope, serve  # noqa: E402

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
IMAGES = ROOT / "docs" / "images"
WIDTH = 1280
PASSWORD = "mật-khẩu-đủ-dài"
TITLE = "Hệ thống thông tin nguồn tỉnh Bình Phước"
ROOT_UNIT = "Tỉnh Bình Phước"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--lang=vi"]

# The people of the story: login name, full name, unit name, roles.
PEOPLE = [
    ("bientap", "Trần Thị Bích", "Xã Tân Quan", ["editor"]),
    ("duyet", "Lê Văn Minh", "Xã Tân Quan", ["approver"]),
    ("duyettinh", "Phạm Thu Hà", ROOT_UNIT, ["approver"]),
    ("quantrixa", "Đỗ Văn Sơn", "Xã Tân Quan", ["admin"]),
    ("bientaphung", "Ngô Thị Lan", "Xã Tân Hưng", ["editor"]),
]
# The boards that join: id, the name it proposes, its host name, the unit it is accepted into.
BOARDS = [
    ("ubnd-tan-quan", "UBND xã Tân Quan", "bangtin-ubnd-tanquan", "Xã Tân Quan"),
    ("cho-tan-quan", "Chợ Tân Quan", "bangtin-cho-tanquan", "Xã Tân Quan"),
    ("truong-th-tan-quan", "Trường Tiểu học Tân Quan", "bangtin-truong-tanquan", "Xã Tân Quan"),
    ("ubnd-tan-hung", "UBND xã Tân Hưng", "bangtin-ubnd-tanhung", "Xã Tân Hưng"),
]


class StoryClock:
    """The hub's clock: the real time plus the minutes the story has moved on, so that each step happens a few
    minutes after the one before (a submission, then its approval) while everything stays within a session."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(HCM) + self.offset

    def advance(self, minutes: float) -> None:
        self.offset += timedelta(minutes=minutes)


@dataclass
class Story:
    url: str
    app: Any
    desk: Desk
    clock: StoryClock
    work: Path
    browser: Browser
    keys: dict[str, Ed25519PrivateKey] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)  # unit name → id
    seq: dict[str, int] = field(default_factory=dict)  # each board's next report number
    problems: list[str] = field(default_factory=list)
    taken: list[Path] = field(default_factory=list)

    # --- the browser ---------------------------------------------------------------------------------

    @contextmanager
    def signed_in(self, name: str) -> Iterator[Page]:
        """A browser of its own (its own cookies) signed in as `name`."""
        context: BrowserContext = self.browser.new_context(
            viewport={"width": WIDTH, "height": 800}, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", device_scale_factor=1
        )
        page = context.new_page()
        page.on("console", lambda message: self._console(name, message.text))
        try:
            page.goto(self.url + "/login")
            page.fill("input[name=username]", name)
            page.fill("input[name=password]", PASSWORD)
            with page.expect_navigation():
                page.click("button[type=submit]")
            if page.url.startswith(self.url + "/login"):
                raise RuntimeError(f"{name} could not sign in")
            yield page
        finally:
            context.close()

    def _console(self, who: str, text: str) -> None:
        if "Content Security Policy" in text:  # (an error page's status is told too: those are checked by shot)
            self.problems.append(f"{who}: the browser said: {text}")

    def go(self, page: Page, path: str) -> None:
        page.goto(self.url + path)

    def press(self, page: Page, selector: str) -> None:
        """Click a button that submits a form, and wait for the page it leads to."""
        with page.expect_navigation():
            page.click(selector)

    def shot(self, page: Page, name: str, *, selector: str | None = None, max_height: int = 1500, error: bool = False) -> None:
        """The page (or one element of it) as docs/images/<name>.png, after its images have loaded."""
        settle(page)
        self.check(page, name, error)
        raw = page.locator(selector).first.screenshot() if selector else page.screenshot(full_page=True)
        path = IMAGES / f"{name}.png"
        save_optimised(raw, path, max_height)
        self.taken.append(path)
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size // 1024} KiB  ({page.url.removeprefix(self.url)})")

    def check(self, page: Page, name: str, error: bool) -> None:
        broken = page.evaluate("[...document.images].filter(i => !i.naturalWidth).map(i => i.getAttribute('src'))")
        if broken:
            self.problems.append(f"{name}: {page.url}: images that did not load: {broken}")
        is_error = page.locator("p.error").count() > 0
        if is_error and not error:
            self.problems.append(f"{name}: {page.url}: an error where none was meant: {page.inner_text('p.error')}")
        if error and not is_error:
            self.problems.append(f"{name}: {page.url}: no error shown where one was meant")

    # --- boards --------------------------------------------------------------------------------------

    def report(self, board: str, **fields: Any) -> None:
        """A heartbeat from the board, as its reporter sends it; retried while the hub's pins catch up (a second)."""
        self.seq[board] = self.seq.get(board, 0) + 1
        raw = report_envelope(self.keys[board], board, self.seq[board], sent_at=self.clock(), **fields)
        deadline = time.monotonic() + 10
        while True:
            answer = requests.post(self.url + "/report", data=raw, timeout=10)
            if answer.ok or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if not answer.ok:
            self.problems.append(f"report from {board}: {answer.status_code} {answer.text[:200]}")

    def screenshot(self, board: str, title: str, body: str, command: str | None = None) -> None:
        """The board's own frame of a notice, sent as its reporter sends a screenshot."""
        notice = self.work / "thong-bao.txt"
        notice.write_text(f"{title}\n{body}\n", encoding="utf-8")
        frame = self.work / f"{board}.png"
        if signage_main(["render", str(notice), "--out", str(frame), "--size", "1280x720"]) != 0:
            self.problems.append(f"signage render failed for {board}'s screenshot")
            return
        self.seq[board] = self.seq.get(board, 0) + 1
        png = png_of(pygame.image.load(str(frame)), 640, board=board, seq=self.seq[board], taken_at=self.clock(), command=command)
        answer = requests.post(self.url + "/report/screenshot", data=sign(png, PNG_TYPE, [self.keys[board]]), timeout=10)
        if not answer.ok:
            self.problems.append(f"screenshot from {board}: {answer.status_code} {answer.text[:200]}")


def settle(page: Page) -> None:
    """Every image loaded (the previews are drawn by the boards' renderer in a worker: seconds, the first time)."""
    page.evaluate("document.querySelectorAll('img[loading=lazy]').forEach(i => { i.loading = 'eager'; })")
    deadline = time.monotonic() + 120
    # Polled from here: a predicate string given to wait_for_function is eval'd, which the hub's CSP refuses.
    while not page.evaluate("[...document.images].every(i => i.complete)"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{page.url}: images still loading after 120 s")
        time.sleep(0.2)


def save_optimised(raw: bytes, path: Path, max_height: int) -> None:
    """1280 wide at most, cut at `max_height`, 256 colours: a page of the hub is flat colour and text."""
    image = Image.open(io.BytesIO(raw)).convert("RGB")
    if image.width > WIDTH:
        image = image.resize((WIDTH, round(image.height * WIDTH / image.width)), Image.Resampling.LANCZOS)
    if image.height > max_height:
        image = image.crop((0, 0, image.width, max_height))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


def poster(path: Path) -> None:
    """A photo-like poster (a JPEG, as a commune's clerk would upload) for the image bulletin."""
    image = Image.new("RGB", (1600, 900))
    draw = ImageDraw.Draw(image)
    for y in range(900):  # a sky fading into a field
        draw.line([(0, y), (1600, y)], fill=(30 + y // 8, 90 + y // 10, 170 - y // 9))
    draw.rectangle([0, 620, 1600, 900], fill=(46, 125, 50))
    draw.ellipse([1250, 80, 1450, 280], fill=(255, 214, 90))
    big, small = ImageFont.truetype(str(FONT_BOLD), 84), ImageFont.truetype(str(FONT_REGULAR), 48)
    draw.text((800, 330), "NGÀY HỘI ĐẠI ĐOÀN KẾT", font=big, fill="white", anchor="mm")
    draw.text((800, 440), "TOÀN DÂN TỘC", font=big, fill="white", anchor="mm")
    draw.text((800, 720), "Khu dân cư ấp 3 · 7 giờ 30, Chủ nhật 13/12/2026", font=small, fill="white", anchor="mm")
    image.save(path, "JPEG", quality=88)


# --- the story ------------------------------------------------------------------------------------------


def administrator(story: Story) -> None:
    """The province's administrator (made once with the CLI) sets up communes, people, boards and groups."""
    with story.signed_in("quantri") as page:
        story.go(page, "/admin/units")
        for name in ("Xã Tân Quan", "Xã Tân Hưng"):
            page.fill("input[name=name]", name)
            story.press(page, "form[action='/admin/units'] button")
            story.clock.advance(1)
        story.units = {name: unit for unit, name in story.desk.unit_names().items()}
        story.shot(page, "qt-don-vi")

        story.go(page, "/admin/people")
        for login, full_name, unit, roles in PEOPLE:
            fill_person(page, story, login, full_name, unit, roles)
            if login == "bientap":
                story.shot(page, "qt-them-nguoi-dung", selector="form[action='/admin/people']")
            story.press(page, "form[action='/admin/people'] button[type=submit]")
            story.clock.advance(1)
        story.shot(page, "qt-nguoi-dung")
        fill_person(page, story, "kiemtra", "Võ Minh Tâm", "Xã Tân Quan", ["editor"], again="mật-khẩu-khác-hẳn")
        story.press(page, "form[action='/admin/people'] button[type=submit]")
        story.shot(page, "qt-loi-mat-khau", error=True)

    for board, name, host, _ in BOARDS:  # each board runs `signage join` at the commune
        story.keys[board] = Ed25519PrivateKey.generate()
        answer = requests.post(story.url + "/join", data=join_envelope(story.keys[board], board, name, story.clock(), host), timeout=10)
        if answer.status_code != 202:
            story.problems.append(f"join of {board}: {answer.status_code} {answer.text[:200]}")
        story.clock.advance(2)

    with story.signed_in("quantri") as page:
        story.go(page, "/admin/boards")
        story.shot(page, "qt-bang-tin-cho-nhan")
        for board, _, _, unit in BOARDS:
            row = page.locator("tr", has=page.locator(f"td.id:text-is('{board}')"))
            row.locator("select[name=unit]").select_option(story.units[unit])
            with page.expect_navigation():
                row.locator("form[action='/admin/boards/accept'] button").click()
            story.clock.advance(1)
        story.shot(page, "qt-bang-tin-da-nhan")

        story.go(page, "/admin/groups")
        page.fill("form[action='/admin/groups'] input[name=name]", "Chợ và trường học")
        page.select_option("form[action='/admin/groups'] select[name=unit]", story.units["Xã Tân Quan"])
        for board in ("cho-tan-quan", "truong-th-tan-quan"):
            page.check(f"form[action='/admin/groups'] input[name=board][value='{board}']")
        story.press(page, "form[action='/admin/groups'] button[type=submit]")
        story.shot(page, "qt-nhom")


def fill_person(page: Page, story: Story, login: str, full_name: str, unit: str, roles: list[str], again: str = PASSWORD) -> None:
    form = "form[action='/admin/people']"
    page.fill(f"{form} input[name=name]", login)
    page.fill(f"{form} input[name=full_name]", full_name)
    page.fill(f"{form} input[name=password]", PASSWORD)
    page.fill(f"{form} input[name=password_again]", again)
    page.select_option(f"{form} select[name=unit]", story.units[unit])
    for role in ("editor", "approver", "admin"):
        page.set_checked(f"{form} input[name=role][value={role}]", role in roles)


def background(story: Story) -> dict[str, str]:
    """What the commune already had before the guide's steps: bulletins published, one ended, one of Tân Hưng."""
    desk, now = story.desk, story.clock()
    quan, hung = story.units["Xã Tân Quan"], story.units["Xã Tân Hưng"]
    week = now + timedelta(days=7)

    def written(author: str, unit: str, title: str, body: str, until: datetime, **extra: Any) -> str:
        draft = Draft(Kind.TEXT, title, Targets(units=(unit,)), body=body, valid_from=now, valid_until=until, **extra)
        bulletin = desk.create(Actor(author, "10.0.0.21", story.clock()), unit, draft)
        desk.submit(Actor(author, "10.0.0.21", story.clock()), bulletin, 1)
        return bulletin

    power_cut = "Điện lực cắt điện khu vực ấp 1 từ 7 giờ đến 9 giờ."
    ended = written("bientap", quan, "Lịch cắt điện sáng nay", power_cut, now + timedelta(minutes=8))
    published = written(
        "bientap",
        quan,
        "Tuyên truyền phòng chống sốt xuất huyết",
        "Mỗi tuần dành 15 phút diệt lăng quăng, bọ gậy; đậy kín dụng cụ chứa nước.",
        week,
        category="y-te",
    )
    hung_one = written("bientaphung", hung, "Thông báo họp dân ấp Sóc Ruộng", "Họp lúc 19 giờ thứ Sáu tại nhà văn hóa ấp.", week)
    for bulletin in (ended, published, hung_one):
        story.app.state.publisher.publish(desk.approve(Actor("duyettinh", "10.0.0.5", story.clock()), bulletin, 1))
    targets = Targets(units=(quan,))
    draft = Draft(Kind.TEXT, "Mời họp tổng kết năm 2026", targets, body="Nội dung đang soạn.", valid_from=now, valid_until=week)
    desk.create(Actor("bientap", "10.0.0.21", story.clock()), quan, draft)
    story.clock.advance(10)
    story.app.state.publisher.tend()  # the hub's own pass: the power cut's notice has ended (Hết hạn)
    return {"hung": hung_one}


VACCINATION = (
    "Lịch tiêm chủng mở rộng tháng 12",
    "Trạm Y tế xã Tân Quan tổ chức tiêm chủng mở rộng cho trẻ dưới 5 tuổi vào sáng thứ Hai và thứ Ba hằng tuần.\n"
    "Phụ huynh mang theo sổ tiêm chủng và thẻ bảo hiểm y tế của trẻ.",
)
FEES = ("Thông báo thu phí vệ sinh môi trường", "Các hộ gia đình nộp phí vệ sinh môi trường quý IV tại nhà văn hóa ấp.")
STORM = (
    "Cảnh báo giông lốc, mưa lớn chiều nay",
    "Từ 14 giờ đến 18 giờ hôm nay có giông lốc, mưa lớn. Không trú dưới cây to, tránh xa cột điện; gia cố nhà cửa, đưa trẻ em về nhà sớm.",
)


def editor(story: Story) -> dict[str, str]:
    """The commune's editor writes a text bulletin (a mistake first), an image bulletin (a wrong file first), one more."""
    written: dict[str, str] = {}
    with story.signed_in("bientap") as page:
        story.go(page, "/desk")
        story.shot(page, "bt-danh-sach-dau", max_height=800)
        story.go(page, "/desk/new")
        story.shot(page, "bt-viet-moi", max_height=800)

        page.fill("input[name=title]", VACCINATION[0])
        page.select_option("select[name=category]", "y-te")
        page.fill("input[name=until_date]", (story.clock() + timedelta(days=30)).date().isoformat())
        page.fill("input[name=until_time]", "17:00")
        for day in ("sat", "sun"):
            page.uncheck(f"input[name=days][value={day}]")
        page.fill("input[name=slot_from_0]", "06:30")
        page.fill("input[name=slot_until_0]", "11:00")
        page.fill("input[name=slot_from_1]", "13:30")
        page.fill("input[name=slot_until_1]", "17:00")
        page.check(f"input[name=target_unit][value='{story.units['Xã Tân Quan']}']")
        page.fill("textarea[name=body]", VACCINATION[1])
        story.shot(page, "bt-dien-mau", max_height=1900)
        page.fill("textarea[name=body]", "")
        story.press(page, "button[name=action][value=save]")  # the body forgotten: the form comes back, filled
        story.shot(page, "bt-loi-thieu-noi-dung", max_height=700, error=True)
        page.fill("textarea[name=body]", VACCINATION[1])
        story.press(page, "button[name=action][value=save]")
        written["vaccination"] = page.url.rsplit("/", 1)[-1]
        story.shot(page, "bt-nhap")
        story.clock.advance(3)
        story.press(page, "form[action$='/submit'] button")
        story.shot(page, "bt-cho-duyet", max_height=900)

        story.go(page, "/desk/new")
        page.fill("input[name=title]", "Ngày hội Đại đoàn kết toàn dân tộc")
        page.select_option("select[name=priority]", "high")
        page.select_option("select[name=category]", "van-hoa")
        page.fill("input[name=until_date]", (story.clock() + timedelta(days=12)).date().isoformat())
        page.check("input[name=group]")
        fake = story.work / "anh-ngay-hoi.jpg"
        fake.write_text("Đây là một tệp văn bản bị đặt nhầm đuôi .jpg\n", encoding="utf-8")
        page.set_input_files("input[name=upload]", fake)
        story.press(page, "button[name=action][value=submit]")
        story.shot(page, "bt-loi-tep", max_height=700, error=True)
        real = story.work / "ngay-hoi-dai-doan-ket.jpg"
        poster(real)
        page.set_input_files("input[name=upload]", real)
        page.check("input[name=group]")  # a refused upload keeps what was typed before the file, the rest afresh
        page.select_option("select[name=priority]", "high")
        page.select_option("select[name=category]", "van-hoa")
        page.fill("input[name=until_date]", (story.clock() + timedelta(days=12)).date().isoformat())
        story.press(page, "button[name=action][value=submit]")
        written["festival"] = page.url.rsplit("/", 1)[-1]
        story.shot(page, "bt-anh-cho-duyet")
        story.clock.advance(2)

        story.go(page, "/desk/new")
        page.fill("input[name=title]", FEES[0])
        page.fill("textarea[name=body]", FEES[1])
        page.select_option("select[name=category]", "hanh-chinh")
        page.check(f"input[name=target_unit][value='{story.units['Xã Tân Quan']}']")
        story.press(page, "button[name=action][value=submit]")
        written["fees"] = page.url.rsplit("/", 1)[-1]
    # The approver's own bulletin, waiting for someone else (four eyes).
    now = story.clock()
    draft = Draft(
        Kind.TEXT,
        "Kế hoạch ra quân dọn vệ sinh cuối tuần",
        Targets(units=(story.units["Xã Tân Quan"],)),
        body="Sáng Chủ nhật, các đoàn thể ra quân dọn vệ sinh đường làng, khơi thông cống rãnh.",
        valid_from=now,
        valid_until=now + timedelta(days=6),
    )
    own = story.desk.create(Actor("duyet", "10.0.0.22", now), story.units["Xã Tân Quan"], draft)
    story.desk.submit(Actor("duyet", "10.0.0.22", now), own, 1)
    story.clock.advance(15)
    return written


def approvers(story: Story, written: dict[str, str]) -> str:
    """The commune's approver approves one, rejects one, meets a colleague's decision, publishes an emergency alone."""
    with story.signed_in("duyet") as page:
        story.go(page, "/queue")
        story.shot(page, "dt-cho-duyet")

        story.go(page, f"/desk/{written['vaccination']}")
        story.shot(page, "dt-xem-ban-tin")
        story.press(page, "form[action$='/approve'] button")
        story.shot(page, "dt-da-duyet")
        story.clock.advance(2)

        story.go(page, f"/desk/{written['fees']}")
        page.fill("form[action$='/reject'] input[name=reason]", "Thiếu mức thu cụ thể và hạn nộp; bổ sung rồi gửi lại.")
        story.shot(page, "dt-tu-choi-ly-do", selector="section.actions")
        story.press(page, "form[action$='/reject'] button")
        story.shot(page, "dt-bi-tu-choi", max_height=900, error=True)
        story.clock.advance(2)

        story.go(page, f"/desk/{written['festival']}")  # opened, while the province's approver decides first
        with story.signed_in("duyettinh") as other:
            story.go(other, f"/desk/{written['festival']}")
            story.press(other, "form[action$='/approve'] button")
        story.press(page, "form[action$='/approve'] button")
        story.shot(page, "dt-nguoi-khac-vua-duyet", error=True)
        story.clock.advance(5)

        story.go(page, "/desk/new")
        page.fill("input[name=title]", STORM[0])
        page.fill("textarea[name=body]", STORM[1])
        page.select_option("select[name=priority]", "emergency")
        page.select_option("select[name=category]", "thien-tai")
        page.fill("input[name=until_date]", (story.clock() + timedelta(days=1)).date().isoformat())
        page.fill("input[name=until_time]", "18:00")
        page.check(f"input[name=target_unit][value='{story.units['Xã Tân Quan']}']")
        story.shot(page, "dt-khan-cap-viet", selector="div.form-row")
        story.press(page, "button[name=action][value=save]")
        storm = page.url.rsplit("/", 1)[-1]
        story.shot(page, "dt-khan-cap-nhap")
        story.press(page, "form[action$='/emergency'] button")
        story.shot(page, "dt-khan-cap-da-dang")
        story.clock.advance(30)
    return storm


def boards_report(story: Story, written: dict[str, str], storm: str) -> None:
    """The boards report what they play (the emergency took their screens), one sends a screenshot."""
    for board, *_ in BOARDS:
        now = story.clock()
        if board == "ubnd-tan-hung":
            plays = [play(written["hung"], now - timedelta(minutes=m)) for m in (9, 5, 1)]
            story.report(board, plays=plays, status={"now_playing": None, "clock": now.isoformat()})
            continue
        plays = [play(written["vaccination"], now - timedelta(minutes=30 - m), completed=m != 20) for m in (0, 10, 20)]
        plays += [play(storm, now - timedelta(minutes=m), shown_s=45) for m in (8, 4, 1)]
        error = "ảnh màn hình: không ghi được (đĩa đầy)" if board == "truong-th-tan-quan" else None
        story.report(board, plays=plays, status={"now_playing": storm, "clock": now.isoformat(), "last_error": error})
    story.screenshot("ubnd-tan-quan", *STORM)


def withdraw_and_mend(story: Story, written: dict[str, str], storm: str) -> None:
    with story.signed_in("duyet") as page:
        story.go(page, f"/desk/{storm}")
        page.fill("form[action$='/withdraw'] input[name=reason]", "Mưa đã ngớt, hết nguy cơ giông lốc.")
        story.press(page, "form[action$='/withdraw'] button")
        story.shot(page, "dt-thu-hoi", max_height=900)
    story.clock.advance(3)
    with story.signed_in("bientap") as page:
        story.go(page, f"/desk/{written['fees']}")
        story.shot(page, "bt-bi-tu-choi", max_height=900, error=True)
        page.click("a.button:text-is('Sửa bản tin')")
        page.fill("textarea[name=body]", FEES[1] + "\nMức thu: 20.000 đồng/hộ/tháng. Hạn nộp: 25/12/2026.")
        story.press(page, "button[name=action][value=submit]")
        story.go(page, "/desk")
        story.shot(page, "bt-danh-sach")


def commands_and_record(story: Story, written: dict[str, str]) -> None:
    with story.signed_in("quantri") as page:
        story.go(page, "/boards/ubnd-tan-quan")
        page.select_option("select[name=action]", "screenshot")
        story.press(page, "form[action$='/command'] button")
        story.shot(page, "qt-lenh-da-gui")
        command = story.desk.commands_for("ubnd-tan-quan")[0].id
        story.clock.advance(2)
        now = story.clock()
        story.report("ubnd-tan-quan", commands_done=[{"id": command, "ok": True, "at": now.isoformat()}],
                     status={"now_playing": written["vaccination"], "clock": now.isoformat()})  # fmt: skip
        story.screenshot("ubnd-tan-quan", *VACCINATION, command=command)
        for board, *_ in BOARDS[1:]:
            story.report(board, status={"now_playing": written["vaccination"], "clock": now.isoformat()})
        page.reload()
        story.shot(page, "qt-bang-tin-mot", max_height=1700)
        story.go(page, "/")
        story.shot(page, "qt-tong-quan")
        story.go(page, "/audit")
        story.shot(page, "qt-nhat-ky", max_height=1300)
        story.go(page, "/admin")
        story.shot(page, "qt-quan-tri")
    with story.signed_in("quantrixa") as page:
        story.go(page, "/admin/people")
        story.shot(page, "qt-nguoi-dung-xa", max_height=900)


def login_page(story: Story) -> None:
    context = story.browser.new_context(viewport={"width": WIDTH, "height": 600}, locale="vi-VN", device_scale_factor=1)
    page = context.new_page()
    try:
        story.go(page, "/login")
        page.fill("input[name=username]", "bientap")
        page.fill("input[name=password]", PASSWORD)
        story.shot(page, "dang-nhap", max_height=600)
    finally:
        context.close()


def seeded_hub(work: Path) -> tuple[Any, HubConfig, StoryClock]:
    generate_key(work / "hub.key")  # as `signage keygen` writes it: 0600
    (work / "hub.toml").write_text(
        f'[hub]\ndatabase = "hub.db"\ntitle = "{TITLE}"\n\n[source]\nkey = "hub.key"\nunit_name = "{ROOT_UNIT}"\n', encoding="utf-8"
    )
    config = HubConfig.load(work / "hub.toml")
    clock = StoryClock()
    app = create_app(config, clock=clock)
    # The first administrator, as `signage hub --add-user quantri --full-name "Nguyễn Văn Quản"` makes it.
    app.state.store.set_user("quantri", hash_password(PASSWORD), clock(), full_name="Nguyễn Văn Quản")
    app.state.desk.grant_root_admin("quantri")
    return app, config, clock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep the hub's folder here (database, feeds, media)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="signage-screens-"))
    for old in IMAGES.glob("*.png"):
        old.unlink()
    try:
        app, _, clock = seeded_hub(work)
        with serve(app) as url, sync_playwright() as playwright:
            # The browser's own controls (dates, times, the file button) in Vietnamese, as on an officer's PC: its
            # language is taken from the environment, and needs Debian's chromium-l10n (else they stay English).
            language = {**os.environ, "LANGUAGE": "vi", "LANG": "vi_VN.UTF-8"}
            browser = playwright.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS, env=language)
            story = Story(url, app, app.state.desk, clock, work, browser)
            login_page(story)
            administrator(story)
            written = background(story)
            written |= editor(story)
            storm = approvers(story, written)
            boards_report(story, written, storm)
            withdraw_and_mend(story, written, storm)
            commands_and_record(story, written)
            browser.close()
    finally:
        if args.keep:
            shutil.copytree(work, args.keep, dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    total = sum(path.stat().st_size for path in story.taken)
    print(f"{len(story.taken)} images, {total / 1024 / 1024:.2f} MB in all")
    for problem in story.problems:
        print("PROBLEM:", problem)
    return 1 if story.problems else 0


if __name__ == "__main__":
    sys.exit(main())
