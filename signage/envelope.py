"""DSSE v1 envelopes with Ed25519: PAE, signing, verification, keys, and strict JSON.

Used alike by the district feed, the boards' reports and the district tools. Verification
follows DSSE's order: check the envelope's shape, verify signatures over PAE with pinned
keys, then check the payload type; the payload is returned as bytes, parsed once by the caller.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from signage.errors import FeedRejected, SignageError

FEED_TYPE = "application/vnd.signage.feed.v1+json"
REPORT_TYPE = "application/vnd.signage.report.v1+json"
JOIN_TYPE = "application/vnd.signage.join.v1+json"  # a board asking a hub to take it, signed by its own key
PNG_TYPE = "image/png"
MAX_JSON_DEPTH = 32
# No field of any of our formats holds more than 2^53-1 (16 digits); 100 digits leaves each field to
# name itself when it refuses a big number, and keeps Python from converting thousands of digits
# (its own limit, 4,300, raises a ValueError no caller expects).
MAX_JSON_INTEGER_DIGITS = 100
MAX_SIGNATURES = 16
_B64_STANDARD = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_B64_URLSAFE = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE's pre-authentication encoding: lengths are byte counts, not characters."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def key_id(public_raw: bytes) -> str:
    """The first 16 hex characters of SHA-256 of the raw 32-byte key: a hint, never a trust decision."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def public_key_text(public_raw: bytes) -> str:
    return "ed25519:" + base64.b64encode(public_raw).decode("ascii")


def parse_public_key(text: str) -> bytes:
    """`ed25519:<base64 of the raw 32 bytes>` → the 32 bytes; ValueError names the problem."""
    prefix, _, encoded = text.strip().partition(":")
    if prefix != "ed25519" or not encoded:
        raise ValueError(f"expected ed25519:<base64>, got {text[:40]!r}")
    try:
        key = b64decode_strict(encoded)
    except ValueError:
        raise ValueError(f"bad base64 in {text[:40]!r}") from None
    if len(key) != 32:
        raise ValueError(f"an Ed25519 public key has 32 bytes, this one {len(key)}")
    return key


def b64decode_strict(text: str) -> bytes:
    """Standard or URL-safe base64, padded or not; anything else (spaces, mixed alphabets) is refused."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    if _B64_STANDARD.fullmatch(text):
        alphabet = None
    elif _B64_URLSAFE.fullmatch(text):
        alphabet = b"-_"
    else:
        raise ValueError("not base64")
    stripped = text.rstrip("=")
    if len(stripped) % 4 == 1 or len(text) - len(stripped) > (-len(stripped)) % 4:
        raise ValueError("bad base64 length or padding")
    padded = stripped + "=" * ((-len(stripped)) % 4)
    try:
        decoded = base64.b64decode(padded, altchars=alphabet, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    # Refuse non-canonical encodings (stray bits in the last character): one meaning per text.
    canonical = base64.b64encode(decoded, altchars=alphabet).decode("ascii").rstrip("=")
    if canonical != stripped:
        raise ValueError("non-canonical base64")
    return decoded


def loads_strict(raw: bytes, origin: str, error: type[SignageError] = FeedRejected) -> Any:
    """JSON with no duplicate keys, no NaN or Infinity, nesting at most 32 deep, UTF-8 only."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in items:
            if key in result:
                raise error(f"{origin}: duplicate JSON key {key!r}")
            result[key] = value
        return result

    def no_constants(name: str) -> Any:
        raise error(f"{origin}: JSON constant {name} is not allowed")

    def bounded_int(digits: str) -> int:
        length = len(digits.lstrip("-"))
        if length > MAX_JSON_INTEGER_DIGITS:
            raise error(f"{origin}: {_long_number_key(text)}a number of {length} digits (at most {MAX_JSON_INTEGER_DIGITS})")
        return int(digits)

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{origin}: not UTF-8 JSON") from None
    try:
        value = json.loads(text, object_pairs_hook=pairs, parse_constant=no_constants, parse_int=bounded_int)
    except json.JSONDecodeError as exc:
        raise error(f"{origin}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:  # the C scanner guards its recursion: a hostile nesting ends here, not in a crash
        raise error(f"{origin}: JSON nested deeper than {MAX_JSON_DEPTH}") from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise error(f"{origin}: JSON nested deeper than {MAX_JSON_DEPTH}")
    return value


def _long_number_key(text: str) -> str:
    """`"key: "` of the first over-long number in `text`, for the error line; "" when it is not an object's value."""
    found = re.search(r'"((?:[^"\\]|\\.){1,64})"\s*:\s*-?\d{' + str(MAX_JSON_INTEGER_DIGITS + 1) + ",}", text)
    return f"{found[1]}: " if found else ""


def json_depth(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (iterative: no recursion to exhaust)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


@dataclass(frozen=True, slots=True)
class Verified:
    payload: bytes
    signers: tuple[str, ...]  # key ids of the distinct pinned keys whose signatures verified


def verify(
    raw: bytes, payload_type: str, pinned: Sequence[bytes], threshold: int, origin: str, error: type[SignageError] = FeedRejected
) -> Verified:
    """Verify a DSSE envelope: at least `threshold` distinct pinned keys must have signed PAE(type, payload)."""
    if threshold < 1:
        raise error(f"{origin}: a signature threshold below 1 would trust unsigned feeds")
    return verify_parsed(loads_strict(raw, origin, error), payload_type, pinned, threshold, origin, error)


def verify_parsed(
    envelope: Any, payload_type: str, pinned: Sequence[bytes], threshold: int, origin: str, error: type[SignageError] = FeedRejected
) -> Verified:
    """`verify` for an envelope already read with `loads_strict` (the hub reads it once to answer 400s first)."""
    if threshold < 1:
        raise error(f"{origin}: a signature threshold below 1 would trust unsigned feeds")
    if not isinstance(envelope, dict):
        raise error(f"{origin}: envelope is not a JSON object")
    claimed_type, payload_b64, signatures = envelope.get("payloadType"), envelope.get("payload"), envelope.get("signatures")
    if not isinstance(claimed_type, str) or not isinstance(payload_b64, str) or not isinstance(signatures, list):
        raise error(f"{origin}: envelope needs payloadType, payload and signatures")
    if not signatures or len(signatures) > MAX_SIGNATURES:
        raise error(f"{origin}: envelope has {len(signatures)} signatures (1 to {MAX_SIGNATURES} allowed)")
    try:
        payload = b64decode_strict(payload_b64)
    except ValueError as exc:
        raise error(f"{origin}: payload: {exc}") from None
    message = pae(claimed_type, payload)
    keys = [(key_id(raw_key), Ed25519PublicKey.from_public_bytes(raw_key)) for raw_key in pinned]
    signers: list[str] = []
    for index, signature in enumerate(signatures):
        if not isinstance(signature, dict) or not isinstance(signature.get("sig"), str):
            raise error(f"{origin}: signatures[{index}]: needs a sig")
        try:
            sig = b64decode_strict(signature["sig"])
        except ValueError as exc:
            raise error(f"{origin}: signatures[{index}].sig: {exc}") from None
        hint = signature.get("keyid")
        # The keyid only orders the candidates; every pinned key is tried, so a wrong hint changes nothing.
        for candidate_id, key in sorted(keys, key=lambda k: k[0] != hint):
            if candidate_id in signers:
                continue
            try:
                key.verify(sig, message)
            except InvalidSignature:
                continue
            signers.append(candidate_id)
            break
    if len(signers) < threshold:
        have = "no pinned key" if not signers else f"{len(signers)} distinct pinned key(s)"
        raise error(f"{origin}: signature check failed: {have} signed, {threshold} required")
    if claimed_type != payload_type:
        raise error(f"{origin}: payloadType {claimed_type!r}, expected {payload_type!r}")
    return Verified(payload, tuple(signers))


def sign(payload: bytes, payload_type: str, keys: Sequence[Ed25519PrivateKey]) -> bytes:
    """A DSSE envelope (compact JSON bytes) signed by each of `keys`."""
    message = pae(payload_type, payload)
    signatures = []
    for key in keys:
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        signatures.append({"keyid": key_id(raw), "sig": base64.b64encode(key.sign(message)).decode("ascii")})
    envelope = {"payloadType": payload_type, "payload": base64.b64encode(payload).decode("ascii"), "signatures": signatures}
    return json.dumps(envelope, separators=(",", ":")).encode("ascii")


def public_raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def generate_key(path: Path) -> Ed25519PrivateKey:
    """A new Ed25519 key written to `path` (PEM, PKCS#8, mode 0600); an existing file is never overwritten."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SignageError(f"{path}: already exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise SignageError(f"{path}: cannot create key file: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    return key


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SignageError(f"{path}: cannot read key: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise SignageError(f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignageError(f"{path}: not an Ed25519 key")
    return key
