"""The hub's per-unit feeds: a real site folder, the hub's routes under a real uvicorn, boards syncing with their own code."""

from __future__ import annotations

import http.client
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from PIL import Image
from starlette.applications import Starlette

from signage.config import load_config
from signage.district.hub.feeds import FeedContents, FeedSite, check_site_name, due_for_republish, feed_routes
from signage.district.publish import read_held_feed
from signage.envelope import FEED_TYPE, generate_key, load_private_key, parse_public_key, verify
from signage.errors import BulletinError, ConfigError, MediaError, SignageError
from signage.feed.http import Fetcher
from signage.feed.manifest import parse_manifest
from signage.feed.sync import SyncResult, feed_playables, open_store, sync
from signage.model import Bulletin, Kind, Media, Priority
from signage.playlist import describe_media
from tests.hubserver import serve

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
WEEK = timedelta(days=7)
PUBLISHER = "Hệ thống thông tin nguồn tỉnh Bình Phước"
UNIT_A, UNIT_B = "tan-quan", "tan-hung"
TODAY = datetime.now(HCM).replace(hour=0, minute=0, second=0, microsecond=0)  # fixed: a bulletin built twice is the same


def text_bulletin(bid: str, revision: int = 1, boards: tuple[str, ...] = ("*",), body: str = "") -> Bulletin:
    return Bulletin(
        id=bid,
        revision=revision,
        kind=Kind.TEXT,
        title=f"Thông báo {bid}",
        body=body or f"Nội dung của bản tin {bid}.",
        valid_from=TODAY - timedelta(days=1),
        valid_until=TODAY + timedelta(days=30),
        boards=boards,
        approved_by="Nguyễn Văn An",
        approved_at=TODAY - timedelta(hours=1),
    )


def image_bulletin(bid: str, picture: Path, revision: int = 1) -> tuple[Bulletin, Path]:
    media = describe_media(picture)
    bulletin = text_bulletin(bid, revision)
    return Bulletin(
        id=bid,
        revision=revision,
        kind=Kind.IMAGE,
        title=f"Ảnh {bid}",
        media=Media(media["sha256"], media["bytes"], media["type"]),
        priority=Priority.HIGH,
        valid_from=bulletin.valid_from,
        valid_until=bulletin.valid_until,
        approved_by=bulletin.approved_by,
        approved_at=bulletin.approved_at,
    ), picture


def picture(path: Path, color: tuple[int, int, int]) -> Path:
    Image.new("RGB", (320, 180), color).save(path)
    return path


@dataclass
class Hub:
    root: Path
    site: FeedSite
    url: str
    folder: Path

    def board(self, board_id: str) -> Path:
        """A board's config following its link on the hub; its state in its own folder."""
        path = self.folder / f"{board_id}.toml"
        path.write_text(
            f'[board]\nid = "{board_id}"\nname = "UBND xã {board_id}"\ndata_dir = "state-{board_id}"\n'
            f'[feed]\nurl = "{self.url}/feeds/boards/{board_id}/feed.json"\npublic_keys = ["{self.site.public_key_text()}"]\n'
            f"publisher = {json.dumps(PUBLISHER, ensure_ascii=False)}\n",
            encoding="utf-8",
        )
        return path


def board_sync(config_path: Path) -> tuple[SyncResult, set[str]]:
    """One pull by the board's own code; the ids of what it would now play."""
    board = load_config(config_path)
    store, files = open_store(board)
    try:
        result = sync(board, store, files, Fetcher(), lambda: datetime.now(HCM), sleep=lambda _: None)
        return result, {playable.bulletin.id for playable in feed_playables(store, files)}
    finally:
        store.close()


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    generate_key(tmp_path / "hub.key")
    return tmp_path / "hub.key"


@pytest.fixture
def hub(tmp_path: Path, key_path: Path) -> Iterator[Hub]:
    site = FeedSite(tmp_path / "site", key_path, PUBLISHER, WEEK)
    with serve(Starlette(routes=feed_routes(site))) as url:
        yield Hub(tmp_path / "site", site, url, tmp_path)


def now() -> datetime:
    return datetime.now(HCM)


# --- publishing and syncing ---------------------------------------------------------------------------


def test_two_units_published_and_each_board_syncs_its_own_from_the_hub(hub: Hub, tmp_path: Path) -> None:
    province_wide = image_bulletin("bao-so-9", picture(tmp_path / "bao.png", (200, 40, 40)))
    hub.site.publish(UNIT_A, FeedContents((province_wide, (text_bulletin("hop-dan-ap-2"), None))), now())
    hub.site.publish(UNIT_B, FeedContents((province_wide, (text_bulletin("tiem-chung"), None))), now())
    hub.site.link_board("ubnd-tan-quan", UNIT_A, now())
    hub.site.link_board("ubnd-tan-hung", UNIT_B, now())

    first, playing_a = board_sync(hub.board("ubnd-tan-quan"))
    assert first.outcome == "accepted" and first.errors == [] and first.downloaded == [province_wide[0].media.sha256]
    assert playing_a == {"bao-so-9", "hop-dan-ap-2"}
    second, playing_b = board_sync(hub.board("ubnd-tan-hung"))
    assert second.outcome == "accepted" and second.errors == [] and playing_b == {"bao-so-9", "tiem-chung"}

    # The province-wide picture is stored once; each unit reaches it through its own relative link.
    assert [path.name for path in (hub.root / "assets").iterdir()] == [province_wide[0].media.sha256]
    assert os.readlink(hub.root / UNIT_A / "assets") == "../assets" and os.readlink(hub.root / UNIT_B / "assets") == "../assets"
    assert os.readlink(hub.root / "boards" / "ubnd-tan-quan") == f"../{UNIT_A}"

    again, _ = board_sync(hub.board("ubnd-tan-quan"))
    assert again.outcome == "unchanged" and not again.downloaded


def test_sequence_grows_per_unit_and_hub_wide_across_a_restart(hub: Hub, key_path: Path) -> None:
    contents = FeedContents(((text_bulletin("hop-dan"), None),))
    sequences = [hub.site.publish(unit, contents, now()).sequence for unit in (UNIT_A, UNIT_A, UNIT_B, UNIT_A)]
    assert sequences == [1, 2, 3, 4]
    restarted = FeedSite(hub.root, key_path, PUBLISHER, WEEK)
    assert restarted.highest_sequence == 4 and restarted.publish(UNIT_B, contents, now()).sequence == 5
    (hub.root / ".sequence").unlink()  # a lost counter: the units' own feeds still tell the highest
    assert FeedSite(hub.root, key_path, PUBLISHER, WEEK).publish(UNIT_A, contents, now()).sequence == 6
    key = load_private_key(key_path)
    assert read_held_feed(hub.root / UNIT_A / "feed.json", key, "hub.key").sequence == 6


def test_a_removed_units_folder_cannot_lower_the_sequence(hub: Hub, key_path: Path) -> None:
    contents = FeedContents(((text_bulletin("hop-dan"), None),))
    hub.site.publish(UNIT_A, contents, now())
    hub.site.publish(UNIT_B, contents, now())
    (hub.root / UNIT_B / "feed.json").unlink()
    assert FeedSite(hub.root, key_path, PUBLISHER, WEEK).publish(UNIT_A, contents, now()).sequence == 3


def test_board_moved_to_another_unit_syncs_that_units_feed_at_a_higher_sequence(hub: Hub) -> None:
    hub.site.publish(UNIT_B, FeedContents(((text_bulletin("tiem-chung"), None),)), now())  # B: sequence 1
    hub.site.publish(UNIT_A, FeedContents(((text_bulletin("hop-dan-ap-2"), None),)), now())  # A: sequence 2
    hub.site.link_board("ubnd-tan-quan", UNIT_A, now())
    config = hub.board("ubnd-tan-quan")
    held, playing = board_sync(config)
    assert held.sequence == 2 and playing == {"hop-dan-ap-2"}

    # B's feed (sequence 1) is older than what the board holds: the move signs it again above the site's newest.
    hub.site.link_board("ubnd-tan-quan", UNIT_B, now())
    moved, playing = board_sync(config)
    assert moved.outcome == "accepted" and moved.sequence == 3 and playing == {"tiem-chung"}
    assert moved.removed == ["hop-dan-ap-2"] and moved.added == ["tiem-chung"]

    # Back to A after B was published again: A is signed again too; linking where it already is does nothing.
    hub.site.publish(UNIT_B, FeedContents(((text_bulletin("tiem-chung", revision=2, body="Đổi giờ."), None),)), now())
    hub.site.link_board("ubnd-tan-quan", UNIT_A, now())
    back, playing = board_sync(config)
    assert back.outcome == "accepted" and back.sequence == 5 and playing == {"hop-dan-ap-2"}
    hub.site.link_board("ubnd-tan-quan", UNIT_A, now())
    assert hub.site.highest_sequence == 5


def test_unlinked_board_finds_nothing_and_keeps_what_it_holds(hub: Hub) -> None:
    hub.site.publish(UNIT_A, FeedContents(((text_bulletin("hop-dan"), None),)), now())
    hub.site.link_board("ubnd-tan-quan", UNIT_A, now())
    config = hub.board("ubnd-tan-quan")
    assert board_sync(config)[1] == {"hop-dan"}
    hub.site.unlink_board("ubnd-tan-quan")
    assert hub.site.linked_unit("ubnd-tan-quan") is None
    result, playing = board_sync(config)
    assert result.outcome == "unreachable" and "404" in result.errors[0] and playing == {"hop-dan"}


def test_a_board_linked_before_its_units_first_feed_gets_it_once_published(hub: Hub) -> None:
    hub.site.publish(UNIT_A, FeedContents(((text_bulletin("hop-dan"), None),)), now())
    hub.site.link_board("ubnd-tan-hung", UNIT_B, now())
    config = hub.board("ubnd-tan-hung")
    assert board_sync(config)[0].outcome == "unreachable"
    hub.site.publish(UNIT_B, FeedContents(((text_bulletin("tiem-chung"), None),)), now())
    result, playing = board_sync(config)
    assert result.outcome == "accepted" and result.sequence == 2 and playing == {"tiem-chung"}


def test_commands_reach_the_board_through_its_units_feed(hub: Hub) -> None:
    issued = now()
    command = {
        "id": "cmd-screenshot-1",
        "boards": ["ubnd-tan-quan"],
        "action": "screenshot",
        "issued_at": issued.isoformat(),
        "expires_at": (issued + timedelta(hours=1)).isoformat(),
    }
    published = hub.site.publish(UNIT_A, FeedContents(((text_bulletin("hop-dan"), None),), (command,)), now())
    assert published.commands == ("cmd-screenshot-1",)
    hub.site.link_board("ubnd-tan-quan", UNIT_A, now())
    config = hub.board("ubnd-tan-quan")
    assert board_sync(config)[0].outcome == "accepted"
    board = load_config(config)
    store, _ = open_store(board)
    try:
        assert [action.value for _, action in store.claim_commands(now())] == ["screenshot"]
    finally:
        store.close()


def test_two_publications_at_once_never_share_a_sequence(hub: Hub, tmp_path: Path, key_path: Path) -> None:
    image = image_bulletin("anh", picture(tmp_path / "anh.png", (10, 120, 60)))
    sequences: list[int] = []
    failures: list[BaseException] = []

    def publisher(unit: str) -> None:
        for step in range(8):
            contents = FeedContents((image, (text_bulletin("hop-dan", revision=step + 1, body=f"Lần {step}."), None)))
            try:
                sequences.append(hub.site.publish(unit, contents, now()).sequence)
            except BaseException as exc:  # told by the assertions below
                failures.append(exc)

    threads = [threading.Thread(target=publisher, args=(unit,)) for unit in (UNIT_A, UNIT_A, UNIT_B)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Two writers of one unit race on revisions (the Desk gives each its own); whatever was refused was refused whole.
    assert all(isinstance(failure, BulletinError) for failure in failures)
    assert len(sequences) == len(set(sequences)) and len(sequences) + len(failures) == 24
    assert len(sequences) >= 16 and hub.site.highest_sequence >= max(sequences)
    key = load_private_key(key_path)
    for unit in (UNIT_A, UNIT_B):
        assert read_held_feed(hub.root / unit / "feed.json", key, "hub.key").sequence in sequences


def test_a_crash_between_assets_and_feed_leaves_the_old_feed(hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.site.publish(UNIT_A, FeedContents(((text_bulletin("hop-dan"), None),)), now())
    hub.site.link_board("ubnd-tan-quan", UNIT_A, now())
    config = hub.board("ubnd-tan-quan")
    assert board_sync(config)[0].sequence == 1
    before = (hub.root / UNIT_A / "feed.json").read_bytes()

    real_replace = os.replace
    crashed: list[str] = []

    def power_cut_at_the_feed(source: str | Path, target: str | Path) -> None:
        if Path(target).name == "feed.json" and not crashed:
            crashed.append(str(target))
            raise OSError(5, "Input/output error")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", power_cut_at_the_feed)
    image = image_bulletin("bao", picture(tmp_path / "bao.png", (200, 40, 40)))
    with pytest.raises(OSError):
        hub.site.publish(UNIT_A, FeedContents((image, (text_bulletin("hop-dan"), None))), now())
    assert crashed and (hub.root / UNIT_A / "feed.json").read_bytes() == before
    assert (hub.root / "assets" / image[0].media.sha256).exists()  # the asset landed first, harmlessly
    assert not [path for path in (hub.root / UNIT_A).iterdir() if path.name.endswith(".tmp")]
    result, playing = board_sync(config)
    assert result.outcome == "unchanged" and playing == {"hop-dan"}

    published = hub.site.publish(UNIT_A, FeedContents((image, (text_bulletin("hop-dan"), None))), now())
    assert published.sequence == 3  # the counter moved before the cut: a number skipped, never one reused
    result, playing = board_sync(config)
    assert result.outcome == "accepted" and playing == {"hop-dan", "bao"}


def test_published_bulletins_keep_their_revisions_honest(hub: Hub) -> None:
    hub.site.publish(UNIT_A, FeedContents(((text_bulletin("hop-dan", revision=3), None),)), now())
    with pytest.raises(BulletinError, match=r"bulletin 'hop-dan': revision: 2 is lower than the 3 already published"):
        hub.site.publish(UNIT_A, FeedContents(((text_bulletin("hop-dan", revision=2), None),)), now())
    with pytest.raises(BulletinError, match=r"bulletin 'hop-dan': revision: the content changed but the revision is still 3"):
        hub.site.publish(UNIT_A, FeedContents(((text_bulletin("hop-dan", revision=3, body="Khác."), None),)), now())
    # Whom it is for may change under one revision (boards move); what it shows may not.
    assert hub.site.publish(UNIT_A, FeedContents(((text_bulletin("hop-dan", revision=3, boards=("ubnd-tan-quan",)), None),)), now())


def test_a_medium_neither_given_nor_stored_is_refused_before_the_feed(hub: Hub, tmp_path: Path) -> None:
    bulletin, _ = image_bulletin("bao", picture(tmp_path / "bao.png", (200, 40, 40)))
    with pytest.raises(MediaError, match=r"bulletin 'bao': media: .*is missing and no file was given"):
        hub.site.publish(UNIT_A, FeedContents(((bulletin, None),)), now())
    assert not (hub.root / UNIT_A / "feed.json").exists()


def test_unit_and_board_ids_are_single_safe_names(hub: Hub) -> None:
    contents = FeedContents(((text_bulletin("hop-dan"), None),))
    for bad in ("../etc", "a/b", "..", "", "assets", "boards", "Tan-Quan", "x" * 65):
        with pytest.raises(SignageError, match="expected 1 to 64 of a-z"):
            hub.site.publish(bad, contents, now())
        with pytest.raises(SignageError):
            hub.site.link_board(bad, UNIT_A, now())
        with pytest.raises(SignageError):
            hub.site.link_board("ubnd-tan-quan", bad, now())
    assert check_site_name("unit", "xa-tan-quan") == "xa-tan-quan"
    assert sorted(path.name for path in hub.root.iterdir()) == ["assets", "boards"]


def test_due_for_republish() -> None:
    at = datetime(2026, 11, 23, 9, 5, tzinfo=HCM)
    assert due_for_republish(None, at, WEEK)
    assert not due_for_republish(at, at, WEEK)
    assert not due_for_republish(at, at + timedelta(days=3, hours=11), WEEK)
    assert due_for_republish(at, at + timedelta(days=3, hours=12), WEEK)
    assert due_for_republish(at, at + timedelta(days=30), WEEK)
    assert due_for_republish(at + timedelta(hours=2), at, WEEK)  # published by a clock that ran ahead


# --- serving --------------------------------------------------------------------------------------------


def test_feed_routes_answer_with_the_right_types_caching_and_304(hub: Hub, tmp_path: Path) -> None:
    image = image_bulletin("bao", picture(tmp_path / "bao.png", (200, 40, 40)))
    hub.site.publish(UNIT_A, FeedContents((image,)), now())
    hub.site.link_board("ubnd-tan-quan", UNIT_A, now())
    sha = image[0].media.sha256

    for path in (f"/feeds/{UNIT_A}/feed.json", "/feeds/boards/ubnd-tan-quan/feed.json"):
        answer = requests.get(hub.url + path, timeout=10)
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
        assert answer.headers["cache-control"] == "no-cache" and answer.content == (hub.root / UNIT_A / "feed.json").read_bytes()
        envelope = verify(answer.content, FEED_TYPE, [parse_public_key(hub.site.public_key_text())], 1, path)
        assert parse_manifest(envelope.payload, path).publisher == PUBLISHER
        again = requests.get(hub.url + path, headers={"If-None-Match": answer.headers["etag"]}, timeout=10)
        assert again.status_code == 304 and again.content == b""

    for path in (f"/feeds/{UNIT_A}/assets/{sha}", f"/feeds/boards/ubnd-tan-quan/assets/{sha}"):
        answer = requests.get(hub.url + path, timeout=10)
        assert answer.status_code == 200 and answer.content == (tmp_path / "bao.png").read_bytes()
        assert answer.headers["content-type"] == "application/octet-stream"
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        resumed = requests.get(hub.url + path, headers={"Range": "bytes=100-"}, timeout=10)
        assert resumed.status_code == 206 and resumed.content == (tmp_path / "bao.png").read_bytes()[100:]

    key = requests.get(hub.url + "/feeds/key.pub", timeout=10)
    assert key.status_code == 200 and key.text.strip() == hub.site.public_key_text()
    assert parse_public_key(key.text) == parse_public_key(hub.site.public_key_text())

    for path in ("/feeds/", "/feeds/.sequence", f"/feeds/assets/{sha}", f"/feeds/{UNIT_A}", f"/feeds/{UNIT_A}/assets/",
                 f"/feeds/{UNIT_A}/assets/{sha.upper()}", "/feeds/boards/ubnd-tan-quan", f"/feeds/{UNIT_B}/feed.json",
                 "/feeds/boards/nobody/feed.json", f"/feeds/{UNIT_A}/feed.json.tmp"):  # fmt: skip
        answer = requests.get(hub.url + path, timeout=10)
        assert answer.status_code == 404, path
        assert answer.text == "Không có tệp này trong nguồn tin."


def raw_get(url: str, path: str) -> tuple[int, bytes]:
    """A GET with the path sent exactly as written: no client normalising `..` away first."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def test_feed_route_does_not_serve_files_outside_site_via_dotdot(hub: Hub, tmp_path: Path) -> None:
    secret = tmp_path / "hub.key"  # the very key that signs the feeds, beside the site
    (tmp_path / "feed.json").write_text('{"stolen": true}', encoding="utf-8")
    hub.site.publish(UNIT_A, FeedContents(((text_bulletin("hop-dan"), None),)), now())
    tries = [
        "/feeds/../hub.key",
        "/feeds/%2e%2e/hub.key",
        "/feeds/..%2fhub.key",
        f"/feeds/{UNIT_A}/../../hub.key",
        f"/feeds/{UNIT_A}/%2e%2e/%2e%2e/hub.key",
        "/feeds/boards/../../feed.json",
        "/feeds/boards/%2e%2e/feed.json",
        "/feeds/../feed.json",
        f"/feeds/{UNIT_A}/assets/../../../hub.key",
        "/feeds//etc/passwd",
        "/feeds/%2fetc%2fpasswd",
    ]
    for path in tries:
        status, body = raw_get(hub.url, path)
        assert status in (400, 404), path
        assert b"PRIVATE KEY" not in body and b"stolen" not in body and b"root:" not in body, path
    assert secret.exists()


def test_feed_route_does_not_serve_files_outside_site_via_symlink_planted_in_site(hub: Hub, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "feed.json").write_text('{"stolen": true}', encoding="utf-8")
    sha = "a" * 64
    (outside / sha).write_bytes(b"stolen bytes")
    hub.site.publish(UNIT_A, FeedContents(((text_bulletin("hop-dan"), None),)), now())
    # Links someone with write access to the site planted, each leading out of it (or into the site's own folders).
    (hub.root / "xa-la").mkdir()
    (hub.root / "xa-la" / "feed.json").symlink_to(outside / "feed.json")
    (hub.root / "xa-ngoai").symlink_to(outside)
    (hub.root / "boards" / "ubnd-la").symlink_to("../../outside")
    (hub.root / "boards" / "ubnd-vong").symlink_to("../boards")
    (hub.root / "assets" / sha).symlink_to(outside / sha)
    (hub.root / "xa-tai-san").mkdir()
    (hub.root / "xa-tai-san" / "assets").symlink_to(outside)
    (hub.root / "boards" / "ubnd-loop").symlink_to("ubnd-loop")
    (hub.root / "key.pub").write_text("ed25519:planted", encoding="utf-8")
    tries = [
        "/feeds/xa-la/feed.json",
        "/feeds/xa-ngoai/feed.json",
        f"/feeds/xa-ngoai/{sha}",
        "/feeds/boards/ubnd-la/feed.json",
        f"/feeds/boards/ubnd-la/assets/{sha}",
        "/feeds/boards/ubnd-vong/ubnd-la/feed.json",
        f"/feeds/{UNIT_A}/assets/{sha}",
        f"/feeds/xa-tai-san/assets/{sha}",
        "/feeds/boards/ubnd-loop/feed.json",
    ]
    for path in tries:
        status, body = raw_get(hub.url, path)
        assert status == 404, path
        assert b"stolen" not in body, path
    assert raw_get(hub.url, "/feeds/key.pub")[1].decode().strip() == hub.site.public_key_text()
    assert raw_get(hub.url, f"/feeds/{UNIT_A}/feed.json")[0] == 200


def test_a_key_file_others_may_read_is_refused(tmp_path: Path, key_path: Path) -> None:
    key_path.chmod(0o644)
    with pytest.raises(ConfigError, match=r"hub\.key: key file mode 0644 lets others read it; chmod 600"):
        FeedSite(tmp_path / "site", key_path, PUBLISHER, WEEK)
    key_path.chmod(0o640)
    with pytest.raises(ConfigError, match="mode 0640"):
        FeedSite(tmp_path / "site", key_path, PUBLISHER, WEEK)
    with pytest.raises(ConfigError, match="cannot read key"):
        FeedSite(tmp_path / "site", tmp_path / "missing.key", PUBLISHER, WEEK)
    key_path.chmod(0o600)
    assert FeedSite(tmp_path / "site", key_path, PUBLISHER, WEEK).public_key_text().startswith("ed25519:")


def test_a_site_holding_another_keys_feed_is_never_published_over(tmp_path: Path, key_path: Path) -> None:
    other = tmp_path / "other.key"
    generate_key(other)
    FeedSite(tmp_path / "site", other, PUBLISHER, WEEK).publish(UNIT_A, FeedContents(((text_bulletin("gia"), None),)), now())
    site = FeedSite(tmp_path / "site", key_path, PUBLISHER, WEEK)  # starts; that unit's feed is not counted
    with pytest.raises(SignageError, match=r"tan-quan/feed\.json: the existing feed is not one signed by .*hub\.key"):
        site.publish(UNIT_A, FeedContents(((text_bulletin("that"), None),)), now())
    assert (
        site.publish(UNIT_B, FeedContents(((text_bulletin("that"), None),)), now()).sequence == 3
    )  # 1 was the other key's, 2 the refused one's
