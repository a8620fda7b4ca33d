"""Sign-in throttling: after a few wrong passwords for a name or from an address, wait a while (pure, clock given)."""

from __future__ import annotations

from collections import deque

WINDOW_S = 15 * 60
MAX_FAILURES = 5
MAX_KEYS = 10_000  # bounded memory whatever an attacker tries


class SignInThrottle:
    """Failures per key (an officer's name, a remote address) within the last WINDOW_S seconds."""

    def __init__(self, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def wait_s(self, keys: tuple[str, ...], now: float) -> float:
        """Seconds until a sign-in may be tried again for these keys; 0 when it may now."""
        wait = 0.0
        for key in keys:
            times = self._recent(key, now)
            if len(times) >= self.max_failures:
                wait = max(wait, times[0] + self.window_s - now)
        return wait

    def failed(self, keys: tuple[str, ...], now: float) -> None:
        if len(self._failures) >= MAX_KEYS:
            self._failures.clear()
        for key in keys:
            self._failures.setdefault(key, deque(maxlen=self.max_failures)).append(now)

    def succeeded(self, name_key: str) -> None:
        self._failures.pop(name_key, None)
