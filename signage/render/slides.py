"""Composing slides: a text bulletin's pages, an image with its caption, the idle slide.

Each function draws one slide-area-sized surface, once; the frame then only blits it.
They run in the composer's worker thread, so they touch no display surface.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pygame

from signage.limits import Budget
from signage.media.images import Picture, decode_image
from signage.model import Bulletin, Priority
from signage.render import theme
from signage.render.fonts import FontBook
from signage.render.layout import Layout
from signage.render.pages import ComposedOnShow, Layer, PackedLayer
from signage.render.typeset import Page, draw_lines, ellipsize, set_text, wrap
from signage.vi import format_date

if TYPE_CHECKING:
    from signage.media.video import VideoClip


def gradient(size: tuple[int, int], top: theme.RGB, bottom: theme.RGB) -> pygame.Surface:
    """A vertical gradient, drawn as a 1-pixel column and scaled (cheap at any size)."""
    column = pygame.Surface((1, 256))
    for y in range(256):
        t = y / 255
        column.set_at((0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    return pygame.transform.smoothscale(column, size)


def _badge(fonts: FontBook, label: str, size: int, colours: theme.SlideColours) -> pygame.Surface:
    font = fonts.get(size, bold=True)
    text = font.render(label.upper(), True, colours.badge_text)
    pad_x, pad_y = size // 2, max(1, size // 6)
    badge = pygame.Surface((text.get_width() + 2 * pad_x, text.get_height() + 2 * pad_y), pygame.SRCALPHA)
    pygame.draw.rect(badge, colours.badge_fill, badge.get_rect(), border_radius=badge.get_height() // 2)
    badge.blit(text, (pad_x, pad_y))
    return badge


def text_pages(bulletin: Bulletin, layout: Layout, fonts: FontBook, *, budget: Budget | None = None) -> list[tuple[pygame.Surface, str]]:
    """A text bulletin as one slide per page (at most MAX_TEXT_PAGES), each with the text it shows (for its reading time)."""
    colours = theme.slide_colours(bulletin.priority)
    area = layout.slide.size
    pad = layout.padding
    badge = None
    badge_h = 0
    if bulletin.priority is not Priority.NORMAL:
        badge = _badge(fonts, bulletin.priority.label_vi, max(9, layout.min_body_px * 2 // 3), colours)
        badge_h = badge.get_height() + pad // 2
    box_w = area[0] - 2 * pad
    box_h = area[1] - 2 * pad - badge_h
    pages = set_text(
        fonts,
        bulletin.title,
        bulletin.body,
        box_w,
        box_h,
        layout.min_body_px,
        layout.max_body_px,
        budget=budget,
        origin=f"bulletin {bulletin.id}",
    )
    background = gradient(area, colours.top, colours.bottom)
    return [
        (_draw_page(background, page, badge, pad, badge_h, fonts, colours, box_w), " ".join(page.title.lines + page.body.lines))
        for page in pages
    ]


def _draw_page(
    background: pygame.Surface,
    page: Page,
    badge: pygame.Surface | None,
    pad: int,
    badge_h: int,
    fonts: FontBook,
    colours: theme.SlideColours,
    box_w: int,
) -> pygame.Surface:
    slide = background.copy()
    if badge is not None:
        slide.blit(badge, (pad, pad))
    y = draw_lines(slide, fonts, page.title, pad, pad + badge_h, colours.title)
    rule_h = max(1, page.gap // 8)
    rule_w = min(box_w, max(40, box_w // 5))
    pygame.draw.rect(slide, colours.rule, (pad, y + (page.gap - rule_h) // 2, rule_w, rule_h))
    draw_lines(slide, fonts, page.body, pad, y + page.gap, colours.body)
    if page.count > 1:
        font = fonts.get(max(9, page.body.size * 3 // 4))
        marker = font.render(f"Trang {page.number}/{page.count}", True, colours.rule)
        slide.blit(marker, (slide.get_width() - pad - marker.get_width(), slide.get_height() - pad // 2 - marker.get_height()))
    return slide


def picture_surface(picture: Picture) -> pygame.Surface:
    return pygame.image.frombytes(picture.data, picture.size, picture.mode)


def image_slide(bulletin: Bulletin, media_path: Path, layout: Layout, fonts: FontBook) -> pygame.Surface:
    """An image fit to the slide area, aspect kept, over a blurred and darkened fill of itself.

    Its title (and a caption, the bulletin's `body`) get a strip of their own below the picture, never over it.
    """
    area = layout.slide.size
    caption = caption_strip(bulletin, layout, fonts)
    room = (area[0], area[1] - (caption.get_height() if caption else 0))
    media_type = bulletin.media.type if bulletin.media else None
    picture = decode_image(media_path, room, media_type)
    # Read in place (no copy): the picture is only read from, never drawn on, and the bytes outlive the slide's making.
    image = pygame.image.frombuffer(picture.data, picture.size, picture.mode)
    slide = _blurred_cover(image, area)  # covers the whole area: it is the slide's background, not a layer on one
    slide.blit(image, image.get_rect(center=(room[0] // 2, room[1] // 2)))
    if caption is not None:
        slide.blit(caption, (0, room[1]))
    return slide


def _blurred_cover(image: pygame.Surface, area: tuple[int, int]) -> pygame.Surface:
    """The picture scaled to cover `area`, blurred beyond recognition and darkened: a fill in its own colours.

    It is blurred and darkened at 1/24 of the area's size, where that is cheap (the picture is first
    sampled to 4x that size, not averaged whole: the blur averages anyway), then scaled up.
    """
    width, height = image.get_size()
    small_w = max(8, area[0] // 24)
    small_h = max(8, area[1] // 24)
    scale = max(small_w / width, small_h / height)
    cover_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    sampled = pygame.transform.scale(image, (min(width, 4 * cover_size[0]), min(height, 4 * cover_size[1])))
    cover = pygame.transform.smoothscale(sampled, cover_size)
    crop = pygame.Rect(0, 0, small_w, small_h)
    crop.center = cover.get_rect().center
    small = pygame.Surface((small_w, small_h))
    small.blit(cover, (0, 0), crop)
    small = pygame.transform.gaussian_blur(small, max(1, small_w // 16))
    small.fill((110, 110, 110), special_flags=pygame.BLEND_MULT)  # darken to ~43 %, on the few pixels before scaling up
    return pygame.transform.smoothscale(small, area)


def caption_strip(bulletin: Bulletin, layout: Layout, fonts: FontBook) -> pygame.Surface | None:
    """The strip under a picture or a video: its title on one line (bold, shortened with "…"), then its caption.

    A title made from the file's kind ("Hình ảnh", "Video") is shown too: it tells what is on screen.
    """
    if not bulletin.title.strip() and not bulletin.body.strip():
        return None
    colours = theme.slide_colours(bulletin.priority)
    return _caption(bulletin.body, layout.slide.width, layout, fonts, title=bulletin.title, title_colour=colours.title)


def _caption(
    text: str, width: int, layout: Layout, fonts: FontBook, *, title: str = "", title_colour: theme.RGB = theme.NORMAL.title
) -> pygame.Surface:
    size = max(layout.min_body_px * 3 // 4, 9)
    font = fonts.get(size)
    title_font = fonts.get(size, bold=True)  # the PDF band's title line: bold, in the slide's title colour
    pad = max(2, layout.padding // 3)
    room = width - 2 * layout.padding
    heading = ellipsize(" ".join(title.split()), title_font, room) if title.strip() else ""
    body = " ".join(text.split())
    # A caption takes two lines at most, and only one on a small screen, so the picture keeps most of the area.
    most = 2 if (1 + 2) * font.get_linesize() + 2 * pad <= layout.slide.height // 3 else 1
    lines = wrap(body, font, room, max_lines=most) if body else []  # the lines that show: the rest is never set
    if len(lines) > most:
        lines = [*lines[: most - 1], ellipsize(" ".join(lines[most - 1 :]), font, room)]
    line_h = font.get_linesize()
    heading_h = title_font.get_linesize() if heading else 0
    band = pygame.Surface((width, heading_h + len(lines) * line_h + 2 * pad), pygame.SRCALPHA)
    band.fill(theme.CAPTION_BAND)
    y = pad
    if heading:
        band.blit(title_font.render(heading, True, title_colour), (layout.padding, y))
        y += heading_h
    for line in lines:
        band.blit(font.render(line, True, theme.CAPTION_TEXT), (layout.padding, y))
        y += line_h
    return band


def video_box(layout: Layout, strip: pygame.Surface | None) -> tuple[int, int]:
    """Where a video is fitted: the slide area above its title strip."""
    return (layout.slide.width, layout.slide.height - (strip.get_height() if strip else 0))


def video_page(clip: VideoClip, layout: Layout, strip: pygame.Surface | None = None) -> tuple[pygame.Surface, pygame.Rect]:
    """The still a video slide starts from (its first frame over a blurred fill of it), and where the picture plays.

    The clip is fitted into `video_box` (the area above `strip`); the strip, its title, is drawn here once, below it.
    """
    from signage.media.video import first_frame_surface

    area = layout.slide.size
    room = video_box(layout, strip)
    first = first_frame_surface(clip)
    page = pygame.Surface(area)
    page.blit(_blurred_cover(first, area), (0, 0))
    rect = first.get_rect(center=(room[0] // 2, room[1] // 2))
    page.blit(first, rect)
    if strip is not None:
        page.blit(strip, (0, room[1]))
    return page, rect.move(layout.slide.topleft)


def pdf_pages(bulletin: Bulletin, media_path: Path, layout: Layout, fonts: FontBook) -> ComposedOnShow:
    """A PDF as one slide per page, each rendered at the size it is shown, on a calm background.

    A page too small to read whole (an A4 page of 12-pt text on a landscape screen) is shown as wide as
    the slide, in bands cut between its lines, each a slide of its own under the bulletin's title.
    The pages are kept as their pictures and each is composed onto the slide when shown (`ComposedOnShow`).
    """
    from signage.media.pdf import PackedPicture, render_legible  # PDFium loads only on boards that show PDFs

    area = layout.slide.size
    pad = max(2, layout.padding // 3)
    font = fonts.get(max(9, layout.min_body_px * 2 // 3))
    title_font = fonts.get(max(9, layout.min_body_px * 3 // 4), bold=True)
    title_h = title_font.get_linesize() + pad // 2
    band_top = title_h + pad // 2
    documents = render_legible(
        media_path, (area[0] - 2 * pad, area[1] - 2 * pad), area[0] - 2 * pad, area[1] - band_top - pad, layout.min_body_px
    )
    background = gradient(area, theme.NORMAL.top, theme.NORMAL.bottom)
    pages: list[Layer | PackedLayer] = []
    markers: list[tuple[Layer, ...]] = []
    count = len(documents)
    title: Layer | None = None
    documents.reverse()  # popped in page order: each page's bytes are let go once they are its surface
    for number in range(1, count + 1):
        bands = documents.pop()
        for part, picture in enumerate(bands, start=1):
            if isinstance(picture, PackedPicture):
                rect = pygame.Rect((0, 0), picture.size)
                rect.midtop = (area[0] // 2, band_top)
                pages.append(PackedLayer(lambda p=picture: picture_surface(p.unpack()), rect, len(picture.packed)))
                where = f"Trang {number}/{count} · phần {part}/{len(bands)}" if count > 1 else f"Phần {part}/{len(bands)}"
                mark = font.render(where, True, theme.NORMAL.title)
                if title is None:
                    room = area[0] - 3 * pad - mark.get_width()
                    text = title_font.render(ellipsize(bulletin.title, title_font, room), True, theme.NORMAL.title)
                    title = Layer(text, text.get_rect(midleft=(pad, title_h // 2)))
                markers.append((title, Layer(mark, mark.get_rect(midright=(area[0] - pad, title_h // 2)))))
                continue
            page = picture_surface(picture)
            heading, page_layer = _title_by_page(bulletin.title, page, area, pad, title_font)
            pages.append(page_layer)
            marker = font.render(f"Trang {number}/{count}", True, theme.NORMAL.title) if count > 1 else None
            marks = (Layer(marker, marker.get_rect(bottomright=(area[0] - pad, area[1] - pad // 2))),) if marker else ()
            markers.append((*heading, *marks))
    return ComposedOnShow(background, pages, markers, shadow=pad // 2)


def _title_by_page(
    title: str, page: pygame.Surface, area: tuple[int, int], pad: int, font: pygame.font.Font
) -> tuple[tuple[Layer, ...], Layer]:
    """A whole page's title, where the page leaves room for it, and the page's own place.

    Above the page when its fit leaves a line free there (a portrait screen), else beside it, wrapped
    in the margin (a portrait page on a landscape screen); a page that fills the area is made a line
    smaller to make room above it. The page keeps its fit wherever it can: it is what must be read.
    """
    centred = page.get_rect(center=(area[0] // 2, area[1] // 2))
    line_h = font.get_linesize()
    if not title.strip():
        return (), Layer(page, centred)
    text = " ".join(title.split())
    if centred.top >= line_h + pad:
        heading = font.render(ellipsize(text, font, area[0] - 2 * pad), True, theme.NORMAL.title)
        return (Layer(heading, heading.get_rect(midleft=(pad, centred.top // 2))),), Layer(page, centred)
    side = centred.left - 2 * pad
    if side >= font.get_height() * 6:  # room for a few words a line
        most = max(1, (area[1] - 2 * pad) // line_h)
        lines = wrap(text, font, side, max_lines=most)
        if len(lines) > most:
            lines = [*lines[: most - 1], ellipsize(" ".join(lines[most - 1 :]), font, side)]
        block = pygame.Surface((side, len(lines) * line_h), pygame.SRCALPHA)
        for row, line in enumerate(lines):
            block.blit(font.render(line, True, theme.NORMAL.title), (0, row * line_h))
        return (Layer(block, block.get_rect(topleft=(pad, max(pad, centred.top)))),), Layer(page, centred)
    top = line_h + pad
    scale = min(1.0, (area[1] - top - pad) / page.get_height())
    if scale < 1.0:  # once, when the slide is composed
        page = pygame.transform.smoothscale(page, (max(1, round(page.get_width() * scale)), max(1, round(page.get_height() * scale))))
    rect = page.get_rect(midtop=(area[0] // 2, top))
    heading = font.render(ellipsize(text, font, area[0] - 2 * pad), True, theme.NORMAL.title)
    return (Layer(heading, heading.get_rect(midleft=(pad, top // 2))),), Layer(page, rect)


def idle_slide(board_name: str, now: datetime, layout: Layout, fonts: FontBook, logo: pygame.Surface | None) -> pygame.Surface:
    """What shows when nothing is playable: the commune, the date, a calm background."""
    area = layout.slide.size
    slide = gradient(area, theme.NORMAL.top, theme.NORMAL.bottom)
    unit = min(area)
    lines = [
        (board_name, fonts.get(max(10, round(unit * 0.11)), bold=True), theme.NORMAL.title),
        ("Bảng tin điện tử công cộng", fonts.get(max(9, round(unit * 0.06))), theme.NORMAL.body),
        (format_date(now), fonts.get(max(9, round(unit * 0.06))), theme.NORMAL.body),
    ]
    rendered = [font.render(ellipsize(text, font, area[0] - 2 * layout.padding), True, colour) for text, font, colour in lines]
    logo_h = round(unit * 0.28) if logo is not None else 0
    gap = round(unit * 0.04)
    total = logo_h + (gap if logo_h else 0) + sum(r.get_height() for r in rendered)
    y = (area[1] - total) // 2
    if logo is not None and logo_h >= 8:
        scaled = pygame.transform.smoothscale(logo, (round(logo.get_width() * logo_h / logo.get_height()), logo_h))
        slide.blit(scaled, scaled.get_rect(midtop=(area[0] // 2, y)))
        y += logo_h + gap
    for surface in rendered:
        slide.blit(surface, surface.get_rect(midtop=(area[0] // 2, y)))
        y += surface.get_height()
    return slide
