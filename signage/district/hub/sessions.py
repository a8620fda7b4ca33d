"""Officers' sessions: a random token in the cookie, its SHA-256 in the hub's database, and when one ends (pure)."""

from __future__ import annotations

import hashlib
import re
import secrets

SESSION_COOKIE = "signage_hub"
IDLE_S = 2 * 3600  # a desk left for two hours signs itself out
LIFETIME_S = 12 * 3600  # a working day, however busy: then the password again
TOUCH_EVERY_S = 60  # last_seen is rewritten at most once a minute, not on every page
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32): 32 random bytes, unpadded base64url


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database keeps: reading it (or a backup of it) gives no one a cookie that works."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def well_formed(token: str | None) -> bool:
    """Only a token of our own shape is looked up: anything else costs no query."""
    return token is not None and _TOKEN.fullmatch(token) is not None


def alive(created_at: float, last_seen: float, now: float, idle_s: float = IDLE_S, lifetime_s: float = LIFETIME_S) -> bool:
    """A session lasts while it is used at least every `idle_s`, and never longer than `lifetime_s` in all."""
    return now - last_seen < idle_s and now - created_at < lifetime_s and created_at <= now + TOUCH_EVERY_S


def needs_touch(last_seen: float, now: float) -> bool:
    return now - last_seen >= TOUCH_EVERY_S


def csrf_token(token: str | None) -> str:
    """The CSRF field of every form: derived from the session's token, which only the officer's browser holds (the
    cookie is HttpOnly), so another site's page cannot know it; the same in every hub process, nothing stored."""
    if not well_formed(token):
        return ""
    assert token is not None
    return hashlib.sha256(b"csrf\0" + token.encode("ascii")).hexdigest()[:43]


def csrf_ok(token: str | None, field: str | None) -> bool:
    expected = csrf_token(token)
    return bool(expected) and field is not None and secrets.compare_digest(expected, field)
