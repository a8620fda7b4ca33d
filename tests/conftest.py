"""Shared fixtures: a dummy SDL display, config files written into temp folders."""

from __future__ import annotations

import asyncio
import os
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame
import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

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
            _drop_database(psycopg, admin, name)


def _drop_database(psycopg: Any, admin: Any, name: str) -> None:
    """DROP … WITH (FORCE), tried again for a few seconds: an autovacuum worker (the superuser's) connected to the
    database cannot be terminated by the tests' role ("must be a member of the role whose process is being
    terminated"), and leaves within moments (seen once in CI, as an error in a test that had passed)."""
    import time

    for attempt in range(40):
        try:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
            if attempt == 39:
                raise
            time.sleep(0.25)


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Browser]:
    """Debian's Chromium (`make test` installs it), headless, driven by Playwright; one for the whole session.

    Never `playwright install`: the browser is /usr/bin/chromium. Skipped when it is missing, except where
    SIGNAGE_REQUIRE_CHROMIUM=1 (CI) makes that a failure. Created only when a test asks for it, so the
    tests that do not never start Playwright (whose sync API runs an event loop of its own).
    """
    import shutil

    def missing(what: str) -> NoReturn:
        if os.environ.get("SIGNAGE_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"{what} is required and missing (make test installs it)")
        pytest.skip(f"no {what} (make test installs it)")

    executable = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")
    if executable is None:
        missing("chromium (Debian package)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright (the dev extra)")
    with sync_playwright() as p:
        # In Vietnamese, as the officers' browsers are: the pages' date, time and file controls then read as they see
        # them in the screenshots a person looks at (dd/mm/yyyy, 24 h, "Chọn tệp"); Playwright's locale alone does not.
        env = {**os.environ, "LANGUAGE": "vi"}
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS, env=env)
        _playwright_loops.add(asyncio.get_running_loop())
        try:
            yield browser
        finally:
            browser.close()
            _playwright_loops.clear()


# Between its calls Playwright's sync API leaves its event loop marked as this thread's running loop, so once the
# session's browser is up, asyncio.run() and run_until_complete() in any later test would fail ("cannot be called from
# a running event loop"). Tests that do not use the browser get the thread's loop marker cleared while they run.
_playwright_loops: set[asyncio.AbstractEventLoop] = set()


@pytest.fixture(autouse=True)
def _hide_playwright_loop(request: pytest.FixtureRequest) -> Iterator[None]:
    loop = asyncio._get_running_loop()
    if loop is None or loop not in _playwright_loops or "chromium_browser" in request.fixturenames:
        yield
        return
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(loop)
