"""Whether a fetched feed is trusted: every rule in one pure function of (keys, stored state, bytes, now).

Modelled on python-tuf's trusted metadata set, with the clock passed in. The order follows
DSSE: envelope and signatures first, then the payload type, then the manifest (parsed
once), then the rules that compare it with what the board already holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from signage.envelope import FEED_TYPE, key_id, verify
from signage.errors import FeedRejected
from signage.feed.manifest import Manifest, parse_manifest
from signage.store.state import TrustState  # kept by the store, below the feed; re-exported for callers

CLOCK_VOUCHED = timedelta(days=1)
# A feed is published and fetched within hours: refused as expired by more than a day, or signed more than
# sixty days before the clock's reading, it says more about the board's clock than about the district.
CLOCK_DOUBT_EXPIRED = timedelta(days=1)
CLOCK_DOUBT_GENERATED = timedelta(days=60)
CLOCK_DOUBT = "the board's clock may be wrong"


@dataclass(frozen=True, slots=True)
class Verdict:
    manifest: Manifest
    payload: bytes
    state: TrustState  # to store, in the same transaction as the manifest
    unchanged: bool  # the very feed already held (same sequence, same bytes)
    notes: tuple[str, ...]  # one line each, for the log and the reports


def effective_now(now: datetime, state: TrustState) -> tuple[datetime, str | None]:
    """The time to judge expiry by: a clock earlier than the trusted time is wrong, and never believed."""
    if state.trusted_time is not None and now < state.trusted_time:
        return state.trusted_time, f"system clock reads {now.isoformat()}, earlier than trusted time {state.trusted_time.isoformat()}"
    return now, None


def decide(
    raw: bytes,
    *,
    pinned: Sequence[bytes],
    threshold: int,
    publisher: str | None,
    state: TrustState,
    now: datetime,
    origin: str,
) -> Verdict:
    """Accept or refuse the bytes of a `feed.json`; refusal raises `FeedRejected` naming the reason."""
    verified = verify(raw, FEED_TYPE, pinned, threshold, origin)
    manifest = parse_manifest(verified.payload, origin)
    if publisher is not None and manifest.publisher != publisher:
        raise FeedRejected(f"{origin}: publisher {manifest.publisher!r} is not the configured {publisher!r}")

    notes: list[str] = []
    judged_at, clock_note = effective_now(now, state)
    if clock_note:
        notes.append(clock_note)

    digest = hashlib.sha256(verified.payload).hexdigest()
    if state.sequence is not None:
        if manifest.sequence == state.sequence:
            if digest != state.payload_sha256:
                raise FeedRejected(f"{origin}: sequence {manifest.sequence} again but with different bytes (a forked or tampered feed)")
            return Verdict(manifest, verified.payload, _advance(state, judged_at, manifest), True, tuple(notes))
        if manifest.sequence < state.sequence:
            pinned_ids = {key_id(key) for key in pinned}
            if state.signers and not pinned_ids.intersection(state.signers):
                # Every key that signed the stored sequence has been unpinned: recovery from a
                # fast-forward by a stolen key. Accept the lower sequence, once, and say so.
                notes.append(
                    f"accepted sequence {manifest.sequence} below the stored {state.sequence}: "
                    "the keys that signed the stored feed are no longer pinned (key rotation recovery)"
                )
            else:
                raise FeedRejected(f"{origin}: sequence {manifest.sequence} is older than the {state.sequence} already accepted (rollback)")

    if judged_at >= manifest.expires_at:
        doubt = clock_doubt(judged_at, manifest.generated_at, manifest.expires_at)
        raise FeedRejected(
            f"{origin}: expired at {manifest.expires_at.isoformat()} (judged at {judged_at.isoformat()})" + (f"; {doubt}" if doubt else "")
        )
    if manifest.expires_at <= manifest.generated_at:
        raise FeedRejected(f"{origin}: expires_at is not after generated_at")

    new_state = TrustState(
        sequence=manifest.sequence,
        payload_sha256=digest,
        signers=verified.signers,
        trusted_time=_trusted_time(state, manifest, judged_at),
    )
    return Verdict(manifest, verified.payload, new_state, False, tuple(notes))


def _advance(state: TrustState, judged_at: datetime, manifest: Manifest) -> TrustState:
    return TrustState(state.sequence, state.payload_sha256, state.signers, _trusted_time(state, manifest, judged_at))


def _trusted_time(state: TrustState, manifest: Manifest, judged_at: datetime) -> datetime | None:
    """The high-water mark: the feed's `generated_at`, and the clock as far as the feed vouches for it.

    The clock's reading counts only up to a day past `generated_at`: a board whose clock was set
    years ahead must not record that future as trusted, or it could never accept a feed again.
    """
    vouched = min(judged_at, manifest.generated_at + CLOCK_VOUCHED)
    return _latest(state.trusted_time, manifest.generated_at, vouched)


def _latest(*moments: datetime | None) -> datetime | None:
    present = [m for m in moments if m is not None]
    return max(present) if present else None


def clock_doubt(now: datetime, generated_at: datetime | None, expires_at: datetime | None) -> str | None:
    """Why the clock, rather than the feed, looks wrong: it reads far past a feed's expiry or signing. One line, or None."""
    if expires_at is not None and now - expires_at > CLOCK_DOUBT_EXPIRED:
        return f"{CLOCK_DOUBT}: it reads {_days(now - expires_at)} past the feed's expiry (check NTP and the date)"
    if generated_at is not None and now - generated_at > CLOCK_DOUBT_GENERATED:
        return f"{CLOCK_DOUBT}: it reads {_days(now - generated_at)} after the feed was signed (check NTP and the date)"
    return None


def _days(span: timedelta) -> str:
    days = span.total_seconds() / 86400
    return f"{days:.0f} days" if days >= 2 else f"{span.total_seconds() / 3600:.0f} hours"


def plays_by_signed_time(now: datetime, generated_at: datetime | None) -> bool:
    """A clock that reads earlier than the held feed's signing is certainly behind: the player plays by the signed time."""
    return generated_at is not None and now < generated_at


def is_stale(expires_at: datetime | None, now: datetime, state: TrustState) -> bool:
    """A held feed past its `expires_at` plays on, but is reported stale (judged by the trusted clock)."""
    if expires_at is None:
        return False
    judged_at, _ = effective_now(now, state)
    return judged_at >= expires_at
