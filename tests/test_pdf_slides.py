"""PDF bulletins: each page a slide, rendered at the size it is shown, aspect kept."""

from __future__ import annotations

from pathlib import Path

import pygame

from signage.model import BulletinInput, Playable, Source, parse_bulletin
from signage.playlist import describe_media
from signage.render.composer import compose
from signage.render.fonts import FontBook
from signage.render.layout import Layout


def hand_made_pdf(path: Path) -> None:
    """Two A4 pages: a black square on the first, a red band across the second (PDF written byte by byte)."""
    streams = [b"0 0 0 rg 147 271 300 300 re f", b"1 0 0 rg 0 700 595 80 re f"]
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>"]
    for index in range(2):
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R >>" % (5 + index))
    for stream in streams:
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))


def test_each_page_is_a_slide_fit_to_the_area(display, tmp_path: Path) -> None:
    pdf = tmp_path / "quyet-dinh.pdf"
    hand_made_pdf(pdf)
    bulletin = parse_bulletin(
        {"id": "qd", "kind": "pdf", "title": "Quyết định", "media": describe_media(pdf)}, BulletinInput("t", Source.INBOX)
    )
    layout = Layout.for_size(1920, 1080)
    slide = compose(Playable(bulletin, pdf, page_count=2), layout, FontBook())
    assert len(slide.pages) == 2 and slide.weights == (1, 1)
    first, second = slide.pages
    w, h = first.get_size()
    assert (w, h) == layout.slide.size
    # An A4 page is portrait: it fills the height, centred, white, with the black square in its middle.
    assert first.get_at((w // 2, h // 2))[:3] == (0, 0, 0)
    page_width = round((h - 2 * max(2, layout.padding // 3)) * 595 / 842)
    assert first.get_at((w // 2 - page_width // 2 + 5, 20))[:3] == (255, 255, 255)
    assert max(first.get_at((w // 2 - page_width // 2 - 20, h // 2))[:3]) < 120  # the board's background beside it
    red = second.get_at((w // 2, 120))  # 700–780 pt up an 842 pt page: about 100 px from its top
    assert red.r > 200 and red.g < 60
    pygame.image.save(first, str(tmp_path / "page1.png"))


def test_rendering_stops_at_its_time_budget(tmp_path: Path) -> None:
    from signage.media.pdf import render_pages

    pdf = tmp_path / "dai.pdf"
    hand_made_pdf(pdf)
    assert len(render_pages(pdf, (400, 400))) == 2
    assert len(render_pages(pdf, (400, 400), budget_seconds=0.0)) == 1  # the first page always shows


def test_a_progressive_jpeg_decodes(tmp_path: Path) -> None:
    from PIL import Image

    from signage.media.images import decode_image

    path = tmp_path / "progressive.jpg"
    Image.effect_noise((2000, 1500), 40).convert("RGB").save(path, progressive=True, quality=85)
    picture = decode_image(path, (800, 600), "image/jpeg")
    assert picture.size == (800, 600)
