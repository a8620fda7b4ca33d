"""The hub's feeds: one signed feed per unit in a site folder, boards linked to their unit's feed, served at /feeds/.

The site (`[source] site`):
    site/<unit>/feed.json           the unit's feed, signed with the hub's key
    site/<unit>/assets -> ../assets its media, shared by every unit
    site/assets/<sha256>            every medium once, however many units carry it
    site/boards/<board> -> ../<unit>  a board's feed URL never changes when it moves to another unit
Any web server can mirror it. Sequences are hub-wide: every publication takes the highest sequence any unit
ever had, plus one, so a board moved from one unit to another never meets a sequence lower than it holds.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from signage import envelope
from signage.district.publish import (
    ASSETS_DIR,
    FEED_NAME,
    HeldFeed,
    Published,
    command_json,
    fsync_dir,
    read_held_feed,
    write_assets,
    write_atomically,
    write_feed,
)
from signage.errors import ConfigError, FeedRejected, SignageError
from signage.model import BOARD_ID, SHA256_HEX, Bulletin

log = logging.getLogger(__name__)

BOARDS_DIR = "boards"
KEY_NAME = "key.pub"
SEQUENCE_FILE = ".sequence"  # the highest sequence ever published here: a unit's folder removed by hand cannot lower it
RESERVED = frozenset({BOARDS_DIR, ASSETS_DIR})  # names of the site's own folders, never a unit's
FEED_CACHE = "no-cache"  # a board asks each time (a 304 costs nothing), so a new feed is seen at the next poll
ASSET_CACHE = "public, max-age=31536000, immutable"  # named by their SHA-256: the bytes under a name never change
NOT_FOUND = "Không có tệp này trong nguồn tin."
_LINK_TARGET = re.compile(r"\.\./(" + BOARD_ID.pattern + r")")


@dataclass(frozen=True)
class FeedContents:
    """What one unit's feed holds: bulletins (final revisions) with the local file of their media, and commands (feed-v1 JSON)."""

    items: tuple[tuple[Bulletin, Path | None], ...]
    commands: tuple[dict[str, Any], ...] = ()


def due_for_republish(published_at: datetime | None, now: datetime, expires_in: timedelta) -> bool:
    """A feed is republished once older than half its expiry, so boards never hold an expired one while the hub runs.

    Never published: due. Published "after" now (the hub's clock was ahead then): due, so the feed's dates
    are the hub's present again.
    """
    if published_at is None:
        return True
    age = now - published_at
    return age < timedelta() or age >= expires_in / 2


def check_site_name(kind: str, name: str) -> str:
    """A unit or board id as a single safe path component: feed-v1's id pattern, and not one of the site's folders."""
    if not isinstance(name, str) or not BOARD_ID.fullmatch(name) or name in RESERVED:
        raise SignageError(f"{kind} id {str(name)[:80]!r}: expected 1 to 64 of a-z, 0-9 and '-' (not {', '.join(sorted(RESERVED))})")
    return name


class FeedSite:
    """The hub's site folder: publishes each unit's feed, links boards to units, and finds what to serve.

    One lock for the whole site: the hub-wide sequence is taken and written under it, so two publications
    (of one unit or of two) never share a sequence. One FeedSite per site folder and process.
    """

    def __init__(self, root: Path, key_path: Path, publisher: str, expires_in: timedelta) -> None:
        if not publisher.strip():
            raise ConfigError("[source] publisher: must not be empty")
        if expires_in <= timedelta():
            raise ConfigError(f"[source] feeds expire in {expires_in}: must be positive")
        self.root = root
        self.key_path = key_path
        self.publisher = publisher
        self.expires_in = expires_in
        self._key = _load_private_key(key_path)
        self._lock = threading.Lock()
        self._remembered: dict[str, tuple[tuple[int, int, int] | None, HeldFeed]] = {}
        self._checked: dict[int, Bulletin] = {}  # bulletins a board's parser took in a feed of this site (under the lock)
        root.mkdir(parents=True, exist_ok=True)
        (root / ASSETS_DIR).mkdir(exist_ok=True)
        (root / BOARDS_DIR).mkdir(exist_ok=True)
        self._root_real = root.resolve(strict=True)
        self._highest = self._highest_published()
        self._reserved = self._highest  # the highest sequence the counter file holds (or that a feed holds)

    # --- publishing -------------------------------------------------------------------------------------

    def publish(self, unit: str, contents: FeedContents, now: datetime) -> Published:
        """Write `site/<unit>/feed.json` holding exactly `contents`, at the next hub-wide sequence; media first."""
        check_site_name("unit", unit)
        # Copied before the lock: a large video must not hold up another unit's feed (content-addressed, atomic).
        write_assets(contents.items, self.root / ASSETS_DIR)
        with self._lock:
            return self._publish_locked(unit, contents.items, contents.commands, now)

    def publish_many(self, batch: Sequence[tuple[str, FeedContents]], now: datetime) -> list[Published]:
        """Several units' feeds, one after another under one lock, their sequences reserved with one write of the
        counter (a province-wide approval writes 100 feeds: one counter write, not 100). Media first, outside it."""
        for unit, contents in batch:
            check_site_name("unit", unit)
            write_assets(contents.items, self.root / ASSETS_DIR)
        with self._lock:
            self._reserve(self._highest + len(batch))
            return [self._publish_locked(unit, contents.items, contents.commands, now) for unit, contents in batch]

    def _reserve(self, sequence: int) -> None:
        """Record `sequence` in the counter before any feed takes it: the counter never lags a feed (a crash between
        them only skips numbers)."""
        if sequence > self._reserved:
            write_atomically(self.root / SEQUENCE_FILE, lambda handle: handle.write(b"%d\n" % sequence))
            self._reserved = sequence

    def link_board(self, board_id: str, unit: str, now: datetime) -> None:
        """Point `site/boards/<board_id>` at `<unit>`'s feed, replacing any link atomically.

        A board may hold any sequence this site published up to now (from the unit it leaves, or from before
        it was unlinked), and refuses a lower one as a rollback. So unless the unit's feed is the newest of
        the site, it is first signed again as it stands at the next sequence. A unit with no feed yet is
        linked as it is: the board finds nothing there until its first publication, which takes the next
        sequence. Linking a board to the unit it follows already does nothing.
        """
        check_site_name("board", board_id)
        check_site_name("unit", unit)
        with self._lock:
            if self.linked_unit(board_id) == unit:
                return
            destination = self._held(unit)
            if destination.sequence and destination.sequence < self._highest:
                items = [(bulletin, None) for bulletin in destination.bulletins.values()]
                self._publish_locked(unit, items, [command_json(c) for c in destination.commands], now)
                log.info("%s: signed again at sequence %d for board %s linked to it", unit, self._highest, board_id)
            self._replace_link(self.root / BOARDS_DIR / board_id, f"../{unit}")

    def unlink_board(self, board_id: str) -> None:
        """Remove `site/boards/<board_id>`: the board's feed URL answers 404 (it keeps playing what it holds)."""
        check_site_name("board", board_id)
        with self._lock:
            (self.root / BOARDS_DIR / board_id).unlink(missing_ok=True)
            fsync_dir(self.root / BOARDS_DIR)

    def linked_unit(self, board_id: str) -> str | None:
        """The unit `site/boards/<board_id>` points at, or None."""
        check_site_name("board", board_id)
        try:
            target = os.readlink(self.root / BOARDS_DIR / board_id)
        except OSError:  # none, or not a link
            return None
        found = _LINK_TARGET.fullmatch(target)
        return found[1] if found and found[1] not in RESERVED else None

    def held(self, unit: str) -> HeldFeed:
        """What `site/<unit>/feed.json` holds now (verified); sequence 0 when the unit has no feed."""
        check_site_name("unit", unit)
        return self._held(unit)

    def public_key_text(self) -> str:
        """`ed25519:<base64>`: what every board pins in `[feed] public_keys`."""
        return envelope.public_key_text(envelope.public_raw(self._key))

    @property
    def highest_sequence(self) -> int:
        return self._highest

    def _publish_locked(
        self, unit: str, items: Sequence[tuple[Bulletin, Path | None]], commands: Sequence[Mapping[str, Any]], now: datetime
    ) -> Published:
        unit_dir = self.root / unit
        unit_dir.mkdir(exist_ok=True)
        self._replace_link(unit_dir / ASSETS_DIR, f"../{ASSETS_DIR}", only_if_other=True)
        sequence = self._highest + 1
        self._reserve(sequence)
        try:
            published = write_feed(
                unit_dir,
                self._key,
                items,
                commands,
                publisher=self.publisher,
                expires_in=self.expires_in,
                now=now,
                assets_dir=self.root / ASSETS_DIR,
                min_sequence=sequence,
                key_name=str(self.key_path),
                held=self._held(unit),
                checked=self._checked,
            )
            if published.held is not None:
                self._remember(unit, published.held)
        finally:
            # Taken even when the write failed: a feed renamed into place before a later step failed may hold it,
            # and two feeds under one sequence would be refused by a board that meets both.
            self._highest = max(self._highest, sequence)
        self._highest = max(self._highest, published.sequence)
        self._reserve(self._highest)  # a unit's feed held a higher sequence than the counter (a counter restored from a backup)
        return published

    def _held(self, unit: str) -> HeldFeed:
        """What the unit's feed holds: remembered from our own last write while the file is that very file (same inode,
        time and size), else read and verified. A province-wide approval republishes 100 feeds: reading each back
        cost more than writing it."""
        path = self.root / unit / FEED_NAME
        remembered = self._remembered.get(unit)
        if remembered is not None and remembered[0] == _signature(path):
            return remembered[1]
        return read_held_feed(path, self._key, str(self.key_path))

    def _remember(self, unit: str, held: HeldFeed) -> None:
        signature = _signature(self.root / unit / FEED_NAME)
        if signature is not None:
            self._remembered[unit] = (signature, held)

    def _replace_link(self, link: Path, target: str, *, only_if_other: bool = False) -> None:
        """Make `link` point at `target` (relative) by renaming a fresh link over it: never a moment without one."""
        if only_if_other:
            try:
                if os.readlink(link) == target:
                    return
            except FileNotFoundError:
                pass
            except OSError:  # not a link: a folder a hand or `signage publish` left; do not write through it
                raise SignageError(f"{link}: expected a link to {target}, found something else; move it away") from None
        temporary = link.with_name(f".{link.name}.{os.getpid()}.{threading.get_ident()}.link")
        temporary.unlink(missing_ok=True)
        os.symlink(target, temporary)
        try:
            os.replace(temporary, link)
        except OSError:
            temporary.unlink(missing_ok=True)
            raise
        fsync_dir(link.parent)

    def _highest_published(self) -> int:
        """The highest sequence of the site: its counter file, or any unit's feed above it (a counter lost)."""
        highest = 0
        try:
            highest = int((self.root / SEQUENCE_FILE).read_text(encoding="ascii").strip() or 0)
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable (%s); taking the units' feeds alone", self.root / SEQUENCE_FILE, exc)
        for unit_dir in sorted(self.root.iterdir()):
            if unit_dir.name in RESERVED or not BOARD_ID.fullmatch(unit_dir.name) or not (unit_dir / FEED_NAME).exists():
                continue
            try:
                highest = max(highest, self._held(unit_dir.name).sequence)
            except FeedRejected as exc:  # publishing that unit will refuse with the same line; the others go on
                log.warning("%s", exc)
        return highest

    # --- serving -----------------------------------------------------------------------------------------

    def resolve(self, path: str) -> tuple[str, Path] | None:
        """(`"feed"` or `"asset"`, the real file) for a name the site serves, else None.

        Only `<unit>/feed.json`, `boards/<id>/feed.json`, `<unit>/assets/<sha256>` and `boards/<id>/assets/<sha256>`;
        the file the links lead to must be that unit's feed or that asset inside the site, nothing else.
        """
        parts = path.split("/")
        if parts[:1] == [BOARDS_DIR]:
            if len(parts) < 2 or not BOARD_ID.fullmatch(parts[1]):
                return None
            rest = parts[2:]
        else:
            if not parts or not BOARD_ID.fullmatch(parts[0]) or parts[0] in RESERVED:
                return None
            rest = parts[1:]
        if rest == [FEED_NAME]:
            kind = "feed"
        elif len(rest) == 2 and rest[0] == ASSETS_DIR and SHA256_HEX.fullmatch(rest[1]):
            kind = "asset"
        else:
            return None
        try:
            real = (self.root / path).resolve(strict=True)
        except (OSError, RuntimeError):  # missing, a loop of links
            return None
        if kind == "asset":
            expected_asset = self._root_real / ASSETS_DIR / rest[1]
            return (kind, real) if real == expected_asset else None
        unit = real.parent
        if real.name != FEED_NAME or unit.parent != self._root_real or unit.name in RESERVED or not BOARD_ID.fullmatch(unit.name):
            return None
        return kind, real


def feed_routes(site: FeedSite) -> list[Route]:
    """GET /feeds/key.pub and the feeds and assets of `site`; 404 in Vietnamese for any other name."""

    def serve(request: Request) -> Response:  # sync: Starlette runs it in its thread pool (file system work)
        path = request.path_params["path"]
        if path == KEY_NAME:
            return PlainTextResponse(site.public_key_text() + "\n", headers={"Cache-Control": FEED_CACHE})
        found = site.resolve(path)
        if found is None:
            return _not_found()
        kind, real = found
        if kind == "asset":
            try:
                stat_result = os.stat(real)
            except OSError:
                return _not_found()
            if not stat.S_ISREG(stat_result.st_mode):
                return _not_found()
            # Immutable bytes under their hash: streamed from disk (Range for a board's resumed download).
            return FileResponse(
                real, stat_result=stat_result, media_type="application/octet-stream", headers={"Cache-Control": ASSET_CACHE}
            )
        body = _read_regular(real)
        if body is None:
            return _not_found()
        # A strong tag from the bytes (a feed is small): the board's conditional GET gets its 304.
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {"Cache-Control": FEED_CACHE, "ETag": etag}
        if _matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    return [Route("/feeds/{path:path}", serve, methods=["GET"])]


def _not_found() -> Response:
    return PlainTextResponse(NOT_FOUND, status_code=404)


def _matches(if_none_match: str | None, etag: str) -> bool:
    if if_none_match is None:
        return False
    return any(tag.strip().removeprefix("W/") in (etag, "*") for tag in if_none_match.split(","))


def _read_regular(real: Path) -> bytes | None:
    """The bytes of a regular file, read from the descriptor opened (never through a link swapped in meanwhile)."""
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read()


def _load_private_key(key_path: Path) -> Ed25519PrivateKey:
    """The hub's signing key; refused when anyone but its owner may read it (it signs every board's feed)."""
    try:
        mode = os.stat(key_path).st_mode
    except OSError as exc:
        raise ConfigError(f"{key_path}: cannot read key: {exc.strerror}") from None
    if mode & 0o077:
        raise ConfigError(f"{key_path}: key file mode {stat.S_IMODE(mode):04o} lets others read it; chmod 600 {key_path}")
    return envelope.load_private_key(key_path)


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_ino, status.st_mtime_ns, status.st_size
