"""Attacks on the decoders, the composer and the numbers a feed or playlist carries (security findings 2 and 12).

Each test is named after what the attacker does, and uses real things: zip files built byte by byte,
text files, a signed feed on a real local HTTP server, SQLite, a FIFO that never finishes reading,
a child process that is sent SIGTERM.

The time bounds here tell bounded work from the hangs the review saw (13 s to minutes before the fixes),
with room for a loaded CI machine: they are not speed goals, which bench/ measures.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import docx
import pygame
import pytest
from PIL import Image

from signage.errors import MediaError
from signage.media.docxfile import read_docx
from signage.media.textfile import read_notice
from signage.model import Playable
from signage.render.fonts import FontBook
from tests.feedserver import FeedServer

from .conftest import ROOT

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
# The limits as docs/security.md states them (signage/limits.py holds them; written out here so a change is deliberate).
MAX_BODY_CHARS = 20_000
MAX_BODY_LINES = 2_000
MAX_TITLE_CHARS = 500
MAX_SAFE_INTEGER = 2**53 - 1
DOCUMENT_XML_CAP = 4 * 1024 * 1024
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

# --- Word packages, written by hand as an attacker would --------------------------------------------

CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    b"</Types>"
)


def package_rels(target: str = "word/document.xml") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        f'Target="{target}"/></Relationships>'
    ).encode()


DOCUMENT_HEAD = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{W}"><w:body>'.encode()
DOCUMENT_TAIL = b"</w:body></w:document>"


def paragraph(text: str) -> bytes:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>".encode()


def document_xml(*paragraphs: str) -> bytes:
    return DOCUMENT_HEAD + b"".join(paragraph(p) for p in paragraphs) + DOCUMENT_TAIL


def word_package(path: Path, members: list[tuple[str, bytes]]) -> Path:
    """A .docx of exactly these members, in this order (duplicates and odd names too), deflated hard."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as package:
        for name, data in members:
            package.writestr(zipfile.ZipInfo(name, date_time=(2026, 11, 23, 9, 0, 0)), data, compress_type=zipfile.ZIP_DEFLATED)
    return path


def minimal_docx(path: Path, document: bytes) -> Path:
    return word_package(path, [("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", package_rels()), ("word/document.xml", document)])


def streamed_member(package: zipfile.ZipFile, name: str, chunk: bytes, total_bytes: int, head: bytes = b"", tail: bytes = b"") -> None:
    """A member of `total_bytes` written chunk by chunk: kilobytes in the zip, megabytes inflated."""
    info = zipfile.ZipInfo(name, date_time=(2026, 11, 23, 9, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    with package.open(info, "w", force_zip64=False) as handle:
        handle.write(head)
        for _ in range(max(0, (total_bytes - len(head) - len(tail)) // len(chunk))):
            handle.write(chunk)
        handle.write(tail)


def zip_bomb_docx(path: Path, document_bytes: int) -> Path:
    """Finding 2: a Word file of a few hundred KB whose document.xml inflates to `document_bytes` of real paragraphs."""
    line = paragraph("Thông báo " * 100)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as package:
        package.writestr("[Content_Types].xml", CONTENT_TYPES)
        package.writestr("_rels/.rels", package_rels())
        streamed_member(package, "word/document.xml", line * 64, document_bytes, DOCUMENT_HEAD, DOCUMENT_TAIL)
    return path


def decode_in_a_child(path: Path, timeout_s: float = 30.0) -> tuple[str, float, int]:
    """read_docx(path) in a fresh process: (what it said, seconds the decode took, peak resident KiB of the process).

    The peak is the child's own VmHWM: rusage's maxrss of a child counts the parent it was forked from.
    """
    script = textwrap.dedent(
        """
        import re, sys, time
        from pathlib import Path
        from signage.errors import MediaError
        from signage.media.docxfile import read_docx
        started = time.monotonic()
        try:
            title, body = read_docx(Path(sys.argv[1]))
            said = f"read: {len(body)} characters"
        except MediaError as exc:
            said = f"refused: {exc}"
        seconds = time.monotonic() - started
        peak = re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text())[1]
        print(f"{seconds:.3f} {peak} {said}")
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        output, _ = child.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        pytest.fail(f"decoding {path.name} ran for over {timeout_s:.0f} s")
    assert child.returncode == 0, output
    seconds, peak_kib, said = output.strip().split(" ", 2)
    return said, float(seconds), int(peak_kib)


def test_zip_bomb_docx_is_refused_within_a_second_in_bounded_memory(tmp_path: Path) -> None:
    bomb = zip_bomb_docx(tmp_path / "bom.docx", 49 * 1024 * 1024)
    assert bomb.stat().st_size < 400_000  # the review's was 175 KB
    said, seconds, peak_kib = decode_in_a_child(bomb)
    assert said.startswith("refused: ") and "bom.docx: " in said and "word/document.xml" in said, said
    assert seconds < 5.0
    baseline_said, _, baseline_kib = decode_in_a_child(minimal_docx(tmp_path / "nho.docx", document_xml("Tiêu đề", "Nội dung.")))
    assert baseline_said == "read: 9 characters"
    assert peak_kib - baseline_kib < 40 * 1024, f"{(peak_kib - baseline_kib) // 1024} MiB more than reading a small notice"


@pytest.mark.parametrize("empty_paragraph", [b"<w:p/>", b"<w:p><w:r/></w:p>"], ids=["bare", "with-a-run"])
def test_docx_of_small_paragraphs_filling_document_xml_to_its_cap_is_refused_within_a_second(
    tmp_path: Path, empty_paragraph: bytes
) -> None:
    """Under the document.xml cap, as many paragraphs as fit: refused by count, quickly, in bounded memory."""
    path = tmp_path / "day-doan.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as package:
        package.writestr("[Content_Types].xml", CONTENT_TYPES)
        package.writestr("_rels/.rels", package_rels())
        streamed_member(package, "word/document.xml", empty_paragraph * 1000, DOCUMENT_XML_CAP - 1024, DOCUMENT_HEAD, DOCUMENT_TAIL)
    said, seconds, peak_kib = decode_in_a_child(path)
    assert said.startswith("refused: ") and "paragraphs" in said, said
    assert seconds < 5.0
    assert peak_kib < 200 * 1024


def test_docx_with_a_second_document_xml_is_refused(tmp_path: Path) -> None:
    """The size check looked at the first member of the name; python-docx read the second (the review's was 150 MB)."""
    path = tmp_path / "hai-ban.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as package:
        package.writestr("[Content_Types].xml", CONTENT_TYPES)
        package.writestr("_rels/.rels", package_rels())
        package.writestr("word/document.xml", document_xml("Thông báo", "Nội dung thật."))
        with pytest.warns(UserWarning, match="Duplicate name"):
            streamed_member(package, "word/document.xml", paragraph("Giả mạo " * 100) * 64, 20 * 1024 * 1024, DOCUMENT_HEAD, DOCUMENT_TAIL)
    started = time.monotonic()
    with pytest.raises(MediaError, match=r"hai-ban\.docx: .*word/document\.xml.* twice"):
        read_docx(path)
    assert time.monotonic() - started < 5.0


def test_docx_with_two_members_named_alike_but_for_case_is_refused(tmp_path: Path) -> None:
    """Part names in an Office package are case-insensitive: Word and python-docx may each take a different one."""
    path = word_package(
        tmp_path / "hoa-thuong.docx",
        [
            ("[Content_Types].xml", CONTENT_TYPES),
            ("_rels/.rels", package_rels()),
            ("word/document.xml", document_xml("Thông báo", "Thật.")),
            ("Word/Document.xml", document_xml("Thông báo", "Giả.")),
        ],
    )
    with pytest.raises(MediaError, match=r"hoa-thuong\.docx: .*twice"):
        read_docx(path)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("../../etc/cron.d/x", id="dotdot"),
        pytest.param("word/../../x.xml", id="dotdot-inside"),
        pytest.param("/etc/passwd", id="absolute"),
        pytest.param("C:/Windows/x.xml", id="drive"),
        pytest.param("word\\..\\x.xml", id="backslash"),
        pytest.param("word//x.xml", id="empty-segment"),
        pytest.param("word/\x1b[2Jx.xml", id="control-character"),
    ],
)
def test_docx_with_an_odd_member_name_is_refused(tmp_path: Path, name: str) -> None:
    path = word_package(
        tmp_path / "ten-la.docx",
        [
            ("[Content_Types].xml", CONTENT_TYPES),
            ("_rels/.rels", package_rels()),
            ("word/document.xml", document_xml("Thông báo", "Nội dung.")),
            (name, b"<x/>"),
        ],
    )
    with pytest.raises(MediaError, match=r"ten-la\.docx: .*member name") as caught:
        read_docx(path)
    assert "\n" not in str(caught.value) and "\x1b" not in str(caught.value)


def test_docx_of_sixty_thousand_members_is_refused_before_the_directory_is_read(tmp_path: Path) -> None:
    path = tmp_path / "nhieu-tep.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as package:
        package.writestr("[Content_Types].xml", CONTENT_TYPES)
        package.writestr("_rels/.rels", package_rels())
        package.writestr("word/document.xml", document_xml("Thông báo", "Nội dung."))
        for index in range(60_000):
            package.writestr(f"x/{index}", b"")
    started = time.monotonic()
    with pytest.raises(MediaError, match=r"nhieu-tep\.docx: .*members"):
        read_docx(path)
    assert time.monotonic() - started < 1.0


def test_docx_whose_rels_point_at_another_huge_part_is_refused(tmp_path: Path) -> None:
    """The main part is whatever _rels/.rels names, not word/document.xml: every part is held to the cap."""
    path = tmp_path / "lac-huong.docx"
    content_types = CONTENT_TYPES.replace(b"/word/document.xml", b"/word/khac.xml")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as package:
        package.writestr("[Content_Types].xml", content_types)
        package.writestr("_rels/.rels", package_rels("word/khac.xml"))
        package.writestr("word/document.xml", document_xml("Thông báo", "Nội dung."))
        streamed_member(package, "word/khac.xml", paragraph("Giả mạo " * 100) * 64, 30 * 1024 * 1024, DOCUMENT_HEAD, DOCUMENT_TAIL)
    started = time.monotonic()
    with pytest.raises(MediaError, match=r"lac-huong\.docx: word/khac\.xml unpacks to \d+ bytes"):
        read_docx(path)
    assert time.monotonic() - started < 5.0


def test_docx_of_5000_paragraphs_in_2_kb_is_refused_well_under_a_second(tmp_path: Path) -> None:
    path = minimal_docx(tmp_path / "nam-nghin.docx", document_xml("Thông báo", *["x"] * 5000))
    assert path.stat().st_size < 2500
    started = time.monotonic()
    with pytest.raises(MediaError, match=rf"nam-nghin\.docx: .*over {MAX_BODY_LINES} paragraphs"):
        read_docx(path)
    assert time.monotonic() - started < 1.5


def test_docx_of_a_book_is_refused(tmp_path: Path) -> None:
    path = minimal_docx(tmp_path / "sach.docx", document_xml("Thông báo", *["Nội dung rất dài của một cuốn sách. " * 30] * 30))
    with pytest.raises(MediaError, match=rf"sach\.docx: .*over {MAX_BODY_CHARS} characters"):
        read_docx(path)


def test_docx_at_the_limits_is_read(tmp_path: Path) -> None:
    lines = [f"Hộ số {n:04d}" for n in range(MAX_BODY_LINES)]  # 20,000 characters of text in 2,000 paragraphs
    path = tmp_path / "danh-sach.docx"
    document = docx.Document()
    document.add_heading("Danh sách hộ nhận hỗ trợ", level=1)
    for line in lines:
        document.add_paragraph(line)
    document.save(path)
    started = time.monotonic()
    title, body = read_docx(path)
    assert title == "Danh sách hộ nhận hỗ trợ" and body.split("\n\n") == lines
    assert time.monotonic() - started < 5.0


def test_docx_with_a_table_of_merged_rows_by_the_thousand_is_read_or_refused_quickly(tmp_path: Path) -> None:
    """python-docx finds a vertically merged cell's top by walking up row by row, each step a list search."""
    rows = [b"<w:tr><w:tc><w:tcPr><w:vMerge w:val='restart'/></w:tcPr>" + paragraph("Ô gộp") + b"</w:tc></w:tr>"]
    rows += [b"<w:tr><w:tc><w:tcPr><w:vMerge/></w:tcPr><w:p/></w:tc></w:tr>"] * 20_000
    table = b"<w:tbl><w:tblGrid><w:gridCol/></w:tblGrid>" + b"".join(rows) + b"</w:tbl>"
    path = minimal_docx(tmp_path / "bang-gop.docx", DOCUMENT_HEAD + paragraph("Thông báo") + table + DOCUMENT_TAIL)
    started = time.monotonic()
    try:
        assert read_docx(path) == ("Thông báo", "Ô gộp")
    except MediaError as exc:
        assert "bang-gop.docx: " in str(exc)
    assert time.monotonic() - started < 5.0


def test_docx_whose_decode_outlasts_its_budget_is_abandoned(tmp_path: Path) -> None:
    from signage.limits import Budget

    path = minimal_docx(tmp_path / "cham.docx", document_xml("Thông báo", *[f"Đoạn {n}" for n in range(500)]))
    ticks = iter(range(0, 10_000))  # each look at the clock finds a second gone: a board far slower than this one
    with pytest.raises(MediaError, match=r"cham\.docx: .*took longer than 5 s"):
        read_docx(path, budget=Budget(5.0, clock=lambda: float(next(ticks))))


def test_word_limits_are_one_shared_piece() -> None:
    """The office converters to come reuse the same checks with their own names for the main part."""
    from signage import limits
    from signage.media.package import WORD_LIMITS

    assert WORD_LIMITS.main_part == "word/document.xml"
    assert WORD_LIMITS.part_bytes == DOCUMENT_XML_CAP
    assert (limits.MAX_BODY_CHARS, limits.MAX_BODY_LINES, limits.MAX_TITLE_CHARS) == (MAX_BODY_CHARS, MAX_BODY_LINES, MAX_TITLE_CHARS)
    assert limits.MAX_SAFE_INTEGER == MAX_SAFE_INTEGER


# --- text notices -------------------------------------------------------------------------------------


def test_text_notice_of_a_book_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sach.txt"
    path.write_text("Thông báo\n" + "Nội dung rất dài của một cuốn sách. " * 1500, encoding="utf-8")  # 54,000 characters, 62 KB
    with pytest.raises(MediaError, match=rf"sach\.txt: .*over {MAX_BODY_CHARS} characters"):
        read_notice(path)


def test_text_notice_of_5000_short_lines_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dong.txt"
    path.write_text("Thông báo\n" + "x\n" * 5000, encoding="utf-8")
    with pytest.raises(MediaError, match=rf"dong\.txt: .*over {MAX_BODY_LINES} lines"):
        read_notice(path)


def test_text_notice_whose_title_line_is_a_whole_letter_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mot-dong.txt"
    path.write_text("Kính gửi bà con " * 100, encoding="utf-8")
    with pytest.raises(MediaError, match=rf"mot-dong\.txt: .*title of \d+ characters is over {MAX_TITLE_CHARS}"):
        read_notice(path)


def test_text_notice_at_the_limits_is_read(tmp_path: Path) -> None:
    lines = [f"Hộ số {n:04d}" for n in range(MAX_BODY_LINES)]
    path = tmp_path / "danh-sach.txt"
    path.write_text("Danh sách\n" + "\n".join(lines), encoding="utf-8")
    assert read_notice(path) == ("Danh sách", "\n".join(lines))


# --- numbers and bodies in a signed feed, on a real HTTP server ----------------------------------------------


class SignedFeed:
    """A district key, a site folder served over HTTP, and a board that pins the key."""

    def __init__(self, root: Path, server: FeedServer) -> None:
        from signage.envelope import generate_key, public_key_text, public_raw

        self.key = generate_key(root / "district.key")
        self.site = server.root
        self.config = root / "board.toml"
        self.config.write_text(
            textwrap.dedent(
                f"""
                [board]
                id = "tan-quan"
                name = "UBND xã Tân Quan"
                data_dir = "state"
                [feed]
                url = "{server.url}/feed.json"
                public_keys = ["{public_key_text(public_raw(self.key))}"]
                publisher = "hon-quan"
                """
            ),
            encoding="utf-8",
        )

    def payload(self, bulletins: list[dict], sequence: int | str = 1) -> bytes:
        now = datetime.now(HCM)
        text = json.dumps(
            {
                "format": "signage-feed/1",
                "publisher": "hon-quan",
                "sequence": "@SEQUENCE@",
                "generated_at": (now - timedelta(minutes=1)).isoformat(),
                "expires_at": (now + timedelta(days=7)).isoformat(),
                "bulletins": bulletins,
            },
            ensure_ascii=False,
        )
        return text.replace('"@SEQUENCE@"', str(sequence)).encode("utf-8")

    def publish(self, payload: bytes) -> None:
        from signage.envelope import FEED_TYPE, sign

        (self.site / "feed.json").write_bytes(sign(payload, FEED_TYPE, [self.key]))

    def sync(self):  # type: ignore[no-untyped-def]
        from signage.config import load_config
        from signage.feed.http import Fetcher
        from signage.feed.sync import feed_playables, open_store, sync

        board = load_config(self.config)
        store, files = open_store(board)
        fetcher = Fetcher()
        try:
            result = sync(board, store, files, fetcher, lambda: datetime.now(HCM), sleep=lambda _: None, attempts=1)
            return result, feed_playables(store, files), store.feed().last_error
        finally:
            fetcher.close()
            store.close()


def text_bulletin(bid: str, body: str = "Nội dung.", **fields: object) -> dict:
    return {
        "id": bid,
        "revision": 1,
        "kind": "text",
        "title": f"Thông báo {bid}",
        "body": body,
        "valid_from": "2026-01-01T00:00:00+07:00",
        "valid_until": "2036-01-01T00:00:00+07:00",
        "boards": ["*"],
        **fields,
    }


@pytest.fixture
def feed(tmp_path: Path) -> Iterator[SignedFeed]:
    from tests.feedserver import FeedServer

    site = tmp_path / "site"
    site.mkdir()
    with FeedServer(site) as server:
        yield SignedFeed(tmp_path, server)


def test_signed_feed_with_a_5000_digit_sequence_is_refused_and_recorded(feed: SignedFeed) -> None:
    feed.publish(feed.payload([text_bulletin("hop-dan")], sequence="9" * 5000))
    result, playables, last_error = feed.sync()
    assert result.outcome == "refused" and playables == []
    assert last_error is not None and "\n" not in last_error
    assert "sequence" in last_error and "5000 digits" in last_error


def test_unsigned_envelope_with_a_5000_digit_number_is_refused_and_recorded(feed: SignedFeed) -> None:
    """No key needed: the envelope's JSON is read before any signature is checked."""
    (feed.site / "feed.json").write_bytes(b'{"payload": "e30=", "payloadType": "x", "signatures": [], "x": ' + b"7" * 5000 + b"}")
    result, _, last_error = feed.sync()
    assert result.outcome == "refused"
    assert last_error is not None and "5000 digits" in last_error and "\n" not in last_error


def test_signed_revision_of_ten_to_the_thirty_is_refused_alone_naming_the_field(feed: SignedFeed) -> None:
    feed.publish(feed.payload([text_bulletin("hop-dan"), text_bulletin("lon", revision=10**30)]))
    result, playables, last_error = feed.sync()
    assert result.outcome == "accepted" and last_error is None
    assert [p.bulletin.id for p in playables] == ["hop-dan"]
    assert any("bulletin 'lon': revision: " in line and "2^53-1" in line for line in result.errors), result.errors


def test_signed_feed_bulletin_with_a_book_for_a_body_is_refused_alone(feed: SignedFeed) -> None:
    feed.publish(feed.payload([text_bulletin("sach", body="Nội dung rất dài. " * 60_000), text_bulletin("hop-dan")]))
    result, playables, _ = feed.sync()
    assert result.outcome == "accepted"
    assert [p.bulletin.id for p in playables] == ["hop-dan"]
    assert any("bulletin 'sach': body: " in line and f"over {MAX_BODY_CHARS} characters" in line for line in result.errors)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("revision", MAX_SAFE_INTEGER + 1, id="revision"),
        pytest.param("revision", -1, id="negative-revision"),
        pytest.param("duration_s", 10**30, id="duration"),
        pytest.param("media", {"sha256": "a" * 64, "bytes": 10**30, "type": "image/png"}, id="media-bytes"),
        pytest.param("title", "Tiêu đề " * 100, id="title"),
        pytest.param("body", "x\n" * 3000, id="body-lines"),
    ],
)
def test_feed_bulletin_out_of_bounds_is_refused_naming_its_field(field: str, value: object) -> None:
    from signage.errors import BulletinError
    from signage.model import BulletinInput, parse_bulletin

    data = text_bulletin("ngoai", **{field: value})
    if field == "media":
        data["kind"] = "image"
    with pytest.raises(BulletinError, match=rf"^feed\.json: bulletin 'ngoai': {field.split('.')[0]}(\.bytes)?: ") as caught:
        parse_bulletin(data, BulletinInput("feed.json"))
    assert "\n" not in str(caught.value)


def test_feed_bulletin_at_the_bounds_is_accepted() -> None:
    from signage.model import BulletinInput, parse_bulletin

    body = "\n".join(["x" * 9] * MAX_BODY_LINES)
    bulletin = parse_bulletin(text_bulletin("bien", body=body, revision=MAX_SAFE_INTEGER), BulletinInput("feed.json"))
    assert bulletin.revision == MAX_SAFE_INTEGER and len(bulletin.body) == MAX_BODY_CHARS - 1


def test_body_of_millions_of_characters_stored_before_the_limits_never_reaches_the_screen(feed: SignedFeed) -> None:
    """A board upgraded with the review's 25 M-character bulletin already in its database."""
    import sqlite3

    feed.publish(feed.payload([text_bulletin("sach"), text_bulletin("hop-dan")]))
    assert feed.sync()[0].outcome == "accepted"
    database = sqlite3.connect(feed.config.parent / "state" / "board.db")
    with database:
        data = json.loads(database.execute("SELECT data FROM bulletins WHERE id = 'sach'").fetchone()[0])
        data["body"] = "Nội dung rất dài. " * 300_000  # 5.4 million characters
        database.execute("UPDATE bulletins SET data = ? WHERE id = 'sach'", [json.dumps(data, ensure_ascii=False)])
    database.close()
    from signage.config import load_config
    from signage.content import load_content

    assert [p.bulletin.id for p in load_content(load_config(feed.config))] == ["hop-dan"]


# --- local playlists and `signage render` ------------------------------------------------------------


def test_playlist_with_a_5000_digit_revision_is_refused_in_one_line(tmp_path: Path) -> None:
    from signage.playlist import load_playlist

    path = tmp_path / "list.toml"
    path.write_text(
        f'[[bulletins]]\nid = "a"\nkind = "text"\ntitle = "Một"\nbody = "Nội dung."\nrevision = {"9" * 5000}\n', encoding="utf-8"
    )
    loaded = load_playlist(path)
    assert loaded.playables == []
    assert len(loaded.errors) == 1 and str(path) in loaded.errors[0] and "\n" not in loaded.errors[0]


@pytest.mark.parametrize(
    ("line", "field"),
    [
        pytest.param(f"revision = {10**30}", "revision", id="revision"),
        pytest.param(f'body = "{"Nội dung rất dài. " * 2000}"', "body", id="body"),
    ],
)
def test_playlist_bulletin_out_of_bounds_is_skipped_naming_its_field(tmp_path: Path, line: str, field: str) -> None:
    from signage.playlist import load_playlist

    path = tmp_path / "list.toml"
    path.write_text(
        f'[[bulletins]]\nid = "lon"\nkind = "text"\ntitle = "Lớn"\nbody = "x"\n{line}\n'
        '[[bulletins]]\nid = "a"\nkind = "text"\ntitle = "Một"\nbody = "Nội dung."\n',
        encoding="utf-8",
    )
    path.write_text(path.read_text(encoding="utf-8").replace('body = "x"\nbody', "body"), encoding="utf-8")
    loaded = load_playlist(path)
    assert [p.bulletin.id for p in loaded.playables] == ["a"]
    assert len(loaded.errors) == 1 and f"bulletin 'lon': {field}: " in loaded.errors[0]


def test_render_of_a_bulletin_file_with_a_5000_digit_number_fails_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "so.toml"
    path.write_text(f'kind = "text"\ntitle = "Một"\nbody = "Nội dung."\nduration_s = {"9" * 5000}\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "signage", "render", str(path), "--out", str(tmp_path / "x.png")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"signage: error: {path}: ")


# --- the composer: bounded pages, bounded time ------------------------------------------------------------


@pytest.fixture
def fonts(display: None) -> FontBook:
    from signage.render.fonts import FontBook, FontFiles

    return FontBook(FontFiles())


def test_typesetting_a_body_of_200_000_characters_stops_at_a_turns_pages(fonts: FontBook) -> None:
    """The typesetter bounds its own work, whatever a caller hands it: pages past a turn's are cut, marked."""
    from signage.render.layout import Layout
    from signage.render.typeset import set_text

    layout = Layout.for_size(1920, 1080)
    body = "Kính mời bà con thôn Đông đến nhà văn hóa lúc 19 giờ. " * 4000
    started = time.monotonic()
    pages = set_text(fonts, "Thông báo", body, 1700, 800, layout.min_body_px, layout.max_body_px)
    assert time.monotonic() - started < 2.0
    assert len(pages) == 15 and all(page.count == 15 for page in pages)
    assert pages[-1].body.lines[-1].endswith("(còn tiếp)")


def test_notice_of_2000_short_lines_composes_at_1080p_in_well_under_a_second(fonts: FontBook) -> None:
    """The review's 5,000-paragraph docx froze the screen for 20 s; at the caps the composer takes a fraction of one."""
    from signage.render.composer import compose
    from signage.render.layout import Layout

    body = "\n".join([f"Hộ số {n:04d}" for n in range(MAX_BODY_LINES)])
    bulletin = parse_bulletin_text("dong", body)
    started = time.monotonic()
    slide = compose(Playable(bulletin), Layout.for_size(1920, 1080), fonts)
    assert time.monotonic() - started < 1.0
    assert len(slide.pages) <= 15


def parse_bulletin_text(bid: str, body: str):  # type: ignore[no-untyped-def]
    from signage.model import BulletinInput, Source, parse_bulletin

    return parse_bulletin({"id": bid, "kind": "text", "title": "Thông báo", "body": body}, BulletinInput("list.toml", Source.PLAYLIST))


def test_typesetting_past_its_budget_is_abandoned(fonts: FontBook) -> None:
    from signage.limits import Budget
    from signage.render.typeset import set_text

    ticks = iter(range(10_000))
    with pytest.raises(MediaError, match=r"took longer than 5 s"):
        set_text(fonts, "Thông báo", "Nội dung. " * 2000, 600, 200, 10, 30, budget=Budget(5.0, clock=lambda: float(next(ticks))))


def test_image_whose_caption_is_a_notice_at_the_caps_composes_in_well_under_a_second(fonts: FontBook, tmp_path: Path) -> None:
    """A caption shows two lines; the rest was measured word by word, each time the whole rest: 5 s at 1080p."""
    from signage.model import BulletinInput, Source, parse_bulletin
    from signage.playlist import describe_media
    from signage.render.composer import compose
    from signage.render.layout import Layout

    picture = tmp_path / "anh.png"
    Image.new("RGB", (64, 48), (10, 120, 60)).save(picture)
    caption = ("Kính mời bà con thôn Đông đến nhà văn hóa lúc 19 giờ. " * 400)[:MAX_BODY_CHARS]
    data = {"id": "anh", "kind": "image", "title": "Ảnh", "body": caption, "media": describe_media(picture)}
    bulletin = parse_bulletin(data, BulletinInput("list.toml", Source.PLAYLIST))
    started = time.monotonic()
    compose(Playable(bulletin, picture), Layout.for_size(1920, 1080), fonts)
    assert time.monotonic() - started < 2.0


def test_ellipsizing_a_word_of_20000_characters_is_quick(fonts: FontBook) -> None:
    """The cut was made one character at a time, each time measuring the whole rest: 20 s."""
    from signage.render.typeset import ellipsize

    font = fonts.get(30)
    started = time.monotonic()
    cut = ellipsize("x" * MAX_BODY_CHARS, font, 500)
    assert time.monotonic() - started < 2.0
    assert cut.endswith("…") and font.size(cut)[0] <= 500 < font.size(cut[:-1] + "x…")[0]


def test_ticker_of_a_feed_of_a_hundred_long_titles_is_set_in_a_blink(display: None) -> None:
    """The ticker drew a tile for every title in the main thread: 3.6 MB and milliseconds each, unbounded in number."""
    from signage.render.fonts import FontBook
    from signage.render.ticker import Ticker

    ticker = Ticker(pygame.Rect(0, 1004, 1920, 76), FontBook())
    titles = [f"Thông báo số {n}: " + "về việc tổ chức tiêm chủng mở rộng cho trẻ em " * 10 for n in range(100)]
    started = time.monotonic()
    ticker.set_items(titles)
    assert time.monotonic() - started < 2.0
    assert len(ticker.tiles) <= 30
    assert sum(tile.get_width() * tile.get_height() for tile in ticker.tiles) * 4 < 64 * 1024 * 1024
    assert ticker.items[0].startswith("Thông báo số 0: ") and ticker.items[0].endswith("…")


# --- the player: a slide that never composes does not stop the screen ----------------------------------------


def test_a_slide_whose_file_never_finishes_reading_does_not_stop_the_screen(tmp_path: Path) -> None:
    """A hung read (a dying SD card; here a FIFO with no writer) in the composer: first frame, then the board moves on."""
    from concurrent.futures import wait

    from signage.config import load_config
    from signage.player import Player
    from signage.render.output import HeadlessOutput
    from tests.test_player import StepClock, board

    Image.new("RGB", (64, 48), (10, 120, 60)).save(tmp_path / "anh.png")
    config_path = board(
        tmp_path,
        """
        [[bulletins]]
        id = "anh"
        kind = "image"
        title = "Ảnh"
        media = "anh.png"
        duration_s = 2
        [[bulletins]]
        id = "b"
        kind = "text"
        title = "Hai"
        body = "Nội dung thứ hai."
        duration_s = 2
        """,
    )
    config = load_config(config_path)
    clock = StepClock()
    player = Player(config, HeadlessOutput(config.display), clock)
    (tmp_path / "anh.png").unlink()
    os.mkfifo(tmp_path / "anh.png")  # opening it to read waits for a writer that never comes
    try:
        started = time.monotonic()
        player.start()
        player.step()
        assert time.monotonic() - started < 4.0 and player.frames == 1
        shown: set[str | None] = set()
        for _ in range(4 * 25):
            clock.t += 1 / 4
            if player._jobs:
                wait(list(player._jobs.values()), timeout=0.02)
            player.step()
            shown.add(player.slide.playable.bulletin.id if player.slide and player.slide.playable else None)
        assert "b" in shown and "anh" not in shown
        assert ("anh", 1) in player.failed
        closing = time.monotonic()
    finally:
        player.close()
        player.output.close()
    assert time.monotonic() - closing < 2.0
    with open(tmp_path / "anh.png", "wb"):  # let the abandoned read end
        pass


# --- `signage render` and `signage play` honour SIGTERM -----------------------------------------------------


def wait_until_blocked_opening_a_fifo(child: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    """Until the child sits in open() of a FIFO no one will ever write to (Linux names the wait in /proc)."""
    deadline = time.monotonic() + timeout_s
    while Path(f"/proc/{child.pid}/wchan").read_text() not in ("wait_for_partner", "fifo_open", "pipe_wait"):
        assert child.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)


def test_sigterm_stops_a_render_stuck_on_a_file_that_never_finishes_reading(tmp_path: Path) -> None:
    """SDL turns SIGTERM into a quit event nobody reads during `signage render`: the review's ran on for 13 minutes."""
    logo = tmp_path / "logo.png"
    os.mkfifo(logo)  # opened after the display is up; no writer ever comes
    (tmp_path / "board.toml").write_text(
        f'[board]\nid = "tan-quan"\nname = "UBND xã Tân Quan"\ndata_dir = "state"\n[display]\nlogo = "{logo}"\n', encoding="utf-8"
    )
    (tmp_path / "note.txt").write_text("Thông báo\nNội dung.", encoding="utf-8")
    out = tmp_path / "frame.png"
    command = [sys.executable, "-m", "signage", "render", str(tmp_path / "note.txt"), "--out", str(out)]
    child = subprocess.Popen(
        [*command, "--config", str(tmp_path / "board.toml")],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "SDL_VIDEODRIVER": "dummy"},
    )
    try:
        wait_until_blocked_opening_a_fifo(child)
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=3)
        except subprocess.TimeoutExpired:
            pytest.fail("signage render ignored SIGTERM")
        assert child.returncode != 0 and not out.exists()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


# --- the drop folder: what a clerk reads ------------------------------------------------------------------


def test_zip_bomb_and_a_book_dropped_in_the_folder_are_set_aside_with_a_vietnamese_reason(tmp_path: Path) -> None:
    from signage.config import load_config
    from signage.content import load_content
    from signage.inbox.ingest import Inbox
    from signage.store.db import Store
    from signage.store.files import ContentStore

    (tmp_path / "board.toml").write_text(
        '[board]\nid = "tan-quan"\nname = "UBND xã Tân Quan"\ndata_dir = "state"\n[inbox]\npath = "bangtin"\n', encoding="utf-8"
    )
    config = load_config(tmp_path / "board.toml")
    assert config.inbox is not None
    folder = config.inbox.path
    folder.mkdir(parents=True)
    config.board.data_dir.mkdir(parents=True)
    zip_bomb_docx(folder / "bom.docx", 49 * 1024 * 1024)
    (folder / "sach.txt").write_text("Thông báo\n" + "Nội dung rất dài của một cuốn sách. " * 1500, encoding="utf-8")
    (folder / "hop-dan.txt").write_text("Họp dân\nTối nay 19 giờ.", encoding="utf-8")
    inbox = Inbox(config, ContentStore(config.board.data_dir / "media"), lambda: datetime.now(HCM))
    store = Store(config.board.data_dir / "board.db")
    started = time.monotonic()
    try:
        inbox.poll(store, time.monotonic(), settle=0, patience=0)
    finally:
        store.close()
    assert time.monotonic() - started < 2.0
    assert [p.bulletin.title for p in load_content(config)] == ["Họp dân"]
    reasons = {p.name: p.read_text(encoding="utf-8") for p in config.inbox.quarantine.glob("*.reason.txt")}
    for name in ("bom.docx", "sach.txt"):
        assert reasons[f"{name}.reason.txt"].startswith(f"{name}: văn bản quá dài hoặc tệp quá lớn cho bảng tin"), reasons


# --- a 5,000-digit number in every TOML a board or the district reads --------------------------------------


def test_sidecar_with_a_5000_digit_number_in_the_drop_folder_sets_its_notice_aside(tmp_path: Path) -> None:
    from signage.config import load_config
    from signage.content import load_content
    from signage.inbox.ingest import Inbox
    from signage.store.db import Store
    from signage.store.files import ContentStore

    (tmp_path / "board.toml").write_text(
        '[board]\nid = "tan-quan"\nname = "UBND xã Tân Quan"\ndata_dir = "state"\n[inbox]\npath = "bangtin"\n', encoding="utf-8"
    )
    config = load_config(tmp_path / "board.toml")
    assert config.inbox is not None
    config.inbox.path.mkdir(parents=True)
    config.board.data_dir.mkdir(parents=True)
    (config.inbox.path / "hop-dan.txt").write_text("Họp dân\nTối nay 19 giờ.", encoding="utf-8")
    (config.inbox.path / "hop-dan.toml").write_text(f"duration_s = {'9' * 5000}\n", encoding="utf-8")
    (config.inbox.path / "khac.txt").write_text("Thông báo khác\nNội dung.", encoding="utf-8")
    store = Store(config.board.data_dir / "board.db")
    try:
        Inbox(config, ContentStore(config.board.data_dir / "media"), lambda: datetime.now(HCM)).poll(
            store, time.monotonic(), settle=0, patience=0
        )
    finally:
        store.close()
    assert [p.bulletin.title for p in load_content(config)] == ["Thông báo khác"]
    reason = (config.inbox.quarantine / "hop-dan.txt.reason.txt").read_text(encoding="utf-8")
    assert reason.count("\n") == 1 and "hop-dan.toml: a number of more than 4300 digits" in reason


def test_board_config_with_a_5000_digit_number_is_a_one_line_config_error(tmp_path: Path) -> None:
    from signage.config import load_config
    from signage.errors import ConfigError

    path = tmp_path / "board.toml"
    path.write_text(f'[board]\nid = "tan-quan"\nname = "X"\n[display]\nfps = {"9" * 5000}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"board\.toml: not valid TOML: a number of more than 4300 digits$"):
        load_config(path)


def test_district_bulletin_with_a_5000_digit_number_is_refused_by_publish_in_one_line(tmp_path: Path) -> None:
    from signage.district.publish import publish
    from signage.envelope import generate_key
    from signage.errors import BulletinError

    src = tmp_path / "src"
    src.mkdir()
    (src / "lon.toml").write_text(f'kind = "text"\ntitle = "Một"\nbody = "Nội dung."\nrevision = {"9" * 5000}\n', encoding="utf-8")
    generate_key(tmp_path / "district.key")
    with pytest.raises(BulletinError, match=r"lon\.toml: cannot read bulletin: a number of more than 4300 digits$"):
        publish(
            src, tmp_path / "district.key", tmp_path / "site", publisher="hon-quan", expires_in=timedelta(days=7), now=datetime.now(HCM)
        )
