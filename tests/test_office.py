"""Office files (.doc, .odt, .rtf, .pptx, .xlsx) made by a real LibreOffice, dropped into a real drop folder, shown as PDF pages."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from signage.config import BoardConfig, load_config
from signage.content import load_content
from signage.errors import MediaError
from signage.inbox.watch import InboxWatch
from signage.media.office import import_filter, is_office, to_pdf
from signage.model import Kind, Playable

SOFFICE = shutil.which("soffice")
needs_libreoffice = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed: make system-test-deps")

TITLE = "THÔNG BÁO TIÊM CHỦNG"
BODY = "Trạm y tế xã tổ chức tiêm chủng cho trẻ em vào sáng thứ Bảy."

ODF = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
    'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" office:version="1.2"'
)
BIG = (
    '<office:automatic-styles><style:style style:name="big" style:family="paragraph">'
    '<style:text-properties fo:font-size="36pt" fo:font-weight="bold"/></style:style></office:automatic-styles>'
)
SLIDES = f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document {ODF} office:mimetype="application/vnd.oasis.opendocument.presentation">{BIG}
<office:body><office:presentation><draw:page draw:name="p1">
<draw:frame svg:x="1cm" svg:y="2cm" svg:width="26cm" svg:height="6cm"><draw:text-box>
<text:p text:style-name="big">{TITLE}</text:p><text:p>{BODY}</text:p></draw:text-box></draw:frame>
</draw:page></office:presentation></office:body></office:document>
"""
SHEET = f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document {ODF} office:mimetype="application/vnd.oasis.opendocument.spreadsheet">{BIG}
<office:body><office:spreadsheet><table:table table:name="Lich truc">
<table:table-row><table:table-cell office:value-type="string">
<text:p text:style-name="big">{TITLE}</text:p></table:table-cell></table:table-row>
<table:table-row><table:table-cell office:value-type="string"><text:p>{BODY}</text:p></table:table-cell></table:table-row>
</table:table></office:spreadsheet></office:body></office:document>
"""
PAGE = f"""<html><head><meta charset="utf-8"></head>
<body><h1 style="font-size:36pt">{TITLE}</h1><p style="font-size:16pt">{BODY}</p></body></html>
"""


def _soffice(source: Path, target: str, outdir: Path) -> Path:
    """Convert with LibreOffice itself, as an office would save the file (`target` is soffice's --convert-to)."""
    profile = f"-env:UserInstallation={(outdir / '.profile').as_uri()}"
    subprocess.run(
        [SOFFICE or "soffice", "--headless", "--norestore", profile, "--convert-to", target, "--outdir", str(outdir), str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    made = outdir / f"{source.stem}.{target.split(':')[0]}"
    assert made.is_file(), f"soffice made no {made.name}"
    return made


@pytest.fixture(scope="module")
def office_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A .doc, .odt, .rtf, .pptx and .xlsx, each holding TITLE and BODY, saved by LibreOffice."""
    folder = tmp_path_factory.mktemp("office")
    (folder / "notice.html").write_text(PAGE, encoding="utf-8")
    (folder / "slides.fodp").write_text(SLIDES, encoding="utf-8")
    (folder / "roster.fods").write_text(SHEET, encoding="utf-8")
    return {
        ".doc": _soffice(folder / "notice.html", "doc:MS Word 97", folder),
        ".odt": _soffice(folder / "notice.html", "odt:writer8", folder),
        ".rtf": _soffice(folder / "notice.html", "rtf:Rich Text Format", folder),
        ".pptx": _soffice(folder / "slides.fodp", "pptx:Impress MS PowerPoint 2007 XML", folder),
        ".xlsx": _soffice(folder / "roster.fods", "xlsx:Calc MS Excel 2007 XML", folder),
    }


@pytest.fixture
def config(tmp_path: Path) -> BoardConfig:
    path = tmp_path / "board.toml"
    path.write_text(
        textwrap.dedent(
            """
            [board]
            id = "tan-quan"
            name = "UBND xã Tân Quan"
            data_dir = "state"
            [inbox]
            path = "bangtin"
            settle_seconds = 0.6
            """
        ),
        encoding="utf-8",
    )
    return load_config(path)


@pytest.fixture
def watch(config: BoardConfig) -> Iterator[InboxWatch]:
    watcher = InboxWatch(config, lambda changes: None)
    watcher.start()
    yield watcher
    watcher.stop()


def held(config: BoardConfig) -> dict[str, Playable]:
    return {p.bulletin.title: p for p in load_content(config)}


def until(condition: Callable[[], bool], watcher: InboxWatch, seconds: float = 120.0) -> None:
    """Tick the watcher (as its job does every 0.25 s) until `condition`; conversions take seconds on a loaded machine."""
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        watcher.tick()
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def first_page_words(pdf: Path) -> str:
    """The first page rendered and read back by tesseract (Vietnamese), NFC and upper case; '' without tesseract."""
    if shutil.which("tesseract") is None:
        return ""
    document = pdfium.PdfDocument(str(pdf))
    try:
        image = document[0].render(scale=3).to_pil()
    finally:
        document.close()
    png = pdf.with_name(f"{pdf.stem}-page1.png")
    image.save(png)
    languages = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, check=False).stdout.split()
    language = "vie" if "vie" in languages else "eng"
    read = subprocess.run(["tesseract", str(png), "-", "-l", language], capture_output=True, text=True, check=True, timeout=120).stdout
    return unicodedata.normalize("NFC", read).upper()


def test_only_the_leading_bytes_of_an_office_file_get_an_import_filter() -> None:
    assert import_filter(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", ".DOC") == "MS Word 97"
    assert import_filter(b"{\\rtf1\\ansi", ".doc") == "Rich Text Format"  # Word's "save as .doc" of an RTF
    assert import_filter(b"PK\x03\x04", ".pptx") == "Impress MS PowerPoint 2007 XML"
    assert import_filter(b"PK\x03\x04", ".rtf") is None
    assert import_filter(b"\x89PNG\r\n", ".doc") is None
    assert import_filter(b"PK\x03\x04", ".docx") == "MS Word 2007 XML"  # on request: the drop folder reads it as text


@needs_libreoffice
def test_random_bytes_named_doc_are_refused_with_a_reason_naming_the_file(tmp_path: Path) -> None:
    junk = tmp_path / "Thông báo hỏng.doc"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(MediaError, match=re.escape("Thông báo hỏng.doc: nội dung không phải tệp văn phòng")):
        to_pdf(junk, tmp_path / "cache")
    looks_like_word = tmp_path / "Cong van.doc"
    looks_like_word.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(8192))
    with pytest.raises(MediaError, match=re.escape("Cong van.doc: LibreOffice không chuyển được")) as refused:
        to_pdf(looks_like_word, tmp_path / "cache")
    assert "\n" not in str(refused.value)
    began = time.monotonic()
    with pytest.raises(MediaError, match=re.escape("Cong van.doc: LibreOffice không chuyển được")):
        to_pdf(looks_like_word, tmp_path / "cache")  # remembered: LibreOffice is not asked again
    assert time.monotonic() - began < 5
    assert not list((tmp_path / "cache").glob("*.pdf"))


@needs_libreoffice
@pytest.mark.slow
def test_a_document_that_outlasts_the_time_limit_is_refused_and_leaves_no_converter_behind(
    office_files: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(MediaError, match=re.escape("notice.doc: LibreOffice chuyển tệp quá")):
        to_pdf(office_files[".doc"], tmp_path / "cache", timeout_seconds=0.05)
    time.sleep(1)
    leftover = subprocess.run(["pgrep", "-f", str(tmp_path / "cache")], capture_output=True, text=True, check=False).stdout
    assert leftover == ""
    assert not list((tmp_path / "cache").glob("*.failed"))  # a slow machine is not the file's fault: tried again later


@needs_libreoffice
@pytest.mark.slow
def test_each_office_file_dropped_in_becomes_a_pdf_bulletin_reading_its_vietnamese_title(
    office_files: dict[str, Path], config: BoardConfig, watch: InboxWatch
) -> None:
    assert config.inbox is not None
    # A .doc, .odt or .rtf is read as a notice, like a .docx (tests/test_office_notices.py): slides and sheets are pages.
    names = {suffix: f"Tiêm chủng {suffix[1:]}{suffix}" for suffix in office_files if suffix not in (".doc", ".odt", ".rtf")}
    for suffix, made in office_files.items():
        if suffix not in names:
            continue
        shutil.copyfile(made, config.inbox.path / names[suffix])
    titles = {suffix: name.rsplit(".", 1)[0] for suffix, name in names.items()}
    until(lambda: set(titles.values()) <= set(held(config)), watch)
    shown = held(config)
    for suffix, title in titles.items():
        playable = shown[title]
        assert playable.bulletin.kind == Kind.PDF, suffix
        assert playable.media_path is not None and playable.media_path.read_bytes()[:5] == b"%PDF-", suffix
        words = " ".join(first_page_words(playable.media_path).split())
        if words:  # tesseract may read one accent wrong (BÁO as BẢO): the rest of the title and the body read right
            assert "THÔNG B" in words and "TIÊM CHỦNG" in words and "TRẠM Y TẾ XÃ" in words, (suffix, words)
    assert not list(config.inbox.quarantine.glob("*")) if config.inbox.quarantine.exists() else True


@needs_libreoffice
@pytest.mark.slow
def test_a_doc_libreoffice_chokes_on_is_set_aside_with_its_reason(config: BoardConfig, watch: InboxWatch) -> None:
    assert config.inbox is not None
    (config.inbox.path / "Lich truc.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(8192))
    (config.inbox.path / "Rac.doc").write_bytes(os.urandom(4096))
    quarantine = config.inbox.quarantine
    until(lambda: (quarantine / "Lich truc.doc.reason.txt").is_file() and (quarantine / "Rac.doc.reason.txt").is_file(), watch)
    choked = (quarantine / "Lich truc.doc.reason.txt").read_text(encoding="utf-8").strip()
    assert choked.startswith("Lich truc.doc: ") and "LibreOffice không chuyển được" in choked and "\n" not in choked
    junk = (quarantine / "Rac.doc.reason.txt").read_text(encoding="utf-8").strip()
    assert junk.startswith("Rac.doc: ") and "không phải tệp văn phòng" in junk
    assert not held(config)


@needs_libreoffice
@pytest.mark.slow
def test_the_same_bytes_dropped_again_are_not_converted_again(
    office_files: dict[str, Path], config: BoardConfig, watch: InboxWatch
) -> None:
    assert config.inbox is not None
    shutil.copyfile(office_files[".pptx"], config.inbox.path / "Hop dan.pptx")
    until(lambda: "Hop dan" in held(config), watch)
    converted = list((config.board.data_dir / "media" / "converted").glob("*.pdf"))
    assert len(converted) == 1
    made_at = converted[0].stat().st_mtime_ns
    first = held(config)["Hop dan"].bulletin.media
    shutil.copyfile(office_files[".pptx"], config.inbox.path / "Hop dan lan 2.pptx")
    until(lambda: "Hop dan lan 2" in held(config), watch)
    second = held(config)["Hop dan lan 2"].bulletin.media
    # LibreOffice stamps each PDF with the time it made it: the same PDF means no second conversion.
    assert first is not None and second is not None and first.sha256 == second.sha256
    assert list((config.board.data_dir / "media" / "converted").glob("*.pdf")) == converted
    assert converted[0].stat().st_mtime_ns == made_at


@needs_libreoffice
@pytest.mark.slow
def test_signage_render_shows_a_slide_deck_as_the_board_would(office_files: dict[str, Path], tmp_path: Path) -> None:
    deck = tmp_path / "Lịch tiêm.pptx"
    shutil.copyfile(office_files[".pptx"], deck)
    out = tmp_path / "frame.png"
    environment = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    done = subprocess.run(
        [sys.executable, "-m", "signage", "render", str(deck), "--out", str(out)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    if shutil.which("tesseract") is not None:
        read = subprocess.run(["tesseract", str(out), "-", "-l", "vie"], capture_output=True, text=True, check=True, timeout=120).stdout
        words = " ".join(unicodedata.normalize("NFC", read).upper().split())
        # The page is shown whole with its title beside it (LỊCH TIÊM, the file's name): smaller type, and tesseract may
        # read one accent of the slide's heading wrong (TIÊM as TIỀM); the heading's first words and the body read right.
        assert "LỊCH TIÊM" in words and "THÔNG BÁO" in words, words
        assert "TRẠM Y TẾ XÃ" in words and "TỔ CHỨC TIÊM CHỦNG" in words, words


@needs_libreoffice
def test_a_docx_can_be_asked_for_as_pages_though_the_drop_folder_reads_it_as_text(tmp_path: Path) -> None:
    (tmp_path / "notice.html").write_text(PAGE, encoding="utf-8")
    word = _soffice(tmp_path / "notice.html", "docx:MS Word 2007 XML", tmp_path)
    assert not is_office(word.name)  # the board's own reader (media.docxfile) takes it first
    pdf = to_pdf(word, tmp_path / "cache")
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.name.endswith(".pdf")
