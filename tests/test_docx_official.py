"""Official Word notices (Nghị định 30/2020/NĐ-CP layout) read by the board's own .docx reader (issue 16).

Each package is zipped here from WordprocessingML written by hand, as Word writes it: the authority and the
national motto in a borderless table, the type and subject, tracked changes, a text box, numbering, a run typed
in `.VnTime`, the signature block and "Nơi nhận".
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from signage.errors import NeedsPages
from signage.media.docxfile import read_docx

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NAMESPACES = (
    f'xmlns:w="{W}" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
    'xmlns:v="urn:schemas-microsoft-com:vml" '
    'mc:Ignorable="w14 wp14"'
)
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    '<Override PartName="/word/numbering.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.numbering+xml"/>'
    "</Types>"
)
PACKAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{RELS}/officeDocument" Target="word/document.xml"/></Relationships>'
)
DOCUMENT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId9" Type="{RELS}/numbering" Target="numbering.xml"/></Relationships>'
)
# numId 1: "1." then "a)" beneath it; numId 2: bullets, as Word's own list buttons make them.
NUMBERING = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:numbering xmlns:w="{W}">'
    '<w:abstractNum w:abstractNumId="0">'
    '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%1."/></w:lvl>'
    '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="lowerLetter"/><w:lvlText w:val="%2)"/></w:lvl>'
    "</w:abstractNum>"
    '<w:abstractNum w:abstractNumId="1">'
    '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="bullet"/><w:lvlText w:val="\uf0b7"/></w:lvl>'
    "</w:abstractNum>"
    '<w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num>'
    '<w:num w:numId="2"><w:abstractNumId w:val="1"/></w:num>'
    "</w:numbering>"
)


def run(text: str, font: str | None = None) -> str:
    fonts = f'<w:rPr><w:rFonts w:ascii="{font}" w:hAnsi="{font}"/></w:rPr>' if font else ""
    return f'<w:r>{fonts}<w:t xml:space="preserve">{text}</w:t></w:r>'


def para(*inner: str, numbered: tuple[int, int] | None = None) -> str:
    numbering = ""
    if numbered is not None:
        num_id, level = numbered
        numbering = f'<w:pPr><w:numPr><w:ilvl w:val="{level}"/><w:numId w:val="{num_id}"/></w:numPr></w:pPr>'
    return f"<w:p>{numbering}{''.join(inner)}</w:p>"


def p(text: str) -> str:
    return para(run(text))


def table(*rows: list[list[str]], ruled: bool = False) -> str:
    """Rows of cells, each cell a list of paragraph texts; borderless, as the official layout's, unless ruled."""
    value = "single" if ruled else "nil"
    sides = "".join(
        f'<w:{side} w:val="{value}" w:sz="4" w:space="0" w:color="auto"/>'
        for side in ("top", "left", "bottom", "right", "insideH", "insideV")
    )
    cells = "".join(
        "<w:tr>" + "".join("<w:tc>" + "".join(p(text) for text in cell) + "</w:tc>" for cell in row) + "</w:tr>" for row in rows
    )
    return f'<w:tbl><w:tblPr><w:tblW w:w="0" w:type="auto"/><w:tblBorders>{sides}</w:tblBorders></w:tblPr>{cells}</w:tbl>'


def text_box(*texts: str) -> str:
    """A floating text box as Word 2010+ saves it: the DrawingML shape, and a VML copy of it for older readers."""
    content = "<w:txbxContent>" + "".join(p(text) for text in texts) + "</w:txbxContent>"
    return (
        "<w:r><mc:AlternateContent>"
        '<mc:Choice Requires="wps"><w:drawing><wp:anchor><wp:docPr id="1" name="Hộp văn bản 1"/>'
        '<a:graphic><a:graphicData uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">'
        f"<wps:wsp><wps:txbx>{content}</wps:txbx></wps:wsp>"
        "</a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice>"
        f"<mc:Fallback><w:pict><v:shape><v:textbox>{content}</v:textbox></v:shape></w:pict></mc:Fallback>"
        "</mc:AlternateContent></w:r>"
    )


HEADER = table(
    [
        ["ỦY BAN NHÂN DÂN", "XÃ AN BÌNH", "Số: 45/TB-UBND"],
        ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "An Bình, ngày 20 tháng 11 năm 2026"],
    ]
)
SIGNATURE = table([["Nơi nhận:", "- Như trên;", "- Lưu: VT."], ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH", "Nguyễn Văn An"]])


def word_file(path: Path, *blocks: str) -> Path:
    document = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document {NAMESPACES}><w:body>{"".join(blocks)}</w:body></w:document>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", CONTENT_TYPES)
        package.writestr("_rels/.rels", PACKAGE_RELS)
        package.writestr("word/_rels/document.xml.rels", DOCUMENT_RELS)
        package.writestr("word/numbering.xml", NUMBERING)
        package.writestr("word/document.xml", document)
    return path


def test_an_official_notice_is_titled_by_its_type_and_subject_and_its_body_keeps_changes_boxes_and_numbering(tmp_path: Path) -> None:
    path = word_file(
        tmp_path / "thong-bao-tiem-chung.docx",
        HEADER,
        p("THÔNG BÁO"),
        p("Về việc tổ chức tiêm chủng cho trẻ em"),
        p("Ủy ban nhân dân xã An Bình thông báo:"),
        para(
            run("Thời gian: "),
            '<w:del w:id="1" w:author="Văn phòng"><w:r><w:delText>7 giờ</w:delText></w:r></w:del>',
            '<w:ins w:id="2" w:author="Văn phòng">' + run("8 giờ") + "</w:ins>",
            run(" sáng thứ Bảy."),
            numbered=(1, 0),
        ),
        para(run("Trẻ dưới 5 tuổi."), numbered=(1, 1)),
        para(run("Trẻ từ 5 đến 10 tuổi."), numbered=(1, 1)),
        para(run("Địa điểm: trạm y tế xã."), numbered=(1, 0)),
        para(run("Mang theo sổ tiêm chủng."), numbered=(2, 0)),
        para(run("Lưu ý:"), text_box("Cảnh báo lũ: không đi qua ngầm tràn Suối Cát.")),
        para(run("Tr©n träng th«ng b¸o./.", ".VnTime")),
        SIGNATURE,
    )

    title, body = read_docx(path)
    assert title == "Thông báo về việc tổ chức tiêm chủng cho trẻ em"
    assert body == "\n\n".join(
        [
            "Ủy ban nhân dân xã An Bình thông báo:",
            "1. Thời gian: 8 giờ sáng thứ Bảy.",
            "a) Trẻ dưới 5 tuổi.",
            "b) Trẻ từ 5 đến 10 tuổi.",
            "2. Địa điểm: trạm y tế xã.",
            "– Mang theo sổ tiêm chủng.",
            "Lưu ý:",
            "Cảnh báo lũ: không đi qua ngầm tràn Suối Cát.",
            "Trân trọng thông báo./.",
        ]
    )


def picture() -> str:
    """An inline picture as Word saves it (the image part itself is not needed to tell one is there)."""
    return (
        '<w:r><w:drawing><wp:inline><wp:docPr id="2" name="Ảnh 2"/><a:graphic>'
        '<a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture">'
        '<pic:pic><pic:blipFill><a:blip r:embed="rId5"/></pic:blipFill></pic:pic>'
        "</a:graphicData></a:graphic></wp:inline></w:drawing></w:r>"
    )


def test_a_notice_whose_body_holds_a_ruled_table_is_to_be_shown_as_its_pages(tmp_path: Path) -> None:
    path = word_file(
        tmp_path / "lich-truc.docx",
        HEADER,
        p("KẾ HOẠCH"),
        p("Trực phòng chống lụt bão"),
        table([["Ngày", "Người trực"], ["Thứ Hai", "Ông Nam"]], ruled=True),
        SIGNATURE,
    )
    with pytest.raises(NeedsPages, match=r"lich-truc\.docx: its body holds a ruled table"):
        read_docx(path)


def test_a_notice_whose_body_holds_a_picture_is_to_be_shown_as_its_pages(tmp_path: Path) -> None:
    path = word_file(
        tmp_path / "so-do.docx", HEADER, p("THÔNG BÁO"), p("Về việc phân luồng giao thông"), para(picture()), p("Đi theo sơ đồ."), SIGNATURE
    )
    with pytest.raises(NeedsPages, match=r"so-do\.docx: its body holds a picture"):
        read_docx(path)


def test_a_decision_is_titled_by_its_subject_and_its_body_stops_at_the_signature(tmp_path: Path) -> None:
    path = word_file(
        tmp_path / "quyet-dinh.docx",
        HEADER,
        p("QUYẾT ĐỊNH"),
        p("V/v công nhận thôn văn hóa năm 2026"),
        p("CHỦ TỊCH ỦY BAN NHÂN DÂN XÃ AN BÌNH"),
        p("Căn cứ Luật Tổ chức chính quyền địa phương;"),
        p("QUYẾT ĐỊNH:"),
        p("Điều 1. Công nhận thôn Đông là thôn văn hóa."),
        para(run("KT. CHñ TÞCH", ".VnTimeH")),
        p("PHÓ CHỦ TỊCH"),
        p("Trần Thị Bình"),
        p("Nơi nhận:"),
        p("- Như Điều 1;"),
    )
    assert read_docx(path) == (
        "Quyết định về việc công nhận thôn văn hóa năm 2026",
        "CHỦ TỊCH ỦY BAN NHÂN DÂN XÃ AN BÌNH\n\nCăn cứ Luật Tổ chức chính quyền địa phương;\n\nQUYẾT ĐỊNH:\n\n"
        "Điều 1. Công nhận thôn Đông là thôn văn hóa.",
    )


def test_a_legacy_font_run_in_mid_line_is_converted_without_a_capital_and_unicode_in_that_font_is_kept(tmp_path: Path) -> None:
    path = word_file(
        tmp_path / "phong-chu.docx",
        p("THÔNG BÁO"),
        p("Lịch họp"),
        para(run("Họp lúc 8 giờ, "), run("®Þa ®iÓm: héi tr­êng.", ".VnTime")),
        para(run("Thông báo đã gửi.", ".VnTime")),  # Unicode typed with the font still set: shown as typed
        para(run("KHÈN CÊP", ".VnTimeH")),
    )
    assert read_docx(path) == (
        "Thông báo lịch họp",
        "Họp lúc 8 giờ, địa điểm: hội trường.\n\nThông báo đã gửi.\n\nKHẨN CẤP",
    )
