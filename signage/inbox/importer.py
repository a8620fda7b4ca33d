"""`signage import PATH`: files from a folder (a USB stick's BANGTIN/) copied into the drop folder and taken at once.

The stick is the attacker's: its folder and every folder below are opened without following links,
each file through a descriptor checked to be a regular file with one link (`reading.py`), and only
that descriptor is read. Links, pipes and devices are not copied; each is told, one line, and noted
in quarantine with its reason so that `signage status` shows it. One bad file never stops the others.

The drop folder is flat: a file in a subfolder is named after its folders (`Thang 11/Thong bao.jpg` becomes
`Thang 11 - Thong bao.jpg`), a different file never overwrites one already there (it gets `-1`, `-2`…),
and a file whose bytes are already there under its name is not copied again.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from signage.config import BoardConfig
from signage.errors import SignageError, StoreError
from signage.inbox.ingest import Inbox, quarantine_name, write_reason
from signage.inbox.reading import Refused, copy_hashing, open_folder, open_regular
from signage.inbox.rules import NAME_MAX, fit_name, ignored, reason_line, split_priority
from signage.model import Priority
from signage.store.db import Store
from signage.store.files import ContentStore, fsync_dir
from signage.text import printable

log = logging.getLogger(__name__)

MAX_DEPTH = 8  # folders below BANGTIN/ that are looked into; deeper ones are told, not walked
# Folders of the systems that wrote the stick, never a clerk's notices (hidden ones start with "." or "$").
SYSTEM_FOLDERS = frozenset({"System Volume Information", "LOST.DIR", "lost+found"})
SETTINGS_SUFFIXES = (".toml.txt", ".toml")  # a notice's settings travel with it, under its new name
FOLDER_JOIN = " - "
MAX_COUNTER = 999  # `-1` … `-999` beside a name already taken; past that the file is told, not copied

SKIPPED_HIDDEN = "tệp ẩn hoặc tệp của hệ thống, không phải bản tin"
SKIPPED_TEMPORARY = "tệp tạm hoặc tệp đang chép dở"
SKIPPED_FOLDER = "thư mục ẩn hoặc thư mục của hệ thống"
SKIPPED_DEEP = f"thư mục lồng quá sâu (quá {MAX_DEPTH} cấp): không nhập các tệp bên trong"


@dataclass
class _Outcome:
    copied: list[tuple[str, str]] = field(default_factory=list)  # (shown path on the stick, name in the drop folder)
    present: list[tuple[str, str]] = field(default_factory=list)  # the same bytes already there, under that name
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # (shown path, reason code, detail)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (shown path, why, in Vietnamese)
    noted: list[tuple[str, str, str]] = field(default_factory=list)  # skipped, yet noted in quarantine for `status`


def _skipped_folder(name: str) -> bool:
    return name.startswith((".", "$")) or name in SYSTEM_FOLDERS


def _settings_suffix(name: str) -> str | None:
    return next((suffix for suffix in SETTINGS_SUFFIXES if name.lower().endswith(suffix)), None)


def drop_name(folders: tuple[str, ...], name: str) -> str:
    """The name in the flat drop folder of `name` found in `folders` of the stick (pure).

    The folders go in front, joined by " - "; a priority prefix (`KHAN_`, `UUTIEN_`) stays first, so that
    `Thang 11/KHAN_bao lu.txt` is still an emergency: `KHAN_Thang 11 - bao lu.txt`.
    """
    if not folders:
        return name
    composed = unicodedata.normalize("NFC", name)  # a Mac writes decomposed names: the prefix is cut from a composed one
    priority, rest = split_priority(composed)
    if priority is Priority.NORMAL:
        return FOLDER_JOIN.join([*folders, name])
    prefix = composed[: len(composed) - len(rest)]
    return prefix + FOLDER_JOIN.join([*folders, rest])


def _why_ignored(name: str) -> str:
    if name.lower().endswith((".part", ".crdownload", ".tmp")):
        return SKIPPED_TEMPORARY
    return SKIPPED_HIDDEN


def import_folder(config: BoardConfig, source: Path) -> list[str]:
    """Copy every file under `source` into the drop folder (atomically: a hidden name, then a rename), then take them.

    The copies are complete, so nothing waits to hold still: a file that will not decode is set aside at once.
    Returns the summary, one line each (taken, set aside with the reason, already there, skipped), then the total.
    """
    if config.inbox is None:
        raise SignageError(f"{config.path}: no [inbox] section: nowhere to import into")
    inbox = config.inbox.path
    inbox.mkdir(parents=True, exist_ok=True)
    outcome = _Outcome()
    root_fd = _open_source(source)
    inbox_fd = os.open(inbox, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _copy_folder(root_fd, (), inbox, inbox_fd, outcome)
    finally:
        os.close(root_fd)
        os.close(inbox_fd)
    fsync_dir(inbox)
    refusals = [_note_refusal(config, shown, code, detail) for shown, code, detail in outcome.refused]
    for shown, code, detail in outcome.noted:
        _note_refusal(config, shown, code, detail)
    store = Store(config.board.data_dir / "board.db")
    try:
        taker = Inbox(config, ContentStore(config.board.data_dir / "media"), lambda: datetime.now(config.board.timezone))
        changes = taker.poll(store, time.monotonic(), settle=0, patience=0)
        taken = set(store.inbox_files())
    finally:
        store.close()
    return _summary(source, inbox, outcome, refusals, changes, taken)


def _summary(source: Path, inbox: Path, outcome: _Outcome, refusals: list[str], changes: list[str], taken: set[str]) -> list[str]:
    """What the clerk reads: one line a file, Vietnamese first (the inbox's own line kept as the detail), then a total."""
    remaining = list(changes)

    def change_for(prefix: str) -> str | None:
        found = next((line for line in remaining if line.startswith(prefix)), None)
        if found is not None:
            remaining.remove(found)
        return found

    lines, taken_count, aside_count = [], 0, len(refusals)
    for shown, name in outcome.copied:
        escaped = printable(name)
        on_stick = "" if shown == name else f" (trên USB: {printable(shown)})"
        if name in taken:
            change = change_for(f"{escaped}: ") or escaped
            lines.append(f"đã nhận: {change}{on_stick}")
            taken_count += 1
        elif (change := change_for(f"set aside: {escaped}: ")) is not None:
            lines.append(f"để riêng / {change}{on_stick}")
            aside_count += 1
        elif _settings_suffix(name) is not None:
            lines.append(f"kèm theo: {escaped}: tệp cài đặt của bản tin cùng tên{on_stick}")
        else:
            lines.append(f"đã chép, chưa nhận: {escaped}{on_stick}")
    lines += [f"để riêng: {line}" for line in refusals]
    lines += [
        f"đã có sẵn, không chép lại: {printable(shown)} (giống hệt {printable(name)} trong thư mục bảng tin)"
        for shown, name in outcome.present
    ]
    lines += [f"bỏ qua: {printable(shown)} ({why})" for shown, why in outcome.skipped]
    lines += remaining  # what else the drop folder did in the same look (a file withdrawn, another taken)
    lines.append(
        f"Tổng cộng: {taken_count} tệp đã nhận, {aside_count} tệp để riêng, {len(outcome.skipped)} mục bỏ qua, "
        f"{len(outcome.present)} tệp đã có sẵn (từ {printable(str(source))} vào {inbox})"
    )
    return lines


def _open_source(source: Path) -> int:
    """The source folder's descriptor; its last component must be a real folder, not a link on the stick.

    The path is read as written (`usb/BANGTIN/..` is `usb`, never the parent of where a link points);
    the folders above it (the mount point) are the system's and may be links.
    """
    plain = Path(os.path.abspath(source))
    shown = printable(str(source))
    try:
        if plain.parent == plain:  # the root folder itself
            return os.open(plain, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        parent_fd = os.open(plain.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            return open_folder(plain.name, parent_fd)
        finally:
            os.close(parent_fd)
    except Refused:
        raise SignageError(
            f"{shown}: không phải thư mục thật (là liên kết hoặc tệp): không nhập / not a real folder (a link or a file): nothing imported"
        ) from None
    except OSError as exc:
        raise SignageError(f"{shown}: not a folder: {exc.strerror}") from None


def _copy_folder(folder_fd: int, folders: tuple[str, ...], inbox: Path, inbox_fd: int, outcome: _Outcome) -> None:
    """Copy the plain files of one folder of the stick, then its real subfolders (never a link to one).

    Settings files come after the notices of their folder, so each follows its notice to the name it was given.
    """
    with os.scandir(folder_fd) as found:
        entries = sorted(found, key=lambda entry: (_settings_suffix(entry.name) is not None, entry.name))
    given: dict[str, str] = {}  # a notice's name on the stick → its name in the drop folder (and stems → stems)
    for entry in entries:
        name = entry.name
        shown = "/".join([*folders, name])
        try:
            if entry.is_dir(follow_symlinks=False):
                if _skipped_folder(name):
                    outcome.skipped.append((shown, SKIPPED_FOLDER))
                    continue
                if len(folders) >= MAX_DEPTH:
                    outcome.skipped.append((shown, SKIPPED_DEEP))
                    outcome.noted.append((shown, "deep", f"more than {MAX_DEPTH} folders deep"))
                    continue
                sub_fd = open_folder(name, folder_fd)
                try:
                    _copy_folder(sub_fd, (*folders, name), inbox, inbox_fd, outcome)
                finally:
                    os.close(sub_fd)
                continue
            suffix = _settings_suffix(name)
            if ignored(name) and suffix is None:
                outcome.skipped.append((shown, _why_ignored(name)))
                continue
            if not entry.is_file(follow_symlinks=False):  # from the folder listing: a FIFO is never opened
                raise Refused("link", "symbolic link") if entry.is_symlink() else Refused("special", "pipe, device or socket")
            if suffix is not None:
                base = name[: -len(suffix)]
                partner = given.get(base)
                target = partner + suffix if partner is not None else fit_name(drop_name(folders, name), NAME_MAX)
                _copy_file(folder_fd, name, inbox, inbox_fd, target, replace=True)
                outcome.copied.append((shown, target))
                continue
            target, fresh = _copy_file(folder_fd, name, inbox, inbox_fd, drop_name(folders, name), replace=False)
            given[name] = target
            given.setdefault(name.rsplit(".", 1)[0], target.rsplit(".", 1)[0])
            (outcome.copied if fresh else outcome.present).append((shown, target))
        except Refused as refusal:
            outcome.refused.append((shown, refusal.code, refusal.detail))
        except (OSError, StoreError) as exc:
            outcome.refused.append((shown, "unreadable", getattr(exc, "strerror", None) or str(exc)))


def _copy_file(folder_fd: int, name: str, inbox: Path, inbox_fd: int, wanted: str, *, replace: bool) -> tuple[str, bool]:
    """One file, from its checked descriptor, into the drop folder under a short hidden name, then renamed into place.

    Returns the name it has in the drop folder and whether it was copied (False: the same bytes were already
    there under that name). Unless `replace`, a name holding other bytes is kept, and `-1`, `-2`… tried.
    """
    fd, _ = open_regular(name, folder_fd)
    try:
        # Short and random: a name derived from a 255-byte one would not fit; `.part` and `.*` are never taken.
        temporary = f".import-{os.getpid()}-{secrets.token_hex(4)}.part"
        out = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666, dir_fd=inbox_fd)
        try:
            with os.fdopen(out, "wb") as writer:
                digest, size = copy_hashing(fd, writer)
            target, fresh = (wanted, True) if replace else _free_name(inbox_fd, wanted, digest, size)
            if fresh:
                os.replace(temporary, target, src_dir_fd=inbox_fd, dst_dir_fd=inbox_fd)
            else:
                os.unlink(temporary, dir_fd=inbox_fd)
            return target, fresh
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary, dir_fd=inbox_fd)
            raise
    except OSError as exc:
        raise StoreError(f"{printable(name)}: cannot copy into {inbox}: {exc.strerror}") from None
    finally:
        os.close(fd)


def _free_name(inbox_fd: int, wanted: str, digest: str, size: int) -> tuple[str, bool]:
    """The first of `wanted`, `wanted-1`… that is free (→ True) or already holds these very bytes (→ False)."""
    for counter in range(MAX_COUNTER + 1):
        candidate = fit_name(wanted, NAME_MAX, counter)
        try:
            info = os.stat(candidate, dir_fd=inbox_fd, follow_symlinks=False)
        except FileNotFoundError:
            return candidate, True
        if info.st_size == size and _digest_of(inbox_fd, candidate) == digest:
            return candidate, False
    raise StoreError(f"{printable(wanted)}: more than {MAX_COUNTER} files of this name in the drop folder")


def _digest_of(inbox_fd: int, name: str) -> str | None:
    """SHA-256 of a file in the drop folder, read without following a link; None when it is not a plain file."""
    try:
        # Other links are allowed here: the drop folder's file may share its bytes with the media store.
        fd, _ = open_regular(name, inbox_fd, single_link=False)
    except (Refused, OSError):
        return None
    try:
        digest = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
        return digest.hexdigest()
    finally:
        os.close(fd)


def _note_refusal(config: BoardConfig, shown: str, code: str, detail: str) -> str:
    """The refusal's line, also written to quarantine (the clerk reads `signage status`, not the import's log)."""
    assert config.inbox is not None
    quarantine = config.inbox.quarantine
    name = shown.rsplit("/", 1)[-1]
    line = reason_line(shown, code, detail)
    try:
        quarantine.mkdir(parents=True, exist_ok=True)
        write_reason(quarantine, quarantine_name(quarantine, name), line)
    except (OSError, StoreError) as exc:
        log.error("%s: cannot note in quarantine: %s", printable(shown), exc)
    return line
