"""signage.feed.http against a real local server (tests/feedserver.py): bounds, redirects, resumable verified downloads, retries."""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from signage import __version__
from signage.errors import FetchError, MediaError, StoreError
from signage.feed.http import FeedResponse, Fetcher, backoff_delays, retry
from tests.feedserver import PORTAL_HTML, Behaviour, FeedServer

FEED = b'{"payloadType": "application/vnd.signage.feed.v1+json", "payload": "", "signatures": []}' * 20
ASSET = random.Random(7).randbytes(600_000)
ASSET_SHA = hashlib.sha256(ASSET).hexdigest()
ASSET_PATH = f"/assets/{ASSET_SHA}"


class RecordingSession(requests.Session):
    """A real session that remembers the keyword arguments and the response of each request."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[dict[str, Any]] = []
        self.responses: list[requests.Response] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        self.calls.append(kwargs)
        response = super().request(method, url, *args, **kwargs)
        self.responses.append(response)
        return response


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FeedServer]:
    root = tmp_path / "www"
    (root / "assets").mkdir(parents=True)
    (root / "feed.json").write_bytes(FEED)
    (root / "assets" / ASSET_SHA).write_bytes(ASSET)
    with FeedServer(root) as feed_server:
        yield feed_server


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    fetcher = Fetcher(connect_timeout=2.0, read_timeout=5.0)
    yield fetcher
    fetcher.close()


@pytest.fixture
def partial(tmp_path: Path) -> Path:
    return tmp_path / "asset.partial"


def download(fetcher: Fetcher, server: FeedServer, partial: Path, **options: Any) -> None:
    arguments: dict[str, Any] = {"expected_bytes": len(ASSET), "sha256": ASSET_SHA, "deadline_s": 10.0} | options
    fetcher.download(server.url + ASSET_PATH, partial, **arguments)


# --- every request ---------------------------------------------------------------------------------------------------


def test_every_request_streams_with_timeouts_identity_and_user_agent(server: FeedServer) -> None:
    session = RecordingSession()
    fetcher = Fetcher(connect_timeout=3.0, read_timeout=7.0, session=session)
    fetcher.get_feed(server.url + "/feed.json", etag=None, last_modified=None, max_bytes=1 << 20)

    assert session.calls[0]["stream"] is True
    assert session.calls[0]["allow_redirects"] is False
    assert session.calls[0]["timeout"] == (3.0, 7.0)
    seen = server.requests[0].headers
    assert seen["User-Agent"] == f"signage/{__version__}"
    assert seen["Accept-Encoding"] == "identity"
    fetcher.close()
    session.close()


@pytest.mark.parametrize(
    "behaviour",
    [Behaviour(), Behaviour(framing="chunked", stall_after=100, trickle_bytes=0)],
    ids=["refused-by-content-length", "refused-while-streaming"],
)
def test_response_closed_even_when_refused(server: FeedServer, behaviour: Behaviour) -> None:
    session = RecordingSession()
    fetcher = Fetcher(session=session)
    server.behaviour = behaviour
    with pytest.raises(FetchError, match="larger than 50 bytes"):
        fetcher.get_feed(server.url + "/feed.json", etag=None, last_modified=None, max_bytes=50)
    assert session.responses and all(response.raw.closed for response in session.responses)
    session.close()


def test_timeouts_never_exceed_what_is_left_of_the_deadline(server: FeedServer) -> None:
    session = RecordingSession()
    fetcher = Fetcher(connect_timeout=10.0, read_timeout=30.0, session=session)
    fetcher.get_feed(server.url + "/feed.json", etag=None, last_modified=None, max_bytes=1 << 20, deadline_s=2.0)
    connect_s, read_s = session.calls[0]["timeout"]
    assert 0 < connect_s <= 2.0 and 0 < read_s <= 2.0
    session.close()


# --- get_feed --------------------------------------------------------------------------------------------------------


def test_feed_200_then_conditional_304(server: FeedServer, fetcher: Fetcher) -> None:
    url = server.url + "/feed.json"
    first = fetcher.get_feed(url, etag=None, last_modified=None, max_bytes=1 << 20)
    assert first.status == 200 and first.body == FEED and first.url == url
    assert first.etag and first.last_modified

    by_etag = fetcher.get_feed(url, etag=first.etag, last_modified=first.last_modified, max_bytes=1 << 20)
    assert by_etag == FeedResponse(304, None, first.etag, first.last_modified, url)
    assert server.requests[1].headers["If-None-Match"] == first.etag
    assert server.requests[1].headers["If-Modified-Since"] == first.last_modified

    by_date = fetcher.get_feed(url, etag=None, last_modified=first.last_modified, max_bytes=1 << 20)
    assert by_date.status == 304 and by_date.body is None
    assert server.requests[2].headers["If-None-Match"] is None

    changed = fetcher.get_feed(url, etag='"stale"', last_modified=None, max_bytes=1 << 20)
    assert changed.status == 200 and changed.body == FEED


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_oversized_feed_refused_while_streaming(server: FeedServer, fetcher: Fetcher, framing: str) -> None:
    # No Content-Length, and the server then hangs: only a client that stops reading at max_bytes returns at once.
    server.behaviour = Behaviour(framing=framing, stall_after=300, trickle_bytes=0)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"/feed\.json: feed larger than 200 bytes$"):
        fetcher.get_feed(server.url + "/feed.json", etag=None, last_modified=None, max_bytes=200)
    assert time.monotonic() - started < 2.0


def test_oversized_feed_refused_by_content_length(server: FeedServer, fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match=rf"larger than 200 bytes \(Content-Length {len(FEED)}\)"):
        fetcher.get_feed(server.url + "/feed.json", etag=None, last_modified=None, max_bytes=200)


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_feed_exactly_max_bytes_accepted(server: FeedServer, fetcher: Fetcher, framing: str) -> None:
    server.behaviour = Behaviour(framing=framing)
    response = fetcher.get_feed(server.url + "/feed.json", etag=None, last_modified=None, max_bytes=len(FEED))
    assert response.body == FEED


def test_captive_portal_html_is_returned_as_bytes(server: FeedServer, fetcher: Fetcher) -> None:
    server.behaviour = Behaviour(captive_portal=True)
    response = fetcher.get_feed(server.url + "/feed.json", etag=None, last_modified=None, max_bytes=1 << 20)
    assert response.status == 200
    assert isinstance(response.body, bytes) and response.body == PORTAL_HTML


def test_gzip_body_refused(server: FeedServer, fetcher: Fetcher) -> None:
    server.behaviour = Behaviour(gzip=True)
    with pytest.raises(FetchError, match="Content-Encoding gzip refused"):
        fetcher.get_feed(server.url + "/feed.json", etag=None, last_modified=None, max_bytes=1 << 20)


def test_other_status_names_it(server: FeedServer, fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match=r"/nothing\.json: HTTP 404 Not Found"):
        fetcher.get_feed(server.url + "/nothing.json", etag=None, last_modified=None, max_bytes=1 << 20)


def test_feed_cut_mid_body(server: FeedServer, fetcher: Fetcher) -> None:
    server.behaviour = Behaviour(cut_after=100)
    with pytest.raises(FetchError, match=rf"^{server.url}/feed\.json: network error after 100 bytes: ") as caught:
        fetcher.get_feed(server.url + "/feed.json", etag=None, last_modified=None, max_bytes=1 << 20)
    assert "\n" not in str(caught.value)


def test_unreachable_host_is_one_line_naming_the_url(tmp_path: Path, fetcher: Fetcher) -> None:
    gone = FeedServer(tmp_path)
    gone.stop()
    with pytest.raises(FetchError) as caught:
        fetcher.get_feed(gone.url + "/feed.json", etag=None, last_modified=None, max_bytes=1 << 20)
    assert str(caught.value) == f"{gone.url}/feed.json: network error: Connection refused"


def test_silent_server_times_out(server: FeedServer) -> None:
    fetcher = Fetcher(read_timeout=0.3)
    server.behaviour = Behaviour(stall_after=10, trickle_bytes=0)
    started = time.monotonic()
    with pytest.raises(FetchError, match="network error after 10 bytes: timed out"):
        fetcher.get_feed(server.url + "/feed.json", etag=None, last_modified=None, max_bytes=1 << 20)
    assert time.monotonic() - started < 2.0
    fetcher.close()


def test_feed_deadline_while_streaming(server: FeedServer, fetcher: Fetcher) -> None:
    # Each read gets bytes well within the read timeout; only the overall deadline stops it.
    server.behaviour = Behaviour(stall_after=10, trickle_bytes=1, trickle_interval_s=0.05)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"feed\.json: not done within the 0\.5 s deadline"):
        fetcher.get_feed(server.url + "/feed.json", etag=None, last_modified=None, max_bytes=1 << 20, deadline_s=0.5)
    assert time.monotonic() - started < 1.5


# --- redirects -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute"])
def test_redirect_on_same_host_followed(server: FeedServer, fetcher: Fetcher, absolute: bool) -> None:
    server.behaviour = Behaviour(redirects={"/old/feed.json": (server.url if absolute else "") + "/feed.json"})
    response = fetcher.get_feed(server.url + "/old/feed.json", etag=None, last_modified=None, max_bytes=1 << 20)
    assert response.body == FEED
    assert response.url == server.url + "/feed.json"
    assert [request.path for request in server.requests] == ["/old/feed.json", "/feed.json"]


@pytest.mark.parametrize(
    "target", ["http://localhost:{other}/feed.json", "http://127.0.0.1:{other}/feed.json", "https://127.0.0.1:{port}/"]
)
def test_redirect_to_another_host_refused(server: FeedServer, fetcher: Fetcher, tmp_path: Path, target: str) -> None:
    with FeedServer(server.root) as other:
        location = target.format(other=other.port, port=server.port)
        server.behaviour = Behaviour(redirects={"/feed.json": location})
        with pytest.raises(FetchError, match=f"redirect to another host refused: {location}$"):
            fetcher.get_feed(server.url + "/feed.json", etag=None, last_modified=None, max_bytes=1 << 20)
        assert other.requests == []


def test_at_most_five_redirects(server: FeedServer, fetcher: Fetcher) -> None:
    chain = {f"/r{hop}": f"/r{hop + 1}" for hop in range(1, 5)} | {"/r5": "/feed.json", "/loop": "/loop"}
    server.behaviour = Behaviour(redirects=chain)
    assert fetcher.get_feed(server.url + "/r1", etag=None, last_modified=None, max_bytes=1 << 20).body == FEED
    with pytest.raises(FetchError, match="more than 5 redirects"):
        fetcher.get_feed(server.url + "/loop", etag=None, last_modified=None, max_bytes=1 << 20)
    assert len(server.requested("/loop")) == 6


# --- download --------------------------------------------------------------------------------------------------------


def test_download_from_scratch_verified(server: FeedServer, fetcher: Fetcher, partial: Path) -> None:
    download(fetcher, server, partial, chunk_bytes=64 * 1024)
    assert partial.read_bytes() == ASSET
    assert server.requests[0].headers["Range"] is None


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_resume_after_a_cut_with_206(server: FeedServer, fetcher: Fetcher, partial: Path, framing: str) -> None:
    server.behaviour = Behaviour(cut_after=250_000, framing=framing)
    with pytest.raises(FetchError, match=rf"^{server.url}{ASSET_PATH}: .*250000") as caught:
        download(fetcher, server, partial)
    assert "\n" not in str(caught.value)
    assert partial.read_bytes() == ASSET[:250_000]  # progress kept for the next try

    server.behaviour = Behaviour(framing=framing)
    download(fetcher, server, partial)
    assert partial.read_bytes() == ASSET
    assert server.requests[-1].headers["Range"] == "bytes=250000-"


def test_200_to_range_restarts_from_zero(server: FeedServer, fetcher: Fetcher, partial: Path) -> None:
    partial.write_bytes(b"\0" * 1000)  # not the asset's first bytes: appending would fail the digest
    server.behaviour = Behaviour(ignore_range=True)
    download(fetcher, server, partial)
    assert partial.read_bytes() == ASSET
    assert server.requests[0].headers["Range"] == "bytes=1000-"


def test_wrong_content_range_refused_and_partial_truncated(server: FeedServer, fetcher: Fetcher, partial: Path) -> None:
    partial.write_bytes(ASSET[:1000])
    server.behaviour = Behaviour(wrong_range=True)
    with pytest.raises(FetchError, match=rf"Content-Range 'bytes 0-{len(ASSET) - 1}/{len(ASSET)}', not 'bytes 1000-"):
        download(fetcher, server, partial)
    assert partial.stat().st_size == 0

    server.behaviour = Behaviour()
    download(fetcher, server, partial)  # the next try starts from zero
    assert partial.read_bytes() == ASSET
    assert server.requests[-1].headers["Range"] is None


def test_range_past_the_servers_end_clears_the_partial(server: FeedServer, fetcher: Fetcher, partial: Path) -> None:
    small = ASSET[:500]
    server.behaviour = Behaviour(wrong_bytes=small)
    partial.write_bytes(ASSET[:1000])
    with pytest.raises(FetchError, match="HTTP 416"):
        download(fetcher, server, partial)
    assert partial.stat().st_size == 0


def test_wrong_bytes_refused_and_partial_deleted(server: FeedServer, fetcher: Fetcher, partial: Path) -> None:
    server.behaviour = Behaviour(wrong_bytes=bytes(len(ASSET)))
    with pytest.raises(MediaError, match=rf"^{server.url}{ASSET_PATH}: SHA-256 [0-9a-f]{{64}} does not match the declared {ASSET_SHA}$"):
        download(fetcher, server, partial)
    assert not partial.exists()


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_longer_body_refused_and_never_written_past_declared(server: FeedServer, fetcher: Fetcher, partial: Path, framing: str) -> None:
    server.behaviour = Behaviour(wrong_bytes=ASSET + b"trailing", framing=framing)
    with pytest.raises(MediaError, match="more bytes than declared"):
        download(fetcher, server, partial)
    assert not partial.exists()


def test_shorter_file_on_server_is_a_fetch_error_keeping_progress(server: FeedServer, fetcher: Fetcher, partial: Path) -> None:
    server.behaviour = Behaviour(wrong_bytes=ASSET[:1000])
    with pytest.raises(FetchError, match=f"connection closed after 1000 of {len(ASSET)} bytes"):
        download(fetcher, server, partial)
    assert partial.stat().st_size == 1000


def test_complete_partial_is_only_verified(server: FeedServer, fetcher: Fetcher, partial: Path) -> None:
    partial.write_bytes(ASSET)
    download(fetcher, server, partial)
    assert server.requests == []

    partial.write_bytes(ASSET[:-1] + b"!")
    with pytest.raises(MediaError, match="does not match the declared"):
        download(fetcher, server, partial)
    assert not partial.exists() and server.requests == []


def test_oversized_partial_starts_again(server: FeedServer, fetcher: Fetcher, partial: Path) -> None:
    partial.write_bytes(b"x" * (len(ASSET) + 5))
    download(fetcher, server, partial)
    assert partial.read_bytes() == ASSET
    assert server.requests[0].headers["Range"] is None


def test_empty_asset(server: FeedServer, fetcher: Fetcher, partial: Path) -> None:
    fetcher.download(server.url + "/whatever", partial, expected_bytes=0, sha256=hashlib.sha256(b"").hexdigest(), deadline_s=1.0)
    assert partial.read_bytes() == b""


def test_local_file_trouble_is_a_store_error(server: FeedServer, fetcher: Fetcher, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no-such-folder"):
        download(fetcher, server, tmp_path / "no-such-folder" / "asset.partial")


def test_gzip_asset_refused_keeping_progress(server: FeedServer, fetcher: Fetcher, partial: Path) -> None:
    partial.write_bytes(ASSET[:1000])
    server.behaviour = Behaviour(gzip=True)
    with pytest.raises(FetchError, match="Content-Encoding gzip refused"):
        download(fetcher, server, partial)
    assert partial.read_bytes() == ASSET[:1000]


def test_stall_is_too_slow_within_the_deadline(server: FeedServer, fetcher: Fetcher, partial: Path) -> None:
    # 1 KiB at once, then 64 B every 0.1 s: about 1.7 KB/s at the end of the 1 s grace, under the 2 KiB/s minimum.
    server.behaviour = Behaviour(stall_after=1024, trickle_bytes=64, trickle_interval_s=0.1)
    started = time.monotonic()
    with pytest.raises(FetchError, match=rf"^{server.url}{ASSET_PATH}: too slow: \d+ B/s over \d+\.\d s, below the 2048 B/s minimum$"):
        download(fetcher, server, partial, deadline_s=5.0, slow_grace_s=1.0)
    assert time.monotonic() - started < 3.0
    assert partial.read_bytes() == ASSET[: partial.stat().st_size] and partial.stat().st_size >= 1024


def test_download_deadline(server: FeedServer, fetcher: Fetcher, partial: Path) -> None:
    server.behaviour = Behaviour(stall_after=1024, trickle_bytes=1024, trickle_interval_s=0.05)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"not done within the 0\.5 s deadline \(\d+ bytes received\)$"):
        download(fetcher, server, partial, deadline_s=0.5, min_bytes_per_s=1.0)
    assert time.monotonic() - started < 1.5
    assert partial.stat().st_size >= 1024


def test_progress_survives_across_fetchers(server: FeedServer, partial: Path) -> None:
    # A new Fetcher (as after a restart) resumes from what the file holds on disk.
    server.behaviour = Behaviour(cut_after=300_000)
    first = Fetcher()
    with pytest.raises(FetchError):
        download(first, server, partial, chunk_bytes=4096)
    first.close()
    assert os.path.getsize(partial) == 300_000
    server.behaviour = Behaviour()
    second = Fetcher()
    download(second, server, partial)
    second.close()
    assert server.requests[-1].headers["Range"] == "bytes=300000-"


# --- backoff and retry -----------------------------------------------------------------------------------------------


def test_backoff_delays_within_bounds_and_growing() -> None:
    rng = random.Random(1)
    samples = [backoff_delays(12, base_s=1.0, cap_s=300.0, rng=rng) for _ in range(400)]
    assert all(len(delays) == 11 for delays in samples)
    for delays in samples:
        for index, delay in enumerate(delays):
            assert 0.0 <= delay <= min(300.0, 2.0**index)
    means = [sum(delays[index] for delays in samples) / len(samples) for index in range(11)]
    for index in range(9):  # full jitter: the mean is half the bound, which doubles until the cap
        assert means[index] == pytest.approx(2.0**index / 2, rel=0.2)
    assert all(later > earlier for earlier, later in itertools.pairwise(means[:10]))
    assert means[9] == pytest.approx(150.0, rel=0.2) and means[10] == pytest.approx(150.0, rel=0.2)  # capped: uniform in [0, 300]
    assert backoff_delays(1, rng=rng) == []
    assert max(backoff_delays(2000, rng=rng)) <= 300.0  # no overflow on a long outage
    assert backoff_delays(6, rng=random.Random(3)) == backoff_delays(6, rng=random.Random(3))


def test_retry_succeeds_after_failures_sleeping_the_backoff() -> None:
    outcomes: list[Exception | str] = [FetchError("one"), FetchError("two"), "feed"]
    slept: list[float] = []

    def action() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert retry(action, attempts=5, rng=random.Random(9), sleep=slept.append) == "feed"
    assert slept == backoff_delays(5, rng=random.Random(9))[:2]


def test_retry_gives_up_with_the_last_error() -> None:
    calls: list[int] = []
    slept: list[float] = []

    def action() -> None:
        calls.append(1)
        raise FetchError(f"failure {len(calls)}")

    with pytest.raises(FetchError, match="failure 4"):
        retry(action, attempts=4, rng=random.Random(0), sleep=slept.append)
    assert len(calls) == 4 and len(slept) == 3


def test_retry_does_not_retry_other_errors() -> None:
    calls: list[int] = []
    slept: list[float] = []

    def action() -> None:
        calls.append(1)
        raise MediaError("bad bytes")

    with pytest.raises(MediaError):
        retry(action, attempts=4, rng=random.Random(0), sleep=slept.append)
    assert calls == [1] and slept == []
    with pytest.raises(MediaError):
        retry(action, attempts=4, rng=random.Random(0), sleep=slept.append, retry_on=(MediaError,))
    assert len(calls) == 5 and len(slept) == 3


def test_retry_wraps_a_real_fetch(server: FeedServer, fetcher: Fetcher) -> None:
    server.behaviour = Behaviour(cut_after=10)
    slept: list[float] = []

    def fetch() -> FeedResponse:
        if len(server.requests) == 2:
            server.behaviour = Behaviour()
        return fetcher.get_feed(server.url + "/feed.json", etag=None, last_modified=None, max_bytes=1 << 20)

    assert retry(fetch, attempts=3, rng=random.Random(0), sleep=slept.append).body == FEED
    assert len(server.requests) == 3 and len(slept) == 2
