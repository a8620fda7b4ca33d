"""Typesetting: word wrapping, the largest size that fits, and paging past the legible minimum."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pygame

from signage.render.fonts import FontBook

TITLE_SCALE = 1.3  # title size relative to body size
MAX_TITLE_LINES = 3


def line_height(font: pygame.font.Font) -> int:
    """Baseline to baseline: the face's line size plus a little leading.

    Noto's line size has no gap, and at small sizes SDL_ttf grows a rendered line by a pixel
    for the tallest stacks (Ẩ, Ỗ): the leading keeps them off the descenders above.
    """
    return font.get_linesize() + max(1, round(font.get_height() * 0.06))


def wrap(text: str, font: pygame.font.Font, width: int) -> list[str]:
    """Break `text` into lines no wider than `width`, at spaces; keeps blank lines between paragraphs.

    A word wider than the line (a long URL, a number run) is broken between characters.
    """
    lines: list[str] = []
    space = font.size(" ")[0]
    for paragraph in text.split("\n"):
        words = paragraph.split()
        if not words:
            lines.append("")
            continue
        line: list[str] = []
        line_w = 0
        for word in words:
            word_w = font.size(word)[0]
            if word_w > width:
                if line:
                    lines.append(" ".join(line))
                pieces = _break_word(word, font, width)
                lines.extend(pieces[:-1])
                line, line_w = [pieces[-1]], font.size(pieces[-1])[0]
                continue
            needed = word_w if not line else line_w + space + word_w
            if needed <= width:
                line.append(word)
                line_w = needed
            else:
                lines.append(" ".join(line))
                line, line_w = [word], word_w
        if line:
            lines.append(" ".join(line))
    # Measured word by word, kerning across a space can add a pixel: re-check whole lines.
    return [piece for line in lines for piece in _refit(line, font, width)]


def _refit(line: str, font: pygame.font.Font, width: int) -> list[str]:
    if not line or font.size(line)[0] <= width:
        return [line]
    head, _, tail = line.rpartition(" ")
    if not head:
        return _break_word(line, font, width)
    return _refit(head, font, width) + _refit(tail, font, width)


def _break_word(word: str, font: pygame.font.Font, width: int) -> list[str]:
    pieces, current = [], ""
    for ch in word:
        if current and font.size(current + ch)[0] > width:
            pieces.append(current)
            current = ch
        else:
            current += ch
    pieces.append(current)
    return pieces


def ellipsize(text: str, font: pygame.font.Font, width: int) -> str:
    """`text` cut with an ellipsis so it fits `width`."""
    if font.size(text)[0] <= width:
        return text
    words = text.split()
    while words and font.size(" ".join(words) + "…")[0] > width:
        words.pop()
    if words:
        return " ".join(words) + "…"
    cut = text
    while cut and font.size(cut + "…")[0] > width:
        cut = cut[:-1]
    return cut + "…"


@dataclass(frozen=True, slots=True)
class Block:
    """Lines set in one face at one size."""

    lines: tuple[str, ...]
    size: int
    bold: bool
    line_height: int

    @property
    def height(self) -> int:
        return len(self.lines) * self.line_height


@dataclass(frozen=True, slots=True)
class Page:
    title: Block
    body: Block
    gap: int  # between title and body (a rule is drawn in it)
    number: int  # 1-based
    count: int


def _block(fonts: FontBook, text: str, size: int, bold: bool, width: int) -> Block:
    font = fonts.get(size, bold=bold)
    return Block(tuple(wrap(text, font, width)), size, bold, line_height(font))


def _trim(lines: Sequence[str]) -> tuple[str, ...]:
    """Without blank lines at the start or end (a page must not begin with a gap)."""
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return tuple(lines[start:end])


def set_text(fonts: FontBook, title: str, body: str, width: int, height: int, min_px: int, max_px: int) -> list[Page]:
    """Lay out a text bulletin in a `width` x `height` box.

    The body takes the largest size in [min_px, max_px] at which title and body fit;
    if even `min_px` is too large, the body is split over pages at `min_px`.
    """
    body = re.sub(r"\n{3,}", "\n\n", body.strip())

    def layout(size: int) -> tuple[Block, Block, int]:
        title_size = round(size * TITLE_SCALE)
        title_block = _block(fonts, title, title_size, True, width)
        while len(title_block.lines) > MAX_TITLE_LINES and title_size > size:
            title_size -= max(1, title_size // 20)
            title_block = _block(fonts, title, title_size, True, width)
        return title_block, _block(fonts, body, size, False, width), round(size * 0.9)

    def fits(size: int) -> bool:
        title_block, body_block, gap = layout(size)
        return title_block.height + gap + body_block.height <= height

    if fits(min_px):
        low, high = min_px, max(min_px, max_px)
        while low < high:  # the largest size that fits
            mid = (low + high + 1) // 2
            if fits(mid):
                low = mid
            else:
                high = mid - 1
        title_block, body_block, gap = layout(low)
        return [Page(title_block, body_block, gap, 1, 1)]

    title_block, body_block, gap = layout(min_px)
    footer = body_block.line_height  # room for the page number
    per_page = max(1, (height - title_block.height - gap - footer) // body_block.line_height)
    chunks: list[tuple[str, ...]] = []
    lines = list(_trim(body_block.lines))
    while lines:
        take = per_page
        # Prefer to end a page at a paragraph break in its last third.
        if len(lines) > per_page:
            for cut in range(per_page, max(1, per_page * 2 // 3) - 1, -1):
                if not lines[cut - 1].strip():
                    take = cut
                    break
        chunk = _trim(lines[:take])
        if chunk:
            chunks.append(chunk)
        lines = lines[take:]
    count = len(chunks)
    return [
        Page(title_block, Block(chunk, body_block.size, False, body_block.line_height), gap, index + 1, count)
        for index, chunk in enumerate(chunks)
    ]


def draw_lines(surface: pygame.Surface, fonts: FontBook, block: Block, x: int, y: int, colour: tuple[int, int, int]) -> int:
    """Draw a block's lines from (x, y); returns the y below the last line."""
    font = fonts.get(block.size, bold=block.bold)
    for line in block.lines:
        if line:
            surface.blit(font.render(line, True, colour), (x, y))
        y += block.line_height
    return y
