""".doc, .odt and .rtf notices made by a real LibreOffice read like a .docx notice: titled by type and subject (issue 16)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from signage.config import BoardConfig
from signage.inbox.watch import InboxWatch
from signage.model import Kind
from signage.render.single import resolve_source
from tests.test_legacy_text import to_tcvn3
from tests.test_office import _soffice, config, held, needs_libreoffice, until, watch

__all__ = ["config", "watch"]  # the drop folder's fixtures, shared with tests/test_office.py

SUBJECT = "Về việc tổ chức tiêm chủng cho trẻ em"
TITLE = "Thông báo về việc tổ chức tiêm chủng cho trẻ em"
BODY = "Trạm Y tế xã tổ chức tiêm chủng vào sáng thứ Bảy tại Nhà văn hóa thôn Đông."


def notice_html(*, font: str | None = None, ruled_table: bool = False) -> bytes:
    """A notice in the Nghị định 30/2020/NĐ-CP layout as HTML: the authority and motto in a borderless table, THÔNG BÁO,
    Về việc …, the body, the signature and Nơi nhận. With `font` (".VnTime") every run is typed in it, as TCVN3 bytes."""
    roster = (
        '<table border="1" style="border-collapse:collapse"><tr><td>Ngày</td><td>Người trực</td></tr>'
        "<tr><td>Thứ Hai</td><td>Ông Nam</td></tr></table>"
        if ruled_table
        else ""
    )
    body = f"""<table border="0"><tr><td><p>ỦY BAN NHÂN DÂN</p><p>XÃ AN BÌNH</p><p>Số: 45/TB-UBND</p></td>
<td><p>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</p><p>Độc lập - Tự do - Hạnh phúc</p><p>An Bình, ngày 20 tháng 11 năm 2026</p></td></tr></table>
<p align="center"><b>THÔNG BÁO</b></p><p align="center"><b>{SUBJECT}</b></p><p>{BODY}</p>{roster}
<table border="0"><tr><td><p>Nơi nhận:</p><p>- Như trên;</p><p>- Lưu: VT.</p></td>
<td><p>TM. ỦY BAN NHÂN DÂN</p><p>CHỦ TỊCH</p><p>Nguyễn Văn An</p></td></tr></table>"""
    if font is None:
        return f'<html><head><meta charset="utf-8"></head><body>{body}</body></html>'.encode()
    head = b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252"></head>'
    return head + f"<body style=\"font-family: '{font}'\">".encode() + to_tcvn3(body) + b"</body></html>"


@pytest.fixture(scope="module")
def notices(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The official notice saved by LibreOffice as .doc, .odt and .rtf; typed in .VnTime as .doc; with a ruled table as .doc."""
    folder = tmp_path_factory.mktemp("notices")
    (folder / "notice.html").write_bytes(notice_html())
    (folder / "vntime.html").write_bytes(notice_html(font=".VnTime"))
    (folder / "roster.html").write_bytes(notice_html(ruled_table=True))
    return {
        "doc": _soffice(folder / "notice.html", "doc:MS Word 97", folder),
        "odt": _soffice(folder / "notice.html", "odt:writer8", folder),
        "rtf": _soffice(folder / "notice.html", "rtf:Rich Text Format", folder),
        "vntime": _soffice(folder / "vntime.html", "doc:MS Word 97", folder),
        "roster": _soffice(folder / "roster.html", "doc:MS Word 97", folder),
    }


def _drop(config: BoardConfig, made: Path, name: str) -> None:
    assert config.inbox is not None
    shutil.copyfile(made, config.inbox.path / name)


@needs_libreoffice
@pytest.mark.slow
@pytest.mark.parametrize("saved_as", ["doc", "odt", "rtf"])
def test_an_official_notice_saved_as_doc_odt_or_rtf_becomes_a_text_bulletin_titled_by_its_type_and_subject(
    notices: dict[str, Path], config: BoardConfig, watch: InboxWatch, saved_as: str
) -> None:
    _drop(config, notices[saved_as], f"tb45.{saved_as}")
    until(lambda: TITLE in held(config), watch)
    bulletin = held(config)[TITLE].bulletin
    assert bulletin.kind is Kind.TEXT
    assert bulletin.body is not None and BODY in bulletin.body
    assert "CỘNG HÒA" not in bulletin.body and "Nơi nhận" not in bulletin.body
    assert not config.inbox.quarantine.exists() or not list(config.inbox.quarantine.iterdir())


@needs_libreoffice
@pytest.mark.slow
def test_a_doc_typed_in_vntime_becomes_unicode_vietnamese(notices: dict[str, Path], config: BoardConfig, watch: InboxWatch) -> None:
    _drop(config, notices["vntime"], "tb45 ABC.doc")
    until(lambda: TITLE in held(config), watch)
    bulletin = held(config)[TITLE].bulletin
    assert bulletin.kind is Kind.TEXT
    assert bulletin.body is not None and BODY in bulletin.body


@needs_libreoffice
@pytest.mark.slow
def test_a_doc_with_a_ruled_table_is_shown_as_its_pages_titled_by_its_subject(
    notices: dict[str, Path], config: BoardConfig, watch: InboxWatch
) -> None:
    _drop(config, notices["roster"], "lich truc.doc")
    until(lambda: TITLE in held(config), watch)
    playable = held(config)[TITLE]
    assert playable.bulletin.kind is Kind.PDF
    assert playable.media_path is not None and playable.media_path.read_bytes()[:5] == b"%PDF-"


@needs_libreoffice
@pytest.mark.slow
def test_signage_render_reads_a_doc_notice_as_the_drop_folder_does(notices: dict[str, Path], config: BoardConfig, tmp_path: Path) -> None:
    for made, kind in ((notices["vntime"], Kind.TEXT), (notices["roster"], Kind.PDF)):
        work = tmp_path / made.stem
        work.mkdir()
        playable = resolve_source(config, str(made), work)
        assert (playable.bulletin.title, playable.bulletin.kind) == (TITLE, kind)
        if kind is Kind.TEXT:
            assert playable.bulletin.body is not None and BODY in playable.bulletin.body
        else:
            assert playable.media_path is not None and playable.media_path.read_bytes()[:5] == b"%PDF-"
