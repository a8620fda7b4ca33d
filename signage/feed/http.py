"""The feed's network edge: bounded, resumable HTTP GETs with deadlines; every failure becomes a one-line FetchError or MediaError.

No trust decisions here: the bytes of feed.json go up to the trust layer as they came, and an asset is only checked
against the size and SHA-256 the caller declares. Trouble with the partial file itself (disk full, no folder) is a StoreError.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from time import monotonic
from typing import BinaryIO, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from signage import __version__
from signage.errors import FetchError, MediaError, StoreError
from signage.text import printable

log = logging.getLogger(__name__)

T = TypeVar("T")

USER_AGENT = f"signage/{__version__}"
MAX_REDIRECTS = 5
FEED_CHUNK_BYTES = 64 * 1024
SYNC_EVERY_BYTES = 8 * 1024 * 1024  # fsync this often while downloading, so a power cut loses at most this much
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# requests' exceptions are OSErrors too; urllib3's are raised by raw reads, which requests does not wrap.
_NETWORK_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)


@dataclass(frozen=True)
class FeedResponse:
    status: int  # 200 or 304
    body: bytes | None  # None on 304
    etag: str | None
    last_modified: str | None
    url: str  # final URL after allowed redirects


class Fetcher:
    """HTTP GETs for the feed and its assets over one requests session.

    Every request streams, has a (connect, read) timeout no longer than what is left of the call's deadline, asks for
    `Accept-Encoding: identity` and names signage and its version; redirects are followed by hand and only on the
    original URL's scheme and host[:port]. Bodies are read one socket read at a time, so the deadline and the minimum
    rate are checked even while a server trickles.
    """

    def __init__(self, *, connect_timeout: float = 10.0, read_timeout: float = 30.0, session: requests.Session | None = None) -> None:
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()

    def close(self) -> None:
        """Close the session if this fetcher made it (a session passed in belongs to the caller)."""
        if self._owns_session:
            self._session.close()

    def get_feed(self, url: str, *, etag: str | None, last_modified: str | None, max_bytes: int, deadline_s: float = 60.0) -> FeedResponse:
        """feed.json's raw bytes (200), or 304 when the validators still match; refused past max_bytes while streaming."""
        deadline = _Deadline(url, deadline_s)
        conditions: dict[str, str] = {}
        if etag is not None:
            conditions["If-None-Match"] = etag
        if last_modified is not None:
            conditions["If-Modified-Since"] = last_modified
        response = self._open(url, conditions, deadline)
        try:
            if response.status_code == 304:
                # A 304 may omit the validators; the ones sent are then still the current ones.
                return FeedResponse(
                    304, None, response.headers.get("ETag", etag), response.headers.get("Last-Modified", last_modified), response.url
                )
            if response.status_code != 200:
                raise FetchError(f"{url}: {_status(response)}")
            _refuse_encoding(url, response)
            declared = _content_length(response)
            if declared is not None and declared > max_bytes:
                raise FetchError(f"{url}: feed larger than {max_bytes} bytes (Content-Length {declared})")
            body = bytearray()
            while chunk := _read(url, response, FEED_CHUNK_BYTES, deadline, len(body)):
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError(f"{url}: feed larger than {max_bytes} bytes")
                deadline.check(len(body))
            if declared is not None and len(body) != declared:
                raise FetchError(f"{url}: connection closed after {len(body)} of {declared} bytes")
            return FeedResponse(200, bytes(body), response.headers.get("ETag"), response.headers.get("Last-Modified"), response.url)
        finally:
            response.close()

    def download(
        self,
        url: str,
        partial: Path,
        *,
        expected_bytes: int,
        sha256: str,
        deadline_s: float,
        min_bytes_per_s: float = 2048.0,
        chunk_bytes: int = 256 * 1024,
        slow_grace_s: float = 5.0,
    ) -> None:
        """Complete `partial` (resuming with Range) and verify its size and SHA-256; on success it holds the verified bytes.

        Network trouble raises FetchError and keeps the bytes received for the next try. Bytes that cannot be right
        (more than declared, wrong size or digest) raise MediaError and delete `partial`. Slow retrieval: once
        `slow_grace_s` have passed, an average below `min_bytes_per_s` since the call began is a FetchError.
        """
        deadline = _Deadline(url, deadline_s)
        with _local(partial):
            have = partial.stat().st_size if partial.exists() else 0
            if have > expected_bytes:
                log.warning("%s: %d bytes, more than the %d declared for %s; starting again", partial, have, expected_bytes, url)
                os.truncate(partial, 0)
                have = 0
            if have == expected_bytes:
                partial.touch()  # an empty asset still needs its (empty) file
        if have < expected_bytes:
            rate = _Rate(url, deadline, min_bytes_per_s, slow_grace_s)
            self._receive(url, partial, have, expected_bytes, deadline, rate, chunk_bytes)
        _verify(url, partial, expected_bytes, sha256)

    def _receive(self, url: str, partial: Path, have: int, expected_bytes: int, deadline: _Deadline, rate: _Rate, chunk_bytes: int) -> None:
        response = self._open(url, {"Range": f"bytes={have}-"} if have else {}, deadline)
        try:
            start = _start_of(url, response, partial, have, expected_bytes)
            _refuse_encoding(url, response)
            declared = _content_length(response)
            if declared is not None and start + declared > expected_bytes:
                _delete(partial)
                raise MediaError(f"{url}: more bytes than declared: Content-Length {declared} from byte {start}, {expected_bytes} declared")
            try:
                _append(url, response, partial, start, expected_bytes, deadline, rate, chunk_bytes)
            except MediaError:
                _delete(partial)
                raise
        finally:
            response.close()

    def _open(self, url: str, headers: dict[str, str], deadline: _Deadline) -> requests.Response:
        """The first non-redirect answer, following at most MAX_REDIRECTS redirects that stay on url's scheme and host."""
        origin = _origin(url)
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            left = deadline.check(0)
            with _network_errors(url, deadline, 0):
                response = self._session.get(
                    current,
                    headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **headers},
                    stream=True,
                    timeout=(min(self._connect_timeout, left), min(self._read_timeout, left)),
                    allow_redirects=False,
                )
            if response.status_code not in _REDIRECT_STATUSES:
                return response
            location = response.headers.get("Location")
            response.close()
            if not location:
                raise FetchError(f"{url}: HTTP {response.status_code} redirect without a Location")
            target = urljoin(current, location)
            if _origin(target) != origin:
                raise FetchError(f"{url}: redirect to another host refused: {target}")
            log.debug("%s: redirected to %s", url, target)
            current = target
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")


def backoff_delays(attempts: int, *, base_s: float = 1.0, cap_s: float = 300.0, rng: random.Random) -> list[float]:
    """The sleeps between `attempts` tries (attempts - 1 of them): full jitter, the i-th uniform in [0, min(cap_s, base_s * 2**i)]."""
    # The exponent is clamped so a long outage cannot overflow the float.
    return [rng.uniform(0.0, min(cap_s, base_s * 2.0 ** min(i, 64))) for i in range(attempts - 1)]


def retry(
    action: Callable[[], T],
    *,
    attempts: int,
    rng: random.Random,
    sleep: Callable[[float], None],
    retry_on: tuple[type[BaseException], ...] = (FetchError,),
) -> T:
    """action()'s result, trying up to `attempts` times with backoff_delays between retry_on failures; the last error is re-raised."""
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}")
    for attempt, delay in enumerate(backoff_delays(attempts, rng=rng), start=1):
        try:
            return action()
        except retry_on as error:
            log.info("%s (attempt %d of %d); next in %.1f s", error, attempt, attempts, delay)
            sleep(delay)
    return action()


class _Deadline:
    """The time one call may take in all, on the monotonic clock."""

    def __init__(self, url: str, seconds: float) -> None:
        self.url = url
        self.seconds = seconds
        self.started = monotonic()

    def elapsed(self) -> float:
        return monotonic() - self.started

    def passed(self) -> bool:
        return self.elapsed() >= self.seconds

    def check(self, received: int) -> float:
        """The seconds left; a FetchError once there are none."""
        left = self.seconds - self.elapsed()
        if left <= 0:
            raise FetchError(f"{self.url}: not done within the {self.seconds:g} s deadline ({received} bytes received)")
        return left


@dataclass(frozen=True)
class _Rate:
    """Slow retrieval: after grace_s, the average since the call began must stay at or above min_bytes_per_s."""

    url: str
    deadline: _Deadline
    min_bytes_per_s: float
    grace_s: float

    def check(self, received: int) -> None:
        elapsed = self.deadline.elapsed()
        if elapsed > self.grace_s and received / elapsed < self.min_bytes_per_s:
            raise FetchError(
                f"{self.url}: too slow: {received / elapsed:.0f} B/s over {elapsed:.1f} s, below the {self.min_bytes_per_s:g} B/s minimum"
            )


def _start_of(url: str, response: requests.Response, partial: Path, have: int, expected_bytes: int) -> int:
    """Where the body of this answer goes in the partial file; a Range answer that does not continue it truncates it."""
    status = response.status_code
    if status == 200:
        if have:
            log.info("%s: the server ignored Range; starting again from zero", url)
        return 0
    if status == 206:
        wanted = f"bytes {have}-{expected_bytes - 1}/{expected_bytes}"
        content_range = response.headers.get("Content-Range")
        if have and content_range == wanted:
            return have
        _truncate(partial)
        raise FetchError(f"{url}: HTTP 206 with Content-Range {content_range!r}, not {wanted!r}; partial file cleared")
    if status == 416:
        _truncate(partial)
        raise FetchError(f"{url}: HTTP 416 for bytes={have}-; partial file cleared")
    raise FetchError(f"{url}: {_status(response)}")


def _append(
    url: str,
    response: requests.Response,
    partial: Path,
    start: int,
    expected_bytes: int,
    deadline: _Deadline,
    rate: _Rate,
    chunk_bytes: int,
) -> None:
    """Write the body into partial from `start`, never past expected_bytes; what arrived is on disk (fsynced) however it ends."""
    position = start
    received = 0
    unsynced = 0
    with _local(partial), partial.open("ab" if start else "wb") as file:
        try:
            # One byte more than is missing, to notice a body that goes on past the declared size.
            while chunk := _read(url, response, min(chunk_bytes, expected_bytes - position + 1), deadline, received):
                if position + len(chunk) > expected_bytes:
                    raise MediaError(f"{url}: more bytes than declared ({expected_bytes})")
                file.write(chunk)
                position += len(chunk)
                received += len(chunk)
                unsynced += len(chunk)
                if unsynced >= SYNC_EVERY_BYTES:
                    _sync(file)
                    unsynced = 0
                deadline.check(received)
                rate.check(received)
        finally:
            _sync(file)
    if position < expected_bytes:
        raise FetchError(f"{url}: connection closed after {position} of {expected_bytes} bytes")


def _verify(url: str, partial: Path, expected_bytes: int, sha256: str) -> None:
    """Size, then SHA-256 of the whole file (streamed); a mismatch deletes it."""
    with _local(partial):
        size = partial.stat().st_size
        if size != expected_bytes:
            partial.unlink()
            raise MediaError(f"{url}: {size} bytes, not the {expected_bytes} declared")
        with partial.open("rb") as file:
            actual = hashlib.file_digest(file, "sha256").hexdigest()
        if actual != sha256.lower():
            partial.unlink()
            raise MediaError(f"{url}: SHA-256 {actual} does not match the declared {sha256}")


def _read(url: str, response: requests.Response, amount: int, deadline: _Deadline, received: int) -> bytes:
    """Up to `amount` body bytes from one socket read (b"" at the end); never decompressed."""
    raw = response.raw
    with _network_errors(url, deadline, received):
        # read1 returns as soon as any bytes arrive; urllib3 before 2.3 has only read(), which waits for all `amount`.
        if hasattr(raw, "read1"):
            return raw.read1(amount, decode_content=False)
        return raw.read(amount, decode_content=False)


@contextmanager
def _network_errors(url: str, deadline: _Deadline, received: int) -> Iterator[None]:
    try:
        yield
    except _NETWORK_ERRORS as error:
        if deadline.passed():
            raise FetchError(f"{url}: not done within the {deadline.seconds:g} s deadline ({received} bytes received)") from error
        where = f" after {received} bytes" if received else ""
        raise FetchError(f"{url}: network error{where}: {_reason(error)}") from error


@contextmanager
def _local(path: Path) -> Iterator[None]:
    """The partial file's own I/O failures (disk full, permissions) are the store's, not the network's."""
    try:
        yield
    except OSError as error:
        raise StoreError(f"{path}: {error.strerror or error}") from error


def _reason(error: BaseException) -> str:
    """One line for a network failure: 'timed out', else the innermost OS reason (refused, reset, unknown host), else the message."""
    chain: list[BaseException] = [error]
    for cause in chain:  # grows while walked: args, .reason (urllib3), __cause__, __context__
        linked = (*cause.args, getattr(cause, "reason", None), cause.__cause__, cause.__context__)
        chain.extend(link for link in linked if isinstance(link, BaseException) and all(link is not known for known in chain))
    for cause in chain:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
    # Checked after the OS reasons: urllib3's NewConnectionError (a refused connection) is a ConnectTimeoutError.
    if any(isinstance(cause, requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError) for cause in chain):
        return "timed out"
    first = error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
    return printable(" ".join(first.split()))[:200] or type(error).__name__


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError as error:
        raise FetchError(f"{url}: bad port") from error
    return scheme, (parts.hostname or "").lower(), port if port is not None else _DEFAULT_PORTS.get(scheme)


def _status(response: requests.Response) -> str:
    # The reason phrase is the server's: escaped here, where the error is made, so no NUL or escape sequence
    # reaches the board's last_error, its log, `signage status` or the hub (PostgreSQL refuses a NUL in text).
    return f"HTTP {response.status_code} {printable(response.reason or '')[:80]}".rstrip()


def _refuse_encoding(url: str, response: requests.Response) -> None:
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        raise FetchError(f"{url}: Content-Encoding {printable(encoding)[:40]} refused (identity was asked for)")


def _content_length(response: requests.Response) -> int | None:
    try:
        length = int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None
    return length if length >= 0 else None


def _sync(file: BinaryIO) -> None:
    file.flush()
    os.fsync(file.fileno())


def _truncate(partial: Path) -> None:
    with _local(partial):
        if partial.exists():
            os.truncate(partial, 0)


def _delete(partial: Path) -> None:
    with _local(partial):
        partial.unlink(missing_ok=True)
