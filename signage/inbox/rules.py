"""The drop folder's naming rules and quarantine reasons (pure): what is ignored, what a name says, ids."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from fnmatch import fnmatch

from signage.model import Kind, Priority

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
    "pdf": ("không mở được tệp PDF", "the PDF will not open"),
    "video": ("video không có hình ảnh giải mã được", "the video has no decodable picture"),
    "audio": ("âm thanh không giải mã được", "the audio cannot be decoded"),
    "sidecar": ("tệp cấu hình đi kèm (.toml) bị sai", "the settings file (.toml) beside it is wrong"),
}


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
    """A file name made readable: `thong_bao-hop-dan` → `thong bao hop dan`."""
    return unicodedata.normalize("NFC", re.sub(r"[_\s]+", " ", stem).strip()) or stem


def ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(ch for ch in folded if unicodedata.category(ch) != "Mn").lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")


def bulletin_id(name: str) -> str:
    """A stable id for a file in the folder: readable, and unique by a short hash of the exact name."""
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"inbox-{ascii_slug(name.rsplit('.', 1)[0])[:40] or 'tep'}-{digest}".replace("--", "-")


def reason_line(name: str, code: str, detail: str) -> str:
    vietnamese, english = REASONS[code]
    return f"{name}: {vietnamese} / {english} ({detail})"
