"""`signage render`: one full frame, as the board would show it, to a PNG."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pygame

from signage.config import BoardConfig
from signage.content import load_content
from signage.errors import BulletinError, MediaError, NeedsPages, SignageError
from signage.inbox.rules import kind_of
from signage.limits import parse_problem
from signage.media.docxfile import read_docx
from signage.media.images import take_image
from signage.media.office import read_office_notice, reads_as_notice, to_pdf
from signage.media.probe import judge
from signage.media.sniff import EXTENSION_TYPES
from signage.media.textfile import read_notice
from signage.model import MEDIA_TYPES, BulletinInput, Kind, Playable, Source, parse_bulletin
from signage.paths import LOGO
from signage.playlist import describe_media, load_playlist, playable_from_table
from signage.render.composer import compose
from signage.render.fonts import FontBook, font_files
from signage.render.frame import Frame
from signage.render.header import load_logo
from signage.render.layout import Layout
from signage.render.output import save_png
from signage.render.ticker import ticker_items


def resolve_source(config: BoardConfig, source: str, work: Path | None = None) -> Playable:
    """A bulletin id held by the board, a bulletin `.toml`, or a `.txt`, image, video or sound file.

    An image is judged as the drop folder judges it (a HEIC, GIF, BMP or TIFF converted) on a copy in `work`;
    a video or sound file by its streams (an iPhone .MOV, a .wav).
    """
    path = Path(source)
    if path.suffix.lower() == ".toml":
        return _from_toml(path)
    if path.suffix.lower() == ".txt":
        title, body = read_notice(path)
        data = {"id": "local", "kind": "text", "title": title, "body": body}
        return Playable(parse_bulletin(data, BulletinInput(str(path), Source.INBOX)))
    if (path.suffix.lower() == ".docx" or reads_as_notice(path.name)) and work is not None and path.is_file():
        try:  # a .doc, .odt or .rtf read from LibreOffice's .docx of it
            title, body = read_office_notice(path, work / "converted") if reads_as_notice(path.name) else read_docx(path)
        except NeedsPages as pages_needed:  # a ruled table or a picture: LibreOffice's pages of it, as the drop folder shows it
            pdf = work / "pages.pdf"
            shutil.copyfile(to_pdf(path, work / "converted"), pdf)
            media = {**describe_bytes(pdf), "type": "application/pdf"}
            title = getattr(pages_needed, "title", None) or path.stem
            data = {"id": "local", "kind": Kind.PDF.value, "title": title, "media": media}
            return Playable(parse_bulletin(data, BulletinInput(str(path), Source.INBOX)), pdf.resolve())
        data = {"id": "local", "kind": Kind.TEXT.value, "title": title, "body": body}
        return Playable(parse_bulletin(data, BulletinInput(str(path), Source.INBOX)))
    kinds = kind_of(path.name)
    if kinds is not None and kinds[0] is Kind.IMAGE and work is not None and path.is_file():
        copy = work / f"picture{path.suffix.lower()}"
        shutil.copyfile(path, copy)
        taken = take_image(copy)
        if taken is None:
            raise MediaError(f"{path}: named {path.suffix}, but the bytes are no image")
        media_type, sha256, size = taken
        media = {"sha256": sha256, "bytes": size, "type": media_type}
        data = {"id": "local", "kind": Kind.IMAGE.value, "title": path.stem, "media": media}
        return Playable(parse_bulletin(data, BulletinInput(str(path), Source.INBOX)), copy.resolve())
    if kinds is not None and kinds[0] in (Kind.VIDEO, Kind.AUDIO) and path.is_file():
        found = judge(path)
        media = {**describe_bytes(path), "type": found.media_type}
        data = {"id": "local", "kind": MEDIA_TYPES[found.media_type].value, "title": found.title or path.stem, "media": media}
        return Playable(parse_bulletin(data, BulletinInput(str(path), Source.INBOX)), path.resolve(), found.seconds)
    if path.suffix.lower() in EXTENSION_TYPES:
        media = describe_media(path)
        data = {"id": "local", "kind": MEDIA_TYPES[media["type"]].value, "title": path.stem, "media": media}
        return Playable(parse_bulletin(data, BulletinInput(str(path), Source.INBOX)), path.resolve())
    if path.exists():
        raise SignageError(f"{path}: cannot render this kind of file (expected .toml, .txt, or a file the drop folder takes)")
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


def describe_bytes(path: Path) -> dict[str, object]:
    """The SHA-256 and size of a local file, for a `media` object whose type is judged elsewhere."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return {"sha256": digest.hexdigest(), "bytes": size}


def render_frame(config: BoardConfig, source: str, out: Path, *, size: tuple[int, int], at: datetime) -> None:
    with tempfile.TemporaryDirectory(prefix="signage-render-") as work:
        _render_frame(config, resolve_source(config, source, Path(work)), out, size=size, at=at)


def _render_frame(config: BoardConfig, playable: Playable, out: Path, *, size: tuple[int, int], at: datetime) -> None:
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
