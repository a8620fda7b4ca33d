"""Word (.docx) notices: the heading is the title, the other paragraphs and table cells the body.

The package is checked against `WORD_LIMITS` (signage/media/package.py) before python-docx opens
it; python-docx then parses its XML, and we walk the paragraphs ourselves, lazily, counting them and
watching a time budget, so no document can make the walk long: a notice past the caps of
signage/limits.py is refused as soon as the walk passes them.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml.ns import qn
from docx.styles import BabelFish
from docx.text.paragraph import Paragraph

from signage.errors import MediaError, OverLimit
from signage.limits import DECODE_SECONDS, MAX_BODY_CHARS, MAX_BODY_LINES, MAX_TITLE_CHARS, Budget, text_chars, too_long
from signage.media.package import WORD_LIMITS, check_package
from signage.text import clean_text

MAX_DOCX_BYTES = WORD_LIMITS.file_bytes
MAX_DOCUMENT_XML_BYTES = WORD_LIMITS.part_bytes
# Every paragraph walked, empty ones and table cells included. Word spaces a notice with an empty
# paragraph or two between paragraphs of text; past three per line of body it is not a notice.
MAX_WORD_BLOCKS = 3 * MAX_BODY_LINES
_TITLE_STYLES = ("Title", "Heading")
_STYLE_DEPTH = 8  # custom styles based on a heading count as one; a cycle in a corrupt file stops here
_TABLE_DEPTH = 4  # tables inside table cells are read to this depth, which real notices never reach
_BUDGET_EVERY = 64  # paragraphs between looks at the clock
_W_P, _W_TBL, _W_TR, _W_TC = qn("w:p"), qn("w:tbl"), qn("w:tr"), qn("w:tc")


class _TitleStyles:
    """Whether a paragraph style id makes a title: Title or a Heading, or based on one.

    Decided once per id from one pass over styles.xml: python-docx's own lookup scans every style
    for each paragraph, which made a 5,000-paragraph document take seconds.
    """

    def __init__(self, styles: Any) -> None:
        self._by_id: dict[str, Any] = {}
        self._default: Any = None
        for style in styles.style_lst:
            if style.styleId is not None:
                self._by_id.setdefault(style.styleId, style)  # the first of an id wins, as in python-docx
            if style.type == WD_STYLE_TYPE.PARAGRAPH and style.default:
                self._default = style  # the last default wins, as in python-docx
        self._decided: dict[str | None, bool] = {}

    def __call__(self, style_id: str | None) -> bool:
        if style_id not in self._decided:
            self._decided[style_id] = self._decide(style_id)
        return self._decided[style_id]

    def _decide(self, style_id: str | None) -> bool:
        style = self._by_id.get(style_id) if style_id else None
        if style is None or style.type != WD_STYLE_TYPE.PARAGRAPH:
            style = self._default
        for _ in range(_STYLE_DEPTH):
            if style is None:
                return False
            name = style.name_val
            if name and BabelFish.internal2ui(name).startswith(_TITLE_STYLES):
                return True
            based_on = style.basedOn_val
            style = self._by_id.get(based_on) if based_on else None
        return False


def _paragraph_text(paragraph: Paragraph) -> str:
    """The paragraph's text, its manual line breaks as "\\n", each line stripped."""
    text, _ = clean_text(paragraph.text)
    lines = (line.strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _paragraphs(container: Any, parent: Any, depth: int = 0) -> Iterator[Paragraph]:
    """Every paragraph in document order, descending into tables (nested ones to a sane depth), lazily.

    The XML is walked directly: python-docx's `row.cells` finds a vertically merged cell's top by
    walking up row by row, a list search each step, which took 34 s on 20,000 merged rows.
    A cell that continues a vertical merge holds no text of its own (its text is the top cell's),
    and a cell spanning columns is one element: each cell is read once.
    """
    for element in container.iterchildren(_W_P, _W_TBL):
        if element.tag == _W_P:
            yield Paragraph(element, parent)
        elif depth < _TABLE_DEPTH:
            for row in element.iterchildren(_W_TR):
                for cell in row.iterchildren(_W_TC):
                    if cell.vMerge != "continue":
                        yield from _paragraphs(cell, parent, depth + 1)


def _read_bytes(path: Path) -> bytes:
    """The whole file, read once (at most one byte past the limit): what is checked is what is parsed."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_DOCX_BYTES + 1)
            size = os.fstat(handle.fileno()).st_size
    except FileNotFoundError:
        raise MediaError(f"{path}: file not found") from None
    except OSError as exc:
        raise MediaError(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_DOCX_BYTES:
        raise OverLimit(f"{path}: Word document of {size} bytes is over the {MAX_DOCX_BYTES // (1024 * 1024)} MB limit")
    return raw


def read_docx(path: Path, *, budget: Budget | None = None) -> tuple[str, str]:
    """(title, body) of a .docx file; see `decode_docx`."""
    return decode_docx(_read_bytes(path), str(path), budget=budget)


def decode_docx(raw: bytes, origin: str, *, budget: Budget | None = None) -> tuple[str, str]:
    """(title, body) of a .docx's bytes: the first Title or Heading paragraph (else the first one) and the rest.

    Paragraphs are separated by a blank line ("\\n\\n"), line breaks inside one by "\\n"; empty
    paragraphs are skipped. Text is NFC-normalised. `origin` names the file in errors. Refused
    (`MediaError`) past the package limits, the notice caps, or `budget` (default `DECODE_SECONDS`).
    """
    budget = budget if budget is not None else Budget(DECODE_SECONDS)
    check_package(raw, origin, WORD_LIMITS).close()
    try:
        document = docx.Document(io.BytesIO(raw))
        budget.check(origin, "reading the Word document")
        is_title = _TitleStyles(document.styles.element)
        paragraphs = _walk(document, is_title, origin, budget)
    except MediaError:
        raise
    except Exception as exc:
        # python-docx on a damaged package fails with whatever lxml, zipfile or its own
        # lookups raise (KeyError, ValueError, XMLSyntaxError, ...): all mean "cannot read it".
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MediaError(f"{origin}: not a readable Word document ({detail})") from None
    if not paragraphs:
        raise MediaError(f"{origin}: empty document")
    title_index = next((index for index, (_, title) in enumerate(paragraphs) if title), 0)
    title = paragraphs[title_index][0].replace("\n", " ")
    body = "\n\n".join(text for index, (text, _) in enumerate(paragraphs) if index != title_index)
    problem = too_long(title, body or title)
    if problem is not None:
        raise OverLimit(f"{origin}: too long for a notice: {problem}")
    return title, body or title


def _walk(document: Any, is_title: _TitleStyles, origin: str, budget: Budget) -> list[tuple[str, bool]]:
    """The non-empty paragraphs as (text, is a title), stopping as soon as a cap or the budget is passed."""
    paragraphs: list[tuple[str, bool]] = []
    characters = 0
    for walked, paragraph in enumerate(_paragraphs(document.element.body, document._body), start=1):
        if walked % _BUDGET_EVERY == 1:
            budget.check(origin, "reading the Word document")
        if walked > MAX_WORD_BLOCKS:
            raise OverLimit(f"{origin}: too long for a notice: over {MAX_WORD_BLOCKS} paragraphs and table cells")
        if not len(paragraph._p):  # no runs: empty, and python-docx's text would still run an XPath query
            continue
        text = _paragraph_text(paragraph)
        if not text:
            continue
        paragraphs.append((text, is_title(paragraph._p.style)))
        characters += text_chars(text)
        # The title is one of these paragraphs; the exact caps are checked on the title and body made of them.
        if len(paragraphs) > MAX_BODY_LINES + 1:
            raise OverLimit(f"{origin}: too long for a notice: over {MAX_BODY_LINES} paragraphs")
        if characters > MAX_BODY_CHARS + MAX_TITLE_CHARS:
            raise OverLimit(f"{origin}: too long for a notice: over {MAX_BODY_CHARS} characters")
    return paragraphs
