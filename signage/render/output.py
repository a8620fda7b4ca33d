"""Where frames go: a real display (region, offset, rotation) or nowhere (headless).

Present path: with `SDL_FRAMEBUFFER_ACCELERATION=0` SDL keeps the window surface in
shared memory (XShm on X11), so `display.update(rects)` uploads only the dirty
rectangles: the ticker strip costs 0.25 ms a frame instead of a full 11 ms upload
through SDL's accelerated window texture (see docs/performance.md).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol

import pygame

from signage.config import DisplaySection
from signage.errors import DisplayError, StoreError
from signage.paths import invocation


def headless_hint() -> str:
    """The command that plays offscreen and shows its frames, as this program was started."""
    return f"{invocation()} play --headless --for 30 --screenshot-dir screenshots --screenshot-every 5"


log = logging.getLogger(__name__)

NO_DISPLAY_DRIVERS = {"offscreen", "dummy"}
DEFAULT_HEADLESS_SIZE = (1920, 1080)
DEFAULT_WINDOW_SIZE = (1280, 720)


class Output(Protocol):
    """A frame sink: the player draws into `frame` and asks for the changed rectangles to be shown."""

    frame: pygame.Surface

    def present(self, dirty: list[pygame.Rect] | None) -> None: ...

    def close(self) -> None: ...


def frame_size(region: tuple[int, int], rotate: int) -> tuple[int, int]:
    """The frame drawn for an output region: portrait when the output is turned a quarter."""
    return (region[1], region[0]) if rotate in (90, 270) else region


def rotate_rect(rect: pygame.Rect, frame: tuple[int, int], rotate: int) -> pygame.Rect:
    """Where a frame rectangle lands on the output region, the frame turned `rotate` degrees clockwise."""
    width, height = frame
    if rotate == 90:
        return pygame.Rect(height - rect.bottom, rect.left, rect.height, rect.width)
    if rotate == 180:
        return pygame.Rect(width - rect.right, height - rect.bottom, rect.width, rect.height)
    if rotate == 270:
        return pygame.Rect(rect.top, width - rect.right, rect.height, rect.width)
    return pygame.Rect(rect)


def blit_rotated(
    window: pygame.Surface, frame: pygame.Surface, rects: list[pygame.Rect], rotate: int, topleft: tuple[int, int]
) -> list[pygame.Rect]:
    """Copy `rects` of `frame` onto `window`, turned `rotate` degrees clockwise; the window rectangles touched.

    Only what changed is turned: a ticker strip, not the whole frame.
    """
    shown = []
    for rect in rects:
        turned = pygame.transform.rotate(frame.subsurface(rect), -rotate)
        target = rotate_rect(rect, frame.get_size(), rotate).move(topleft)
        window.blit(turned, target)
        shown.append(target)
    return shown


class HeadlessOutput:
    """No display: frames are drawn for real into an offscreen surface (screenshots, tests)."""

    def __init__(self, display: DisplaySection) -> None:
        # A 1x1 dummy window gives pixel formats for convert() without any screen.
        os.environ["SDL_VIDEODRIVER"] = "dummy"
        pygame.display.init()
        pygame.display.set_mode((1, 1))
        self.frame = pygame.Surface(frame_size(display.size or DEFAULT_HEADLESS_SIZE, display.rotate)).convert()
        self.presents = 0

    def present(self, dirty: list[pygame.Rect] | None) -> None:
        self.presents += 1

    def close(self) -> None:
        pygame.display.quit()


class DisplayOutput:
    """A real screen, fullscreen or windowed; the frame goes into `display.size` at `display.offset`."""

    def __init__(self, display: DisplaySection, *, windowed: bool = False) -> None:
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("SDL_VIDEODRIVER")):
            # Asking SDL anyway makes it probe and print its own noise; a console kiosk sets SDL_VIDEODRIVER=kmsdrm.
            raise DisplayError(f"no display (DISPLAY and WAYLAND_DISPLAY are unset); run `{headless_hint()}` to play without a screen")
        os.environ.setdefault("SDL_FRAMEBUFFER_ACCELERATION", "0")
        os.environ.setdefault("SDL_VIDEO_MINIMIZE_ON_FOCUS_LOSS", "0")
        try:
            pygame.display.init()
        except pygame.error as exc:
            raise DisplayError(f"no display available ({exc}); run `{headless_hint()}` to play without a screen") from None
        driver = pygame.display.get_driver()
        if driver in NO_DISPLAY_DRIVERS:
            pygame.display.quit()
            raise DisplayError(
                f"no display (DISPLAY and WAYLAND_DISPLAY unset, SDL chose {driver!r}); run `{headless_hint()}` to play without a screen"
            )
        offset = display.offset
        if windowed:
            region = display.size or DEFAULT_WINDOW_SIZE
            output_size = (region[0] + offset[0], region[1] + offset[1])
            flags = 0
        else:
            output_size = pygame.display.get_desktop_sizes()[0]
            region = display.size or (output_size[0] - offset[0], output_size[1] - offset[1])
            flags = pygame.FULLSCREEN
        if region[0] + offset[0] > output_size[0] or region[1] + offset[1] > output_size[1]:
            raise DisplayError(
                f"display.size {region[0]}x{region[1]} at offset {offset[0]},{offset[1]} "
                f"does not fit the {output_size[0]}x{output_size[1]} output"
            )
        pygame.display.set_caption("signage")
        try:
            self.window = pygame.display.set_mode(output_size, flags)
        except pygame.error as exc:
            raise DisplayError(f"cannot open a {output_size[0]}x{output_size[1]} display: {exc}") from None
        pygame.mouse.set_visible(windowed)
        self.window.fill((0, 0, 0))
        self.rotate = display.rotate
        self.region = pygame.Rect(offset, region)
        size = frame_size(region, self.rotate)
        # Unrotated, the frame is a window subsurface: drawn in place, no copy at all.
        self.frame = self.window.subsurface(self.region) if self.rotate == 0 else pygame.Surface(size).convert()
        log.info("display: %s driver, output %dx%d, frame %dx%d at %d,%d, rotate %d", driver, *output_size, *size, *offset, self.rotate)

    def present(self, dirty: list[pygame.Rect] | None) -> None:
        if self.rotate == 0:
            if dirty is None:
                pygame.display.update(self.region)
            else:
                pygame.display.update([rect.move(self.region.topleft) for rect in dirty])
            return
        rects = [self.frame.get_rect()] if dirty is None else dirty
        pygame.display.update(blit_rotated(self.window, self.frame, rects, self.rotate, self.region.topleft))

    def close(self) -> None:
        pygame.display.quit()


def save_png(surface: pygame.Surface, path: Path) -> None:
    """Write a PNG so that a reader never sees half a file: temporary name, fsync, rename; StoreError if it cannot."""
    temporary = path.with_name(f".{path.stem}.tmp.png")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        pygame.image.save(surface, str(temporary))
        with temporary.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except (OSError, pygame.error) as exc:
        temporary.unlink(missing_ok=True)
        raise StoreError(f"{path}: cannot write the PNG: {exc}") from None
