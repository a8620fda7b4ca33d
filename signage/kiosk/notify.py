"""The sd_notify protocol, without a dependency: READY, STATUS, STOPPING and a watchdog fed only by real frames."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


def socket_address(raw: str) -> str | None:
    """NOTIFY_SOCKET as `socket` wants it: a path, or `@name` for Linux's abstract namespace (a leading NUL)."""
    if raw.startswith("@"):
        return "\0" + raw[1:]
    if raw.startswith("/"):
        return raw
    return None  # vsock and other forms: not for a board


class Notifier:
    """Datagrams to the service manager; a no-op when not started by systemd, and never raises into the player."""

    def __init__(self, address: str | None, watchdog_seconds: float | None = None) -> None:
        self.address = address
        self.watchdog_seconds = watchdog_seconds
        self._socket: socket.socket | None = None
        self._failed = False  # logged once: a broken socket must not flood journald at 60 fps

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        address = socket_address(env.get("NOTIFY_SOCKET", ""))
        watchdog_seconds = None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        # WATCHDOG_PID names the one process the watchdog is meant for; a child that inherited it must not ping.
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            watchdog_seconds = int(usec) / 1_000_000
        return cls(address, watchdog_seconds)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, message: str) -> bool:
        if self.address is None:
            return False
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto(message.encode("utf-8"), self.address)
            return True
        except OSError as exc:
            if not self._failed:
                self._failed = True
                log.warning("sd_notify to %s failed: %s (further failures not logged)", self.address.replace("\0", "@"), exc)
            return False

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


class FrameWatchdog:
    """Feeds systemd's watchdog from the frame loop, so a frozen loop or a stuck picture gets the service restarted.

    A ping needs a frame presented since the last ping, and one the player calls alive
    (its clock moved): a loop that stops calling `frame_presented` stops the pings.
    """

    def __init__(self, notifier: Notifier, timeout_seconds: float | None = None) -> None:
        self.notifier = notifier
        seconds = timeout_seconds if timeout_seconds is not None else notifier.watchdog_seconds
        # Half the timeout, as sd_watchdog_enabled(3) advises: one late frame is not a restart.
        self.interval_seconds = seconds / 2 if seconds else None
        self._next_ping = float("-inf")
        self._last_frame = -1
        self.pings = 0

    def frame_presented(self, frame_number: int, clock: float, alive: bool = True) -> None:
        if self.interval_seconds is None or clock < self._next_ping:
            return  # the hot path: one compare per frame
        if frame_number == self._last_frame or not alive:
            return
        self._last_frame = frame_number
        self._next_ping = clock + self.interval_seconds
        if self.notifier.watchdog():
            self.pings += 1
