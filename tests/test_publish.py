"""District publishing and site verification: real keys, real images, real files, a real HTTP server on port 0."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import socket
import threading
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from signage.district.publish import Published, parse_duration, publish, write_feed
from signage.district.verify import SiteReport, verify_site
from signage.envelope import FEED_TYPE, generate_key, public_key_text, public_raw, verify
from signage.errors import BulletinError, FeedRejected, FetchError, MediaError, SignageError
from signage.feed.manifest import parse_manifest

ICT = timezone(timedelta(hours=7))
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=ICT)
WEEK = timedelta(days=7)
TITLE = "Thông báo lịch tiêm chủng"
BODY = "Trạm Y tế xã tổ chức tiêm chủng mở rộng cho trẻ em dưới 5 tuổi."


def toml_value(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(value)


def write_bulletin(folder: Path, name: str, **fields: Any) -> Path:
    """`<name>.toml` with a valid feed bulletin's fields, overridden by `fields` (None drops one)."""
    data: dict[str, Any] = {
        "kind": "text",
        "title": TITLE,
        "body": BODY,
        "priority": "normal",
        "valid_from": datetime(2026, 11, 23, 0, 0, tzinfo=ICT),
        "valid_until": datetime(2026, 12, 2, 23, 59, 59, tzinfo=ICT),
        "boards": ["*"],
    }
    data.update(fields)
    path = folder / f"{name}.toml"
    path.write_text("".join(f"{key} = {toml_value(value)}\n" for key, value in data.items() if value is not None), encoding="utf-8")
    return path


def write_image(path: Path, color: tuple[int, int, int], image_format: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), color).save(path, format=image_format)
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def payload_of(feed_path: Path) -> bytes:
    return base64.b64decode(json.loads(feed_path.read_bytes())["payload"])


def snapshot(out: Path) -> dict[str, bytes]:
    return {str(path.relative_to(out)): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "district.key"
    path.parent.mkdir()
    generate_key(path)
    return path


@pytest.fixture
def public_key(key_path: Path) -> str:
    from signage.envelope import load_private_key

    return public_key_text(public_raw(load_private_key(key_path)))


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """A clerk's source folder: one text bulletin (Vietnamese written decomposed, as some keyboards do), a JPEG and a PNG."""
    folder = tmp_path / "src"
    folder.mkdir()
    write_bulletin(folder, "tiem-chung", title=unicodedata.normalize("NFD", TITLE), body=unicodedata.normalize("NFD", BODY))
    write_image(folder / "media" / "bao.jpg", (200, 30, 30), "JPEG")
    write_image(folder / "media" / "so-do.png", (30, 30, 200), "PNG")
    write_bulletin(folder, "phong-chong-bao", kind="image", body=None, title="Phòng chống bão số 9", media="media/bao.jpg", priority="high")
    write_bulletin(folder, "so-do", id="so-do", kind="image", body="Sơ đồ sơ tán", title="Sơ đồ", media="media/so-do.png", duration_s=15)
    return folder


def run_publish(src: Path, key_path: Path, out: Path, *, now: datetime = NOW, **options: Any) -> Published:
    return publish(src, key_path, out, publisher="hon-quan", expires_in=WEEK, now=now, **options)


def bulletins_of(out: Path) -> dict[str, dict[str, Any]]:
    return {entry["id"]: entry for entry in json.loads(payload_of(out / "feed.json"))["bulletins"]}


# --- publishing -------------------------------------------------------------------------------------


def test_publish_then_verify_the_folder(src: Path, key_path: Path, public_key: str, tmp_path: Path) -> None:
    out = tmp_path / "site" / "feed"  # created, parents too
    published = run_publish(src, key_path, out)
    assert published == Published(sequence=1, bulletins=3, assets_written=2, feed_path=out / "feed.json")
    # Assets are named by the SHA-256 of their bytes, and nothing else (no temporary file) is left behind.
    jpeg, png = src / "media" / "bao.jpg", src / "media" / "so-do.png"
    assert sorted(p.name for p in (out / "assets").iterdir()) == sorted([sha256_of(jpeg), sha256_of(png)])
    assert (out / "assets" / sha256_of(jpeg)).read_bytes() == jpeg.read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["assets", "feed.json"]
    # The web server runs as another user: the site's files must be world-readable.
    assert (out / "feed.json").stat().st_mode & 0o777 == 0o644
    assert (out / "assets" / sha256_of(png)).stat().st_mode & 0o777 == 0o644

    report = verify_site(str(out), [public_key], now=NOW + timedelta(hours=1))
    assert report.problems == ()
    assert report.ok
    assert (report.sequence, report.publisher, report.bulletins, report.assets_checked) == (1, "hon-quan", 3, 2)
    assert (report.generated_at, report.expires_at) == (NOW, NOW + WEEK)
    text = "\n".join(report.lines())
    assert "sequence 1" in text and "OK" in text and "phong-chong-bao r1 image high: Phòng chống bão số 9" in text
    # The feed.json itself may be named instead of its folder.
    assert verify_site(str(out / "feed.json"), [public_key], now=NOW).problems == ()


def test_payload_is_a_valid_manifest_with_vietnamese_unescaped_and_nfc(src: Path, key_path: Path, public_key: str, tmp_path: Path) -> None:
    out = tmp_path / "site"
    run_publish(src, key_path, out, commands=[])
    raw = (out / "feed.json").read_bytes()
    verified = verify(raw, FEED_TYPE, [base64.b64decode(public_key.removeprefix("ed25519:"))], 1, "feed.json")
    payload = verified.payload
    assert payload == payload_of(out / "feed.json")
    manifest = parse_manifest(payload, "feed.json")
    assert manifest.rejected == ()
    assert [b.id for b in manifest.bulletins] == ["phong-chong-bao", "so-do", "tiem-chung"]  # sorted by id
    assert (manifest.publisher, manifest.sequence, manifest.generated_at, manifest.expires_at) == ("hon-quan", 1, NOW, NOW + WEEK)
    text = next(b for b in manifest.bulletins if b.id == "tiem-chung")
    assert (text.title, text.body) == (TITLE, BODY)  # the decomposed source arrives composed (NFC)
    # Written as UTF-8, unescaped, compact: the bytes hold the composed Vietnamese as is.
    assert TITLE.encode("utf-8") in payload and BODY.encode("utf-8") in payload
    assert b"\\u" not in payload
    assert unicodedata.normalize("NFD", TITLE).encode("utf-8") not in payload
    data = json.loads(payload)
    assert payload == json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert data["generated_at"] == NOW.isoformat() and data["expires_at"] == (NOW + WEEK).isoformat()
    assert data["format"] == "signage-feed/1" and data["commands"] == []
    image = data["bulletins"][0]
    assert image["media"] == {
        "sha256": sha256_of(src / "media" / "bao.jpg"),
        "bytes": (src / "media" / "bao.jpg").stat().st_size,
        "type": "image/jpeg",
    }


def test_sequence_grows_with_each_publication(src: Path, key_path: Path, public_key: str, tmp_path: Path) -> None:
    out = tmp_path / "site"
    assert [run_publish(src, key_path, out, now=NOW + timedelta(hours=h)).sequence for h in range(3)] == [1, 2, 3]
    report = verify_site(str(out), [public_key], now=NOW + timedelta(hours=3))
    assert (report.sequence, report.generated_at) == (3, NOW + timedelta(hours=2))


def test_revision_is_assigned_kept_when_unchanged_and_raised_when_edited(src: Path, key_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    run_publish(src, key_path, out)
    assert {i: b["revision"] for i, b in bulletins_of(out).items()} == {"phong-chong-bao": 1, "so-do": 1, "tiem-chung": 1}

    run_publish(src, key_path, out)  # nothing changed
    assert {i: b["revision"] for i, b in bulletins_of(out).items()} == {"phong-chong-bao": 1, "so-do": 1, "tiem-chung": 1}

    write_bulletin(src, "tiem-chung", body=BODY + " Mang theo sổ tiêm chủng.")  # text edited
    write_image(src / "media" / "bao.jpg", (10, 200, 10), "JPEG")  # same file name, new picture
    write_bulletin(src, "moi", title="Bản tin mới")  # a new id
    run_publish(src, key_path, out)
    revisions = {i: b["revision"] for i, b in bulletins_of(out).items()}
    assert revisions == {"moi": 1, "phong-chong-bao": 2, "so-do": 1, "tiem-chung": 2}

    run_publish(src, key_path, out)  # unchanged again: the raised revisions stay
    assert {i: b["revision"] for i, b in bulletins_of(out).items()} == revisions


def test_revision_given_in_the_source_is_kept_but_may_not_go_backwards(src: Path, key_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    write_bulletin(src, "tiem-chung", revision=5)
    run_publish(src, key_path, out)
    assert bulletins_of(out)["tiem-chung"]["revision"] == 5
    before = snapshot(out)

    write_bulletin(src, "tiem-chung", revision=4)
    with pytest.raises(BulletinError, match=r"tiem-chung\.toml: bulletin 'tiem-chung': revision: 4 is lower than the 5"):
        run_publish(src, key_path, out)
    write_bulletin(src, "tiem-chung", revision=5, body="Nội dung đã sửa")
    with pytest.raises(BulletinError, match=r"tiem-chung\.toml: .*revision: the content changed but the revision is still 5"):
        run_publish(src, key_path, out)
    assert snapshot(out) == before

    write_bulletin(src, "tiem-chung", body="Nội dung đã sửa")  # left out: publish raises it
    run_publish(src, key_path, out)
    assert bulletins_of(out)["tiem-chung"]["revision"] == 6


def html_named_jpg(folder: Path) -> dict[str, Any]:
    (folder / "media" / "portal.jpg").write_text("<!doctype html><html><body>Đăng nhập Wi-Fi</body></html>", encoding="utf-8")
    return {"kind": "image", "media": "media/portal.jpg"}


INVALID: dict[str, tuple[Callable[[Path], dict[str, Any]], tuple[type[Exception], ...], str]] = {
    "bad priority": (
        lambda folder: {"priority": "urgent"},
        (BulletinError,),
        r"bad\.toml: bulletin 'bad': priority: unknown priority 'urgent'",
    ),
    "missing valid_until": (lambda folder: {"valid_until": None}, (BulletinError,), r"bad\.toml: bulletin 'bad': valid_until: missing"),
    "unknown key": (lambda folder: {"colour": "đỏ"}, (BulletinError,), r"bad\.toml: bulletin 'bad': colour: unknown key"),
    "id differs from the file name": (
        lambda folder: {"id": "other"},
        (BulletinError,),
        r"bad\.toml: id: 'other' differs from the file name",
    ),
    "media file missing": (
        lambda folder: {"kind": "image", "media": "media/none.jpg"},
        (MediaError,),
        r"bad\.toml: bulletin 'bad': media: .*none\.jpg: media file not found",
    ),
    "html named .jpg": (html_named_jpg, (MediaError,), r"bad\.toml: bulletin 'bad': media: .*portal\.jpg: not a supported media file"),
    "media kind mismatch": (
        lambda folder: {"kind": "video", "media": "media/bao.jpg"},
        (BulletinError,),
        r"bad\.toml: bulletin 'bad': media\.type: image/jpeg does not fit kind 'video'",
    ),
    "naive date-time": (
        lambda folder: {"valid_from": datetime(2026, 11, 23, 0, 0)},
        (BulletinError,),
        r"bad\.toml: bulletin 'bad': valid_from: date-time without a UTC offset",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_one_invalid_bulletin_refuses_the_whole_publication(case: str, src: Path, key_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    run_publish(src, key_path, out)
    before = snapshot(out)
    # A good new bulletin with new media comes in the same run: its asset must not be written either.
    write_image(src / "media" / "moi.png", (250, 250, 0), "PNG")
    write_bulletin(src, "moi", kind="image", media="media/moi.png")
    write_bulletin(src, "tiem-chung", body="Nội dung mới")
    make_fields, errors, message = INVALID[case]
    write_bulletin(src, "bad", **make_fields(src))

    with pytest.raises(errors, match=message) as refused:
        run_publish(src, key_path, out)
    assert "\n" not in str(refused.value)
    assert snapshot(out) == before  # feed.json byte for byte, and no new asset
    assert not (out / "assets" / sha256_of(src / "media" / "moi.png")).exists()

    # On a site not yet published, not even the folder is created.
    fresh = tmp_path / "fresh"
    with pytest.raises(errors, match=message):
        run_publish(src, key_path, fresh)
    assert not fresh.exists()


def test_unreadable_toml_names_the_file(src: Path, key_path: Path, tmp_path: Path) -> None:
    (src / "hong.toml").write_text('title = "Thiếu dấu ngoặc\n', encoding="utf-8")
    with pytest.raises(BulletinError, match=r"hong\.toml: cannot read bulletin"):
        run_publish(src, key_path, tmp_path / "site")


def test_existing_feed_signed_by_another_key_is_refused(src: Path, key_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    run_publish(src, key_path, out)
    before = snapshot(out)
    other_key = tmp_path / "keys" / "other.key"
    generate_key(other_key)
    with pytest.raises(FeedRejected, match=r"feed\.json: the existing feed is not one signed by .*other\.key; refusing to publish over it"):
        run_publish(src, other_key, out)
    assert snapshot(out) == before


def test_existing_feed_that_is_not_an_envelope_is_refused(src: Path, key_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    out.mkdir()
    (out / "feed.json").write_text("<html>captive portal</html>")
    with pytest.raises(FeedRejected, match=r"not one signed by .*not valid JSON"):
        run_publish(src, key_path, out)


def test_assets_are_content_addressed_and_not_rewritten(src: Path, key_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    # A second bulletin naming the same picture shares its asset.
    write_bulletin(src, "bao-2", kind="image", body=None, media="media/bao.jpg")
    assert run_publish(src, key_path, out).assets_written == 2
    asset = out / "assets" / sha256_of(src / "media" / "bao.jpg")
    identity = (asset.stat().st_ino, asset.stat().st_mtime_ns)

    assert run_publish(src, key_path, out).assets_written == 0
    assert (asset.stat().st_ino, asset.stat().st_mtime_ns) == identity

    # One left half-copied (a different size) by some other tool is written anew.
    good = asset.read_bytes()
    asset.write_bytes(good[:100])
    assert run_publish(src, key_path, out).assets_written == 1
    assert asset.read_bytes() == good


def test_commands_pass_through_and_are_validated(src: Path, key_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    command = {
        "id": "cmd-77",
        "boards": ["tan-quan"],
        "action": "screenshot",
        "issued_at": "2026-11-23T09:00:00+07:00",
        "expires_at": "2026-11-23T10:00:00+07:00",
    }
    run_publish(src, key_path, out, commands=[command])
    assert json.loads(payload_of(out / "feed.json"))["commands"] == [command]
    before = snapshot(out)
    with pytest.raises(BulletinError, match=r"commands\[1\]: command: action: unknown action 'explode'"):
        run_publish(src, key_path, out, commands=[command, {**command, "id": "cmd-78", "action": "explode"}])
    with pytest.raises(BulletinError, match=r"commands\[1\]: command: id: 'cmd-77' used twice"):
        run_publish(src, key_path, out, commands=[command, command])
    assert snapshot(out) == before


def test_publish_needs_an_aware_now_and_a_readable_key(src: Path, key_path: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="aware"):
        run_publish(src, key_path, tmp_path / "site", now=datetime(2026, 11, 23, 7, 0))
    with pytest.raises(SignageError, match=r"nokey: cannot read key"):
        run_publish(src, tmp_path / "nokey", tmp_path / "site")
    assert not (tmp_path / "site").exists()


def test_write_feed_publishes_built_bulletins_without_toml(src: Path, key_path: Path, public_key: str, tmp_path: Path) -> None:
    from signage.envelope import load_private_key
    from signage.model import Bulletin, Kind, Media

    key = load_private_key(key_path)
    photo = src / "media" / "bao.jpg"
    media = Media(sha256_of(photo), photo.stat().st_size, "image/jpeg")
    text = Bulletin(id="hop-dan", revision=4, kind=Kind.TEXT, title=TITLE, body=BODY, approved_by="Trần Thị Bình", approved_at=NOW)
    image = Bulletin(id="bao", revision=1, kind=Kind.IMAGE, title="Bão", media=media, boards=("tan-quan",))
    out, shared = tmp_path / "site" / "tan-quan", tmp_path / "site" / "assets"
    # The same self-check as a board's: a bulletin it would refuse refuses the publication, nothing written.
    with pytest.raises(BulletinError, match=r"tan-quan/feed\.json: bulletin 'hop-dan': valid_from: missing"):
        write_feed(out, key, [(text, None)], [], publisher="hon-quan", expires_in=WEEK, now=NOW, assets_dir=shared)
    assert not out.exists()
    text = replace(text, valid_from=NOW, valid_until=NOW + WEEK)
    image = replace(image, valid_from=NOW, valid_until=NOW + WEEK)
    first = write_feed(out, key, [(text, None), (image, photo)], [], publisher="hon-quan", expires_in=WEEK, now=NOW, assets_dir=shared)
    assert (first.sequence, first.bulletins, first.assets_written) == (1, 2, 1) and not (out / "assets").exists()
    (out / "assets").symlink_to("../assets")
    assert verify_site(str(out), [public_key], now=NOW).problems == ()
    entries = bulletins_of(out)
    assert entries["hop-dan"]["revision"] == 4 and entries["hop-dan"]["approved_by"] == "Trần Thị Bình"
    assert entries["bao"]["boards"] == ["tan-quan"] and entries["bao"]["media"]["sha256"] == media.sha256

    # The medium already stored needs no file; the sequence may be made to jump, never to go back.
    again = write_feed(out, key, [(image, None)], [], publisher="hon-quan", expires_in=WEEK, now=NOW, assets_dir=shared, min_sequence=40)
    assert (again.sequence, again.assets_written) == (40, 0)
    assert write_feed(out, key, [], [], publisher="hon-quan", expires_in=WEEK, now=NOW, assets_dir=shared, min_sequence=2).sequence == 41
    with pytest.raises(BulletinError, match=r"bulletin 'bao': id used twice"):
        write_feed(out, key, [(image, None), (image, None)], [], publisher="hon-quan", expires_in=WEEK, now=NOW, assets_dir=shared)
    other = generate_key(tmp_path / "other.key")
    with pytest.raises(FeedRejected, match=r"feed\.json: the existing feed is not one signed by the other key"):
        write_feed(out, other, [], [], publisher="hon-quan", expires_in=WEEK, now=NOW, key_name="the other key")
    assert json.loads(payload_of(out / "feed.json"))["sequence"] == 41


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", timedelta(days=7)),
        ("36h", timedelta(hours=36)),
        ("90m", timedelta(minutes=90)),
        ("1d12h", timedelta(hours=36)),
        (" 2D ", timedelta(days=2)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7", "d", "7x", "-1d", "0d", "7 d", "P7D", "1.5h", "7dd"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


# --- verifying --------------------------------------------------------------------------------------


@pytest.fixture
def site(src: Path, key_path: Path, tmp_path: Path) -> Path:
    out = tmp_path / "site"
    run_publish(src, key_path, out)
    return out


def asset_of(site: Path, src: Path, name: str) -> Path:
    return site / "assets" / sha256_of(src / "media" / name)


def test_verify_finds_a_deleted_asset(site: Path, src: Path, public_key: str) -> None:
    asset = asset_of(site, src, "bao.jpg")
    asset.unlink()
    report = verify_site(str(site), [public_key], now=NOW)
    assert report.problems == (f"{asset}: missing (bulletin phong-chong-bao)",)
    assert report.assets_checked == 2 and not report.ok
    assert "1 problem(s):" in report.lines()


def test_verify_finds_a_corrupted_asset(site: Path, src: Path, public_key: str) -> None:
    asset = asset_of(site, src, "so-do.png")
    data = bytearray(asset.read_bytes())
    data[-20] ^= 0xFF  # same size, one byte flipped
    asset.write_bytes(bytes(data))
    (problem,) = verify_site(str(site), [public_key], now=NOW).problems
    assert problem.startswith(f"{asset}: SHA-256 is ") and problem.endswith("(bulletin so-do)")

    asset.write_bytes(bytes(data[:50]))
    (problem,) = verify_site(str(site), [public_key], now=NOW).problems
    assert problem == f"{asset}: 50 bytes, the manifest declares {len(data)} (bulletin so-do)"

    asset.write_bytes(bytes(data) + b"tail")
    (problem,) = verify_site(str(site), [public_key], now=NOW).problems
    assert problem == f"{asset}: longer than the {len(data)} bytes the manifest declares (bulletin so-do)"


def test_verify_notes_an_expired_feed(site: Path, public_key: str) -> None:
    report = verify_site(str(site), [public_key], now=NOW + WEEK)
    assert report.problems == (f"{site / 'feed.json'}: expired since {(NOW + WEEK).isoformat()}; boards play on but report the feed stale",)
    assert verify_site(str(site), [public_key], now=NOW + WEEK - timedelta(seconds=1)).problems == ()


def test_verify_notes_a_feed_from_the_future(site: Path, public_key: str) -> None:
    (problem,) = verify_site(str(site), [public_key], now=NOW - timedelta(hours=1)).problems
    assert "is ahead of now" in problem and "publisher's clock" in problem


def test_verify_refuses_a_wrong_key_a_tampered_feed_and_bad_arguments(site: Path, public_key: str) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stranger = public_key_text(public_raw(Ed25519PrivateKey.generate()))
    with pytest.raises(FeedRejected, match=r"feed\.json: signature check failed: no pinned key signed"):
        verify_site(str(site), [stranger], now=NOW)
    # Pinned alongside the right key (a rotation), the stranger changes nothing; a threshold of 2 is not met.
    assert verify_site(str(site), [stranger, public_key], now=NOW).ok
    with pytest.raises(FeedRejected, match="1 distinct pinned key"):
        verify_site(str(site), [stranger, public_key], threshold=2, now=NOW)
    with pytest.raises(SignageError, match="threshold 0"):
        verify_site(str(site), [public_key], threshold=0, now=NOW)
    with pytest.raises(SignageError, match="public key 'ed25519:nope'"):
        verify_site(str(site), ["ed25519:nope"], now=NOW)

    envelope = json.loads((site / "feed.json").read_bytes())
    manifest = json.loads(base64.b64decode(envelope["payload"]))
    manifest["sequence"] = 999
    envelope["payload"] = base64.b64encode(json.dumps(manifest).encode()).decode()
    (site / "feed.json").write_text(json.dumps(envelope))
    with pytest.raises(FeedRejected, match="signature check failed"):
        verify_site(str(site), [public_key], now=NOW)
    (site / "feed.json").unlink()
    with pytest.raises(FeedRejected, match="cannot read the feed"):
        verify_site(str(site), [public_key], now=NOW)


def test_verify_refuses_a_signed_manifest_missing_a_field(tmp_path: Path, key_path: Path, public_key: str) -> None:
    from signage.envelope import load_private_key, sign

    payload = json.dumps({"format": "signage-feed/1", "publisher": "hon-quan", "generated_at": NOW.isoformat()}).encode()
    (tmp_path / "feed.json").write_bytes(sign(payload, FEED_TYPE, [load_private_key(key_path)]))
    with pytest.raises(FeedRejected, match="manifest: sequence: missing"):
        verify_site(str(tmp_path), [public_key], now=NOW)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Callable[[Path], str]]:
    """Serve a folder over real HTTP on 127.0.0.1 and a free port; returns the folder's URL."""
    running: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start(folder: Path) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_verify_over_real_http(site: Path, src: Path, public_key: str, serve: Callable[[Path], str]) -> None:
    base = serve(site.parent)  # the site is a sub-folder of what the host serves
    url = base + "site"
    report = verify_site(url, [public_key], now=NOW)
    assert (report.problems, report.sequence, report.bulletins, report.assets_checked) == ((), 1, 3, 2)
    assert report.feed_location == base + "site/feed.json"
    assert verify_site(base + "site/", [public_key], now=NOW).ok
    assert verify_site(base + "site/feed.json", [public_key], now=NOW).ok

    sha = sha256_of(src / "media" / "bao.jpg")
    (site / "assets" / sha).unlink()
    assert verify_site(url, [public_key], now=NOW).problems == (f"{base}site/assets/{sha}: missing (bulletin phong-chong-bao)",)

    with pytest.raises(FetchError, match=r"/nowhere/feed\.json: HTTP 404"):
        verify_site(base + "nowhere/", [public_key], now=NOW)
    portal = site.parent / "portal"  # a captive portal answering 200 with its login page
    portal.mkdir()
    (portal / "feed.json").write_text("<html>Đăng nhập Wi-Fi</html>", encoding="utf-8")
    with pytest.raises(FeedRejected, match=r"portal/feed\.json: not valid JSON"):
        verify_site(base + "portal", [public_key], now=NOW)


def test_verify_over_http_with_nothing_listening(public_key: str) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago, with nobody listening on it now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError, match=rf"^http://127\.0\.0\.1:{port}/feed\.json: .*[Cc]onnection"):
        verify_site(f"http://127.0.0.1:{port}/", [public_key], now=NOW)


def test_verify_uses_the_given_fetch(site: Path, public_key: str) -> None:
    requested: list[str] = []

    def fetch(url: str) -> bytes:  # a small real fake: the site's files under a made-up host
        requested.append(url)
        path = site / url.removeprefix("https://district.example/feed/")
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise FetchError(f"{url}: HTTP 404") from None

    report = verify_site("https://district.example/feed", [public_key], now=NOW, fetch=fetch)
    assert isinstance(report, SiteReport) and report.ok
    assert requested[0] == "https://district.example/feed/feed.json"
    assert sorted(requested[1:]) == sorted(f"https://district.example/feed/assets/{p.name}" for p in (site / "assets").iterdir())

    victim = next((site / "assets").iterdir())
    victim.unlink()
    (problem,) = verify_site("https://district.example/feed/feed.json", [public_key], now=NOW, fetch=fetch).problems
    assert problem.startswith(f"https://district.example/feed/assets/{victim.name}: cannot read: ") and "HTTP 404" in problem


def test_a_host_never_serves_a_half_written_feed_or_a_missing_asset(
    src: Path, key_path: Path, public_key: str, tmp_path: Path, serve: Callable[[Path], str]
) -> None:
    out = tmp_path / "site"
    run_publish(src, key_path, out)
    url = serve(out)
    seen: list[int] = []
    failures: list[str] = []
    done = threading.Event()

    def board() -> None:  # reads the site over HTTP as fast as it can while the district republishes
        while not done.is_set():
            try:
                report = verify_site(url, [public_key], now=NOW)
            except SignageError as exc:
                failures.append(str(exc))
                continue
            seen.append(report.sequence)
            failures.extend(report.problems)

    reader = threading.Thread(target=board)
    reader.start()
    try:
        for step in range(1, 21):
            write_image(src / "media" / "bao.jpg", (step * 12, 40, 40), "JPEG")  # new media every time
            write_bulletin(src, "tiem-chung", body=f"{BODY} Lần {step}.")
            run_publish(src, key_path, out)
    finally:
        done.set()
        reader.join(timeout=30)
    assert failures == []
    assert seen and seen == sorted(seen)  # never a step backwards
    assert verify_site(url, [public_key], now=NOW).sequence == 21


def test_publish_issues_commands_and_carries_them_until_they_expire(src: Path, key_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    first = run_publish(src, key_path, out, new_commands=[("screenshot", ["tan-quan"], timedelta(hours=1))])
    issued = {
        "id": "cmd-1-1",
        "boards": ["tan-quan"],
        "action": "screenshot",
        "issued_at": NOW.isoformat(),
        "expires_at": (NOW + timedelta(hours=1)).isoformat(),
    }
    assert first.commands == ("cmd-1-1",) and json.loads(payload_of(out / "feed.json"))["commands"] == [issued]
    later = run_publish(src, key_path, out, now=NOW + timedelta(minutes=30), new_commands=[("sync", ["*"], timedelta(minutes=10))])
    commands = json.loads(payload_of(out / "feed.json"))["commands"]
    assert later.commands == ("cmd-1-1", "cmd-2-1") and commands[0] == issued and commands[1]["boards"] == ["*"]
    assert run_publish(src, key_path, out, now=NOW + timedelta(hours=2)).commands == ()  # both expired: gone


def test_publish_command_line_adds_a_command(src: Path, key_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from signage.cli import main

    out = tmp_path / "site"
    args = ["publish", str(src), "--key", str(key_path), "--out", str(out), "--command", "screenshot", "--boards", "tan-quan,tan-hung"]
    assert main([*args, "--command-expires-in", "15m"]) == 0
    assert "lệnh cmd-1-1" in capsys.readouterr().out
    (command,) = json.loads(payload_of(out / "feed.json"))["commands"]
    assert command["boards"] == ["tan-quan", "tan-hung"] and command["action"] == "screenshot"
    lasts = datetime.fromisoformat(command["expires_at"]) - datetime.fromisoformat(command["issued_at"])
    assert lasts == timedelta(minutes=15)
    with pytest.raises(SystemExit) as exit_info:
        main([*args[:-4], "--command", "explode"])
    assert exit_info.value.code == 2


def test_publish_command_line_tells_a_bad_bulletin_in_vietnamese_naming_its_file(
    src: Path, key_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from signage.cli import main

    bad = src / "hop-dan.toml"
    bad.write_text(
        'title = ""\nkind = "text"\nbody = "x"\nvalid_from = 2026-11-23T00:00:00+07:00\nvalid_until = 2026-11-30T00:00:00+07:00\n',
        encoding="utf-8",
    )
    assert main(["publish", str(src), "--key", str(key_path), "--out", str(tmp_path / "site")]) == 1
    said = capsys.readouterr().err.strip().splitlines()
    assert len(said) == 1 and str(bad) in said[0] and "không xuất bản được" in said[0] and "Tiêu đề" in said[0], said
