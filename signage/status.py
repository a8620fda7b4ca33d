"""`signage status`: what the board holds, as one JSON document or a few readable lines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from signage.config import BoardConfig
from signage.errors import SignageError
from signage.feed.trust import effective_now, is_stale, plays_by_signed_time
from signage.model import Bulletin, Source
from signage.playlist import load_playlists
from signage.text import printable


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _entry(bulletin: Bulletin, why_not: str | None) -> dict[str, Any]:
    return {
        "id": bulletin.id,
        "revision": bulletin.revision,
        "kind": bulletin.kind.value,
        "source": bulletin.source.value,
        "priority": bulletin.priority.value,
        "ready": why_not is None,
        "why_not": why_not,
        "title": bulletin.title,
    }


def why_not_ready(
    bulletin: Bulletin,
    *,
    playable: bool,
    probe_error: str | None,
    download_error: str | None,
    on_disk: bool,
    now: datetime,
) -> str | None:
    """None for a bulletin that will play (in its slots); otherwise why it will not, in a few words.

    `playable` is the player's own test (`feed_playables`/`inbox_playables`): media on disk and probed.
    """
    if bulletin.valid_until is not None and bulletin.valid_until <= now:
        return f"expired at {bulletin.valid_until.isoformat()}"
    if playable:
        return None
    if probe_error is not None:
        return f"will not play: {probe_error}"
    if not on_disk:
        return f"waiting for media: {download_error}" if download_error else "waiting for media"
    return "waiting for its media to be checked (the next sync)"


def board_status(config: BoardConfig, now: datetime) -> dict[str, Any]:
    status: dict[str, Any] = {"board": config.board.id, "name": config.board.name, "clock": now.isoformat(), "feed": None}
    bulletins: list[dict[str, Any]] = []
    status["last_error"] = None
    status["incidents"] = []
    opened = _open_store(config, status)
    if opened is not None:
        store, files = opened
        try:
            if config.feed is not None:
                status["feed"] = _feed_status(config.feed.url, store.feed(), now)
                status["last_error"] = store.feed().last_error
                status["downloads"] = [
                    {"sha256": row["sha256"], "bytes": row["bytes"], "attempts": row["attempts"], "last_error": row["last_error"]}
                    for row in store.downloads()
                ]
            from signage.feed.sync import feed_playables
            from signage.inbox.ingest import inbox_playables

            playable = {(p.bulletin.id, p.bulletin.revision) for p in feed_playables(store, files)} if config.feed is not None else set()
            if config.inbox is not None:
                playable |= {(p.bulletin.id, p.bulletin.revision) for p in inbox_playables(store, files)}
            probes = store.asset_probes()
            downloads = {row["sha256"]: row["last_error"] for row in store.downloads()}
            sources = ([Source.FEED] if config.feed is not None else []) + ([Source.INBOX] if config.inbox is not None else [])
            for source in sources:
                for bulletin in store.bulletins(source):
                    media = bulletin.media
                    why_not = why_not_ready(
                        bulletin,
                        playable=(bulletin.id, bulletin.revision) in playable,
                        probe_error=probes.get(media.sha256, (None, None, None))[2] if media else None,
                        download_error=downloads.get(media.sha256) if media else None,
                        on_disk=media is None or files.has(media.sha256, media.bytes),
                        now=now,
                    )
                    bulletins.append(_entry(bulletin, why_not))
            status["cache_bytes"] = files.usage()
            status["incidents"] = store.incidents()
        except SignageError as exc:
            status["last_error"] = str(exc)
        finally:
            store.close()
    loaded = load_playlists(config.playlists)
    for playable in loaded.playables:
        why_not = why_not_ready(playable.bulletin, playable=True, probe_error=None, download_error=None, on_disk=True, now=now)
        bulletins.append(_entry(playable.bulletin, why_not))
    status["bulletins"] = bulletins
    status["playlist_errors"] = loaded.errors
    if status["last_error"] is None and loaded.errors:
        status["last_error"] = loaded.errors[-1]
    status["quarantine"] = []
    if config.inbox is not None:
        from signage.inbox.ingest import quarantined

        status["inbox"] = str(config.inbox.path)
        status["quarantine"] = quarantined(config.inbox)
        # Where the clerk finds them: `_KHONG_HIEN_THI` in the share, or the folder the config names.
        aside = config.inbox.quarantine
        status["quarantine_dir"] = aside.name if aside.parent == config.inbox.path else str(aside)
    status["reports_queued"] = _reports_queued(config)
    status["disk_free_bytes"], status["disk_full"] = _disk(config)
    if status["disk_full"]:  # the board's own writes fail first: say why, whatever else went wrong
        status["last_error"] = (
            f"{config.board.data_dir}: the disk is full ({status['disk_free_bytes']} bytes free): the board cannot write "
            "its reports or take new bulletins (it plays on; its plays wait in memory until there is room)"
        )
    # File names, titles and errors come from clerks, sticks and the network: a terminal gets them escaped.
    return _printable_tree(status)


def _printable_tree(value: Any) -> Any:
    """Every string in a status document with control, separator and bidi characters escaped (`text.printable`)."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {key: _printable_tree(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_printable_tree(item) for item in value]
    return value


def _open_store(config: BoardConfig, status: dict[str, Any]) -> tuple[Any, Any] | None:
    """The board's store, or None without one or when it will not open (why, in `last_error`: status goes on)."""
    if config.feed is None and config.inbox is None:
        return None
    from signage.feed.sync import open_store

    try:
        return open_store(config)
    except SignageError as exc:
        status["last_error"] = str(exc)
        return None


def _reports_queued(config: BoardConfig) -> int | None:
    """Reports and screenshots waiting for the hub's 2xx (0 on a board that does not report; None if unreadable)."""
    if config.report is None:
        return 0
    from signage.store.db import Store

    try:
        store = Store(config.board.data_dir / "board.db")
    except SignageError:
        return None
    try:
        return store.db.execute("SELECT count(*) FROM report_queue").fetchone()[0]
    except SignageError:
        return None
    finally:
        store.close()


def _disk(config: BoardConfig) -> tuple[int | None, bool]:
    """Free bytes where the board keeps its data, and whether that is too little for its database to write."""
    import shutil

    from signage.store.guard import NEARLY_FULL_BYTES

    try:
        free = shutil.disk_usage(config.board.data_dir if config.board.data_dir.exists() else config.board.data_dir.parent).free
    except OSError:
        return None, False
    return free, free < NEARLY_FULL_BYTES


def _feed_status(url: str, record: Any, now: datetime) -> dict[str, Any]:
    _, clock_note = effective_now(now, record.state)
    return {
        "url": url,
        "sequence": record.state.sequence,
        "publisher": record.publisher,
        "generated_at": _iso(record.generated_at),
        "expires_at": _iso(record.expires_at),
        "stale": record.expires_at is None or is_stale(record.expires_at, now, record.state),
        "accepted_at": _iso(record.accepted_at),
        "last_sync_at": _iso(record.last_sync_at),
        "trusted_time": _iso(record.state.trusted_time),
        "clock_behind_trusted_time": clock_note is not None,
        "plays_by_signed_time": plays_by_signed_time(now, record.generated_at),  # the player's time: see signage/boardtime.py
        "notes": record.notes,
    }


def status_lines(status: dict[str, Any]) -> list[str]:
    lines = [f"board {status['board']} ({status['name']}), clock {status['clock']}"]
    feed = status["feed"]
    if feed is None:
        lines.append("feed: none configured")
    elif feed["sequence"] is None:
        lines.append(f"feed: nothing accepted yet from {feed['url']}")
    else:
        stale = "STALE, " if feed["stale"] else ""
        lines.append(f"feed: sequence {feed['sequence']} from {feed['publisher']}, {stale}expires {feed['expires_at']}")
        lines.append(f"last sync: {feed['last_sync_at']}")
        if feed["plays_by_signed_time"]:
            lines.append(f"clock: earlier than the feed's signed time {feed['generated_at']}: the board plays by it; check the clock (NTP)")
        elif feed["clock_behind_trusted_time"]:
            lines.append(f"clock: earlier than the trusted time {feed['trusted_time']}: check the clock (NTP)")
    for entry in status["bulletins"]:
        ready = "ready" if entry["ready"] else entry.get("why_not") or "not ready"
        lines.append(f"  {entry['id']} r{entry['revision']} {entry['kind']} {entry['source']} {entry['priority']}: {ready}")
    for entry in status["quarantine"]:
        lines.append(f"để riêng {status.get('quarantine_dir', 'quarantine')}/{entry['file']}: {_in_vietnamese(entry['reason'])}")
    for incident in status.get("incidents", [])[:3]:
        lines.append(f"incident {incident['at']}: {incident['detail']}")
    if status.get("last_error"):
        lines.append(f"last error: {status['last_error']}")
    return lines


def _in_vietnamese(reason: str) -> str:
    """A reason file's line (`name: vietnamese / english (detail)`) as the clerk reads it: the Vietnamese alone."""
    from signage.inbox.rules import REASONS

    for vietnamese, english in REASONS.values():
        if f": {vietnamese} / {english}" in reason:
            return vietnamese
    return reason  # not one of ours, or from an older board: as written
