"""POSTs queued envelopes to the hub and says, for each, whether it certainly did not arrive."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import requests
import urllib3.exceptions

from signage import __version__
from signage.report.queue import Entry

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Outcome:
    delivered: bool
    error: str | None = None
    uncertain: bool = False  # the request went out; the hub may hold it
    stop: bool = False  # no use trying the rest now (hub unreachable, or refusing this board)
    duplicate: bool = False  # delivered, and the hub says it held that (epoch, seq) already
    same: bool | None = None  # a hub that compares bytes: the one it holds is (not) this very report
    collision: bool = False  # the hub holds other bytes under this report's (epoch, seq) and stored nothing


def _answer(body: bytes) -> dict[str, Any]:
    """The hub's small JSON answer; anything else (a proxy's page) is no answer."""
    try:
        answer = json.loads(body[:4096])
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _never_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection was never made (refused, no route, DNS): nothing reached the hub."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # MaxRetryError wraps the cause
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


class Sender:
    def __init__(self, url: str, session: requests.Session | None = None) -> None:
        self.url = url.rstrip("/")
        self.session = session or requests.Session()
        self.session.headers.update({"User-Agent": f"signage/{__version__}", "Content-Type": "application/json"})
        self.timeout: tuple[float, float] = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S)

    def target(self, entry: Entry) -> str:
        return f"{self.url}/screenshot" if entry.kind == "screenshot" else self.url

    def post(self, entry: Entry) -> Outcome:
        url = self.target(entry)
        try:
            response = self.session.post(url, data=entry.envelope, timeout=self.timeout, allow_redirects=False)
        except requests.ConnectionError as exc:
            if _never_sent(exc):
                return Outcome(False, f"{url}: cannot connect", stop=True)
            return Outcome(False, f"{url}: connection lost before the answer", uncertain=True, stop=True)
        except requests.Timeout:
            return Outcome(False, f"{url}: no answer in {self.timeout[1]:.0f} s", uncertain=True, stop=True)
        except requests.RequestException as exc:
            return Outcome(False, f"{url}: {exc.__class__.__name__}", uncertain=True, stop=True)
        with response:
            answer = _answer(response.content)
            if 200 <= response.status_code < 300:
                same = answer.get("same")
                return Outcome(True, duplicate=answer.get("duplicate") is True, same=same if isinstance(same, bool) else None)
            detail = response.text[:200].strip().replace("\n", " ")
            error = f"{url}: HTTP {response.status_code} {detail}".rstrip()
            if response.status_code == 409 and answer.get("collision") is True:
                return Outcome(False, error, collision=True)
            if response.status_code >= 500:
                return Outcome(False, error, uncertain=True, stop=True)
            # 4xx: the hub refused it and stored nothing. 401/403 refuse every report of this board alike.
            return Outcome(False, error, stop=response.status_code in (401, 403, 408, 429))
