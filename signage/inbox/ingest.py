"""Turning files in the drop folder into bulletins, or setting them aside in quarantine with a reason.

A file is taken only once its size and time have held still for `inbox.settle_seconds` and it
decodes fully; it is then copied into the content-addressed store, so the original may be edited
or its USB stick pulled without effect until it is saved again (a new revision). A file that
leaves the folder withdraws its bulletin. Nothing is ever deleted: bad files are moved aside.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from signage.config import BoardConfig, InboxSection
from signage.errors import BulletinError, MediaError, StoreError
from signage.inbox.rules import bulletin_id, ignored, kind_of, reason_line, split_priority, title_from_name
from signage.media.docxfile import read_docx
from signage.media.probe import probe
from signage.media.sniff import sniff_file
from signage.media.textfile import read_notice
from signage.model import BulletinInput, Kind, Playable, Source, parse_bulletin
from signage.store.db import Store
from signage.store.files import ContentStore, atomic_write, fsync_dir

log = logging.getLogger(__name__)

SIDECAR_KEYS = {"title", "body", "priority", "valid_from", "valid_until", "slots", "duration_s"}
DECODE_PATIENCE = 10.0  # seconds a still file that will not decode may be a copy in progress
CLOSED_SETTLE = 0.2  # a file its writer closed needs only this long to show it holds still


class _SetAside(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


class _NotYet(_SetAside):
    """The file does not decode; if it has held still for long enough it is set aside, else looked at again."""


@dataclass(frozen=True, slots=True)
class Stamp:
    size: int
    mtime_ns: int


def stamp_of(inbox: Path, name: str) -> Stamp | None:
    """The file's size and time, folding in its sidecar's: saving either makes a new revision."""
    try:
        info = os.stat(inbox / name)
    except OSError:
        return None
    size, mtime = info.st_size, info.st_mtime_ns
    sidecar = _sidecar(inbox, name)
    if sidecar is not None:
        extra = sidecar.stat()
        size, mtime = size + extra.st_size, max(mtime, extra.st_mtime_ns)
    return Stamp(size, mtime)


def _sidecar(inbox: Path, name: str) -> Path | None:
    for candidate in (inbox / f"{name}.toml", inbox / f"{name.rsplit('.', 1)[0]}.toml"):
        if candidate.is_file():
            return candidate
    return None


class Inbox:
    """The drop folder reconciled with the store; `poll` is called often, and is cheap when nothing moved."""

    def __init__(self, config: BoardConfig, content: ContentStore, now: Callable[[], datetime]) -> None:
        assert config.inbox is not None
        self.section: InboxSection = config.inbox
        self.folder = config.inbox.path
        self.content = content
        self.now = now
        self._seen: dict[str, tuple[Stamp, float]] = {}  # a file's stamp, and since when (monotonic) it held still
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
        """One look at the folder at monotonic time `clock`; returns what changed (one line each).

        `closed` maps names to when a writer closed them (inotify): a closed copy is complete, so it
        needs to hold still only briefly (CLOSED_SETTLE) rather than the full `settle`.
        """
        self.store = store
        settle = self.section.settle_seconds if settle is None else settle
        self._closed.update(closed or {})
        changes: list[str] = []
        known = self.store.inbox_files()
        try:
            names = sorted(entry.name for entry in os.scandir(self.folder) if entry.is_file() and not ignored(entry.name))
        except OSError as exc:
            log.error("%s: cannot read the drop folder: %s", self.folder, exc.strerror)
            return changes
        for name in set(known) - set(names):  # gone from the folder: withdrawn at once
            if self.store.drop_inbox(name) is not None:
                changes.append(f"{name}: withdrawn")
        for name in set(self._seen) - set(names):
            del self._seen[name]
        for name in set(self._closed) - set(names):
            del self._closed[name]
        for name in names:
            stamp = stamp_of(self.folder, name)
            if stamp is None:
                continue
            record = known.get(name)
            if record is not None and (record["size"], record["mtime_ns"]) == (stamp.size, stamp.mtime_ns):
                continue  # taken as it is
            seen = self._seen.get(name)
            if seen is None or seen[0] != stamp:
                closed_at = self._closed.get(name)
                if closed_at is not None and seen is not None and closed_at < seen[1]:
                    del self._closed[name]  # closed, then written again: that close proves nothing now
                self._seen[name] = (stamp, clock)  # it moved: wait for it to hold still
                if settle > 0:
                    continue
                seen = self._seen[name]
            wait = min(settle, CLOSED_SETTLE) if name in self._closed else settle
            if clock - seen[1] < wait:
                continue
            try:
                changes.append(self._take(name, stamp, record))
                self._seen.pop(name, None)
                self._closed.pop(name, None)
            except _SetAside as refusal:
                if isinstance(refusal, _NotYet) and clock - seen[1] < patience:
                    continue  # perhaps a copy still in progress that paused: judged later
                changes.append(self._set_aside(name, refusal.code, refusal.detail))
                if record is not None:
                    self.store.drop_inbox(name)
        for line in changes:
            log.info("inbox: %s", line)
        return changes

    # -- taking one file ------------------------------------------------------------

    def _take(self, name: str, stamp: Stamp, record: dict[str, Any] | None) -> str:
        path = self.folder / name
        kinds = kind_of(name)
        if kinds is None:
            raise _SetAside("unsupported", f"'{path.suffix or name}'")
        kind, media_type = kinds
        if stamp.size == 0 or path.stat().st_size == 0:
            raise _SetAside("empty", "0 bytes")
        priority, stem = split_priority(name.rsplit(".", 1)[0])
        data: dict[str, Any] = {"id": bulletin_id(name), "kind": kind.value, "title": title_from_name(stem), "priority": priority.value}
        seconds = pages = None
        sha256 = None
        try:
            if name.lower().endswith(".txt"):
                data["title"], data["body"] = read_notice(path)
            elif name.lower().endswith(".docx"):
                data["title"], data["body"] = read_docx(path)
            else:
                assert media_type is not None
                sniffed = sniff_file(path)
                if sniffed != media_type:
                    raise _SetAside("impostor", f"named {path.suffix}, but the bytes are {sniffed or 'something else'}")
                found = probe(path, media_type)
                seconds, pages = found.seconds, found.pages
        except MediaError as exc:
            message = str(exc)
            codes = {
                Kind.TEXT: "docx" if name.lower().endswith(".docx") else "text",
                Kind.IMAGE: "image",
                Kind.PDF: "pdf",
                Kind.VIDEO: "video",
                Kind.AUDIO: "audio",
            }
            code = "bomb" if "bomb" in message or "megapixel" in message else codes[kind]
            raise _NotYet(code, message.split(": ", 1)[-1]) from None
        if media_type is not None:
            sha256, size = self._store_copy(path)
            data["media"] = {"sha256": sha256, "bytes": size, "type": media_type}
        data.update(self._sidecar_fields(name))
        now = self.now()
        data.setdefault("valid_from", now.isoformat())
        data.setdefault("valid_until", (now + timedelta(days=self.section.days)).isoformat())
        content_key = sha256 or hashlib.sha256(f"{data.get('title')}\n{data.get('body')}".encode()).hexdigest()
        revision = 1
        if record is not None:
            revision = record["revision"] if record["sha256"] == content_key else record["revision"] + 1
        data["revision"] = revision
        try:
            bulletin = parse_bulletin(data, BulletinInput(origin=str(path), source=Source.INBOX))
        except BulletinError as exc:
            raise _SetAside("sidecar", str(exc).split(": ", 1)[-1]) from None
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
        return f"{name}: {verb} as {bulletin.kind.value} bulletin {bulletin.id} ({bulletin.priority.value})"

    def _sidecar_fields(self, name: str) -> dict[str, Any]:
        sidecar = _sidecar(self.folder, name)
        if sidecar is None:
            return {}
        try:
            fields = tomllib.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise _SetAside("sidecar", f"{sidecar.name}: {exc}") from None
        unknown = sorted(set(fields) - SIDECAR_KEYS)
        if unknown:
            raise _SetAside("sidecar", f"{sidecar.name}: {unknown[0]}: unknown key (expected {', '.join(sorted(SIDECAR_KEYS))})")
        return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in fields.items()}

    def _store_copy(self, path: Path) -> tuple[str, int]:
        """Copy into the content-addressed store, hashing on the way; the copy is what plays."""
        partial = self.content.partial_dir / f".inbox-{os.getpid()}-{path.name}"
        digest = hashlib.sha256()
        size = 0
        try:
            with path.open("rb") as source, partial.open("wb") as target:
                while chunk := source.read(1 << 20):
                    digest.update(chunk)
                    target.write(chunk)
                    size += len(chunk)
                target.flush()
                os.fsync(target.fileno())
            sha256 = digest.hexdigest()
            os.replace(partial, self.content.path(sha256))
            self.content.settle()
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise StoreError(f"{path}: cannot copy into the media store: {exc.strerror}") from None
        self.store.assets_stored([(sha256, size)], self.now())
        return sha256, size

    # -- setting aside ------------------------------------------------------------

    def _set_aside(self, name: str, code: str, detail: str) -> str:
        """Move the file (and its sidecar) to quarantine/ with `<name>.reason.txt`; never delete anything."""
        quarantine = self.section.quarantine
        quarantine.mkdir(parents=True, exist_ok=True)
        target = quarantine / name
        counter = 1
        while target.exists():
            stem, dot, suffix = name.rpartition(".")
            target = quarantine / (f"{stem}-{counter}.{suffix}" if dot else f"{name}-{counter}")
            counter += 1
        line = reason_line(name, code, detail)
        try:
            os.replace(self.folder / name, target)
            sidecar = _sidecar(self.folder, name)
            if sidecar is not None:
                os.replace(sidecar, quarantine / f"{target.name}.toml")
            atomic_write(quarantine / f"{target.name}.reason.txt", (line + "\n").encode("utf-8"))
            fsync_dir(self.folder)
        except (OSError, StoreError) as exc:
            log.error("%s: cannot move to quarantine: %s", self.folder / name, exc)
        self._seen.pop(name, None)
        self._closed.pop(name, None)
        return f"set aside: {line}"


def quarantined(section: InboxSection) -> list[dict[str, str]]:
    """The files set aside, with their reasons (for `signage status`)."""
    folder = section.quarantine
    if not folder.is_dir():
        return []
    entries = []
    for reason in sorted(folder.glob("*.reason.txt")):
        entries.append({"file": reason.name.removesuffix(".reason.txt"), "reason": reason.read_text(encoding="utf-8").strip()})
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
