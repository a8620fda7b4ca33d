"""The bundled faces at any pixel size, the recently used ones kept loaded, with a safe fallback."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import pygame

from signage.config import BoardConfig
from signage.paths import FONT_BOLD, FONT_REGULAR

log = logging.getLogger(__name__)

# FreeType's library object is shared by every face: creating faces must be serialised
# across threads (the slide composer runs in a worker); rendering with distinct faces need not.
_FACE_LOCK = threading.Lock()
# Faces kept per book (about 250 kB each, glyph caches included). Each text is set at the largest size
# that fits, so over months of bulletins nearly every size is asked for once; a slide needs a dozen or two.
MAX_FACES = 48


@dataclass(frozen=True, slots=True)
class FontFiles:
    regular: Path = FONT_REGULAR
    bold: Path = FONT_BOLD


class FontBook:
    """`pygame.font.Font` objects by (bold, pixel size), the least used let go past `MAX_FACES`; one book per thread."""

    def __init__(self, files: FontFiles | None = None) -> None:
        if not pygame.font.get_init():
            pygame.font.init()
        files = files or FontFiles()
        self._paths: dict[bool, Path | None] = {False: _usable(files.regular), True: _usable(files.bold)}
        if self._paths[True] is None and self._paths[False] is not None:
            self._paths[True] = self._paths[False]  # a bold made from regular is better than none
        self._fonts: OrderedDict[tuple[bool, int], pygame.font.Font] = OrderedDict()

    def __len__(self) -> int:
        return len(self._fonts)

    def get(self, size: int, *, bold: bool = False) -> pygame.font.Font:
        size = max(6, int(size))
        key = (bold, size)
        font = self._fonts.get(key)
        if font is not None:
            self._fonts.move_to_end(key)
            return font
        path = self._paths[bold]
        with _FACE_LOCK:
            font = pygame.font.Font(path, size)  # None: pygame's own face, last resort
        if path is None and bold:
            font.set_bold(True)
        self._fonts[key] = font
        if len(self._fonts) > MAX_FACES:
            with _FACE_LOCK:  # closing a face touches FreeType's shared library object too
                _, evicted = self._fonts.popitem(last=False)
                del evicted  # closed here unless someone still holds it (the header's, the ticker's)
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


def font_files(config: BoardConfig) -> FontFiles:
    """The board's own fonts where its config names them, else the bundled Noto Sans."""
    defaults = FontFiles()
    return FontFiles(regular=config.display.font or defaults.regular, bold=config.display.font_bold or defaults.bold)
