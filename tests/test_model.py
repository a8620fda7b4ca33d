"""The bulletin model: feed-v1 fields parsed exactly, each bad field named."""

from __future__ import annotations

import copy
from datetime import UTC, time, timedelta

import pytest

from signage.errors import BulletinError
from signage.model import BulletinInput, Kind, Priority, Source, parse_bulletin, parse_command
from signage.text import clean_text

FEED_EXAMPLE = {
    "id": "hq-2026-0142",
    "revision": 3,
    "kind": "image",
    "title": "Thông báo lịch tiêm chủng",
    "body": "Trạm Y tế xã tổ chức tiêm chủng mở rộng …",
    "media": {"sha256": "9f2c" + "0" * 60, "bytes": 482113, "type": "image/jpeg"},
    "duration_s": 20,
    "priority": "normal",
    "valid_from": "2026-11-23T00:00:00+07:00",
    "valid_until": "2026-12-02T23:59:59+07:00",
    "slots": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "06:00", "until": "21:00"}],
    "boards": ["tan-quan", "tan-hung"],
    "approved_by": "Phòng Văn hóa – Thông tin",
    "approved_at": "2026-11-22T16:30:00+07:00",
}
FEED = BulletinInput(origin="https://district.example/feed.json")


def test_parses_the_feed_example_exactly() -> None:
    b = parse_bulletin(FEED_EXAMPLE, FEED)
    assert (b.id, b.revision, b.kind, b.priority) == ("hq-2026-0142", 3, Kind.IMAGE, Priority.NORMAL)
    assert b.media is not None and b.media.bytes == 482113 and b.media.kind is Kind.IMAGE
    assert b.valid_from is not None and b.valid_from.utcoffset() == timedelta(hours=7)
    assert b.slots[0].days == frozenset({0, 1, 2, 3, 4})
    assert (b.slots[0].start, b.slots[0].end) == (time(6), time(21))
    assert b.targets("tan-hung") and not b.targets("tan-khai")
    assert b.duration_s == 20.0 and b.source is Source.FEED


def test_unknown_fields_are_ignored_in_a_feed_but_refused_in_a_playlist() -> None:
    data = {**FEED_EXAMPLE, "colour": "red"}
    assert parse_bulletin(data, FEED).id == "hq-2026-0142"
    with pytest.raises(BulletinError, match=r"local\.toml: bulletin 'hq-2026-0142': colour: unknown key"):
        parse_bulletin(data, BulletinInput("local.toml", Source.PLAYLIST, strict=True))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "../../etc/passwd"}, r"id: '../../etc/passwd' is not a bulletin id"),
        ({"id": "Hoa-Ky"}, r"id: 'Hoa-Ky' is not a bulletin id"),
        ({"kind": "sound"}, r"kind: unknown kind 'sound'"),
        ({"revision": "3"}, r"revision: expected an integer, got str"),
        ({"revision": True}, r"revision: expected an integer, got a boolean"),
        ({"priority": "urgent"}, r"priority: unknown priority 'urgent'"),
        ({"valid_until": "2026-11-22T00:00:00+07:00"}, r"valid_until: is not after valid_from"),
        ({"valid_from": "2026-11-23T00:00:00"}, r"valid_from: date-time without a UTC offset"),
        ({"valid_from": "next monday"}, r"valid_from: not an ISO 8601 date-time"),
        ({"media": {"sha256": "abc", "bytes": 1, "type": "image/jpeg"}}, r"media\.sha256: expected 64 lowercase hex digits"),
        ({"media": {**FEED_EXAMPLE["media"], "type": "image/gif"}}, r"media\.type: unsupported media type 'image/gif'"),
        ({"media": {**FEED_EXAMPLE["media"], "type": "video/mp4"}}, r"media\.type: video/mp4 does not fit kind 'image'"),
        ({"media": None}, r"media: missing \(a image bulletin needs media\)"),
        ({"duration_s": -5}, r"duration_s: must be between 0 and"),
        ({"boards": []}, r"boards: expected a non-empty list"),
        ({"slots": [{"days": ["monday"]}]}, r"slots\[0\]\.days: expected a non-empty list of mon"),
        ({"slots": [{"from": "25:00"}]}, r"slots\[0\]\.from: expected a time as HH:MM"),
        ({"slots": [{"from": "08:00", "until": "08:00"}]}, r"slots\[0\]\.until: equals from"),
        ({"slots": [{"form": "08:00"}]}, r"slots\[0\]\.form: unknown key"),
        ({"slots": [{"from": ""}]}, r"slots\[0\]\.from: expected a time as HH:MM"),
        ({"title": "   "}, r"title: empty"),
    ],
)
def test_each_bad_field_is_named(change: dict, message: str) -> None:
    data = {**copy.deepcopy(FEED_EXAMPLE), **change}
    with pytest.raises(BulletinError, match=message) as caught:
        parse_bulletin(data, FEED)
    assert str(caught.value).startswith("https://district.example/feed.json: bulletin")
    assert "\n" not in str(caught.value)


def test_required_fields_of_a_feed_bulletin() -> None:
    for key in ("id", "revision", "kind", "title", "valid_from", "valid_until", "boards"):
        data = {k: v for k, v in FEED_EXAMPLE.items() if k != key}
        with pytest.raises(BulletinError, match=rf"{key}: missing"):
            parse_bulletin(data, FEED)


def test_a_text_bulletin_needs_a_body() -> None:
    data = {**FEED_EXAMPLE, "kind": "text", "media": None, "body": "  "}
    with pytest.raises(BulletinError, match="body: missing"):
        parse_bulletin(data, FEED)


def test_local_bulletins_default_revision_validity_and_boards() -> None:
    b = parse_bulletin({"id": "a", "kind": "text", "title": "T", "body": "B"}, BulletinInput("x.toml", Source.PLAYLIST))
    assert (b.revision, b.valid_from, b.valid_until, b.boards) == (1, None, None, ("*",))


def test_slot_until_midnight_and_past_midnight() -> None:
    data = {**FEED_EXAMPLE, "slots": [{"from": "22:00", "until": "02:00"}, {"from": "20:00", "until": "24:00"}]}
    night, evening = parse_bulletin(data, FEED).slots
    assert (night.start, night.end, night.days) == (time(22), time(2), frozenset(range(7)))
    assert evening.end is None


def test_text_is_nfc_and_invisible_controls_are_stripped() -> None:
    decomposed = "Thông ba\u0301o"  # "báo" with a combining acute
    bidi = "Tha\u0300nh \u202eph\u1ed1\u202c"
    b = parse_bulletin({**FEED_EXAMPLE, "title": decomposed, "body": bidi}, FEED)
    assert b.title == "Thông báo"
    assert b.body == "Thành phố"
    assert clean_text("a\u200bb\u2066c\u2069\ufeff")[0] == "abc"
    assert clean_text("ca\u0300\r\nphe\u0302")[1] == 0


def test_parse_command() -> None:
    command = parse_command(
        {
            "id": "cmd-77",
            "boards": ["tan-quan"],
            "action": "screenshot",
            "issued_at": "2026-11-23T09:00:00+07:00",
            "expires_at": "2026-11-23T10:00:00+07:00",
        },
        "feed.json",
    )
    assert command.action.value == "screenshot" and command.targets("tan-quan")
    bad = {
        "id": "c",
        "boards": ["../x"],
        "action": "sync",
        "issued_at": "2026-11-23T09:00:00+07:00",
        "expires_at": "2026-11-23T08:00:00+07:00",
    }
    with pytest.raises(BulletinError, match="boards: expected a non-empty list"):
        parse_command(bad, "feed.json")
    with pytest.raises(BulletinError, match="expires_at: is not after issued_at"):
        parse_command({**bad, "boards": ["*"]}, "feed.json")
    assert command.expires_at.tzinfo is not None and command.expires_at.astimezone(UTC).hour == 3
