"""Running under systemd: sd_notify over a real datagram socket, screen power without tools, `signage doctor`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import wait
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from signage.config import load_config
from signage.kiosk.doctor import Level, clock_checks, health
from signage.kiosk.notify import FrameWatchdog, Notifier
from signage.kiosk.power import ScreenPower
from signage.player import Player
from signage.render.output import HeadlessOutput

from .conftest import ROOT
from .test_player import THREE, board

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
WATCHDOG_USEC = 200_000  # pings due every 0.1 s


class RealClock:
    """The wall and monotonic clocks as they are: the watchdog is about real time passing."""

    def now(self) -> datetime:
        return datetime.now(HCM)

    def monotonic(self) -> float:
        return time.monotonic()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(tmp_path / "notify"))
    server.setblocking(False)
    yield server
    server.close()


def drain(server: socket.socket) -> list[tuple[float, str]]:
    received = []
    while True:
        try:
            received.append((time.monotonic(), server.recv(4096).decode()))
        except BlockingIOError:
            return received


def environment(path: str) -> dict[str, str]:
    return {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": str(WATCHDOG_USEC), "WATCHDOG_PID": str(os.getpid())}


def test_ready_after_the_first_frame_and_pings_stop_when_the_loop_freezes(tmp_path: Path, notify_socket: socket.socket) -> None:
    config = load_config(board(tmp_path, THREE))
    notifier = Notifier.from_environment(environment(str(tmp_path / "notify")))
    assert notifier.watchdog_seconds == pytest.approx(0.2)
    player = Player(config, HeadlessOutput(config.display), RealClock(), notifier=notifier)
    try:
        player.start()
        assert drain(notify_socket) == [], "nothing may be announced before a frame is on screen"
        stepped_until = time.monotonic() + 1.0
        first_frame_at = None
        while time.monotonic() < stepped_until:
            if player._jobs:
                wait(list(player._jobs.values()), timeout=10)
            player.step()
            first_frame_at = first_frame_at or time.monotonic()
            time.sleep(1 / 60)
        playing = drain(notify_socket)
        time.sleep(1.0)  # the loop frozen: step() not called
        frozen = drain(notify_socket)
        player.step()  # the loop comes back: so do the pings
        back = drain(notify_socket)
    finally:
        player.close()
        player.output.close()
    messages = [message for _, message in playing]
    assert messages[0] == "READY=1\nSTATUS=playing a"
    assert playing[0][0] >= first_frame_at
    pings = [at for at, message in playing if message == "WATCHDOG=1"]
    assert 4 <= len(pings) <= 12, f"{len(pings)} pings in 1 s at half of 0.2 s"  # 10 due; slack for a loaded machine
    assert frozen == []
    assert [message for _, message in back] == ["WATCHDOG=1"]
    assert drain(notify_socket) == [(pytest.approx(time.monotonic(), abs=1), "STOPPING=1")]


def test_a_frame_that_did_not_advance_or_is_not_alive_feeds_nothing(tmp_path: Path, notify_socket: socket.socket) -> None:
    notifier = Notifier(str(tmp_path / "notify"), 0.2)
    watchdog = FrameWatchdog(notifier)
    watchdog.frame_presented(1, 10.0)
    watchdog.frame_presented(1, 10.5)  # the same frame again: the picture is stuck
    watchdog.frame_presented(2, 10.6, alive=False)  # presented, but the loop's clock stood still
    watchdog.frame_presented(3, 10.65)  # a new frame, alive, past the half-timeout since the first ping
    assert [message for _, message in drain(notify_socket)] == ["WATCHDOG=1", "WATCHDOG=1"]
    assert watchdog.pings == 2


def test_abstract_socket_name_and_the_environment_rules() -> None:
    name = f"signage-test-{uuid.uuid4().hex}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind("\0" + name)
    server.settimeout(2)
    try:
        notifier = Notifier.from_environment({"NOTIFY_SOCKET": "@" + name})
        assert notifier.watchdog_seconds is None
        assert notifier.status("syncing feed") and notifier.ready()
        assert server.recv(4096) == b"STATUS=syncing feed"
        assert server.recv(4096) == b"READY=1"
        notifier.close()
    finally:
        server.close()
    another_process = Notifier.from_environment({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
    assert another_process.watchdog_seconds is None
    unset = Notifier.from_environment({})
    assert not unset.enabled and not unset.ready() and not unset.watchdog()


def test_a_vanished_socket_is_logged_once_and_never_raises(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier(str(tmp_path / "gone"), 0.2)
    for _ in range(5):
        assert notifier.watchdog() is False
    assert len([r for r in caplog.records if "sd_notify" in r.getMessage()]) == 1


def test_screen_power_without_display_or_cec_returns_nothing_and_never_raises(tmp_path: Path) -> None:
    power = ScreenPower({}, which=lambda _: None, cec_device=tmp_path / "cec0")
    assert power.on() == [] and power.off() == []
    assert power.override(False) == [] and power.overridden is False
    broken = ScreenPower({"DISPLAY": ":99"}, which=lambda name: f"/nonexistent/{name}")
    assert broken.off() == []  # xset ran against a display that is not there: a failure, not an exception


def test_screen_power_tries_dpms_then_cec_with_argument_lists(tmp_path: Path) -> None:
    (tmp_path / "cec0").touch()
    ran: list[list[str]] = []

    def run(argv: object) -> bool:
        ran.append(list(argv))  # type: ignore[call-overload]
        return argv[0] == "cec-ctl"  # type: ignore[index]

    power = ScreenPower({"DISPLAY": ":0"}, run=run, which=lambda name: f"/usr/bin/{name}", cec_device=tmp_path / "cec0")
    assert power.off() == ["cec"]
    assert ran == [["xset", "dpms", "force", "off"], ["cec-ctl", "--to", "0", "--standby"]]


def test_the_player_powers_the_screen_at_screen_hours_off_the_loop(tmp_path: Path) -> None:
    config = load_config(board(tmp_path, THREE, extra='on = "06:00"\noff = "09:01"\n'))

    class Clock:
        t = 0.0

        def now(self) -> datetime:
            return datetime(2026, 11, 23, 9, 0, 58, tzinfo=HCM) + timedelta(seconds=self.t)

        def monotonic(self) -> float:
            return self.t

    switched: list[tuple[bool, str]] = []

    class Recorder(ScreenPower):
        def set(self, on: bool) -> list[str]:
            switched.append((on, threading.current_thread().name))
            return []

    clock = Clock()
    player = Player(config, HeadlessOutput(config.display), clock, notifier=Notifier(None), power=Recorder({}))
    try:
        player.start()
        for _ in range(40):  # across 09:01, when the screen hours end
            clock.t += 0.1
            player.step()
    finally:
        player.close()
        player.output.close()
    assert [on for on, _ in switched] == [True, False]
    assert all(name.startswith("screen-power") for _, name in switched)


def test_doctor_reports_clock_and_disk(tmp_path: Path) -> None:
    config = load_config(board(tmp_path, THREE))
    now = datetime(2026, 11, 23, 9, 0, tzinfo=HCM)
    checks = health(config, now, ntp=lambda: True, environ={"DISPLAY": ":0"})
    names = [check.name for check in checks]
    assert {"clock", "disk", "cache", "feed", "display", "errors"} <= set(names)
    assert all(check.level is Level.OK for check in checks), [check.line() for check in checks]
    unsynced = health(config, now, ntp=lambda: False, environ={})
    assert [check.line() for check in unsynced if check.level is Level.BAD] == ["BAD  clock: 2026-11-23 09:00:00 +07; NTP not synchronised"]


def doctor(config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy"}
    return subprocess.run(
        [sys.executable, "-m", "signage", "doctor", "--config", str(config)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )


def test_doctor_command_exit_codes(tmp_path: Path) -> None:
    healthy = doctor(board(tmp_path, THREE))
    lines = healthy.stdout.splitlines()
    assert any(line.split()[1] == "disk:" for line in lines) and any(line.split()[1] == "clock:" for line in lines)
    bad = [line for line in lines if line.startswith("BAD")]
    # NTP may be really unsynchronised on the machine running the tests: then, and only then, exit 1.
    assert healthy.returncode == (1 if bad else 0), healthy.stdout + healthy.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    config = board(broken, '[[bulletins]]\nid = "x"\nkind = "nonsense"\n')
    failed = doctor(config)
    assert failed.returncode == 1
    assert any(line.startswith("BAD  errors:") for line in failed.stdout.splitlines())
    assert failed.stderr.strip().splitlines()[-1].startswith("signage: error: ")


def test_doctor_says_when_the_clock_is_earlier_than_the_trusted_time() -> None:
    now = datetime(2026, 1, 1, 8, 0, tzinfo=HCM)
    feed = {"clock_behind_trusted_time": True, "trusted_time": "2026-11-23T09:00:00+07:00"}
    checks = clock_checks(True, now, feed)
    assert [check.level for check in checks] == [Level.OK, Level.BAD]
    assert "clock earlier than trusted time 2026-11-23T09:00:00+07:00" in checks[1].text
