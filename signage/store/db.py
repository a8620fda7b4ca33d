"""The board's state in SQLite through sqlite-utils: one schema, versioned migrations, WAL, full sync.

What lives here survives a power cut at any instant: the accepted feed (its payload and trust
state), the bulletins with whether their media is verified, and download progress. Each
acceptance is one transaction, so a board restarts into the last feed it fully accepted.

A damaged file (a bad sector, a flipped page, garbage from its header on) is set aside for a
post-mortem and rebuilt at the next open: what can still be read of the feed's trust state, the
commands run and the report queue is carried over; the bulletins come back from the feed at the
next sync and from the drop folder's rescan, the media from disk (verified again by hash).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from signage.envelope import loads_strict
from signage.errors import BulletinError, StoreDamaged, StoreError
from signage.model import Action, Bulletin, BulletinInput, Command, Priority, Source, bulletin_json, parse_bulletin
from signage.store import guard
from signage.store.state import TrustState

log = logging.getLogger(__name__)


def _v1(db: sqlite_utils.Database) -> None:
    db["feed_state"].create(
        {
            "id": int,
            "sequence": int,
            "payload_sha256": str,
            "payload": bytes,
            "signers": str,
            "trusted_time": str,
            "generated_at": str,
            "expires_at": str,
            "publisher": str,
            "accepted_at": str,
            "etag": str,
            "last_modified": str,
            "last_sync_at": str,
            "last_error": str,
            "notes": str,
        },
        pk="id",
    )
    bulletin_columns = {"id": str, "revision": int, "source": str, "position": int, "emergency": int}
    db["bulletins"].create({**bulletin_columns, "data": str, "media_sha256": str, "media_bytes": int}, pk="id")
    db["assets"].create({"sha256": str, "bytes": int, "stored_at": str, "unused_since": str}, pk="sha256")
    db["downloads"].create({"sha256": str, "bytes": int, "attempts": int, "last_error": str, "updated_at": str}, pk="sha256")


def _v2(db: sqlite_utils.Database) -> None:
    """The drop folder: which file became which bulletin, and what the file was when it was taken."""
    db["inbox_files"].create(
        {"name": str, "bulletin_id": str, "size": int, "mtime_ns": int, "sha256": str, "revision": int, "seconds": float, "pages": int},
        pk="name",
    )


def _v3(db: sqlite_utils.Database) -> None:
    """What probing found in each medium: its length and pages, or why it cannot play."""
    db["assets"].add_column("seconds", float)
    db["assets"].add_column("pages", int)
    db["assets"].add_column("probe_error", str)


def _v4(db: sqlite_utils.Database) -> None:
    """The district's commands for this board: each id run at most once, recorded before it runs."""
    db["commands"].create(
        {"id": str, "action": str, "issued_at": str, "expires_at": str, "received_at": str, "ran_at": str, "outcome": str},
        pk="id",
    )


def _v5(db: sqlite_utils.Database) -> None:
    """Reports to the hub: the signed envelopes waiting for a 2xx, the next seq, which outcomes were told."""
    db["report_queue"].create(
        {"seq": int, "kind": str, "envelope": bytes, "created_at": str, "attempts": int, "uncertain": int, "last_error": str},
        pk="seq",
        not_null={"kind", "envelope", "created_at"},
        defaults={"attempts": 0, "uncertain": 0},
    )
    db["report_state"].create({"id": int, "next_seq": int}, pk="id")
    db["commands"].add_column("reported", int, not_null_default=0)


def _v6(db: sqlite_utils.Database) -> None:
    """What happened to the board that it should tell (a damaged or lost database, a full disk), each told once."""
    db["incidents"].create(
        {"id": int, "at": str, "kind": str, "detail": str, "reported": int},
        pk="id",
        not_null={"at", "kind", "detail"},
        defaults={"reported": 0},
    )


def _v7(db: sqlite_utils.Database) -> None:
    """When a medium was probed: stored and probed are one step; a row without it (from before) is probed again."""
    db["assets"].add_column("probed_at", str)
    db.execute("UPDATE assets SET probed_at = stored_at WHERE seconds IS NOT NULL OR pages IS NOT NULL OR probe_error IS NOT NULL")


def _v8(db: sqlite_utils.Database) -> None:
    """The report queue's epoch: a random id made with the queue, sent beside each seq (a queue made afresh has a new one)."""
    db["report_state"].add_column("epoch", str)


MIGRATIONS: Sequence[Callable[[sqlite_utils.Database], None]] = (_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8)
# What a rebuild carries over from a damaged file, where it can still be read: the rest comes back by itself.
SALVAGED = ("feed_state", "commands", "report_state", "report_queue")


@dataclass(frozen=True, slots=True)
class FeedRecord:
    state: TrustState
    publisher: str | None
    generated_at: datetime | None
    expires_at: datetime | None
    accepted_at: datetime | None
    etag: str | None
    last_modified: str | None
    last_sync_at: datetime | None
    last_error: str | None
    notes: str | None
    held: bool = True  # the accepted payload and its bulletins are here (False after a rebuild kept only the trust state)


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _local_now() -> datetime:
    return datetime.now().astimezone()


class Store:
    """The board's database; one per thread (SQLite connections stay in the thread that made them).

    Opening it checks its pages the first time in a process (and again once damage was met);
    a damaged file is set aside and rebuilt there and then (`rebuilt` names the copy kept).
    """

    def __init__(self, path: Path, *, clock: Callable[[], datetime] = _local_now) -> None:
        self.path = Path(path)
        self.clock = clock
        self.rebuilt: Path | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            wiped = self.path.is_file() and self.path.stat().st_size == 0
        except OSError as exc:
            raise StoreError(f"{self.path.parent}: cannot create the board's data folder: {exc.strerror}") from None
        opened = guard.identity(self.path)
        try:
            self._open(check=guard.needs_check(self.path))
        except StoreDamaged as exc:
            self._rebuild(str(exc), opened)
            return
        if wiped:  # SQLite takes an empty file for a new database: say that one was lost
            self.add_incident(
                "database_lost",
                f"{self.path}: was empty (wiped or lost): started afresh; the feed is taken again at the next sync",
                self.clock(),
            )
            log.error("%s: was empty (wiped or lost): started afresh", self.path)

    def _open(self, *, check: bool) -> None:
        connection = guard.connect(self.path)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA foreign_keys=ON")
            self.db = sqlite_utils.Database(connection)
            if check:
                problems = [row[0] for row in connection.execute("PRAGMA quick_check").fetchall()]
                if problems != ["ok"]:
                    guard.suspect(self.path)
                    raise StoreDamaged(f"{self.path}: damaged (quick_check: {' '.join(problems)[:160]})")
            self._migrate()
        except BaseException:
            connection.close()
            raise
        if check:
            guard.passed_check(self.path)

    def _rebuild(self, reason: str, opened: tuple[int, int] | None) -> None:
        """Set the damaged file aside, open a new one, carry over what can be read, record the incident."""
        with guard.RECOVERY_LOCK:
            if guard.identity(self.path) != opened:  # another thread set it aside first: open what it made
                self._open(check=guard.needs_check(self.path))
                return
            try:
                aside = guard.set_aside(self.path, self.clock())
            except OSError as exc:
                raise StoreError(f"{reason}; cannot move it aside: {exc.strerror}") from None
            salvaged = _salvage(aside)
            self._open(check=False)
            kept = self._restore(salvaged)
            self.rebuilt = aside
            detail = (
                f"{reason}: moved to {aside.name} and rebuilt ({kept}); the feed is taken again at the next sync, "
                "the drop folder rescanned, media on disk verified again"
            )
            self.add_incident("database_damaged", detail, self.clock())
        log.error("%s", detail)

    def _restore(self, salvaged: dict[str, list[dict[str, Any]]]) -> str:
        """Put what was read from the damaged file into the new one; says what was kept."""
        kept = []
        with self.transaction():
            for table in ("commands", "report_queue"):
                columns = set(self.db[table].columns_dict)
                rows = [{k: v for k, v in row.items() if k in columns} for row in salvaged.get(table, [])]
                if rows:
                    self.db[table].insert_all(rows, replace=True)
            feed = salvaged.get("feed_state", [])
            if feed:
                # The trust state only (rollback protection, trusted time): no payload and no ETag, so
                # the next sync fetches the whole feed and accepts its bulletins again.
                row = feed[0]
                trust = ("sequence", "payload_sha256", "signers", "trusted_time", "generated_at", "expires_at", "publisher", "notes")
                self._feed_row({key: row.get(key) for key in trust} | {"accepted_at": row.get("accepted_at")})
                kept.append("the feed's trust state")
            queued = len(salvaged.get("report_queue", []))
            state = salvaged.get("report_state", [])
            highest = self.db.execute("SELECT max(seq) FROM report_queue").fetchone()[0] or 0
            next_seq = max([highest + 1] + [row.get("next_seq") or 1 for row in state])
            if state or highest:  # its epoch is not kept: the queue made again is a new one (a new epoch, made at its first seq)
                self.db.execute("INSERT OR REPLACE INTO report_state (id, next_seq) VALUES (1, ?)", [next_seq])
                kept.append(f"report numbering from {next_seq}")
            kept.append(f"{queued} queued report(s)")
            kept.append(f"{len(salvaged.get('commands', []))} command(s)")
        return "kept " + ", ".join(kept)

    def _migrate(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = self.db.execute("SELECT version FROM schema_version").fetchone()
        version = row[0] if row else 0
        if version > len(MIGRATIONS):
            raise StoreError(f"{self.path}: database schema {version} is newer than this signage ({len(MIGRATIONS)})")
        for number in range(version, len(MIGRATIONS)):
            with self.transaction():
                MIGRATIONS[number](self.db)
                self.db.execute("DELETE FROM schema_version")
                self.db.execute("INSERT INTO schema_version (version) VALUES (?)", [number + 1])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic, durable change (BEGIN IMMEDIATE … COMMIT, rolled back on any error)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            with suppress(StoreError):  # a damaged or full file may refuse the rollback too: the first error is the one to tell
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        guard.DISK.room(self.path)

    def close(self) -> None:
        self.db.close()

    # -- incidents -------------------------------------------------------------------

    def add_incident(self, kind: str, detail: str, at: datetime) -> None:
        with self.transaction():
            self.db.execute("INSERT INTO incidents (at, kind, detail) VALUES (?, ?, ?)", [_iso(at), kind, detail])

    def incidents(self, limit: int = 10) -> list[dict[str, Any]]:
        """The latest incidents, newest first."""
        rows = self.db.execute("SELECT at, kind, detail, reported FROM incidents ORDER BY id DESC LIMIT ?", [limit]).fetchall()
        return [{"at": at, "kind": kind, "detail": detail, "reported": bool(reported)} for at, kind, detail, reported in rows]

    # -- the feed ------------------------------------------------------------------

    def feed(self) -> FeedRecord:
        rows = list(self.db["feed_state"].rows_where("id = 1"))
        if not rows:
            return FeedRecord(TrustState(), None, None, None, None, None, None, None, None, None, held=False)
        row = rows[0]
        state = TrustState(row["sequence"], row["payload_sha256"], tuple(json.loads(row["signers"] or "[]")), _moment(row["trusted_time"]))
        return FeedRecord(
            state,
            row["publisher"],
            _moment(row["generated_at"]),
            _moment(row["expires_at"]),
            _moment(row["accepted_at"]),
            row["etag"],
            row["last_modified"],
            _moment(row["last_sync_at"]),
            row["last_error"],
            row["notes"],
            held=row["payload"] is not None,
        )

    def _feed_row(self, values: dict[str, Any]) -> None:
        self.db["feed_state"].upsert({"id": 1, **values}, pk="id")

    def accept(
        self,
        payload: bytes,
        state: TrustState,
        bulletins: Sequence[Bulletin],
        *,
        publisher: str,
        generated_at: datetime,
        expires_at: datetime,
        now: datetime,
        etag: str | None,
        last_modified: str | None,
        notes: Sequence[str] = (),
    ) -> None:
        """Hold a newly accepted feed: its trust state and its bulletins replace the old, in one transaction."""
        with self.transaction():
            self._feed_row(
                {
                    "sequence": state.sequence,
                    "payload_sha256": state.payload_sha256,
                    "payload": payload,
                    "signers": json.dumps(list(state.signers)),
                    "trusted_time": _iso(state.trusted_time),
                    "generated_at": _iso(generated_at),
                    "expires_at": _iso(expires_at),
                    "publisher": publisher,
                    "accepted_at": _iso(now),
                    "etag": etag,
                    "last_modified": last_modified,
                    "last_sync_at": _iso(now),
                    "last_error": None,
                    "notes": "; ".join(notes) or None,
                }
            )
            self.db.execute("DELETE FROM bulletins WHERE source = ?", [Source.FEED.value])
            for position, bulletin in enumerate(bulletins):
                self.db["bulletins"].insert(
                    {
                        "id": bulletin.id,
                        "revision": bulletin.revision,
                        "source": Source.FEED.value,
                        "position": position,
                        "emergency": int(bulletin.priority is Priority.EMERGENCY),
                        "data": json.dumps(bulletin_json(bulletin), ensure_ascii=False),
                        "media_sha256": bulletin.media.sha256 if bulletin.media else None,
                        "media_bytes": bulletin.media.bytes if bulletin.media else None,
                    },
                    replace=True,
                )

    def add_commands(self, commands: Sequence[Command], now: datetime) -> None:
        """Commands from an accepted feed; an id already known (run or not) is never taken again."""
        with self.transaction():
            for command in commands:
                self.db.execute(
                    "INSERT OR IGNORE INTO commands (id, action, issued_at, expires_at, received_at) VALUES (?, ?, ?, ?, ?)",
                    [command.id, command.action.value, _iso(command.issued_at), _iso(command.expires_at), _iso(now)],
                )

    def claim_commands(self, now: datetime) -> list[tuple[str, Action]]:
        """The commands due now, each marked as run before it runs (so a crash can never run it twice).

        Expired ones are marked `expired` and never run.
        """
        rows = self.db.execute("SELECT id, action, expires_at FROM commands WHERE ran_at IS NULL ORDER BY issued_at, id").fetchall()
        due: list[tuple[str, Action]] = []
        if not rows:
            return due
        with self.transaction():
            for command_id, action, expires_at in rows:
                expired = datetime.fromisoformat(expires_at) <= now
                outcome = "expired" if expired else "started"
                self.db.execute("UPDATE commands SET ran_at = ?, outcome = ? WHERE id = ?", [_iso(now), outcome, command_id])
                if not expired:
                    due.append((command_id, Action(action)))
        return due

    def command_done(self, command_id: str, outcome: str) -> None:
        with self.transaction():
            self.db.execute("UPDATE commands SET outcome = ? WHERE id = ?", [outcome, command_id])

    def commands(self) -> list[dict[str, Any]]:
        return list(self.db["commands"].rows)

    def synced(self, now: datetime, *, state: TrustState | None = None, etag: str | None = None, last_modified: str | None = None) -> None:
        """A sync that changed no bulletin: 304, or the same feed again (its trusted time may move on)."""
        values: dict[str, Any] = {"last_sync_at": _iso(now), "last_error": None}
        if state is not None:
            values["trusted_time"] = _iso(state.trusted_time)
        if etag is not None:
            values["etag"] = etag
        if last_modified is not None:
            values["last_modified"] = last_modified
        with self.transaction():
            self._feed_row(values)

    def failed(self, message: str, now: datetime) -> None:
        with self.transaction():
            self._feed_row({"last_error": message, "last_sync_at": _iso(now)})

    # -- bulletins -----------------------------------------------------------------

    def bulletins(self, source: Source = Source.FEED) -> list[Bulletin]:
        """The held bulletins of a source; one stored before a limit it breaks (a body of millions of characters) is left out."""
        rows = self.db.execute("SELECT data FROM bulletins WHERE source = ? ORDER BY position", [source.value]).fetchall()
        spec = BulletinInput(origin=str(self.path), source=source)
        held = []
        for row in rows:
            try:
                held.append(parse_bulletin(loads_strict(row[0].encode("utf-8"), str(self.path), StoreError), spec))
            except BulletinError as exc:
                log.warning("%s; left out", exc)
        return held

    def wanted_assets(self) -> dict[str, int]:
        """The media the held bulletins need, SHA-256 → declared bytes, emergencies' first, then in feed order."""
        rows = self.db.execute(
            "SELECT media_sha256, media_bytes FROM bulletins WHERE media_sha256 IS NOT NULL ORDER BY emergency DESC, position"
        )
        return {sha: size for sha, size in rows.fetchall()}

    # -- assets and downloads --------------------------------------------------------

    def assets_stored(self, assets: Sequence[tuple[str, int]], now: datetime) -> None:
        """Media in the store, not probed here (the drop folder decodes its files fully before it takes them)."""
        with self.transaction():
            for sha256, size in assets:
                self.db["assets"].upsert({"sha256": sha256, "bytes": size, "stored_at": _iso(now), "unused_since": None}, pk="sha256")
                self.db.execute("DELETE FROM downloads WHERE sha256 = ?", [sha256])

    def media_stored(self, media: Sequence[tuple[str, int, float | None, int | None, str | None]], now: datetime) -> None:
        """(sha256, bytes, seconds, pages, probe error) of media verified on disk and probed, in one transaction.

        Stored and probed are one step: a power cut leaves a medium either unrecorded (probed at the
        next sync) or recorded with what its probe found; never recorded as stored but unprobed.
        """
        with self.transaction():
            for sha256, size, seconds, pages, error in media:
                self.db["assets"].upsert(
                    {
                        "sha256": sha256,
                        "bytes": size,
                        "stored_at": _iso(now),
                        "unused_since": None,
                        "seconds": seconds,
                        "pages": pages,
                        "probe_error": error,
                        "probed_at": _iso(now),
                    },
                    pk="sha256",
                )
                self.db.execute("DELETE FROM downloads WHERE sha256 = ?", [sha256])

    def asset_probes(self) -> dict[str, tuple[float | None, int | None, str | None]]:
        """What probing found in each probed medium: (seconds, pages, error); a medium not yet probed is absent."""
        rows = self.db.execute("SELECT sha256, seconds, pages, probe_error FROM assets WHERE probed_at IS NOT NULL").fetchall()
        return {sha: (seconds, pages, error) for sha, seconds, pages, error in rows}

    def stored_assets(self) -> dict[str, int]:
        return {sha: size for sha, size in self.db.execute("SELECT sha256, bytes FROM assets").fetchall()}

    def track_use(self, wanted: set[str], on_disk: set[str], now: datetime) -> dict[str, datetime]:
        """Note when media stopped being needed (for the clean-up's grace); writes only when that changes.

        Returns each unneeded medium's `unused_since`. A poll that changes nothing writes nothing.
        """
        rows = {sha: since for sha, since in self.db.execute("SELECT sha256, unused_since FROM assets").fetchall()}
        newly_unused = [sha for sha in on_disk if sha not in wanted and rows.get(sha) is None]  # no row, or in use until now
        used_again = [sha for sha, since in rows.items() if sha in wanted and since is not None]
        if newly_unused or used_again:
            with self.transaction():
                for sha in newly_unused:
                    self.db["assets"].upsert({"sha256": sha, "unused_since": _iso(now)}, pk="sha256")
                    rows[sha] = _iso(now)
                for sha in used_again:
                    self.db.execute("UPDATE assets SET unused_since = NULL WHERE sha256 = ?", [sha])
                    rows[sha] = None
        return {sha: datetime.fromisoformat(since) for sha, since in rows.items() if since is not None and sha not in wanted}

    def forget_asset(self, sha256: str) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM assets WHERE sha256 = ?", [sha256])

    def download_failed(self, sha256: str, size: int, message: str, now: datetime) -> None:
        with self.transaction():
            row = self.db.execute("SELECT attempts FROM downloads WHERE sha256 = ?", [sha256]).fetchone()
            attempts = (row[0] if row else 0) + 1
            self.db["downloads"].upsert(
                {"sha256": sha256, "bytes": size, "attempts": attempts, "last_error": message, "updated_at": _iso(now)}, pk="sha256"
            )

    def downloads(self) -> list[dict[str, Any]]:
        return list(self.db["downloads"].rows)

    # -- the drop folder -------------------------------------------------------------

    def inbox_files(self) -> dict[str, dict[str, Any]]:
        return {row["name"]: row for row in self.db["inbox_files"].rows}

    def take_inbox(self, name: str, bulletin: Bulletin, file: dict[str, Any]) -> None:
        """A file taken from the drop folder becomes (a new revision of) an inbox bulletin, in one transaction."""
        with self.transaction():
            self.db["inbox_files"].upsert({"name": name, "bulletin_id": bulletin.id, **file}, pk="name")
            position = self.db.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM bulletins WHERE source = 'inbox'").fetchone()[0]
            existing = self.db.execute("SELECT position FROM bulletins WHERE id = ?", [bulletin.id]).fetchone()
            self.db["bulletins"].upsert(
                {
                    "id": bulletin.id,
                    "revision": bulletin.revision,
                    "source": Source.INBOX.value,
                    "position": existing[0] if existing else position,
                    "emergency": int(bulletin.priority is Priority.EMERGENCY),
                    "data": json.dumps(bulletin_json(bulletin), ensure_ascii=False),
                    "media_sha256": bulletin.media.sha256 if bulletin.media else None,
                    "media_bytes": bulletin.media.bytes if bulletin.media else None,
                },
                pk="id",
            )

    def drop_inbox(self, name: str) -> str | None:
        """The file left the folder: its bulletin is withdrawn. Returns the bulletin's id."""
        row = self.db.execute("SELECT bulletin_id FROM inbox_files WHERE name = ?", [name]).fetchone()
        if row is None:
            return None
        with self.transaction():
            self.db.execute("DELETE FROM inbox_files WHERE name = ?", [name])
            self.db.execute("DELETE FROM bulletins WHERE id = ? AND source = 'inbox'", [row[0]])
        return row[0]


def _salvage(aside: Path) -> dict[str, list[dict[str, Any]]]:
    """The rows of `SALVAGED` tables still readable in a damaged file: scanned from both ends, so only the bad pages' rows are lost."""
    found: dict[str, list[dict[str, Any]]] = {}
    try:
        connection = sqlite3.connect(f"file:{aside}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return found
    try:
        for table in SALVAGED:
            rows: dict[int, dict[str, Any]] = {}
            for order in ("ASC", "DESC"):
                try:
                    cursor = connection.execute(f"SELECT rowid AS _rowid_, * FROM {table} ORDER BY rowid {order}")
                    names = [column[0] for column in cursor.description]
                    for values in cursor:
                        row = dict(zip(names, values, strict=True))
                        rows[row.pop("_rowid_")] = row
                except sqlite3.Error:
                    continue  # stopped at a bad page (or the table is gone): the other direction reads on
            if rows:
                found[table] = [rows[key] for key in sorted(rows)]
    finally:
        connection.close()
    return found
