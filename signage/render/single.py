"""`signage render`: one full frame, as the board would show it, to a PNG."""

from __future__ import annotations

import os
import re
import signal
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pygame

from signage.config import BoardConfig
from signage.content import load_content
from signage.errors import BulletinError, SignageError
from signage.limits import parse_problem
from signage.media.sniff import EXTENSION_TYPES
from signage.media.textfile import read_notice
from signage.model import MEDIA_TYPES, BulletinInput, Playable, Source, parse_bulletin
from signage.paths import LOGO
from signage.playlist import describe_media, load_playlist, playable_from_table
from signage.render.composer import compose
from signage.render.fonts import FontBook, font_files
from signage.render.frame import Frame
from signage.render.header import load_logo
from signage.render.layout import Layout
from signage.render.output import save_png
from signage.render.ticker import ticker_items


def resolve_source(config: BoardConfig, source: str) -> Playable:
    """A bulletin id held by the board, a bulletin `.toml`, or a `.txt` or image file."""
    path = Path(source)
    if path.suffix.lower() == ".toml":
        return _from_toml(path)
    if path.suffix.lower() == ".txt":
        title, body = read_notice(path)
        data = {"id": "local", "kind": "text", "title": title, "body": body}
        return Playable(parse_bulletin(data, BulletinInput(str(path), Source.INBOX)))
    if path.suffix.lower() in EXTENSION_TYPES:
        media = describe_media(path)
        data = {"id": "local", "kind": MEDIA_TYPES[media["type"]].value, "title": path.stem, "media": media}
        return Playable(parse_bulletin(data, BulletinInput(str(path), Source.INBOX)), path.resolve())
    if path.exists():
        raise SignageError(f"{path}: cannot render this kind of file (expected .toml, .txt, .jpg, .png, .webp)")
    for playable in load_content(config):
        if playable.bulletin.id == source:
            return playable
    raise SignageError(f"{source}: no such file, and no bulletin with that id on board {config.board.id!r}")


def _from_toml(path: Path) -> Playable:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SignageError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BulletinError(f"{path}: cannot read bulletin: {exc}") from None
    except ValueError as exc:  # TOMLDecodeError, or a number of thousands of digits
        raise BulletinError(f"{path}: cannot read bulletin: {parse_problem(exc)}") from None
    if "bulletins" in data:  # a playlist: it must hold exactly one
        loaded = load_playlist(path)
        if loaded.errors:
            raise BulletinError(loaded.errors[0])
        if len(loaded.playables) != 1:
            raise BulletinError(f"{path}: holds {len(loaded.playables)} bulletins; render one by its id with --config")
        return loaded.playables[0]
    data.setdefault("id", re.sub(r"[^a-z0-9-]", "-", path.stem.lower())[:64] or "bulletin")
    return playable_from_table(path, 0, data)


@contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """SIGTERM and SIGINT end the render at once, whatever it is doing (their default action).

    SDL, once its display is up, turns both into a quit event that a one-shot render never reads:
    the review's `signage render` ran on for 13 minutes after SIGTERM. A Python handler would not
    do either: raised inside pygame's read of a file, its KeyboardInterrupt becomes a pygame.error
    that is caught as a bad logo or image. A render has nothing to save on the way out (its PNG is
    written to a temporary name and renamed), so the default action is the right one.
    """
    previous = {sig: signal.signal(sig, signal.SIG_DFL) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if handler is not None:  # None: a handler set outside Python (SDL's, were its hint overridden)
                signal.signal(sig, handler)


def render_frame(config: BoardConfig, source: str, out: Path, *, size: tuple[int, int], at: datetime) -> None:
    playable = resolve_source(config, source)
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_NO_SIGNAL_HANDLERS", "1")  # SDL leaves SIGTERM and SIGINT alone: they are ours
    pygame.display.init()
    with _stopped_by_signals():
        try:
            pygame.display.set_mode((1, 1))
            layout = Layout.for_size(*size, ticker=config.ticker.enabled)
            fonts = FontBook(font_files(config))
            logo = load_logo(config.display.logo or LOGO)
            frame = Frame(layout, fonts, config.board.name, logo, ticker_speed=config.ticker.pixels_per_second)
            slide = compose(playable, layout, fonts)
            frame.show(slide.pages[0], fade=False)
            frame.set_ticker(ticker_items(config, [playable]))
            frame.update(at, 0.0)
            save_png(frame.surface, out)
        finally:
            pygame.display.quit()
