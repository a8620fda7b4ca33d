"""The feed end to end: publish at the district, serve over real HTTP, sync, verify, store, play offline."""

from __future__ import annotations

import concurrent.futures
import hashlib
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from signage.config import load_config
from signage.district.publish import publish
from signage.envelope import generate_key, public_key_text, public_raw
from signage.feed.http import Fetcher
from signage.feed.sync import feed_playables, open_store, sync
from tests.feedserver import Behaviour, FeedServer

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass
class District:
    root: Path
    src: Path
    site: Path
    key: Path
    public: str

    def bulletin(self, bid: str, body: str = "", **fields: str) -> None:
        lines = [f"{k} = {v}" for k, v in fields.items()]
        text = f'kind = "text"\ntitle = "Thông báo {bid}"\nbody = "{body or "Nội dung " + bid}"\n' if "kind" not in fields else ""
        common = 'valid_from = 2026-01-01T00:00:00+07:00\nvalid_until = 2027-12-31T00:00:00+07:00\nboards = ["*"]\n'
        if "boards" in fields:
            common = common.replace('boards = ["*"]\n', "")
        (self.src / f"{bid}.toml").write_text(text + common + "\n".join(lines) + "\n", encoding="utf-8")

    def image(self, bid: str, size: tuple[int, int] = (800, 600), noise_bytes: int = 0) -> None:
        picture = self.src / f"{bid}.png"
        image = Image.effect_noise(size, 60).convert("RGB") if noise_bytes else Image.new("RGB", size, (10, 120, 60))
        image.save(picture)
        self.bulletin(bid, kind='"image"', title=f'"Ảnh {bid}"', media=f'"{picture.name}"')

    def publish(self, **kwargs) -> None:
        publish(self.src, self.key, self.site, publisher="hon-quan", expires_in=timedelta(days=7), now=datetime.now(HCM), **kwargs)


@pytest.fixture
def district(tmp_path: Path) -> District:
    src, site = tmp_path / "src", tmp_path / "site"
    src.mkdir()
    key = generate_key(tmp_path / "district.key")
    return District(tmp_path, src, site, tmp_path / "district.key", public_key_text(public_raw(key)))


@pytest.fixture
def server(district: District) -> Iterator[FeedServer]:
    district.site.mkdir(exist_ok=True)
    with FeedServer(district.site) as running:
        yield running


def board_config(district: District, server: FeedServer, extra: str = "", name: str = "board.toml") -> Path:
    path = district.root / name
    path.write_text(
        textwrap.dedent(
            f"""
            [board]
            id = "tan-quan"
            name = "UBND xã Tân Quan"
            data_dir = "state-{name}"
            [feed]
            url = "{server.url}/feed.json"
            public_keys = ["{district.public}"]
            publisher = "hon-quan"
            """
        )
        + extra,
        encoding="utf-8",
    )
    return path


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "signage", *map(str, args)], capture_output=True, text=True, timeout=120)


def status(config: Path) -> dict:
    result = cli("status", "--config", config, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def run_sync(config: Path, at: datetime | None = None):
    board = load_config(config)
    store, files = open_store(board)
    try:
        result = sync(board, store, files, Fetcher(), lambda: at or datetime.now(HCM), sleep=lambda _: None)
        return result, feed_playables(store, files)
    finally:
        store.close()


def test_publish_sync_status_and_a_304(district: District, server: FeedServer) -> None:
    district.bulletin("hop-dan", body="Họp dân ấp 2 lúc 19 giờ")
    district.image("rac")
    district.bulletin("ben-kia", boards='["tan-hung"]')
    district.publish()
    config = board_config(district, server)

    first = cli("sync", "--config", config)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == "accepted sequence 1"
    held = status(config)
    assert held["feed"]["sequence"] == 1 and not held["feed"]["stale"] and held["last_error"] is None
    assert {(b["id"], b["source"], b["ready"]) for b in held["bulletins"]} == {("hop-dan", "feed", True), ("rac", "feed", True)}

    again = cli("sync", "--config", config)
    assert again.returncode == 0 and again.stdout.startswith("unchanged (sequence 1)")
    assert server.requests[-1].path == "/feed.json" and server.requests[-1].headers["If-None-Match"]
    assert len(server.requested("/feed.json")) == 2  # the second answered 304, and no asset fetched again


def test_offline_the_board_plays_what_it_holds(district: District, server: FeedServer) -> None:
    district.bulletin("hop-dan")
    district.image("rac")
    district.publish()
    config = board_config(district, server)
    result, playables = run_sync(config)
    assert result.outcome == "accepted" and {p.bulletin.id for p in playables} == {"hop-dan", "rac"}
    server.stop()
    offline = cli("sync", "--config", config)
    assert offline.returncode == 1
    assert offline.stderr.strip().count("\n") == 0 and "network error" in offline.stderr
    _, playables = run_sync(config)
    assert {p.bulletin.id for p in playables} == {"hop-dan", "rac"}  # the held feed stands
    assert "network error" in status(config)["last_error"]


def test_a_refused_feed_leaves_the_held_one(district: District, server: FeedServer) -> None:
    district.bulletin("hop-dan")
    district.publish()
    config = board_config(district, server)
    run_sync(config)
    # Someone else's key publishes over the site: refused, and the board keeps sequence 1.
    (district.site / "feed.json").unlink()
    generate_key(district.root / "thief.key")
    publish(
        district.src, district.root / "thief.key", district.site, publisher="hon-quan", expires_in=timedelta(days=7), now=datetime.now(HCM)
    )
    refused = cli("sync", "--config", config)
    assert refused.returncode == 1 and "signature check failed" in refused.stderr
    held = status(config)
    assert held["feed"]["sequence"] == 1 and "signature check failed" in held["last_error"]


def test_a_captive_portal_and_an_oversized_feed_are_refused(district: District, server: FeedServer) -> None:
    for index in range(4):
        district.bulletin(f"hop-dan-{index}", body="Thông báo họp dân. " * 20)
    district.publish()
    assert (district.site / "feed.json").stat().st_size > 2048
    config = board_config(district, server)
    server.behaviour = Behaviour(captive_portal=True)
    portal, _ = run_sync(config)
    assert portal.outcome == "refused" and "not valid JSON" in portal.errors[0]
    server.behaviour = Behaviour()
    small = board_config(district, server, "max_bytes = 1024\n", name="small.toml")
    oversized, _ = run_sync(small)
    assert oversized.outcome == "unreachable" and "larger than 1024 bytes" in oversized.errors[0]


def test_media_plays_only_once_verified(district: District, server: FeedServer) -> None:
    district.bulletin("hop-dan")
    district.image("rac")
    district.publish()
    config = board_config(district, server)
    asset = next((district.site / "assets").iterdir())
    forged = b"\x89PNG\r\n\x1a\n" + b"x" * (asset.stat().st_size - 8)  # right size, wrong bytes
    server.behaviour = Behaviour(wrong_bytes=forged, paths=frozenset({f"/assets/{asset.name}"}))
    result, playables = run_sync(config)
    assert result.outcome == "accepted" and result.pending
    assert [p.bulletin.id for p in playables] == ["hop-dan"]  # the image waits for verified bytes
    assert not list((load_config(config).board.data_dir / "media" / "assets").iterdir())
    server.behaviour = Behaviour()
    result, playables = run_sync(config)
    assert result.outcome == "unchanged" and len(result.downloaded) == 1
    assert {p.bulletin.id for p in playables} == {"hop-dan", "rac"}
    path = next(p.media_path for p in playables if p.media_path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name


def test_a_cut_download_resumes_with_range(district: District, server: FeedServer) -> None:
    district.image("anh-lon", size=(1200, 900), noise_bytes=1)
    district.publish()
    config = board_config(district, server)
    asset = next((district.site / "assets").iterdir())
    server.behaviour = Behaviour(cut_after=asset.stat().st_size // 3)
    result, playables = run_sync(config)
    assert result.pending and playables == []
    server.behaviour = Behaviour()
    result, playables = run_sync(config)
    assert [p.bulletin.id for p in playables] == ["anh-lon"]
    ranges = [r.headers["Range"] for r in server.requested(f"/assets/{asset.name}")]
    assert ranges[-1] == f"bytes={asset.stat().st_size // 3}-"


def test_a_withdrawn_bulletin_goes_and_its_media_is_collected_later(district: District, server: FeedServer) -> None:
    district.bulletin("hop-dan")
    district.image("rac")
    district.publish()
    config = board_config(district, server)
    run_sync(config)
    (district.src / "rac.toml").unlink()
    district.publish()
    result, playables = run_sync(config)
    assert result.outcome == "accepted" and result.removed == ["rac"]
    assert [p.bulletin.id for p in playables] == ["hop-dan"]
    media = load_config(config).board.data_dir / "media" / "assets"
    assert len(list(media.iterdir())) == 1  # kept for a day's grace, in case it comes back
    run_sync(config, at=datetime.now(HCM) + timedelta(hours=23))
    assert len(list(media.iterdir())) == 1
    run_sync(config, at=datetime.now(HCM) + timedelta(days=2))
    assert list(media.iterdir()) == []


def test_a_warm_poll_answered_304_writes_nothing(district: District, server: FeedServer) -> None:
    district.bulletin("hop-dan")
    district.image("rac")
    district.publish()
    config = board_config(district, server)
    run_sync(config)
    state = load_config(config).board.data_dir

    def snapshot() -> dict[str, tuple[int, int]]:
        return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in state.rglob("*") if p.is_file()}

    before = snapshot()
    result, _ = run_sync(config)
    assert result.outcome == "unchanged" and server.requests[-1].path == "/feed.json"
    assert snapshot() == before


def test_the_player_picks_up_a_synced_feed(district: District, server: FeedServer) -> None:
    from signage.content import load_content
    from signage.jobs import ContentChanged, FeedPoll

    district.bulletin("khan", body="Bão số 9 đổ bộ", priority='"emergency"')
    district.publish()
    board = load_config(board_config(district, server))
    posted: list = []
    FeedPoll(board, posted.append, lambda: load_content(board)).run()
    changed = [event for event in posted if isinstance(event, ContentChanged)]  # beside it, the feed's signed time
    assert len(changed) == 1
    assert [p.bulletin.id for p in changed[0].playables] == ["khan"]
    FeedPoll(board, posted.append, lambda: load_content(board)).run()
    assert len([event for event in posted if isinstance(event, ContentChanged)]) == 1  # nothing changed: nothing posted


def test_an_unreachable_feed_is_polled_with_a_growing_backoff_until_it_answers(district: District, server: FeedServer) -> None:
    """Every poll retried a feed that could not be reached, as often as a working one, for as long as it was down."""
    from signage.content import load_content
    from signage.jobs import UNREACHABLE_BACKOFF_CAP_S, FeedPoll, unreachable_backoff_s

    board = load_config(board_config(district, server))  # nothing published yet: feed.json answers 404
    clock = [0.0]
    poll = FeedPoll(board, [].append, lambda: load_content(board), monotonic=lambda: clock[0], sleep=lambda _: None, rng=random.Random(7))
    tried_at = []
    for second in range(0, 4 * 3600, 60):  # the scheduler's tick, every poll_seconds (60), for four hours
        clock[0] = float(second)
        before = len(server.requested("/feed.json"))
        poll.run()
        if len(server.requested("/feed.json")) > before:
            tried_at.append(second)
    gaps = [b - a for a, b in itertools.pairwise(tried_at)]
    assert gaps[:3] == sorted(gaps[:3]) and gaps[0] >= 60  # growing
    assert max(gaps) <= UNREACHABLE_BACKOFF_CAP_S + 60 and len(tried_at) < 4 * 60 / 5  # capped, and far fewer than 240 polls
    district.bulletin("tin", body="Đã có mạng")
    district.publish()
    poll.wake()  # a district `sync` command, or the feed back: the next run pulls at once
    poll.run()
    assert poll.failures == 0 and server.requested("/feed.json")[-1]
    assert unreachable_backoff_s(0, 60, random.Random(1)) == 0.0
    assert all(240 <= unreachable_backoff_s(4, 60, random.Random(seed)) <= 480 for seed in range(50))


@pytest.mark.slow
def test_killed_at_any_instant_the_store_stays_consistent(district: District) -> None:
    """SIGKILL `signage sync` at random points of a large download, 20+ times; nothing half-downloaded ever plays."""
    big = district.src / "anh-lon.png"
    Image.frombytes("RGB", (4000, 2000), os.urandom(4000 * 2000 * 3)).save(big, compress_level=0)  # 24 MB that really decodes
    district.bulletin("phim", kind='"image"', title='"Ảnh lớn"', media='"anh-lon.png"', duration_s="60")
    district.bulletin("hop-dan")
    district.publish()
    expected = hashlib.sha256(big.read_bytes()).hexdigest()
    rng = random.Random(2026)
    with FeedServer(district.site) as server:
        # About 0.8 MB/s: the 24 MB download spans every one of the runs, so kills land mid-download.
        server.behaviour = Behaviour(stall_after=0, trickle_bytes=16 * 1024, trickle_interval_s=0.02)
        config = board_config(district, server)
        board = load_config(config)
        kills = 0
        for _ in range(22):
            process = subprocess.Popen(
                [sys.executable, "-m", "signage", "sync", "--config", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            time.sleep(rng.uniform(0.3, 2.5))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait(timeout=30)
            store, files = open_store(board)
            try:
                for playable in feed_playables(store, files):  # whatever is playable is whole and verified
                    if playable.media_path is not None:
                        assert hashlib.sha256(playable.media_path.read_bytes()).hexdigest() == playable.media_path.name
                for stored in files.assets.iterdir():
                    assert hashlib.sha256(stored.read_bytes()).hexdigest() == stored.name
                assert store.feed().state.sequence in (None, 1)
            finally:
                store.close()
        assert kills >= 15
        server.behaviour = Behaviour()
        final = cli("sync", "--config", config)
        assert final.returncode == 0, final.stderr
        ranges = [r.headers["Range"] for r in server.requested(f"/assets/{expected}") if r.headers["Range"]]
        assert ranges, "downloads resumed with Range after kills"
    store, files = open_store(board)
    try:
        playable = {p.bulletin.id: p for p in feed_playables(store, files)}
        assert set(playable) == {"phim", "hop-dan"}
        assert hashlib.sha256(playable["phim"].media_path.read_bytes()).hexdigest() == expected
        assert not list(files.partial_dir.iterdir())
    finally:
        store.close()


def test_feed_media_is_probed_before_it_may_play(district: District, server: FeedServer) -> None:
    from tests.videoclips import numbered_clip

    numbered_clip(district.src / "clip.mp4", seconds=1.5)
    district.bulletin("phim", kind='"video"', title='"Phim"', media='"clip.mp4"')
    (district.src / "hong.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00" + os.urandom(4096))
    district.bulletin("hong", kind='"video"', title='"Phim hỏng"', media='"hong.mp4"')
    district.publish()
    result, playables = run_sync(board_config(district, server))
    assert result.outcome == "accepted" and len(result.downloaded) == 2
    assert [p.bulletin.id for p in playables] == ["phim"]  # the undecodable one never plays
    assert playables[0].media_seconds == pytest.approx(1.5, abs=0.05)
    assert any("no decodable video stream" in e or "not a readable video" in e for e in result.errors)


def test_commands_for_this_board_run_once_and_expired_ones_never(district: District, server: FeedServer) -> None:
    from signage.model import Action

    district.bulletin("hop-dan")
    now = datetime.now(HCM)
    commands = [
        {
            "id": "cmd-1",
            "boards": ["tan-quan"],
            "action": "display_off",
            "issued_at": now.isoformat(),
            "expires_at": (now + timedelta(hours=1)).isoformat(),
        },
        {
            "id": "cmd-2",
            "boards": ["tan-hung"],
            "action": "sync",
            "issued_at": now.isoformat(),
            "expires_at": (now + timedelta(hours=1)).isoformat(),
        },
        {
            "id": "cmd-3",
            "boards": ["*"],
            "action": "restart",
            "issued_at": now.isoformat(),
            "expires_at": (now + timedelta(seconds=1)).isoformat(),
        },
    ]
    district.publish(commands=commands)
    config = board_config(district, server)
    run_sync(config)
    board = load_config(config)
    store, _ = open_store(board)
    try:
        assert {c["id"] for c in store.commands()} == {"cmd-1", "cmd-3"}  # not the other board's
        assert store.claim_commands(now + timedelta(minutes=5)) == [("cmd-1", Action.DISPLAY_OFF)]  # cmd-3 expired
        assert store.claim_commands(now + timedelta(minutes=6)) == []  # each id at most once
        outcomes = {c["id"]: c["outcome"] for c in store.commands()}
        assert outcomes == {"cmd-1": "started", "cmd-3": "expired"}
    finally:
        store.close()
    district.publish(commands=commands)  # published again: known ids are never taken twice
    run_sync(config)
    store, _ = open_store(board)
    try:
        assert store.claim_commands(now + timedelta(minutes=7)) == []
    finally:
        store.close()


def test_the_player_obeys_display_commands(tmp_path: Path) -> None:
    from signage.model import Action
    from signage.player import Player
    from signage.render.output import HeadlessOutput
    from tests.test_player import THREE, StepClock, board

    config = load_config(board(tmp_path, THREE, extra='on = "06:00"\noff = "22:00"\n'))
    clock = StepClock(start=datetime(2026, 11, 23, 23, 0, tzinfo=HCM))
    output = HeadlessOutput(config.display)
    player = Player(config, output, clock)
    try:
        player.start()
        player.step()
        assert player.frame._blank
        player.run_commands([("cmd-9", Action.DISPLAY_ON)], clock.now())
        for _ in range(3):  # the slide is composed in the worker, then shown
            clock.t += 0.1
            player.step()
            concurrent.futures.wait(list(player._jobs.values()), timeout=10)
        assert not player.frame._blank and player.slide is not None
    finally:
        player.close()
        output.close()
