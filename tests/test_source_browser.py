"""The source system end to end, as the province uses it: officers in Debian's Chromium (Playwright), `signage hub` with
a real [source] key and SQLite, and `signage play --headless` boards that joined with `signage join` and were accepted in
the browser. What a board shows is read from its own frames (`--screenshot-dir`), never from the hub's word.

The pages each officer used are saved to /tmp/signage-source-pages/ with the boards' frames, for a person to look at.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from PIL import Image, ImageDraw, ImageFont

from signage.config import load_config
from signage.envelope import generate_key, load_private_key, public_key_text, public_raw
from signage.paths import FONT_BOLD
from signage.render.layout import Layout
from signage.render.theme import EMERGENCY
from signage.status import board_status

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.slow

PAGES = Path("/tmp/signage-source-pages")  # what the officers saw and what the boards drew, for a person to open
SIGNAGE = [sys.executable, "-m", "signage"]
ENV = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
TITLE = "Hệ thống thông tin nguồn tỉnh Bình Phước"
PROVINCE = "Tỉnh Bình Phước"
QUAN, HUNG = "Xã Tân Quan", "Xã Tân Hưng"
ADMIN, EDITOR, APPROVER, OTHER_APPROVER = "tinh", "bientap", "duyet-quan", "duyet-hung"
PEOPLE = {  # login: (full name, commune, role)
    EDITOR: ("Trần Thị Bích", QUAN, "editor"),
    APPROVER: ("Lê Văn Một", QUAN, "approver"),
    OTHER_APPROVER: ("Ngô Văn Khác", HUNG, "approver"),
}
PASSWORD = "mật-khẩu-đủ-dài-của-tỉnh"
BOARDS = {"tan-quan": "UBND xã Tân Quan", "tan-hung": "UBND xã Tân Hưng"}
STORM_BODY = "Ban chỉ huy phòng chống thiên tai xã yêu cầu bà con ấp 2, ấp 3 di dời đến trường tiểu học trước 17 giờ."
JADE = (0, 168, 107)  # the image bulletin's colour: nothing a board draws by itself comes near it
WAIT_S = 60.0  # every wait below is bounded by this
POLL_S = 0.5


# --- pictures ---------------------------------------------------------------------------------------------------------


def poster_png(path: Path) -> Path:
    """A flat jade poster with a Vietnamese caption, as a commune's clerk would upload."""
    image = Image.new("RGB", (1280, 720), JADE)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT_BOLD), 64)
    for line, y in (("Ngày hội Đại đoàn kết", 250), ("toàn dân tộc — ấp Sóc Ruộng", 340)):
        draw.text((640, y), line, font=font, fill=(255, 255, 255), anchor="mm")
    image.save(path, "PNG")
    return path


def slide_box(size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The slide area of a frame of `size` (a board's frame, its downscaled screenshot, a preview): the header and the
    ticker are red and yellow on every frame, so colours are looked for only here."""
    layout = Layout.for_size(*size)
    return layout.slide.left, layout.slide.top, layout.slide.right, layout.slide.bottom


def share(image: Image.Image, test: Callable[[tuple[int, int, int]], bool]) -> float:
    """The share of the slide area's pixels (every second one each way) that pass `test`."""
    area = image.convert("RGB").crop(slide_box(image.size))
    pixels = [area.getpixel((x, y)) for y in range(0, area.height, 2) for x in range(0, area.width, 2)]
    return sum(1 for p in pixels if test(p)) / len(pixels)


def near(colour: tuple[int, int, int], tolerance: int = 24) -> Callable[[tuple[int, int, int]], bool]:
    return lambda p: max(abs(p[0] - colour[0]), abs(p[1] - colour[1]), abs(p[2] - colour[2])) <= tolerance


def shows_poster(image: Image.Image) -> bool:
    return share(image, near(JADE)) > 0.4  # the poster fills ~3/4 of the slide area (its caption aside)


def emergency_red(p: tuple[int, int, int]) -> bool:
    # The emergency slide's gradient, EMERGENCY.top to .bottom; the header is red too, but outside the slide area.
    return EMERGENCY.top[0] - 20 <= p[0] <= EMERGENCY.bottom[0] + 20 and p[1] <= 40 and p[2] <= 60


def shows_emergency(image: Image.Image) -> bool:
    """The player's emergency slide: its red gradient over most of the slide area, and its yellow badge."""
    return share(image, emergency_red) > 0.5 and share(image, near(EMERGENCY.badge_fill, 30)) > 0.002


# --- the hub ----------------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Hub:
    url: str
    folder: Path
    process: subprocess.Popen[bytes]

    def feed_of(self, board: str) -> dict[str, Any]:
        """What a board fetches: its feed's payload (the boards verify its signature; their frames tell)."""
        answer = requests.get(f"{self.url}/feeds/boards/{board}/feed.json", timeout=10)
        assert answer.status_code == 200, (board, answer.status_code)
        return json.loads(base64.b64decode(json.loads(answer.content)["payload"]))

    def bulletin_ids(self, board: str) -> set[str]:
        return {b["id"] for b in self.feed_of(board)["bulletins"]}


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """`signage hub` in its own process (uvicorn on loopback), SQLite, a feed key made as `signage keygen` makes it; the
    first administrator made by the CLI, as docs/hub.md says (everything else is done in the browser)."""
    folder = tmp_path / "hub"
    folder.mkdir()
    generate_key(folder / "feed.key")
    port = free_port()
    config = folder / "hub.toml"
    config.write_text(
        f'[hub]\nlisten = "127.0.0.1:{port}"\ndatabase = "hub.db"\ntitle = "{TITLE}"\n\n'
        f'[source]\nkey = "feed.key"\nunit_name = "{PROVINCE}"\n',
        encoding="utf-8",
    )
    command = [*SIGNAGE, "hub", "--config", str(config)]
    subprocess.run([*command, "--add-user", ADMIN], input=PASSWORD + "\n", text=True, check=True, capture_output=True, env=ENV, timeout=60)
    log = (folder / "hub.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=ENV)
    hub = Hub(f"http://127.0.0.1:{port}", folder, process)
    try:
        wait_until(lambda: _healthy(hub), "the hub answers /healthz", process=process)
        yield hub
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _healthy(hub: Hub) -> bool:
    try:
        return requests.get(hub.url + "/healthz", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def wait_until(check: Callable[[], Any], what: str, within_s: float = WAIT_S, process: subprocess.Popen[bytes] | None = None) -> Any:
    """`check()`'s first true result, polled every POLL_S until `within_s` has passed."""
    deadline = time.monotonic() + within_s
    while True:
        found = check()
        if found:
            return found
        assert process is None or process.poll() is None, f"{what}: the process ended ({process.args})"
        assert time.monotonic() < deadline, f"{what}: not within {within_s:g} s"
        time.sleep(POLL_S)


# --- the boards -------------------------------------------------------------------------------------------------------


@dataclass
class Board:
    id: str
    name: str
    folder: Path
    fingerprint: str = ""
    process: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        return self.folder / "board.toml"

    @property
    def shots(self) -> Path:
        return self.folder / "frames"

    def frames(self, since: float = 0.0) -> list[Path]:
        """The frames the player saved (atomically: a half-written one has a hidden name) at or after `since`."""
        found = [(path.stat().st_mtime, path) for path in self.shots.glob("frame-*.png")] if self.shots.is_dir() else []
        return [path for mtime, path in sorted(found) if mtime >= since]

    def log(self) -> str:
        path = self.folder / "play.log"
        return path.read_text(encoding="utf-8", errors="replace")[-3000:] if path.exists() else ""


def new_board(tmp_path: Path, board_id: str, name: str) -> Board:
    """A board's folder and config as the installer leaves it, before it joins a hub."""
    board = Board(board_id, name, tmp_path / board_id)
    board.folder.mkdir()
    board.config.write_text(
        f'[board]\nid = "{board_id}"\nname = "{name}"\ndata_dir = "state"\n\n'
        '[display]\nsize = "640x360"\nfps = 10\ntransition_seconds = 0.3\n',
        encoding="utf-8",
    )
    return board


def join(hub: Hub, board: Board) -> None:
    """`signage join --hub … --config …`, the real command; it writes [report] and [feed] into the config. The board is
    then told to poll every 5 s and report every 2 s (a technician's edit: the defaults are 60 s and 300 s)."""
    done = subprocess.run(
        [*SIGNAGE, "join", "--hub", hub.url + "/", "--config", str(board.config)], capture_output=True, text=True, env=ENV, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Chờ quản trị viên chấp nhận trên trang của hệ thống" in done.stdout, done.stdout
    spoken = re.search(r"Dấu vân tay khóa của bảng: ([0-9a-f]{4}(?: [0-9a-f]{4}){3})", done.stdout)
    assert spoken, done.stdout
    board.fingerprint = spoken.group(1)
    text = board.config.read_text(encoding="utf-8")
    written = tomllib.loads(text)
    feed_key = public_key_text(public_raw(load_private_key(hub.folder / "feed.key")))
    assert written["feed"] == {"url": f"{hub.url}/feeds/boards/{board.id}/feed.json", "public_keys": [feed_key]}
    assert written["report"]["url"] == hub.url + "/report"
    text = text.replace("[feed]\n", "[feed]\npoll_seconds = 5\n")
    text = text.replace("[report]\n", "[report]\nheartbeat_seconds = 2\nscreenshot_width = 320\n")
    board.config.write_text(text, encoding="utf-8")
    load_config(board.config)  # still a config the player takes


def start(board: Board) -> None:
    """`signage play --headless`, saving its frame every second; bounded by --for in case the test dies."""
    log = (board.folder / "play.log").open("wb")
    board.process = subprocess.Popen(
        [*SIGNAGE, "play", "--headless", "--for", "400", "--screenshot-dir", str(board.shots), "--screenshot-every", "1",
         "--config", str(board.config)],
        stdout=log, stderr=subprocess.STDOUT, env=ENV, cwd=board.folder,
    )  # fmt: skip
    log.close()


def stop(board: Board) -> None:
    if board.process is None or board.process.poll() is not None:
        return
    board.process.terminate()
    try:
        board.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        board.process.kill()
        board.process.wait(timeout=10)


def frame_where(board: Board, since: float, wanted: Callable[[Image.Image], bool], what: str) -> Path:
    """The first frame saved at or after `since` that `wanted` says yes to, within WAIT_S."""
    looked: set[Path] = set()

    def look() -> Path | None:
        assert board.process is not None and board.process.poll() is None, f"{board.id} stopped:\n{board.log()}"
        for path in board.frames(since):
            if path not in looked:
                looked.add(path)
                with Image.open(path) as image:
                    if wanted(image):
                        return path
        return None

    try:
        return wait_until(look, f"{board.id}: {what}")
    except AssertionError:
        print(board.log())
        raise


def keep(path: Path, name: str) -> None:
    shutil.copyfile(path, PAGES / name)


# --- the browser ------------------------------------------------------------------------------------------------------


class Officers:
    """One browser context (its own cookies) per officer; every page's console kept, to catch a CSP refusal."""

    def __init__(self, browser: Browser, url: str) -> None:
        self.browser, self.url = browser, url
        self.contexts: list[BrowserContext] = []
        self.console: list[str] = []
        self.saved = 0

    def sign_in(self, name: str, password: str = PASSWORD) -> Page:
        context = self.browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN")
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(WAIT_S * 1000)
        page.on("console", lambda message: self.console.append(message.text))
        page.goto(self.url + "/login")
        page.fill("input[name=username]", name)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(self.url + "/")
        return page

    def save(self, page: Page, name: str) -> None:
        """The whole page as the officer saw it, with every lazy image loaded first."""
        for image in page.locator("img").all():
            image.scroll_into_view_if_needed()
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
        self.saved += 1
        page.screenshot(path=str(PAGES / f"{self.saved:02d}-{name}.png"), full_page=True)

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def officers(chromium_browser: Browser, hub: Hub) -> Iterator[Officers]:
    shutil.rmtree(PAGES, ignore_errors=True)
    PAGES.mkdir(parents=True)
    crowd = Officers(chromium_browser, hub.url)
    try:
        yield crowd
    finally:
        crowd.close()


def go(page: Page, url: str) -> None:
    answer = page.goto(url)
    assert answer is not None and answer.status == 200, (url, answer and answer.status)


def option_value(page: Page, select: str, label: str) -> str:
    value = page.locator(select).locator("option", has_text=label).first.get_attribute("value")
    assert value, (select, label)
    return value


def accept_in_browser(page: Page, url: str, board: Board, unit: str) -> None:
    """The administrator compares the fingerprint `signage join` printed with the page's, and accepts the board."""
    go(page, url + "/admin/boards")
    row = page.locator(f"tr:has(td.id:text-is('{board.id}'))")
    assert row.locator("code.fingerprint").inner_text() == board.fingerprint
    assert "127.0.0.1" in row.inner_text()
    row.locator("select[name=unit]").select_option(label=unit)
    row.get_by_role("button", name="Nhận").click()
    page.wait_for_url(url + "/admin/boards?xong=accepted")
    accepted = page.locator(f"tr:has(a[href='/boards/{board.id}'])")
    assert unit in accepted.inner_text() and "Tự kết nối" in accepted.inner_text()


def wait_online(page: Page, url: str, board: Board) -> None:
    """The board's page at the hub says it is online: its reports arrive (its key is pinned without a restart)."""

    def online() -> bool:
        go(page, f"{url}/boards/{board.id}")
        return "Trực tuyến" in page.inner_text("main h1")

    wait_until(online, f"{board.id} online at the hub", process=board.process)


def desk_id(page: Page, url: str) -> str:
    found = re.fullmatch(re.escape(url) + r"/desk/([^/?#]+)", page.url)
    assert found, page.url
    return found.group(1)


def press(page: Page, verb: str, reason: str = "") -> None:
    """A button of a bulletin's page (its own small form), then the bulletin's page again."""
    form = page.locator(f"form[action$='/{verb}']")
    if reason:
        form.locator("input[name=reason]").fill(reason)
    before = page.url
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.url == before, page.url
    assert page.locator("main .error").count() == 0, page.inner_text("main")


# --- the test ---------------------------------------------------------------------------------------------------------


def test_a_province_sets_up_in_the_browser_and_its_bulletins_reach_only_their_communes_boards(
    hub: Hub, officers: Officers, tmp_path: Path
) -> None:
    url = hub.url
    boards = {board: new_board(tmp_path, board, name) for board, name in BOARDS.items()}
    try:
        # --- the province's administrator: communes, people, boards ---------------------------------------------
        admin = officers.sign_in(ADMIN)
        go(admin, url + "/admin/units")
        for commune in (QUAN, HUNG):
            admin.fill("form[action='/admin/units'] input[name=name]", commune)
            admin.select_option("form[action='/admin/units'] select[name=parent]", label=PROVINCE)
            admin.click("form[action='/admin/units'] button[type=submit]")
            admin.wait_for_url(url + "/admin/units?xong=unit")
            assert "Đã thêm đơn vị." in admin.inner_text("main")
        table = admin.inner_text("main table")
        assert QUAN in table and HUNG in table and PROVINCE in table
        officers.save(admin, "quan-tri-don-vi")

        go(admin, url + "/admin/people")
        units = {name: option_value(admin, "form[action='/admin/people'] select[name=unit]", name) for name in (QUAN, HUNG)}
        for login, (full_name, commune, role) in PEOPLE.items():
            form = admin.locator("form[action='/admin/people']")
            form.locator("input[name=name]").fill(login)
            form.locator("input[name=full_name]").fill(full_name)
            form.locator("input[name=password]").fill(PASSWORD)
            form.locator("input[name=password_again]").fill(PASSWORD)
            form.locator("select[name=unit]").select_option(label=commune)
            form.locator(f"input[name=role][value={role}]").check()
            form.locator("button[type=submit]").click()
            admin.wait_for_url(url + "/admin/people?xong=person")
        people = admin.inner_text("main table.people")
        assert "Trần Thị Bích" in people and "Biên tập viên · Xã Tân Quan" in people
        assert "Người duyệt · Xã Tân Quan" in people and "Người duyệt · Xã Tân Hưng" in people
        officers.save(admin, "quan-tri-nguoi-dung")

        for board in boards.values():  # the technicians run `signage join` at each commune hall
            join(hub, board)
        go(admin, url + "/admin/boards")
        assert "Bảng tin chờ nhận (2)" in admin.inner_text("main")
        officers.save(admin, "quan-tri-bang-tin-cho-nhan")
        accept_in_browser(admin, url, boards["tan-quan"], QUAN)
        accept_in_browser(admin, url, boards["tan-hung"], HUNG)
        for board in boards.values():
            start(board)
        officers.save(admin, "quan-tri-bang-tin-da-nhan")
        for board in boards.values():  # each reports within a heartbeat of starting, with its screen's size
            wait_online(admin, url, board)
        go(admin, url + "/")
        officers.save(admin, "tong-quan")

        # --- 1. the Tân Quan editor writes an image bulletin for the whole commune, and looks at its preview ------
        editor = officers.sign_in(EDITOR)
        editor.click("header nav >> text=Bản tin")
        editor.click("text=Viết bản tin mới")
        editor.wait_for_url(url + "/desk/new")
        editor.check("input[name=kind][value=image]")
        editor.fill("input[name=title]", "Ngày hội Đại đoàn kết toàn dân tộc")
        editor.set_input_files("input[name=upload]", str(poster_png(tmp_path / "ngay-hoi.png")))
        editor.select_option("select[name=category]", index=0)
        editor.check(f"input[name=target_unit][value='{units[QUAN]}']")
        officers.save(editor, "bien-tap-viet-ban-tin")
        editor.click("button[name=action][value=submit]")
        editor.wait_for_url(re.compile(re.escape(url) + r"/desk/[^/]+$"))
        poster = desk_id(editor, url)
        main = editor.inner_text("main")
        assert "Ngày hội Đại đoàn kết toàn dân tộc" in main and "Chờ duyệt" in main and "Trần Thị Bích" in main
        assert "UBND xã Tân Quan" in main and "UBND xã Tân Hưng" not in main  # when it plays: the commune's board alone
        assert re.search(r"ngay-hoi\.png \(\d+ KB\)", main), main  # its size as a person reads it (it said "0.0 MB")
        # The previews: first at the targeted board's own screen (its reports tell 640x360), then the standard sizes.
        sources = [image.get_attribute("src") or "" for image in editor.locator("img.preview").all()]
        assert sources and sources[0].endswith("/640x360.png") and any(src.endswith("/1920x1080.png") for src in sources), sources
        for src in (sources[0], next(src for src in sources if src.endswith("/1920x1080.png"))):
            drawn = editor.request.get(url + src)
            assert drawn.ok and drawn.headers["content-type"] == "image/png"
            with Image.open(io.BytesIO(drawn.body())) as frame:
                assert f"/{frame.width}x{frame.height}.png" in src and shows_poster(frame), f"{src}: the board's frame with the poster"
                frame.save(PAGES / f"xem-truoc-{frame.width}x{frame.height}.png")

        # --- 2. the editor cannot approve it: no button, and a forged POST with the page's CSRF field is refused --
        assert editor.locator(f"form[action='/desk/{poster}/approve']").count() == 0
        assert editor.get_by_role("button", name="Duyệt và đăng").count() == 0
        officers.save(editor, "bien-tap-ban-tin-cho-duyet")
        csrf = editor.locator("input[name=csrf]").first.get_attribute("value")
        forged = editor.request.post(
            f"{url}/desk/{poster}/approve", form={"csrf": csrf or "", "revision": "1"}, headers={"Origin": url}, max_redirects=0
        )
        assert forged.status == 403, forged.status
        assert poster not in hub.bulletin_ids("tan-quan")

        # ... nor can the approver of the other commune see it: not in their queue, a 404 by its address
        other = officers.sign_in(OTHER_APPROVER)
        other.click("header nav >> text=Chờ duyệt")
        assert "Không có bản tin nào chờ duyệt." in other.inner_text("main")
        answer = other.goto(f"{url}/desk/{poster}")
        assert answer is not None and answer.status == 404 and "Ngày hội" not in other.inner_text("body")
        officers.save(other, "duyet-xa-khac-404")

        # --- 3. the Tân Quan approver approves it from the queue; the Tân Quan board shows it, Tân Hưng's never ---
        approver = officers.sign_in(APPROVER)
        approver.click("header nav >> text=Chờ duyệt")
        assert "Bản tin chờ duyệt (1)" in approver.inner_text("main h1")
        officers.save(approver, "duyet-hang-cho")
        approver.click("table.queue >> text=Ngày hội Đại đoàn kết toàn dân tộc")
        approver.wait_for_url(f"{url}/desk/{poster}")
        officers.save(approver, "duyet-truoc-khi-duyet")
        approved_at = time.time()
        press(approver, "approve")
        assert "Đã duyệt" in approver.inner_text("main .badges") and "Lê Văn Một" in approver.inner_text("main")
        officers.save(approver, "duyet-da-dang")
        assert poster in hub.bulletin_ids("tan-quan") and poster not in hub.bulletin_ids("tan-hung")
        shown = frame_where(boards["tan-quan"], approved_at, shows_poster, "the approved poster on screen")
        keep(shown, "bang-tan-quan-1-ban-tin-anh.png")

        # --- 4. withdrawal takes it off the Tân Quan screen -----------------------------------------------------
        withdrawn_at = time.time()
        press(approver, "withdraw", reason="Lịch ngày hội đã thay đổi")
        assert "Đã thu hồi" in approver.inner_text("main .badges")
        assert "Lịch ngày hội đã thay đổi" in approver.inner_text("main")
        # When it plays: never now (the page said "Phát suốt 24 giờ tới" of a withdrawn bulletin).
        assert "Không phát: bản tin đã bị thu hồi." in approver.inner_text("main"), approver.inner_text("main")
        officers.save(approver, "duyet-da-thu-hoi")
        assert poster not in hub.bulletin_ids("tan-quan")
        cleared = frame_where(boards["tan-quan"], withdrawn_at, lambda image: share(image, near(JADE)) < 0.01, "the poster gone")
        keep(cleared, "bang-tan-quan-2-sau-thu-hoi.png")
        settled = cleared.stat().st_mtime
        wait_until(lambda: len(boards["tan-quan"].frames(settled)) >= 5, "five more frames of tan-quan")
        for path in boards["tan-quan"].frames(settled):  # and it stays off
            with Image.open(path) as image:
                assert share(image, near(JADE)) < 0.01, path

        # --- 5. the approver writes an emergency and publishes it alone ------------------------------------------
        approver.click("header nav >> text=Bản tin")
        approver.click("text=Viết bản tin mới")
        approver.wait_for_url(url + "/desk/new")
        approver.check("input[name=kind][value=text]")
        approver.fill("input[name=title]", "Bão số 9 đổ bộ: di dời dân vùng trũng ngay")
        approver.fill("textarea[name=body]", STORM_BODY)
        approver.select_option("select[name=priority]", "emergency")
        approver.check(f"input[name=target_unit][value='{units[QUAN]}']")
        approver.click("button[name=action][value=save]")
        approver.wait_for_url(re.compile(re.escape(url) + r"/desk/[^/]+$"))
        storm = desk_id(approver, url)
        assert "KHẨN CẤP" in approver.inner_text("main .badges") and "Nháp" in approver.inner_text("main .badges")
        officers.save(approver, "duyet-khan-cap-nhap")
        published_at = time.time()
        press(approver, "emergency")
        assert "đăng bởi một người duyệt" in approver.inner_text("main .badges")
        officers.save(approver, "duyet-khan-cap-da-dang")
        assert storm in hub.bulletin_ids("tan-quan") and storm not in hub.bulletin_ids("tan-hung")
        urgent = frame_where(boards["tan-quan"], published_at, shows_emergency, "the emergency on screen")
        keep(urgent, "bang-tan-quan-3-khan-cap.png")

        # --- 6. the screenshot button on the board's page brings a new screenshot to that page -------------------
        go(approver, url + "/boards/tan-quan")
        shots_before = approver.locator("img.thumb").count()
        approver.select_option("select[name=action]", "screenshot")
        approver.click("form[action='/boards/tan-quan/command'] button[type=submit]")
        approver.wait_for_url(url + "/boards/tan-quan?xong=command")
        assert "Đã gửi lệnh" in approver.inner_text("main")

        def screenshot_arrived() -> bool:
            # The screenshot, then the command's outcome ("Xong") in the board's next report.
            approver.reload()
            return approver.locator("img.thumb").count() > shots_before and "Xong" in approver.inner_text("main")

        wait_until(screenshot_arrived, "a new screenshot on the board's page and the command done")
        page_text = approver.inner_text("main")
        assert "Lê Văn Một" in page_text  # who sent the command, by name (it said "duyet-quan")
        assert re.search(r"Bộ nhớ đệm\s+\d+ MB", page_text), page_text  # a few notices' cache (it said "0.0 GB")
        assert "Dừng: bản tin bị thu hồi" in page_text and "withdrawn" not in page_text  # the poster's play, cut
        officers.save(approver, "bang-tan-quan-anh-man-hinh")
        full = approver.locator("img.thumb").first.locator("xpath=..").get_attribute("href")
        taken = approver.request.get(url + (full or ""))
        assert taken.ok
        with Image.open(io.BytesIO(taken.body())) as image:
            assert image.size == (320, 180) and shows_emergency(image), "the board's screenshot is what it shows"
            image.save(PAGES / "bang-tan-quan-4-anh-gui-ve-hub.png")

        # --- 7. a new board joins, waits, is accepted, and plays its commune's bulletin --------------------------
        market = new_board(tmp_path, "cho-tan-quan", "Bảng tin chợ Tân Quan")
        boards[market.id] = market
        join(hub, market)
        go(admin, url + "/admin/boards")
        assert "Bảng tin chờ nhận (1)" in admin.inner_text("main") and market.fingerprint in admin.inner_text("main")
        officers.save(admin, "quan-tri-bang-moi-cho-nhan")
        accept_in_browser(admin, url, market, QUAN)
        officers.save(admin, "quan-tri-bang-moi-da-nhan")
        assert storm in hub.bulletin_ids(market.id)  # the emergency went to the whole commune, this board included
        joined_at = time.time()
        start(market)
        plays = frame_where(market, joined_at, shows_emergency, "the new board plays the commune's emergency")
        keep(plays, "bang-cho-tan-quan-5-khan-cap.png")
        wait_online(admin, url, market)
        officers.save(admin, "bang-cho-tan-quan")

        # --- Tân Hưng: synced its own (empty) feed all along, and never drew either bulletin -------------------
        hung = boards["tan-hung"]
        held = board_status(load_config(hung.config), datetime.now().astimezone())
        assert held["feed"] is not None and held["feed"]["sequence"] is not None, held  # it took its commune's feed
        assert [b["id"] for b in held["bulletins"]] == [], held["bulletins"]
        frames = hung.frames()
        # Its frames cover the whole story: from before the poster's approval to after the emergency reached Tân Quan.
        assert frames[0].stat().st_mtime < approved_at and frames[-1].stat().st_mtime > urgent.stat().st_mtime, len(frames)
        for path in frames:
            with Image.open(path) as image:
                assert share(image, near(JADE)) < 0.01 and share(image, emergency_red) < 0.05, path
        keep(frames[-1], "bang-tan-hung-6-khong-nhan.png")
        assert not [line for line in officers.console if "Content Security Policy" in line], officers.console
    finally:
        for board in boards.values():
            stop(board)
