"""Old Vietnamese fonts' text (TCVN3/ABC `.VnTime`, VNI-Windows) read as Unicode from .txt notices, never shown raw."""

from __future__ import annotations

import codecs
import unicodedata
from pathlib import Path

import pytest

from signage.errors import MediaError
from signage.legacy import Legacy, convert, is_syllable
from signage.media.textfile import decode_text, read_notice

# The test's own tables, written out by vowel and tone (none, sắc, huyền, hỏi, ngã, nặng), as the fonts' charts print
# them; the code under test keeps its tables another way. TCVN3 checked against glibc's TCVN5712-1.
TONES = ("", "\u0301", "\u0300", "\u0309", "\u0303", "\u0323")
VOWELS = ("a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y")
TCVN3_ROWS = {
    "a": "a ¸ µ ¶ · ¹", "ă": "¨ ¾ » ¼ ½ Æ", "â": "© Ê Ç È É Ë", "e": "e Ð Ì Î Ï Ñ", "ê": "ª Õ Ò Ó Ô Ö", "i": "i Ý × Ø Ü Þ",
    "o": "o ã ß á â ä", "ô": "« è å æ ç é", "ơ": "¬ í ê ë ì î", "u": "u ó ï ñ ò ô", "ư": "\u00ad ø õ ö ÷ ù", "y": "y ý ú û ü þ",
}  # fmt: skip
TCVN3_CAPITALS = {"Ă": "¡", "Â": "¢", "Ê": "£", "Ô": "¤", "Ơ": "¥", "Ư": "¦", "Đ": "§", "đ": "®"}
VNI_ROWS = {
    "a": "a aù aø aû aõ aï", "ă": "aê aé aè aú aü aë", "â": "aâ aá aà aå aã aä", "e": "e eù eø eû eõ eï",
    "ê": "eâ eá eà eå eã eä", "i": "i í ì æ ó ò", "o": "o où oø oû oõ oï", "ô": "oâ oá oà oå oã oä",
    "ơ": "ô ôù ôø ôû ôõ ôï", "u": "u uù uø uû uõ uï", "ư": "ö öù öø öû öõ öï", "y": "y yù yø yû yõ î",
}  # fmt: skip


def _letters(rows: dict[str, str]) -> dict[str, str]:
    table = {}
    for vowel, row in rows.items():
        for tone, code in zip(TONES, row.split(" "), strict=True):
            table[unicodedata.normalize("NFC", vowel + tone)] = code
    return table


TCVN3 = _letters(TCVN3_ROWS)
VNI = _letters(VNI_ROWS) | {"đ": "ñ"}
EVERY_LETTER = [*sorted(TCVN3), "đ"]


def to_tcvn3(text: str) -> bytes:
    """As ABC with the `.VnTime` fonts saves: capitals with a tone are the small letter's code (drawn as a capital by `.VnTimeH`)."""
    out = []
    for char in unicodedata.normalize("NFC", text):
        if char in TCVN3_CAPITALS:
            out.append(TCVN3_CAPITALS[char])
        else:
            out.append(TCVN3.get(char.lower(), char) if not char.isascii() else char)
    return "".join(out).encode("latin-1")


def to_vni(text: str) -> bytes:
    """As VNI-Windows saves: each letter its base letter and its marks' character, both in the letter's case."""
    out = []
    for char in unicodedata.normalize("NFC", text):
        code = VNI.get(char.lower())
        out.append(char if char.isascii() or code is None else code.upper() if char.isupper() else code)
    return "".join(out).encode("cp1252")


NOTICE = (
    "THÔNG BÁO\r\n"
    "Về việc tổ chức tiêm chủng mở rộng đợt tháng Mười Hai\r\n"
    "Ủy ban nhân dân xã Đông Sơn thông báo: ngày thứ Bảy, trạm y tế xã tiêm vắc-xin cho trẻ dưới năm tuổi.\r\n"
    "Đề nghị các hộ gia đình đưa con em đến đúng giờ, mang theo sổ tiêm chủng và giữ gìn sức khỏe.\r\n"
)
TITLE = "THÔNG BÁO"
BODY = unicodedata.normalize("NFC", NOTICE.split("\r\n", 1)[1].strip().replace("\r\n", "\n"))


@pytest.mark.parametrize("letter", EVERY_LETTER)
@pytest.mark.parametrize("legacy", list(Legacy), ids=lambda legacy: legacy.value)
def test_every_vietnamese_letter_with_every_tone_comes_back_from_either_legacy_encoding(letter: str, legacy: Legacy) -> None:
    encode = to_tcvn3 if legacy is Legacy.TCVN3 else to_vni
    small, capital = f"t{letter}n", f"T{letter.upper()}N"  # a capital with a tone is told from its word in TCVN3
    assert convert(encode(small), legacy) == small
    assert convert(encode(capital), legacy) == capital


@pytest.mark.parametrize(("encode", "name"), [(to_tcvn3, "TCVN3"), (to_vni, "VNI")])
def test_a_notice_saved_in_a_legacy_font_is_read_as_unicode(tmp_path: Path, encode, name: str) -> None:
    raw = encode(NOTICE)
    raw.decode("latin-1")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # what an old Word "Text only" or Notepad ANSI file is
    path = tmp_path / f"thong-bao-{name}.txt"
    path.write_bytes(raw)
    title, body = read_notice(path)
    assert (title, body) == (TITLE, BODY)
    assert unicodedata.is_normalized("NFC", body)


@pytest.mark.parametrize(("encode", "name"), [(to_tcvn3, "TCVN3"), (to_vni, "VNI")])
def test_legacy_font_text_pasted_into_a_unicode_editor_is_converted(tmp_path: Path, encode, name: str) -> None:
    """Copied from a `.VnTime` Word document into Notepad and saved as UTF-8: `Th«ng b¸o`, `Thoâng baùo`."""
    mojibake = encode(NOTICE).decode("cp1252")
    for raw in (mojibake.encode("utf-8"), codecs.BOM_UTF8 + mojibake.encode("utf-8"), mojibake.encode("utf-16")):
        path = tmp_path / f"dan-{name}.txt"
        path.write_bytes(raw)
        assert read_notice(path) == (TITLE, BODY)


@pytest.mark.parametrize(
    "text",
    [
        NOTICE,
        "Thông báo\nCà phê, bò, hồ, giò, mì, bé, lá, đá, chè, ô tô",  # only letters Latin-1 also has: still not mojibake
        "Café «Sài Gòn» mở cửa lúc 7h\n© 2026 UBND xã, 25°C",
    ],
)
def test_unicode_vietnamese_is_never_touched(text: str) -> None:
    expected = unicodedata.normalize("NFC", text).replace("\r\n", "\n")
    for raw in (text.encode("utf-8"), codecs.BOM_UTF8 + text.encode("utf-8"), text.encode("utf-16")):
        assert decode_text(raw, "x.txt") == expected


def test_latin_bytes_that_are_no_vietnamese_encoding_are_refused_in_vietnamese(tmp_path: Path) -> None:
    # German and French saved in Windows-1252: neither Windows-1258, TCVN3 nor VNI makes Vietnamese of it.
    path = tmp_path / "la.txt"
    path.write_bytes("Größe Übung für Gäste\nGrüße aus München, très élégant façade déjà".encode("cp1252"))
    with pytest.raises(MediaError, match=r"la\.txt: không đọc được chữ tiếng Việt: bảng mã không rõ") as caught:
        read_notice(path)
    assert "\n" not in str(caught.value)


def test_the_syllable_check_knows_vietnamese_from_mojibake() -> None:
    for word in ("nghiêng", "Quyết", "giữ", "THƯỜNG", "khuya", "ươm", "oẳn", "đường"):
        assert is_syllable(word), word
    for word in ("Th«ng", "baùo", "Größe", "bỏo", "tháà", "xyz"):
        assert not is_syllable(word), word
