"""The drop folder with real files and a real watchdog observer: slow copies, renames, versions, deletion, bursts, bad files."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from signage.config import BoardConfig, load_config
from signage.content import load_content
from signage.inbox.watch import InboxWatch
from signage.model import Kind, Priority
from signage.store.db import Store
from tests.test_decoding import to_windows_1258


@pytest.fixture
def config(tmp_path: Path) -> BoardConfig:
    path = tmp_path / "board.toml"
    path.write_text(
        textwrap.dedent(
            """
            [board]
            id = "tan-quan"
            name = "UBND xã Tân Quan"
            data_dir = "state"
            [inbox]
            path = "bangtin"
            settle_seconds = 0.6
            """
        ),
        encoding="utf-8",
    )
    return load_config(path)


@pytest.fixture
def watch(config: BoardConfig) -> Iterator[InboxWatch]:
    changes: list[list[str]] = []
    watcher = InboxWatch(config, changes.append)
    watcher.changes = changes  # type: ignore[attr-defined]
    watcher.start()
    yield watcher
    watcher.stop()


def held(config: BoardConfig) -> dict[str, object]:
    """The inbox bulletins the player would play, by title."""
    return {p.bulletin.title: p for p in load_content(config)}


def until(condition: Callable[[], bool], watcher: InboxWatch, seconds: float = 10.0) -> float:
    """Tick the watcher (as the apscheduler job does every 0.25 s) until `condition`; returns the time it took."""
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        watcher.tick()
        if condition():
            return time.monotonic() - began
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_a_text_notice_is_taken_within_seconds(config: BoardConfig, watch: InboxWatch) -> None:
    (config.inbox.path / "hop-dan.txt").write_text("Thông báo họp dân ấp 2\nLúc 19 giờ thứ Sáu tại Nhà văn hóa.", encoding="utf-8")
    took = until(lambda: "Thông báo họp dân ấp 2" in held(config), watch)
    assert took < 3
    playable = held(config)["Thông báo họp dân ấp 2"]
    assert playable.bulletin.body == "Lúc 19 giờ thứ Sáu tại Nhà văn hóa." and playable.bulletin.source.value == "inbox"


def test_a_slow_copy_is_not_taken_early(config: BoardConfig, watch: InboxWatch) -> None:
    target = config.inbox.path / "anh.jpg"
    picture = config.board.data_dir.parent / "anh-goc.jpg"
    Image.effect_noise((900, 700), 50).convert("RGB").save(picture, quality=90)
    data = picture.read_bytes()
    taken_while_writing: list[bool] = []

    def writer() -> None:
        with target.open("wb") as handle:
            for start in range(0, len(data), len(data) // 10 + 1):
                handle.write(data[start : start + len(data) // 10 + 1])
                handle.flush()
                time.sleep(0.3)  # about three seconds in all, the file open throughout

    thread = threading.Thread(target=writer)
    thread.start()
    while thread.is_alive():
        watch.tick()
        taken_while_writing.append(bool(held(config)))
        time.sleep(0.1)
    assert not any(taken_while_writing)
    until(lambda: "anh" in held(config), watch)
    assert not (config.inbox.quarantine).exists()


def test_a_rename_into_the_folder_is_taken(config: BoardConfig, watch: InboxWatch) -> None:
    part = config.inbox.path / "thong-bao.txt.part"
    part.write_text("Lịch thu gom rác\nThứ Hai và thứ Năm.", encoding="utf-8")
    watch.tick()
    time.sleep(1)
    watch.tick()
    assert held(config) == {}  # a .part file is a copy in progress
    part.rename(config.inbox.path / "thong-bao.txt")
    until(lambda: "Lịch thu gom rác" in held(config), watch)


def test_a_new_version_then_deletion(config: BoardConfig, watch: InboxWatch) -> None:
    notice = config.inbox.path / "lich.txt"
    notice.write_text("Lịch tiêm chủng\nNgày 25.", encoding="utf-8")
    until(lambda: "Lịch tiêm chủng" in held(config), watch)
    first = held(config)["Lịch tiêm chủng"].bulletin
    notice.write_text("Lịch tiêm chủng\nNgày 25 và 26.", encoding="utf-8")
    until(lambda: held(config).get("Lịch tiêm chủng") is not None and held(config)["Lịch tiêm chủng"].bulletin.revision == 2, watch)
    second = held(config)["Lịch tiêm chủng"].bulletin
    assert second.id == first.id and second.body == "Ngày 25 và 26."
    notice.unlink()
    took = until(lambda: held(config) == {}, watch)
    assert took < 1.0  # withdrawn at once


def test_a_burst_of_200_files(config: BoardConfig, watch: InboxWatch) -> None:
    for index in range(200):
        (config.inbox.path / f"tb-{index:03d}.txt").write_text(f"Thông báo số {index}\nNội dung {index}.", encoding="utf-8")
    until(lambda: len(held(config)) == 200, watch, seconds=30)


def make_pdf(path: Path) -> None:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument.new()
    document.new_page(595, 842)
    document.new_page(595, 842)
    document.save(str(path))
    document.close()


BAD = {
    "chuong-trinh.exe": (b"MZ\x90\x00" + b"\x00" * 100, "loại tệp không được hỗ trợ"),
    "rong.txt": (b"", "tệp rỗng"),
    "gia.jpg": (b"<html><body>not a picture</body></html>", "nội dung tệp không đúng với đuôi tên tệp"),
    "hong.pdf": (b"%PDF-1.7\n%%garbage that will not open" * 10, "không mở được tệp PDF"),
    "phim.mp4": (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00" + b"\x00" * 4000, "video không có hình ảnh giải mã được"),
}


def test_each_bad_kind_is_set_aside_with_a_reason(config: BoardConfig, watch: InboxWatch) -> None:
    inbox = config.inbox.path
    for name, (content, _) in BAD.items():
        (inbox / name).write_bytes(content)
    good = config.board.data_dir.parent / "good.jpg"
    Image.new("RGB", (800, 600), (200, 30, 30)).save(good)
    (inbox / "cut.jpg").write_bytes(good.read_bytes()[:400])  # a truncated JPEG
    Image.new("1", (9000, 8000)).save(inbox / "bom.png")  # 72 megapixels in a few kilobytes
    expected = {**{n: r for n, (_, r) in BAD.items()}, "cut.jpg": "ảnh bị hỏng", "bom.png": "ảnh quá lớn"}
    quarantine = config.inbox.quarantine
    # Still files that will not decode are given DECODE_PATIENCE; the test drives the clock through `poll` directly.
    store = Store(config.board.data_dir / "board.db")
    try:
        watch.inbox.poll(store, time.monotonic(), settle=0, patience=0)
    finally:
        store.close()
    for name, reason in expected.items():
        assert not (inbox / name).exists(), name
        assert (quarantine / name).exists(), name  # moved, never deleted
        line = (quarantine / f"{name}.reason.txt").read_text(encoding="utf-8")
        assert line.count("\n") == 1 and line.startswith(f"{name}: {reason}") and " / " in line, line
    assert held(config) == {}


def test_text_encodings_docx_images_pdf_prefixes_and_a_sidecar(config: BoardConfig, watch: InboxWatch) -> None:
    import docx

    inbox = config.inbox.path
    notice = "Thông báo cắt điện\nĐiện lực Hớn Quản tạm ngừng cấp điện ngày 28/11."
    (inbox / "KHAN_cat-dien.txt").write_bytes(to_windows_1258(notice))
    (inbox / "utf16.txt").write_bytes("Lịch họp Hội đồng nhân dân\nSáng thứ Ba.".encode("utf-16"))
    document = docx.Document()
    document.add_heading("Kế hoạch ra quân vệ sinh môi trường", level=1)
    document.add_paragraph("Sáng Chủ nhật, toàn thể đoàn viên thanh niên tập trung tại trụ sở.")
    document.save(inbox / "UUTIEN_ke-hoach.docx")
    Image.new("RGB", (1200, 800), (20, 120, 200)).save(inbox / "anh_ngay_hoi.png")
    make_pdf(inbox / "quyet-dinh.pdf")
    (inbox / "quyet-dinh.toml").write_text('title = "Quyết định số 12"\nduration_s = 30\n', encoding="utf-8")
    until(lambda: len(held(config)) == 5, watch)
    by_title = held(config)
    cut = by_title["Thông báo cắt điện"].bulletin
    assert cut.priority is Priority.EMERGENCY and cut.body == unicodedata.normalize("NFC", notice.split("\n")[1])
    assert "Lịch họp Hội đồng nhân dân" in by_title
    plan = by_title["Kế hoạch ra quân vệ sinh môi trường"].bulletin
    assert plan.priority is Priority.HIGH and plan.body.startswith("Sáng Chủ nhật")
    assert by_title["anh ngay hoi"].bulletin.kind is Kind.IMAGE and by_title["anh ngay hoi"].media_path.exists()
    pdf = by_title["Quyết định số 12"]
    assert pdf.bulletin.kind is Kind.PDF and pdf.bulletin.duration_s == 30 and pdf.page_count == 2
    (inbox / "quyet-dinh.toml").write_text('title = "Quyết định số 12"\ncolour = "đỏ"\n', encoding="utf-8")
    until(lambda: (config.inbox.quarantine / "quyet-dinh.pdf.reason.txt").exists(), watch)
    assert "tệp cấu hình đi kèm (.toml) bị sai" in (config.inbox.quarantine / "quyet-dinh.pdf.reason.txt").read_text(encoding="utf-8")
    assert "Quyết định số 12" not in held(config)  # its earlier version is withdrawn with it


def test_the_copy_plays_not_the_original(config: BoardConfig, watch: InboxWatch) -> None:
    picture = config.inbox.path / "anh.png"
    Image.new("RGB", (640, 480), (0, 200, 0)).save(picture)
    until(lambda: "anh" in held(config), watch)
    stored = held(config)["anh"].media_path
    assert stored.parent.name == "assets" and stored.read_bytes() == picture.read_bytes()


def test_signage_import_and_status(config: BoardConfig, tmp_path: Path) -> None:
    stick = tmp_path / "usb" / "BANGTIN"
    stick.mkdir(parents=True)
    (stick / "thong-bao.txt").write_text("Thông báo từ USB\nNội dung.", encoding="utf-8")
    (stick / "hong.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50)
    (stick / "~$tam.docx").write_bytes(b"lock file")
    result = subprocess.run(
        [sys.executable, "-m", "signage", "import", str(stick), "--config", str(config.path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "thong-bao.txt: taken as text bulletin" in result.stdout and "set aside: hong.jpg" in result.stdout
    assert (stick / "hong.jpg").exists()  # the stick is never written to
    status = subprocess.run(
        [sys.executable, "-m", "signage", "status", "--config", str(config.path), "--json"], capture_output=True, text=True, timeout=60
    )
    report = json.loads(status.stdout)
    assert [(b["title"], b["source"], b["ready"]) for b in report["bulletins"]] == [("Thông báo từ USB", "inbox", True)]
    assert report["quarantine"][0]["file"] == "hong.jpg" and "ảnh bị hỏng" in report["quarantine"][0]["reason"]
