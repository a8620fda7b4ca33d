"""The hub's database: one SQLAlchemy Core schema on SQLite or PostgreSQL; ingest in one transaction, aggregate reads."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from functools import partial
from time import sleep
from time import time as wall_time
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from signage.district.hub import migrate
from signage.district.hub import schema as t
from signage.district.hub.config import BoardEntry
from signage.district.hub.ingest import AHEAD, Report, Screenshot
from signage.envelope import public_key_text
from signage.errors import StoreError

log = logging.getLogger(__name__)


class Ingested(Enum):
    """What became of a report or screenshot a board sent."""

    STORED = "stored"  # new: stored now
    SAME = "same"  # held already, these very bytes (a retry whose answer was lost): nothing stored
    HELD = "held"  # held already, or pruned, and its bytes are not known (pruned, or stored before hashes were)
    COLLISION = "collision"  # other bytes held under its (board, epoch, seq): nothing stored; the board renumbers it


@dataclass(frozen=True, slots=True)
class ExportRow:
    board: str
    bulletin: str
    revision: int
    started_at: str  # local `YYYY-MM-DD HH:MM:SS` for a play, the local day `YYYY-MM-DD` for a merged total
    shown_s: float
    completed: int  # how many of `count` completed
    reason: str
    count: int  # 1 for a play, the number of plays for a merged total


def create_engine(url: str) -> Engine:
    """An engine for the hub's URL; SQLite gets WAL, synchronous=NORMAL and a busy timeout on every connection."""
    try:
        engine = sa.create_engine(url, pool_pre_ping=url.startswith("postgresql"))
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise StoreError(f"{url.split('@')[-1]}: cannot use this database: {exc}") from None
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")  # the boards resend what a power cut loses
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

    return engine


def epoch(moment: datetime) -> float:
    return moment.timestamp()


# A per-day aggregate of one board (plays of a bulletin, heartbeats) holds at most what two days can: a day's
# plays of one second, plus a board's day that straddles two of the hub's. So no sum of them nears 2**63.
DAY_CAP = 2 * 86400


# A time before any (in the text: the prepared statements carry only the rows' values).
_NEVER = sa.literal_column("0.0", sa.Double)


def _capped_sum(stored: Any, added: Any) -> Any:
    """stored + added, at most DAY_CAP; written so that it cannot overflow whatever an older hub stored."""
    cap = sa.literal_column(str(DAY_CAP))  # in the text: the prepared statements carry only the rows' values
    return sa.case((stored >= cap - added, cap), else_=stored + added)


def heard_at(received: float, signed: datetime, slack_s: float) -> float:
    """When the board was last known alive: when the hub received it, but no later than its signed time plus a
    heartbeat's slack. A captured envelope delivered late (a replay, a held-back report) cannot show a dead
    board as online; a board whose clock runs a little behind still shows as just heard."""
    return min(received, signed.timestamp() + slack_s)


def _content_errors() -> tuple[type[BaseException], ...]:
    """What a database raises for a value it cannot hold (not for being away): the report is refused, not retried."""
    import sqlite3

    errors: list[type[BaseException]] = [
        sa.exc.DataError, sa.exc.IntegrityError, sqlite3.DataError, sqlite3.IntegrityError, UnicodeEncodeError, OverflowError,
    ]  # fmt: skip
    try:
        import psycopg.errors
    except ImportError:
        pass
    else:
        errors += [psycopg.errors.DataError, psycopg.errors.IntegrityError]
    return tuple(errors)


class _Prepared:
    """A statement compiled once for the engine's dialect and run with plain driver parameters.

    Ingest is the hub's hot path (10,000 boards, 33 reports a second): this skips SQLAlchemy's per-execution
    compile-cache lookup and per-row parameter processing, which cost more than the database's own work.
    Only for statements whose values need no type conversion (text, numbers, booleans, bytes).
    """

    def __init__(self, statement: Any, engine: Engine, columns: Sequence[str]) -> None:
        compiled = statement.compile(dialect=engine.dialect, column_keys=list(columns))
        self.sql = str(compiled)
        self.order: tuple[str, ...] | None = tuple(compiled.positiontup or ()) if compiled.positional else None
        self.rows_sql: str | None = None
        if engine.dialect.name == "postgresql":
            # Many rows as one statement: the rows as one JSON text, turned back into rows by the server. One execute
            # with a fixed text (converted and prepared once) instead of one per row, and json.dumps in C instead
            # of psycopg's per-value adaptation in Python, which was most of the hub's CPU per report.
            table = statement.table
            values = re.search(r" VALUES \((?:%\(\w+\)s(?:::\w+)?(?:, )?)+\)", self.sql)
            assert values is not None, self.sql
            head, tail = self.sql[: values.start()], self.sql[values.end() :].split(" RETURNING ")[0]
            record = ", ".join(f"{name} {_pg_type(table.c[name].type)}" for name in columns)
            self.rows_sql = f"{head} SELECT {', '.join(columns)} FROM json_to_recordset(%(rows)s::json) AS r({record}){tail}"

    def run(self, cursor: Any, rows: dict[str, Any] | list[dict[str, Any]]) -> Any:
        """Run on a DB-API cursor of the transaction's connection (SQLAlchemy's per-call machinery skipped)."""
        order = self.order
        if isinstance(rows, dict):
            cursor.execute(self.sql, rows if order is None else tuple([rows[name] for name in order]))
        elif self.rows_sql is not None:
            cursor.execute(self.rows_sql, {"rows": json.dumps(rows, ensure_ascii=False, separators=(",", ":"))})
        else:
            cursor.executemany(self.sql, rows if order is None else [tuple([row[name] for name in order]) for row in rows])
        return cursor


def _pg_type(kind: Any) -> str:
    """The PostgreSQL type a column's values are read as from JSON."""
    if isinstance(kind, sa.Boolean):
        return "boolean"
    if isinstance(kind, sa.BigInteger):
        return "bigint"
    if isinstance(kind, sa.Integer):
        return "integer"
    if isinstance(kind, sa.Float):
        return "float8"
    return "text"


class HubStore:
    """Every database operation of the hub; safe to share between threads (one engine, pooled connections)."""

    def __init__(self, engine: Engine, timezone: ZoneInfo, legacy_until: float | None = None) -> None:
        self.engine = engine
        self.timezone = timezone
        # A database upgraded from before epochs: reports signed until then (and a day, the boards' clocks) may be held
        # in the empty epoch though they carry one (the old hub ignored it). None: a database made with epochs.
        self.legacy_until = legacy_until
        self._days: dict[int, str] = {}
        self._ingest_conn: Any = None
        self._ingest_lock = threading.Lock()
        self._report_floors: dict[tuple[str, str], int] | None = None  # (board, epoch) → the highest report seq pruned
        self._shot_floors: dict[str, int] = {}  # board → the highest screenshot seq pruned (loaded with the above)
        self._rows_added: dict[tuple[str, str], int] = {}  # (board, hub day) → rows it added: the daily quota
        self._rows_day = ""  # the latest day counted
        self._limits_lock = threading.Lock()
        self.dialect = engine.dialect.name
        insert = _dialect_insert(engine)
        self._insert_report = insert(t.reports).on_conflict_do_nothing(index_elements=["board", "epoch", "seq"]).returning(t.reports.c.seq)
        self._insert_plays = sa.insert(t.plays)
        self._insert_totals = sa.insert(t.play_totals)
        ins = insert(t.play_days)
        self._upsert_play_days = ins.on_conflict_do_update(
            index_elements=["board", "bulletin", "revision", "day"],
            set_={
                "count": _capped_sum(t.play_days.c.count, ins.excluded.count),
                "completed": _capped_sum(t.play_days.c.completed, ins.excluded.completed),
                "shown_s": t.play_days.c.shown_s + ins.excluded.shown_s,
            },
        )
        ins = insert(t.board_days)
        self._upsert_board_days = ins.on_conflict_do_update(
            index_elements=["board", "day"],
            set_={
                "heartbeats": _capped_sum(t.board_days.c.heartbeats, ins.excluded.heartbeats),
                "plays": _capped_sum(t.board_days.c.plays, ins.excluded.plays),
            },
        )
        ins = insert(t.board_day_rows)
        self._upsert_rows_added = ins.on_conflict_do_update(
            index_elements=["board", "day"], set_={"rows_added": t.board_day_rows.c.rows_added + ins.excluded.rows_added}
        )
        ins = insert(t.board_state)
        state = t.board_state.c
        # Newer: within one epoch the higher seq (a board's clock may step back between two reports); across epochs,
        # whose seqs cannot be compared (a board numbering again after its database was lost), the later signed time.
        newer = sa.or_(
            sa.and_(ins.excluded.last_epoch == state.last_epoch, ins.excluded.last_seq > state.last_seq),
            sa.and_(ins.excluded.last_epoch != state.last_epoch, ins.excluded.sent_at >= sa.func.coalesce(state.sent_at, _NEVER)),
        )
        status_columns = (
            "last_epoch", "last_seq", "sent_at", "status", "version", "feed_sequence", "feed_stale", "now_playing",
            "last_error", "disk_free", "display_on", "clock_behind_trusted", "heartbeat_s",
        )  # fmt: skip
        self._upsert_state = ins.on_conflict_do_update(
            index_elements=["board"],
            set_={
                "last_seen": self._later_seen(ins.excluded),
                # A late, older report (a merged backlog) adds its plays but never overwrites a newer status.
                **{name: sa.case((newer, ins.excluded[name]), else_=t.board_state.c[name]) for name in status_columns},
            },
        )
        ins = insert(t.board_state)
        # The newest screenshot by its signed time, not its seq: a board numbering again (its database lost) takes
        # new pictures under old seqs. screenshot_at is then the latest the hub ever held, which replays never pass.
        newer_shot = ins.excluded.screenshot_at >= sa.func.coalesce(t.board_state.c.screenshot_at, _NEVER)
        self._upsert_state_screenshot = ins.on_conflict_do_update(
            index_elements=["board"],
            set_={
                "last_seen": self._later_seen(ins.excluded),
                "screenshot_seq": sa.case((newer_shot, ins.excluded.screenshot_seq), else_=t.board_state.c.screenshot_seq),
                "screenshot_at": sa.case((newer_shot, ins.excluded.screenshot_at), else_=t.board_state.c.screenshot_at),
            },
        )
        ins = insert(t.commands_done)
        self._upsert_commands = ins.on_conflict_do_update(
            index_elements=["board", "id"],
            set_={"ok": ins.excluded.ok, "at": ins.excluded.at, "detail": ins.excluded.detail, "received_at": ins.excluded.received_at},
        )
        self._insert_shot = insert(t.screenshots).on_conflict_do_nothing(index_elements=["board", "seq"]).returning(t.screenshots.c.seq)
        ins = insert(t.screenshots)
        self._replace_shot = ins.on_conflict_do_update(  # a picture taken after every one held, under a seq held before
            index_elements=["board", "seq"], set_={c.name: ins.excluded[c.name] for c in t.screenshots.c if c.name not in ("board", "seq")}
        )
        shots = t.screenshots.c
        kept = sa.select(shots.seq).where(shots.board == sa.bindparam("b")).order_by(shots.taken_at.desc(), shots.seq.desc())
        self._prune_shots = (
            sa.delete(t.screenshots)
            .where(
                t.screenshots.c.board == sa.bindparam("b"),
                t.screenshots.c.seq.not_in(kept.limit(sa.bindparam("keep", type_=sa.Integer)).scalar_subquery()),
            )
            .returning(t.screenshots.c.seq)
        )
        self._insert = insert
        prepare = partial(_Prepared, engine=engine)
        self._fast_report = prepare(self._insert_report, columns=[c.name for c in t.reports.c])
        self._fast_report_strict = prepare(sa.insert(t.reports), columns=[c.name for c in t.reports.c])
        self._fast_plays = prepare(self._insert_plays, columns=[c.name for c in t.plays.c if c.name != "id"])
        self._fast_totals = prepare(self._insert_totals, columns=[c.name for c in t.play_totals.c])
        self._fast_play_days = prepare(self._upsert_play_days, columns=[c.name for c in t.play_days.c])
        self._fast_board_days = prepare(self._upsert_board_days, columns=[c.name for c in t.board_days.c])
        self._fast_state = prepare(self._upsert_state, columns=[c.name for c in t.board_state.c])
        self._fast_commands = prepare(self._upsert_commands, columns=[c.name for c in t.commands_done.c])
        self._fast_rows_added = prepare(self._upsert_rows_added, columns=[c.name for c in t.board_day_rows.c])
        self._row_lists = {
            id(self._fast_plays): "plays",
            id(self._fast_totals): "totals",
            id(self._fast_play_days): "play_days",
            id(self._fast_board_days): "board_days",
            id(self._fast_commands): "commands",
        }
        self._pg_report_sql = self._one_statement() if self.dialect == "postgresql" else ""

    def _one_statement(self) -> str:
        """PostgreSQL: a whole report as one statement (data-modifying CTEs), atomic by itself: one round trip."""
        parts = [("w_report", self._fast_report_strict.sql), ("w_state", self._fast_state.sql), ("w_rows", self._fast_rows_added.sql)]
        for prepared in (self._fast_plays, self._fast_totals, self._fast_play_days, self._fast_board_days, self._fast_commands):
            name = self._row_lists[id(prepared)]
            assert prepared.rows_sql is not None
            parts.append((f"w_{name}", prepared.rows_sql.replace("%(rows)s", f"%({name})s")))
        return "WITH " + ", ".join(f"{name} AS ({sql})" for name, sql in parts) + " SELECT 1"

    def _later_seen(self, excluded: Any) -> Any:
        """The later of the stored and the new `last_seen`."""
        stored = t.board_state.c.last_seen
        return sa.case((excluded.last_seen > stored, excluded.last_seen), else_=stored)

    @classmethod
    def open(cls, url: str, timezone: ZoneInfo, now: float | None = None) -> HubStore:
        """Connect, create the tables that are missing, upgrade a database of an older schema (`now`: the hub's
        clock, UTC seconds, noted by an upgrade) and check the schema version."""
        _private_sqlite_file(url)
        engine = create_engine(url)
        settings = t.settings.c
        try:
            t.metadata.create_all(engine)
            with engine.begin() as conn:
                # Older hubs kept the key that signed session cookies here; sessions are rows now, and the key
                # would let anyone who ever read this database forge one for any name.
                conn.execute(sa.delete(t.settings).where(settings.key == "session_secret"))
                conn.execute(
                    _dialect_insert(engine)(t.settings).on_conflict_do_nothing(), {"key": "schema_version", "value": str(t.SCHEMA_VERSION)}
                )
                version = conn.execute(sa.select(settings.value).where(settings.key == "schema_version")).scalar_one()
            if version.isdigit() and int(version) < t.SCHEMA_VERSION:
                migrate.upgrade(engine, wall_time() if now is None else now)
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.select(settings.key, settings.value).where(settings.key.in_(["schema_version", migrate.EPOCHS_FROM]))
                )
                found = {key: value for key, value in rows}
        except sa.exc.SQLAlchemyError as exc:
            engine.dispose()
            raise StoreError(f"{_safe(url)}: cannot open the hub's database: {_first_line(exc)}") from None
        version = found["schema_version"]
        if version != str(t.SCHEMA_VERSION):
            engine.dispose()
            raise StoreError(f"{_safe(url)}: schema version {version}, this hub knows {t.SCHEMA_VERSION}")
        epochs_from = found.get(migrate.EPOCHS_FROM)
        return cls(engine, timezone, None if epochs_from is None else float(epochs_from) + AHEAD.total_seconds())

    def close(self) -> None:
        if self._ingest_conn is not None:
            self._drop_ingest_connection()
        self.engine.dispose()

    def local_day(self, moment: datetime | float) -> str:
        """The hub's local day of a moment (cached by quarter hour: every zone's midnight falls on one)."""
        return self._day_of_quarter(int((moment.timestamp() if isinstance(moment, datetime) else moment) // 900))

    def _day_of_quarter(self, quarter: int) -> str:
        day = self._days.get(quarter)
        if day is None:
            if len(self._days) > 100_000:
                self._days.clear()
            day = self._days[quarter] = datetime.fromtimestamp(quarter * 900, self.timezone).date().isoformat()
        return day

    # --- writes -------------------------------------------------------------------------------------

    def sync_boards(self, boards: Sequence[BoardEntry]) -> None:
        """The config's boards into the `boards` table (names and keys as configured now)."""
        if not boards:
            return
        ins = self._insert(t.boards)
        upsert = ins.on_conflict_do_update(
            index_elements=["id"],
            set_={"name": ins.excluded.name, "public_key": ins.excluded.public_key, "keyid": ins.excluded.keyid, "from_config": True},
        )
        rows = [
            {"id": b.id, "name": b.name, "public_key": public_key_text(b.public_key), "keyid": b.keyid, "from_config": True} for b in boards
        ]
        with self.engine.begin() as conn:
            conn.execute(upsert, rows)

    def ingest_report(
        self, report: Report, received_at: datetime, *, keep_plays: int | None = None, seen_slack_s: float = 300.0
    ) -> Ingested:
        """Store a verified report in one transaction (one statement on PostgreSQL), or say why nothing was stored.

        A report is named by (board, epoch, seq). One held already is SAME when the payload's SHA-256 is the one
        held, a COLLISION when it is not (the board numbered again in the same epoch: a database sent back in time),
        HELD when the hub cannot tell: at or below the seq it pruned for that board and epoch (a replay of something
        already counted), or stored before hashes were kept. Only its first `keep_plays` plays are stored row by row
        (the daily quota); the rest are folded into per-day totals. A report the database cannot hold for its
        content raises StoreError (the board should not send it again); anything else (the database away) is the
        caller's 503.
        """
        if report.seq <= self.floors(report.board, report.epoch)[0]:
            return Ingested.HELD
        if self._signed_before_epochs(report) and self._held_before_epochs(report):
            return Ingested.HELD
        received = epoch(received_at)
        digest = hashlib.sha256(report.body).digest()
        first, rest, rows = self._report_rows(report, received, keep_plays, seen_slack_s, digest)
        try:
            if self.dialect == "postgresql":
                outcome = self._ingest_pipelined(first, rest)
            else:
                with self.engine.begin() as conn:
                    cursor = conn.connection.cursor()
                    if self._fast_report.run(cursor, first).fetchone() is None:  # RETURNING names no row: held already
                        return self._held_as(cursor, first)
                    for prepared, values in rest:
                        prepared.run(cursor, values)
                outcome = Ingested.STORED
        except _content_errors() as exc:
            raise StoreError(f"report {report.board} seq {report.seq}: the database cannot hold it: {_first_line(exc)}") from None
        if outcome is Ingested.STORED:
            key = (report.board, self.local_day(received))
            with self._limits_lock:
                if key in self._rows_added:
                    self._rows_added[key] += rows
        return outcome

    def _held_as(self, cursor: Any, first: dict[str, Any]) -> Ingested:
        """A report whose (board, epoch, seq) is held: the same bytes, other bytes, or bytes not known (see Ingested)."""
        marker = "?" if self.dialect == "sqlite" else "%s"  # a DB-API cursor of the ingest's own connection
        cursor.execute(f"SELECT sha256 FROM reports WHERE board = {marker} AND epoch = {marker} AND seq = {marker}",
                       (first["board"], first["epoch"], first["seq"]))  # fmt: skip
        row = cursor.fetchone()
        if row is None or row[0] is None:  # pruned since, or stored by a hub before schema 2
            return Ingested.HELD
        return Ingested.SAME if bytes(row[0]) == first["sha256"] else Ingested.COLLISION

    def _signed_before_epochs(self, report: Report) -> bool:
        """A report with an epoch signed before this database was upgraded to epochs (and a day: the boards' clocks)."""
        return bool(report.epoch) and self.legacy_until is not None and epoch(report.sent_at) <= self.legacy_until

    def _held_before_epochs(self, report: Report) -> bool:
        """A report signed before this database was upgraded to epochs, by a board that sent epochs to the old hub
        (which ignored them and keyed it by (board, seq) alone): held if that row is this report (same signed time),
        or pruned (at or below the board's floor from then)."""
        if report.seq <= self.floors(report.board, "")[0]:
            return True
        r = t.reports.c
        query = sa.select(r.sent_at).where(r.board == report.board, r.epoch == "", r.seq == report.seq)
        with self.engine.connect() as conn:
            held = conn.execute(query).scalar_one_or_none()
        return held is not None and held == epoch(report.sent_at)

    def _ingest_pipelined(self, first: dict[str, Any], rest: list[tuple[_Prepared, Any]]) -> Ingested:
        """PostgreSQL: the report as one statement in autocommit (one round trip; it is atomic by itself).

        A (board, epoch, seq) already held fails the statement on a primary key (the report's, or its totals'),
        and the whole statement with it, so nothing is stored twice; then one more query reads the hash held.
        """
        import psycopg.errors

        params: dict[str, Any] = dict.fromkeys(self._row_lists.values(), "[]")
        params.update(first)
        for prepared, rows in rest:
            if isinstance(rows, dict):  # the board's state
                params.update(rows)
            else:
                params[self._row_lists[id(prepared)]] = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
        connection = self._ingest_connection()
        try:
            connection.execute(self._pg_report_sql, params)
        except psycopg.errors.UniqueViolation as exc:
            # Both keys hold a (board, epoch, seq): whichever part of the statement meets it first, the report was held.
            if exc.diag.constraint_name not in ("reports_pkey", "play_totals_pkey"):
                raise
            try:
                return self._held_as(connection.cursor(), first)
            except psycopg.OperationalError:
                self._drop_ingest_connection()
                raise
        except psycopg.OperationalError:
            self._drop_ingest_connection()  # the next report reconnects; this one is answered 503 and sent again
            raise
        return Ingested.STORED

    def _ingest_connection(self) -> Any:
        """Reports' own autocommit connection (the pool's would set and reset autocommit: round trips each time)."""
        import psycopg

        with self._ingest_lock:
            if self._ingest_conn is None or self._ingest_conn.closed:
                url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
                self._ingest_conn = psycopg.connect(url, autocommit=True)
            return self._ingest_conn

    def _drop_ingest_connection(self) -> None:
        with self._ingest_lock:
            if self._ingest_conn is not None:
                self._ingest_conn.close()
                self._ingest_conn = None

    def _report_rows(
        self, report: Report, received: float, keep_plays: int | None, seen_slack_s: float, digest: bytes
    ) -> tuple[dict[str, Any], list[tuple[_Prepared, Any]], int]:
        """The report's row, the other statements' rows (plays, totals, daily aggregates, state, commands, the
        board's rows today), and how many rows it adds."""
        board, seq, report_epoch = report.board, report.seq, report.epoch
        first = {
            "board": board,
            "epoch": report_epoch,
            "seq": seq,
            "received_at": received,
            "sent_at": epoch(report.sent_at),
            "sha256": digest,
        }
        rest: list[tuple[_Prepared, Any]] = []
        keep = len(report.plays) if keep_plays is None else keep_plays
        play_rows = []
        folded: dict[tuple[str, int, str], list[float]] = {}
        days: dict[tuple[str, int, str], list[float]] = {}
        board_days: Counter[str] = Counter()
        for index, play in enumerate(report.plays):
            started = play.started_at.timestamp()
            day = self.local_day(started)
            if index < keep:
                play_rows.append(
                    {
                        "board": board, "seq": seq, "idx": index, "bulletin": play.bulletin, "revision": play.revision,
                        "started_at": started, "day": day, "shown_s": play.shown_s,
                        "completed": play.completed, "reason": play.reason,
                    }
                )  # fmt: skip
            else:  # past the board's quota for today: counted, not stored one by one
                fold = folded.setdefault((play.bulletin, play.revision, day), [0, 0, 0.0])
                fold[0] += 1
                fold[1] += play.completed
                fold[2] += play.shown_s
            sums = days.setdefault((play.bulletin, play.revision, day), [0, 0, 0.0])
            sums[0] += 1
            sums[1] += play.completed
            sums[2] += play.shown_s
            board_days[day] += 1
        total_rows = []
        for index, total in enumerate(report.play_totals):
            total_rows.append(
                {
                    "board": board, "epoch": report_epoch, "seq": seq, "idx": index, "bulletin": total.bulletin,
                    "revision": total.revision, "day": total.day, "count": total.count, "completed": total.completed,
                    "shown_s": total.shown_s,
                }
            )  # fmt: skip
            sums = days.setdefault((total.bulletin, total.revision, total.day), [0, 0, 0.0])
            sums[0] += total.count
            sums[1] += total.completed
            sums[2] += total.shown_s
            board_days[total.day] += total.count
        for index, ((bulletin, revision, day), (count, done, shown)) in enumerate(folded.items(), start=len(total_rows)):
            total_rows.append(
                {
                    "board": board, "epoch": report_epoch, "seq": seq, "idx": index, "bulletin": bulletin, "revision": revision,
                    "day": day, "count": count, "completed": done, "shown_s": shown,
                }
            )  # fmt: skip
        if play_rows:
            rest.append((self._fast_plays, play_rows))
        if total_rows:
            rest.append((self._fast_totals, total_rows))
        if days:
            rest.append(
                (
                    self._fast_play_days,
                    [
                        {
                            "board": board,
                            "bulletin": bulletin,
                            "revision": revision,
                            "day": day,
                            "count": c,
                            "completed": done,
                            "shown_s": shown,
                        }
                        for (bulletin, revision, day), (c, done, shown) in days.items()
                    ],
                )
            )
        # A report is one heartbeat on the day it was sent; a merged one brings the heartbeats it stands for.
        beats = dict(report.heartbeat_days) if report.heartbeat_days else {self.local_day(report.sent_at): 1}
        day_rows = [{"board": board, "day": day, "heartbeats": beats.get(day, 0), "plays": n} for day, n in board_days.items()]
        day_rows += [{"board": board, "day": day, "heartbeats": n, "plays": 0} for day, n in beats.items() if day not in board_days]
        rest.append((self._fast_board_days, day_rows))
        status = report.status
        rest.append((
            self._fast_state,
            {
                "board": board, "last_seen": heard_at(received, report.sent_at, seen_slack_s), "last_epoch": report_epoch,
                "last_seq": seq, "sent_at": epoch(report.sent_at),
                "status": json.dumps(status.raw, ensure_ascii=False), "version": status.version,
                "feed_sequence": status.feed_sequence, "feed_stale": status.feed_stale, "now_playing": status.now_playing,
                "last_error": status.last_error, "disk_free": status.disk_free_bytes, "display_on": status.display_on,
                "clock_behind_trusted": status.clock_behind_trusted, "heartbeat_s": status.heartbeat_s,
                "screenshot_seq": None, "screenshot_at": None,
            },
        ))  # fmt: skip
        if report.commands_done:
            rest.append(
                (
                    self._fast_commands,
                    [
                        {
                            "board": board,
                            "id": c.id,
                            "ok": c.ok,
                            "at": epoch(c.at) if c.at else None,
                            "detail": c.detail,
                            "received_at": received,
                        }
                        for c in report.commands_done
                    ],
                )
            )
        rows = len(play_rows) + len(total_rows) + len(report.commands_done)
        rest.append((self._fast_rows_added, {"board": board, "day": self.local_day(received), "rows_added": rows}))
        return first, rest, rows

    def ingest_screenshot(self, shot: Screenshot, thumb: bytes, received_at: datetime, keep: int, seen_slack_s: float = 300.0) -> Ingested:
        """Store a verified screenshot and keep the newest `keep` of its board (by the time each was taken).

        A picture taken after every one the hub ever held of the board is new, whatever its seq: a board whose
        database was lost numbers from 1 again, and its new pictures replace the old ones held under those seqs.
        Any other is SAME when its (board, seq) holds these bytes, HELD when it holds other bytes or the seq is at
        or below the newest one pruned (a replay: nothing stored, the board not shown as heard from).
        """
        received = epoch(received_at)
        taken = epoch(shot.taken_at)
        digest = hashlib.sha256(shot.png).digest()
        row = {
            "board": shot.board, "seq": shot.seq, "taken_at": taken, "received_at": received, "command": shot.command,
            "width": shot.width, "height": shot.height, "png": shot.png, "thumb": thumb, "sha256": digest,
        }  # fmt: skip
        s = t.screenshots.c
        try:
            with self.engine.begin() as conn:
                newest = conn.execute(sa.select(t.board_state.c.screenshot_at).where(t.board_state.c.board == shot.board)).scalar()
                if newest is None or taken > newest:
                    conn.execute(self._replace_shot, row)
                else:
                    if shot.seq <= self.floors(shot.board)[1]:
                        return Ingested.HELD
                    if conn.execute(self._insert_shot, row).fetchone() is None:  # RETURNING names no row: the seq is held
                        held = conn.execute(sa.select(s.sha256).where(s.board == shot.board, s.seq == shot.seq)).scalar()
                        return Ingested.SAME if held == digest else Ingested.HELD
                pruned = [row[0] for row in conn.execute(self._prune_shots, {"b": shot.board, "keep": keep})]
                if pruned:
                    self._raise_floors(conn, {shot.board: max(pruned)})
                conn.execute(
                    self._upsert_state_screenshot,
                    {
                        "board": shot.board,
                        "last_seen": heard_at(received, shot.taken_at, seen_slack_s),
                        "last_seq": 0,
                        "screenshot_seq": shot.seq,
                        "screenshot_at": taken,
                    },
                )
        except _content_errors() as exc:
            raise StoreError(f"screenshot {shot.board} seq {shot.seq}: the database cannot hold it: {_first_line(exc)}") from None
        return Ingested.STORED

    # --- the boards' limits: replays, daily quota, retention ----------------------------------------------

    def floors(self, board: str, report_epoch: str = "") -> tuple[int, int]:
        """(report seq in `report_epoch`, screenshot seq) at or below which the board's reports and screenshots were pruned."""
        floors = self._report_floors
        if floors is None:
            with self.engine.connect() as conn:
                reports = conn.execute(sa.select(t.report_floors.c.board, t.report_floors.c.epoch, t.report_floors.c.seq))
                loaded = {(row.board, row.epoch): int(row.seq) for row in reports}
                shots = conn.execute(sa.select(t.board_floors.c.board, t.board_floors.c.screenshot_seq))
                loaded_shots = {row.board: int(row.screenshot_seq) for row in shots}
            with self._limits_lock:
                if self._report_floors is None:
                    self._report_floors, self._shot_floors = loaded, loaded_shots
                floors = self._report_floors
        return floors.get((board, report_epoch), 0), self._shot_floors.get(board, 0)

    def _raise_floors(self, conn: Any, highest: dict[str, int]) -> None:
        """Raise the boards' screenshot floors (in this transaction, and the cache with it) to the seqs just pruned."""
        self.floors("")  # loaded
        ins = self._insert(t.board_floors)
        stored = t.board_floors.c.screenshot_seq
        upsert = ins.on_conflict_do_update(
            index_elements=["board"],
            set_={"screenshot_seq": sa.case((ins.excluded.screenshot_seq > stored, ins.excluded.screenshot_seq), else_=stored)},
        )
        conn.execute(upsert, [{"board": board, "report_seq": 0, "screenshot_seq": seq} for board, seq in highest.items()])
        with self._limits_lock:
            for board, seq in highest.items():
                self._shot_floors[board] = max(self._shot_floors.get(board, 0), seq)

    def _raise_report_floors(self, conn: Any, highest: dict[tuple[str, str], int]) -> None:
        """Raise the floors of these (board, epoch)s (in this transaction, and the cache with it) to the seqs just pruned."""
        self.floors("")  # loaded
        ins = self._insert(t.report_floors)
        stored = t.report_floors.c.seq
        upsert = ins.on_conflict_do_update(
            index_elements=["board", "epoch"], set_={"seq": sa.case((ins.excluded.seq > stored, ins.excluded.seq), else_=stored)}
        )
        conn.execute(upsert, [{"board": board, "epoch": key_epoch, "seq": seq} for (board, key_epoch), seq in highest.items()])
        assert self._report_floors is not None
        with self._limits_lock:
            for key, seq in highest.items():
                self._report_floors[key] = max(self._report_floors.get(key, 0), seq)

    def rows_added(self, board: str, day: str) -> int:
        """Rows the board added on the hub's `day` (cached: one query per board and day)."""
        key = (board, day)
        with self._limits_lock:
            cached = self._rows_added.get(key)
        if cached is not None:
            return cached
        query = sa.select(t.board_day_rows.c.rows_added).where(t.board_day_rows.c.board == board, t.board_day_rows.c.day == day)
        with self.engine.connect() as conn:
            stored = int(conn.execute(query).scalar_one_or_none() or 0)
        with self._limits_lock:
            if day > self._rows_day:  # a new day: the counts of the days before are done with
                self._rows_day = day
                self._rows_added = {k: v for k, v in self._rows_added.items() if k[1] >= day}
            return self._rows_added.setdefault(key, stored)

    def prune(self, now: datetime, keep_days: int, batch: int = 5000, pause_s: float = 0.02) -> dict[str, int]:
        """Delete raw records older than `keep_days`: plays, merged totals, reports, screenshots, command outcomes.

        The per-day aggregates (play_days, board_days) stay: the dashboard's figures outlive the rows. The highest
        seq pruned of each board is kept as its floor, so a replay of a pruned report is never counted again.
        In batches with a pause between them, so reports keep being stored while it runs.
        """
        cutoff = epoch(now) - keep_days * 86400.0
        cutoff_day = self.local_day(cutoff)
        p, pt, r, s, c, q = t.plays, t.play_totals, t.reports, t.screenshots, t.commands_done, t.board_day_rows
        deleted: Counter[str] = Counter()

        def in_batches(name: str, step: Callable[[Any], int]) -> None:
            while True:
                with self.engine.begin() as conn:
                    done = step(conn)
                deleted[name] += done
                if done < batch:
                    return
                sleep(pause_s)

        def plays(conn: Any) -> int:
            ids = sa.select(p.c.id).where(p.c.started_at < cutoff).limit(batch).scalar_subquery()
            return conn.execute(sa.delete(p).where(p.c.id.in_(ids))).rowcount

        def totals(conn: Any) -> int:
            keys = sa.select(pt.c.board, pt.c.epoch, pt.c.seq, pt.c.idx).where(pt.c.day < cutoff_day).limit(batch)
            return conn.execute(sa.delete(pt).where(sa.tuple_(pt.c.board, pt.c.epoch, pt.c.seq, pt.c.idx).in_(keys))).rowcount

        def reports(conn: Any) -> int:
            keys = conn.execute(sa.select(r.c.board, r.c.epoch, r.c.seq).where(r.c.received_at < cutoff).limit(batch)).all()
            if not keys:
                return 0
            highest: dict[tuple[str, str], int] = {}
            for board, key_epoch, seq in keys:
                highest[(board, key_epoch)] = max(highest.get((board, key_epoch), 0), int(seq))
            self._raise_report_floors(conn, highest)
            return conn.execute(sa.delete(r).where(sa.tuple_(r.c.board, r.c.epoch, r.c.seq).in_([tuple(k) for k in keys]))).rowcount

        def screenshots(conn: Any) -> int:
            keys = conn.execute(sa.select(s.c.board, s.c.seq).where(s.c.received_at < cutoff).limit(batch)).all()
            if not keys:
                return 0
            highest: dict[str, int] = {}
            for board, seq in keys:
                highest[board] = max(highest.get(board, 0), int(seq))
            self._raise_floors(conn, highest)
            return conn.execute(sa.delete(s).where(sa.tuple_(s.c.board, s.c.seq).in_([tuple(k) for k in keys]))).rowcount

        def commands(conn: Any) -> int:
            keys = sa.select(c.c.board, c.c.id).where(c.c.received_at < cutoff).limit(batch)
            return conn.execute(sa.delete(c).where(sa.tuple_(c.c.board, c.c.id).in_(keys))).rowcount

        in_batches("plays", plays)
        in_batches("play_totals", totals)
        in_batches("reports", reports)
        in_batches("screenshots", screenshots)
        in_batches("commands_done", commands)
        with self.engine.begin() as conn:  # the quota's counts are needed for today only
            deleted["board_day_rows"] = conn.execute(sa.delete(q).where(q.c.day < self.local_day(epoch(now) - 2 * 86400.0))).rowcount
        return dict(deleted)

    # --- officers, their sessions and sign-in throttling ---------------------------------------------------

    def set_user(self, name: str, password_hash: str, now: datetime, *, root_admin: bool = True, full_name: str | None = None) -> bool:
        """Add an officer or replace their password (which ends all their sessions); True when the name is new.

        `root_admin`: the CLI's way in (whoever runs it holds the server): the officer administers the root unit,
        so a new hub's first administrator, or one locked out, can then manage everyone else in the browser."""
        with self.engine.begin() as conn:
            existed = conn.execute(sa.select(t.users.c.name).where(t.users.c.name == name)).first() is not None
            ins = self._insert(t.users)
            conn.execute(
                ins.on_conflict_do_update(index_elements=["name"], set_={"password_hash": ins.excluded.password_hash}),
                {"name": name, "password_hash": password_hash, "created_at": epoch(now)},
            )
            if full_name:
                conn.execute(sa.update(t.users).where(t.users.c.name == name).values(full_name=full_name[:100]))
            conn.execute(sa.delete(t.sessions).where(t.sessions.c.officer == name))
            if root_admin:
                conn.execute(self._insert(t.roles).on_conflict_do_nothing(), {"officer": name, "unit": t.ROOT_UNIT, "role": "admin"})
        return not existed

    def remove_user(self, name: str) -> bool:
        """Remove an officer and end their sessions; False when there was no such officer."""
        with self.engine.begin() as conn:
            conn.execute(sa.delete(t.sessions).where(t.sessions.c.officer == name))
            conn.execute(sa.delete(t.roles).where(t.roles.c.officer == name))
            return conn.execute(sa.delete(t.users).where(t.users.c.name == name)).rowcount > 0

    def password_hash(self, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(t.users.c.password_hash).where(t.users.c.name == name)).scalar_one_or_none()

    def start_session(self, token_hash: str, officer: str, now: float, expired_before: float) -> None:
        """A new session; sessions last seen before `expired_before` are deleted on the way."""
        with self.engine.begin() as conn:
            conn.execute(sa.delete(t.sessions).where(t.sessions.c.last_seen < expired_before))
            conn.execute(sa.insert(t.sessions), {"token_hash": token_hash, "officer": officer, "created_at": now, "last_seen": now})

    def session(self, token_hash: str) -> sa.Row[Any] | None:
        """(officer, created_at, last_seen) of a session whose officer still exists: one primary-key lookup each."""
        s, u = t.sessions, t.users
        query = (
            sa.select(s.c.officer, s.c.created_at, s.c.last_seen)
            .select_from(s.join(u, u.c.name == s.c.officer))
            .where(s.c.token_hash == token_hash)
        )
        with self.engine.connect() as conn:
            return conn.execute(query).first()

    def touch_session(self, token_hash: str, now: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.update(t.sessions).where(t.sessions.c.token_hash == token_hash).values(last_seen=now))

    def end_session(self, token_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.delete(t.sessions).where(t.sessions.c.token_hash == token_hash))

    def add_sign_in_failures(self, keys: Sequence[str], at: float) -> list[int]:
        """One failure row per key; their ids (a sign-in counts as failed until its password proves right)."""
        with self.engine.begin() as conn:
            inserted = conn.execute(sa.insert(t.sign_in_failures).returning(t.sign_in_failures.c.id), [{"key": k, "at": at} for k in keys])
            return [row[0] for row in inserted]

    def forget_sign_in_failures(self, ids: Sequence[int]) -> None:
        if ids:
            with self.engine.begin() as conn:
                conn.execute(sa.delete(t.sign_in_failures).where(t.sign_in_failures.c.id.in_(list(ids))))

    def sign_in_failures(self, keys: Sequence[str], since: float, other_than: Sequence[int] = ()) -> dict[str, list[float]]:
        """Per key, the times of its failures after `since` (oldest first), leaving out the rows `other_than` names."""
        f = t.sign_in_failures
        query = sa.select(f.c.key, f.c.at).where(f.c.key.in_(list(keys)), f.c.at > since).order_by(f.c.at)
        if other_than:
            query = query.where(f.c.id.not_in(list(other_than)))
        found: dict[str, list[float]] = {key: [] for key in keys}
        with self.engine.connect() as conn:
            for key, at in conn.execute(query):
                found[key].append(at)
        return found

    def known_sign_in(self, name_key: str, address_key: str, since: float) -> bool:
        k = t.sign_in_known
        query = sa.select(k.c.at).where(k.c.name_key == name_key, k.c.address_key == address_key, k.c.at > since)
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def remember_sign_in(self, name_key: str, address_key: str, at: float) -> None:
        ins = self._insert(t.sign_in_known)
        with self.engine.begin() as conn:
            conn.execute(
                ins.on_conflict_do_update(index_elements=["name_key", "address_key"], set_={"at": ins.excluded.at}),
                {"name_key": name_key, "address_key": address_key, "at": at},
            )

    def prune_sign_in(self, failures_before: float, known_before: float) -> None:
        """Throttling's rows age out by time alone: nothing an attacker sends evicts a live one."""
        with self.engine.begin() as conn:
            conn.execute(sa.delete(t.sign_in_failures).where(t.sign_in_failures.c.at <= failures_before))
            conn.execute(sa.delete(t.sign_in_known).where(t.sign_in_known.c.at <= known_before))

    # --- reads --------------------------------------------------------------------------------------

    def _sum(self, column: Any, integer: bool = False) -> Any:
        """SUM that cannot overflow: SQLite's sum() of integers raises past 2**63 (a page answering 500 for every
        officer), its total() is a double; cast back to an integer, it stops at the largest. PostgreSQL sums
        bigints as numeric, which does not overflow."""
        if self.dialect != "sqlite":
            return sa.func.sum(column)
        return sa.cast(sa.func.total(column), sa.BigInteger) if integer else sa.func.total(column)

    def board_states(self) -> dict[str, sa.Row[Any]]:
        with self.engine.connect() as conn:
            return {row.board: row for row in conn.execute(sa.select(t.board_state))}

    def board_state(self, board: str) -> sa.Row[Any] | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(t.board_state).where(t.board_state.c.board == board)).first()

    def board_days(self, first: date, last: date, board: str | None = None, boards: Sequence[str] | None = None) -> list[sa.Row[Any]]:
        """(board, day, heartbeats, plays) for the days in [first, last], for one board, some, or all."""
        query = sa.select(t.board_days).where(t.board_days.c.day.between(first.isoformat(), last.isoformat()))
        if board is not None:
            query = query.where(t.board_days.c.board == board)
        if boards is not None:
            query = query.where(t.board_days.c.board.in_(list(boards)))
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def heard_seconds_per_day(
        self, first: date, last: date, default_heartbeat_s: float, boards: Sequence[str] | None = None
    ) -> dict[str, float]:
        """Per day, the seconds each board was heard from (heartbeats × its interval, at most a day), summed over boards."""
        bd, bs = t.board_days, t.board_state
        heard = bd.c.heartbeats * sa.func.coalesce(bs.c.heartbeat_s, default_heartbeat_s)
        capped = sa.case((heard > 86400.0, 86400.0), else_=heard)
        query = (
            sa.select(bd.c.day, self._sum(capped))
            .select_from(bd.outerjoin(bs, bs.c.board == bd.c.board))
            .where(bd.c.day.between(first.isoformat(), last.isoformat()))
            .group_by(bd.c.day)
        )
        if boards is not None:  # an officer's units: only their boards count
            query = query.where(bd.c.board.in_(sorted(boards)))
        with self.engine.connect() as conn:
            return {day: float(total or 0.0) for day, total in conn.execute(query)}

    def plays_per_day(self, first: date, last: date, boards: Sequence[str] | None = None) -> dict[str, int]:
        query = (
            sa.select(t.board_days.c.day, self._sum(t.board_days.c.plays, integer=True))
            .where(t.board_days.c.day.between(first.isoformat(), last.isoformat()))
            .group_by(t.board_days.c.day)
        )
        if boards is not None:
            query = query.where(t.board_days.c.board.in_(sorted(boards)))
        with self.engine.connect() as conn:
            return {day: int(total or 0) for day, total in conn.execute(query)}

    def bulletin_totals(self, first: date, last: date, boards: Sequence[str] | None = None) -> list[sa.Row[Any]]:
        """Per bulletin in [first, last]: plays, completed, seconds shown, boards it played on (daily aggregates)."""
        pd = t.play_days
        query = (
            sa.select(
                pd.c.bulletin,
                self._sum(pd.c.count, integer=True).label("count"),
                self._sum(pd.c.completed, integer=True).label("completed"),
                self._sum(pd.c.shown_s).label("shown_s"),
                sa.func.count(sa.distinct(pd.c.board)).label("boards"),
            )
            .where(pd.c.day.between(first.isoformat(), last.isoformat()))
            .group_by(pd.c.bulletin)
            .order_by(self._sum(pd.c.count).desc(), pd.c.bulletin)
        )
        if boards is not None:
            query = query.where(pd.c.board.in_(sorted(boards)))
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def bulletin_boards(
        self, first: date, last: date, bulletin: str | None = None, boards: Sequence[str] | None = None
    ) -> list[sa.Row[Any]]:
        """Per bulletin and board in [first, last]: plays, completed, seconds shown (from the daily aggregates)."""
        pd = t.play_days
        query = (
            sa.select(
                pd.c.bulletin,
                pd.c.board,
                self._sum(pd.c.count, integer=True).label("count"),
                self._sum(pd.c.completed, integer=True).label("completed"),
                self._sum(pd.c.shown_s).label("shown_s"),
                sa.func.min(pd.c.day).label("first_day"),
                sa.func.max(pd.c.day).label("last_day"),
            )
            .where(pd.c.day.between(first.isoformat(), last.isoformat()))
            .group_by(pd.c.bulletin, pd.c.board)
            .order_by(pd.c.bulletin, pd.c.board)
        )
        if bulletin is not None:
            query = query.where(pd.c.bulletin == bulletin)
        if boards is not None:
            query = query.where(pd.c.board.in_(sorted(boards)))
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def recent_plays(self, board: str, limit: int = 50) -> list[sa.Row[Any]]:
        query = sa.select(t.plays).where(t.plays.c.board == board).order_by(t.plays.c.started_at.desc()).limit(limit)
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def commands(self, board: str, limit: int = 50) -> list[sa.Row[Any]]:
        c = t.commands_done
        query = sa.select(c).where(c.c.board == board).order_by(c.c.received_at.desc(), c.c.id).limit(limit)
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def screenshot_list(self, board: str) -> list[sa.Row[Any]]:
        """The board's screenshots held, newest taken first (seqs start again when a board's database is lost)."""
        s = t.screenshots
        query = (
            sa.select(s.c.board, s.c.seq, s.c.taken_at, s.c.received_at, s.c.command, s.c.width, s.c.height)
            .where(s.c.board == board)
            .order_by(s.c.taken_at.desc(), s.c.seq.desc())
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def screenshot_png(self, board: str, seq: int, thumb: bool = False) -> bytes | None:
        column = t.screenshots.c.thumb if thumb else t.screenshots.c.png
        query = sa.select(column).where(t.screenshots.c.board == board, t.screenshots.c.seq == seq)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one_or_none()

    def export_rows(self, first: date, last: date, board: str | None = None, boards: Sequence[str] | None = None) -> Iterator[ExportRow]:
        """Proof of play in [first, last] (local days): every play by start time, then the merged daily totals."""
        start = datetime.combine(first, time(0), self.timezone).timestamp()
        end = datetime.combine(last + timedelta(days=1), time(0), self.timezone).timestamp()
        p, pt = t.plays, t.play_totals
        plays_query = sa.select(p.c.board, p.c.bulletin, p.c.revision, p.c.started_at, p.c.shown_s, p.c.completed, p.c.reason).where(
            p.c.started_at >= start, p.c.started_at < end
        )
        totals_query = sa.select(pt.c.board, pt.c.bulletin, pt.c.revision, pt.c.day, pt.c.shown_s, pt.c.completed, pt.c.count).where(
            pt.c.day.between(first.isoformat(), last.isoformat())
        )
        if board is not None:
            plays_query = plays_query.where(p.c.board == board)
            totals_query = totals_query.where(pt.c.board == board)
        if boards is not None:  # an officer's units: only their boards' plays
            plays_query = plays_query.where(p.c.board.in_(sorted(boards)))
            totals_query = totals_query.where(pt.c.board.in_(sorted(boards)))
        plays_query = plays_query.order_by(p.c.started_at, p.c.board, p.c.seq, p.c.idx)
        totals_query = totals_query.order_by(pt.c.day, pt.c.board, pt.c.bulletin, pt.c.revision, pt.c.seq, pt.c.idx)
        tz = self.timezone
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=2000).execute(plays_query):
                local = datetime.fromtimestamp(row.started_at, tz).strftime("%Y-%m-%d %H:%M:%S")
                yield ExportRow(row.board, row.bulletin, row.revision, local, row.shown_s, int(row.completed), row.reason or "", 1)
            for row in conn.execution_options(yield_per=2000).execute(totals_query):
                yield ExportRow(row.board, row.bulletin, row.revision, row.day, row.shown_s, int(row.completed), "", int(row.count))


SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def _private_sqlite_file(url: str) -> None:
    """The hub's SQLite database (officers' password hashes, sessions, proof of play) readable by its owner alone.

    Created 0600 before SQLite opens it (SQLite gives its -wal and -shm files the database's mode), and an
    existing one found readable by others is tightened, with a log line: the unit's UMask=0077 is not there
    when an administrator runs `signage hub --add-user` by hand.
    """
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return
    path = parsed.database
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the hub's database: {exc.strerror}") from None
    for suffix in SQLITE_SUFFIXES:
        try:
            mode = stat.S_IMODE(os.stat(path + suffix).st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            os.chmod(path + suffix, 0o600)
            log.warning("%s%s was readable by others (mode %04o): now 0600", path, suffix, mode)


def _dialect_insert(engine: Engine) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (both SQLite and PostgreSQL spell it alike)."""
    return postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "database"


def _first_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
