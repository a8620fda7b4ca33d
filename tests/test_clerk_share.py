"""The clerk sees why, where the clerk looks: what cannot be shown is set aside inside the shared drop folder
(`_KHONG_HIEN_THI/`) with its Vietnamese reason beside it and in `signage status`; the share install.sh sets up.

Real drop folders with real files, a real Inbox with its clock passed in, the real install.sh.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import textwrap
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from signage.config import BoardConfig, load_config
from signage.inbox.ingest import Inbox
from signage.model import Bulletin, Source
from signage.status import board_status, status_lines
from signage.store.db import Store
from signage.store.files import ContentStore
from tests.videoclips import numbered_clip

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=ZONE)  # a Monday
INSTALL = Path(__file__).resolve().parent.parent / "kiosk" / "install.sh"
SET_ASIDE = "_KHONG_HIEN_THI"


def board(tmp_path: Path, extra: str = "") -> BoardConfig:
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
        )
        + extra,
        encoding="utf-8",
    )
    loaded = load_config(path)
    assert loaded.inbox is not None
    loaded.inbox.path.mkdir(parents=True)
    return loaded


@pytest.fixture
def config(tmp_path: Path) -> BoardConfig:
    return board(tmp_path)


def folder(config: BoardConfig) -> Path:
    assert config.inbox is not None
    return config.inbox.path


def poll(config: BoardConfig, now: datetime = NOW, looks: int = 1) -> list[str]:
    """Looks at the drop folder with the board's clock at `now`, no settling (the files are written whole)."""
    inbox = Inbox(config, ContentStore(config.board.data_dir / "media"), lambda: now)
    store = Store(config.board.data_dir / "board.db")
    changes: list[str] = []
    try:
        for _ in range(looks):
            changes += inbox.poll(store, time.monotonic(), settle=0, patience=0)
    finally:
        store.close()
    return changes


def held(config: BoardConfig) -> dict[str, Bulletin]:
    store = Store(config.board.data_dir / "board.db")
    try:
        return {bulletin.title: bulletin for bulletin in store.bulletins(Source.INBOX)}
    finally:
        store.close()


def photo(path: Path) -> None:
    Image.new("RGB", (800, 600), (30, 110, 190)).save(path)


# -- 1. set aside inside the share ------------------------------------------------------------------


def test_a_file_that_cannot_be_shown_is_set_aside_inside_the_drop_folder_with_its_reason_beside_it(config: BoardConfig) -> None:
    (folder(config) / "rong.txt").write_bytes(b"")  # a copy that failed: nothing in it
    poll(config)
    aside = folder(config) / SET_ASIDE
    assert (aside / "rong.txt").exists() and not (folder(config) / "rong.txt").exists()
    reason = (aside / "rong.txt.reason.txt").read_text(encoding="utf-8")
    assert reason.startswith("rong.txt: tệp rỗng") and reason.count("\n") == 1
    assert not (config.path.parent / "quarantine").exists()


def test_a_file_in_the_set_aside_folder_is_never_taken_again_however_often_the_folder_is_looked_at(config: BoardConfig) -> None:
    (folder(config) / "rong.txt").write_bytes(b"")
    poll(config)
    aside = folder(config) / SET_ASIDE
    photo(aside / "Anh dep.jpg")  # a good photo the clerk dropped into the wrong folder: set aside is not a way in
    (aside / "ghi chu.txt").write_text("Ghi chú của cán bộ", encoding="utf-8")
    changes = poll(config, looks=3)
    assert changes == [] and held(config) == {}
    assert sorted(p.name for p in aside.iterdir()) == ["Anh dep.jpg", "ghi chu.txt", "rong.txt", "rong.txt.reason.txt"]


def test_a_board_whose_config_names_a_quarantine_elsewhere_keeps_it(tmp_path: Path) -> None:
    config = board(tmp_path, 'quarantine = "quarantine"\n')
    (folder(config) / "rong.txt").write_bytes(b"")
    poll(config)
    assert (tmp_path / "quarantine" / "rong.txt.reason.txt").read_text(encoding="utf-8").startswith("rong.txt: tệp rỗng")
    assert not (folder(config) / SET_ASIDE).exists()


def test_signage_status_lists_each_set_aside_file_with_its_reason_in_vietnamese_and_where_it_lies(config: BoardConfig) -> None:
    (folder(config) / "Thang 11").mkdir()
    (folder(config) / "Thang 11" / "Hop dan.txt").write_bytes(b"")
    (folder(config) / "rong.txt").write_bytes(b"")
    poll(config)
    lines = [line for line in status_lines(board_status(config, NOW)) if "để riêng" in line]
    assert lines == [
        f"để riêng {SET_ASIDE}/Thang 11 - Hop dan.txt: tệp rỗng",
        f"để riêng {SET_ASIDE}/rong.txt: tệp rỗng",
    ]


# -- 2. the share install.sh sets up -----------------------------------------------------------------


def share_section(path: str) -> str:
    run = subprocess.run(["sh", str(INSTALL), "--print-share-conf", path], capture_output=True, text=True, timeout=30, check=False)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_install_sh_help_names_no_share() -> None:
    run = subprocess.run(["sh", str(INSTALL), "--help"], capture_output=True, text=True, timeout=30, check=False)
    assert run.returncode == 0 and "--no-share" in run.stdout and "bangtin" in run.stdout


def test_the_share_is_the_drop_folder_writable_by_the_bangtin_user_only_and_files_are_the_boards() -> None:
    parsed = configparser.ConfigParser()
    parsed.read_string(share_section("/srv/signage/bang tin"))
    share = parsed["bangtin"]
    assert share["path"] == "/srv/signage/bang tin" and share["read only"] == "no"
    assert share["valid users"] == "bangtin" and share["guest ok"] == "no"  # a password, never a guest
    assert share["force user"] == "signage" and share["follow symlinks"] == "no"


def test_the_share_section_is_valid_for_samba(tmp_path: Path) -> None:
    testparm = shutil.which("testparm")
    if testparm is None:
        pytest.skip("testparm (Debian samba-common-bin) is not installed")
    conf = tmp_path / "smb.conf"
    conf.write_text(share_section("/srv/signage/bangtin"), encoding="utf-8")
    run = subprocess.run([testparm, "-s", str(conf)], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0 and "[bangtin]" in run.stdout, run.stderr
    assert "Unknown parameter" not in run.stderr and "Ignoring unknown" not in run.stderr, run.stderr


def test_install_sh_dry_run_would_share_the_drop_folder_and_not_with_no_share(tmp_path: Path) -> None:
    answers = ["--board-id", "tan-quan", "--name", "UBND xã Tân Quan", "--inbox", "/srv/signage/bangtin", "--no-apt"]
    shared = subprocess.run(
        ["sh", str(INSTALL), "--root", str(tmp_path / "root"), "--dry-run", *answers],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shared.returncode == 0, shared.stderr
    assert "would install: /etc/samba/signage-bangtin.conf" in shared.stdout
    unshared = subprocess.run(
        ["sh", str(INSTALL), "--root", str(tmp_path / "root"), "--dry-run", "--no-share", *answers],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert unshared.returncode == 0 and "samba" not in unshared.stdout and "no share set up" in unshared.stdout
    assert not (tmp_path / "root").exists()


def reason_of(config: BoardConfig, name: str) -> str:
    assert config.inbox is not None
    return (config.inbox.quarantine / f"{name}.reason.txt").read_text(encoding="utf-8")


# -- 3. loose ends: each refusal has its own reason, a video is titled as one -----------------------


def test_a_notice_whose_settings_put_it_entirely_in_the_past_is_set_aside_as_expired(config: BoardConfig) -> None:
    (folder(config) / "Hop dan.txt").write_text("Họp dân ấp Phú Hưng\nLúc 8 giờ tại nhà văn hoá.", encoding="utf-8")
    (folder(config) / "Hop dan.toml").write_text("valid_from = 2026-11-10\nvalid_until = 2026-11-12\n", encoding="utf-8")
    poll(config)
    reason = reason_of(config, "Hop dan.txt")
    assert reason.startswith("Hop dan.txt: đã hết hạn: thông báo không còn được phát") and "12/11/2026 23:59" in reason
    assert held(config) == {}


def test_a_file_still_changing_after_the_stall_limit_is_set_aside_with_a_reason_of_its_own(config: BoardConfig) -> None:
    log = folder(config) / "nhat-ky.txt"
    log.write_text("dòng 1\n", encoding="utf-8")
    inbox = Inbox(config, ContentStore(config.board.data_dir / "media"), lambda: NOW)
    store = Store(config.board.data_dir / "board.db")
    try:
        start = time.monotonic()
        assert inbox.poll(store, start, settle=1.0) == []  # seen changing: waited for
        for minute in range(1, 62):  # a writer that never stops: a new line every minute of the board's clock
            with log.open("a", encoding="utf-8") as out:
                out.write(f"dòng {minute + 1}\n")
            changes = inbox.poll(store, start + 60.0 * minute, settle=1.0)
            if changes:
                break
    finally:
        store.close()
    assert minute == 60 and len(changes) == 1
    assert reason_of(config, "nhat-ky.txt").startswith("nhat-ky.txt: tệp vẫn đang được chép sau 60 phút")


def test_a_phone_video_named_like_a_photo_is_titled_video(config: BoardConfig, tmp_path: Path) -> None:
    numbered_clip(folder(config) / "IMG_1234.mp4")  # an iPhone names its videos IMG_ too
    poll(config)
    assert list(held(config)) == ["Video"]


def test_a_notice_whose_slots_never_come_up_within_its_validity_is_set_aside_as_never(config: BoardConfig) -> None:
    (folder(config) / "Chu nhat.txt").write_text("Tổng vệ sinh ngày Chủ nhật", encoding="utf-8")
    (folder(config) / "Chu nhat.toml").write_text(
        'valid_from = 2026-11-23\nvalid_until = 2026-11-27\n[[slots]]\ndays = ["sun"]\nfrom = "07:00"\nuntil = "11:00"\n',
        encoding="utf-8",
    )  # only Sundays, valid Monday to Friday
    poll(config)
    assert reason_of(config, "Chu nhat.txt").startswith("Chu nhat.txt: không có khung giờ nào để phát trong thời gian hiệu lực")
    assert held(config) == {}


def test_a_notice_whose_slot_comes_up_within_its_validity_is_taken(config: BoardConfig) -> None:
    (folder(config) / "Thu sau.txt").write_text("Tiêm chủng sáng thứ Sáu", encoding="utf-8")
    (folder(config) / "Thu sau.toml").write_text(
        'valid_from = 2026-11-23\nvalid_until = 2026-11-27\n[[slots]]\ndays = ["fri"]\nfrom = "22:00"\nuntil = "02:00"\n',
        encoding="utf-8",
    )  # Friday late, valid to the end of Friday: the slot opens before the notice ends
    poll(config)
    assert list(held(config)) == ["Tiêm chủng sáng thứ Sáu"]
