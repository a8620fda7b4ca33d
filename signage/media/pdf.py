"""PDF pages rendered with pypdfium2 at the size they are shown (sharp text, not a scaled thumbnail)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pypdfium2 as pdfium

from signage.errors import MediaError
from signage.media.images import Picture

log = logging.getLogger(__name__)

# PDFium is not thread-safe: every use in the process (probing in the drop folder's job,
# rendering in the composer) holds this lock.
PDFIUM_LOCK = threading.Lock()
MAX_SLIDE_PAGES = 30  # a longer document shows its first pages; the board is not a reader
RENDER_BUDGET_SECONDS = 8.0  # pages past this much rendering are left out (a hostile or enormous document)


def render_pages(
    path: Path, box: tuple[int, int], max_pages: int = MAX_SLIDE_PAGES, budget_seconds: float = RENDER_BUDGET_SECONDS
) -> list[Picture]:
    """Each page rendered to fit `box`, aspect kept, as RGB pixels; pages past the time budget are left out."""
    deadline = time.monotonic() + budget_seconds
    with PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(path)
        except (pdfium.PdfiumError, FileNotFoundError) as exc:
            raise MediaError(f"{path}: cannot open PDF ({exc})") from None
        try:
            pictures = []
            for index in range(min(len(document), max_pages)):
                if pictures and time.monotonic() > deadline:
                    log.warning("%s: rendering took over %.0f s; showing its first %d page(s)", path, budget_seconds, len(pictures))
                    break
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
