"""The hub's pure accept/refuse decisions on report and screenshot envelopes: status codes and reasons naming the field."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from signage.district.hub.ingest import (
    MAX_SEQ,
    PinnedBoards,
    Refusal,
    Report,
    Screenshot,
    decide_report,
    decide_screenshot,
    thumbnail,
)
from signage.envelope import PNG_TYPE, REPORT_TYPE, key_id, pae, public_raw, sign
from tests.hubserver import START, envelope_of, minutes, play, report_body, screenshot_png

KEY_A = Ed25519PrivateKey.generate()
KEY_B = Ed25519PrivateKey.generate()
STRANGER = Ed25519PrivateKey.generate()
PINNED = PinnedBoards([("tan-quan", public_raw(KEY_A)), ("tan-hung", public_raw(KEY_B))])


def refused(outcome: object, status: int, *words: str) -> None:
    assert isinstance(outcome, Refusal), outcome
    assert outcome.status == status, outcome
    for word in words:
        assert word in outcome.reason, outcome
    assert "\n" not in outcome.reason


def test_a_valid_report_is_parsed_once_into_values() -> None:
    body = report_body(
        "tan-quan",
        88,
        plays=[play("hq-2026-0142", START, revision=3), play("hq-2026-0150", START + minutes(1), 4.2, False, reason="emergency")],
        commands_done=[{"id": "cmd-77", "ok": True, "at": START.isoformat(), "detail": "screenshot seq 89"}],
    )
    raw_payload = json.dumps(body, ensure_ascii=False).encode()
    outcome = decide_report(sign(raw_payload, REPORT_TYPE, [KEY_A]), PINNED)
    assert isinstance(outcome, Report)
    assert (outcome.board, outcome.seq, outcome.sent_at) == ("tan-quan", 88, START)
    assert outcome.body == raw_payload
    assert [(p.bulletin, p.revision, p.completed, p.reason) for p in outcome.plays] == [
        ("hq-2026-0142", 3, True, None),
        ("hq-2026-0150", 1, False, "emergency"),
    ]
    assert outcome.status.feed_sequence == 1042 and outcome.status.heartbeat_s == 300.0
    assert outcome.status.disk_free_bytes == 12_300_000_000
    assert outcome.commands_done[0].id == "cmd-77" and outcome.commands_done[0].detail == "screenshot seq 89"


def test_merged_report_with_play_totals() -> None:
    totals = [{"bulletin": "hq-2026-0142", "revision": 3, "day": "2026-11-23", "count": 412, "completed": 409, "shown_s": 8210.5}]
    outcome = decide_report(envelope_of(report_body("tan-quan", 12, covers_seq=[12, 2027], play_totals=totals), KEY_A), PINNED)
    assert isinstance(outcome, Report)
    assert outcome.covers_seq == (12, 2027)
    assert outcome.play_totals[0].count == 412 and outcome.play_totals[0].shown_s == 8210.5


def test_signature_by_an_unpinned_key_is_401() -> None:
    refused(decide_report(envelope_of(report_body("tan-quan", 1), STRANGER), PINNED), 401, "keyid")


def test_forged_signature_under_a_pinned_keyid_is_401() -> None:
    """The keyid only picks the candidate key: a stranger's signature labelled with tan-quan's keyid is refused."""
    envelope = json.loads(envelope_of(report_body("tan-quan", 1), STRANGER))
    envelope["signatures"][0]["keyid"] = key_id(public_raw(KEY_A))
    refused(decide_report(json.dumps(envelope).encode(), PINNED), 401, "signature check failed")


def test_payload_changed_after_signing_is_401() -> None:
    envelope = json.loads(envelope_of(report_body("tan-quan", 1), KEY_A))
    envelope["payload"] = base64.b64encode(json.dumps(report_body("tan-quan", 2)).encode()).decode()
    refused(decide_report(json.dumps(envelope).encode(), PINNED), 401)


def test_signed_by_one_board_naming_another_is_403() -> None:
    refused(decide_report(envelope_of(report_body("tan-hung", 1), KEY_A), PINNED), 403, "tan-quan", "tan-hung")


def test_wrong_payload_type_is_400_after_the_signature() -> None:
    refused(decide_report(envelope_of(report_body("tan-quan", 1), KEY_A, PNG_TYPE), PINNED), 400, "payloadType")
    # The type is only judged once a pinned key signed it: an unsigned wrong type is a 401.
    refused(decide_report(envelope_of(report_body("tan-quan", 1), STRANGER, PNG_TYPE), PINNED), 401)


KA = key_id(public_raw(KEY_A)).encode()  # a pinned keyid: without one, junk is a 401 before it is parsed


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"not json", ("not a JSON object",)),
        (b"[1, 2]", ("not a JSON object",)),
        (b'{"payloadType": "x", "signatures": [{"keyid": "%s"}]}' % KA, ("needs payloadType, payload and signatures",)),
        (b'{"payloadType": "x", "payload": "e30=", "signatures": [], "k": [{"keyid": "%s"}]}' % KA, ("0 signatures",)),
        (b'{"payloadType": "x", "payload": "e30=", "signatures": [{"keyid": "%s", "sig": "**"}]}' % KA, ("signatures[0].sig",)),
        (b'{"payloadType": "x", "payload": "e 30=", "signatures": [{"keyid": "%s", "sig": "AA=="}]}' % KA, ("payload:",)),
        (b'{"payloadType": "x", "payloadType": "y", "payload": "", "signatures": [{"keyid": "%s"}]}' % KA, ("duplicate JSON key",)),
        (b'{"payloadType": "\xff", "signatures": [{"keyid": "%s"}]}' % KA, ("not UTF-8",)),
        (b'{"payloadType": "x", "n": 1, "signatures": [{"keyid": "%s"}]}' % KA, ("a number where none belongs",)),
        (b'{"signatures": [{"keyid": "%s"}], "x": [' % KA + b"{}," * 40 + b"{}]}", ("not the shape of a signed envelope",)),
        (b"\xff\xfe", ("not a JSON object",)),
    ],
)
def test_malformed_envelopes_are_400(raw: bytes, words: tuple[str, ...]) -> None:
    refused(decide_report(raw, PINNED), 400, *words)


def test_junk_naming_no_pinned_keyid_is_401_before_it_is_parsed() -> None:
    refused(decide_report(b'{"payloadType": "x", "payload": "e30=", "signatures": []}', PINNED), 401, "keyid")
    refused(decide_report(b'{"a": [' + b"{}," * 300_000 + b"{}]}", PINNED), 401, "keyid")


def with_body(change: dict[str, Any], base: dict[str, Any] | None = None) -> bytes:
    body = base or report_body("tan-quan", 5, plays=[play("hq-1", START)])
    body.update(change)
    return envelope_of(body, KEY_A)


def changed_play(**fields: Any) -> dict[str, Any]:
    entry = play("hq-1", START)
    entry.update(fields)
    return {"plays": [entry]}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"format": "signage-report/2"}, "format"),
        ({"seq": 0}, "seq"),
        ({"seq": MAX_SEQ + 1}, "seq"),
        ({"seq": "5"}, "seq"),
        ({"seq": True}, "seq"),
        ({"seq": 5.0}, "seq"),
        ({"board": ""}, "board"),
        ({"sent_at": "2026-11-23T09:05:00"}, "sent_at"),
        ({"status": []}, "status"),
        ({"status": {"feed_sequence": -1}}, "status.feed_sequence"),
        ({"status": {"feed_stale": "no"}}, "status.feed_stale"),
        ({"status": {"heartbeat_s": 0}}, "status.heartbeat_s"),
        ({"status": {"last_error": 5}}, "status.last_error"),
        ({"plays": {}}, "plays"),
        ({"plays": [1]}, "plays[0]"),
        (changed_play(started_at="yesterday"), "plays[0].started_at"),
        (changed_play(shown_s=-1), "plays[0].shown_s"),
        (changed_play(completed=None), "plays[0].completed"),
        (changed_play(revision="3"), "plays[0].revision"),
        (changed_play(bulletin="a\nb"), "plays[0].bulletin"),
        (
            {"play_totals": [{"bulletin": "x", "revision": 1, "day": "23/11/2026", "count": 1, "completed": 1, "shown_s": 1}]},
            "play_totals[0].day",
        ),
        (
            {"play_totals": [{"bulletin": "x", "revision": 1, "day": "2026-11-23", "count": 1, "completed": 2, "shown_s": 1}]},
            "play_totals[0].completed",
        ),
        ({"commands_done": [{"id": "cmd-1", "ok": "yes"}]}, "commands_done[0].ok"),
        ({"covers_seq": [4, 9]}, "covers_seq"),
        ({"covers_seq": [5, 4]}, "covers_seq"),
        ({"heartbeat_days": [{"day": "2026-11-23", "count": -1}]}, "heartbeat_days[0].count"),
        ({"heartbeat_days": [{"day": "hôm qua", "count": 3}]}, "heartbeat_days[0].day"),
        ({"heartbeat_days": {"2026-11-23": 3}}, "heartbeat_days"),
    ],
)
def test_bad_fields_are_400_naming_the_field(change: dict[str, Any], field: str) -> None:
    base = report_body("tan-quan", 5, plays=[play("hq-1", START)])
    if "status" in change and isinstance(change["status"], dict):
        base["status"].update(change.pop("status"))
    refused(decide_report(with_body(change, base), PINNED), 400, f"report: {field}")


def test_payload_json_is_strict() -> None:
    payload = b'{"format": "signage-report/1", "seq": 1, "seq": 2}'
    refused(decide_report(sign(payload, REPORT_TYPE, [KEY_A]), PINNED), 400, "duplicate JSON key")
    refused(decide_report(sign(b'{"x": NaN}', REPORT_TYPE, [KEY_A]), PINNED), 400, "NaN")


def test_keyid_picks_the_only_key_tried() -> None:
    """Signing as tan-hung but labelling tan-quan's keyid fails: only the labelled candidate is tried (one verify)."""
    signature = KEY_B.sign(pae(REPORT_TYPE, b"{}"))
    envelope = {
        "payloadType": REPORT_TYPE,
        "payload": base64.b64encode(b"{}").decode(),
        "signatures": [{"keyid": key_id(public_raw(KEY_A)), "sig": base64.b64encode(signature).decode()}],
    }
    refused(decide_report(json.dumps(envelope).encode(), PINNED), 401)


def test_a_screenshot_is_checked_and_identified() -> None:
    png = screenshot_png("tan-quan", 89, command="cmd-77", size=(320, 180))
    outcome = decide_screenshot(sign(png, PNG_TYPE, [KEY_A]), PINNED)
    assert isinstance(outcome, Screenshot)
    assert (outcome.board, outcome.seq, outcome.taken_at, outcome.command) == ("tan-quan", 89, START, "cmd-77")
    assert (outcome.width, outcome.height) == (320, 180) and outcome.png == png
    with Image.open(io.BytesIO(thumbnail(png))) as small:
        assert small.size == (240, 135)


def test_screenshot_refusals() -> None:
    good = screenshot_png("tan-quan", 89)
    refused(decide_screenshot(sign(b"GIF89a not a png", PNG_TYPE, [KEY_A]), PINNED), 400, "not a PNG")
    refused(decide_screenshot(sign(good[:-30], PNG_TYPE, [KEY_A]), PINNED), 400, "screenshot:")
    refused(decide_screenshot(sign(good, REPORT_TYPE, [KEY_A]), PINNED), 400, "payloadType")
    refused(decide_screenshot(sign(good, PNG_TYPE, [STRANGER]), PINNED), 401)
    refused(decide_screenshot(sign(screenshot_png("tan-hung", 89), PNG_TYPE, [KEY_A]), PINNED), 403)
    plain = io.BytesIO()
    Image.new("RGB", (8, 8)).save(plain, "PNG")
    refused(decide_screenshot(sign(plain.getvalue(), PNG_TYPE, [KEY_A]), PINNED), 400, "signage:board")
    big = screenshot_png("tan-quan", 90, size=(200, 200))
    refused(decide_screenshot(sign(big, PNG_TYPE, [KEY_A]), PINNED, max_pixels=100 * 100), 400, "over the limit")
    # A bit flipped inside the image data: the chunk CRC no longer matches.
    broken = bytearray(good)
    broken[good.index(b"IDAT") + 8] ^= 0xFF
    refused(decide_screenshot(sign(bytes(broken), PNG_TYPE, [KEY_A]), PINNED), 400, "CRC")
