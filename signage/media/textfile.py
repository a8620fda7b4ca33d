"""Plain-text notices: their encoding told from their bytes (old Vietnamese fonts too); the first line is the title, the rest the body.

A notice is at most 256 KiB of bytes and, once decoded, within the caps of signage/limits.py.
"""

from __future__ import annotations

import codecs
import os
import re
from pathlib import Path

from signage.errors import MediaError, OverLimit
from signage.legacy import Legacy, best_reading, convert, undo_mojibake
from signage.limits import too_long
from signage.text import clean_text

MAX_TEXT_BYTES = 256 * 1024

# Control characters no notice contains: their presence means the bytes were not text (or not in
# the encoding guessed). Tab, newline, carriage return and form feed are what editors write.
_STRAY_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")

# How much of a file the UTF-16 guess looks at: the start is enough to see the pattern.
_UTF16_SAMPLE_BYTES = 4096


def _utf16_without_bom(raw: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' when the NULs sit in one byte of each pair, as BOM-less UTF-16 text has.

    Vietnamese text is mostly ASCII letters, spaces and digits, whose high byte is NUL; the letters
    with marks (U+00C0–U+01B0, U+1EA0–U+1EF9) are the rest, and their high byte is not.
    """
    sample = raw[:_UTF16_SAMPLE_BYTES]
    pairs = len(sample) // 2
    if pairs == 0:
        return None
    even_nuls = sample[0 : pairs * 2 : 2].count(0)
    odd_nuls = sample[1 : pairs * 2 : 2].count(0)
    if odd_nuls >= 0.3 * pairs and even_nuls <= 0.05 * pairs:
        return "utf-16-le"
    if even_nuls >= 0.3 * pairs and odd_nuls <= 0.05 * pairs:
        return "utf-16-be"
    return None


def _choose_encoding(raw: bytes, origin: str) -> str:
    """The encoding the bytes were written in: a BOM, then the NUL pattern of UTF-16, then UTF-8, else Windows-1258."""
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # the codec reads the BOM for the byte order and drops it
    if b"\x00" in raw:
        utf16 = _utf16_without_bom(raw)
        if utf16 is None:
            raise MediaError(f"{origin}: not a text file (binary: it holds NUL bytes)")
        return utf16
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        # Notepad before Windows 10 1903, Word's "Plain Text" and old Vietnamese software save in
        # the ANSI code page, which on a Vietnamese Windows is 1258.
        return "cp1258"
    return "utf-8"


def decode_text(raw: bytes, origin: str) -> str:
    """The text in `raw`, NFC-normalised, line endings made "\\n"; `origin` names the file in errors.

    Windows-1258 writes most tone marks as combining characters after the letter; NFC folds them
    into the precomposed letters the fonts and the rest of signage expect. Bytes that are not UTF-8
    may also be TCVN3 or VNI (the old `.VnTime` and `VNI-Times` fonts): the reading that makes the
    most clean Vietnamese is taken, and none is shown raw.
    """
    encoding = _choose_encoding(raw, origin)
    if encoding == "cp1258":
        text = _read_8bit(raw, origin)
    else:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise MediaError(f"{origin}: not a text file (byte {exc.start} is not valid {encoding})") from None
        _refuse_controls(text, encoding, origin)
        # Text from a legacy font pasted into a Unicode editor: the font's bytes as Windows-1252 characters.
        text = undo_mojibake(text)
    text, _ = clean_text(text)
    if not text.strip():
        raise MediaError(f"{origin}: empty text notice")
    return text


def _refuse_controls(text: str, encoding: str, origin: str) -> None:
    stray = _STRAY_CONTROL.search(text)
    if stray:
        raise MediaError(f"{origin}: not a text file (control character U+{ord(stray.group()):04X} as {encoding})")


def _read_8bit(raw: bytes, origin: str) -> str:
    """Bytes that are not UTF-8: Windows-1258, TCVN3 or VNI, whichever makes clean Vietnamese."""
    readings: dict[str, str] = {}
    first_problem: MediaError | None = None
    try:
        readings["cp1258"] = raw.decode("cp1258")
    except UnicodeDecodeError as exc:
        first_problem = MediaError(f"{origin}: not a text file (byte {exc.start} is not valid cp1258)")
    for legacy in Legacy:
        readings[legacy.value] = convert(raw, legacy)
    for name, text in list(readings.items()):
        try:
            _refuse_controls(text, name, origin)
        except MediaError as exc:
            first_problem = first_problem or exc
            del readings[name]
    if not readings:
        assert first_problem is not None
        raise first_problem
    best = best_reading(readings)
    if best is None:
        raise MediaError(f"{origin}: không đọc được chữ tiếng Việt: bảng mã không rõ (not Vietnamese as Windows-1258, TCVN3 or VNI)")
    return readings[best]


def read_notice(path: Path) -> tuple[str, str]:
    """(title, body) of a text file in UTF-8, UTF-16, Windows-1258, TCVN3 or VNI, NFC-normalised."""
    try:
        with path.open("rb") as handle:
            # One byte past the limit tells "too big" without reading a huge file into memory.
            raw = handle.read(MAX_TEXT_BYTES + 1)
            size = os.fstat(handle.fileno()).st_size
    except FileNotFoundError:
        raise MediaError(f"{path}: file not found") from None
    except OSError as exc:
        raise MediaError(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_TEXT_BYTES:
        raise OverLimit(f"{path}: text notice of {size} bytes is over the {MAX_TEXT_BYTES // 1024} KiB limit")
    return split_notice(decode_text(raw, str(path)), str(path))


def split_notice(text: str, origin: str) -> tuple[str, str]:
    """(title, body) of a decoded notice: its first line and the rest; refused past the caps of signage/limits.py."""
    lines = text.strip().split("\n")
    title, body = lines[0].strip(), "\n".join(lines[1:]).strip()
    problem = too_long(title, body or title)
    if problem is not None:
        raise OverLimit(f"{origin}: too long for a notice: {problem}")
    return title, body or title
