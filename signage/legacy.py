"""Legacy Vietnamese encodings (TCVN3/ABC and VNI-Windows) told apart and converted to Unicode NFC (pure).

Text typed in the `.VnTime` (TCVN3) or `VNI-Times` fonts is Windows-1252 bytes that only those fonts draw as
Vietnamese; elsewhere it is mojibake (`Th«ng b¸o`, `Thoâng baùo`). Which reading is right is judged by how many
words come out as Vietnamese syllables.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from enum import Enum

# TCVN 5712:1993 VN3, the `.Vn*` fonts: one byte per letter, 0xA1–0xFF; checked against glibc's TCVN5712-1.
# The capitals with a tone have no code of their own: the `.VnTimeH` fonts draw the small-letter codes as capitals.
_TCVN3_LETTERS = (
    "àµ á¸ ả¶ ã· ạ¹ ă¨ ằ» ắ¾ ẳ¼ ẵ½ ặÆ â© ầÇ ấÊ ẩÈ ẫÉ ậË đ® èÌ éÐ ẻÎ ẽÏ ẹÑ êª ềÒ ếÕ ểÓ ễÔ ệÖ "
    "ì× íÝ ỉØ ĩÜ ịÞ òß óã ỏá õâ ọä ô« ồå ốè ổæ ỗç ộé ơ¬ ờê ớí ởë ỡì ợî ùï úó ủñ ũò ụô ư\u00ad ừõ ứø ửö ữ÷ ựù "
    "ỳú ýý ỷû ỹü ỵþ Ă¡ Â¢ Ê£ Ô¤ Ơ¥ Ư¦ Đ§"
)
TCVN3_TO_UNICODE: dict[str, str] = {pair[1]: pair[0] for pair in _TCVN3_LETTERS.split(" ")}

# VNI-Windows: a base letter followed by one character carrying its marks (small for a small letter, capital for
# a capital); a few letters are one character of their own.
_VNI_MARKS = {
    "ù": "\u0301", "ø": "\u0300", "û": "\u0309", "õ": "\u0303", "ï": "\u0323",
    "â": "\u0302", "á": "\u0302\u0301", "à": "\u0302\u0300", "å": "\u0302\u0309", "ã": "\u0302\u0303", "ä": "\u0302\u0323",
    "ê": "\u0306", "é": "\u0306\u0301", "è": "\u0306\u0300", "ú": "\u0306\u0309", "ü": "\u0306\u0303", "ë": "\u0306\u0323",
}  # fmt: skip
VNI_MARKS: dict[str, str] = {**_VNI_MARKS, **{mark.upper(): combining for mark, combining in _VNI_MARKS.items()}}
VNI_LETTERS: dict[str, str] = {
    "ô": "ơ", "Ô": "Ơ", "ö": "ư", "Ö": "Ư", "ñ": "đ", "Ñ": "Đ",
    "í": "í", "Í": "Í", "ì": "ì", "Ì": "Ì", "æ": "ỉ", "Æ": "Ỉ", "ó": "ĩ", "Ó": "Ĩ", "ò": "ị", "Ò": "Ị", "î": "ỵ", "Î": "Ỵ",
}  # fmt: skip
# Which marks each base takes in VNI: the circumflex on a, e, o; the breve on a; the tones on every vowel with no
# letter of its own for them (i, and ỵ, are single characters).
_VNI_BASES = {
    "a": "âáàåãäêéèúüë" + "ùøûõï",
    "e": "âáàåãä" + "ùøûõï",
    "o": "âáàåãä" + "ùøûõï",
    "ơ": "ùøûõï",
    "u": "ùøûõï",
    "ư": "ùøûõï",
    "y": "ùøûõ",
}


class Legacy(Enum):
    TCVN3 = "TCVN3"
    VNI = "VNI"


def _legacy_bytes_as_text(raw: bytes) -> str:
    """The bytes as the Windows-1252 characters a legacy font was given (the five bytes 1252 leaves out as Latin-1)."""
    return "".join(_c1(byte) if 0x80 <= byte <= 0x9F else chr(byte) for byte in raw)


def _c1(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(byte)


def text_as_legacy_bytes(text: str) -> bytes | None:
    """The bytes a legacy font was given, from text that shows them as Windows-1252 characters; None if it cannot be."""
    out = bytearray()
    for char in text:
        if ord(char) <= 0xFF:
            out.append(ord(char))
            continue
        try:
            out += char.encode("cp1252")
        except UnicodeEncodeError:
            return None
    return bytes(out)


def _from_tcvn3(chars: str) -> str:
    converted = "".join(TCVN3_TO_UNICODE.get(char, char) for char in chars)
    # `.VnTime` has no capitals with a tone: a clerk typed them in `.VnTimeH`, which draws the small letters' codes
    # as capitals, so the file only says "small". A line in capitals (`TH¤NG B¸O`), a word in capitals and a line's
    # or a sentence's first letter are given their capitals back.
    lines = []
    for line in converted.split("\n"):
        ascii_letters = [char for char in line if char.isascii() and char.isalpha()]
        if len(ascii_letters) >= 3 and all(char.isupper() for char in ascii_letters):
            line = line.upper()
        else:
            line = _WORD_CHARS.sub(lambda word: word.group().upper() if _in_capitals(word.group()) else word.group(), line)
        lines.append(_SENTENCE_START.sub(lambda start: start.group().upper(), line))
    return "\n".join(lines)


_WORD_CHARS = re.compile(r"\w+")
_SENTENCE_START = re.compile(r"(?:^|(?<=[.!?] ))[^\x00-\x7f]")


def _in_capitals(word: str) -> bool:
    ascii_letters = [char for char in word if char.isascii() and char.isalpha()]
    return len(ascii_letters) >= 2 and all(char.isupper() for char in ascii_letters)


def _from_vni(chars: str) -> str:
    out: list[str] = []
    for char in chars:
        previous = out[-1] if out else ""
        if char in VNI_MARKS and char.lower() in _VNI_BASES.get(previous.lower(), ""):
            out[-1] = unicodedata.normalize("NFC", previous + VNI_MARKS[char])
        elif char in VNI_LETTERS:
            out.append(VNI_LETTERS[char])
        else:
            out.append(char)
    return "".join(out)


def convert(raw: bytes, legacy: Legacy) -> str:
    """The Unicode NFC text of `raw` written in a legacy Vietnamese encoding."""
    chars = _legacy_bytes_as_text(raw)
    text = _from_tcvn3(chars) if legacy is Legacy.TCVN3 else _from_vni(chars)
    return unicodedata.normalize("NFC", text)


# --- telling Vietnamese from mojibake -----------------------------------------------------------------------------

_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")
_SYLLABLE = re.compile(
    r"(ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnprstvx])?"
    r"(uyê|uya|iê|yê|ia|ya|ua|uô|ưa|ươ|oa|oă|oe|uy|uâ|uê|uơ|a|ă|â|e|ê|i|y|o|ô|ơ|u|ư)"
    r"(ch|ng|nh|[cmnptiyou])?"
)
# A word: letters, and the Latin-1 symbols that stand for letters in the legacy fonts (« ¸ µ ¤ ...).
_WORD = re.compile(r"(?:[^\W\d_]|[\u00a1-\u00bf\u00d7\u00f7])+")


def is_syllable(word: str) -> bool:
    """Whether `word` is one Vietnamese syllable (with at most one tone), in any case."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    if sum(char in _TONES for char in decomposed) > 1:
        return False
    toneless = unicodedata.normalize("NFC", "".join(char for char in decomposed if char not in _TONES))
    found = _SYLLABLE.fullmatch(toneless)
    # A vowel never ends a syllable twice: `bỏo`, `hii` are mojibake, `boong` is not (its `ng` is the end).
    return found is not None and not (found.group(3) and found.group(3) == found.group(2)[-1])


def marked_words(text: str) -> Iterable[str]:
    """The words of `text` that hold a letter beyond ASCII or a legacy font's symbol: the ones an encoding changes."""
    return (word for word in _WORD.findall(text) if not word.isascii() and any(char.isalpha() for char in word))


def vietnamese_score(text: str) -> tuple[int, int]:
    """(syllables, other words) among the words of `text` with marks."""
    words = list(marked_words(text))
    good = sum(is_syllable(word) for word in words)
    return good, len(words) - good


def is_clean(score: tuple[int, int]) -> bool:
    """Whether a reading is Vietnamese enough to show: nearly every marked word a syllable."""
    good, bad = score
    return bad <= max(1, (good + bad) // 10) if good else bad == 0


def best_reading(readings: dict[str, str]) -> str | None:
    """The name of the reading that makes the most clean Vietnamese (the first of equals); None if none is clean.

    `readings` maps a name (an encoding) to the text it gives, in order of preference.
    """
    scores = {name: vietnamese_score(unicodedata.normalize("NFC", text)) for name, text in readings.items()}
    clean = [name for name, score in scores.items() if is_clean(score)]
    if not clean:
        return None
    return max(clean, key=lambda name: scores[name][0] - scores[name][1])  # max() keeps the first of equals


def undo_mojibake(text: str) -> str:
    """`text` itself, or its TCVN3 or VNI reading when it is legacy-font text pasted as Windows-1252 characters.

    Plain Vietnamese is never changed: the legacy reading must be clean and make more syllables than the text as it is.
    """
    raw = text_as_legacy_bytes(text)
    if raw is None or not any(byte >= 0xA1 for byte in raw):
        return text
    readings = {"as is": text, **{legacy.value: convert(raw, legacy) for legacy in Legacy}}
    return readings[best_reading(readings) or "as is"]
