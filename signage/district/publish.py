"""Publishing the district feed: source bulletins (one TOML each) → signed `feed.json` and content-addressed assets.

Everything is validated before anything is written; assets land before the feed that names them, each file
atomically, so a host serving the site never sees a half-written feed or a feed naming a missing asset.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signage import envelope
from signage.errors import BulletinError, FeedRejected, MediaError, SignageError
from signage.feed.manifest import FORMAT, MAX_SEQUENCE, parse_manifest
from signage.limits import parse_problem
from signage.model import Bulletin, BulletinInput, Command, Source, bulletin_json, parse_bulletin, parse_command
from signage.playlist import describe_media

log = logging.getLogger(__name__)

FEED_NAME = "feed.json"
ASSETS_DIR = "assets"
SITE_FILE_MODE = 0o644  # the web server usually runs as another user; mkstemp alone would leave 0600
_DURATION_PART = re.compile(r"(\d+)([dhm])")
_DURATION_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


@dataclass(frozen=True)
class Published:
    sequence: int
    bulletins: int
    assets_written: int
    feed_path: Path
    commands: tuple[str, ...] = ()  # ids of the commands the feed carries


@dataclass(frozen=True)
class _Source:
    """One validated source bulletin and the local file of its media, if any."""

    path: Path
    bulletin: Bulletin
    media_path: Path | None
    revision_given: bool


def parse_duration(text: str) -> timedelta:
    """`7d`, `36h`, `90m` or a sum such as `1d12h`; ValueError on anything else or on zero."""
    compact = text.strip().lower()
    parts = _DURATION_PART.findall(compact)
    if not parts or "".join(number + unit for number, unit in parts) != compact:
        raise ValueError(f"expected a duration such as 7d, 36h or 90m, got {text!r}")
    duration = timedelta()
    for number, unit in parts:
        duration += timedelta(**{_DURATION_UNITS[unit]: int(number)})
    if duration <= timedelta():
        raise ValueError(f"a duration must be positive, got {text!r}")
    return duration


def publish(
    src: Path,
    key_path: Path,
    out: Path,
    *,
    publisher: str,
    expires_in: timedelta,
    now: datetime,
    commands: Sequence[dict[str, Any]] = (),
    new_commands: Sequence[tuple[str, Sequence[str], timedelta]] = (),
) -> Published:
    """Build `out/feed.json` and `out/assets/<sha256>` from the `<id>.toml` files of `src`.

    Refuses the whole publication (raising, with nothing written) when any bulletin or command is
    invalid, or when an existing `out/feed.json` was not signed by this key. One publisher per site
    at a time: two concurrent runs on the same `out` would both take the same sequence.

    `new_commands` are (action, boards, expires in) for commands issued now, given the ids
    `cmd-<sequence>-<n>`; commands of the previous feed still within their expiry are carried over.
    """
    if now.utcoffset() is None:
        raise ValueError("now must be an aware datetime (with a UTC offset)")
    if expires_in <= timedelta():
        raise ValueError(f"expires_in must be positive, got {expires_in}")
    if not publisher.strip():
        raise SignageError("publisher: must not be empty")
    key = envelope.load_private_key(key_path)
    feed_path = out / FEED_NAME
    previous_sequence, previous, standing = _previous_feed(feed_path, key, key_path)
    sequence = previous_sequence + 1
    if sequence > MAX_SEQUENCE:
        raise FeedRejected(f"{feed_path}: sequence {previous_sequence} cannot grow past 2^53-1")
    sources = [_revised(source, previous.get(source.bulletin.id)) for source in _read_sources(src)]
    issued = [
        {
            "id": f"cmd-{sequence}-{number}",
            "boards": list(boards),
            "action": action,
            "issued_at": now.isoformat(),
            "expires_at": (now + expires).isoformat(),
        }
        for number, (action, boards, expires) in enumerate(new_commands, start=1)
    ]
    carried = [command_json(c) for c in standing if c.expires_at > now and all(c.id != given.get("id") for given in commands)]
    command_list = _checked_commands([*carried, *commands, *issued])

    payload = _manifest_bytes(
        publisher=publisher,
        sequence=sequence,
        now=now,
        expires_in=expires_in,
        bulletins=[source.bulletin for source in sources],
        commands=command_list,
    )
    # What a board would do with these bytes, before they leave this machine: nothing may be refused.
    rejected = parse_manifest(payload, str(feed_path)).rejected
    if rejected:
        raise BulletinError(rejected[0])
    signed = envelope.sign(payload, envelope.FEED_TYPE, [key])

    assets_dir = out / ASSETS_DIR
    assets_dir.mkdir(parents=True, exist_ok=True)
    assets_written = 0
    copied: set[str] = set()
    for source in sources:
        media = source.bulletin.media
        if media is None or source.media_path is None or media.sha256 in copied:
            continue
        copied.add(media.sha256)
        if _write_asset(source, assets_dir):
            assets_written += 1
    _write_atomically(feed_path, lambda handle: handle.write(signed))
    log.info("%s: published sequence %d with %d bulletin(s), %d new asset(s)", feed_path, sequence, len(sources), assets_written)
    return Published(
        sequence=sequence,
        bulletins=len(sources),
        assets_written=assets_written,
        feed_path=feed_path,
        commands=tuple(command["id"] for command in command_list),
    )


def command_json(command: Command) -> dict[str, Any]:
    """A command as feed-v1 writes it."""
    return {
        "id": command.id,
        "boards": list(command.boards),
        "action": command.action.value,
        "issued_at": command.issued_at.isoformat(),
        "expires_at": command.expires_at.isoformat(),
    }


def _previous_feed(feed_path: Path, key: Ed25519PrivateKey, key_path: Path) -> tuple[int, dict[str, Bulletin], tuple[Command, ...]]:
    """The sequence, bulletins and commands of the feed already in the site, verified with our own public key."""
    try:
        raw = feed_path.read_bytes()
    except FileNotFoundError:
        return 0, {}, ()
    except OSError as exc:
        raise FeedRejected(f"{feed_path}: cannot read the existing feed: {exc.strerror}") from None
    try:
        verified = envelope.verify(raw, envelope.FEED_TYPE, [envelope.public_raw(key)], 1, str(feed_path))
    except FeedRejected as exc:
        reason = str(exc).removeprefix(f"{feed_path}: ")
        raise FeedRejected(
            f"{feed_path}: the existing feed is not one signed by {key_path}; refusing to publish over it ({reason})"
        ) from None
    manifest = parse_manifest(verified.payload, str(feed_path))
    return manifest.sequence, {bulletin.id: bulletin for bulletin in manifest.bulletins}, manifest.commands


def _read_sources(src: Path) -> list[_Source]:
    if not src.is_dir():
        raise BulletinError(f"{src}: not a folder of <id>.toml bulletins")
    return [_read_source(path) for path in sorted(src.glob("*.toml"))]


def _read_source(path: Path) -> _Source:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise BulletinError(f"{path}: cannot read bulletin: {exc}") from None
    except ValueError as exc:  # TOMLDecodeError, or a number of thousands of digits
        raise BulletinError(f"{path}: cannot read bulletin: {parse_problem(exc)}") from None
    data.setdefault("id", path.stem)
    if data["id"] != path.stem:
        raise BulletinError(f"{path}: id: {data['id']!r} differs from the file name; name the file {data['id']}.toml or drop the id")
    media_path = None
    if "media" in data:
        if not isinstance(data["media"], str):
            raise BulletinError(f"{path}: bulletin {data['id']!r}: media: expected a path relative to the file")
        media_path = path.parent / data["media"]
        try:
            data["media"] = describe_media(media_path)
        except MediaError as exc:
            raise MediaError(f"{path}: bulletin {data['id']!r}: media: {exc}") from None
    revision_given = "revision" in data
    data.setdefault("revision", 1)  # provisional; `_revised` settles it against the previous feed
    bulletin = parse_bulletin(data, BulletinInput(origin=str(path), source=Source.FEED, strict=True))
    return _Source(path, bulletin, media_path, revision_given)


def _revised(source: _Source, previous: Bulletin | None) -> _Source:
    """Assign the revision when the source leaves it out; refuse one that would go backwards."""
    bulletin = source.bulletin
    if previous is None:
        return source
    changed = _content(bulletin) != _content(previous)
    if not source.revision_given:
        revision = previous.revision + 1 if changed else previous.revision
        return replace(source, bulletin=replace(bulletin, revision=revision))
    where = f"{source.path}: bulletin {bulletin.id!r}: revision"
    if bulletin.revision < previous.revision:
        raise BulletinError(f"{where}: {bulletin.revision} is lower than the {previous.revision} already published")
    if changed and bulletin.revision == previous.revision:
        raise BulletinError(f"{where}: the content changed but the revision is still {bulletin.revision}; raise it or leave it out")
    return source


def _content(bulletin: Bulletin) -> dict[str, Any]:
    data = bulletin_json(bulletin)
    del data["revision"]
    return data


def _checked_commands(commands: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    checked: list[dict[str, Any]] = []
    ids: set[str] = set()
    for index, command in enumerate(commands):
        origin = f"commands[{index}]"
        if not isinstance(command, Mapping):
            raise BulletinError(f"{origin}: command: expected an object, got {type(command).__name__}")
        parsed = parse_command(command, origin)
        if parsed.id in ids:
            raise BulletinError(f"{origin}: command: id: {parsed.id!r} used twice")
        ids.add(parsed.id)
        try:
            json.dumps(command, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise BulletinError(f"{origin}: command: not JSON-serialisable ({exc})") from None
        checked.append(dict(command))
    return checked


def _manifest_bytes(
    *,
    publisher: str,
    sequence: int,
    now: datetime,
    expires_in: timedelta,
    bulletins: list[Bulletin],
    commands: list[dict[str, Any]],
) -> bytes:
    manifest = {
        "format": FORMAT,
        "publisher": publisher,
        "sequence": sequence,
        "generated_at": now.isoformat(),
        "expires_at": (now + expires_in).isoformat(),
        "bulletins": [bulletin_json(bulletin) for bulletin in sorted(bulletins, key=lambda b: b.id)],
        "commands": commands,
    }
    return json.dumps(manifest, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _write_asset(source: _Source, assets_dir: Path) -> bool:
    """Copy the media into `assets/<sha256>` unless it is there already; True when written."""
    media, media_path = source.bulletin.media, source.media_path
    assert media is not None and media_path is not None
    target = assets_dir / media.sha256
    try:
        if target.stat().st_size == media.bytes:
            return False
    except FileNotFoundError:
        pass

    def copy(handle: IO[bytes]) -> None:
        # Hash while copying: the file may have changed since it was described, and the name must not lie.
        digest = hashlib.sha256()
        size = 0
        try:
            with media_path.open("rb") as media_file:
                while chunk := media_file.read(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
                    handle.write(chunk)
        except OSError as exc:
            raise MediaError(f"{source.path}: bulletin {source.bulletin.id!r}: media: {media_path}: {exc.strerror}") from None
        if digest.hexdigest() != media.sha256 or size != media.bytes:
            raise MediaError(f"{source.path}: bulletin {source.bulletin.id!r}: media: {media_path} changed while publishing")

    _write_atomically(target, copy)
    return True


def _write_atomically(target: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write through `write(handle)` to a temporary file beside `target`, fsync it, rename it, fsync the folder."""
    with _temporary_beside(target) as (handle, temporary):
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
        os.chmod(temporary, SITE_FILE_MODE)
        handle.close()
        os.replace(temporary, target)
    _fsync_dir(target.parent)


@contextmanager
def _temporary_beside(target: Path) -> Iterator[tuple[IO[bytes], Path]]:
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    temporary = Path(name)
    handle = os.fdopen(fd, "wb")
    try:
        yield handle, temporary
    except BaseException:
        handle.close()
        temporary.unlink(missing_ok=True)
        raise


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
