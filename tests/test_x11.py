"""The player on a real X server (Xvfb): fullscreen, a region at an offset, a rotated frame."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is needed (make test installs the xvfb package)")


@pytest.fixture(scope="module")
def x_display() -> Iterator[str]:
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x720x24", "-nolisten", "tcp"], pass_fds=(write,))
    os.close(write)
    try:
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()
        assert number, "Xvfb did not start"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def x_env(display: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SDL_VIDEODRIVER", "WAYLAND_DISPLAY")}
    env["DISPLAY"] = display
    return env


def test_play_fullscreen_on_x(x_display: str, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "signage", "play", "--for", "2"]
    result = subprocess.run(command, env=x_env(x_display), capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "x11 driver, output 1280x720, frame 1280x720 at 0,0, rotate 0" in result.stderr
    assert "first frame on screen" in result.stderr


PROBE = """
import sys
from signage.config import DisplaySection
from signage.render.output import DisplayOutput
import pygame
out = DisplayOutput(DisplaySection(size=(384, 192), offset=(100, 50), rotate={rotate}))
frame = out.frame
frame.fill((0, 0, 255))
frame.fill((255, 0, 0), (0, 0, frame.get_width(), 10))  # a red band along the frame's top
out.present(None)
window = pygame.display.get_surface()
def at(x, y):
    return tuple(window.get_at((x, y)))[:3]
print(frame.get_size(), at(99, 49), at(100 + {probe_x}, 50 + {probe_y}), at(100 + 192, 50 + 96))
"""


@pytest.mark.parametrize(
    ("rotate", "frame", "probe"),
    [(0, (384, 192), (190, 2)), (90, (192, 384), (381, 100)), (270, (192, 384), (2, 100))],
)
def test_region_at_offset_and_rotation_on_x(x_display: str, rotate: int, frame: tuple[int, int], probe: tuple[int, int]) -> None:
    """The frame lands in the LED card's region; turned clockwise, its top edge goes to the right."""
    script = textwrap.dedent(PROBE).format(rotate=rotate, probe_x=probe[0], probe_y=probe[1])
    result = subprocess.run([sys.executable, "-c", script], env=x_env(x_display), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{frame} (0, 0, 0) (255, 0, 0) (0, 0, 255)"
