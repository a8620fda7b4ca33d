"""One bulletin's frame as PNG bytes, drawn by the player's own code, and the worker process that draws them for the hub.

The hub runs `serve` in a process of its own (signage/district/hub/preview.py): a decoder that hangs
or crashes there is killed without taking the web server with it. Nothing here reads the clock.
"""

from __future__ import annotations

import io
import math
import os
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

from signage.errors import MediaError, OverLimit, SignageError
from signage.model import Bulletin, Kind, Playable

if TYPE_CHECKING:
    import pygame

    from signage.render.fonts import FontBook


@dataclass(frozen=True, slots=True)
class FrameRequest:
    """What to draw: a bulletin (with its media on local disk, if any) on a frame of `size`, at `now`."""

    bulletin: Bulletin
    media_path: Path | None
    size: tuple[int, int]
    now: datetime  # the header's date and clock
    header_title: str  # the name in the header: the commune's, as the boards show it


class Painter:
    """What every frame shares within one worker: the fonts and the logo (loaded once, as the player does)."""

    def __init__(self) -> None:
        import pygame

        from signage.paths import LOGO
        from signage.render.fonts import FontBook, FontFiles
        from signage.render.header import load_logo

        if pygame.display.get_surface() is None:  # convert() (the logo, the ticker's tiles) needs a display format
            pygame.display.init()
            pygame.display.set_mode((1, 1))
        self.fonts: FontBook = FontBook(FontFiles())
        self.logo: pygame.Surface | None = load_logo(LOGO)


Draw = Callable[[Painter, FrameRequest], bytes]


def playable_of(request: FrameRequest) -> Playable:
    """The bulletin as a board holds it: its media probed (decoded within the board's limits) for length and pages."""
    bulletin = request.bulletin
    if bulletin.kind is Kind.TEXT:
        return Playable(bulletin)
    if request.media_path is None or bulletin.media is None:
        raise MediaError(f"bulletin {bulletin.id}: no media file to draw")
    from signage.media.probe import probe

    found = probe(request.media_path, bulletin.media.type)
    return Playable(bulletin, request.media_path, media_seconds=found.seconds, page_count=found.pages)


def draw_frame(painter: Painter, request: FrameRequest) -> bytes:
    """The full frame (header with clock and date, the bulletin's first page, the ticker) as PNG bytes.

    The same calls as `signage render` and the player's first frame of a turn: `compose`, then
    `Frame.show` without a fade, the ticker, one `update` at `now`. A video shows its first frame
    and an audio bulletin its card at 00:00, as they do the moment their turn begins; nothing plays.
    """
    import pygame
    from PIL import Image

    from signage.render.composer import compose
    from signage.render.frame import Frame
    from signage.render.layout import Layout

    playable = playable_of(request)
    layout = Layout.for_size(*request.size, ticker=True)
    frame = Frame(layout, painter.fonts, request.header_title, painter.logo)
    slide = compose(playable, layout, painter.fonts, volume=0.0)
    try:
        frame.show(slide.pages[0], fade=False)
        frame.set_ticker([request.bulletin.title])
        frame.update(request.now, 0.0)
    finally:
        if slide.live is not None:
            slide.live().stop()  # the opened clip closed now, not when the collector gets to it
    image = Image.frombytes("RGB", frame.surface.get_size(), pygame.image.tobytes(frame.surface, "RGB"))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=6)
    return out.getvalue()


def serve(conn: Connection, draw: Draw, limit_s: float) -> None:
    """The worker's loop: a `FrameRequest` in, `("ok", png)` or `("refused"|"failed", kind, text)` out, until EOF or None.

    A draw still running after `limit_s` ends the process by SIGALRM's default action, which no
    decoder stuck in C can hold off: the hub kills it sooner, but a hub that is gone (SIGKILL) cannot.
    """
    os.environ["SDL_VIDEODRIVER"] = "dummy"
    os.environ["SDL_AUDIODRIVER"] = "dummy"
    os.environ["SDL_NO_SIGNAL_HANDLERS"] = "1"
    os.environ["PYGAME_HIDE_SUPPORT_PROMPT"] = "1"
    # A Ctrl-C at the hub's terminal reaches its whole process group: the hub stops the worker itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    painter = Painter()
    conn.send(("ready",))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):  # the hub went away
            return
        if request is None:
            return
        signal.alarm(max(1, math.ceil(limit_s)))
        try:
            conn.send(("ok", draw(painter, request)))
        except OverLimit as exc:
            conn.send(("refused", "over_limit", str(exc)))
        except MediaError as exc:
            conn.send(("refused", "media", str(exc)))
        except SignageError as exc:
            conn.send(("refused", "other", str(exc)))
        except Exception:  # a bug, told to the hub's log with its traceback; the worker goes on
            conn.send(("failed", "bug", traceback.format_exc()))
        finally:
            signal.alarm(0)
