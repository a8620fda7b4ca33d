"""What the board holds of the district feed's trust, as the store keeps it and the trust rules read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class TrustState:
    """What the board remembers of the last feed it accepted (kept in SQLite).

    It lives with the store, below the feed: the store keeps it, `feed.trust` decides with it.
    """

    sequence: int | None = None
    payload_sha256: str | None = None
    signers: tuple[str, ...] = ()  # key ids that signed the stored sequence
    trusted_time: datetime | None = None  # the latest generated_at accepted, or clock reading seen, whichever later
