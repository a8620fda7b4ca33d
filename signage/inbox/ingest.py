"""Turning files in the drop folder into bulletins, or setting them aside in quarantine with a reason.

A file is taken only once its size and time have held still for `inbox.settle_seconds` and it
decodes fully; it is then copied into the content-addressed store, so the original may be edited
or its USB stick pulled without effect until it is saved again (a new revision). A file that
leaves the folder withdraws its bulletin. Nothing is ever deleted: bad files are moved aside.

Every file is opened relative to the folder without following links and checked on the descriptor
(`reading.py`); it is copied from that descriptor into a private staging file, and the decoders read
only that copy, so a name swapped for a link after the check is never followed.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from signage.config import BoardConfig, InboxSection
from signage.engine import is_playable, next_change
from signage.errors import BulletinError, MediaError, NeedsPages, OverLimit, StoreError
from signage.inbox.reading import Refused, copy_hashing, open_regular, read_limited, refusal_of
from signage.inbox.rules import (
    REASON_SUFFIX,
    bulletin_id,
    fit_name,
    ignored,
    kind_of,
    reason_line,
    split_priority,
    title_from_name,
    utf8_name,
)
from signage.inbox.sidecar import SIDECAR_MAX_BYTES, decode_settings, expiry_problem, is_settings_name, parse_settings, settings_names
from signage.media.docxfile import read_docx
from signage.media.images import take_image
from signage.media.office import is_office, read_office_notice, reads_as_notice, replace_with_pdf
from signage.media.probe import judge, probe
from signage.media.sniff import sniff_file
from signage.media.textfile import read_notice
from signage.model import MEDIA_TYPES, Bulletin, BulletinInput, Kind, Playable, Source, parse_bulletin
from signage.store.db import Store
from signage.store.files import ContentStore, atomic_write
from signage.text import printable

log = logging.getLogger(__name__)

DECODE_PATIENCE = 10.0  # seconds a still file that will not decode may be a copy in progress
CLOSED_SETTLE = 0.2  # a file its writer closed needs only this long to show it holds still
STALL_LIMIT = 3600.0  # seconds a file may keep changing, or stay open for writing, before it is judged anyway
REASON_MAX_BYTES = 4096  # a reason file is one line; anything larger in quarantine is not one of ours
FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class _SetAside(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


class _NotYet(_SetAside):
    """The file does not decode; if it has held still for long enough it is set aside, else looked at again."""


class _Vanished(Exception):
    """The file left between the listing and the open: its withdrawal is the next look's business."""


class _Busy(Exception):
    """Someone still holds the file open for writing: a copy in progress, however long it has paused."""


def open_for_writing(fd: int) -> bool:
    """Whether anyone holds this file open for writing, on Linux, by asking for a read lease (cheap, no /proc walk).

    The kernel refuses a read lease (EAGAIN) while the file is open for writing anywhere; it refuses
    with another error a file of another owner or a filesystem without leases: then we cannot tell (False).
    """
    try:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
    except OSError as exc:
        return exc.errno == errno.EAGAIN
    fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
    return False


@dataclass(frozen=True, slots=True)
class Stamp:
    size: int
    mtime_ns: int


def _lstat(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:  # gone, or a name too long once `.toml` is added to it
        return None


@contextmanager
def _at(folder_fd: int, name: str) -> Iterator[tuple[int, str]]:
    """The folder holding `name` (the drop folder, or its subfolder for `Thang 11/Thong bao.jpg`) and the name in it.

    A subfolder is opened without following a link: one swapped for a link after the listing is never entered.
    """
    subfolder, slash, leaf = name.partition("/")
    if not slash:
        yield folder_fd, name
        return
    fd = os.open(subfolder, FOLDER_FLAGS | os.O_NOFOLLOW, dir_fd=folder_fd)
    try:
        yield fd, leaf
    finally:
        os.close(fd)


def sidecar_name(name: str, dir_fd: int) -> str | None:
    """The settings beside `name` (`.toml`, or Notepad's `.toml.txt`), whatever it is: a link is found, refused, moved with the file."""
    for candidate in settings_names(name):
        if _lstat(candidate, dir_fd) is not None:
            return candidate
    return None


def stamp_of(info: os.stat_result, name: str, dir_fd: int) -> Stamp:
    """The file's size and time (of the name itself, never a link's target), folding in its sidecar's."""
    size, mtime = info.st_size, info.st_mtime_ns
    sidecar = sidecar_name(name, dir_fd)
    extra = _lstat(sidecar, dir_fd) if sidecar is not None else None
    if extra is not None:
        size, mtime = size + extra.st_size, max(mtime, extra.st_mtime_ns)
    return Stamp(size, mtime)


def own_files(config: BoardConfig) -> frozenset[tuple[int, int]]:
    """The board's own files by identity (device, inode): never a notice, whatever folder they are kept in."""
    database = config.board.data_dir / "board.db"
    paths = [config.path, database, database.with_name("board.db-wal"), database.with_name("board.db-shm")]
    if config.report is not None:
        paths.append(config.report.key)
    found = set()
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            continue
        found.add((info.st_dev, info.st_ino))
    return frozenset(found)


def never_plays(bulletin: Bulletin, board_id: str, now: datetime, zone: ZoneInfo) -> str | None:
    """Why a bulletin's slots never come up within its validity from `now` (None if one does), asked of the engine.

    Slots repeat every week, so its edges over a week and a day past the start tell.
    """
    if not bulletin.slots or bulletin.valid_until is None:
        return None
    start = max(now, bulletin.valid_from) if bulletin.valid_from is not None else now
    moment, horizon = start, min(bulletin.valid_until, start + timedelta(days=8))
    while moment < horizon:
        if is_playable(bulletin, board_id, moment.astimezone(zone)):
            return None
        moment = next_change(bulletin, moment, zone)
    shown = [when.astimezone(zone).strftime("%d/%m/%Y %H:%M") for when in (start, bulletin.valid_until)]
    return f"no time slot between {shown[0]} and {shown[1]}"


def quarantine_name(quarantine: Path, name: str) -> str:
    """A free name in quarantine for `name`: short enough for `<it>.reason.txt`, `-1`, `-2`… when taken.

    Escaped as the reason shows it (`text.printable`): no escape sequence for a terminal's `ls`, and a
    name that was not UTF-8 becomes one a Windows share can show, so the clerk can open it.
    """
    shown = printable(name)
    counter = 0
    while True:
        candidate = fit_name(shown, counter=counter)
        if not any(os.path.lexists(quarantine / taken) for taken in (candidate, candidate + REASON_SUFFIX, f"{candidate}.toml")):
            return candidate
        counter += 1


def write_reason(quarantine: Path, target: str, line: str) -> None:
    atomic_write(quarantine / f"{target}{REASON_SUFFIX}", (line + "\n").encode("utf-8"))


class Inbox:
    """The drop folder reconciled with the store; `poll` is called often, and is cheap when nothing moved."""

    def __init__(self, config: BoardConfig, content: ContentStore, now: Callable[[], datetime]) -> None:
        assert config.inbox is not None
        self.config = config
        self.section: InboxSection = config.inbox
        self.folder = config.inbox.path
        self.content = content
        self.now = now
        self._seen: dict[str, tuple[Stamp, float]] = {}  # a file's stamp, and since when (monotonic) it held still
        self._waiting_since: dict[str, float] = {}  # since when (monotonic) a file has waited to be judged
        self._closed: dict[str, float] = {}  # files a writer closed (inotify), and when
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.folder}: cannot create the drop folder: {exc.strerror}") from None

    @property
    def waiting(self) -> bool:
        """Whether some file is still being watched until it holds still."""
        return bool(self._seen)

    def poll(
        self,
        store: Store,
        clock: float,
        *,
        settle: float | None = None,
        patience: float = DECODE_PATIENCE,
        closed: dict[str, float] | None = None,
    ) -> list[str]:
        """One look at the folder at monotonic time `clock`; returns what changed (one line each, printable).

        `closed` maps names to when a writer closed them (inotify): a closed copy is complete, so it
        needs to hold still only briefly (CLOSED_SETTLE) rather than the full `settle`.
        """
        self.store = store
        settle = self.section.settle_seconds if settle is None else settle
        self._closed.update(closed or {})
        try:
            folder_fd = os.open(self.folder, FOLDER_FLAGS)  # the board's own setting: its path may be a link
        except OSError as exc:
            log.error("%s: cannot read the drop folder: %s", self.folder, exc.strerror)
            return []
        try:
            changes = self._look(folder_fd, clock, settle, patience)
        finally:
            os.close(folder_fd)
        for line in changes:
            log.info("inbox: %s", line)
        return changes

    def _listing(self, folder_fd: int) -> dict[str, os.stat_result]:
        """Every file in the folder and its subfolders (one level: `Thang 11/Thong bao.jpg`), with its lstat.

        Ignored names, the board's own files, and quarantine or the board's data kept inside the folder are left out.
        """
        own = own_files(self.config)
        kept_out = set()
        for path in (self.section.quarantine, self.config.board.data_dir):
            try:
                info = os.stat(path)
            except OSError:
                continue
            kept_out.add((info.st_dev, info.st_ino))
        found = self._files_in(folder_fd, "", own)
        with os.scandir(folder_fd) as entries:
            subfolders = [entry.name for entry in entries if not ignored(entry.name) and entry.is_dir(follow_symlinks=False)]
        for subfolder in subfolders:
            try:
                fd = os.open(subfolder, FOLDER_FLAGS | os.O_NOFOLLOW, dir_fd=folder_fd)
            except OSError:
                continue  # gone, or swapped for a link since the listing
            try:
                info = os.fstat(fd)
                if (info.st_dev, info.st_ino) not in kept_out:
                    found.update(self._files_in(fd, subfolder + "/", own))
            except OSError as exc:
                log.error("%s: cannot read the folder: %s", printable(subfolder), exc.strerror)
            finally:
                os.close(fd)
        return found

    def _files_in(self, folder_fd: int, prefix: str, own: frozenset[tuple[int, int]]) -> dict[str, os.stat_result]:
        found = {}
        with os.scandir(folder_fd) as entries:
            for entry in entries:
                if ignored(entry.name):
                    continue
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                # The board's key kept in this folder is not a notice; a second name for it (a hard link) is refused below.
                if stat.S_ISDIR(info.st_mode) or ((info.st_dev, info.st_ino) in own and info.st_nlink == 1):
                    continue
                found[prefix + entry.name] = info
        return found

    def _look(self, folder_fd: int, clock: float, settle: float, patience: float) -> list[str]:
        changes: list[str] = []
        known = self.store.inbox_files()
        try:
            listing = self._listing(folder_fd)
        except OSError as exc:
            log.error("%s: cannot read the drop folder: %s", self.folder, exc.strerror)
            return changes
        names = sorted(listing)
        for name in set(known) - set(names):  # gone from the folder: withdrawn at once
            if self.store.drop_inbox(name) is not None:
                changes.append(f"{printable(name)}: withdrawn")
        for name in set(self._seen) - set(names):
            del self._seen[name]
        for name in set(self._closed) - set(names):
            del self._closed[name]
        for name in set(self._waiting_since) - set(names):
            del self._waiting_since[name]
        for name in names:
            try:
                with _at(folder_fd, name) as (dir_fd, leaf):
                    self._consider(changes, dir_fd, name, leaf, listing[name], known.get(name), clock, settle, patience)
            except OSError as exc:  # its subfolder left, or was swapped for a link, since the listing
                log.warning("%s: %s", printable(name), exc.strerror or exc)
        return changes

    def _consider(
        self,
        changes: list[str],
        dir_fd: int,
        name: str,
        leaf: str,
        info: os.stat_result,
        record: dict[str, Any] | None,
        clock: float,
        settle: float,
        patience: float,
    ) -> None:
        """One file, `leaf` in the folder `dir_fd`, known to the store as `name` (`Thang 11/Thong bao.jpg` in a subfolder)."""
        # Links, pipes, devices, second names and names that are not UTF-8: set aside at once, never opened.
        unfit = refusal_of(info) if utf8_name(name) else Refused("name", "not UTF-8")
        if unfit is not None:
            changes.append(self._set_aside(dir_fd, name, unfit.code, unfit.detail))
            if record is not None:
                self.store.drop_inbox(name)
            return
        stamp = stamp_of(info, leaf, dir_fd)
        if record is not None and (record["size"], record["mtime_ns"]) == (stamp.size, stamp.mtime_ns):
            return  # taken as it is
        waited = clock - self._waiting_since.setdefault(name, clock)
        seen = self._seen.get(name)
        if waited >= STALL_LIMIT and (seen is None or seen[0] != stamp):
            # Still changing after an hour: not a copy that will ever finish (a log, a stuck writer).
            changes.append(self._set_aside(dir_fd, name, "stalled", f"its size or time still changing after {STALL_LIMIT / 60:.0f} min"))
            if record is not None:
                self.store.drop_inbox(name)
            return
        if seen is None or seen[0] != stamp:
            closed_at = self._closed.get(name)
            if closed_at is not None and seen is not None and closed_at < seen[1]:
                del self._closed[name]  # closed, then written again: that close proves nothing now
            self._seen[name] = (stamp, clock)  # it moved: wait for it to hold still
            if settle > 0:
                return
            seen = self._seen[name]
        wait = min(settle, CLOSED_SETTLE) if name in self._closed else settle
        if clock - seen[1] < wait:
            return
        try:
            changes.append(self._take(dir_fd, name, stamp, record, leaf=leaf, check_writers=waited < STALL_LIMIT))
            self._forget(name)
        except (_Vanished, _Busy):
            return  # gone, or a copy still open: looked at again on the next tick
        except StoreError as exc:
            # The board's own disk, not the file: looked at again once it has held still anew.
            log.error("%s", exc)
            self._seen[name] = (stamp, clock)
        except _SetAside as refusal:
            if isinstance(refusal, _NotYet) and clock - seen[1] < patience:
                return  # perhaps a copy still in progress that paused: judged later
            changes.append(self._set_aside(dir_fd, name, refusal.code, refusal.detail))
            if record is not None:
                self.store.drop_inbox(name)

    # -- taking one file ------------------------------------------------------------

    def _forget(self, name: str) -> None:
        self._seen.pop(name, None)
        self._closed.pop(name, None)
        self._waiting_since.pop(name, None)

    def _take(
        self, folder_fd: int, name: str, stamp: Stamp, record: dict[str, Any] | None, *, leaf: str | None = None, check_writers: bool = True
    ) -> str:
        kinds = kind_of(name)
        if kinds is None:
            raise _SetAside("unsupported", f"'{os.path.splitext(name)[1] or name}'")
        kind, media_type = kinds
        staged, sha256, size = self._stage(folder_fd, leaf or name, check_writers)
        try:
            return self._take_staged(folder_fd, name, kind, media_type, (staged, sha256, size), stamp, record)
        finally:
            staged.unlink(missing_ok=True)  # adopted into the store, or not needed

    def _stage(self, folder_fd: int, name: str, check_writers: bool = True) -> tuple[Path, str, int]:
        """Copy the file, as its checked descriptor reads, into a private file that the decoders then read.

        A file someone still holds open for writing is not judged (`_Busy`): a copy paused on a slow
        share holds still, but is not finished.
        """
        try:
            fd, info = open_regular(name, folder_fd)
        except Refused as refusal:
            raise _SetAside(refusal.code, refusal.detail) from None
        except FileNotFoundError:
            raise _Vanished from None
        except OSError as exc:
            raise _SetAside("unreadable", exc.strerror or str(exc)) from None
        try:
            if check_writers and open_for_writing(fd):
                raise _Busy
            if info.st_size == 0:
                raise _SetAside("empty", "0 bytes")
            suffix = os.path.splitext(name)[1].lower()  # decoders may look at it; short, from KINDS
            try:
                writer, staged = self.content.stage(suffix)
            except OSError as exc:
                raise StoreError(f"{self.content.staging_dir}: cannot stage {printable(name)}: {exc.strerror}") from None
            try:
                with writer:
                    sha256, size = copy_hashing(fd, writer)
            except OSError as exc:
                staged.unlink(missing_ok=True)
                raise StoreError(f"{printable(name)}: cannot copy into the media store: {exc.strerror}") from None
        finally:
            os.close(fd)
        return staged, sha256, size

    def _take_staged(
        self,
        folder_fd: int,
        name: str,
        kind: Kind,
        media_type: str | None,
        copy: tuple[Path, str, int],
        stamp: Stamp,
        record: dict[str, Any] | None,
    ) -> str:
        staged, copied_sha256, size = copy
        folder, _, leaf = name.rpartition("/")  # a file in a subfolder: `folder` is its name
        priority, stem = split_priority(leaf.rsplit(".", 1)[0])
        data: dict[str, Any] = {
            "id": bulletin_id(name),
            "kind": kind.value,
            "title": title_from_name(stem, kind),
            "priority": priority.value,
        }
        seconds = pages = None
        sha256 = None
        converted = self.content.staging_dir.parent / "converted"
        try:
            if name.lower().endswith(".txt"):
                data["title"], data["body"] = read_notice(staged)
            elif name.lower().endswith(".docx") or reads_as_notice(name):
                try:
                    if reads_as_notice(name):  # a .doc, .odt or .rtf: LibreOffice's .docx of it, read as a .docx is
                        data["title"], data["body"] = read_office_notice(staged, converted, name=leaf)
                        kind, media_type = Kind.TEXT, None
                        data["kind"] = kind.value
                    else:
                        data["title"], data["body"] = read_docx(staged)
                except NeedsPages as pages_needed:
                    # A ruled table or a picture: LibreOffice's pages of it, faithfully, titled by the notice if the reader could tell.
                    kind, media_type = Kind.PDF, "application/pdf"
                    data["kind"] = kind.value
                    data["title"] = getattr(pages_needed, "title", None) or title_from_name(stem, kind)
                    copied_sha256, size = replace_with_pdf(staged, converted, leaf)
                    found = probe(staged, media_type)
                    seconds, pages = found.seconds, found.pages
            else:
                assert media_type is not None
                if is_office(name):  # LibreOffice's PDF of it, made once per content, stands in for it from here on
                    copied_sha256, size = replace_with_pdf(staged, converted, leaf)
                if kind is Kind.IMAGE:  # judged by its bytes: a PNG named .jpg is taken, a HEIC becomes the JPEG it plays as
                    taken = take_image(staged)
                    if taken is None:
                        raise _SetAside(
                            "impostor", f"named {os.path.splitext(name)[1]}, but the bytes are {sniff_file(staged) or 'no image'}"
                        )
                    media_type, copied_sha256, size = taken
                    found = probe(staged, media_type)
                elif kind in (Kind.VIDEO, Kind.AUDIO):
                    # Judged by its streams: an Android .m4a of sound alone is audio, a .mov with a picture a video.
                    found = judge(staged)
                    media_type, kind = found.media_type, MEDIA_TYPES[found.media_type]
                    data["kind"] = kind.value
                    data["title"] = title_from_name(stem, kind)
                    if found.title and data["title"] != title_from_name(stem, Kind.TEXT):
                        data["title"] = found.title  # a camera's or recorder's name says less than the file's own title tag
                else:
                    found = probe(staged, media_type)
                seconds, pages = found.seconds, found.pages
        except MediaError as exc:
            message = str(exc)
            codes = {
                Kind.TEXT: "docx" if name.lower().endswith(".docx") else "text",
                Kind.IMAGE: "image",
                Kind.PDF: "office" if is_office(name) or name.lower().endswith(".docx") else "pdf",
                Kind.VIDEO: "video",
                Kind.AUDIO: "audio",
            }
            code = "too_long" if isinstance(exc, OverLimit) else "bomb" if "bomb" in message or "megapixel" in message else codes[kind]
            raise _NotYet(code, message.split(": ", 1)[-1]) from None
        if media_type is not None:
            sha256 = self._adopt(staged, copied_sha256, size)
            data["media"] = {"sha256": sha256, "bytes": size, "type": media_type}
        if folder and "body" not in data:  # a title made from the name: the subfolder says which month, which village
            data["title"] = f"{title_from_name(folder)} - {data['title']}"
        data.update(self._sidecar_fields(folder_fd, leaf))
        now = self.now()
        data.setdefault("valid_from", now.isoformat())
        data.setdefault("valid_until", (now + timedelta(days=self.section.days)).isoformat())
        content_key = sha256 or hashlib.sha256(f"{data.get('title')}\n{data.get('body')}".encode()).hexdigest()
        revision = 1
        if record is not None:
            revision = record["revision"] if record["sha256"] == content_key else record["revision"] + 1
        data["revision"] = revision
        try:
            bulletin = parse_bulletin(data, BulletinInput(origin=printable(str(self.folder / name)), source=Source.INBOX))
        except BulletinError as exc:
            raise _SetAside("sidecar", str(exc).split(": ", 1)[-1]) from None
        never = never_plays(bulletin, self.config.board.id, now, self.config.board.timezone)
        if never is not None:  # only Sundays, valid Monday to Friday: the clerk is told, not shown "ready"
            raise _SetAside("never", never)
        file = {
            "size": stamp.size,
            "mtime_ns": stamp.mtime_ns,
            "sha256": content_key,
            "revision": revision,
            "seconds": seconds,
            "pages": pages,
        }
        self.store.take_inbox(name, bulletin, file)
        verb = "taken" if record is None else f"revision {revision}"
        return f"{printable(name)}: {verb} as {bulletin.kind.value} bulletin {bulletin.id} ({bulletin.priority.value})"

    def _sidecar_fields(self, folder_fd: int, name: str) -> dict[str, Any]:
        if is_settings_name(name):
            # Notepad's `<name>.toml.txt`: the settings of its notice, read with it; never a notice, never set aside.
            raise _Vanished
        sidecar = sidecar_name(name, folder_fd)
        if sidecar is None:
            return {}
        try:
            fd, _ = open_regular(sidecar, folder_fd)
        except Refused as refusal:
            raise _SetAside("sidecar_link", f"{sidecar}: {refusal.detail}") from None
        except OSError as exc:
            raise _SetAside("sidecar", f"{sidecar}: {exc.strerror}") from None
        try:
            raw = read_limited(fd, SIDECAR_MAX_BYTES)
        finally:
            os.close(fd)
        if raw is None:
            raise _SetAside("sidecar", f"{sidecar}: over {SIDECAR_MAX_BYTES // 1024} KiB")
        try:
            fields = parse_settings(decode_settings(raw, sidecar), sidecar, self.config.board.timezone)
        except BulletinError as exc:
            raise _SetAside("sidecar", str(exc)) from None
        expired = expiry_problem(fields, self.now())
        if expired is not None:  # it would never play: the clerk is told, not shown "ready"
            raise _SetAside("expired", f"{sidecar}: {expired}")
        return fields

    def _adopt(self, staged: Path, sha256: str, size: int) -> str:
        """The staged copy into the content-addressed store under its SHA-256; the copy is what plays."""
        try:
            self.content.adopt(staged, sha256)
        except OSError as exc:
            raise StoreError(f"{self.content.assets}: cannot move {sha256} into the media store: {exc.strerror}") from None
        self.store.assets_stored([(sha256, size)], self.now())
        return sha256

    # -- setting aside ------------------------------------------------------------

    def _set_aside(self, folder_fd: int, name: str, code: str, detail: str) -> str:
        # `name` may be `Thang 11/Thong bao.jpg`: `folder_fd` is then its subfolder, and quarantine keeps both parts in one name.
        leaf = name.rpartition("/")[2]
        """Move the file (and its sidecar) to quarantine/ with `<name>.reason.txt`; never delete anything.

        Links are moved as links (a rename never opens its target). Names in quarantine are shortened
        to fit beside their reason (`rules.fit_name`); the reason line names the file as it was.
        """
        quarantine = self.section.quarantine
        line = reason_line(name, code, detail)
        try:
            quarantine.mkdir(parents=True, exist_ok=True)
            target = quarantine_name(quarantine, name.replace("/", " - "))
            sidecar = sidecar_name(leaf, folder_fd)
            os.replace(leaf, quarantine / target, src_dir_fd=folder_fd)
            if sidecar is not None:
                os.replace(sidecar, quarantine / f"{target}.toml", src_dir_fd=folder_fd)
            write_reason(quarantine, target, line)
            os.fsync(folder_fd)
        except (OSError, StoreError) as exc:
            log.error("%s: cannot move to quarantine: %s", printable(name), exc)
        self._forget(name)
        return f"set aside: {line}"


def quarantined(section: InboxSection) -> list[dict[str, str]]:
    """The files set aside, with their reasons (for `signage status`), escaped for a terminal.

    Read without following links and bounded: quarantine may be open to the clerk as well, and a
    link planted there must not make `signage status` print one of the board's files, nor a FIFO hang it.
    """
    try:
        folder_fd = os.open(section.quarantine, FOLDER_FLAGS)
    except OSError:
        return []
    entries = []
    try:
        with os.scandir(folder_fd) as found:
            names = sorted(entry.name for entry in found if entry.name.endswith(REASON_SUFFIX))
        for name in names:
            try:
                fd, _ = open_regular(name, folder_fd)
            except (Refused, OSError):
                continue  # not a reason of ours
            try:
                raw = read_limited(fd, REASON_MAX_BYTES)
            finally:
                os.close(fd)
            if raw is None:
                continue
            reason = raw.decode("utf-8", "replace").strip().split("\n", 1)[0]
            entries.append({"file": printable(name.removesuffix(REASON_SUFFIX)), "reason": printable(reason)})
    finally:
        os.close(folder_fd)
    return entries


def inbox_playables(store: Store, content: ContentStore) -> list[Playable]:
    """The drop folder's bulletins whose media copy is in the store, with probed length and pages."""
    files = {row["bulletin_id"]: row for row in store.inbox_files().values()}
    playables = []
    for bulletin in store.bulletins(Source.INBOX):
        row = files.get(bulletin.id, {})
        if bulletin.media is None:
            playables.append(Playable(bulletin))
        elif content.has(bulletin.media.sha256, bulletin.media.bytes):
            playables.append(Playable(bulletin, content.path(bulletin.media.sha256), row.get("seconds"), row.get("pages")))
    return playables
