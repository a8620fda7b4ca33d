"""The frame on screen as a PNG for the hub: downscaled, and naming its board and seq inside."""

from __future__ import annotations

import io
from datetime import datetime

import pygame
from PIL import Image, PngImagePlugin

SCREENSHOT_WIDTH = 960


def png_of(surface: pygame.Surface, width: int, *, board: str, seq: int, taken_at: datetime, command: str | None = None) -> bytes:
    """PNG bytes of `surface` at most `width` pixels wide, with `signage:*` tEXt chunks the hub checks."""
    size = surface.get_size()
    image = Image.frombytes("RGB", size, pygame.image.tobytes(surface, "RGB"))
    if size[0] > width:
        image = image.resize((width, max(1, round(size[1] * width / size[0]))), Image.Resampling.LANCZOS, reducing_gap=2.0)
    info = PngImagePlugin.PngInfo()
    info.add_text("signage:board", board)
    info.add_text("signage:seq", str(seq))
    info.add_text("signage:taken_at", taken_at.isoformat())
    if command is not None:
        info.add_text("signage:command", command)
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info, compress_level=6)
    return out.getvalue()
