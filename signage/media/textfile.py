"""Plain-text notices: the first non-empty line is the title, the rest the body."""

from __future__ import annotations

from pathlib import Path

from signage.errors import MediaError
from signage.text import clean_text

MAX_TEXT_BYTES = 256 * 1024


def read_notice(path: Path) -> tuple[str, str]:
    """(title, body) of a UTF-8 text file (a BOM is allowed), NFC-normalised."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise MediaError(f"{path}: file not found") from None
    except OSError as exc:
        raise MediaError(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_TEXT_BYTES:
        raise MediaError(f"{path}: text notice of {len(raw)} bytes is over the {MAX_TEXT_BYTES // 1024} KiB limit")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MediaError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    text, _ = clean_text(text)
    lines = text.strip().split("\n")
    title, body = lines[0].strip(), "\n".join(lines[1:]).strip()
    if not title:
        raise MediaError(f"{path}: empty text notice")
    return title, body or title
