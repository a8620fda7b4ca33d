"""Word (.docx) notices: an official notice's type and subject (else its heading) is the title, its body the text.

The package is checked against `WORD_LIMITS` (signage/media/package.py) before python-docx opens
it; python-docx then parses its XML, and we walk the paragraphs ourselves, lazily, counting them and
watching a time budget, so no document can make the walk long: a notice past the caps of
signage/limits.py is refused as soon as the walk passes them. The walk reads text as Word shows it:
tracked insertions kept and deletions dropped, text boxes once, numbering as "1.", "a)", "–", and runs
typed in the legacy `.VnTime`/`VNI-Times` fonts converted (signage/legacy.py). Which paragraphs are the
title and body of a notice in the Nghị định 30/2020/NĐ-CP layout is decided apart, without I/O (`_notice`).
A body holding a ruled table or a picture, which a text slide cannot show faithfully, raises `NeedsPages`.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docx
from docx.enum.style import WD_STYLE_TYPE
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml.ns import qn
from docx.styles import BabelFish

from signage.errors import MediaError, NeedsPages, OverLimit
from signage.legacy import Legacy, best_reading, convert, text_as_legacy_bytes
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
_TABLE_DEPTH = 4  # tables inside table cells (and text boxes inside text boxes) are read to this depth
_BUDGET_EVERY = 64  # paragraphs between looks at the clock
_W_P, _W_TBL, _W_TR, _W_TC = qn("w:p"), qn("w:tbl"), qn("w:tr"), qn("w:tc")
_W_R, _W_T, _W_DEL_TEXT = qn("w:r"), qn("w:t"), qn("w:delText")
_W_TXBX = qn("w:txbxContent")
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_MC_ALTERNATE, _MC_CHOICE, _MC_FALLBACK = f"{{{_MC}}}AlternateContent", f"{{{_MC}}}Choice", f"{{{_MC}}}Fallback"
_PICTURES = frozenset(
    {
        "{http://schemas.openxmlformats.org/drawingml/2006/picture}pic",
        "{urn:schemas-microsoft-com:vml}imagedata",
        qn("w:object"),
    }
)
# Containers whose runs Word shows as part of the paragraph; w:del and w:moveFrom (struck out) are not among them.
_INLINE_CONTAINERS = frozenset(
    qn(tag)
    for tag in ("w:ins", "w:moveTo", "w:hyperlink", "w:smartTag", "w:customXml", "w:fldSimple", "w:sdt", "w:sdtContent", "w:dir", "w:bdo")
) | {_MC_ALTERNATE}
_BLOCK_CONTAINERS = frozenset(qn(tag) for tag in ("w:sdt", "w:sdtContent", "w:customXml", "w:ins", "w:moveTo"))
_RUN_TEXT = {qn("w:tab"): "\t", qn("w:ptab"): "\t", qn("w:cr"): "\n", qn("w:noBreakHyphen"): "-"}
_BULLET = "–"


@dataclass(frozen=True)
class _Block:
    """One paragraph as read: its text (empty only when it holds a picture), and what decides its place."""

    text: str
    is_title: bool  # styled Title or Heading
    in_table: bool
    shows_badly: str | None = None  # why a text slide cannot show it: in a ruled table, or a picture


class _Styles:
    """What styles.xml says of a style id, decided once per id from one pass over it.

    python-docx's own lookup scans every style for each paragraph, which made a 5,000-paragraph
    document take seconds.
    """

    def __init__(self, styles: Any) -> None:
        self._by_id: dict[str, Any] = {}
        self._default: Any = None
        for style in styles.style_lst:
            if style.styleId is not None:
                self._by_id.setdefault(style.styleId, style)  # the first of an id wins, as in python-docx
            if style.type == WD_STYLE_TYPE.PARAGRAPH and style.default:
                self._default = style  # the last default wins, as in python-docx
        defaults = styles.find(qn("w:docDefaults"))
        fonts = defaults.find(f"{qn('w:rPrDefault')}/{qn('w:rPr')}/{qn('w:rFonts')}") if defaults is not None else None
        self.default_font = _font_name(fonts)
        self._titles: dict[str | None, bool] = {}
        self._fonts: dict[str | None, str | None] = {}
        self._numbers: dict[str | None, tuple[str, int] | None] = {}
        self._ruled: dict[str | None, bool] = {}

    def _chain(self, style_id: str | None, kind: Any) -> Iterator[Any]:
        """The style and those it is based on (the default paragraph style for a paragraph without one)."""
        style = self._by_id.get(style_id) if style_id else None
        if style is None or style.type != kind:
            style = self._default if kind == WD_STYLE_TYPE.PARAGRAPH else None
        for _ in range(_STYLE_DEPTH):
            if style is None:
                return
            yield style
            based_on = style.basedOn_val
            style = self._by_id.get(based_on) if based_on else None

    def is_title(self, style_id: str | None) -> bool:
        if style_id not in self._titles:
            names = (style.name_val for style in self._chain(style_id, WD_STYLE_TYPE.PARAGRAPH))
            self._titles[style_id] = any(name and BabelFish.internal2ui(name).startswith(_TITLE_STYLES) for name in names)
        return self._titles[style_id]

    def font(self, style_id: str | None, kind: Any) -> str | None:
        """The font a paragraph or character style sets, None if it sets none."""
        key = f"{kind}:{style_id}"
        if key not in self._fonts:
            found = (_font_name(style.find(f"{qn('w:rPr')}/{qn('w:rFonts')}")) for style in self._chain(style_id, kind))
            self._fonts[key] = next((name for name in found if name), None)
        return self._fonts[key]

    def numbering(self, style_id: str | None) -> tuple[str, int] | None:
        """(numId, level) of a list style such as "List Bullet", None for a paragraph style that numbers nothing."""
        if style_id not in self._numbers:
            found = (_number_of(style.find(qn("w:pPr"))) for style in self._chain(style_id, WD_STYLE_TYPE.PARAGRAPH))
            self._numbers[style_id] = next((number for number in found if number), None)
        return self._numbers[style_id]

    def ruled(self, style_id: str | None) -> bool:
        """Whether a table style (Table Grid, say) draws borders."""
        if style_id not in self._ruled:
            borders = (style.find(f"{qn('w:tblPr')}/{qn('w:tblBorders')}") for style in self._chain(style_id, WD_STYLE_TYPE.TABLE))
            self._ruled[style_id] = next((_any_border(found) for found in borders if found is not None), False)
        return self._ruled[style_id]


def _font_name(fonts: Any) -> str | None:
    if fonts is None:
        return None
    return fonts.get(qn("w:ascii")) or fonts.get(qn("w:hAnsi"))


def _legacy_of(font: str | None) -> tuple[Legacy, bool] | None:
    """The legacy encoding a font name draws (and whether it draws only capitals, as `.VnTimeH`), None for Unicode."""
    name = (font or "").strip().lower()
    if name.startswith(".vn"):
        return Legacy.TCVN3, name.endswith("h")
    if name.startswith(("vni-", "vni ")):
        return Legacy.VNI, False
    return None


def _any_border(borders: Any) -> bool:
    return any(side.get(qn("w:val"), "none") not in ("nil", "none") for side in borders)


def _number_of(properties: Any) -> tuple[str, int] | None:
    numbering = properties.find(qn("w:numPr")) if properties is not None else None
    if numbering is None:
        return None
    num_id = numbering.find(qn("w:numId"))
    level = numbering.find(qn("w:ilvl"))
    if num_id is None:
        return None
    level_value = level.get(qn("w:val"), "0") if level is not None else "0"
    return num_id.get(qn("w:val"), "0"), int(level_value) if level_value.isdigit() else 0


class _Numbering:
    """Word's automatic numbering counted as the paragraphs go by: "1.", "a)" and bullets as "–"."""

    def __init__(self, numbering: Any) -> None:
        abstract: dict[str, dict[int, tuple[str, str, int]]] = {}
        self._levels: dict[str, dict[int, tuple[str, str, int]]] = {}
        self._counts: dict[str, list[int]] = {}
        if numbering is None:
            return
        for definition in numbering.iterchildren(qn("w:abstractNum")):
            levels = abstract.setdefault(definition.get(qn("w:abstractNumId"), ""), {})
            for level in definition.iterchildren(qn("w:lvl")):
                index = level.get(qn("w:ilvl"), "0")
                levels[int(index) if index.isdigit() else 0] = (
                    _val(level, "w:numFmt", "decimal"),
                    _val(level, "w:lvlText", ""),
                    _int(_val(level, "w:start", "1")),
                )
        for instance in numbering.iterchildren(qn("w:num")):
            self._levels[instance.get(qn("w:numId"), "")] = abstract.get(_val(instance, "w:abstractNumId", ""), {})

    def prefix(self, number: tuple[str, int] | None) -> str:
        """The label of the next paragraph numbered `number` ((numId, level)), "" when it has none."""
        if number is None or number[0] == "0" or number[0] not in self._levels:
            return ""
        num_id, level = number
        levels = self._levels[num_id]
        if level not in levels or not 0 <= level < 9:
            return ""
        counts = self._counts.setdefault(num_id, [levels.get(index, ("", "", 1))[2] - 1 for index in range(9)])
        counts[level] += 1
        for deeper in range(level + 1, 9):
            counts[deeper] = levels.get(deeper, ("", "", 1))[2] - 1
        form, text, _ = levels[level]
        if form == "bullet":
            return _BULLET
        if form == "none":
            return ""
        if not text:
            return _format(form, counts[level]) + ("." if form == "decimal" else ")")
        return re.sub(r"%([1-9])", lambda m: _format(levels.get(int(m[1]) - 1, ("decimal", "", 1))[0], max(counts[int(m[1]) - 1], 1)), text)


def _val(element: Any, tag: str, default: str) -> str:
    found = element.find(qn(tag))
    return found.get(qn("w:val"), default) if found is not None else default


def _int(text: str) -> int:
    return int(text) if text.isdigit() else 1


def _format(form: str, count: int) -> str:
    if form in ("lowerLetter", "upperLetter"):
        letter = chr(ord("a") + (count - 1) % 26) * ((count - 1) // 26 + 1)
        return letter if form == "lowerLetter" else letter.upper()
    if form in ("lowerRoman", "upperRoman"):
        roman = _roman(count)
        return roman.lower() if form == "lowerRoman" else roman
    return str(count)


def _roman(count: int) -> str:
    out = ""
    for value, letters in (
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ):
        while count >= value:
            out, count = out + letters, count - value
    return out


class _Reader:
    """Paragraphs as Word shows them, in reading order: the walk of the body, table cells and text boxes."""

    def __init__(self, styles: _Styles, numbering: _Numbering) -> None:
        self.styles = styles
        self.numbering = numbering

    def blocks(self, container: Any, depth: int = 0, in_table: bool = False, ruled: bool = False) -> Iterator[_Block]:
        """Every paragraph under `container` in document order, empty ones too (the walk counts them), lazily.

        The XML is walked directly: python-docx's `row.cells` finds a vertically merged cell's top by
        walking up row by row, a list search each step, which took 34 s on 20,000 merged rows.
        A cell that continues a vertical merge holds no text of its own (its text is the top cell's),
        and a cell spanning columns is one element: each cell is read once.
        """
        for element in container.iterchildren():
            if element.tag == _W_P:
                yield from self._paragraph(element, depth, in_table, ruled)
            elif element.tag == _W_TBL:
                if depth < _TABLE_DEPTH:
                    drawn = ruled or self._ruled(element)
                    for row in element.iterchildren(_W_TR):
                        for cell in row.iterchildren(_W_TC):
                            if cell.vMerge != "continue":
                                yield from self.blocks(cell, depth + 1, True, drawn)
            elif element.tag in _BLOCK_CONTAINERS:
                yield from self.blocks(element, depth, in_table, ruled)

    def _ruled(self, table: Any) -> bool:
        """Whether a table draws lines: a data table. The official layout's tables (header, signature) are borderless."""
        properties = table.find(qn("w:tblPr"))
        borders = properties.find(qn("w:tblBorders")) if properties is not None else None
        if borders is not None:
            drawn = _any_border(borders)
        else:
            drawn = self.styles.ruled(_val(properties, "w:tblStyle", "") if properties is not None else "")
        for row in table.iterchildren(_W_TR):
            for cell in row.iterchildren(_W_TC):
                cell_borders = cell.find(f"{qn('w:tcPr')}/{qn('w:tcBorders')}")
                drawn = drawn or (cell_borders is not None and _any_border(cell_borders))
        return drawn

    def _paragraph(self, paragraph: Any, depth: int, in_table: bool, ruled: bool) -> Iterator[_Block]:
        properties = paragraph.find(qn("w:pPr"))
        style_id = _val(properties, "w:pStyle", "") if properties is not None else ""
        font = self.styles.font(style_id, WD_STYLE_TYPE.PARAGRAPH) or self.styles.default_font
        pieces: list[tuple[str, tuple[Legacy, bool] | None]] = []
        boxes: list[Any] = []
        pictures: list[bool] = []
        self._inline(paragraph, font, pieces, boxes, pictures)
        text = _lines(_join(pieces))
        prefix = self.numbering.prefix(_number_of(properties) or self.styles.numbering(style_id))
        if text and prefix:
            text = f"{prefix} {text}"
        shows_badly = "a picture" if pictures else "a ruled table" if ruled else None
        yield _Block(text, self.styles.is_title(style_id), in_table, shows_badly)
        for box in boxes:
            if depth < _TABLE_DEPTH:
                yield from self.blocks(box, depth + 1, in_table, ruled)

    def _inline(self, parent: Any, font: str | None, pieces: list[Any], boxes: list[Any], pictures: list[bool]) -> None:
        for child in parent.iterchildren():
            if child.tag == _W_R:
                self._run(child, font, pieces, boxes, pictures)
            elif child.tag == _MC_ALTERNATE:
                branch = _branch(child)
                if branch is not None:
                    self._inline(branch, font, pieces, boxes, pictures)
            elif child.tag in _INLINE_CONTAINERS:
                self._inline(child, font, pieces, boxes, pictures)

    def _run(self, run: Any, font: str | None, pieces: list[Any], boxes: list[Any], pictures: list[bool]) -> None:
        properties = run.find(qn("w:rPr"))
        if properties is not None:
            own = _font_name(properties.find(qn("w:rFonts")))
            font = own or self.styles.font(_val(properties, "w:rStyle", ""), WD_STYLE_TYPE.CHARACTER) or font
        legacy = _legacy_of(font)
        for child in run.iterchildren():
            if child.tag == _W_T:
                pieces.append((child.text or "", legacy))
            elif child.tag == qn("w:br"):
                if child.get(qn("w:type"), "textWrapping") == "textWrapping":  # page and column breaks show nothing
                    pieces.append(("\n", legacy))
            elif child.tag in _RUN_TEXT:
                pieces.append((_RUN_TEXT[child.tag], legacy))
            elif child.tag == qn("w:object"):
                pictures.append(True)
            elif child.tag in (qn("w:drawing"), qn("w:pict"), _MC_ALTERNATE):
                _drawn(child, boxes, pictures)


def _branch(alternate: Any) -> Any:
    """The one branch of an mc:AlternateContent read: its first Choice (Word's own), else its Fallback, never both."""
    choice = next(alternate.iterchildren(_MC_CHOICE), None)
    return choice if choice is not None else next(alternate.iterchildren(_MC_FALLBACK), None)


def _drawn(element: Any, boxes: list[Any], pictures: list[bool]) -> None:
    """The text boxes (in order) and pictures inside a drawing, one branch of each alternate content."""
    if element.tag == _MC_ALTERNATE:
        element = _branch(element)
    stack = [element] if element is not None else []
    while stack:
        node = stack.pop()
        if node.tag == _W_TXBX:
            boxes.append(node)
            continue
        if node.tag in _PICTURES:
            pictures.append(True)
        children = [_branch(child) if child.tag == _MC_ALTERNATE else child for child in node.iterchildren()]
        stack.extend(reversed([child for child in children if child is not None]))


def _join(pieces: list[tuple[str, tuple[Legacy, bool] | None]]) -> str:
    """The paragraph's text, each stretch typed in one legacy font converted as a whole."""
    out: list[str] = []
    index = 0
    while index < len(pieces):
        legacy = pieces[index][1]
        stretch: list[str] = []
        while index < len(pieces) and pieces[index][1] == legacy:
            stretch.append(pieces[index][0])
            index += 1
        text = "".join(stretch)
        out.append(text if legacy is None or text.isascii() else _from_legacy(text, *legacy, at_start=not "".join(out).strip()))
    return "".join(out)


def _from_legacy(text: str, legacy: Legacy, capitals: bool, *, at_start: bool) -> str:
    """A stretch typed in a legacy font, in Unicode; kept as it is when it was Unicode typed in that font after all."""
    # The conversion capitalises a line's first letter: a stretch in mid-line is led by a letter that keeps it from that.
    lead = "" if at_start else "x"
    raw = text_as_legacy_bytes(lead + text)
    if raw is None:
        return text
    converted = convert(raw, legacy)[len(lead) :]
    # The font says legacy: its reading wins unless only the text as it is reads as Vietnamese.
    chosen = best_reading({legacy.value: converted, "as is": text})
    if chosen == "as is":
        return text
    return converted.upper() if capitals else converted


def _lines(text: str) -> str:
    """Cleaned text, its manual line breaks as "\\n", each line stripped, empty lines dropped."""
    cleaned, _ = clean_text(text)
    lines = (line.strip() for line in cleaned.split("\n"))
    return "\n".join(line for line in lines if line)


# --- an official notice's parts (Nghị định 30/2020/NĐ-CP), pure ---------------------------------------------

_TYPES = (
    "THÔNG BÁO", "QUYẾT ĐỊNH", "KẾ HOẠCH", "CÔNG VĂN", "GIẤY MỜI", "THƯ MỜI", "TỜ TRÌNH", "BÁO CÁO", "CHỈ THỊ",
    "HƯỚNG DẪN", "NGHỊ QUYẾT", "THÔNG CÁO", "CHƯƠNG TRÌNH", "PHƯƠNG ÁN", "ĐỀ ÁN", "GIẤY TRIỆU TẬP",
    "GIẤY GIỚI THIỆU", "BIÊN BẢN", "QUY CHẾ", "QUY ĐỊNH", "LỜI KÊU GỌI", "THƯ KÊU GỌI", "THÔNG TRI",
)  # fmt: skip
_TYPE_LINE = re.compile(rf"({'|'.join(_TYPES)})(?:\s+KHẨN)?(?:\s+(.*))?")
_SUBJECT_NOT = ("căn cứ", "kính gửi", "thực hiện", "theo ")
_SIGNATURE = re.compile(r"(?:(?:TM|KT|TL|TUQ|T/M|K/T|T/L)\.?|Q\.)\s*\S")
_SIGNERS = frozenset(
    {
        "CHỦ TỊCH", "PHÓ CHỦ TỊCH", "TRƯỞNG THÔN", "TRƯỞNG ẤP", "TRƯỞNG BẢN", "TRƯỞNG BAN", "PHÓ TRƯỞNG BAN",
        "BÍ THƯ", "PHÓ BÍ THƯ", "GIÁM ĐỐC", "PHÓ GIÁM ĐỐC", "TRƯỞNG TRẠM", "TRƯỞNG PHÒNG", "HIỆU TRƯỞNG",
        "CHÁNH VĂN PHÒNG", "NGƯỜI LẬP", "THỦ TRƯỞNG ĐƠN VỊ",
    }
)  # fmt: skip
_SUBJECT_CHARS = 300


def _flat(text: str) -> str:
    return " ".join(text.split())


def _type_line(block: _Block) -> bool:
    """Whether a paragraph is the document's type (THÔNG BÁO, QUYẾT ĐỊNH…), in capitals on its own line."""
    text = _flat(block.text).rstrip(":").strip()
    return not block.in_table and text == text.upper() and len(text.split()) <= 15 and _TYPE_LINE.fullmatch(text) is not None


def _subject(block: _Block) -> bool:
    """Whether the paragraph after the type is its subject ("Về việc…", "Tổ chức tiêm chủng…"), not yet the body."""
    text = _flat(block.text)
    return (
        bool(text)
        and not block.in_table
        and text != text.upper()
        and len(text) <= _SUBJECT_CHARS
        and not text.lower().startswith(_SUBJECT_NOT)
    )


def _ends_body(text: str) -> bool:
    """Whether the body is over: "Nơi nhận", or the signature block ("TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH")."""
    flat = _flat(text).rstrip(":")
    if flat.lower().startswith("nơi nhận"):
        return True
    return flat == flat.upper() and (flat in _SIGNERS or _SIGNATURE.match(flat) is not None)


def _lower_first(subject: str) -> str:
    if subject[:4].lower() == "v/v ":
        return "về việc " + subject[4:]
    if len(subject) > 1 and subject[0].isupper() and not subject[1].isupper():
        return subject[0].lower() + subject[1:]
    return subject


def _notice(blocks: list[_Block]) -> tuple[str, list[_Block]]:
    """(title, the blocks of the body) of a document's paragraphs, at least one of which has text.

    An official notice is titled by its type and subject and its body runs from there to the signature or
    "Nơi nhận"; the authority, motto, number and date above are left out. Any other document is titled by its
    first Title or Heading paragraph (else its first one), the rest its body.
    """
    kind = next((index for index, block in enumerate(blocks) if block.text and _type_line(block)), None)
    if kind is None:
        texts = [index for index, block in enumerate(blocks) if block.text]
        title_index = next((index for index in texts if blocks[index].is_title), texts[0])
        return blocks[title_index].text.replace("\n", " "), [block for index, block in enumerate(blocks) if index != title_index]
    typed = _flat(blocks[kind].text).rstrip(":").strip()
    found = _TYPE_LINE.fullmatch(typed)
    title = typed.capitalize() if found is not None and not found.group(2) else typed
    start = kind + 1
    following = next((index for index in range(start, len(blocks)) if blocks[index].text), None)
    # A type line that carries its own subject ("THÔNG BÁO TIÊM CHỦNG") is the whole title: the next paragraph is the body.
    if following is not None and _subject(blocks[following]) and (found is None or not found.group(2)):
        title = f"{title} {_lower_first(_flat(blocks[following].text))}"
        start = following + 1
    end = next((index for index in range(start, len(blocks)) if blocks[index].text and _ends_body(blocks[index].text)), len(blocks))
    return title, blocks[start:end]


def _numbering_element(document: Any) -> Any:
    try:
        return document.part.part_related_by(RT.NUMBERING).element
    except KeyError:
        return None


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
    """(title, body) of a .docx's bytes: an official notice's type and subject, else its first heading, and the body.

    Paragraphs are separated by a blank line ("\\n\\n"), line breaks inside one by "\\n"; empty
    paragraphs are skipped. Text is NFC-normalised. `origin` names the file in errors. Refused
    (`MediaError`) past the package limits, the notice caps, or `budget` (default `DECODE_SECONDS`);
    `NeedsPages` when the body holds a ruled table or a picture, to be shown as the document's pages.
    """
    budget = budget if budget is not None else Budget(DECODE_SECONDS)
    check_package(raw, origin, WORD_LIMITS).close()
    try:
        document = docx.Document(io.BytesIO(raw))
        budget.check(origin, "reading the Word document")
        reader = _Reader(_Styles(document.styles.element), _Numbering(_numbering_element(document)))
        blocks = _walk(document, reader, origin, budget)
    except MediaError:
        raise
    except Exception as exc:
        # python-docx on a damaged package fails with whatever lxml, zipfile or its own
        # lookups raise (KeyError, ValueError, XMLSyntaxError, ...): all mean "cannot read it".
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MediaError(f"{origin}: not a readable Word document ({detail})") from None
    if not any(block.text for block in blocks):
        if blocks:  # pictures alone
            raise NeedsPages(f"{origin}: a Word document of pictures alone, which a text slide cannot show")
        raise MediaError(f"{origin}: empty document")
    title, body_blocks = _notice(blocks)
    shows_badly = next((block.shows_badly for block in body_blocks if block.shows_badly), None)
    if shows_badly is not None:
        raise NeedsPages(f"{origin}: its body holds {shows_badly}, which a text slide cannot show faithfully", title=title or None)
    body = "\n\n".join(block.text for block in body_blocks if block.text)
    problem = too_long(title, body or title)
    if problem is not None:
        raise OverLimit(f"{origin}: too long for a notice: {problem}")
    return title, body or title


def _walk(document: Any, reader: _Reader, origin: str, budget: Budget) -> list[_Block]:
    """The paragraphs with text or a picture (or in a ruled table), stopping as soon as a cap or the budget is passed."""
    blocks: list[_Block] = []
    texts = characters = 0
    for walked, block in enumerate(reader.blocks(document.element.body), start=1):
        if walked % _BUDGET_EVERY == 1:
            budget.check(origin, "reading the Word document")
        if walked > MAX_WORD_BLOCKS:
            raise OverLimit(f"{origin}: too long for a notice: over {MAX_WORD_BLOCKS} paragraphs and table cells")
        if not block.text and block.shows_badly is None:
            continue
        blocks.append(block)
        if not block.text:
            continue
        texts += 1
        characters += text_chars(block.text)
        # The title is one of these paragraphs; the exact caps are checked on the title and body made of them.
        if texts > MAX_BODY_LINES + 1:
            raise OverLimit(f"{origin}: too long for a notice: over {MAX_BODY_LINES} paragraphs")
        if characters > MAX_BODY_CHARS + MAX_TITLE_CHARS:
            raise OverLimit(f"{origin}: too long for a notice: over {MAX_BODY_CHARS} characters")
    return blocks
