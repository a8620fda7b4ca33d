"""`signage join`: a board asks a hub to take it: its key made if missing, a request signed by that key, and the
config lines that make it report to the hub and play the hub's feed.

The hub answers "waiting" until an administrator accepts the board in the browser, comparing the fingerprint this
prints with the one the page shows; the board may play meanwhile (its reports wait in its queue until accepted).
"""

from __future__ import annotations

import json
import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signage import __version__, envelope
from signage.config import parse_config
from signage.errors import ConfigError, FetchError, SignageError
from signage.text import printable

JOIN_FORMAT = "signage-join/1"
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
MAX_ANSWER_BYTES = 4096
MAX_KEY_FILE_BYTES = 4096
_HUB = re.compile(r"(https?)://([^/\s?#@]+)(/[^\s?#]*)?")


@dataclass(frozen=True, slots=True)
class Hub:
    """A hub's address and the URLs a board uses under it."""

    base: str  # http(s)://host[:port]/path/ (always ending in /)

    @property
    def join_url(self) -> str:
        return self.base + "join"

    @property
    def report_url(self) -> str:
        return self.base + "report"

    @property
    def feed_key_url(self) -> str:
        return self.base + "feeds/key.pub"

    def feed_url(self, board: str) -> str:
        return f"{self.base}feeds/boards/{board}/feed.json"


@dataclass(frozen=True, slots=True)
class JoinAnswer:
    accepted: bool  # False: waiting for an administrator
    board: str
    keyid: str


def hub_of(text: str) -> Hub:
    """`https://hub.example/` (a path allowed, no query, no user name) → the hub; ConfigError in Vietnamese."""
    match = _HUB.fullmatch(text.strip())
    if not match:
        raise ConfigError(f"--hub: cần địa chỉ dạng https://hub.example/, không phải {printable(text[:80])!r}")
    path = (match[3] or "/").rstrip("/") + "/"
    return Hub(f"{match[1]}://{match[2]}{path}")


def fingerprint(keyid: str) -> str:
    """A keyid in groups of four, to be read aloud and compared: `3f2a 9c01 b7e4 5d6f`."""
    return " ".join(keyid[index : index + 4] for index in range(0, len(keyid), 4))


def join_payload(board: str, name: str, public_raw: bytes, sent_at: datetime, hostname: str | None = None) -> bytes:
    body = {
        "format": JOIN_FORMAT,
        "board": board,
        "name": name,
        "hostname": socket.gethostname() if hostname is None else hostname,
        "public_key": envelope.public_key_text(public_raw),
        "sent_at": sent_at.isoformat(timespec="seconds"),
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def join_envelope(key: Ed25519PrivateKey, board: str, name: str, sent_at: datetime, hostname: str | None = None) -> bytes:
    """The request, signed by the key it carries (the hub checks that it was)."""
    return envelope.sign(join_payload(board, name, envelope.public_raw(key), sent_at, hostname), envelope.JOIN_TYPE, [key])


def board_key(path: Path) -> tuple[Ed25519PrivateKey, bool]:
    """The board's key at `path`, made (0600, its folder 0700) when missing; and whether it was made now."""
    if path.exists():
        return envelope.load_private_key(path), False
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise SignageError(f"{path.parent}: không tạo được thư mục cho khóa: {exc.strerror}") from None
    return envelope.generate_key(path), True


def ask(session: requests.Session, hub: Hub, raw: bytes) -> JoinAnswer:
    """POST the signed request; the hub's answer, or a one-line error in Vietnamese (FetchError, SignageError)."""
    url = hub.join_url
    headers = {"User-Agent": f"signage/{__version__}", "Content-Type": "application/json"}
    try:
        response = session.post(
            url, data=raw, headers=headers, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S), stream=True, allow_redirects=False
        )
    except requests.Timeout:
        raise FetchError(f"{url}: hệ thống không trả lời trong {READ_TIMEOUT_S:.0f} giây") from None
    except requests.RequestException as exc:
        raise FetchError(f"{url}: không kết nối được tới hệ thống ({printable(type(exc).__name__)})") from None
    try:
        body = response.raw.read(MAX_ANSWER_BYTES, decode_content=True)
        status = response.status_code
    except (requests.RequestException, OSError) as exc:
        raise FetchError(f"{url}: mất kết nối khi đọc câu trả lời ({type(exc).__name__})") from None
    finally:
        response.close()
    answer = _json_object(body)
    error = printable(str(answer.get("error", "")))[:200]
    if status in (200, 202) and answer.get("status") in ("accepted", "waiting"):
        return JoinAnswer(answer["status"] == "accepted", str(answer.get("board", "")), str(answer.get("keyid", "")))
    if status == 409:
        raise SignageError(f"{url}: hệ thống từ chối mã bảng này: {error or 'đã thuộc về một bảng khác'} (chọn mã khác bằng --id)")
    if status == 429 or status == 503:
        wait = response.headers.get("Retry-After", "")
        later = f" sau {int(wait) // 60 + 1} phút" if wait.isdigit() else " sau"
        raise FetchError(f"{url}: hệ thống đang bận hoặc đã nhận quá nhiều yêu cầu; thử lại{later} ({error})")
    if status == 400 and error.startswith("join: sent_at"):
        raise SignageError(f"{url}: đồng hồ của bảng lệch quá một ngày so với hệ thống; chỉnh lại giờ rồi thử lại")
    if status == 404:
        raise FetchError(f"{url}: địa chỉ này không phải hệ thống nhận bảng tham gia (HTTP 404); kiểm tra lại --hub")
    raise FetchError(f"{url}: hệ thống từ chối yêu cầu (HTTP {status}{': ' + error if error else ''})")


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def feed_key(key_text: bytes, url: str) -> bytes:
    """The hub's feed key from the bytes of key.pub (`ed25519:…`, one line); FetchError names what is wrong."""
    try:
        return envelope.parse_public_key(key_text.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise FetchError(f"{url}: không phải một khóa công khai ed25519:…") from None


@dataclass(frozen=True, slots=True)
class Sections:
    """The config's sections for the hub, as TOML text by section name."""

    report: str
    feed: str | None  # None when the hub's feed key could not be had

    def items(self) -> list[tuple[str, str]]:
        return [("report", self.report)] + ([("feed", self.feed)] if self.feed is not None else [])

    def text(self) -> str:
        return "\n".join(text for _, text in self.items())


def sections(hub: Hub, board: str, key_path: Path, feed_public: bytes | None) -> Sections:
    report = f"[report]\nurl = {_toml(hub.report_url)}\nkey = {_toml(str(key_path))}\n"
    feed = None
    if feed_public is not None:
        feed = f"[feed]\nurl = {_toml(hub.feed_url(board))}\npublic_keys = [{_toml(envelope.public_key_text(feed_public))}]\n"
    return Sections(report, feed)


def _toml(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def merged(config_text: str, path: Path, wanted: Sections) -> tuple[str, list[str], list[str]]:
    """The config with the sections it lacks appended (those it has are never changed): (new text, sections added,
    sections it has already with other values). The result is checked as the player would read it."""
    try:
        raw: Mapping[str, Any] = tomllib.loads(config_text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: không phải TOML hợp lệ: {exc}") from None
    added, differing = [], []
    text = config_text if config_text.endswith("\n") or not config_text else config_text + "\n"
    for name, section in wanted.items():
        if name in raw:
            have = raw[name] if isinstance(raw[name], Mapping) else {}
            if any(have.get(key) != value for key, value in tomllib.loads(section)[name].items()):
                differing.append(name)
            continue
        text += "\n" + section
        added.append(name)
    parse_config(tomllib.loads(text), path)  # a config the player would refuse is never written
    return text, added, differing


def write_config(path: Path, text: str) -> None:
    """Atomically: a temporary file beside it, flushed and synced, renamed over it, the folder synced. Keeps its mode."""
    mode = path.stat().st_mode & 0o777
    temporary = path.with_name(f".{path.name}.join-{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def writable(path: Path) -> bool:
    """Whether the config can be replaced by this user (a new file beside it, then a rename). The effective ids: run
    as root, `signage join` acts as the owner of the board's data folder, as the other board commands do."""
    effective = os.access in os.supports_effective_ids
    return os.access(path, os.W_OK, effective_ids=effective) and os.access(path.parent, os.W_OK | os.X_OK, effective_ids=effective)
