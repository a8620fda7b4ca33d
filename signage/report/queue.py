"""The on-disk report queue (SQLite): signed envelopes wait here until the hub answers 2xx.

Each change is one durable transaction: a seq is handed out, the plays and command outcomes it
carries are taken, and the envelope is stored, all at once, so a power cut never sends a play
twice or loses one that was queued. The queue's cap merges old reports into totals, never drops.

Seqs count in an epoch, a random id made with the queue: a queue made afresh (the database lost,
wiped or rebuilt) counts from its old number or 1 again in a new epoch, and a report the hub says
it already holds is taken as delivered only when it may really be this one (see `collided`).
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signage.envelope import PNG_TYPE, REPORT_TYPE, sign
from signage.report import payload as payloads
from signage.report.plays import Play
from signage.store.db import Store

log = logging.getLogger(__name__)

QUEUE_MAX = 4032  # two weeks of reports at one every five minutes


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    kind: str  # "report" or "screenshot"
    envelope: bytes
    attempts: int
    uncertain: bool = False  # a request for it may have reached the hub before (a lost answer, a cut mid-send)


def collided(entry: Entry, *, duplicate: bool, same: bool | None, collision: bool = False) -> bool:
    """Whether the hub's answer means it holds another report under this one's seq, so this one is not delivered.

    A hub that keys reports by (board, epoch, seq) says so itself: `same` (a "duplicate" of these very
    bytes, or not) or a 409 `collision`. A hub that keys by (board, seq) only says "duplicate": that
    can be this very report only if a request for it may have reached the hub before; for one never
    sent, it is a report of an earlier life of this board's queue (before its database was lost).
    """
    if collision:
        return True
    if not duplicate or entry.kind != "report":  # a screenshot carries its seq inside the PNG: not renumbered
        return False
    if same is not None:
        return not same
    return not entry.uncertain


def commands_done(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The outcome lines of commands that finished: "ok" or "ok: detail" are ok, anything else is the failure's detail."""
    done = []
    for row in rows:
        outcome: str = row["outcome"]
        ok = outcome == "ok" or outcome.startswith("ok: ")
        entry: dict[str, Any] = {"id": row["id"], "ok": ok, "at": row["ran_at"]}
        if outcome != "ok":
            entry["detail"] = outcome.removeprefix("ok: ").removeprefix("failed: ")  # `ok` says which
        done.append(entry)
    return done


class ReportQueue:
    """The board's reports and screenshots, signed with its key, in seq order."""

    def __init__(self, store: Store, key: Ed25519PrivateKey, board: str, timezone: ZoneInfo, queue_max: int = QUEUE_MAX) -> None:
        self.store = store
        self.key = key
        self.board = board
        self.timezone = timezone
        self.queue_max = queue_max

    # -- adding ----------------------------------------------------------------------

    def _next_seq(self) -> tuple[str, int]:
        """The queue's epoch (made now if the queue is new) and its next seq, past any queued one."""
        row = self.store.db.execute("SELECT next_seq, epoch FROM report_state WHERE id = 1").fetchone()
        highest = self.store.db.execute("SELECT max(seq) FROM report_queue").fetchone()[0] or 0
        seq = max(row[0] if row else 1, highest + 1)
        epoch = (row[1] if row else None) or new_epoch()
        self.store.db.execute("INSERT OR REPLACE INTO report_state (id, next_seq, epoch) VALUES (1, ?, ?)", [seq + 1, epoch])
        return epoch, seq

    def epoch(self) -> str | None:
        row = self.store.db.execute("SELECT epoch FROM report_state WHERE id = 1").fetchone()
        return row[0] if row else None

    def _insert(self, seq: int, kind: str, envelope: bytes, now: datetime) -> None:
        self.store.db.execute(
            "INSERT INTO report_queue (seq, kind, envelope, created_at) VALUES (?, ?, ?, ?)", [seq, kind, envelope, now.isoformat()]
        )

    def add_report(
        self,
        status: dict[str, Any],
        plays: Sequence[Play],
        now: datetime,
        *,
        incidents: Sequence[tuple[str, str, datetime]] = (),
    ) -> int:
        """Queue a report with these plays, every command outcome and incident not yet told; returns its seq.

        `incidents` (kind, detail, since when) are ones the caller could not record before (a full
        disk): recorded here, in the same transaction, as told.
        """
        with self.store.transaction():
            rows = self.store.db.execute(
                "SELECT id, ran_at, outcome FROM commands WHERE reported = 0 AND outcome IS NOT NULL AND outcome != 'started' "
                "ORDER BY ran_at, id"
            ).fetchall()
            done = commands_done([{"id": r[0], "ran_at": r[1], "outcome": r[2]} for r in rows])
            self.store.db.conn.executemany("UPDATE commands SET reported = 1 WHERE id = ?", [[r[0]] for r in rows])
            self.store.db.conn.executemany(
                "INSERT INTO incidents (at, kind, detail, reported) VALUES (?, ?, ?, 1)",
                [[at.isoformat(), kind, detail] for kind, detail, at in incidents],
            )
            told = self.store.db.execute("SELECT id, at, kind, detail FROM incidents WHERE reported = 0 ORDER BY id").fetchall()
            self.store.db.conn.executemany("UPDATE incidents SET reported = 1 WHERE id = ?", [[r[0]] for r in told])
            news = [{"at": at.isoformat(), "kind": kind, "detail": detail} for kind, detail, at in incidents]
            news = [{"at": at, "kind": kind, "detail": detail} for _, at, kind, detail in told] + news
            if news and not status.get("last_error"):  # a hub that does not know `incidents` still shows it
                status = {**status, "last_error": news[-1]["detail"]}
            epoch, seq = self._next_seq()
            body = payloads.report(self.board, seq, now, status, [p.as_json() for p in plays], done, epoch=epoch, incidents=news)
            self._insert(seq, "report", sign(payloads.encode(body), REPORT_TYPE, [self.key]), now)
            self._cap(now)
        return seq

    def add_screenshot(self, png_for_seq: Callable[[int], bytes], now: datetime) -> int:
        """Queue a screenshot (the PNG carries its seq); older ones never sent are replaced by it."""
        with self.store.transaction():
            _, seq = self._next_seq()
            envelope = sign(png_for_seq(seq), PNG_TYPE, [self.key])
            dropped = self.store.db.execute("DELETE FROM report_queue WHERE kind = 'screenshot' AND uncertain = 0").rowcount
            if dropped:
                log.info("report queue: %d older screenshot(s) never sent, replaced by seq %d", dropped, seq)
            self._insert(seq, "screenshot", envelope, now)
        return seq

    def _cap(self, now: datetime) -> None:
        """Over the cap: merge the oldest half of the reports that certainly never reached the hub."""
        count = self.store.db.execute("SELECT count(*) FROM report_queue WHERE kind = 'report'").fetchone()[0]
        if count <= self.queue_max:
            return
        rows = self.store.db.execute(
            "SELECT seq, envelope FROM report_queue WHERE kind = 'report' AND uncertain = 0 ORDER BY seq LIMIT ?",
            [max(2, count // 2)],
        ).fetchall()
        if len(rows) < 2:
            log.warning("report queue: %d reports over its cap of %d, none safe to merge (deliveries uncertain)", count, self.queue_max)
            return
        merged = payloads.merge([_payload_of(envelope) for _, envelope in rows], self.timezone)
        self.store.db.conn.executemany("DELETE FROM report_queue WHERE seq = ?", [[seq] for seq, _ in rows])
        self._insert(merged["seq"], "report", sign(payloads.encode(merged), REPORT_TYPE, [self.key]), now)
        log.warning(
            "report queue: over its cap of %d; reports %d..%d merged into totals (nothing dropped)", self.queue_max, *merged["covers_seq"]
        )

    # -- sending ---------------------------------------------------------------------

    def pending(self, limit: int = 500) -> list[Entry]:
        rows = self.store.db.execute(
            "SELECT seq, kind, envelope, attempts, uncertain FROM report_queue ORDER BY seq LIMIT ?", [limit]
        ).fetchall()
        return [Entry(seq, kind, envelope, attempts, bool(uncertain)) for seq, kind, envelope, attempts, uncertain in rows]

    def sending(self, entry: Entry) -> None:
        """Before a first request for `entry` goes out: it may reach the hub from now on (a cut mid-send must not forget that)."""
        if not entry.uncertain:
            with self.store.transaction():
                self.store.db.execute("UPDATE report_queue SET uncertain = 1 WHERE seq = ?", [entry.seq])

    def delivered(self, seq: int) -> None:
        with self.store.transaction():
            self.store.db.execute("DELETE FROM report_queue WHERE seq = ?", [seq])

    def failed(self, seq: int, error: str, *, uncertain: bool) -> None:
        """An attempt failed; `uncertain` when a request for it may have reached the hub (now or before): never merged then."""
        with self.store.transaction():
            self.store.db.execute(
                "UPDATE report_queue SET attempts = attempts + 1, last_error = ?, uncertain = ? WHERE seq = ?",
                [error, int(uncertain), seq],
            )

    def renumber(self, seq: int, now: datetime) -> tuple[str, int, int]:
        """The hub holds another report under `seq`: it and every later report never sent move to fresh seqs in a new epoch.

        They move by one offset, so their order and a merged report's `covers_seq` hold, and at least to
        twice `seq`: a hub that holds seqs up to N of an earlier life is passed after log2(N) such answers.
        Returns (new epoch, first new seq, how many moved).
        """
        with self.store.transaction():
            rows = self.store.db.execute(
                # The collided one itself (the hub said it holds other bytes: this one stored nothing), and the later never sent.
                "SELECT seq, envelope, created_at FROM report_queue WHERE kind = 'report' AND (seq = ? OR (uncertain = 0 AND seq > ?)) "
                "ORDER BY seq",
                [seq, seq],
            ).fetchall()
            row = self.store.db.execute("SELECT next_seq FROM report_state WHERE id = 1").fetchone()
            highest = self.store.db.execute("SELECT max(seq) FROM report_queue").fetchone()[0] or 0
            base = max(row[0] if row else 1, highest + 1, 2 * seq)
            epoch, offset = new_epoch(), base - seq
            self.store.db.conn.executemany("DELETE FROM report_queue WHERE seq = ?", [[old] for old, _, _ in rows])
            last = base
            for old, envelope, created_at in rows:
                moved = payloads.renumbered(_payload_of(envelope), old + offset, epoch)
                last = max(last, moved.get("covers_seq", [old + offset, old + offset])[1])
                self.store.db.execute(
                    "INSERT INTO report_queue (seq, kind, envelope, created_at) VALUES (?, 'report', ?, ?)",
                    [old + offset, sign(payloads.encode(moved), REPORT_TYPE, [self.key]), created_at or now.isoformat()],
                )
            self.store.db.execute("INSERT OR REPLACE INTO report_state (id, next_seq, epoch) VALUES (1, ?, ?)", [last + 1, epoch])
        return epoch, base, len(rows)

    def count(self) -> int:
        return self.store.db.execute("SELECT count(*) FROM report_queue").fetchone()[0]

    def last_error(self) -> str | None:
        row = self.store.db.execute("SELECT last_error FROM report_queue WHERE last_error IS NOT NULL ORDER BY seq LIMIT 1").fetchone()
        return row[0] if row else None


def new_epoch() -> str:
    return secrets.token_hex(8)


def _payload_of(envelope: bytes) -> dict[str, Any]:
    """The report inside one of our own queued envelopes (signed by us, so read without checks)."""
    return json.loads(base64.b64decode(json.loads(envelope)["payload"]))
