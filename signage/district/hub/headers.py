"""Security headers on every answer of the hub (pages, static files, CSV, PNG, the boards' JSON): one ASGI wrapper."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# The pages load only their own stylesheet and images; there is no script at all, so none may run (an injected
# one included), no page of the hub may be framed (clickjacking the sign-out or the export), and a form posts only here.
CONTENT_SECURITY_POLICY = "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
HSTS_SECONDS = 365 * 86400

HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode("ascii")),
    (b"x-frame-options", b"DENY"),  # for browsers that predate frame-ancestors
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # a board's or bulletin's page address stays on the hub
)
HTTPS_HEADERS = (*HEADERS, (b"strict-transport-security", f"max-age={HSTS_SECONDS}".encode("ascii")))


class SecurityHeaders:
    """Adds HEADERS to each response's start (HSTS too over HTTPS: the scheme as uvicorn's trusted proxy said)."""

    def __init__(self, app: Any, *, always_https: bool = False) -> None:
        self.app = app
        self.state = app.state
        self.always_https = always_https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = HTTPS_HEADERS if self.always_https or scope.get("scheme") == "https" else HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
