"""Sign-in throttling: after a few wrong passwords for a name or from an address, wait a while.

The decision is pure (`wait_s`, the failures and the clock given); `SignInGate` is its edge, the hub's
database, so every hub process on one PostgreSQL sees the same failures, and rows leave by age alone:
no flood of junk can evict the rows that hold a live lock.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

WINDOW_S = 15 * 60
MAX_FAILURES = 5
KNOWN_ADDRESS_S = 30 * 86400  # an address an officer signed in from within a month is theirs


def name_key(name: str) -> str:
    """A typed name as a key: hashed, because people type their password there by mistake, and this is stored."""
    return "name:" + hashlib.sha256(name.strip().casefold().encode("utf-8")).hexdigest()[:32]


def address_key(address: str) -> str:
    """An IPv4 address, or an IPv6 address's /64: one home or office holds a whole /64 of IPv6 addresses."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return "addr:" + address[:80]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is 192.0.2.1
            return "addr:" + str(parsed.ipv4_mapped)
        return "addr:" + str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return "addr:" + str(parsed)


def keys_held(name: str, address: str, known: bool) -> tuple[str, ...]:
    """The keys whose failures hold this sign-in: the name's from anywhere, unless the officer signed in from
    this address before, where only the address's own failures count (so a stranger cannot lock them out)."""
    return (address,) if known else (name, address)


def wait_s(failures: Mapping[str, Sequence[float]], keys: Sequence[str], now: float, max_failures: int = MAX_FAILURES,
           window_s: float = WINDOW_S) -> float:  # fmt: skip
    """Seconds until a sign-in may be tried for these keys (0: now), from each key's failure times, oldest first."""
    wait = 0.0
    for key in keys:
        recent = [at for at in failures.get(key, ()) if at > now - window_s]
        if len(recent) >= max_failures:
            # Held until so many have aged out that fewer than max_failures remain.
            wait = max(wait, recent[len(recent) - max_failures] + window_s - now)
    return wait


class ThrottleStore(Protocol):
    def add_sign_in_failures(self, keys: Sequence[str], at: float) -> list[int]: ...
    def forget_sign_in_failures(self, ids: Sequence[int]) -> None: ...
    def sign_in_failures(self, keys: Sequence[str], since: float, other_than: Sequence[int] = ()) -> dict[str, list[float]]: ...
    def known_sign_in(self, name_key: str, address_key: str, since: float) -> bool: ...
    def remember_sign_in(self, name_key: str, address_key: str, at: float) -> None: ...
    def prune_sign_in(self, failures_before: float, known_before: float) -> None: ...


@dataclass(frozen=True, slots=True)
class Attempt:
    name_key: str
    address_key: str
    wait_s: float  # > 0: held, the password is not even checked
    failure_ids: tuple[int, ...]  # this attempt's own rows, counted as failures until the password proves right


class SignInGate:
    """Every sign-in passes here before its password is checked, and again if the password was right."""

    def __init__(self, store: ThrottleStore, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S,
                 known_s: float = KNOWN_ADDRESS_S) -> None:  # fmt: skip
        self.store, self.max_failures, self.window_s, self.known_s = store, max_failures, window_s, known_s

    def enter(self, name: str, address: str, now: float) -> Attempt:
        """Count this attempt as a failure first, so that parallel guesses see each other, then decide."""
        names, addresses = name_key(name), address_key(address)
        self.store.prune_sign_in(now - self.window_s, now - self.known_s)
        known = self.store.known_sign_in(names, addresses, now - self.known_s)
        ids = self.store.add_sign_in_failures((names, addresses), now)
        keys = keys_held(names, addresses, known)
        wait = wait_s(self.store.sign_in_failures(keys, now - self.window_s, other_than=ids), keys, now, self.max_failures, self.window_s)
        if wait > 0:
            self.store.forget_sign_in_failures(ids)  # a held attempt is not a failure: the lock is not extended by it
            return Attempt(names, addresses, wait, ())
        return Attempt(names, addresses, 0.0, tuple(ids))

    def passed(self, attempt: Attempt, now: float) -> None:
        """The password was right: the attempt was no failure, and its address is now known for the name."""
        self.store.forget_sign_in_failures(attempt.failure_ids)
        self.store.remember_sign_in(attempt.name_key, attempt.address_key, now)
