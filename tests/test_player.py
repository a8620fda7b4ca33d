"""The player loop, stepped with a test clock: rotation, crossfades without a dark frame, bad media skipped."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import Future, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pygame
import pytest

from signage.config import load_config
from signage.player import Player
from signage.render.output import HeadlessOutput

from .conftest import ROOT

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass
class StepClock:
    """Time that moves only when the test says so."""

    start: datetime = field(default_factory=lambda: datetime(2026, 11, 23, 9, 0, tzinfo=HCM))
    t: float = 0.0

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.t)

    def monotonic(self) -> float:
        return self.t


def board(tmp_path: Path, bulletins: str, *, extra: str = "") -> Path:
    (tmp_path / "list.toml").write_text(textwrap.dedent(bulletins), encoding="utf-8")
    config = tmp_path / "board.toml"
    config.write_text(
        textwrap.dedent(
            """
            [board]
            id = "tan-quan"
            name = "UBND xã Tân Quan"
            data_dir = "state"
            [playlists]
            paths = ["list.toml"]
            [display]
            size = "640x360"
            transition_seconds = 0.5
            """
        )
        + extra,
        encoding="utf-8",
    )
    return config


THREE = """
[[bulletins]]
id = "a"
kind = "text"
title = "Một"
body = "Nội dung thứ nhất."
duration_s = 2
[[bulletins]]
id = "b"
kind = "text"
title = "Hai"
body = "Nội dung thứ hai."
duration_s = 2
[[bulletins]]
id = "c"
kind = "text"
title = "Ba"
body = "Nội dung thứ ba."
duration_s = 2
"""


def make_player(config_path: Path, clock: StepClock) -> Player:
    config = load_config(config_path)
    return Player(config, HeadlessOutput(config.display), clock)


@contextmanager
def started(config_path: Path, clock: StepClock) -> Iterator[Player]:
    """A headless player, started, and closed with its output whatever the test does."""
    player = make_player(config_path, clock)
    try:
        player.start()
        yield player
    finally:
        player.close()
        player.output.close()


def run_for(player: Player, clock: StepClock, seconds: float, fps: int = 30) -> list[tuple[float, str | None, float]]:
    """Step the loop; per frame: time, bulletin on screen, brightness of the slide area."""
    seen = []
    for _ in range(round(seconds * fps)):
        clock.t += 1 / fps
        if player._jobs:
            wait(list(player._jobs.values()), timeout=10)  # composing is real work in a real thread: let it finish
        player.step()
        slide = player.slide
        bulletin = slide.playable.bulletin.id if slide and slide.playable else None
        brightness = sum(pygame.transform.average_color(player.frame.surface, player.layout.slide)[:3])
        seen.append((clock.t, bulletin, brightness))
    return seen


def test_rotates_in_order_with_crossfades_and_never_a_dark_frame(tmp_path: Path) -> None:
    clock = StepClock()
    with started(board(tmp_path, THREE), clock) as player:
        seen = run_for(player, clock, 10.5)
    order = [bulletin for _, bulletin, _ in seen]
    changes = [b for i, b in enumerate(order) if i == 0 or b != order[i - 1]]
    assert changes == ["a", "b", "c", "a", "b", "c"]
    starts = [t for i, (t, b, _) in enumerate(seen) if i and b != seen[i - 1][1]]
    assert [round(t, 1) for t in starts] == [2.0, 4.0, 6.0, 8.0, 10.0]
    darkest = min(brightness for _, _, brightness in seen)
    assert darkest > 60, f"a frame went dark ({darkest})"  # the navy slide sums to about 110


def test_a_slow_slide_keeps_the_current_one_on_screen(tmp_path: Path) -> None:
    clock = StepClock()
    with started(board(tmp_path, THREE), clock) as player:
        key = ("b", 1)
        real_job = player._jobs.pop(key, None)
        if real_job is None:  # already composed: put it back in the oven
            real_job = Future()
            real_job.set_result(player._ready.pop(key))
        player._jobs[key] = Future()  # still composing
        clock.t = 2.5
        player.step()
        assert player.turn.playable.bulletin.id == "a" and player.slide.playable.bulletin.id == "a"
        player._jobs[key] = real_job
        wait([real_job], timeout=10)
        clock.t = 2.6
        player.step()
        assert player.slide.playable.bulletin.id == "b"


def test_a_broken_image_is_skipped_and_the_board_carries_on(tmp_path: Path, caplog) -> None:
    (tmp_path / "hong.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 50)
    shutil.copy(ROOT / "assets" / "demo" / "thu-gom-rac.png", tmp_path / "rac.png")
    bulletins = THREE + textwrap.dedent(
        """
        [[bulletins]]
        id = "broken"
        kind = "image"
        title = "Ảnh hỏng"
        media = "hong.jpg"
        [[bulletins]]
        id = "rac"
        kind = "image"
        title = "Thu gom rác"
        media = "rac.png"
        duration_s = 2
        """
    )
    clock = StepClock()
    with started(board(tmp_path, bulletins), clock) as player:
        seen = run_for(player, clock, 14)
    shown = {b for _, b, _ in seen}
    assert shown == {"a", "b", "c", "rac"}
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].startswith(f"{tmp_path / 'hong.jpg'}: ")
    assert "\n" not in errors[0]


def test_nothing_playable_shows_the_idle_slide(tmp_path: Path) -> None:
    expired = """
    [[bulletins]]
    id = "old"
    kind = "text"
    title = "Cũ"
    body = "Đã hết hạn."
    valid_until = 2026-11-01T00:00:00+07:00
    """
    clock = StepClock()
    with started(board(tmp_path, expired), clock) as player:
        run_for(player, clock, 1)
        assert player.slide is not None and player.slide.playable is None
        brightness = sum(pygame.transform.average_color(player.frame.surface, player.layout.slide)[:3])
        assert brightness > 60


def test_play_headless_for_seconds_with_screenshots(tmp_path: Path) -> None:
    shots = tmp_path / "shots"
    result = subprocess.run(
        [sys.executable, "-m", "signage", "play", "--headless", "--for", "2.5", "--screenshot-dir", str(shots), "--screenshot-every", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "first frame on screen" in result.stderr
    pngs = sorted(shots.glob("frame-*.png"))
    assert 2 <= len(pngs) <= 4
    assert not list(shots.glob(".*"))  # no half-written temporaries left
    image = pygame.image.load(pngs[-1])
    assert image.get_size() == (1920, 1080)


def test_play_without_a_display_says_so_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    result = subprocess.run([sys.executable, "-m", "signage", "play"], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("signage: error: no display") and "python3 -m signage play --headless" in lines[0]


def test_the_no_display_hint_names_the_program_as_it_was_started_not_a_bare_name_off_the_path(tmp_path: Path) -> None:
    """A fresh clone's `make run` on a machine with no screen hinted `signage play --headless`: not on the PATH."""
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    program = Path(sys.executable).parent / "signage"  # the venv's console script, as `make run` starts it
    result = subprocess.run([str(program), "play"], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert result.returncode == 1
    hint = result.stderr.split("`")[1]
    assert hint.startswith(f"{program} play --headless --for 30 --screenshot-dir screenshots"), hint


def test_play_headless_alone_saves_frames_a_newcomer_can_see(tmp_path: Path) -> None:
    """`signage play --headless` alone ran forever and wrote nothing: now frames land in ./screenshots and it says so."""
    result = subprocess.run(
        [sys.executable, "-m", "signage", "play", "--headless", "--for", "1.5"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "a frame every 5 s into screenshots/" in result.stderr
    assert list((tmp_path / "screenshots").glob("frame-*.png"))


def test_usage_errors_exit_2() -> None:
    result = subprocess.run([sys.executable, "-m", "signage", "play", "--for", "-1"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2


@pytest.mark.parametrize("flag", ["--screenshot-dir=x", "--screenshot-every=3"])
def test_screenshot_options_go_together(flag: str) -> None:
    result = subprocess.run([sys.executable, "-m", "signage", "play", "--headless", flag], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "go together" in result.stderr


EMERGENCY = """
[[bulletins]]
id = "bao"
kind = "text"
priority = "emergency"
title = "Khẩn cấp: bão số 9"
body = "Bà con khẩn trương gia cố nhà cửa, không ra đồng."
"""


def test_an_emergency_saved_into_a_playlist_is_on_screen_within_a_second(tmp_path: Path) -> None:
    config = board(tmp_path, THREE)
    clock = StepClock()
    with started(config, clock) as player:
        run_for(player, clock, 3)
        assert player.slide.playable.bulletin.id == "b"
        with (tmp_path / "list.toml").open("a", encoding="utf-8") as handle:
            handle.write(textwrap.dedent(EMERGENCY))
        saved_at = clock.t
        player.jobs.scheduler.get_job("playlists").func()  # the watch job's next run, now
        seen = run_for(player, clock, 1)
        first = next(t for t, bulletin, _ in seen if bulletin == "bao")
        assert first - saved_at <= 1.0
        assert {b for t, b, _ in seen if t > first} == {"bao"}
        colour = player.frame.surface.get_at((player.layout.slide.centerx, player.layout.slide.top + 2))
        assert colour.r > 100 and colour.b < 60  # the red of an emergency slide


def test_the_playlist_watch_job_runs_under_apscheduler(tmp_path: Path) -> None:
    from signage.jobs import ContentChanged, Jobs
    from signage.playlist import load_playlists

    config = load_config(board(tmp_path, THREE))
    jobs = Jobs.for_board(
        config, load_playlists(config.playlists).playables, lambda: load_playlists(config.playlists).playables, playlist_seconds=0.2
    )
    jobs.start()
    try:
        time.sleep(0.5)
        assert jobs.drain() == []  # nothing changed, nothing posted
        with (tmp_path / "list.toml").open("a", encoding="utf-8") as handle:
            handle.write(textwrap.dedent(EMERGENCY))
        deadline = time.monotonic() + 10
        events: list = []
        while not events and time.monotonic() < deadline:
            time.sleep(0.05)
            events = jobs.drain()
        assert len(events) == 1 and isinstance(events[0], ContentChanged)
        assert [p.bulletin.id for p in events[0].playables] == ["a", "b", "c", "bao"]
    finally:
        jobs.shutdown()


def test_outside_screen_hours_the_frame_is_black_and_still(tmp_path: Path) -> None:
    config = board(tmp_path, THREE, extra='on = "06:00"\noff = "22:00"\n')
    clock = StepClock(start=datetime(2026, 11, 23, 21, 59, 58, tzinfo=HCM))
    with started(config, clock) as player:
        seen = run_for(player, clock, 4)
        assert seen[0][2] > 60 and seen[-1][2] == 0
        assert not player.frame.animating
        assert pygame.transform.average_color(player.frame.surface)[:3] == (0, 0, 0)
