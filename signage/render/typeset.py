"""Typesetting: word wrapping, the largest size that fits, and paging past the legible minimum.

The work is bounded whatever text it is handed: wrapping stops once the lines it was asked for are
made, a text gets at most `MAX_TEXT_PAGES` pages (the rest cut, the last page marked "(còn tiếp)"),
and a time budget is watched while lines are made.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pygame

from signage.limits import Budget
from signage.render.fonts import FontBook

TITLE_SCALE = 1.3  # title size relative to body size
MAX_TITLE_LINES = 3
# What one turn can show: a text's turn is at most 120 s unless set by hand (the engine's
# TEXT_SECONDS_MAX), and a page needs at least the 8 s the shortest text gets (TEXT_SECONDS_MIN).
# Each page is a slide-sized surface (about 7 MB at 1080p), so this also bounds a slide's memory.
MAX_TEXT_PAGES = 15
CONTINUED = "… (còn tiếp)"  # the last line of a text cut at MAX_TEXT_PAGES
TYPESET_SECONDS = 5.0  # setting a notice at the caps takes a fraction of a second; past this it is abandoned


def line_height(font: pygame.font.Font) -> int:
    """Baseline to baseline: the face's line size plus a little leading.

    Noto's line size has no gap, and at small sizes SDL_ttf grows a rendered line by a pixel
    for the tallest stacks (Ẩ, Ỗ): the leading keeps them off the descenders above.
    """
    return font.get_linesize() + max(1, round(font.get_height() * 0.06))


def wrap(
    text: str, font: pygame.font.Font, width: int, *, max_lines: int | None = None, budget: Budget | None = None, origin: str = "text"
) -> list[str]:
    """Break `text` into lines no wider than `width`, at spaces; keeps blank lines between paragraphs.

    A word wider than the line (a long URL, a number run) is broken between characters. With
    `max_lines`, wrapping stops once one line more than that is made (the caller learns it does not
    fit without paying for the rest); `budget` is checked at each line.
    """
    lines: list[str] = []
    space = font.size(" ")[0]

    def full() -> bool:
        if budget is not None:
            budget.check(origin, "typesetting")
        return max_lines is not None and len(lines) > max_lines

    for paragraph in text.split("\n"):
        if full():
            break
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
                most = None if max_lines is None else max(1, max_lines + 1 - len(lines))
                pieces = _break_word(word, font, width, most)
                lines.extend(pieces[:-1])
                line, line_w = [pieces[-1]], font.size(pieces[-1])[0]
            else:
                needed = word_w if not line else line_w + space + word_w
                if needed <= width:
                    line.append(word)
                    line_w = needed
                    continue
                lines.append(" ".join(line))
                line, line_w = [word], word_w
            if full():
                break
        if line:
            lines.append(" ".join(line))
    # Measured word by word, kerning across a space can add a pixel: re-check whole lines.
    refitted = [piece for line in lines for piece in _refit(line, font, width)]
    return refitted if max_lines is None else refitted[: max_lines + 1]


def _refit(line: str, font: pygame.font.Font, width: int) -> list[str]:
    if not line or font.size(line)[0] <= width:
        return [line]
    head, _, tail = line.rpartition(" ")
    if not head:
        return _break_word(line, font, width)
    return _refit(head, font, width) + _refit(tail, font, width)


def _break_word(word: str, font: pygame.font.Font, width: int, most: int | None = None) -> list[str]:
    """`word` in pieces no wider than `width`; with `most`, the rest is left off once that many are made."""
    pieces, current = [], ""
    for ch in word:
        if current and font.size(current + ch)[0] > width:
            pieces.append(current)
            current = ch
            if most is not None and len(pieces) >= most:
                break
        else:
            current += ch
    pieces.append(current)
    return pieces


def ellipsize(text: str, font: pygame.font.Font, width: int) -> str:
    """`text` cut with an ellipsis so it fits `width`: the most whole words that fit, else the most characters.

    Found by halving (a dozen measurements for a notice), not by dropping a word or a character at a
    time, each time measuring the whole rest: that took 20 s for a word of 20,000 characters.
    """
    if font.size(text)[0] <= width:
        return text
    words = text.split()
    kept = _most_that_fit(len(words), lambda n: font.size(" ".join(words[:n]) + "…")[0] <= width)
    if kept:
        return " ".join(words[:kept]) + "…"
    return text[: _most_that_fit(len(text), lambda n: font.size(text[:n] + "…")[0] <= width)] + "…"


def _most_that_fit(most: int, fits: Callable[[int], bool]) -> int:
    """The largest n in 0..most with fits(n), for a `fits` that holds up to some n and not past it (0 fits)."""
    low, high = 0, most
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


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


def _trim(lines: Sequence[str]) -> tuple[str, ...]:
    """Without blank lines at the start or end (a page must not begin with a gap)."""
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return tuple(lines[start:end])


def set_text(
    fonts: FontBook,
    title: str,
    body: str,
    width: int,
    height: int,
    min_px: int,
    max_px: int,
    *,
    max_pages: int = MAX_TEXT_PAGES,
    budget: Budget | None = None,
    origin: str = "text",
) -> list[Page]:
    """Lay out a text bulletin in a `width` x `height` box.

    The body takes the largest size in [min_px, max_px] at which title and body fit;
    if even `min_px` is too large, the body is split over pages at `min_px`, at most `max_pages`
    of them, the last ending in "(còn tiếp)" when text is left over. A title past three lines at
    the body's size ends in an ellipsis. `OverLimit` once `budget` (default TYPESET_SECONDS) is spent.
    """
    budget = budget if budget is not None else Budget(TYPESET_SECONDS)
    body = re.sub(r"\n{3,}", "\n\n", body.strip())

    def lines_of(text: str, font: pygame.font.Font, max_lines: int) -> list[str]:
        return wrap(text, font, width, max_lines=max(0, max_lines), budget=budget, origin=origin)

    def title_of(size: int) -> tuple[Block, int]:
        """The title's block (at most MAX_TITLE_LINES lines) and the gap below it, for a body of `size`."""
        title_size = round(size * TITLE_SCALE)
        font = fonts.get(title_size, bold=True)
        lines = lines_of(title, font, MAX_TITLE_LINES)
        while len(lines) > MAX_TITLE_LINES and title_size > size:
            title_size -= max(1, title_size // 20)
            font = fonts.get(title_size, bold=True)
            lines = lines_of(title, font, MAX_TITLE_LINES)
        if len(lines) > MAX_TITLE_LINES:
            lines = [*lines[: MAX_TITLE_LINES - 1], ellipsize(lines[MAX_TITLE_LINES - 1].rstrip() + " …", font, width)]
        return Block(tuple(lines), title_size, True, line_height(font)), round(size * 0.9)

    def room(size: int) -> tuple[Block, int, pygame.font.Font, int]:
        """Title, gap, the body's font, and how many body lines fit under them (negative: not even the title)."""
        title_block, gap = title_of(size)
        font = fonts.get(size)
        left = height - title_block.height - gap
        return title_block, gap, font, left // line_height(font) if left >= 0 else -1

    def fits(size: int) -> bool:
        _, _, font, lines = room(size)
        return lines >= 0 and len(lines_of(body, font, lines)) <= lines

    if fits(min_px):
        low, high = min_px, max(min_px, max_px)
        while low < high:  # the largest size that fits
            mid = (low + high + 1) // 2
            if fits(mid):
                low = mid
            else:
                high = mid - 1
        title_block, gap, font, lines = room(low)
        body_block = Block(tuple(lines_of(body, font, lines)), low, False, line_height(font))
        return [Page(title_block, body_block, gap, 1, 1)]

    title_block, gap, font, _ = room(min_px)
    body_line = line_height(font)
    footer = body_line  # room for the page number
    per_page = max(1, (height - title_block.height - gap - footer) // body_line)
    wanted = per_page * max(1, max_pages)
    lines = list(_trim(lines_of(body, font, wanted)))
    chunks: list[tuple[str, ...]] = []
    at = 0
    while at < len(lines) and len(chunks) < max_pages:
        take = per_page
        # Prefer to end a page at a paragraph break in its last third.
        if len(lines) - at > per_page:
            for cut in range(per_page, max(1, per_page * 2 // 3) - 1, -1):
                if not lines[at + cut - 1].strip():
                    take = cut
                    break
        chunk = _trim(lines[at : at + take])
        if chunk:
            chunks.append(chunk)
        at += take
    if any(line.strip() for line in lines[at:]) and chunks:  # text left over: cut, and say so
        last = chunks[-1]
        chunks[-1] = (*last[: per_page - 1], CONTINUED) if per_page > 1 else (CONTINUED,)
    count = len(chunks)
    return [Page(title_block, Block(chunk, min_px, False, body_line), gap, index + 1, count) for index, chunk in enumerate(chunks)]


def draw_lines(surface: pygame.Surface, fonts: FontBook, block: Block, x: int, y: int, colour: tuple[int, int, int]) -> int:
    """Draw a block's lines from (x, y); returns the y below the last line."""
    font = fonts.get(block.size, bold=block.bold)
    for line in block.lines:
        if line:
            surface.blit(font.render(line, True, colour), (x, y))
        y += block.line_height
    return y
