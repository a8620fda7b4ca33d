"""The settings file beside a notice as Notepad saves it: its encodings, dates without a time, `.toml.txt`, dates past.

Each case writes real bytes (made here, in the encoding a clerk's Windows uses) beside a real notice in a
real drop folder, and drives a real Inbox with its clock passed in.
"""

from __future__ import annotations

import codecs
import textwrap
import time
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from signage.config import BoardConfig, load_config
from signage.errors import BulletinError
from signage.inbox.ingest import Inbox
from signage.inbox.sidecar import decode_settings, expiry_problem, parse_settings, settings_names
from signage.model import Bulletin, Source
from signage.store.db import Store
from signage.store.files import ContentStore
from tests.test_decoding import to_windows_1258

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 20, 9, 30, tzinfo=ZONE)
TITLE = "Họp dân ấp Phú Hưng về việc làm đường"
SETTINGS = f'title = "{TITLE}"\nduration_s = 25\n'


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
    loaded.inbox.path.mkdir(parents=True)
    return loaded


def folder(config: BoardConfig) -> Path:
    assert config.inbox is not None
    return config.inbox.path


def quarantine(config: BoardConfig) -> Path:
    assert config.inbox is not None
    return config.inbox.quarantine


def poll(config: BoardConfig, now: datetime = NOW, looks: int = 1) -> list[str]:
    """Looks at the drop folder with the board's clock at `now`, as the 0.25 s tick does, no settling."""
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


def reason_of(config: BoardConfig, name: str) -> str:
    return (quarantine(config) / f"{name}.reason.txt").read_text(encoding="utf-8")


# -- what Notepad saves ---------------------------------------------------------------------------

NOTEPAD = {
    "UTF-8": SETTINGS.encode("utf-8"),
    "UTF-8 with BOM": codecs.BOM_UTF8 + SETTINGS.encode("utf-8"),
    "UTF-16 LE (Unicode)": codecs.BOM_UTF16_LE + SETTINGS.encode("utf-16-le"),
    "UTF-16 BE (Unicode big endian)": codecs.BOM_UTF16_BE + SETTINGS.encode("utf-16-be"),
    "ANSI on a Vietnamese Windows (1258)": to_windows_1258(SETTINGS),
    "UTF-8 decomposed (a Mac)": unicodedata.normalize("NFD", SETTINGS).encode("utf-8"),
}


@pytest.mark.parametrize("saved_as", sorted(NOTEPAD))
def test_settings_saved_by_notepad_in_any_of_its_encodings_apply_to_the_photo(config: BoardConfig, saved_as: str) -> None:
    photo(folder(config) / "hop-dan.jpg")
    (folder(config) / "hop-dan.toml").write_bytes(NOTEPAD[saved_as])
    poll(config)
    assert not quarantine(config).exists()
    bulletin = held(config)[TITLE]  # NFC, whatever the bytes held
    assert bulletin.duration_s == 25 and bulletin.media is not None


def test_a_settings_file_undecodable_in_every_encoding_sets_the_notice_aside_naming_it(config: BoardConfig) -> None:
    photo(folder(config) / "hop-dan.jpg")
    (folder(config) / "hop-dan.toml").write_bytes(b'title = "\x81\x8a\x8d\x8e"\n')  # neither UTF-8 nor Windows-1258
    poll(config)
    line = reason_of(config, "hop-dan.jpg")
    assert line.count("\n") == 1 and line.startswith("hop-dan.jpg: tệp cấu hình đi kèm (.toml) bị sai")
    assert "hop-dan.toml: không đọc được chữ" in line
    assert (quarantine(config) / "hop-dan.jpg.toml").exists() and held(config) == {}


def test_a_settings_file_of_binary_bytes_is_not_read_as_windows_1258(config: BoardConfig) -> None:
    photo(folder(config) / "anh.png")
    (folder(config) / "anh.toml").write_bytes(b"\x00\x01title\x00 = 3\x07\x08")
    poll(config)
    assert "anh.toml: không đọc được chữ" in reason_of(config, "anh.png")


# -- dates ----------------------------------------------------------------------------------------


def test_a_date_alone_means_from_the_start_of_that_day_until_its_end_in_the_boards_zone(config: BoardConfig) -> None:
    photo(folder(config) / "tiem-chung.png")
    (folder(config) / "tiem-chung.toml").write_text(
        'title = "Tiêm chủng mở rộng"\nvalid_from = 2026-12-01\nvalid_until = 2026-12-05\n', encoding="utf-8"
    )
    poll(config)
    bulletin = held(config)["Tiêm chủng mở rộng"]
    assert bulletin.valid_from == datetime(2026, 12, 1, 0, 0, tzinfo=ZONE)
    assert bulletin.valid_until == datetime(2026, 12, 5, 23, 59, 59, tzinfo=ZONE)
    assert bulletin.valid_until.utcoffset() == timedelta(hours=7)


def test_a_local_date_time_takes_the_boards_zone_and_an_offset_is_kept(config: BoardConfig) -> None:
    (folder(config) / "cat-dien.txt").write_text("Thông báo cắt điện\nNgày 28/11.", encoding="utf-8")
    (folder(config) / "cat-dien.toml").write_text(
        "valid_from = 2026-11-27T18:00:00\nvalid_until = 2026-11-28T17:00:00+07:00\n", encoding="utf-8"
    )
    poll(config)
    bulletin = held(config)["Thông báo cắt điện"]
    assert bulletin.valid_from == datetime(2026, 11, 27, 18, 0, tzinfo=ZONE) and bulletin.valid_from.utcoffset() == timedelta(hours=7)
    assert bulletin.valid_until == datetime(2026, 11, 28, 17, 0, tzinfo=ZONE)


def test_a_time_without_a_date_is_refused_naming_the_key(config: BoardConfig) -> None:
    photo(folder(config) / "anh.png")
    (folder(config) / "anh.toml").write_text("valid_until = 17:00:00\n", encoding="utf-8")
    poll(config)
    line = reason_of(config, "anh.png")
    assert "anh.toml" in line and "valid_until" in line


# -- Notepad's .toml.txt ----------------------------------------------------------------------------


def test_notepads_toml_txt_is_read_as_the_settings_of_its_notice_and_never_shown(config: BoardConfig) -> None:
    photo(folder(config) / "Hop dan.jpg")
    (folder(config) / "Hop dan.toml.txt").write_bytes(codecs.BOM_UTF8 + f'title = "{TITLE}"\nvalid_until = 2026-12-05\n'.encode())
    poll(config, looks=3)
    bulletins = held(config)
    assert list(bulletins) == [TITLE], bulletins  # the photo under its settings' title, and nothing else
    assert bulletins[TITLE].valid_until == datetime(2026, 12, 5, 23, 59, 59, tzinfo=ZONE)
    assert (folder(config) / "Hop dan.toml.txt").exists() and not quarantine(config).exists()


def test_a_toml_txt_whose_notice_has_not_come_yet_is_left_alone_then_read_with_it(config: BoardConfig) -> None:
    (folder(config) / "lich-hop.toml.txt").write_text('title = "Lịch họp tháng 12"\n', encoding="utf-8")
    poll(config, looks=2)
    assert held(config) == {} and (folder(config) / "lich-hop.toml.txt").exists()
    (folder(config) / "lich-hop.txt").write_text("Lịch họp\nThứ Hai hằng tuần.", encoding="utf-8")
    poll(config)
    assert list(held(config)) == ["Lịch họp tháng 12"]


# -- a notice that will never play -------------------------------------------------------------------


def test_a_notice_whose_settings_are_entirely_past_is_set_aside_as_expired_naming_the_dates(config: BoardConfig) -> None:
    photo(folder(config) / "le-hoi.jpg")
    (folder(config) / "le-hoi.toml").write_text("valid_from = 2026-11-01\nvalid_until = 2026-11-15\n", encoding="utf-8")
    changes = poll(config)
    line = reason_of(config, "le-hoi.jpg")
    assert line.count("\n") == 1 and line.startswith("le-hoi.jpg: ")
    assert "đã hết hạn" in line and "01/11/2026" in line and "15/11/2026 23:59" in line
    assert held(config) == {} and any("đã hết hạn" in change for change in changes)


def test_a_notice_that_ends_later_today_is_taken(config: BoardConfig) -> None:
    photo(folder(config) / "hom-nay.jpg")
    (folder(config) / "hom-nay.toml").write_text('title = "Hôm nay"\nvalid_until = 2026-11-20\n', encoding="utf-8")
    poll(config)
    assert "Hôm nay" in held(config) and not quarantine(config).exists()


# -- the pure parts ---------------------------------------------------------------------------------


def test_settings_names_include_notepads_txt_for_the_full_name_and_the_stem() -> None:
    assert settings_names("Hop dan.jpg") == ("Hop dan.jpg.toml", "Hop dan.toml", "Hop dan.jpg.toml.txt", "Hop dan.toml.txt")


def test_decoding_prefers_a_bom_then_utf8_then_windows_1258_and_gives_nfc() -> None:
    text = "Ủy ban nhân dân xã"
    for raw in (codecs.BOM_UTF8 + text.encode(), codecs.BOM_UTF16_LE + text.encode("utf-16-le"), to_windows_1258(text)):
        assert decode_settings(raw, "a.toml") == unicodedata.normalize("NFC", text)
    with pytest.raises(BulletinError, match=r"^a\.toml: không đọc được chữ"):
        decode_settings(b"\xff\xfe\x00\xd8", "a.toml")  # a BOM, then a lone surrogate


def test_parse_settings_turns_dates_into_moments_of_the_boards_zone() -> None:
    fields = parse_settings('valid_from = 2026-12-01\nvalid_until = "2026-12-05"\n', "a.toml", ZONE)
    assert fields == {"valid_from": "2026-12-01T00:00:00+07:00", "valid_until": "2026-12-05T23:59:59+07:00"}
    with pytest.raises(BulletinError, match="colour: unknown key"):
        parse_settings('colour = "đỏ"', "a.toml", ZONE)


def test_expiry_is_told_only_when_the_end_is_before_now() -> None:
    assert expiry_problem({"valid_until": "2026-11-20T09:30:00+07:00"}, NOW) is None
    problem = expiry_problem({"valid_until": "2026-11-20T09:29:59+07:00"}, NOW)
    assert problem is not None and problem.startswith("đã hết hạn") and "20/11/2026 09:29" in problem
    assert expiry_problem({}, NOW) is None and expiry_problem({"valid_until": "ngày mai"}, NOW) is None
