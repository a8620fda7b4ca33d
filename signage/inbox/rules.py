"""The drop folder's naming rules and quarantine reasons (pure): what is ignored, what a name says, ids."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from fnmatch import fnmatch

from signage.model import Kind, Priority
from signage.text import printable

# Temporary names of copies in progress and the litter of office software: never taken, never quarantined.
IGNORED = ("*.part", "*.crdownload", "*.tmp", "~$*", ".~lock*", ".*", "Thumbs.db", "desktop.ini", "*.reason.txt", "*.toml")

KINDS: dict[str, tuple[Kind, str | None]] = {
    ".txt": (Kind.TEXT, None),
    ".docx": (Kind.TEXT, None),
    ".jpg": (Kind.IMAGE, "image/jpeg"),
    ".jpeg": (Kind.IMAGE, "image/jpeg"),
    ".png": (Kind.IMAGE, "image/png"),
    ".webp": (Kind.IMAGE, "image/webp"),
    ".mp4": (Kind.VIDEO, "video/mp4"),
    ".webm": (Kind.VIDEO, "video/webm"),
    ".pdf": (Kind.PDF, "application/pdf"),
    ".mp3": (Kind.AUDIO, "audio/mpeg"),
    ".ogg": (Kind.AUDIO, "audio/ogg"),
    ".m4a": (Kind.AUDIO, "audio/mp4"),
}

PREFIXES = {"KHAN_": Priority.EMERGENCY, "UUTIEN_": Priority.HIGH}

# One line each, Vietnamese first: printed in the clerk's guide and written beside each set-aside file.
REASONS = {
    "unsupported": (
        "loại tệp không được hỗ trợ (chỉ nhận .txt, .docx, .jpg, .png, .webp, .mp4, .webm, .pdf, .mp3, .ogg, .m4a)",
        "unsupported file type",
    ),
    "empty": ("tệp rỗng", "the file is empty"),
    "impostor": ("nội dung tệp không đúng với đuôi tên tệp", "the file's contents do not match its extension"),
    "image": ("ảnh bị hỏng hoặc không đọc được", "the image is damaged or unreadable"),
    "bomb": ("ảnh quá lớn, vượt giới hạn điểm ảnh", "the image is too large (pixel limit)"),
    "text": ("không đọc được nội dung văn bản", "the text cannot be read"),
    "docx": ("tệp Word (.docx) bị hỏng hoặc không có nội dung", "the Word file is damaged or empty"),
    "too_long": (
        "văn bản quá dài hoặc tệp quá lớn cho bảng tin (tối đa 20.000 ký tự, 2.000 dòng)",
        "the notice is too long or the file too large for a board",
    ),
    "pdf": ("không mở được tệp PDF", "the PDF will not open"),
    "video": ("video không có hình ảnh giải mã được", "the video has no decodable picture"),
    "audio": ("âm thanh không giải mã được", "the audio cannot be decoded"),
    "sidecar": ("tệp cấu hình đi kèm (.toml) bị sai", "the settings file (.toml) beside it is wrong"),
    "link": ("là liên kết (symlink) tới nơi khác, không phải tệp thật: không mở", "a symbolic link, not a file: not opened"),
    "hardlink": (
        "tệp có liên kết cứng (hard link) ở nơi khác, có thể là tệp riêng của máy: không mở",
        "the file has other hard links (it may be one of the board's own files): not opened",
    ),
    "sidecar_link": (
        "tệp cấu hình đi kèm (.toml) là liên kết hoặc không phải tệp thường: không mở",
        "the settings file (.toml) beside it is a link or not a regular file: not opened",
    ),
    "special": ("không phải tệp thông thường (ống, thiết bị): không mở", "not a regular file (a pipe or a device): not opened"),
    "name": ("tên tệp không phải chữ Unicode (UTF-8): hãy đặt lại tên", "the file name is not UTF-8: rename it"),
    "unreadable": ("không đọc được tệp", "the file cannot be read"),
    "deep": ("thư mục lồng quá sâu: không nhập", "folders nested too deep: not imported"),
}

NAME_MAX = 255  # bytes in one file name on Linux filesystems (ext4, vfat, exFAT, NTFS through the kernel)
REASON_SUFFIX = ".reason.txt"
# A name in quarantine leaves room for the longest name made from it: `<name>.reason.txt`.
QUARANTINE_NAME_BYTES = NAME_MAX - len(REASON_SUFFIX)


def ignored(name: str) -> bool:
    return any(fnmatch(name, pattern) for pattern in IGNORED)


def kind_of(name: str) -> tuple[Kind, str | None] | None:
    for suffix, kind in KINDS.items():
        if name.lower().endswith(suffix):
            return kind
    return None


def split_priority(stem: str) -> tuple[Priority, str]:
    """`KHAN_Bao so 9` → (emergency, "Bao so 9"); the prefix is case-insensitive."""
    for prefix, priority in PREFIXES.items():
        if stem.upper().startswith(prefix):
            return priority, stem[len(prefix) :]
    return Priority.NORMAL, stem


def title_from_name(stem: str) -> str:
    """A file name made readable: `thong_bao-hop-dan` → `thong bao hop dan`; control characters become spaces."""
    visible = "".join(" " if unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in stem)
    return unicodedata.normalize("NFC", re.sub(r"[_\s]+", " ", visible).strip()) or visible.strip() or "Thông báo"


def utf8_name(name: str) -> bool:
    """Whether a name from the disk was valid UTF-8 (else Python holds its stray bytes as lone surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def fit_name(name: str, limit: int = QUARANTINE_NAME_BYTES, counter: int = 0) -> str:
    """`name` (with `-<counter>` before its extension when counter > 0) in at most `limit` bytes.

    A name that does not fit is cut at a character boundary and given `~<8 hex of its SHA-256>` before
    its extension, so two long names that share a beginning stay apart and the type stays readable.
    """
    raw = os.fsencode(name)
    stem, dot, suffix = raw.rpartition(b".")
    if not dot or not stem or len(suffix) > 16:
        stem, suffix = raw, b""
    extension = b"." + suffix if suffix else b""
    tail = f"-{counter}".encode() if counter else b""
    if len(stem) + len(tail) + len(extension) <= limit:
        return os.fsdecode(stem + tail + extension)
    tag = b"~" + hashlib.sha256(raw).hexdigest()[:8].encode()
    room = limit - len(tag) - len(tail) - len(extension)
    cut = stem[:room]
    while cut and len(cut) < len(stem) and (stem[len(cut)] & 0xC0) == 0x80:  # never half a UTF-8 letter
        cut = cut[:-1]
    return os.fsdecode(cut + tag + tail + extension)


def ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(ch for ch in folded if unicodedata.category(ch) != "Mn").lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")


def bulletin_id(name: str) -> str:
    """A stable id for a file in the folder: readable, and unique by a short hash of the exact name."""
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"inbox-{ascii_slug(name.rsplit('.', 1)[0])[:40] or 'tep'}-{digest}".replace("--", "-")


def reason_line(name: str, code: str, detail: str) -> str:
    """One line naming the file and the problem; the name and detail escaped, as a terminal or an editor shows them."""
    vietnamese, english = REASONS[code]
    return f"{printable(name)}: {vietnamese} / {english} ({printable(detail)})"
