"""PDF pages rendered with pypdfium2 at the size they are shown (sharp text, not a scaled thumbnail)."""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image

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


# -- legible pages: a portrait page of small text on a landscape screen, shown in bands -----------------

INK_BELOW = 230  # a grey level darker than this is ink; a row with none is blank (the gap between two lines)
MIN_GAIN = 1.5  # bands are worth their turns only if they show a page this many times as large as its whole fit


@dataclass(frozen=True, slots=True)
class PackedPicture:
    """Pixels kept zlib-compressed until shown: a band of a text page at 1080p is 4.7 MB raw, a few hundred KB packed."""

    packed: bytes
    size: tuple[int, int]
    mode: str

    @classmethod
    def pack(cls, image: Image.Image) -> PackedPicture:
        return cls(zlib.compress(image.tobytes(), 1), image.size, image.mode)

    def unpack(self) -> Picture:
        return Picture(zlib.decompress(self.packed), self.size, self.mode)


def blank_rows(image: Image.Image) -> list[bool]:
    """For each pixel row of a rendered page, whether it holds no ink."""
    mask = image.convert("L").point([1 if level < INK_BELOW else 0 for level in range(256)])
    width, height = mask.size
    data = mask.tobytes()
    return [not data[y * width : (y + 1) * width].rstrip(b"\0") for y in range(height)]


def ink_runs(blank: Sequence[bool]) -> list[tuple[int, int]]:
    """The runs of rows with ink, as (top, bottom) with bottom excluded: a page's lines of text, its pictures."""
    runs: list[tuple[int, int]] = []
    top: int | None = None
    for y, is_blank in enumerate(blank):
        if not is_blank and top is None:
            top = y
        elif is_blank and top is not None:
            runs.append((top, y))
            top = None
    if top is not None:
        runs.append((top, len(blank)))
    return runs


def wants_bands(
    page_size: tuple[float, float], box: tuple[int, int], band_width: int, runs: Sequence[tuple[int, int]], min_line_px: int
) -> bool:
    """Whether a page fit whole into `box` (its ink `runs` measured at that fit) is too small to read there.

    Only a portrait page on a landscape box is paged in bands `band_width` wide (an A4 page on a 1080p
    screen: 3.1 times as large), and only when most of its lines are under the legible minimum (a page
    of 12-pt text); a page of large shapes or a photo stays whole.
    """
    portrait_page = page_size[1] > page_size[0]
    landscape_box = box[0] > box[1]
    gain = (band_width / page_size[0]) / min(box[0] / page_size[0], box[1] / page_size[1])
    if not (portrait_page and landscape_box and runs and gain >= MIN_GAIN):
        return False
    heights = sorted(bottom - top for top, bottom in runs)
    return heights[len(heights) // 2] < min_line_px


def band_cuts(blank: Sequence[bool], band_height: int) -> list[tuple[int, int]]:
    """Where to cut a page's rows into bands at most `band_height` tall, each cut in a blank row (between lines).

    Bands follow each other from the top (each starts where the last ended) down to the page's last
    ink and a little paper; the blank rows below are left out. Only a run of ink taller than a band (a picture) is cut
    where it must be.
    """
    end = len(blank)
    while end > 0 and blank[end - 1]:
        end -= 1
    end = min(len(blank), end + max(1, band_height // 20))  # a little paper below the last line
    bands: list[tuple[int, int]] = []
    top = 0
    while top < end:
        limit = top + band_height
        if limit >= end:
            bands.append((top, end))
            break
        cut = limit
        while cut > top and not blank[cut]:
            cut -= 1
        if cut == top:  # no gap in reach: ink taller than a band
            cut = limit
        else:  # cut in the middle of the gap, so neither band's line touches its edge
            start = cut
            while start > top + 1 and blank[start - 1]:
                start -= 1
            cut = (start + cut + 1) // 2
        bands.append((top, cut))
        top = cut
    return bands


def render_legible(
    path: Path,
    fit_box: tuple[int, int],
    band_width: int,
    band_height: int,
    min_line_px: int,
    max_pages: int = MAX_SLIDE_PAGES,
    budget_seconds: float = RENDER_BUDGET_SECONDS,
) -> list[list[Picture | PackedPicture]]:
    """Each page as the pictures it is shown in: one, fit whole into `fit_box`, or its bands `band_width` wide.

    A page too small to read whole (`wants_bands`) is rendered again as wide as a band
    and cut between its lines into bands at most `band_height` tall, each kept packed until shown.
    """
    deadline = time.monotonic() + budget_seconds
    with PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(path)
        except (pdfium.PdfiumError, FileNotFoundError) as exc:
            raise MediaError(f"{path}: cannot open PDF ({exc})") from None
        try:
            pages: list[list[Picture | PackedPicture]] = []
            for index in range(min(len(document), max_pages)):
                if pages and time.monotonic() > deadline:
                    log.warning("%s: rendering took over %.0f s; showing its first %d page(s)", path, budget_seconds, len(pages))
                    break
                page = document[index]
                try:
                    size = page.get_size()
                    fit_scale = min(fit_box[0] / size[0], fit_box[1] / size[1])
                    whole = page.render(scale=fit_scale, fill_color=(255, 255, 255, 255)).to_pil().convert("RGB")
                    if not wants_bands(size, fit_box, band_width, ink_runs(blank_rows(whole)), min_line_px):
                        pages.append([Picture(whole.tobytes(), whole.size, "RGB")])
                        continue
                    del whole
                    large = page.render(scale=band_width / size[0], fill_color=(255, 255, 255, 255)).to_pil().convert("RGB")
                finally:
                    page.close()
                cuts = band_cuts(blank_rows(large), band_height)
                pages.append([PackedPicture.pack(large.crop((0, top, large.width, bottom))) for top, bottom in cuts])
                del large
            return pages
        except pdfium.PdfiumError as exc:
            raise MediaError(f"{path}: cannot render PDF ({exc})") from None
        finally:
            document.close()
