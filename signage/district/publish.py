"""Publishing a signed feed: bulletins and their media → `feed.json` and content-addressed assets.

`write_feed` publishes bulletins already built (the hub's source system); `publish` reads them from one TOML
each (the district's command line). Everything is validated before anything is written; assets land before
the feed that names them, each file atomically, so a host serving the site never sees a half-written feed
or a feed naming a missing asset.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import tomllib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
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
MAX_CHECKED = 100_000  # bulletins a caller remembers as taken by a board's parser (write_feed's `checked`)
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
    # What the feed just written holds (as the self-check parsed it): the next publication's "previous".
    held: HeldFeed | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class HeldFeed:
    """What a site's `feed.json` holds, verified with the publisher's own key (sequence 0: no feed yet)."""

    sequence: int
    bulletins: Mapping[str, Bulletin]
    commands: tuple[Command, ...]
    generated_at: datetime | None


NO_FEED = HeldFeed(0, {}, (), None)


@dataclass(frozen=True)
class _Source:
    """One validated bulletin, the local file of its media (None: already among the assets), and where it came from."""

    path: Path | None  # its TOML file; None for a bulletin built in memory
    bulletin: Bulletin
    media_path: Path | None
    revision_given: bool

    @property
    def where(self) -> str:
        """`<file>: bulletin 'id'` (or `bulletin 'id'`), the start of every error line about it."""
        prefix = f"{self.path}: " if self.path is not None else ""
        return f"{prefix}bulletin {self.bulletin.id!r}"


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
    _check_arguments(publisher=publisher, expires_in=expires_in, now=now)
    key = envelope.load_private_key(key_path)
    held = read_held_feed(out / FEED_NAME, key, str(key_path))
    sequence = held.sequence + 1
    sources = [_revised(source, held.bulletins.get(source.bulletin.id)) for source in _read_sources(src)]
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
    carried = [command_json(c) for c in held.commands if c.expires_at > now and all(c.id != given.get("id") for given in commands)]
    return _write_feed(
        out,
        key,
        sources,
        [*carried, *commands, *issued],
        sequence=sequence,
        publisher=publisher,
        expires_in=expires_in,
        now=now,
        assets_dir=out / ASSETS_DIR,
    )


def write_feed(
    out: Path,
    key: Ed25519PrivateKey,
    items: Sequence[tuple[Bulletin, Path | None]],
    commands: Sequence[Mapping[str, Any]],
    *,
    publisher: str,
    expires_in: timedelta,
    now: datetime,
    assets_dir: Path | None = None,
    min_sequence: int = 1,
    key_name: str = "the publisher's key",
    held: HeldFeed | None = None,
    checked: dict[int, Bulletin] | None = None,
) -> Published:
    """Sign and write `out/feed.json` holding exactly `items` and `commands`, their media in `assets_dir`.

    `checked`: the caller's memory of bulletin objects a board's parser already took (in feeds it wrote before), by
    id(); only the others are parsed again in the self-check, and those that pass are added.

    `held`: what `out/feed.json` holds, when the caller knows it (it wrote it, and the file is unchanged since);
    read and verified from the file otherwise.

    Each item is a bulletin with its final revision and the local file of its media; None for a medium
    already in `assets_dir` (it must be there, whole). The sequence is one more than the feed already in
    `out` (which must verify under `key`; `key_name` names the key in that refusal), and at least
    `min_sequence`. A bulletin the previous feed held may not go back a revision, nor change what it shows
    under the same one (a board keeps what it composed for a revision). Raises with nothing of the feed
    written when anything is invalid; one writer per `out` at a time (the caller's lock).
    """
    _check_arguments(publisher=publisher, expires_in=expires_in, now=now)
    held = held if held is not None else read_held_feed(out / FEED_NAME, key, key_name)
    sources = [_Source(None, bulletin, media_path, revision_given=True) for bulletin, media_path in items]
    for source in sources:
        _check_revision(source, held.bulletins.get(source.bulletin.id))
    return _write_feed(
        out,
        key,
        sources,
        commands,
        sequence=max(held.sequence + 1, min_sequence),
        publisher=publisher,
        expires_in=expires_in,
        now=now,
        assets_dir=assets_dir if assets_dir is not None else out / ASSETS_DIR,
        checked=checked,
    )


def write_assets(items: Sequence[tuple[Bulletin, Path | None]], assets_dir: Path) -> int:
    """Copy each item's media into `assets_dir/<sha256>` unless there already; how many were written.

    Content-addressed and atomic, so it needs no lock: two writers of one asset write the same bytes. The
    hub copies a large video here before it takes its lock, so other units' publications do not wait on it.
    """
    assets_dir.mkdir(parents=True, exist_ok=True)
    return _write_assets([_Source(None, bulletin, media_path, revision_given=True) for bulletin, media_path in items], assets_dir)


def _check_arguments(*, publisher: str, expires_in: timedelta, now: datetime) -> None:
    if now.utcoffset() is None:
        raise ValueError("now must be an aware datetime (with a UTC offset)")
    if expires_in <= timedelta():
        raise ValueError(f"expires_in must be positive, got {expires_in}")
    if not publisher.strip():
        raise SignageError("publisher: must not be empty")


def _write_feed(
    out: Path,
    key: Ed25519PrivateKey,
    sources: Sequence[_Source],
    commands: Sequence[Mapping[str, Any]],
    *,
    sequence: int,
    publisher: str,
    expires_in: timedelta,
    now: datetime,
    assets_dir: Path,
    checked: dict[int, Bulletin] | None = None,
) -> Published:
    """Validate everything, then write the assets and last the feed, each atomically."""
    feed_path = out / FEED_NAME
    if sequence > MAX_SEQUENCE:
        raise FeedRejected(f"{feed_path}: sequence {sequence - 1} cannot grow past 2^53-1")
    seen: set[str] = set()
    for source in sources:
        if source.bulletin.id in seen:
            raise BulletinError(f"{source.where}: id used twice")
        seen.add(source.bulletin.id)
    command_list = _checked_commands(commands)
    payload = _manifest_bytes(
        publisher=publisher,
        sequence=sequence,
        now=now,
        expires_in=expires_in,
        bulletins=[source.bulletin for source in sources],
        commands=command_list,
    )
    # What a board would do with these bytes, before they leave this machine: nothing may be refused.
    bulletins = [source.bulletin for source in sources]
    if checked is None:
        manifest = parse_manifest(payload, str(feed_path))
    else:
        # Bulletins a board's parser took before (in an earlier feed of this caller) are the same bytes again: only the
        # others, and the manifest around them, are parsed. A province-wide approval rewrites 100 feeds of ~150 each.
        fresh = [bulletin for bulletin in bulletins if checked.get(id(bulletin)) is not bulletin]
        manifest = parse_manifest(
            _manifest_bytes(publisher=publisher, sequence=sequence, now=now, expires_in=expires_in, bulletins=fresh, commands=command_list),
            str(feed_path),
        )
    rejected = manifest.rejected
    if rejected:
        raise BulletinError(rejected[0])
    if checked is not None:
        if len(checked) > MAX_CHECKED:
            checked.clear()
        checked.update((id(bulletin), bulletin) for bulletin in fresh)  # each kept alive by the dict: its id stays its own
    signed = envelope.sign(payload, envelope.FEED_TYPE, [key])

    out.mkdir(parents=True, exist_ok=True)
    assets_dir.mkdir(parents=True, exist_ok=True)
    assets_written = _write_assets(sources, assets_dir)
    write_atomically(feed_path, lambda handle: handle.write(signed))
    log.info("%s: published sequence %d with %d bulletin(s), %d new asset(s)", feed_path, sequence, len(sources), assets_written)
    return Published(
        sequence=sequence,
        bulletins=len(sources),
        assets_written=assets_written,
        feed_path=feed_path,
        commands=tuple(command["id"] for command in command_list),
        held=HeldFeed(sequence, {bulletin.id: bulletin for bulletin in bulletins}, manifest.commands, manifest.generated_at),
    )


def _write_assets(sources: Sequence[_Source], assets_dir: Path) -> int:
    assets_written = 0
    done: set[str] = set()
    # Files given first: a medium named twice, once with its file and once as already stored, is then written.
    for source in sorted(sources, key=lambda source: source.media_path is None):
        media = source.bulletin.media
        if media is None or media.sha256 in done:
            continue
        if source.media_path is None:
            if not _asset_present(assets_dir / media.sha256, media.bytes):
                raise MediaError(f"{source.where}: media: {assets_dir / media.sha256} is missing and no file was given")
            done.add(media.sha256)
            continue
        done.add(media.sha256)
        if _write_asset(source, assets_dir):
            assets_written += 1
    return assets_written


def command_json(command: Command) -> dict[str, Any]:
    """A command as feed-v1 writes it."""
    return {
        "id": command.id,
        "boards": list(command.boards),
        "action": command.action.value,
        "issued_at": command.issued_at.isoformat(),
        "expires_at": command.expires_at.isoformat(),
    }


def read_held_feed(feed_path: Path, key: Ed25519PrivateKey, key_name: str) -> HeldFeed:
    """What `feed_path` holds, verified with our own public key; NO_FEED when there is none yet.

    FeedRejected when it is there but not ours (`key_name` names the key): never publish over another's feed.
    """
    try:
        raw = feed_path.read_bytes()
    except FileNotFoundError:
        return NO_FEED
    except OSError as exc:
        raise FeedRejected(f"{feed_path}: cannot read the existing feed: {exc.strerror}") from None
    try:
        verified = envelope.verify(raw, envelope.FEED_TYPE, [envelope.public_raw(key)], 1, str(feed_path))
    except FeedRejected as exc:
        reason = str(exc).removeprefix(f"{feed_path}: ")
        raise FeedRejected(
            f"{feed_path}: the existing feed is not one signed by {key_name}; refusing to publish over it ({reason})"
        ) from None
    manifest = parse_manifest(verified.payload, str(feed_path))
    return HeldFeed(
        sequence=manifest.sequence,
        bulletins={bulletin.id: bulletin for bulletin in manifest.bulletins},
        commands=manifest.commands,
        generated_at=manifest.generated_at,
    )


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
    where = f"{source.where}: revision"
    if bulletin.revision < previous.revision:
        raise BulletinError(f"{where}: {bulletin.revision} is lower than the {previous.revision} already published")
    if changed and bulletin.revision == previous.revision:
        raise BulletinError(f"{where}: the content changed but the revision is still {bulletin.revision}; raise it or leave it out")
    return source


def _check_revision(source: _Source, previous: Bulletin | None) -> None:
    """A built bulletin against the one the feed held: never a revision back, never other content under the same one.

    Its `boards` may change under one revision: the hub narrows or widens a unit's list as boards move, and
    a board composes what a bulletin shows, not whom it is for.
    """
    bulletin = source.bulletin
    if previous is None or bulletin is previous or bulletin == previous:  # the same bulletin again: most of a feed published once more
        return
    where = f"{source.where}: revision"
    if bulletin.revision < previous.revision:
        raise BulletinError(f"{where}: {bulletin.revision} is lower than the {previous.revision} already published")
    if bulletin.revision == previous.revision and _content(bulletin, "boards") != _content(previous, "boards"):
        raise BulletinError(f"{where}: the content changed but the revision is still {bulletin.revision}")


def _content(bulletin: Bulletin, *ignored: str) -> dict[str, Any]:
    data = bulletin_json(bulletin)
    for name in ("revision", *ignored):
        data.pop(name, None)
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
        "bulletins": [],
        "commands": commands,
    }
    fragments = [_bulletin_bytes(bulletin) for bulletin in sorted(bulletins, key=lambda b: b.id)]
    text = json.dumps(manifest, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    # The bulletins' JSON spliced into the empty list: the same bytes json.dumps writes for the whole (each bulletin
    # is written once and kept, as a feed republished 100 times in a province-wide approval holds the same ones).
    head, tail = text.split(b'"bulletins":[]', 1)
    return head + b'"bulletins":[' + b",".join(fragments) + b"]" + tail


# By the bulletin object's identity (the hub hands the same objects to every feed; hashing a Bulletin costs more than
# writing it): the entry holds the object, so its id is never another's while it is here.
_FRAGMENTS: OrderedDict[int, tuple[Bulletin, bytes]] = OrderedDict()
_FRAGMENTS_LOCK = threading.Lock()
MAX_FRAGMENTS = 20_000


def _bulletin_bytes(bulletin: Bulletin) -> bytes:
    """One bulletin as feed-v1 JSON (compact, UTF-8), remembered for the next feed that holds it."""
    with _FRAGMENTS_LOCK:
        found = _FRAGMENTS.get(id(bulletin))
        if found is not None and found[0] is bulletin:
            _FRAGMENTS.move_to_end(id(bulletin))
            return found[1]
    fragment = json.dumps(bulletin_json(bulletin), ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    with _FRAGMENTS_LOCK:
        _FRAGMENTS[id(bulletin)] = (bulletin, fragment)
        while len(_FRAGMENTS) > MAX_FRAGMENTS:
            _FRAGMENTS.popitem(last=False)
    return fragment


def _asset_present(target: Path, size: int) -> bool:
    try:
        return target.stat().st_size == size
    except FileNotFoundError:
        return False


def _write_asset(source: _Source, assets_dir: Path) -> bool:
    """Copy the media into `assets/<sha256>` unless it is there already; True when written."""
    media, media_path = source.bulletin.media, source.media_path
    assert media is not None and media_path is not None
    target = assets_dir / media.sha256
    if _asset_present(target, media.bytes):
        return False

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
            raise MediaError(f"{source.where}: media: {media_path}: {exc.strerror}") from None
        if digest.hexdigest() != media.sha256 or size != media.bytes:
            raise MediaError(f"{source.where}: media: {media_path} changed while publishing")

    write_atomically(target, copy)
    return True


def write_atomically(target: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write through `write(handle)` to a temporary file beside `target`, fsync it, rename it, fsync the folder."""
    with _temporary_beside(target) as (handle, temporary):
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
        os.chmod(temporary, SITE_FILE_MODE)
        handle.close()
        os.replace(temporary, target)
    fsync_dir(target.parent)


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


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
