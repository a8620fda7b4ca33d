"""An audio bulletin on screen: a still card (icon, title, body) and a progress strip that counts once a second."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pygame

from signage.media.audio import AudioPlayback
from signage.model import Bulletin
from signage.render import theme
from signage.render.fonts import FontBook
from signage.render.layout import Layout
from signage.render.slides import gradient
from signage.render.typeset import Block, draw_lines, ellipsize, set_text

REMAINING_LABEL = " / còn "  # "01:23 / còn 02:10": elapsed, then what is left
ICON_SHARE = 0.22  # of the slide's width, beside the text on a landscape slide
ICON_SUPERSAMPLE = 4  # the icon is drawn large and scaled down: pygame's shapes have no anti-aliasing


@dataclass(frozen=True, slots=True, eq=False)
class Strip:
    """The card's bottom strip, with all it needs to be redrawn on the main thread without a font."""

    rect: pygame.Rect  # in slide coordinates
    background: pygame.Surface  # the card under the strip
    glyphs: dict[str, pygame.Surface]  # "0".."9" and ":", rendered by the composer's worker
    label: pygame.Surface  # REMAINING_LABEL
    advance: int  # every digit gets the widest digit's width, so the times do not jitter as they count
    bar_height: int
    gap: int  # between the bar and the times
    track: theme.RGB
    fill: theme.RGB


def clock_text(seconds: int) -> str:
    """`mm:ss`, or `h:mm:ss` from an hour (a district radio programme can run that long)."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def audio_card(bulletin: Bulletin, layout: Layout, fonts: FontBook, seconds: float) -> tuple[pygame.Surface, Strip]:
    """The card of an audio bulletin lasting `seconds`, its strip at 00:00, and the strip for `AudioCard` to count on."""
    colours = theme.slide_colours(bulletin.priority)
    width, height = layout.slide.size
    pad = layout.padding
    card = gradient((width, height), colours.top, colours.bottom)

    time_font = fonts.get(layout.min_body_px)
    bar_height = max(3, layout.unit // 90)
    gap = max(2, bar_height)
    strip_height = bar_height + gap + time_font.get_linesize()
    strip_rect = pygame.Rect(pad, height - pad // 2 - strip_height, width - 2 * pad, strip_height)

    content = pygame.Rect(pad, pad, width - 2 * pad, max(1, strip_rect.top - pad - pad // 2))
    if width >= height * 1.2:  # landscape: the icon beside the text
        icon_size = max(8, min(content.height, round(content.width * ICON_SHARE)))
        icon_rect = pygame.Rect(content.left, content.centery - icon_size // 2, icon_size, icon_size)
        text_box = pygame.Rect(icon_rect.right + pad, content.top, max(1, content.right - icon_rect.right - pad), content.height)
    else:  # portrait or square: the icon above it
        icon_size = max(8, min(content.width, round(content.height * 0.3)))
        icon_rect = pygame.Rect(content.centerx - icon_size // 2, content.top, icon_size, icon_size)
        text_top = icon_rect.bottom + pad // 2
        text_box = pygame.Rect(content.left, text_top, content.width, max(1, content.bottom - text_top))
    card.blit(speaker_icon(icon_size, colours.title), icon_rect)
    _draw_text(card, bulletin, text_box, layout, fonts, colours)

    digits = {ch: time_font.render(ch, True, colours.body) for ch in "0123456789:"}
    strip = Strip(
        rect=strip_rect,
        background=card.subsurface(strip_rect).copy(),
        glyphs=digits,
        label=time_font.render(REMAINING_LABEL, True, colours.body),
        advance=max(digits[d].get_width() for d in "0123456789"),
        bar_height=bar_height,
        gap=gap,
        track=_mix(colours.body, colours.bottom, 0.3),
        fill=colours.rule,
    )
    draw_strip(card, strip, strip_rect.topleft, 0, round(seconds))
    return card, strip


def _draw_text(
    card: pygame.Surface, bulletin: Bulletin, box: pygame.Rect, layout: Layout, fonts: FontBook, colours: theme.SlideColours
) -> None:
    """Title and body at the largest size that fits, centred in the box; a body too long for it ends in an ellipsis."""
    pages = set_text(fonts, bulletin.title, bulletin.body, box.width, box.height, layout.min_body_px, layout.max_body_px)
    page = pages[0]
    body = page.body
    if len(pages) > 1 and body.lines:  # a card has one page: the sound carries the rest
        font = fonts.get(body.size)
        lines = list(body.lines)
        lines[-1] = ellipsize(lines[-1].rstrip() + " …", font, box.width)
        body = Block(tuple(lines), body.size, body.bold, body.line_height)
    has_body = any(line.strip() for line in body.lines)
    used = page.title.height + (page.gap + body.height if has_body else 0)
    y = box.top + max(0, (box.height - used) // 2)
    y = draw_lines(card, fonts, page.title, box.left, y, colours.title)
    if has_body:
        rule_height = max(1, page.gap // 8)
        rule_width = min(box.width, max(40, box.width // 5))
        pygame.draw.rect(card, colours.rule, (box.left, y + (page.gap - rule_height) // 2, rule_width, rule_height))
        draw_lines(card, fonts, body, box.left, y + page.gap, colours.body)


def speaker_icon(size: int, colour: theme.RGB) -> pygame.Surface:
    """A loudspeaker with three sound waves on a faint disc, `size` pixels square."""
    big = size * ICON_SUPERSAMPLE
    canvas = pygame.Surface((big, big), pygame.SRCALPHA)
    canvas.fill((*colour, 0))  # transparent pixels of the icon's colour: no dark fringe when scaled down
    pygame.draw.circle(canvas, (255, 255, 255, 28), (big // 2, big // 2), big // 2)
    centre_y = big * 0.5
    pygame.draw.rect(canvas, colour, pygame.Rect(round(big * 0.14), round(big * 0.39), round(big * 0.14), round(big * 0.22)))
    cone = [(big * 0.27, big * 0.39), (big * 0.47, big * 0.22), (big * 0.47, big * 0.78), (big * 0.27, big * 0.61)]
    pygame.draw.polygon(canvas, colour, cone)
    thickness = big * 0.045
    for radius in (0.12, 0.22, 0.32):
        pygame.draw.polygon(canvas, colour, _arc_band((big * 0.5, centre_y), big * radius, thickness, math.radians(50)))
    return pygame.transform.smoothscale(canvas, (size, size))


def _arc_band(centre: tuple[float, float], radius: float, thickness: float, half_angle: float) -> list[tuple[float, float]]:
    """A thick arc opening to the right, as a polygon (pygame's thick arcs leave gaps)."""
    steps = 24
    angles = [-half_angle + 2 * half_angle * i / steps for i in range(steps + 1)]
    far, near = radius + thickness / 2, radius - thickness / 2
    outer = [(centre[0] + far * math.cos(a), centre[1] + far * math.sin(a)) for a in angles]
    inner = [(centre[0] + near * math.cos(a), centre[1] + near * math.sin(a)) for a in reversed(angles)]
    return outer + inner


def draw_strip(surface: pygame.Surface, strip: Strip, origin: tuple[int, int], elapsed: int, total: int) -> None:
    """The strip at `elapsed` whole seconds of `total`: bar, then "elapsed / còn remaining"."""
    x, y = origin
    surface.blit(strip.background, origin)
    width = strip.rect.width
    radius = strip.bar_height // 2
    pygame.draw.rect(surface, strip.track, (x, y, width, strip.bar_height), border_radius=radius)
    done = round(width * min(1.0, elapsed / total)) if total > 0 else width
    if done > 0:
        pygame.draw.rect(surface, strip.fill, (x, y, done, strip.bar_height), border_radius=radius)
    text_y = y + strip.bar_height + strip.gap
    x = _draw_time(surface, strip, clock_text(elapsed), x, text_y)
    surface.blit(strip.label, (x, text_y))
    _draw_time(surface, strip, clock_text(total - elapsed), x + strip.label.get_width(), text_y)


def _draw_time(surface: pygame.Surface, strip: Strip, text: str, x: int, y: int) -> int:
    for ch in text:
        glyph = strip.glyphs[ch]
        cell = strip.advance if ch.isdigit() else glyph.get_width()
        surface.blit(glyph, (x + (cell - glyph.get_width()) // 2, y))
        x += cell
    return x


def _mix(a: theme.RGB, b: theme.RGB, share_of_a: float) -> theme.RGB:
    r, g, bl = (round(p * share_of_a + q * (1 - share_of_a)) for p, q in zip(a, b, strict=True))
    return (r, g, bl)


class AudioCard:
    """The live part of an audio bulletin's slide: plays the file from `begin` and counts the strip on.

    The rest of the card is the slide's page, drawn once by the composer.
    """

    def __init__(self, path: Path, seconds: float, volume: float, strip: Strip) -> None:
        self.path = path
        self.seconds = seconds
        self.volume = volume
        self.strip = strip
        self.total = max(1, round(seconds))
        self.playback: AudioPlayback | None = None
        self.shown = 0  # whole seconds the strip shows: the page was drawn at 00:00
        self._drawn: pygame.Surface | None = None  # the strip as last drawn, in the target's pixel format

    @property
    def failed(self) -> str | None:
        return self.playback.failed if self.playback is not None else None

    @property
    def moving(self) -> bool:
        return False  # a step a second: the frame's once-a-second wake is enough

    def begin(self, clock: float) -> None:
        if self.playback is None:  # created here, so no sound plays before the slide is on screen
            self.playback = AudioPlayback(self.path, self.volume)
            self.playback.start(clock)

    def draw(self, target: pygame.Surface, area: pygame.Rect, clock: float) -> list[pygame.Rect]:
        elapsed = self.playback.elapsed(clock) if self.playback is not None else 0.0
        second = min(int(elapsed), self.total)
        changed = second != self.shown
        if self._drawn is None or changed:
            if self._drawn is None:
                self._drawn = pygame.Surface(self.strip.rect.size, 0, target)
            draw_strip(self._drawn, self.strip, (0, 0), second, self.total)
            self.shown = second
        rect = self.strip.rect.move(area.topleft)
        # Blitted every call (a small strip): a full redraw of the frame puts the page's 00:00 back under it.
        target.blit(self._drawn, rect)
        return [rect] if changed else []

    def stop(self) -> None:
        if self.playback is not None:
            self.playback.stop()
