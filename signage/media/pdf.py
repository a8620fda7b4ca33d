"""PDF pages rendered with pypdfium2 at the size they are shown (sharp text, not a scaled thumbnail)."""

from __future__ import annotations

import threading
from pathlib import Path

import pypdfium2 as pdfium

from signage.errors import MediaError
from signage.media.images import Picture

# PDFium is not thread-safe: every use in the process (probing in the drop folder's job,
# rendering in the composer) holds this lock.
PDFIUM_LOCK = threading.Lock()
MAX_SLIDE_PAGES = 30  # a longer document shows its first pages; the board is not a reader


def render_pages(path: Path, box: tuple[int, int], max_pages: int = MAX_SLIDE_PAGES) -> list[Picture]:
    """Each page rendered to fit `box`, aspect kept, as RGB pixels."""
    with PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(path)
        except (pdfium.PdfiumError, FileNotFoundError) as exc:
            raise MediaError(f"{path}: cannot open PDF ({exc})") from None
        try:
            pictures = []
            for index in range(min(len(document), max_pages)):
                page = document[index]
                try:
                    width, height = page.get_size()
                    scale = min(box[0] / width, box[1] / height)
                    image = page.render(scale=scale, fill_color=(255, 255, 255, 255)).to_pil().convert("RGB")
                finally:
                    page.close()
                pictures.append(Picture(image.tobytes(), image.size, "RGB"))
            return pictures
        except pdfium.PdfiumError as exc:
            raise MediaError(f"{path}: cannot render PDF ({exc})") from None
        finally:
            document.close()
