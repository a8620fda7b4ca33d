"""`signage plan`: the engine's timeline as JSON, or as a table a commune clerk can read."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from signage.engine import IDLE, Entry
from signage.vi import format_date


def entries_json(entries: Sequence[Entry]) -> list[dict[str, str | None]]:
    """`{"start", "end", "bulletin"}`; `bulletin` is null while the screen is off or idle, and `state` says which."""
    out = []
    for entry in entries:
        item = entry.to_json()
        if entry.bulletin is None:
            item["state"] = "off"
        elif entry.bulletin == IDLE:
            item["bulletin"], item["state"] = None, "idle"
        out.append(item)
    return out


def _duration_vi(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    if minutes and secs:
        return f"{minutes} phút {secs} giây"
    return f"{minutes} phút" if minutes else f"{secs} giây"


def table(entries: Sequence[Entry]) -> str:
    """One line per hour: which bulletins show, how many times, for how long; off and idle spans merged."""
    hours: dict[datetime, list[Entry]] = defaultdict(list)
    for entry in entries:
        moment = entry.start
        while moment < entry.end:
            hour = moment.replace(minute=0, second=0, microsecond=0)
            piece_end = min(entry.end, hour + timedelta(hours=1))
            hours[hour].append(Entry(moment, piece_end, entry.bulletin))
            moment = piece_end
    lines: list[str] = []
    day = None
    pending_quiet: tuple[datetime, datetime, str] | None = None

    def flush() -> None:
        nonlocal pending_quiet
        if pending_quiet is not None:
            start, end, label = pending_quiet
            lines.append(f"  {start:%H:%M}–{end:%H:%M}  {label}")
            pending_quiet = None

    for hour in sorted(hours):
        pieces = hours[hour]
        if hour.date() != day:
            flush()
            day = hour.date()
            lines.append(format_date(hour))
        seconds: Counter[str | None] = Counter()
        turns: Counter[str | None] = Counter()
        for piece in pieces:
            seconds[piece.bulletin] += (piece.end - piece.start).total_seconds()
            turns[piece.bulletin] += 1  # a turn across the hour counts in both
        end = max(piece.end for piece in pieces)
        quiet = {b for b in seconds if b is None or b == IDLE}
        if quiet == set(seconds):
            label = "màn hình tắt (screen off)" if None in quiet and len(quiet) == 1 else "trang chờ (idle)"
            if pending_quiet is not None and pending_quiet[2] == label and pending_quiet[1] == hour:
                pending_quiet = (pending_quiet[0], end, label)
            else:
                flush()
                pending_quiet = (pieces[0].start, end, label)
            continue
        flush()
        ranked = sorted(seconds, key=lambda b: (-seconds[b], str(b)))
        shown = [f"{b} ×{turns[b]} ({_duration_vi(seconds[b])})" for b in ranked if b not in quiet]
        if None in seconds:
            shown.append(f"tắt {_duration_vi(seconds[None])}")
        if IDLE in seconds:
            shown.append(f"trang chờ {_duration_vi(seconds[IDLE])}")
        lines.append(f"  {pieces[0].start:%H:%M}–{end:%H:%M}  " + ", ".join(shown))
    flush()
    return "\n".join(lines)
