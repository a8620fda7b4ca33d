"""The board's TOML config, read and validated once into frozen dataclasses."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from signage.envelope import parse_public_key
from signage.errors import ConfigError
from signage.limits import parse_problem
from signage.model import BOARD_ID, parse_clock
from signage.paths import DEMO_CONFIG


@dataclass(frozen=True, slots=True)
class BoardSection:
    id: str
    name: str
    timezone: ZoneInfo
    data_dir: Path


@dataclass(frozen=True, slots=True)
class FeedSection:
    url: str
    public_keys: tuple[str, ...]
    threshold: int = 1
    publisher: str | None = None
    poll_seconds: float = 60.0
    max_bytes: int = 4 * 1024 * 1024
    max_asset_bytes: int = 2 * 1024**3  # a declared medium larger than this is refused
    cache_bytes: int = 16 * 1024**3  # the media store's disk budget


SET_ASIDE_FOLDER = "_KHONG_HIEN_THI"  # "not shown": the drop folder's own quarantine, seen over the share


@dataclass(frozen=True, slots=True)
class InboxSection:
    path: Path
    days: float = 7.0  # a local notice without its own validity shows this long after it is taken
    settle_seconds: float = 1.0  # a file's size and time must hold still this long before it is taken
    quarantine_dir: Path | None = None  # where set-aside files go; None: SET_ASIDE_FOLDER inside the drop folder

    @property
    def quarantine(self) -> Path:
        # Inside the drop folder by default, so a clerk who only has the share sees the file and its reason.
        return self.path / SET_ASIDE_FOLDER if self.quarantine_dir is None else self.quarantine_dir


@dataclass(frozen=True, slots=True)
class DisplaySection:
    on: time | None = None  # screen hours; None for both means always on
    off: time | None = None
    size: tuple[int, int] | None = None  # the region drawn on the output; None: the whole output
    offset: tuple[int, int] = (0, 0)
    rotate: int = 0
    volume: float = 0.8
    fps: int = 60
    transition_seconds: float = 0.6
    font: Path | None = None  # overrides the bundled regular face
    font_bold: Path | None = None
    logo: Path | None = None
    emergency_wakes_screen: bool = True
    audio: bool = True  # false for a board without speakers: audio bulletins are skipped


@dataclass(frozen=True, slots=True)
class TickerSection:
    enabled: bool = True
    text: str = ""  # a standing message; the titles of what plays follow it
    pixels_per_second: float | None = None  # None: scaled to the frame's height


@dataclass(frozen=True, slots=True)
class ReportSection:
    url: str
    key: Path
    heartbeat_seconds: float = 300.0
    queue_max: int = 4032  # reports kept for the hub; past it the oldest are merged into totals
    screenshot_width: int = 960


@dataclass(frozen=True, slots=True)
class BoardConfig:
    path: Path
    board: BoardSection
    display: DisplaySection
    ticker: TickerSection
    playlists: tuple[Path, ...] = ()
    feed: FeedSection | None = None
    inbox: InboxSection | None = None
    report: ReportSection | None = None

    @classmethod
    def load(cls, path: Path) -> BoardConfig:
        return load_config(path)

    @classmethod
    def demo(cls) -> BoardConfig:
        return load_config(DEMO_CONFIG)


class Table:
    """One TOML table: typed getters whose errors name the file and dotted key; tracks unknown keys."""

    def __init__(self, path: Path, name: str, data: Mapping[str, Any], allowed: set[str]) -> None:
        self.path, self.name, self.data = path, name, data
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise self.fail(unknown[0], f"unknown key (expected one of: {', '.join(sorted(allowed))})")

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {self.name}.{key}: {problem}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None, *, required: bool = False) -> Any:
        if key not in self.data:
            if required:
                raise self.fail(key, "missing")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise self.fail(key, f"expected {names}, got {type(value).__name__} {value!r}")
        return value

    def number(self, key: str, default: float | None, low: float, high: float, *, required: bool = False) -> Any:
        value = self.get(key, (int, float), default, required=required)
        if value is not None and not low <= value <= high:
            raise self.fail(key, f"must be between {low:g} and {high:g}, got {value}")
        return value

    def path_value(self, key: str, *, required: bool = False) -> Path | None:
        raw = self.get(key, str, required=required)
        return None if raw is None else resolve(self.path, raw)

    def parsed(self, key: str, parse: Callable[[str], Any], default: Any = None) -> Any:
        raw = self.get(key, str)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError as exc:
            raise self.fail(key, str(exc)) from None


def resolve(config_path: Path, raw: str) -> Path:
    """Paths in a config are relative to the config file; `~` is the user's home."""
    path = Path(os.path.expanduser(raw))
    return path if path.is_absolute() else (config_path.parent / path).resolve()


def parse_size(raw: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d{2,5})\s*[xX×]\s*(\d{2,5})\s*", raw)
    if not match or not (16 <= int(match[1]) <= 16384 and 16 <= int(match[2]) <= 16384):
        raise ValueError(f"expected WIDTHxHEIGHT in pixels such as 1920x1080, got {raw!r}")
    return int(match[1]), int(match[2])


def parse_offset(raw: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d{1,5})\s*,\s*(\d{1,5})\s*", raw)
    if not match:
        raise ValueError(f"expected X,Y in pixels such as 0,0, got {raw!r}")
    return int(match[1]), int(match[2])


def _clock(table: Table, key: str) -> time | None:
    raw = table.get(key, str)
    if raw is None:
        return None
    value = parse_clock(raw, lambda problem: table.fail(key, problem))
    return value if value is not None else time(0, 0)


def _http_url(table: Table, key: str) -> str:
    url = table.get(key, str, required=True)
    if not re.match(r"https?://[^/\s]+", url):
        raise table.fail(key, f"expected an http:// or https:// URL, got {url!r}")
    return url


def _default_data_dir(board_id: str) -> Path:
    state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(state) / "signage" / board_id


FEED_KEYS = {"url", "public_keys", "threshold", "publisher", "poll_seconds", "max_bytes", "max_asset_bytes", "cache_bytes"}
DISPLAY_KEYS = {
    "on", "off", "size", "offset", "rotate", "volume", "fps", "transition_seconds",
    "font", "font_bold", "logo", "emergency_wakes_screen", "audio",
}  # fmt: skip
SECTIONS = {"board", "feed", "inbox", "playlists", "display", "ticker", "report"}


def read_toml(path: Path) -> dict[str, Any]:
    """A config file's TOML; a missing, unreadable or invalid file is a one-line `ConfigError` naming it."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    except ValueError as exc:  # TOMLDecodeError, or a number of thousands of digits
        raise ConfigError(f"{path}: not valid TOML: {parse_problem(exc)}") from None


def check_sections(raw: Mapping[str, Any], path: Path, sections: set[str]) -> None:
    """An unknown top-level section is an error naming it (a typo must not pass silently)."""
    unknown = sorted(set(raw) - sections)
    if unknown:
        raise ConfigError(f"{path}: {unknown[0]}: unknown section (expected one of: {', '.join(sorted(sections))})")


def load_config(path: Path) -> BoardConfig:
    """Read and validate the board's config; every problem is a one-line `ConfigError`."""
    path = Path(path)
    return parse_config(read_toml(path), path.resolve())


def parse_config(raw: Mapping[str, Any], path: Path) -> BoardConfig:
    check_sections(raw, path, SECTIONS)
    for name in raw:
        if not isinstance(raw[name], Mapping):
            raise ConfigError(f"{path}: {name}: expected a [{name}] table")

    if "board" not in raw:
        raise ConfigError(f"{path}: board: missing [board] section")
    t = Table(path, "board", raw["board"], {"id", "name", "timezone", "data_dir"})
    board_id = t.get("id", str, required=True)
    if not BOARD_ID.fullmatch(board_id):
        raise t.fail("id", f"{board_id!r} is not a board id ([a-z0-9][a-z0-9-]{{0,63}})")
    tz_name = t.get("timezone", str, "Asia/Ho_Chi_Minh")
    try:
        timezone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise t.fail("timezone", f"unknown time zone {tz_name!r}") from None
    board = BoardSection(
        id=board_id,
        name=t.get("name", str, required=True).strip(),
        timezone=timezone,
        data_dir=t.path_value("data_dir") or _default_data_dir(board_id),
    )

    feed = None
    if "feed" in raw:
        t = Table(path, "feed", raw["feed"], FEED_KEYS)
        keys = t.get("public_keys", list, required=True)
        for key in keys:
            if not isinstance(key, str):
                raise t.fail("public_keys", "expected a list of strings")
            try:
                parse_public_key(key)
            except ValueError as exc:
                raise t.fail("public_keys", str(exc)) from None
        if not keys:
            raise t.fail("public_keys", "at least one pinned key is needed")
        threshold = t.number("threshold", 1, 1, len(keys))
        if not isinstance(threshold, int):
            raise t.fail("threshold", "expected an integer")
        feed = FeedSection(
            url=_http_url(t, "url"),
            public_keys=tuple(keys),
            threshold=threshold,
            publisher=t.get("publisher", str),
            poll_seconds=float(t.number("poll_seconds", 60, 5, 86400)),
            max_bytes=int(t.number("max_bytes", 4 * 1024 * 1024, 1024, 256 * 1024 * 1024)),
            max_asset_bytes=int(t.number("max_asset_bytes", 2 * 1024**3, 1024, 64 * 1024**3)),
            cache_bytes=int(t.number("cache_bytes", 16 * 1024**3, 1024 * 1024, 16 * 1024**4)),
        )

    inbox = None
    if "inbox" in raw:
        t = Table(path, "inbox", raw["inbox"], {"path", "days", "settle_seconds", "quarantine"})
        inbox_path = t.path_value("path", required=True)
        assert inbox_path is not None
        inbox = InboxSection(
            path=inbox_path,
            days=float(t.number("days", 7, 0.01, 3650)),
            settle_seconds=float(t.number("settle_seconds", 1.0, 0.1, 60)),
            quarantine_dir=t.path_value("quarantine"),
        )

    playlists: tuple[Path, ...] = ()
    if "playlists" in raw:
        t = Table(path, "playlists", raw["playlists"], {"paths"})
        entries = t.get("paths", list, [])
        if any(not isinstance(p, str) for p in entries):
            raise t.fail("paths", "expected a list of file paths")
        playlists = tuple(resolve(path, p) for p in entries)

    t = Table(path, "display", raw.get("display", {}), DISPLAY_KEYS)
    rotate = t.get("rotate", int, 0)
    if rotate not in (0, 90, 180, 270):
        raise t.fail("rotate", f"must be 0, 90, 180 or 270, got {rotate}")
    on, off = _clock(t, "on"), _clock(t, "off")
    if (on is None) != (off is None):
        raise t.fail("on" if on is None else "off", "screen hours need both on and off")
    if on is not None and on == off:
        raise t.fail("off", "equals on")
    fps = t.number("fps", 60, 1, 240)
    if not isinstance(fps, int):
        raise t.fail("fps", "expected an integer")
    display = DisplaySection(
        on=on,
        off=off,
        size=t.parsed("size", parse_size),
        offset=t.parsed("offset", parse_offset, (0, 0)),
        rotate=rotate,
        volume=float(t.number("volume", 0.8, 0, 1)),
        fps=fps,
        transition_seconds=float(t.number("transition_seconds", 0.6, 0, 5)),
        font=t.path_value("font"),
        font_bold=t.path_value("font_bold"),
        logo=t.path_value("logo"),
        emergency_wakes_screen=t.get("emergency_wakes_screen", bool, True),
        audio=t.get("audio", bool, True),
    )

    t = Table(path, "ticker", raw.get("ticker", {}), {"enabled", "text", "pixels_per_second"})
    speed = t.number("pixels_per_second", None, 1, 5000)
    ticker = TickerSection(
        enabled=t.get("enabled", bool, True),
        text=t.get("text", str, "").strip(),
        pixels_per_second=float(speed) if speed is not None else None,
    )

    report = None
    if "report" in raw:
        t = Table(path, "report", raw["report"], {"url", "key", "heartbeat_seconds", "queue_max", "screenshot_width"})
        key = t.path_value("key", required=True)
        assert key is not None
        report = ReportSection(
            url=_http_url(t, "url"),
            key=key,
            heartbeat_seconds=float(t.number("heartbeat_seconds", 300, 2, 86400)),
            queue_max=int(t.number("queue_max", 4032, 10, 1_000_000)),
            screenshot_width=int(t.number("screenshot_width", 960, 160, 7680)),
        )

    return BoardConfig(
        path=path,
        board=board,
        display=display,
        ticker=ticker,
        playlists=playlists,
        feed=feed,
        inbox=inbox,
        report=report,
    )
