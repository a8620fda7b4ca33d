"""The hub's TOML config (`[hub]` and `[[boards]]`), read and validated once into frozen dataclasses."""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from signage.config import Table, check_sections, read_toml, resolve
from signage.envelope import key_id, parse_public_key
from signage.errors import ConfigError
from signage.model import BOARD_ID

HUB_KEYS = {
    "listen", "database", "timezone", "title", "heartbeat_seconds",
    "max_report_bytes", "max_screenshot_bytes", "screenshots_kept", "trusted_proxies", "public_url",
    "keep_plays_days", "board_rows_per_day", "board_reports_per_hour", "board_report_burst",
    "max_connections", "max_connections_per_address", "max_body_bytes_in_flight", "header_timeout_seconds", "body_timeout_seconds",
}  # fmt: skip
BOARD_KEYS = {"id", "name", "public_key"}
SOURCE_KEYS = {"key", "site", "media", "unit_name", "feed_expires_days", "max_upload_mb"}
SECTIONS = {"hub", "boards", "source"}
DEFAULT_TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")
DEFAULT_TITLE = "Bảng tin điện tử cấp huyện"
_LISTEN = re.compile(r"(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(?P<port>\d{1,5})")


@dataclass(frozen=True, slots=True)
class BoardEntry:
    id: str
    name: str
    public_key: bytes  # the raw 32 bytes of the board's Ed25519 key
    keyid: str


@dataclass(frozen=True, slots=True)
class HubConfig:
    path: Path
    database_url: str  # an SQLAlchemy URL: sqlite:///… or postgresql+psycopg://…
    boards: tuple[BoardEntry, ...]
    listen_host: str = "127.0.0.1"
    listen_port: int = 8600
    timezone: ZoneInfo = DEFAULT_TIMEZONE
    title: str = DEFAULT_TITLE
    heartbeat_seconds: float = 300.0
    max_report_bytes: int = 1024 * 1024
    max_screenshot_bytes: int = 8 * 1024 * 1024
    screenshots_kept: int = 20
    # The boards' side (docs/hub.md, "Limits"): what one board, or anyone, may cost the hub.
    keep_plays_days: int = 400  # raw plays, totals, reports, screenshots older than this are pruned; aggregates stay
    board_rows_per_day: int = 20_000  # rows a board may add a day; past it its plays are folded into day totals
    board_reports_per_hour: int = 720  # sustained, after a burst of board_report_burst (a backlog after an outage)
    board_report_burst: int = 600
    max_connections: int = 1000
    max_connections_per_address: int = 64
    max_body_bytes_in_flight: int = 64 * 1024 * 1024
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 60.0
    trusted_proxies: tuple[str, ...] = ()  # addresses or networks whose X-Forwarded-For/-Proto are believed
    public_url: str | None = None  # the address officers use; https:// makes the session cookie always Secure
    # The source system ([source]): the feeds' signing key (a file, 0600; None: nothing is published), the site the
    # hub writes the feeds into and serves, where uploaded media are kept, the root unit's name.
    source_key: Path | None = None
    site_dir: Path = Path("site")
    media_dir: Path = Path("media")
    unit_name: str = DEFAULT_TITLE
    feed_expires_days: int = 7
    max_upload_bytes: int = 500 * 1024 * 1024

    @property
    def https_only(self) -> bool:
        return self.public_url is not None and self.public_url.startswith("https://")

    @classmethod
    def load(cls, path: Path) -> HubConfig:
        return load_hub_config(path)


def parse_listen(raw: str) -> tuple[str, int]:
    """`HOST:PORT` (an IPv6 host in brackets) → (host, port); ValueError names the problem."""
    match = _LISTEN.fullmatch(raw.strip())
    if not match or not 0 <= int(match["port"]) <= 65535:
        raise ValueError(f"expected HOST:PORT such as 127.0.0.1:8600, got {raw!r}")
    return match["host"].strip("[]"), int(match["port"])


def parse_proxies(raw: Any) -> tuple[str, ...]:
    """Each an IP address or network (`127.0.0.1`, `10.0.0.0/8`); never `*`, which would believe anyone's headers."""
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise ValueError('expected a list of addresses such as ["127.0.0.1"]')
    for item in raw:
        try:
            ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network") from None
    return tuple(item.strip() for item in raw)


def parse_public_url(raw: str) -> str:
    if not re.fullmatch(r"https?://[^/\s?#]+(/\S*)?", raw.strip()):
        raise ValueError(f"expected the hub's http:// or https:// address, got {raw!r}")
    return raw.strip()


def database_url(config_path: Path, raw: str) -> str:
    """A PostgreSQL URL gets the psycopg 3 driver; anything else is an SQLite file relative to the config."""
    if raw.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + raw.split("://", 1)[1]
    if raw.startswith("postgresql+psycopg://"):
        return raw
    if "://" in raw:
        raise ValueError(f"expected a file path or a postgresql:// URL, got {raw.split('://', 1)[0]}://…")
    return f"sqlite:///{resolve(config_path, raw)}"


def load_hub_config(path: Path) -> HubConfig:
    """Read and validate the hub's config; every problem is a one-line `ConfigError` naming file and key."""
    path = Path(path)
    return parse_hub_config(read_toml(path), path.resolve())


def parse_hub_config(raw: Mapping[str, Any], path: Path) -> HubConfig:
    check_sections(raw, path, SECTIONS)
    if not isinstance(raw.get("hub", {}), Mapping):
        raise ConfigError(f"{path}: hub: expected a [hub] table")
    t = Table(path, "hub", raw.get("hub", {}), HUB_KEYS)
    host, port = t.parsed("listen", parse_listen, ("127.0.0.1", 8600))
    tz_name = t.get("timezone", str, "Asia/Ho_Chi_Minh")
    try:
        timezone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise t.fail("timezone", f"unknown time zone {tz_name!r}") from None
    integers = {}
    for key, default, low, high in (
        ("max_report_bytes", 1024 * 1024, 1024, 64 * 1024 * 1024),
        ("max_screenshot_bytes", 8 * 1024 * 1024, 1024, 256 * 1024 * 1024),
        ("screenshots_kept", 20, 1, 10000),
        ("keep_plays_days", 400, 1, 36500),
        ("board_rows_per_day", 20_000, 100, 10_000_000),
        ("board_reports_per_hour", 720, 1, 1_000_000),
        ("board_report_burst", 600, 1, 1_000_000),
        ("max_connections", 1000, 10, 1_000_000),
        ("max_connections_per_address", 64, 1, 1_000_000),
        ("max_body_bytes_in_flight", 64 * 1024 * 1024, 1024 * 1024, 64 * 1024 * 1024 * 1024),
    ):
        value = t.number(key, default, low, high)
        if not isinstance(value, int):
            raise t.fail(key, "expected an integer")
        integers[key] = value
    title = t.get("title", str, DEFAULT_TITLE).strip()
    if not title:
        raise t.fail("title", "must not be empty")
    hub_config = dict(
        listen_host=host,
        listen_port=port,
        database_url=t.parsed("database", lambda text: database_url(path, text), database_url(path, "hub.db")),
        timezone=timezone,
        title=title,
        heartbeat_seconds=float(t.number("heartbeat_seconds", 300, 10, 86400)),
        header_timeout_seconds=float(t.number("header_timeout_seconds", 10, 1, 600)),
        body_timeout_seconds=float(t.number("body_timeout_seconds", 60, 5, 3600)),
        public_url=t.parsed("public_url", parse_public_url),
        **integers,
    )
    beats_per_hour = 3600 / float(hub_config["heartbeat_seconds"])  # type: ignore[arg-type]
    if integers["board_reports_per_hour"] < 2 * beats_per_hour:
        # A board's own heartbeats, and the immediate reports of its commands, must never meet the limit.
        raise t.fail("board_reports_per_hour", f"must be at least {math.ceil(2 * beats_per_hour)} (twice a board's heartbeats)")

    try:
        hub_config["trusted_proxies"] = parse_proxies(t.get("trusted_proxies", list, []))
    except ValueError as exc:
        raise t.fail("trusted_proxies", str(exc)) from None

    if not isinstance(raw.get("source", {}), Mapping):
        raise ConfigError(f"{path}: source: expected a [source] table")
    src = Table(path, "source", raw.get("source", {}), SOURCE_KEYS)
    # Beside an SQLite database by default (the hub's state directory), else beside the config.
    url = str(hub_config["database_url"])
    state = Path(url.removeprefix("sqlite:///")).parent if url.startswith("sqlite:///") else path.parent
    key_text = src.get("key", str, "").strip()
    unit_name = src.get("unit_name", str, title).strip()
    if not unit_name:
        raise src.fail("unit_name", "must not be empty")
    hub_config.update(
        source_key=resolve(path, key_text) if key_text else None,
        site_dir=resolve(path, src.get("site", str, "")) if src.get("site", str, "") else state / "site",
        media_dir=resolve(path, src.get("media", str, "")) if src.get("media", str, "") else state / "media",
        unit_name=unit_name,
        feed_expires_days=int(src.number("feed_expires_days", 7, 1, 365)),
        max_upload_bytes=int(src.number("max_upload_mb", 500, 1, 4096)) * 1024 * 1024,
    )

    entries = raw.get("boards", [])
    if not isinstance(entries, list) or any(not isinstance(entry, Mapping) for entry in entries):
        raise ConfigError(f"{path}: boards: expected [[boards]] tables")
    boards: list[BoardEntry] = []
    seen_ids: set[str] = set()
    seen_keys: dict[bytes, str] = {}
    for index, entry in enumerate(entries):
        b = Table(path, f"boards[{index}]", entry, BOARD_KEYS)
        board_id = b.get("id", str, required=True)
        if not BOARD_ID.fullmatch(board_id):
            raise b.fail("id", f"{board_id!r} is not a board id ([a-z0-9][a-z0-9-]{{0,63}})")
        if board_id in seen_ids:
            raise b.fail("id", f"{board_id!r} is listed twice")
        key = b.parsed("public_key", parse_public_key)
        if key is None:
            raise b.fail("public_key", "missing")
        if key in seen_keys:
            # One key naming two boards would let either board speak for the other.
            raise b.fail("public_key", f"the same key as board {seen_keys[key]!r}")
        seen_ids.add(board_id)
        seen_keys[key] = board_id
        name = b.get("name", str, board_id).strip() or board_id
        boards.append(BoardEntry(id=board_id, name=name, public_key=key, keyid=key_id(key)))
    return HubConfig(path=path, boards=tuple(boards), **hub_config)
