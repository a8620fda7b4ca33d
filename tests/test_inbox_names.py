"""What a file's name says: its priority prefix and, for a camera's or a phone's name, a Vietnamese title."""

from __future__ import annotations

import time
import unicodedata
from pathlib import Path

import pytest
from PIL import Image

from signage.config import BoardConfig, load_config
from signage.content import load_content
from signage.inbox.rules import split_priority, title_from_name
from signage.inbox.watch import InboxWatch
from signage.model import Kind, Priority


@pytest.mark.parametrize(
    ("stem", "title"),
    [
        ("KHAN_Bao so 9", "Bao so 9"),
        ("khan_Bao so 9", "Bao so 9"),
        ("Khan_Bao so 9", "Bao so 9"),
        ("khan-bao-so-9", "bao-so-9"),
        ("KHAN Bao so 9", "Bao so 9"),
        ("KHẨN_Bão số 9", "Bão số 9"),
        ("khẩn_Bão số 9", "Bão số 9"),
        ("Khẩn Bão số 9", "Bão số 9"),
        ("KHẨN - Bão số 9", "Bão số 9"),
        ("KHẨN CẤP_Bão số 9", "Bão số 9"),
        ("Khẩn cấp Bão số 9", "Bão số 9"),
        ("KHAN CAP - Bao so 9", "Bao so 9"),
    ],
)
def test_an_emergency_prefix_is_recognised_in_any_case_with_or_without_accents(stem: str, title: str) -> None:
    assert split_priority(stem) == (Priority.EMERGENCY, title)


@pytest.mark.parametrize(
    ("stem", "title"),
    [
        ("UUTIEN_Hop dan ap 2", "Hop dan ap 2"),
        ("uutien_Hop dan ap 2", "Hop dan ap 2"),
        ("UU TIEN_Hop dan ap 2", "Hop dan ap 2"),
        ("uu-tien-hop-dan", "hop-dan"),
        ("ƯU TIÊN_Họp dân ấp 2", "Họp dân ấp 2"),
        ("Ưu tiên Họp dân ấp 2", "Họp dân ấp 2"),
        ("ưu_tiên_Họp dân", "Họp dân"),
        ("ƯUTIÊN-Họp dân", "Họp dân"),
    ],
)
def test_a_priority_prefix_is_recognised_in_any_case_with_or_without_accents(stem: str, title: str) -> None:
    assert split_priority(stem) == (Priority.HIGH, title)


def test_a_prefix_typed_on_a_mac_in_decomposed_accents_is_recognised_and_the_title_keeps_its_accents() -> None:
    priority, title = split_priority(unicodedata.normalize("NFD", "KHẨN_Bão số 9"))
    assert priority is Priority.EMERGENCY
    assert unicodedata.normalize("NFC", title) == "Bão số 9"


@pytest.mark.parametrize("form", ["NFC", "NFD"])
@pytest.mark.parametrize("name", ["KHẨN_Bão số 9.jpg", "Khẩn cấp Bão số 9.txt", "ƯU TIÊN_Họp dân.docx", "ưu-tiên-họp.pdf"])
def test_what_follows_the_prefix_is_the_end_of_the_name_as_written_so_a_folder_can_go_between(form: str, name: str) -> None:
    # `signage import` puts a stick's folder between the prefix and the rest: `KHẨN_Thang 11 - Bão số 9.jpg`.
    written = unicodedata.normalize(form, name)
    _, rest = split_priority(written)
    assert written.endswith(rest) and rest[:1] not in ("", "_", "-", " ")


@pytest.mark.parametrize(
    "stem",
    [
        "Khanh Hoa",  # the prefix inside a word
        "KHANH_HOA",
        "Khan hiem nuoc sach",  # the word "khan hiếm" (scarce), typed without accents, not a prefix
        "Khăn quàng đỏ",  # khăn (scarf) is another word, whatever its letters fold to
        "Khán giả chú ý",  # khán (audience)
        "Khàn tiếng",
        "KHẤN_vái",
        "Uu",
        "UUTIENHop dan",
        "Thong bao KHAN_",
        "KHAN",
        "Bao so 9",
    ],
)
def test_a_name_that_only_looks_like_a_prefix_is_a_normal_notice_with_its_name_untouched(stem: str) -> None:
    assert split_priority(stem) == (Priority.NORMAL, stem)


def test_the_word_cap_after_an_emergency_prefix_stays_in_the_title_when_it_means_supply() -> None:
    # "KHẨN_Cấp nước sạch": urgent, the water supply; only "khẩn cấp" written as one phrase is the prefix.
    assert split_priority("KHẨN_Cấp nước sạch") == (Priority.EMERGENCY, "Cấp nước sạch")
    assert split_priority("khan-cap-nuoc") == (Priority.EMERGENCY, "cap-nuoc")


@pytest.mark.parametrize(
    ("stem", "kind", "title"),
    [
        ("IMG_20261125_081530", Kind.IMAGE, "Hình ảnh 25/11/2026 08:15"),
        ("IMG_20261125_081530_HDR", Kind.IMAGE, "Hình ảnh 25/11/2026 08:15"),
        ("IMG20261125081530", Kind.IMAGE, "Hình ảnh 25/11/2026 08:15"),
        ("IMG-20261125-WA0003", Kind.IMAGE, "Hình ảnh 25/11/2026"),
        ("DSC01234", Kind.IMAGE, "Hình ảnh"),
        ("DSC_1234", Kind.IMAGE, "Hình ảnh"),
        ("IMG_1234", Kind.IMAGE, "Hình ảnh"),
        ("IMG_1234 (1)", Kind.IMAGE, "Hình ảnh"),
        ("IMG_20261125_081530 - Copy", Kind.IMAGE, "Hình ảnh 25/11/2026 08:15"),
        ("20261125_081530", Kind.IMAGE, "Hình ảnh 25/11/2026 08:15"),
        ("Screenshot_20261125-081530", Kind.IMAGE, "Hình ảnh 25/11/2026 08:15"),
        ("Screenshot_20261125_081530_Zalo", Kind.IMAGE, "Hình ảnh 25/11/2026 08:15"),
        ("Screenshot_2026-11-25-08-15-30-123_com.zing.zalo", Kind.IMAGE, "Hình ảnh 25/11/2026 08:15"),
        ("Screenshot 2026-11-25 at 08.15.30", Kind.IMAGE, "Hình ảnh 25/11/2026 08:15"),
        ("Screenshot 2026-11-25 081530", Kind.IMAGE, "Hình ảnh 25/11/2026 08:15"),
        ("Screenshot (12)", Kind.IMAGE, "Hình ảnh"),
        ("Ảnh chụp màn hình 2026-11-25 081530", Kind.IMAGE, "Hình ảnh 25/11/2026 08:15"),
        ("Ảnh màn hình 2026-11-25 lúc 08.15.30", Kind.IMAGE, "Hình ảnh 25/11/2026 08:15"),
        ("WhatsApp Image 2026-11-25 at 08.15.30", Kind.IMAGE, "Hình ảnh 25/11/2026 08:15"),
        ("z5012345678901_0123456789abcdef0123456789abcdef", Kind.IMAGE, "Hình ảnh"),
        ("VID_20261125_081530", Kind.VIDEO, "Video 25/11/2026 08:15"),
        ("VID-20261125-WA0001", Kind.VIDEO, "Video 25/11/2026"),
        ("IMG_1234", Kind.VIDEO, "Video"),  # an iPhone's .MOV is named like its photos
        ("MVI_0042", Kind.VIDEO, "Video"),
        ("AUD-20261125-WA0002", Kind.AUDIO, "Ghi âm 25/11/2026"),
        ("PTT-20261125-WA0002", Kind.AUDIO, "Ghi âm 25/11/2026"),
        ("Recording_20261125_081530", Kind.AUDIO, "Ghi âm 25/11/2026 08:15"),
        ("Voice 001", Kind.AUDIO, "Ghi âm"),
    ],
)
def test_a_camera_or_phone_file_name_becomes_a_vietnamese_title_by_its_kind(stem: str, kind: Kind, title: str) -> None:
    assert title_from_name(stem, kind) == title


def test_a_camera_name_read_in_decomposed_accents_is_still_a_camera_name() -> None:
    stem = unicodedata.normalize("NFD", "Ảnh chụp màn hình 2026-11-25 081530")
    assert title_from_name(stem, Kind.IMAGE) == "Hình ảnh 25/11/2026 08:15"


def test_a_pixel_name_holds_utc_and_is_titled_in_vietnam_time() -> None:
    # Google's camera names its files by UTC: 01:15:30 UTC is 08:15 in Việt Nam, and 20:00 UTC is the next morning.
    assert title_from_name("PXL_20261125_011530123", Kind.IMAGE) == "Hình ảnh 25/11/2026 08:15"
    assert title_from_name("PXL_20261124_200000000.MP", Kind.IMAGE) == "Hình ảnh 25/11/2026 03:00"
    assert title_from_name("PXL_20261125_011530123", Kind.VIDEO) == "Video 25/11/2026 08:15"


def test_without_a_kind_the_camera_name_itself_tells_photo_video_or_recording() -> None:
    assert title_from_name("IMG_20261125_081530") == "Hình ảnh 25/11/2026 08:15"
    assert title_from_name("VID_20261125_081530") == "Video 25/11/2026 08:15"
    assert title_from_name("AUD-20261125-WA0002") == "Ghi âm 25/11/2026"
    assert title_from_name("DSC01234") == "Hình ảnh"


def test_a_date_that_does_not_exist_is_not_shown() -> None:
    assert title_from_name("IMG_20261345_081530", Kind.IMAGE) == "Hình ảnh"
    assert title_from_name("IMG_20261125_991530", Kind.IMAGE) == "Hình ảnh 25/11/2026"


@pytest.mark.parametrize(
    ("stem", "kind", "title"),
    [
        ("thong_bao-hop-dan", Kind.TEXT, "thong bao-hop-dan"),
        ("Ảnh hoạt động hội thao 2026", Kind.IMAGE, "Ảnh hoạt động hội thao 2026"),
        ("Video huong dan phong chay", Kind.VIDEO, "Video huong dan phong chay"),
        ("IMG cua xa Tan Phu", Kind.IMAGE, "IMG cua xa Tan Phu"),
        ("Screenshot huong dan dang ky", Kind.IMAGE, "Screenshot huong dan dang ky"),
        ("Recording of the meeting", Kind.AUDIO, "Recording of the meeting"),
        ("Bao cao 20261125", Kind.PDF, "Bao cao 20261125"),
        ("IMG_20261125_081530", Kind.PDF, "IMG 20261125 081530"),
        ("DSCN hop dan", Kind.IMAGE, "DSCN hop dan"),
        ("2026-11-25", Kind.IMAGE, "2026-11-25"),  # a date a person typed; a phone adds the time: 20261125_081530
        ("Hội nghị - 2026-11-25", Kind.IMAGE, "Hội nghị - 2026-11-25"),
    ],
)
def test_a_name_a_person_gave_is_kept_as_the_title(stem: str, kind: Kind, title: str) -> None:
    assert title_from_name(stem, kind) == title


def test_a_name_with_control_characters_is_still_made_readable() -> None:
    assert title_from_name("Hop\x07dan\x1bap 2") == "Hop dan ap 2"


@pytest.fixture
def config(tmp_path: Path) -> BoardConfig:
    path = tmp_path / "board.toml"
    path.write_text(
        '[board]\nid = "tan-quan"\nname = "UBND xã Tân Quan"\ndata_dir = "state"\n[inbox]\npath = "bangtin"\nsettle_seconds = 0.6\n'
    )
    return load_config(path)


def test_a_phone_photo_dropped_with_an_accented_emergency_prefix_is_an_emergency_titled_by_its_date(config: BoardConfig) -> None:
    watcher = InboxWatch(config, lambda changed: None)
    watcher.start()
    try:
        Image.new("RGB", (800, 600), (200, 40, 40)).save(config.inbox.path / "KHẨN_IMG_20261125_081530.jpg")
        Image.new("RGB", (800, 600), (40, 40, 200)).save(config.inbox.path / "ƯU TIÊN_Họp dân ấp 2.png")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            watcher.tick()
            held = {p.bulletin.title: p.bulletin for p in load_content(config)}
            if len(held) == 2:
                break
            time.sleep(0.1)
    finally:
        watcher.stop()
    assert held["Hình ảnh 25/11/2026 08:15"].priority is Priority.EMERGENCY
    assert held["Họp dân ấp 2"].priority is Priority.HIGH


@pytest.mark.parametrize(
    ("stem", "kind", "title"),
    [
        ("Thang 11 - IMG_20261125_081530", Kind.IMAGE, "Thang 11 - Hình ảnh 25/11/2026 08:15"),
        ("Thang 11 - IMG_20261125_081530-1", Kind.IMAGE, "Thang 11 - Hình ảnh 25/11/2026 08:15"),
        ("Hội thao - Ấp 2 - DSC01234", Kind.IMAGE, "Hội thao - Ấp 2 - Hình ảnh"),
        ("Thang 11 - VID_20261125_081530", None, "Thang 11 - Video 25/11/2026 08:15"),
        ("Thang 11 - Thong bao", Kind.IMAGE, "Thang 11 - Thong bao"),
    ],
)
def test_a_camera_name_under_a_folder_from_a_usb_stick_keeps_the_folder_and_gets_a_vietnamese_title(
    stem: str, kind: Kind | None, title: str
) -> None:
    # `signage import` names `Thang 11/IMG_20261125_081530.jpg` on a stick `Thang 11 - IMG_20261125_081530.jpg`.
    assert title_from_name(stem, kind) == title


def test_notepads_settings_file_is_never_a_notice_of_its_own() -> None:
    from signage.inbox.rules import ignored

    assert ignored("Hop dan.toml.txt") and ignored("Hop dan.toml") and not ignored("Hop dan.txt")
