"""The bundled faces at any pixel size, loaded once per size, with a safe fallback."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import pygame

from signage.paths import FONT_BOLD, FONT_REGULAR

log = logging.getLogger(__name__)

# FreeType's library object is shared by every face: creating faces must be serialised
# across threads (the slide composer runs in a worker); rendering with distinct faces need not.
_FACE_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class FontFiles:
    regular: Path = FONT_REGULAR
    bold: Path = FONT_BOLD


class FontBook:
    """`pygame.font.Font` objects by (bold, pixel size); one book per thread that draws."""

    def __init__(self, files: FontFiles | None = None) -> None:
        if not pygame.font.get_init():
            pygame.font.init()
        files = files or FontFiles()
        self._paths: dict[bool, Path | None] = {False: _usable(files.regular), True: _usable(files.bold)}
        if self._paths[True] is None and self._paths[False] is not None:
            self._paths[True] = self._paths[False]  # a bold made from regular is better than none
        self._fonts: dict[tuple[bool, int], pygame.font.Font] = {}

    def get(self, size: int, *, bold: bool = False) -> pygame.font.Font:
        size = max(6, int(size))
        key = (bold, size)
        font = self._fonts.get(key)
        if font is None:
            path = self._paths[bold]
            with _FACE_LOCK:
                font = pygame.font.Font(path, size)  # None: pygame's own face, last resort
            if path is None and bold:
                font.set_bold(True)
            self._fonts[key] = font
        return font


def _usable(path: Path) -> Path | None:
    """The path if it opens as a font; otherwise log one line and fall back."""
    try:
        with _FACE_LOCK:
            pygame.font.Font(path, 12)
        return path
    except (OSError, pygame.error, FileNotFoundError) as exc:
        reason = "file not found" if not path.exists() else f"not a usable font ({exc})"
        log.error("%s: %s; falling back to the built-in face (Vietnamese may lack marks)", path, reason)
        return None
