"""Checking a published site as a board would: signature, manifest, then every asset's size, SHA-256 and type.

The district's own check tool, for a folder or an http(s) URL; the board's hardened fetcher lives in signage.feed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from signage import __version__, envelope
from signage.errors import FeedRejected, FetchError, SignageError
from signage.feed.manifest import Manifest, parse_manifest
from signage.media.sniff import sniff
from signage.model import Media

MAX_FEED_BYTES = 4 << 20
MAX_ASSET_BYTES = 64 << 20  # over HTTP only: a folder is hashed as a stream, whatever its size
TIMEOUT_S = 30
CLOCK_SKEW = timedelta(minutes=5)  # a generated_at further ahead than this means the publisher's clock is wrong
_CHUNK_BYTES = 1 << 16
_SNIFF_BYTES = 16

Fetch = Callable[[str], bytes]


@dataclass(frozen=True)
class SiteReport:
    sequence: int
    publisher: str
    generated_at: datetime
    expires_at: datetime
    bulletins: int
    assets_checked: int
    problems: tuple[str, ...]  # one line each: missing asset, size/sha mismatch, rejected bulletins, expiry
    feed_location: str = ""  # the feed.json read: a path or a URL
    held: tuple[str, ...] = ()  # one line per bulletin: id, revision, kind, priority, title

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        """A human summary for the CLI: what the feed holds, then each problem, or OK."""
        lines = [
            f"{self.feed_location or 'feed'}: sequence {self.sequence} from {self.publisher!r}",
            f"generated {self.generated_at.isoformat()}, expires {self.expires_at.isoformat()}",
            f"{self.bulletins} bulletin(s), {self.assets_checked} asset(s) checked",
        ]
        lines += [f"  {line}" for line in self.held]
        if self.problems:
            lines.append(f"{len(self.problems)} problem(s):")
            lines += [f"  {problem}" for problem in self.problems]
        else:
            lines.append("OK: signature, manifest and every asset verified")
        return lines


class _Missing(Exception):
    """An asset that is not there (no file, HTTP 404): a problem to report, not a failure of the check."""


def verify_site(
    site: str,
    public_keys: Sequence[str],
    *,
    threshold: int = 1,
    now: datetime,
    fetch: Fetch | None = None,
) -> SiteReport:
    """Verify the feed at `site` (a folder, or an http(s) URL of the folder or of its feed.json).

    Raises FeedRejected when the envelope or the manifest is refused, FetchError when feed.json cannot
    be fetched; problems with assets, bulletins or expiry are collected in the report.
    """
    if now.utcoffset() is None:
        raise ValueError("now must be an aware datetime (with a UTC offset)")
    pinned = []
    for text in public_keys:
        try:
            pinned.append(envelope.parse_public_key(text))
        except ValueError as exc:
            raise SignageError(f"public key {text[:40]!r}: {exc}") from None
    if not pinned:
        raise SignageError("no public key given: the feed cannot be checked without one")
    if not 1 <= threshold <= len(pinned):
        raise SignageError(f"threshold {threshold}: must be between 1 and the {len(pinned)} public key(s) given")

    site_reader = _reader(site, fetch)
    raw = site_reader.read_feed()
    verified = envelope.verify(raw, envelope.FEED_TYPE, pinned, threshold, site_reader.feed_location)
    manifest = parse_manifest(verified.payload, site_reader.feed_location)

    problems = list(manifest.rejected)
    problems += _time_problems(manifest, site_reader.feed_location, now)
    named_by: dict[str, list[str]] = {}
    media_of: dict[str, Media] = {}
    for bulletin in manifest.bulletins:
        if bulletin.media is not None:
            named_by.setdefault(bulletin.media.sha256, []).append(bulletin.id)
            media_of.setdefault(bulletin.media.sha256, bulletin.media)
    for sha256, media in media_of.items():
        problem = site_reader.check_asset(media)
        if problem:
            problems.append(f"{problem} (bulletin {', '.join(named_by[sha256])})")
    return SiteReport(
        sequence=manifest.sequence,
        publisher=manifest.publisher,
        generated_at=manifest.generated_at,
        expires_at=manifest.expires_at,
        bulletins=len(manifest.bulletins),
        assets_checked=len(media_of),
        problems=tuple(problems),
        feed_location=site_reader.feed_location,
        held=tuple(
            f"{b.id} r{b.revision} {b.kind.value} {b.priority.value}: {' '.join(b.title.split())}"
            for b in sorted(manifest.bulletins, key=lambda b: b.id)
        ),
    )


def _time_problems(manifest: Manifest, origin: str, now: datetime) -> list[str]:
    problems = []
    if now >= manifest.expires_at:
        problems.append(f"{origin}: expired since {manifest.expires_at.isoformat()}; boards play on but report the feed stale")
    if manifest.generated_at > now + CLOCK_SKEW:
        problems.append(
            f"{origin}: generated_at {manifest.generated_at.isoformat()} is ahead of now ({now.isoformat()}); "
            "check the publisher's clock, boards take it as trusted time"
        )
    return problems


def _reader(site: str, fetch: Fetch | None) -> _SiteReader:
    scheme = urlsplit(site).scheme.lower()
    if scheme in ("http", "https"):
        path = urlsplit(site).path
        feed_url = site if path.endswith("/feed.json") else site.rstrip("/") + "/feed.json"
        return _UrlSite(feed_url, fetch)
    if "://" in site:
        raise SignageError(f"{site}: only a folder or an http(s) URL can be verified")
    folder = Path(site)
    if folder.is_file():
        return _FolderSite(folder.parent, folder)
    return _FolderSite(folder, folder / "feed.json")


class _SiteReader:
    feed_location: str

    def read_feed(self) -> bytes:
        raise NotImplementedError

    def asset_location(self, sha256: str) -> str:
        raise NotImplementedError

    def asset_chunks(self, media: Media) -> Iterator[bytes]:
        """The asset's bytes in chunks; raises _Missing when it is not there, SignageError/OSError on failure."""
        raise NotImplementedError

    def check_asset(self, media: Media) -> str | None:
        """One line naming the asset and its problem, or None when size, SHA-256 and type all match."""
        location = self.asset_location(media.sha256)
        digest = hashlib.sha256()
        head = b""
        size = 0
        try:
            with closing(self.asset_chunks(media)) as chunks:
                for chunk in _at_most(chunks, media.bytes + 1):  # one byte past the declared size tells "too long"
                    if len(head) < _SNIFF_BYTES:
                        head += chunk[: _SNIFF_BYTES - len(head)]
                    digest.update(chunk)
                    size += len(chunk)
        except _Missing:
            return f"{location}: missing"
        except (SignageError, OSError) as exc:
            return f"{location}: cannot read: {_one_line(exc)}"
        if size > media.bytes:
            return f"{location}: longer than the {media.bytes} bytes the manifest declares"
        if size != media.bytes:
            return f"{location}: {size} bytes, the manifest declares {media.bytes}"
        if digest.hexdigest() != media.sha256:
            return f"{location}: SHA-256 is {digest.hexdigest()}, not the one it is named by"
        sniffed = sniff(head)
        if sniffed != media.type:
            return f"{location}: the bytes are {sniffed or 'of no supported type'}, the manifest declares {media.type}"
        return None


class _FolderSite(_SiteReader):
    def __init__(self, folder: Path, feed_path: Path) -> None:
        self.folder, self.feed_path = folder, feed_path
        self.feed_location = str(feed_path)

    def read_feed(self) -> bytes:
        try:
            with self.feed_path.open("rb") as handle:
                raw = handle.read(MAX_FEED_BYTES + 1)
        except OSError as exc:
            raise FeedRejected(f"{self.feed_path}: cannot read the feed: {exc.strerror}") from None
        if len(raw) > MAX_FEED_BYTES:
            raise FeedRejected(f"{self.feed_path}: larger than {MAX_FEED_BYTES} bytes")
        return raw

    def asset_location(self, sha256: str) -> str:
        return str(self.folder / "assets" / sha256)

    def asset_chunks(self, media: Media) -> Iterator[bytes]:
        try:
            handle = (self.folder / "assets" / media.sha256).open("rb")
        except FileNotFoundError:
            raise _Missing from None
        with handle:
            while chunk := handle.read(_CHUNK_BYTES):
                yield chunk


class _UrlSite(_SiteReader):
    def __init__(self, feed_url: str, fetch: Fetch | None) -> None:
        self.feed_location, self.fetch = feed_url, fetch

    def read_feed(self) -> bytes:
        if self.fetch is not None:
            try:
                raw = self.fetch(self.feed_location)
            except OSError as exc:
                raise FetchError(f"{self.feed_location}: {_one_line(exc)}") from None
        else:
            try:
                raw = b"".join(_http_chunks(self.feed_location, MAX_FEED_BYTES))
            except _Missing:
                raise FetchError(f"{self.feed_location}: HTTP 404, no feed here") from None
        if len(raw) > MAX_FEED_BYTES:
            raise FeedRejected(f"{self.feed_location}: larger than {MAX_FEED_BYTES} bytes")
        return raw

    def asset_location(self, sha256: str) -> str:
        return urljoin(self.feed_location, f"assets/{sha256}")

    def asset_chunks(self, media: Media) -> Iterator[bytes]:
        if media.bytes > MAX_ASSET_BYTES:
            raise FetchError(f"declares {media.bytes} bytes, over this check's {MAX_ASSET_BYTES} byte limit; not downloaded")
        url = self.asset_location(media.sha256)
        if self.fetch is not None:
            yield self.fetch(url)
        else:
            yield from _http_chunks(url, MAX_ASSET_BYTES)


def _http_chunks(url: str, limit: int) -> Iterator[bytes]:
    """GET `url` as a stream of chunks: identity encoding, a timeout, at most `limit` bytes, closed in the end."""
    headers = {"Accept-Encoding": "identity", "User-Agent": f"signage/{__version__} (district verify)"}
    try:
        response = requests.get(url, timeout=TIMEOUT_S, headers=headers, stream=True)
    except requests.RequestException as exc:
        raise FetchError(f"{url}: {_one_line(exc)}") from None
    try:
        if response.status_code == 404:
            raise _Missing
        if response.status_code != 200:
            raise FetchError(f"{url}: HTTP {response.status_code} {response.reason}")
        declared = response.headers.get("Content-Length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:  # "²" passes isdigit() alone
            raise FetchError(f"{url}: {declared} bytes, more than the {limit} byte limit")
        received = 0
        for chunk in response.iter_content(_CHUNK_BYTES):
            received += len(chunk)
            if received > limit:
                raise FetchError(f"{url}: more than the {limit} byte limit")
            yield chunk
    except requests.RequestException as exc:
        raise FetchError(f"{url}: {_one_line(exc)}") from None
    finally:
        response.close()


def _at_most(chunks: Iterable[bytes], limit: int) -> Iterator[bytes]:
    """The chunks cut so that no more than `limit` bytes come out in all."""
    remaining = limit
    for chunk in chunks:
        if remaining <= 0:
            return
        yield chunk[:remaining]
        remaining -= len(chunk)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
