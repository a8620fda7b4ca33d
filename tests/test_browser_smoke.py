"""Debian's Chromium through Playwright, against a real local HTTP server: the ground the hub's browser tests stand on."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image

if TYPE_CHECKING:
    from playwright.sync_api import Browser

PAGE = """<!doctype html>
<html lang="vi">
<head><meta charset="utf-8"><title>Bảng tin xã Tân Quan</title></head>
<body style="font-family: sans-serif; font-size: 28px; margin: 24px">
<h1>Thông báo của Ủy ban nhân dân xã</h1>
<p id="status">Chưa xác nhận</p>
<button id="confirm" style="font-size: 28px"
        onclick="document.getElementById('status').textContent = 'Đã xác nhận: lịch tiêm chủng tháng 12'">Xác nhận</button>
</body>
</html>
"""


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGE.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def page_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_click_changes_vietnamese_text_and_screenshot(chromium_browser: Browser, page_url: str, tmp_path: Path) -> None:
    context = chromium_browser.new_context(viewport={"width": 800, "height": 400}, locale="vi-VN")
    try:
        page = context.new_page()
        page.goto(page_url)
        assert page.title() == "Bảng tin xã Tân Quan"
        assert page.inner_text("#status") == "Chưa xác nhận"
        page.get_by_role("button", name="Xác nhận").click()
        assert page.inner_text("#status") == "Đã xác nhận: lịch tiêm chủng tháng 12"

        shot = tmp_path / "smoke.png"
        page.screenshot(path=str(shot))
    finally:
        context.close()

    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    # A blank page is a few hundred bytes of one colour; anti-aliased text makes kilobytes of many.
    assert len(data) > 5000
    with Image.open(shot) as image:
        assert image.size == (800, 400)
        colours = image.convert("RGB").getcolors(maxcolors=800 * 400)
    assert colours is not None and len(colours) > 20
