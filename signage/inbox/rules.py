"""The drop folder's naming rules and quarantine reasons (pure): what is ignored, what a name says, ids."""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import unicodedata
from fnmatch import fnmatch

from signage.model import Kind, Priority
from signage.text import printable

# Temporary names of copies in progress and the litter of office software: never taken, never quarantined.
IGNORED = ("*.part", "*.crdownload", "*.tmp", "~$*", ".~lock*", ".*", "Thumbs.db", "desktop.ini", "*.reason.txt", "*.toml", "*.toml.txt")

KINDS: dict[str, tuple[Kind, str | None]] = {
    ".txt": (Kind.TEXT, None),
    ".docx": (Kind.TEXT, None),
    ".jpg": (Kind.IMAGE, "image/jpeg"),
    ".jpeg": (Kind.IMAGE, "image/jpeg"),
    ".png": (Kind.IMAGE, "image/png"),
    ".webp": (Kind.IMAGE, "image/webp"),
    # Phone and camera images: judged by their bytes and made JPEG or PNG as taken (media.images.take_image).
    ".jfif": (Kind.IMAGE, "image/jpeg"),
    ".heic": (Kind.IMAGE, "image/jpeg"),
    ".heif": (Kind.IMAGE, "image/jpeg"),
    ".gif": (Kind.IMAGE, "image/png"),
    ".bmp": (Kind.IMAGE, "image/png"),
    ".tif": (Kind.IMAGE, "image/png"),
    ".tiff": (Kind.IMAGE, "image/png"),
    ".mp4": (Kind.VIDEO, "video/mp4"),
    ".webm": (Kind.VIDEO, "video/webm"),
    ".pdf": (Kind.PDF, "application/pdf"),
    # Office files: LibreOffice's PDF of them plays, one slide per page (media.office); .docx is read as text.
    ".doc": (Kind.PDF, "application/pdf"),
    ".odt": (Kind.PDF, "application/pdf"),
    ".rtf": (Kind.PDF, "application/pdf"),
    ".pptx": (Kind.PDF, "application/pdf"),
    ".ppt": (Kind.PDF, "application/pdf"),
    ".odp": (Kind.PDF, "application/pdf"),
    ".xlsx": (Kind.PDF, "application/pdf"),
    ".ods": (Kind.PDF, "application/pdf"),
    ".mp3": (Kind.AUDIO, "audio/mpeg"),
    ".ogg": (Kind.AUDIO, "audio/ogg"),
    ".m4a": (Kind.AUDIO, "audio/mp4"),
    # Phone and camera files keep the feed's types: the type says how the board plays it, the bytes name the
    # container (signage/media/probe.py CONTAINERS), and the streams in them say video or sound.
    ".mov": (Kind.VIDEO, "video/mp4"),
    ".avi": (Kind.VIDEO, "video/mp4"),
    ".wmv": (Kind.VIDEO, "video/mp4"),
    ".mpg": (Kind.VIDEO, "video/mp4"),
    ".mpeg": (Kind.VIDEO, "video/mp4"),
    ".3gp": (Kind.VIDEO, "video/mp4"),
    ".wav": (Kind.AUDIO, "audio/mp4"),
    ".aac": (Kind.AUDIO, "audio/mp4"),
    ".amr": (Kind.AUDIO, "audio/mp4"),
    ".flac": (Kind.AUDIO, "audio/mp4"),
    ".wma": (Kind.AUDIO, "audio/mp4"),
    ".opus": (Kind.AUDIO, "audio/ogg"),
}


# One line each, Vietnamese first: printed in the clerk's guide and written beside each set-aside file.
REASONS = {
    # Made from KINDS, so the clerk is never told a type the board takes is refused.
    "unsupported": (f"loại tệp không được hỗ trợ (chỉ nhận {', '.join(KINDS)})", "unsupported file type"),
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
    "office": (
        "không chuyển được tệp văn phòng (Word, PowerPoint, Excel, OpenDocument) để hiển thị",
        "the office file could not be converted for the board",
    ),
    "video": ("video không có hình ảnh giải mã được", "the video has no decodable picture"),
    "audio": ("âm thanh không giải mã được", "the audio cannot be decoded"),
    "sidecar": ("tệp cấu hình đi kèm (.toml) bị sai", "the settings file (.toml) beside it is wrong"),
    "expired": ("đã hết hạn: thông báo không còn được phát", "expired: the notice would never play"),
    "never": (
        "không có khung giờ nào để phát trong thời gian hiệu lực",
        "none of its time slots comes up while it is valid: it would never play",
    ),
    "stalled": ("tệp vẫn đang được chép sau 60 phút", "still being written after 60 minutes"),
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


# What a name after `KHAN_`/`UUTIEN_` may be separated by; `Khanh Hoa` has none, so it is no emergency.
PRIORITY_SEPARATORS = " _-"


def _spelled(text: str, start: int, bare: str, marked: str) -> int | None:
    """Where `bare` ends if spelled at `text[start:]` in any case, each letter bare or with exactly its own marks.

    So `khan` and `KHẨN` are the prefix but `khăn` (scarf), `khán` (audience) and `khấn` (pray), which fold to
    the same letters as ascii_slug would fold them, are other words.
    """
    end = start + len(bare)
    if end > len(text):
        return None
    for letter, plain, accented in zip(text[start:end].lower(), bare, marked, strict=True):
        if letter not in (plain, accented):
            return None
    return end


def _separated(text: str, start: int) -> int:
    end = start
    while end < len(text) and text[end] in PRIORITY_SEPARATORS:
        end += 1
    return end


def _emergency_end(text: str) -> int | None:
    word = _spelled(text, 0, "khan", "khẩn")
    if word is None:
        return None
    after = _separated(text, word)
    if after == word:
        return None
    if text[:word].lower() == "khan" and not text[:word].isupper() and not text[word:after].strip(" "):
        return None  # `Khan hiem nuoc`: the word khan hiếm typed bare; a wrong emergency would hold the whole board
    if not text[word:after].strip(" "):  # `Khẩn cấp Bão số 9`, `KHAN CAP_...`: the phrase; `KHẨN_Cấp nước` is supply
        phrase = _spelled(text, after, "cap", "cấp")
        if phrase is not None and (text[after:phrase].lower() == "cấp" or text[:phrase].isupper()):
            beyond = _separated(text, phrase)
            if beyond > phrase or beyond == len(text):
                return beyond
    return after


def _high_end(text: str) -> int | None:
    first = _spelled(text, 0, "uu", "ưu")
    if first is None:
        return None
    second = _spelled(text, _separated(text, first), "tien", "tiên")
    if second is None:
        return None
    after = _separated(text, second)
    return after if after > second else None


def split_priority(stem: str) -> tuple[Priority, str]:
    """`KHAN_Bao so 9` → (emergency, "Bao so 9"); `KHẨN `, `khan-`, `ƯU TIÊN_`, `uu-tien-` too, in any case.

    The prefix is recognised with or without its accents; the rest keeps its own.
    """
    text = unicodedata.normalize("NFC", stem)
    for find, priority in ((_emergency_end, Priority.EMERGENCY), (_high_end, Priority.HIGH)):
        end = find(text)
        if end is not None:
            # The rest as written (a Mac writes accents decomposed), so `signage import` can put a folder
            # between the prefix and the rest; the prefix ends on a separator, which NFC never joins.
            written = next((i for i in range(len(stem) + 1) if unicodedata.normalize("NFC", stem[:i]) == text[:end]), None)
            return priority, text[end:] if written is None else stem[written:]
    return Priority.NORMAL, stem


KIND_TITLES = {Kind.IMAGE: "Hình ảnh", Kind.VIDEO: "Video", Kind.AUDIO: "Ghi âm"}

# How cameras, phones and chat apps begin the names they make, and what such a file usually is.
CAMERA_HEADS = re.compile(
    r"^(?:(?P<screen>ảnh chụp màn hình|ảnh màn hình|screen ?shot)"
    r"|(?P<pixel>pxl)"
    r"|(?P<image>whatsapp image|fb_img|mvimg|img|pano|dscn|dscf|dsc|photo)"
    r"|(?P<video>whatsapp video|screen ?recording|vid|mvi|mov|gopr|dji)"
    r"|(?P<audio>whatsapp audio|recording|voice|aud|ptt|rec|ghi âm))"
    r"(?=[\W_\d]|$)",
    re.IGNORECASE,
)
CAMERA_STAMP = re.compile(
    r"^[\s_.-]*(?P<year>20\d\d)[_.-]?(?P<month>\d\d)[_.-]?(?P<day>\d\d)"
    r"(?:[\s_.-]*(?:at|lúc)?[\s_.-]*(?P<hour>\d\d)[_.:h-]?(?P<minute>\d\d)(?:[_.:-]?\d\d)?)?",
    re.IGNORECASE,
)
# What may follow a camera's number or stamp: more digits, WhatsApp's counter, the phone's tags, a copy's mark.
CAMERA_TAIL = re.compile(
    r"(?:[\s_.~()-]|\d|wa\d+|hdr|burst|cover|portrait|night|mp|ls|top|edited|edit|copy|bản sao)*",
    re.IGNORECASE,
)
ZALO_NAME = re.compile(r"z\d{10,}_[0-9a-f]{32}", re.IGNORECASE)
# `signage import` names `Thang 11/IMG_1234.jpg` on a stick `Thang 11 - IMG_1234.jpg`: the folder stays in the title.
FOLDER_JOIN = " - "
PIXEL_HOURS_AHEAD = 7  # Google's camera names files by UTC; the boards are in Việt Nam (UTC+7, no daylight saving)


def _camera_name(text: str) -> tuple[Kind, str] | None:
    """(what the camera made, `25/11/2026 08:15` or `25/11/2026` or ``) when `text` is a name a device made."""
    if ZALO_NAME.fullmatch(text):
        return Kind.IMAGE, ""
    head = CAMERA_HEADS.match(text)
    group = head.lastgroup if head else None
    rest = text[head.end() :] if head else text
    guess = {"video": Kind.VIDEO, "audio": Kind.AUDIO}.get(group or "", Kind.IMAGE)
    stamp = CAMERA_STAMP.match(rest)
    when = ""
    if stamp:
        rest = rest[stamp.end() :]
        year, month, day = (int(stamp[part]) for part in ("year", "month", "day"))
        try:
            moment = datetime.datetime(year, month, day)
        except ValueError:
            moment = None
        if moment is not None:
            when = moment.strftime("%d/%m/%Y")
            hour, minute = stamp["hour"], stamp["minute"]
            if hour is not None and int(hour) < 24 and int(minute) < 60:
                moment = moment.replace(hour=int(hour), minute=int(minute))
                if group == "pixel":
                    moment += datetime.timedelta(hours=PIXEL_HOURS_AHEAD)
                when = moment.strftime("%d/%m/%Y %H:%M")
    elif head is None or not any(ch.isdigit() for ch in rest):
        return None  # a name a person wrote (`Video huong dan`), not a device's counter
    if group == "screen" and stamp:
        return guess, when  # a screenshot's stamp may be followed by the app's name: `_com.zing.zalo`
    if head is None and not (stamp and stamp["hour"]):
        return None  # `2026-11-25` is a date a person typed; a phone's own name has the time too
    if not CAMERA_TAIL.fullmatch(rest):
        return None
    return guess, when


def title_from_name(stem: str, kind: Kind | None = None) -> str:
    """A file name made readable: `thong_bao-hop-dan` → `thong bao-hop-dan`; control characters become spaces.

    A name a camera or phone made is no title: `IMG_20261125_081530` → `Hình ảnh 25/11/2026 08:15`, `DSC01234`
    → `Hình ảnh`, and a video or recording by its `kind` (when not given, the name's own head tells).
    """
    visible = "".join(" " if unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in stem)
    readable = unicodedata.normalize("NFC", re.sub(r"[_\s]+", " ", visible).strip())
    if kind is None or kind in KIND_TITLES:
        whole = unicodedata.normalize("NFC", visible.strip())
        folders, join, last = whole.rpartition(FOLDER_JOIN)
        for before, name in (("", whole), (folders, last)):
            camera = _camera_name(name) if name else None
            if camera is not None:
                made, when = camera
                shown = f"{KIND_TITLES[kind or made]} {when}".strip()
                return f"{title_from_name(before, Kind.TEXT)}{join}{shown}" if before else shown
    return readable or visible.strip() or "Thông báo"


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
