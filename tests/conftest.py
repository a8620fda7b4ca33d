"""Shared fixtures: a dummy SDL display, config files written into temp folders."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def display() -> Iterator[None]:
    """A 1x1 dummy window, so surfaces can be converted to the display's format."""
    pygame.display.init()
    pygame.display.set_mode((1, 1))
    pygame.font.init()
    yield
    pygame.display.quit()


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Write a board config (dedented TOML) into a temp folder and return its path."""

    def write(text: str, name: str = "board.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write
