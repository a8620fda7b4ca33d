"""The drop folder never stalls and never loses a file (issue 16): long names, slow copies, subfolders, bursts.

Driven as the player drives it: a real watchdog observer on a real folder, ticked as the apscheduler job does.
"""

from __future__ import annotations

import io
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from signage.config import BoardConfig, load_config
from signage.content import load_content
from signage.inbox.ingest import DECODE_PATIENCE, STALL_LIMIT, Inbox
from signage.inbox.watch import InboxWatch
from signage.store.db import Store
from signage.store.files import ContentStore
from tests.test_inbox import until
from tests.test_inbox_attacks import long_name


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
    loaded = load_config(path)
    assert loaded.inbox is not None
    loaded.inbox.path.mkdir(parents=True, exist_ok=True)
    return loaded


@pytest.fixture
def watch(config: BoardConfig) -> Iterator[InboxWatch]:
    watcher = InboxWatch(config, lambda changes: None)
    watcher.start()
    yield watcher
    watcher.stop()


def folder(config: BoardConfig) -> Path:
    assert config.inbox is not None
    return config.inbox.path


def quarantine(config: BoardConfig) -> Path:
    assert config.inbox is not None
    return config.inbox.quarantine


def titles(config: BoardConfig) -> set[str]:
    return {playable.bulletin.title for playable in load_content(config)}


def reasons(config: BoardConfig) -> dict[str, str]:
    if not quarantine(config).is_dir():
        return {}
    return {p.name.removesuffix(".reason.txt"): p.read_text(encoding="utf-8") for p in quarantine(config).glob("*.reason.txt")}


def jpeg_bytes(size: tuple[int, int] = (900, 700)) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise(size, 50).convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def ordinary(config: BoardConfig, count: int, start: int = 0) -> set[str]:
    made = set()
    for index in range(start, start + count):
        (folder(config) / f"tb-{index:03d}.txt").write_text(f"Thông báo số {index}\nNội dung.", encoding="utf-8")
        made.add(f"Thông báo số {index}")
    return made


def test_a_255_byte_name_is_taken_and_never_blocks_the_twenty_files_after_it(config: BoardConfig, watch: InboxWatch) -> None:
    (folder(config) / long_name("a-", ".txt")).write_text("Thông báo có tên rất dài\nNội dung.", encoding="utf-8")
    Image.new("RGB", (320, 240), (0, 0, 200)).save(folder(config) / long_name("b-", ".png"))
    expected = ordinary(config, 20) | {"Thông báo có tên rất dài"}
    until(lambda: expected <= titles(config) and len(titles(config)) == 22, watch, seconds=30)
    assert not quarantine(config).exists()


def test_a_255_byte_name_of_a_broken_file_is_set_aside_with_its_reason_and_blocks_nothing(config: BoardConfig, watch: InboxWatch) -> None:
    name = long_name("a-", ".jpg")
    (folder(config) / name).write_bytes(b"<html>not a picture</html>")
    expected = ordinary(config, 20)
    until(lambda: expected == titles(config), watch, seconds=30)
    until(lambda: not (folder(config) / name).exists(), watch, seconds=30)
    (reason,) = reasons(config).values()
    assert reason.startswith(name) and "nội dung tệp không đúng với đuôi tên tệp" in reason


def test_a_copy_that_stalls_mid_file_longer_than_the_patience_is_taken_once_finished(config: BoardConfig, watch: InboxWatch) -> None:
    data = jpeg_bytes()
    target = folder(config) / "anh-mang-cham.jpg"
    pause = DECODE_PATIENCE + 3  # a flaky network share: far longer than a broken file is given

    def writer() -> None:
        with target.open("wb") as handle:
            handle.write(data[: len(data) // 2])
            handle.flush()
            time.sleep(pause)
            handle.write(data[len(data) // 2 :])

    thread = threading.Thread(target=writer)
    thread.start()
    while thread.is_alive():
        watch.tick()
        assert target.exists(), "judged while still being written"
        time.sleep(0.1)
    until(lambda: "anh-mang-cham" in titles(config), watch, seconds=20)
    assert not quarantine(config).exists()


def test_a_burst_of_200_with_one_broken_in_the_middle_shows_every_good_one(config: BoardConfig, watch: InboxWatch) -> None:
    expected = ordinary(config, 100) | ordinary(config, 100, start=101)
    (folder(config) / "tb-100.jpg").write_bytes(b"GIF89a broken in the middle")
    until(lambda: expected == titles(config), watch, seconds=60)
    until(lambda: "tb-100.jpg" in reasons(config), watch, seconds=60)
    assert "tb-100.jpg:" in reasons(config)["tb-100.jpg"]


def test_a_file_that_never_stops_growing_is_set_aside_after_the_stall_limit_with_its_reason(config: BoardConfig) -> None:
    inbox = Inbox(config, ContentStore(config.board.data_dir / "media"), lambda: datetime.now(config.board.timezone))
    store = Store(config.board.data_dir / "board.db")
    growing = folder(config) / "nhat-ky.txt"
    try:
        for minute in range(0, 65, 5):  # a writer that appends every five minutes, for an hour
            with growing.open("a", encoding="utf-8") as handle:
                handle.write(f"Dòng {minute}\n")
            lines = inbox.poll(store, minute * 60.0, settle=1.0)
            if minute * 60.0 < STALL_LIMIT:
                assert lines == []  # waited for, never judged half-written
    finally:
        store.close()
    assert len(lines) == 1 and "nhat-ky.txt" in lines[0]
    assert not growing.exists() and reasons(config)["nhat-ky.txt"].startswith("nhat-ky.txt: ")


def test_files_in_subfolders_are_taken_with_the_folder_as_prefix_and_stay_apart(config: BoardConfig, watch: InboxWatch) -> None:
    for month in ("Thang 11", "Thang 12"):
        (folder(config) / month).mkdir()
        (folder(config) / month / "Thong bao.txt").write_text(f"Họp dân {month}\nNội dung.", encoding="utf-8")
        Image.new("RGB", (320, 240), (200, 0, 0)).save(folder(config) / month / "Thong bao.png")
    Image.new("RGB", (320, 240), (0, 200, 0)).save(folder(config) / "Thong bao.png")
    expected = {"Họp dân Thang 11", "Họp dân Thang 12", "Thang 11 - Thong bao", "Thang 12 - Thong bao", "Thong bao"}
    until(lambda: titles(config) == expected, watch, seconds=30)
    ids = {playable.bulletin.id for playable in load_content(config)}
    assert len(ids) == 5
    (folder(config) / "Thang 11" / "Thong bao.png").unlink()
    until(lambda: "Thang 11 - Thong bao" not in titles(config), watch, seconds=30)
    assert "Thang 12 - Thong bao" in titles(config) and not quarantine(config).exists()


def test_a_broken_file_in_a_subfolder_is_set_aside_with_its_reason(config: BoardConfig, watch: InboxWatch) -> None:
    (folder(config) / "Thang 11").mkdir()
    (folder(config) / "Thang 11" / "hong.pdf").write_bytes(b"not a pdf at all")
    ordinary(config, 2)
    until(lambda: not (folder(config) / "Thang 11" / "hong.pdf").exists(), watch, seconds=30)
    (reason,) = reasons(config).values()
    assert reason.startswith("Thang 11/hong.pdf:") and reason[-1] == "\n" and reason.count("\n") == 1


def test_the_settings_beside_a_file_in_a_subfolder_are_read_with_it(config: BoardConfig, watch: InboxWatch) -> None:
    (folder(config) / "Thang 11").mkdir()
    Image.new("RGB", (320, 240), (0, 0, 200)).save(folder(config) / "Thang 11" / "Hop dan.png")
    (folder(config) / "Thang 11" / "Hop dan.toml").write_text('title = "Họp dân ấp 2"\n', encoding="utf-8")
    until(lambda: titles(config) == {"Họp dân ấp 2"}, watch, seconds=30)
