"""The dashboard in a real browser (Debian's Chromium driven by Playwright): sign-in, boards, a screenshot, CSV."""

from __future__ import annotations

import io
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pygame
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from signage.cli import main as signage_main
from signage.district.hub import HubConfig, create_app
from signage.district.hub.app import hash_password
from signage.envelope import PNG_TYPE, sign
from signage.report.screenshot import png_of
from tests.hubserver import play, report_envelope, serve, write_hub_config

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
PASSWORD = "mật-khẩu-đủ-dài"
LOOK_AT = Path("/tmp/signage-dashboard.png")  # the page as the officer saw it, for a person to open


def real_screenshot(tmp_path: Path, key: Ed25519PrivateKey, board: str, seq: int, now: datetime) -> bytes:
    """A frame rendered as the board renders it, as the board's reporter sends it."""
    notice = tmp_path / "thong-bao.txt"
    notice.write_text("Thông báo lịch tiêm chủng\nTrạm Y tế xã tổ chức tiêm chủng mở rộng vào thứ Hai.\n", encoding="utf-8")
    frame = tmp_path / f"{board}.png"
    assert signage_main(["render", str(notice), "--out", str(frame), "--size", "1280x720"]) == 0
    surface = pygame.image.load(str(frame))
    return sign(png_of(surface, 640, board=board, seq=seq, taken_at=now, command="cmd-3-1"), PNG_TYPE, [key])


@pytest.fixture
def hub_url(tmp_path: Path) -> tuple[str, dict[str, Ed25519PrivateKey]]:
    keys = {"tan-quan": Ed25519PrivateKey.generate(), "tan-hung": Ed25519PrivateKey.generate()}
    config = HubConfig.load(write_hub_config(tmp_path, keys))
    app = create_app(config)
    app.state.store.set_user("can-bo", hash_password(PASSWORD), datetime.now(HCM))
    with serve(app) as url:
        yield url, keys


def test_an_officer_signs_in_and_sees_every_board_with_its_screenshot(chromium_browser, hub_url, tmp_path: Path) -> None:
    url, keys = hub_url
    now = datetime.now(HCM)
    for n, board in enumerate(keys):
        plays = [play(b, now - timedelta(minutes=5 - k), completed=k != 3) for k, b in enumerate(["hq-2026-0142", "hq-2026-0150"] * 2)]
        status = {"now_playing": "hq-2026-0150", "last_error": "feed: hết hạn" if n else None, "clock": now.isoformat()}
        answer = requests.post(url + "/report", data=report_envelope(keys[board], board, 1, sent_at=now, plays=plays, status=status))
        assert answer.status_code == 200
    assert requests.post(url + "/report/screenshot", data=real_screenshot(tmp_path, keys["tan-quan"], "tan-quan", 2, now)).ok

    page = chromium_browser.new_page(viewport={"width": 1366, "height": 900}, locale="vi-VN")
    console: list[str] = []  # what Chromium says of the pages: a blocked style or script would show here
    page.on("console", lambda message: console.append(message.text))
    try:
        page.goto(url + "/")
        assert page.url.startswith(url + "/login")  # nothing without a session
        page.fill("input[name=username]", "can-bo")
        page.fill("input[name=password]", "sai mật khẩu")
        page.click("button[type=submit]")
        assert page.url.startswith(url + "/login") and page.locator(".error").count() == 1
        page.fill("input[name=username]", "can-bo")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(url + "/")
        text = page.inner_text("body")
        assert "UBND xã Tan Quan" in text and "UBND xã Tan Hung" in text and "Trực tuyến" in text
        assert "hq-2026-0150" in text and "feed: hết hạn" in text
        thumb = page.locator("img.thumb").first
        thumb.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
        assert page.locator("svg").count() >= 2  # plays per day, uptime
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        shutil.copyfile(tmp_path / "dashboard.png", LOOK_AT)
        shot = Image.open(tmp_path / "dashboard.png")
        assert shot.size[0] == 1366 and len(shot.getcolors(1 << 20) or []) > 50

        page.click("text=UBND xã Tan Quan")
        page.wait_for_url(url + "/boards/tan-quan")
        board_shot = page.locator("img[src^='/screenshots/tan-quan/2.thumb.png?v=']")
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=board_shot.element_handle())
        png = page.request.get(url + "/screenshots/tan-quan/2.png")
        assert png.ok and Image.open(io.BytesIO(png.body())).size == (640, 360)

        today = now.date().isoformat()
        csv_answer = page.request.get(f"{url}/export.csv?from={today}&to={today}")
        lines = csv_answer.body().decode("utf-8-sig").splitlines()
        assert csv_answer.ok and lines[0].startswith("board,bulletin,revision,started_at") and len(lines) == 1 + 8

        page.goto(f"{url}/export.csv?from=9999-12-01&to=9999-12-31")
        assert "từ năm 2000 đến năm 2100" in page.inner_text("main")  # a page of the hub, not a broken download
        page.screenshot(path="/tmp/signage-hub-refusal.png")

        page.goto(url + "/")
        page.click("text=Đăng xuất")
        page.goto(url + "/")
        assert page.url.startswith(url + "/login")
        assert not [line for line in console if "Content Security Policy" in line], console
    finally:
        page.close()
