"""`signage doctor`: one screen of health (clock, disk, cache, feed, display, errors), each line judged."""

from __future__ import annotations

import enum
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from signage.config import BoardConfig
from signage.feed.trust import CLOCK_DOUBT, clock_doubt, plays_by_signed_time
from signage.status import board_status

LOW_DISK_BYTES = 500 * 1024**2  # below this a feed's next video will not fit, and SQLite's WAL may not either
LOW_DISK_FRACTION = 0.05


class Level(enum.Enum):
    OK = "ok"
    NOTE = "note"  # worth knowing, not a fault (e.g. no display over SSH)
    BAD = "BAD"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    level: Level
    text: str

    def line(self) -> str:
        return f"{self.level.value:<4} {self.name}: {self.text}"


def ntp_synchronised() -> bool | None:
    """What systemd-timesyncd (or chrony via timedated) says; None when it cannot be asked."""
    try:
        completed = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized", "--value"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    answer = completed.stdout.strip()
    if completed.returncode != 0 or answer not in ("yes", "no"):
        return None
    return answer == "yes"


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def _existing(path: Path) -> Path:
    """The data folder, or its nearest parent that exists (a board not yet run has none)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def _tree_bytes(path: Path) -> int:
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file()) if path.is_dir() else 0


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def clock_checks(ntp: bool | None, now: datetime, feed: Mapping[str, Any] | None, last_error: str | None = None) -> list[Check]:
    """The clock's reading and NTP, then whatever the feed says of the clock: behind its signed time, or far past it."""
    checks = []
    if ntp is None:
        checks.append(Check("clock", Level.NOTE, f"{now:%Y-%m-%d %H:%M:%S %Z}; NTP synchronised: unknown (timedatectl not available)"))
    elif ntp:
        checks.append(Check("clock", Level.OK, f"{now:%Y-%m-%d %H:%M:%S %Z}; NTP synchronised"))
    else:
        checks.append(Check("clock", Level.BAD, f"{now:%Y-%m-%d %H:%M:%S %Z}; NTP not synchronised"))
    generated_at = _moment(feed.get("generated_at")) if feed is not None else None
    if feed is not None and plays_by_signed_time(now, generated_at):
        checks.append(
            Check(
                "clock",
                Level.BAD,
                f"clock earlier than the feed's signed time {feed['generated_at']}: the board plays by the feed's signed time "
                "(advanced as it runs) until the clock is put right: check the clock (NTP, RTC battery)",
            )
        )
    elif feed is not None and feed.get("clock_behind_trusted_time"):
        checks.append(
            Check("clock", Level.BAD, f"clock earlier than trusted time {feed['trusted_time']}: check the clock (NTP, RTC battery)")
        )
    doubt = clock_doubt(now, generated_at, _moment(feed.get("expires_at"))) if feed is not None else None
    if doubt is not None:
        checks.append(Check("clock", Level.BAD, f"{doubt}; the feed the board holds is stale by it"))
    elif last_error is not None and CLOCK_DOUBT in last_error:
        # Refused as expired long before the clock's reading: a year-late clock refuses every feed.
        checks.append(Check("clock", Level.BAD, f"{CLOCK_DOUBT}: the last feed was refused as expired by it (see errors)"))
    return checks


def disk_check(data_dir: Path) -> Check:
    usage = shutil.disk_usage(_existing(data_dir))
    text = f"{_size(usage.free)} free of {_size(usage.total)} at {data_dir}"
    low = usage.free < LOW_DISK_BYTES or usage.free < usage.total * LOW_DISK_FRACTION
    return Check("disk", Level.BAD if low else Level.OK, text + (" (low)" if low else ""))


def feed_checks(status: Mapping[str, Any]) -> list[Check]:
    feed = status["feed"]
    if feed is None:
        return [Check("feed", Level.OK, "none configured")]
    if feed["sequence"] is None:
        return [Check("feed", Level.BAD, f"nothing accepted yet from {feed['url']}")]
    fresh = Level.BAD if feed["stale"] else Level.OK
    stale = "STALE" if feed["stale"] else "fresh"
    return [
        Check("feed", fresh, f"sequence {feed['sequence']} from {feed['publisher']}, {stale}, expires {feed['expires_at']}"),
        Check("feed", Level.OK, f"last sync {feed['last_sync_at'] or 'never'}"),
    ]


def display_check(environ: Mapping[str, str]) -> Check:
    found = [f"{name}={environ[name]}" for name in ("WAYLAND_DISPLAY", "DISPLAY") if environ.get(name)]
    driver = environ.get("SDL_VIDEODRIVER") or "SDL's choice"
    if found:
        return Check("display", Level.OK, f"{', '.join(found)}; SDL driver {driver}")
    # Over SSH neither is set although the player has a screen (KMS/DRM needs neither): a note, not a fault.
    return Check("display", Level.NOTE, f"no DISPLAY or WAYLAND_DISPLAY in this shell; SDL driver {driver}")


def health(
    config: BoardConfig,
    now: datetime,
    *,
    ntp: Callable[[], bool | None] = ntp_synchronised,
    environ: Mapping[str, str],
) -> list[Check]:
    status = board_status(config, now)
    data_dir = config.board.data_dir
    checks = clock_checks(ntp(), now, status["feed"], status["last_error"])
    checks.append(disk_check(data_dir))
    cache = status.get("cache_bytes")
    cache_bytes = cache if cache is not None else _tree_bytes(data_dir / "media")
    checks.append(Check("cache", Level.OK, f"{_size(cache_bytes)} of media in {data_dir / 'media'}"))
    checks += feed_checks(status)
    checks.append(display_check(environ))
    waiting = sum(1 for entry in status["bulletins"] if not entry["ready"])
    checks.append(Check("bulletins", Level.OK, f"{len(status['bulletins'])} held, {waiting} waiting for media"))
    errors = list(status["playlist_errors"])
    if status["last_error"] and status["last_error"] not in errors:
        errors.append(status["last_error"])
    if not errors:
        checks.append(Check("errors", Level.OK, "none"))
    for error in errors[-3:]:  # one screen: the latest few; `signage status` has the rest
        checks.append(Check("errors", Level.BAD, error))
    quarantined = len(status["quarantine"])
    if quarantined:
        # The file was refused and set aside, the board plays on: worth a look, not a fault of the board.
        checks.append(Check("inbox", Level.NOTE, f"{quarantined} file(s) in quarantine: {status['quarantine'][-1]['reason']}"))
    return checks
