"""Screen power at the engine's screen hours: DPMS, then HDMI-CEC; the player's black frame is the floor."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

COMMAND_TIMEOUT_SECONDS = 5.0
CEC_DEVICE = Path("/dev/cec0")

Runner = Callable[[Sequence[str]], bool]


def run_command(argv: Sequence[str]) -> bool:
    """True when the command ran and succeeded; a missing tool, a hang or a failure is False, never an exception."""
    try:
        completed = subprocess.run(list(argv), capture_output=True, timeout=COMMAND_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("%s: %s", argv[0], exc)
        return False
    if completed.returncode != 0:
        log.debug("%s exited %d: %s", " ".join(argv), completed.returncode, completed.stderr.decode(errors="replace").strip())
    return completed.returncode == 0


class ScreenPower:
    """Turns the screen on and off by every method this machine has; returns which worked.

    `override(True/False)` pins the screen (a district `display_on`/`display_off` command)
    until the next scheduled change; `override(None)` clears it.
    """

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        run: Runner = run_command,
        which: Callable[[str], str | None] = shutil.which,
        cec_device: Path = CEC_DEVICE,
    ) -> None:
        self.environ = os.environ if environ is None else environ
        self.run = run
        self.which = which
        self.cec_device = cec_device
        self.overridden: bool | None = None
        self._lock = threading.Lock()  # the player calls from a worker: one change at a time, in order

    def methods(self, on: bool) -> list[tuple[str, list[str]]]:
        found: list[tuple[str, list[str]]] = []
        if self.environ.get("DISPLAY") and self.which("xset"):
            found.append(("dpms", ["xset", "dpms", "force", "on" if on else "off"]))
        if self.which("cec-ctl") and self.cec_device.exists():
            found.append(("cec", ["cec-ctl", "--to", "0", "--image-view-on" if on else "--standby"]))
        return found

    def set(self, on: bool) -> list[str]:
        """Every method that worked (empty: only the black frame stands between the screen and the night)."""
        with self._lock:
            return [name for name, argv in self.methods(on) if self.run(argv)]

    def on(self) -> list[str]:
        return self.set(True)

    def off(self) -> list[str]:
        return self.set(False)

    def override(self, on: bool | None) -> list[str]:
        """Pin the screen on or off (a district command) until the next scheduled change; None clears the pin."""
        self.overridden = on
        return [] if on is None else self.set(on)
