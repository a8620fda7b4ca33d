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


POSTGRES_ADMIN_URL = os.environ.get("SIGNAGE_TEST_POSTGRES", "postgresql://signage:signage@127.0.0.1:5432/signage_test")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the real server `make test` starts; dropped afterwards.

    Skipped when no server answers, except where SIGNAGE_REQUIRE_POSTGRES=1 (CI) makes that a failure.
    """
    import uuid

    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("SIGNAGE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL at {POSTGRES_ADMIN_URL} is required and does not answer: {exc}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_ADMIN_URL} (make test starts one)")
    name = f"signage_t_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
        try:
            yield f"{base}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
