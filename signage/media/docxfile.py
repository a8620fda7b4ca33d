"""Word (.docx) notices: the heading is the title, the other paragraphs and table cells the body."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import docx
from docx.styles.style import BaseStyle
from docx.table import Table
from docx.text.paragraph import Paragraph

from signage.errors import MediaError
from signage.text import clean_text

MAX_DOCX_BYTES = 20 * 1024 * 1024
# The text of a long notice is a few hundred KB of XML; tens of MB inflated from a small file is a zip bomb.
MAX_DOCUMENT_XML_BYTES = 50 * 1024 * 1024
# python-docx reads every part the package lists (images too), so the whole inflated size is bounded.
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
_DOCUMENT_XML = "word/document.xml"
_TITLE_STYLES = ("Title", "Heading")
_STYLE_DEPTH = 8  # custom styles based on a heading count as one; a cycle in a corrupt file stops here
_TABLE_DEPTH = 4  # tables inside table cells are read to this depth, which real notices never reach


def _check_package(path: Path) -> None:
    """Refuse what is too big, not a zip, or inflates past the limits, before python-docx reads any of it.

    The sizes in the zip's directory can be trusted: `zipfile` stops inflating at the declared
    size and then fails the CRC, so a member cannot inflate past what it declares.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise MediaError(f"{path}: file not found") from None
    except OSError as exc:
        raise MediaError(f"{path}: cannot read: {exc.strerror}") from None
    if size > MAX_DOCX_BYTES:
        raise MediaError(f"{path}: Word document of {size} bytes is over the {MAX_DOCX_BYTES // (1024 * 1024)} MB limit")
    try:
        with zipfile.ZipFile(path) as package:
            members = package.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise MediaError(f"{path}: not a Word document (not a zip archive: {exc})") from None
    document = next((member for member in members if member.filename == _DOCUMENT_XML), None)
    if document is None:
        raise MediaError(f"{path}: not a Word document (no {_DOCUMENT_XML} in the archive)")
    if document.file_size > MAX_DOCUMENT_XML_BYTES:
        raise MediaError(
            f"{path}: {_DOCUMENT_XML} unpacks to {document.file_size} bytes, over the {MAX_DOCUMENT_XML_BYTES // (1024 * 1024)} MB limit"
        )
    unpacked = sum(member.file_size for member in members)
    if unpacked > MAX_UNPACKED_BYTES:
        raise MediaError(f"{path}: archive unpacks to {unpacked} bytes, over the {MAX_UNPACKED_BYTES // (1024 * 1024)} MB limit")


def _is_title_style(style: BaseStyle | None) -> bool:
    """Whether the style is Title or a Heading, or based on one (python-docx gives built-in names in English)."""
    for _ in range(_STYLE_DEPTH):
        if style is None:
            return False
        if (style.name or "").startswith(_TITLE_STYLES):
            return True
        style = style.base_style
    return False


def _paragraph_text(paragraph: Paragraph) -> str:
    """The paragraph's text, its manual line breaks as "\\n", each line stripped."""
    text, _ = clean_text(paragraph.text)
    lines = (line.strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _table_paragraphs(table: Table, depth: int) -> Iterator[Paragraph]:
    """The paragraphs of a table's cells, row by row, each merged cell once."""
    # A merged cell comes once per grid column and row it spans, each time as a new proxy of the same
    # <w:tc> element. lxml gives one Python object per element while it is referenced, so holding
    # them here makes their ids stable (a freed proxy's id could be reused by another cell's).
    seen: dict[int, object] = {}
    for row in table.rows:
        for cell in row.cells:
            element = cell._tc
            if id(element) in seen:
                continue
            seen[id(element)] = element
            yield from _block_paragraphs(cell.iter_inner_content(), depth + 1)


def _block_paragraphs(blocks: Iterator[Paragraph | Table], depth: int = 0) -> Iterator[Paragraph]:
    """Every paragraph in document order, descending into tables (nested ones too, to a sane depth)."""
    for block in blocks:
        if isinstance(block, Paragraph):
            yield block
        elif depth < _TABLE_DEPTH:
            yield from _table_paragraphs(block, depth)


def read_docx(path: Path) -> tuple[str, str]:
    """(title, body) of a .docx: the first Title or Heading paragraph (else the first one) and the rest.

    Paragraphs are separated by a blank line ("\\n\\n"), line breaks inside one by "\\n"; empty
    paragraphs are skipped. Text is NFC-normalised.
    """
    _check_package(path)
    try:
        document = docx.Document(str(path))
        paragraphs = [
            (text, _is_title_style(paragraph.style))
            for paragraph in _block_paragraphs(document.iter_inner_content())
            if (text := _paragraph_text(paragraph))
        ]
    except Exception as exc:
        # python-docx on a damaged package fails with whatever lxml, zipfile or its own
        # lookups raise (KeyError, ValueError, XMLSyntaxError, ...): all mean "cannot read it".
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MediaError(f"{path}: not a readable Word document ({detail})") from None
    if not paragraphs:
        raise MediaError(f"{path}: empty document")
    title_index = next((index for index, (_, is_title) in enumerate(paragraphs) if is_title), 0)
    title = paragraphs[title_index][0].replace("\n", " ")
    body = "\n\n".join(text for index, (text, _) in enumerate(paragraphs) if index != title_index)
    return title, body or title
