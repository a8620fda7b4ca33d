"""DSSE envelopes: the test vectors, strict base64 and JSON, and the signature attacks."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signage.envelope import FEED_TYPE, b64decode_strict, key_id, loads_strict, pae, public_raw, sign, verify
from signage.errors import FeedRejected

RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
]


def test_pae_vector_and_byte_lengths() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    assert pae("exämple", b"x") == "DSSEv1 8 exämple 1 x".encode()  # 7 characters, 8 bytes


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032)
def test_rfc8032_keys_verify_and_refuse(secret: str, public: str, message: str, signature: str) -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
    assert public_raw(key).hex() == public
    assert key.sign(bytes.fromhex(message)).hex() == signature
    # In an envelope: verifies under the RFC key, refused under the other one.
    envelope = sign(bytes.fromhex(message) or b"{}", FEED_TYPE, [key])
    assert verify(envelope, FEED_TYPE, [bytes.fromhex(public)], 1, "feed.json").payload == (bytes.fromhex(message) or b"{}")
    other = next(p for _, p, _, _ in RFC8032 if p != public)
    with pytest.raises(FeedRejected, match="signature check failed: no pinned key signed"):
        verify(envelope, FEED_TYPE, [bytes.fromhex(other)], 1, "feed.json")


@pytest.fixture
def keys() -> list[Ed25519PrivateKey]:
    return [Ed25519PrivateKey.generate() for _ in range(3)]


def test_tampered_payload(keys) -> None:
    envelope = json.loads(sign(b'{"sequence": 1}', FEED_TYPE, keys[:1]))
    envelope["payload"] = base64.b64encode(b'{"sequence": 9}').decode()
    with pytest.raises(FeedRejected, match="signature check failed"):
        verify(json.dumps(envelope).encode(), FEED_TYPE, [public_raw(keys[0])], 1, "feed.json")


def test_signature_by_an_unpinned_key(keys) -> None:
    with pytest.raises(FeedRejected, match="no pinned key signed"):
        verify(sign(b"{}", FEED_TYPE, [keys[2]]), FEED_TYPE, [public_raw(keys[0])], 1, "feed.json")


def test_wrong_payload_type_is_refused_after_the_signature(keys) -> None:
    envelope = sign(b"{}", "application/vnd.signage.report.v1+json", keys[:1])
    with pytest.raises(FeedRejected, match=r"payloadType 'application/vnd\.signage\.report\.v1\+json', expected"):
        verify(envelope, FEED_TYPE, [public_raw(keys[0])], 1, "feed.json")


def test_threshold_not_met_by_one_key_signing_twice(keys) -> None:
    envelope = json.loads(sign(b"{}", FEED_TYPE, [keys[0]]))
    envelope["signatures"].append(dict(envelope["signatures"][0]))
    pinned = [public_raw(k) for k in keys]
    with pytest.raises(FeedRejected, match=r"1 distinct pinned key\(s\) signed, 2 required"):
        verify(json.dumps(envelope).encode(), FEED_TYPE, pinned, 2, "feed.json")
    assert len(verify(sign(b"{}", FEED_TYPE, keys[:2]), FEED_TYPE, pinned, 2, "feed.json").signers) == 2


def test_keyid_is_only_a_hint(keys) -> None:
    envelope = json.loads(sign(b"{}", FEED_TYPE, [keys[1]]))
    envelope["signatures"][0]["keyid"] = key_id(public_raw(keys[0]))  # lies about which key signed
    result = verify(json.dumps(envelope).encode(), FEED_TYPE, [public_raw(keys[0]), public_raw(keys[1])], 1, "feed.json")
    assert result.signers == (key_id(public_raw(keys[1])),)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("aGVsbG8=", b"hello"), ("aGVsbG8", b"hello"), ("-_8=", b"\xfb\xff"), ("+/8=", b"\xfb\xff"), ("", b"")],
)
def test_base64_standard_and_urlsafe(text: str, expected: bytes) -> None:
    assert b64decode_strict(text) == expected


@pytest.mark.parametrize("text", ["aGVs bG8=", "aGVsbG8==", "+_8=", "aGVsbG9=", "a", "aGVsbG8=\n", "%%%%"])
def test_bad_base64_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        b64decode_strict(text)


def test_bad_base64_in_an_envelope(keys) -> None:
    envelope = json.loads(sign(b"{}", FEED_TYPE, keys[:1]))
    envelope["payload"] = envelope["payload"] + "!"
    with pytest.raises(FeedRejected, match="payload: not base64"):
        verify(json.dumps(envelope).encode(), FEED_TYPE, [public_raw(keys[0])], 1, "feed.json")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"a": 1, "a": 2}', "duplicate JSON key 'a'"),
        (b'{"a": NaN}', "JSON constant NaN is not allowed"),
        (b'{"a": Infinity}', "JSON constant Infinity is not allowed"),
        (b"[" * 33 + b"]" * 33, "nested deeper than 32"),
        (b"[" * 200_000 + b"]" * 200_000, "nested deeper than 32"),
        (b"<html><body>Wi-Fi login</body></html>", "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8 JSON"),
    ],
)
def test_strict_json(raw: bytes, message: str) -> None:
    with pytest.raises(FeedRejected, match=message):
        loads_strict(raw, "feed.json")
    assert loads_strict(b'{"s": "[[[{{{"}', "x") == {"s": "[[[{{{"}  # brackets inside strings do not count


def test_a_threshold_below_one_is_refused(keys) -> None:
    with pytest.raises(FeedRejected, match="threshold below 1"):
        verify(sign(b"{}", FEED_TYPE, keys[:1]), FEED_TYPE, [], 0, "feed.json")
