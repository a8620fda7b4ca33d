"""The report's JSON (signage-report/1) and the merge that keeps a long outage's plays as totals."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

FORMAT = "signage-report/1"


def encode(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON: the bytes that are signed and sent."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def report(
    board: str,
    seq: int,
    sent_at: datetime,
    status: dict[str, Any],
    plays: Sequence[dict[str, Any]],
    commands_done: Sequence[dict[str, Any]],
    *,
    epoch: str | None = None,
    incidents: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """A report; `epoch` names the queue its seq counts in (a queue made afresh counts from 1 again, in a new epoch)."""
    body: dict[str, Any] = {"format": FORMAT, "board": board, "seq": seq}
    if epoch is not None:
        body["epoch"] = epoch
    body |= {"sent_at": sent_at.isoformat(), "status": status, "plays": list(plays), "commands_done": list(commands_done)}
    if incidents:
        body["incidents"] = list(incidents)
    return body


def renumbered(payload: dict[str, Any], seq: int, epoch: str) -> dict[str, Any]:
    """The same report under another (epoch, seq): a merged one's `covers_seq` moves with it."""
    moved = {**payload, "seq": seq, "epoch": epoch}
    if "covers_seq" in payload:
        first, last = payload["covers_seq"]
        moved["covers_seq"] = [seq, seq + (last - first)]
    return moved


def merge(payloads: Sequence[dict[str, Any]], timezone: ZoneInfo) -> dict[str, Any]:
    """Several undelivered reports as one: the newest status, every play counted in per-day totals.

    The merged report takes the first seq; `covers_seq` names the range it replaces. Totals are
    keyed by bulletin, revision and the local day the play started, so nothing is dropped: the
    counts, completions and seconds shown add up exactly.
    """
    if not payloads:
        raise ValueError("nothing to merge")
    ordered = sorted(payloads, key=lambda p: p["seq"])
    totals: dict[tuple[str, int, str], list[float]] = {}

    def add(bulletin: str, revision: int, day: str, count: int, completed: int, shown_s: float) -> None:
        entry = totals.setdefault((bulletin, revision, day), [0, 0, 0.0])
        entry[0] += count
        entry[1] += completed
        entry[2] += shown_s

    heartbeats: dict[str, int] = {}
    for payload in ordered:
        # Each report merged was a heartbeat of the board, on the local day it was made: the hub's uptime.
        if "heartbeat_days" in payload:
            for entry in payload["heartbeat_days"]:
                heartbeats[entry["day"]] = heartbeats.get(entry["day"], 0) + entry["count"]
        else:
            day = datetime.fromisoformat(payload["sent_at"]).astimezone(timezone).date().isoformat()
            heartbeats[day] = heartbeats.get(day, 0) + 1
        for play in payload.get("plays", []):
            day = datetime.fromisoformat(play["started_at"]).astimezone(timezone).date().isoformat()
            add(play["bulletin"], play["revision"], day, 1, int(play["completed"]), play["shown_s"])
        for total in payload.get("play_totals", []):
            add(total["bulletin"], total["revision"], total["day"], total["count"], total["completed"], total["shown_s"])
    first, last = ordered[0], ordered[-1]
    covers = (first.get("covers_seq", [first["seq"]])[0], last.get("covers_seq", [last["seq"], last["seq"]])[-1])
    merged = report(
        first["board"],
        first["seq"],
        datetime.fromisoformat(last["sent_at"]),
        last["status"],
        [],
        [done for payload in ordered for done in payload.get("commands_done", [])],
        epoch=first.get("epoch"),  # the first's (epoch, seq) was never delivered: the merged report may take it
        incidents=[incident for payload in ordered for incident in payload.get("incidents", [])],
    )
    merged["covers_seq"] = list(covers)
    merged["heartbeat_days"] = [{"day": day, "count": count} for day, count in sorted(heartbeats.items())]
    merged["play_totals"] = [
        {"bulletin": b, "revision": r, "day": d, "count": int(c), "completed": int(k), "shown_s": round(s, 2)}
        for (b, r, d), (c, k, s) in sorted(totals.items())
    ]
    return merged
