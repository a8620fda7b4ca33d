"""One pull of the district feed: fetch, decide trust, store, download media; and what the board may play from it.

The pure decision (`trust.decide`) sits between two edges: the network (`http.Fetcher`)
and the disk (`store`). Nothing here touches the screen: the player reads the store.
Failures are recorded in the store and returned, one line each; the caller logs them.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin

from signage.config import BoardConfig, FeedSection
from signage.envelope import parse_public_key
from signage.errors import FeedRejected, FetchError, MediaError, StoreError
from signage.feed.http import Fetcher, retry
from signage.feed.trust import decide
from signage.media.probe import Probe, probe
from signage.model import Bulletin, Playable
from signage.store.db import Store
from signage.store.files import ContentStore

log = logging.getLogger(__name__)

GARBAGE_GRACE = timedelta(days=1)
PARALLEL_DOWNLOADS = 2

Prober = Callable[[Path, str], Probe]  # a medium and its declared type → what it is, or MediaError


@dataclass
class SyncResult:
    outcome: str  # "accepted", "unchanged", "refused" or "unreachable"
    sequence: int | None = None
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    downloaded: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # media not yet verified: their bulletins wait
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.outcome in ("accepted", "unchanged")

    @property
    def content_changed(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.downloaded)

    def lines(self) -> list[str]:
        head = {"accepted": f"accepted sequence {self.sequence}", "unchanged": f"unchanged (sequence {self.sequence})"}
        lines = [head.get(self.outcome, self.outcome)]
        for label, items in (("added", self.added), ("changed", self.changed), ("removed", self.removed)):
            if items:
                lines.append(f"{label}: {', '.join(items)}")
        if self.downloaded:
            lines.append(f"downloaded {len(self.downloaded)} media file(s)")
        if self.pending:
            lines.append(f"waiting for {len(self.pending)} media file(s)")
        return lines + self.notes + self.errors


def open_store(config: BoardConfig) -> tuple[Store, ContentStore]:
    data = config.board.data_dir
    return Store(data / "board.db"), ContentStore(data / "media")


def pinned_keys(feed: FeedSection) -> list[bytes]:
    return [parse_public_key(key) for key in feed.public_keys]


def sync(
    config: BoardConfig,
    store: Store,
    content: ContentStore,
    fetcher: Fetcher,
    now: Callable[[], datetime],
    *,
    rng: random.Random | None = None,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = 3,
    prober: Prober = probe,
) -> SyncResult:
    """Pull the feed once; a refusal or an outage is recorded and reported, the held feed stands."""
    feed = config.feed
    if feed is None:
        raise StoreError(f"{config.path}: no [feed] section: nothing to sync")
    rng = rng or random.Random()
    record = store.feed()
    try:
        response = retry(
            lambda: fetcher.get_feed(feed.url, etag=record.etag, last_modified=record.last_modified, max_bytes=feed.max_bytes),
            attempts=attempts,
            rng=rng,
            sleep=sleep,
        )
    except FetchError as exc:
        store.failed(str(exc), now())
        return SyncResult("unreachable", record.state.sequence, errors=[str(exc)])

    result = SyncResult("unchanged", record.state.sequence)
    if response.status == 304:
        if record.last_error is not None:
            store.synced(now())  # recovered: clear the error; an ordinary 304 writes nothing at all
    else:
        assert response.body is not None
        try:
            verdict = decide(
                response.body,
                pinned=pinned_keys(feed),
                threshold=feed.threshold,
                publisher=feed.publisher,
                state=record.state,
                now=now(),
                origin=feed.url,
            )
        except FeedRejected as exc:
            store.failed(str(exc), now())
            return SyncResult("refused", record.state.sequence, errors=[str(exc)])
        except (ValueError, OverflowError, RecursionError) as exc:
            return _unforeseen(feed.url, exc, store, now, record.state.sequence)
        result.notes += verdict.notes
        if verdict.unchanged and record.held:  # a rebuilt store holds the trust state only: take the bulletins again
            store.synced(now(), state=verdict.state, etag=response.etag, last_modified=response.last_modified)
        else:
            kept = _for_this_board(config, verdict.manifest.bulletins, result)
            before = {b.id: b.revision for b in store.bulletins()}
            try:
                store.accept(
                    verdict.payload,
                    verdict.state,
                    kept,
                    publisher=verdict.manifest.publisher,
                    generated_at=verdict.manifest.generated_at,
                    expires_at=verdict.manifest.expires_at,
                    now=now(),
                    etag=response.etag,
                    last_modified=response.last_modified,
                    notes=verdict.notes,
                )
            except (ValueError, OverflowError) as exc:  # e.g. SQLite's 64-bit INTEGER; the transaction rolled back
                return _unforeseen(feed.url, exc, store, now, record.state.sequence)
            store.add_commands([c for c in verdict.manifest.commands if c.targets(config.board.id)], now())
            result.outcome, result.sequence = "accepted", verdict.manifest.sequence
            result.added = [b.id for b in kept if b.id not in before]
            result.changed = [b.id for b in kept if b.id in before and before[b.id] != b.revision]
            result.removed = sorted(set(before) - {b.id for b in kept})
            result.errors += list(verdict.manifest.rejected)
    _download(config, feed, store, content, fetcher, now, result, prober)
    return result


def _unforeseen(url: str, exc: Exception, store: Store, now: Callable[[], datetime], sequence: int | None) -> SyncResult:
    """A feed the rules did not foresee is still a refusal recorded as `last_error`, never a crashed sync (the trace goes to the log)."""
    log.error("%s: feed refused on an unforeseen error", url, exc_info=exc)
    detail = (str(exc).splitlines() or [""])[0][:200]
    message = f"{url}: feed refused: cannot be read ({type(exc).__name__}: {detail})"
    store.failed(message, now())
    return SyncResult("refused", sequence, errors=[message])


def _for_this_board(config: BoardConfig, bulletins: tuple[Bulletin, ...], result: SyncResult) -> list[Bulletin]:
    """Bulletins aimed at this board, within the media size limit; emergencies first for their downloads."""
    assert config.feed is not None
    kept = []
    for bulletin in bulletins:
        if not bulletin.targets(config.board.id):
            continue
        if bulletin.media is not None and bulletin.media.bytes > config.feed.max_asset_bytes:
            result.errors.append(
                f"{config.feed.url}: bulletin {bulletin.id!r}: media of {bulletin.media.bytes} bytes is over the "
                f"board's limit of {config.feed.max_asset_bytes}"
            )
            continue
        kept.append(bulletin)
    return kept


def asset_url(feed_url: str, sha256: str) -> str:
    return urljoin(feed_url, f"assets/{sha256}")


def _download(
    config: BoardConfig,
    feed: FeedSection,
    store: Store,
    content: ContentStore,
    fetcher: Fetcher,
    now: Callable[[], datetime],
    result: SyncResult,
    prober: Prober,
) -> None:
    """Fetch every missing medium (resuming partial ones), verify, move into the store; then collect garbage."""
    wanted = store.wanted_assets()  # emergencies' media first
    missing = [(sha, size) for sha, size in wanted.items() if not content.has(sha, size)]
    stored, probed = store.stored_assets(), store.asset_probes()
    # On disk and not yet probed: new, or left unprobed by a cut before this version made store+probe one step.
    found = [(sha, size) for sha, size in wanted.items() if sha not in probed and (sha, size) not in missing]
    for sha256, size in list(found):
        # On disk with no record (a rebuilt store, a restored backup): trusted once its hash is checked again, not fetched.
        if sha256 not in stored and not _whole_on_disk(content, sha256):
            found.remove((sha256, size))
            missing.append((sha256, size))
    usage = content.usage() if missing else 0
    # Two transfers at once: one's fsync overlaps the other's network time. Only the file work runs
    # in the pool; the store (a SQLite connection of this thread) is written here, in order.
    queued = []
    for sha256, size in missing:
        partial = content.partial(sha256)
        have = partial.stat().st_size if partial.exists() else 0
        url = asset_url(feed.url, sha256)
        if usage + size - have > feed.cache_bytes:
            message = f"{url}: not downloaded: the cache budget of {feed.cache_bytes} bytes is full"
            store.download_failed(sha256, size, message, now())
            result.errors.append(message)
            result.pending.append(sha256)
            continue
        usage += size - have
        queued.append((sha256, size, url, partial))

    def fetch(sha256: str, size: int, url: str, partial: Path) -> None:
        fetcher.download(url, partial, expected_bytes=size, sha256=sha256, deadline_s=min(1800.0, 120.0 + size / 65536))
        content.commit(sha256)

    with ThreadPoolExecutor(max_workers=PARALLEL_DOWNLOADS, thread_name_prefix="download") as pool:
        jobs = [(sha256, size, pool.submit(fetch, sha256, size, url, partial)) for sha256, size, url, partial in queued]
        for sha256, size, job in jobs:
            try:
                job.result()
            except (FetchError, MediaError, StoreError) as exc:
                store.download_failed(sha256, size, str(exc), now())
                result.errors.append(str(exc))
                result.pending.append(sha256)
                continue
            found.append((sha256, size))
            result.downloaded.append(sha256)
    if result.downloaded:
        content.settle()
    if found:
        # Probed first, then recorded with what probing found in one transaction for the batch.
        store.media_stored(_probe_all(store, content, found, result, prober), now())
    unused = store.track_use(set(wanted), content.names(), now())
    for name in content.collect(set(wanted), unused, now(), GARBAGE_GRACE):
        if name in unused:
            store.forget_asset(name)


def _whole_on_disk(content: ContentStore, sha256: str) -> bool:
    """True when the stored file's bytes hash to its name; a file that does not is removed (it is fetched again)."""
    path = content.path(sha256)
    try:
        with path.open("rb") as handle:
            if hashlib.file_digest(handle, "sha256").hexdigest() == sha256:
                return True
    except OSError as exc:
        log.warning("%s: cannot read to verify: %s", path, exc.strerror)
        return False
    log.warning("%s: its bytes do not hash to its name: removed, to be downloaded again", path)
    path.unlink(missing_ok=True)
    return False


def _probe_all(
    store: Store, content: ContentStore, media: list[tuple[str, int]], result: SyncResult, prober: Prober
) -> list[tuple[str, int, float | None, int | None, str | None]]:
    """Probe new media with limits before they may play: it really decodes, and how long, how many pages."""
    types = {b.media.sha256: b.media.type for b in store.bulletins() if b.media is not None}
    probed: list[tuple[str, int, float | None, int | None, str | None]] = []
    for sha256, size in media:
        try:
            found = prober(content.path(sha256), types.get(sha256, ""))
        except MediaError as exc:
            result.errors.append(str(exc))
            probed.append((sha256, size, None, None, str(exc)))
            continue
        probed.append((sha256, size, found.seconds, found.pages, None))
    return probed


def feed_playables(store: Store, content: ContentStore) -> list[Playable]:
    """The held feed's bulletins whose media is verified and probed on disk (text needs none), in feed order."""
    probes = store.asset_probes()
    playables = []
    for bulletin in store.bulletins():
        if bulletin.media is None:
            playables.append(Playable(bulletin))
            continue
        seconds, pages, error = probes.get(bulletin.media.sha256, (None, None, "not stored and probed yet"))
        if error is None and content.has(bulletin.media.sha256, bulletin.media.bytes):
            playables.append(Playable(bulletin, content.path(bulletin.media.sha256), seconds, pages))
    return playables
