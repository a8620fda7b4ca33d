"""The on-disk report queue (SQLite): signed envelopes wait here until the hub answers 2xx.

Each change is one durable transaction: a seq is handed out, the plays and command outcomes it
carries are taken, and the envelope is stored, all at once, so a power cut never sends a play
twice or loses one that was queued. The queue's cap merges old reports into totals, never drops.
"""

from __future__ import annotations

import base64
import json
import logging
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


def commands_done(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The outcome lines of commands that finished: "ok" or "ok: detail" are ok, anything else is the failure's detail."""
    done = []
    for row in rows:
        outcome: str = row["outcome"]
        ok = outcome == "ok" or outcome.startswith("ok: ")
        entry: dict[str, Any] = {"id": row["id"], "ok": ok, "at": row["ran_at"]}
        if outcome != "ok":
            entry["detail"] = outcome.removeprefix("ok: ")
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

    def _next_seq(self) -> int:
        row = self.store.db.execute("SELECT next_seq FROM report_state WHERE id = 1").fetchone()
        seq = row[0] if row else 1
        self.store.db.execute("INSERT OR REPLACE INTO report_state (id, next_seq) VALUES (1, ?)", [seq + 1])
        return seq

    def _insert(self, seq: int, kind: str, envelope: bytes, now: datetime) -> None:
        self.store.db.execute(
            "INSERT INTO report_queue (seq, kind, envelope, created_at) VALUES (?, ?, ?, ?)", [seq, kind, envelope, now.isoformat()]
        )

    def add_report(self, status: dict[str, Any], plays: Sequence[Play], now: datetime) -> int:
        """Queue a report with these plays and every command outcome not yet told; returns its seq."""
        with self.store.transaction():
            rows = self.store.db.execute(
                "SELECT id, ran_at, outcome FROM commands WHERE reported = 0 AND outcome IS NOT NULL AND outcome != 'started' "
                "ORDER BY ran_at, id"
            ).fetchall()
            done = commands_done([{"id": r[0], "ran_at": r[1], "outcome": r[2]} for r in rows])
            self.store.db.conn.executemany("UPDATE commands SET reported = 1 WHERE id = ?", [[r[0]] for r in rows])
            seq = self._next_seq()
            body = payloads.report(self.board, seq, now, status, [p.as_json() for p in plays], done)
            self._insert(seq, "report", sign(payloads.encode(body), REPORT_TYPE, [self.key]), now)
            self._cap(now)
        return seq

    def add_screenshot(self, png_for_seq: Callable[[int], bytes], now: datetime) -> int:
        """Queue a screenshot (the PNG carries its seq); older ones never sent are replaced by it."""
        with self.store.transaction():
            seq = self._next_seq()
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
        rows = self.store.db.execute("SELECT seq, kind, envelope, attempts FROM report_queue ORDER BY seq LIMIT ?", [limit]).fetchall()
        return [Entry(*row) for row in rows]

    def delivered(self, seq: int) -> None:
        with self.store.transaction():
            self.store.db.execute("DELETE FROM report_queue WHERE seq = ?", [seq])

    def failed(self, seq: int, error: str, *, uncertain: bool) -> None:
        """An attempt failed; `uncertain` when the request went out (the hub may hold it): never merged then."""
        with self.store.transaction():
            self.store.db.execute(
                "UPDATE report_queue SET attempts = attempts + 1, last_error = ?, uncertain = max(uncertain, ?) WHERE seq = ?",
                [error, int(uncertain), seq],
            )

    def count(self) -> int:
        return self.store.db.execute("SELECT count(*) FROM report_queue").fetchone()[0]

    def last_error(self) -> str | None:
        row = self.store.db.execute("SELECT last_error FROM report_queue WHERE last_error IS NOT NULL ORDER BY seq LIMIT 1").fetchone()
        return row[0] if row else None


def _payload_of(envelope: bytes) -> dict[str, Any]:
    """The report inside one of our own queued envelopes (signed by us, so read without checks)."""
    return json.loads(base64.b64decode(json.loads(envelope)["payload"]))
