"""The trust decision, one test per attack of feed-v1's Hardening section (pure: keys, state, bytes, now)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signage.envelope import FEED_TYPE, REPORT_TYPE, key_id, public_raw, sign
from signage.errors import FeedRejected
from signage.feed.trust import TrustState, clock_doubt, decide, is_stale

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=HCM)
ORIGIN = "https://district.example/feed/feed.json"


def bulletin(bid: str, **extra: object) -> dict:
    return {
        "id": bid,
        "revision": 1,
        "kind": "text",
        "title": "Thông báo",
        "body": "Nội dung",
        "valid_from": "2026-11-01T00:00:00+07:00",
        "valid_until": "2026-12-31T00:00:00+07:00",
        "boards": ["*"],
        **extra,
    }


def manifest(sequence: int, *, generated: datetime = NOW - timedelta(hours=1), days: int = 7, bulletins=None, **extra) -> bytes:
    body = {
        "format": "signage-feed/1",
        "publisher": "hon-quan",
        "sequence": sequence,
        "generated_at": generated.isoformat(),
        "expires_at": (generated + timedelta(days=days)).isoformat(),
        "bulletins": bulletins if bulletins is not None else [bulletin("hq-1")],
        "commands": [],
        **extra,
    }
    return json.dumps(body, ensure_ascii=False).encode()


@pytest.fixture
def keys() -> list[Ed25519PrivateKey]:
    return [Ed25519PrivateKey.generate() for _ in range(3)]


EMPTY = TrustState()


def judge(raw: bytes, keys_pinned, state=EMPTY, *, threshold=1, publisher=None, now=NOW):
    pinned = [public_raw(k) for k in keys_pinned]
    return decide(raw, pinned=pinned, threshold=threshold, publisher=publisher, state=state, now=now, origin=ORIGIN)


def test_a_good_feed_is_accepted_and_its_state_recorded(keys) -> None:
    verdict = judge(sign(manifest(5), FEED_TYPE, keys[:1]), keys[:1])
    assert verdict.manifest.sequence == 5 and not verdict.unchanged and verdict.notes == ()
    assert verdict.state.sequence == 5 and verdict.state.signers == (key_id(public_raw(keys[0])),)
    assert verdict.state.trusted_time == NOW  # the clock, vouched for by a feed generated an hour ago


def test_tampered_payload(keys) -> None:
    envelope = json.loads(sign(manifest(5), FEED_TYPE, keys[:1]))
    envelope["payload"] = base64.b64encode(manifest(6)).decode()
    with pytest.raises(FeedRejected, match="signature check failed"):
        judge(json.dumps(envelope).encode(), keys[:1])


def test_signature_by_an_unpinned_key(keys) -> None:
    with pytest.raises(FeedRejected, match="no pinned key signed"):
        judge(sign(manifest(5), FEED_TYPE, [keys[1]]), keys[:1])


def test_wrong_payload_type(keys) -> None:
    with pytest.raises(FeedRejected, match="payloadType"):
        judge(sign(manifest(5), REPORT_TYPE, keys[:1]), keys[:1])


def test_rollback(keys) -> None:
    state = judge(sign(manifest(10), FEED_TYPE, keys[:1]), keys[:1]).state
    with pytest.raises(FeedRejected, match=r"sequence 9 is older than the 10 already accepted \(rollback\)"):
        judge(sign(manifest(9), FEED_TYPE, keys[:1]), keys[:1], state)


def test_same_sequence_with_other_bytes(keys) -> None:
    state = judge(sign(manifest(10), FEED_TYPE, keys[:1]), keys[:1]).state
    again = judge(sign(manifest(10), FEED_TYPE, keys[:1]), keys[:1], state)
    assert again.unchanged
    other = manifest(10, bulletins=[bulletin("hq-1", title="Đã bị sửa")])
    with pytest.raises(FeedRejected, match="sequence 10 again but with different bytes"):
        judge(sign(other, FEED_TYPE, keys[:1]), keys[:1], state)


def test_expired_feed(keys) -> None:
    old = manifest(5, generated=NOW - timedelta(days=8), days=7)
    with pytest.raises(FeedRejected, match="expired at"):
        judge(sign(old, FEED_TYPE, keys[:1]), keys[:1])


def test_a_clock_behind_the_trusted_time_never_accepts_an_expired_feed(keys) -> None:
    state = judge(sign(manifest(5), FEED_TYPE, keys[:1]), keys[:1]).state
    # The feed expired yesterday by the trusted time; the board's clock was reset to last year.
    replay = manifest(6, generated=NOW - timedelta(days=8), days=7)
    last_year = NOW - timedelta(days=365)
    with pytest.raises(FeedRejected, match="expired"):
        judge(sign(replay, FEED_TYPE, keys[:1]), keys[:1], state, now=last_year)
    fresh = judge(sign(manifest(7), FEED_TYPE, keys[:1]), keys[:1], state, now=last_year)
    assert any("earlier than trusted time" in note for note in fresh.notes)
    assert fresh.state.trusted_time >= state.trusted_time


def test_a_clock_set_years_ahead_is_not_recorded_as_trusted(keys) -> None:
    verdict = judge(sign(manifest(5), FEED_TYPE, keys[:1]), keys[:1], now=NOW + timedelta(days=3))
    assert verdict.state.trusted_time == NOW - timedelta(hours=1) + timedelta(days=1)  # generated_at + one day at most


def test_stale_is_judged_by_the_trusted_clock(keys) -> None:
    state = TrustState(5, "x", (), NOW)
    expires = NOW + timedelta(days=1)
    assert not is_stale(expires, NOW, state)
    assert is_stale(expires, NOW + timedelta(days=2), state)
    assert not is_stale(expires + timedelta(days=400), NOW - timedelta(days=300), state)


def test_bad_base64(keys) -> None:
    envelope = json.loads(sign(manifest(5), FEED_TYPE, keys[:1]))
    envelope["signatures"][0]["sig"] = "***" + envelope["signatures"][0]["sig"][3:]
    with pytest.raises(FeedRejected, match=r"signatures\[0\]\.sig: not base64"):
        judge(json.dumps(envelope).encode(), keys[:1])


def test_duplicate_json_keys_in_the_manifest(keys) -> None:
    raw = manifest(5).replace(b'"sequence": 5', b'"sequence": 5, "sequence": 99')
    with pytest.raises(FeedRejected, match="duplicate JSON key 'sequence'"):
        judge(sign(raw, FEED_TYPE, keys[:1]), keys[:1])


def test_threshold_not_met_by_one_key_signing_twice(keys) -> None:
    envelope = json.loads(sign(manifest(5), FEED_TYPE, keys[:1]))
    envelope["signatures"] *= 2
    with pytest.raises(FeedRejected, match="2 required"):
        judge(json.dumps(envelope).encode(), keys[:2], threshold=2)
    assert judge(sign(manifest(5), FEED_TYPE, keys[:2]), keys[:2], threshold=2).manifest.sequence == 5


def test_fast_forward_recovery_after_key_rotation(keys) -> None:
    stolen, fresh = keys[0], keys[1]
    # A thief with the old key fast-forwards the boards to a huge sequence.
    state = judge(sign(manifest(2**40), FEED_TYPE, [stolen]), [stolen]).state
    # While the old key is still pinned (beside the new), the district's real, lower sequence is refused...
    with pytest.raises(FeedRejected, match="rollback"):
        judge(sign(manifest(43), FEED_TYPE, [fresh]), [stolen, fresh], state)
    # ...once the district unpins it, the board accepts the lower sequence, once, and says so.
    recovered = judge(sign(manifest(43), FEED_TYPE, [fresh]), [fresh], state)
    assert recovered.state.sequence == 43 and "key rotation recovery" in recovered.notes[0]
    with pytest.raises(FeedRejected, match="rollback"):
        judge(sign(manifest(42), FEED_TYPE, [fresh]), [fresh], recovered.state)


def test_publisher_must_match_when_configured(keys) -> None:
    raw = sign(manifest(5), FEED_TYPE, keys[:1])
    with pytest.raises(FeedRejected, match="publisher 'hon-quan' is not the configured 'bao-lac'"):
        judge(raw, keys[:1], publisher="bao-lac")
    assert judge(raw, keys[:1], publisher="hon-quan").manifest.publisher == "hon-quan"


def test_a_captive_portal_page_is_a_refused_feed(keys) -> None:
    with pytest.raises(FeedRejected, match="not valid JSON"):
        judge(b"<!DOCTYPE html><html><body>Dang nhap Wi-Fi</body></html>", keys[:1])


def test_sequence_bounds_and_missing_fields(keys) -> None:
    with pytest.raises(FeedRejected, match=r"sequence: 9007199254740992 is outside 0\.\.2\^53-1"):
        judge(sign(manifest(2**53), FEED_TYPE, keys[:1]), keys[:1])
    raw = json.loads(manifest(5))
    del raw["expires_at"]
    with pytest.raises(FeedRejected, match="manifest: expires_at: missing"):
        judge(sign(json.dumps(raw).encode(), FEED_TYPE, keys[:1]), keys[:1])


def test_a_bad_bulletin_or_a_path_traversal_id_is_refused_alone(keys) -> None:
    bulletins = [bulletin("hq-1"), bulletin("../../etc/cron.d/x"), bulletin("hq-2", priority="urgent"), bulletin("hq-3")]
    verdict = judge(sign(manifest(5, bulletins=bulletins), FEED_TYPE, keys[:1]), keys[:1])
    assert [b.id for b in verdict.manifest.bulletins] == ["hq-1", "hq-3"]
    assert len(verdict.manifest.rejected) == 2 and "is not a bulletin id" in verdict.manifest.rejected[0]


def test_a_feed_refused_as_expired_by_a_year_says_the_clock_may_be_wrong(keys) -> None:
    """A clock a year late refused every feed as expired, and nothing pointed at the clock."""
    with pytest.raises(FeedRejected, match=r"expired at .*; the board's clock may be wrong: it reads 358 days past the feed's expiry"):
        judge(sign(manifest(5), FEED_TYPE, keys[:1]), keys[:1], now=NOW + timedelta(days=365))


def test_a_feed_refused_as_expired_by_an_hour_blames_the_feed_not_the_clock(keys) -> None:
    with pytest.raises(FeedRejected, match="expired at") as refused:
        judge(sign(manifest(5, days=1), FEED_TYPE, keys[:1]), keys[:1], now=NOW + timedelta(days=1))  # an hour past its expiry
    assert "clock" not in str(refused.value)


def test_a_long_lived_feed_signed_months_before_the_clock_puts_the_clock_in_doubt() -> None:
    assert clock_doubt(NOW, NOW - timedelta(days=30), NOW + timedelta(days=300)) is None
    doubt = clock_doubt(NOW, NOW - timedelta(days=90), NOW + timedelta(days=300))
    assert doubt is not None and doubt.startswith("the board's clock may be wrong: it reads 90 days after the feed was signed")
