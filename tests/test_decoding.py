"""Drop-folder files decoded for real: text encodings, Word notices, and probes of images, videos and PDFs."""

from __future__ import annotations

import codecs
import hashlib
import random
import unicodedata
import zipfile
from pathlib import Path

import av
import docx
import pypdfium2 as pdfium
import pytest
from docx.enum.text import WD_BREAK
from PIL import Image, ImageDraw

from signage.errors import MediaError
from signage.media.docxfile import MAX_DOCUMENT_XML_BYTES, MAX_DOCX_BYTES, read_docx
from signage.media.probe import MAX_PDF_PAGES, Probe, _render_first_page, probe
from signage.media.textfile import MAX_TEXT_BYTES, decode_text, read_notice

NOTICE = "Thông báo họp dân\r\nKính mời bà con thôn Đông đến nhà văn hóa lúc 19 giờ.\r\nNội dung: tiêm chủng, thu học phí.\r\n"
TITLE = "Thông báo họp dân"
BODY = "Kính mời bà con thôn Đông đến nhà văn hóa lúc 19 giờ.\nNội dung: tiêm chủng, thu học phí."

# Windows-1258 has the letters with circumflex, breve and horn, and writes the five tone marks as combining characters.
TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")


def to_windows_1258(text: str) -> bytes:
    """Encode as Vietnamese Windows does: each letter with a tone becomes its base letter, then the tone as a combining mark."""
    out: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        try:
            char.encode("cp1258")
            out.append(char)
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", char)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONE_MARKS))
        out.append(base + "".join(c for c in parts if c in TONE_MARKS))
    return "".join(out).encode("cp1258")


def noise(seed: int, length: int, lowest: int = 0) -> bytes:
    """Reproducible random bytes."""
    generator = random.Random(seed)
    return bytes(generator.randrange(lowest, 256) for _ in range(length))


# --- text notices -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(NOTICE.encode("utf-8"), id="utf-8"),
        pytest.param(codecs.BOM_UTF8 + NOTICE.encode("utf-8"), id="utf-8-bom"),
        pytest.param(codecs.BOM_UTF16_LE + NOTICE.encode("utf-16-le"), id="utf-16-le-bom"),
        pytest.param(NOTICE.encode("utf-16-le"), id="utf-16-le-no-bom"),
        pytest.param(codecs.BOM_UTF16_BE + NOTICE.encode("utf-16-be"), id="utf-16-be-bom"),
        pytest.param(NOTICE.encode("utf-16-be"), id="utf-16-be-no-bom"),
        pytest.param(to_windows_1258(NOTICE), id="windows-1258"),
    ],
)
def test_a_notice_reads_the_same_in_every_encoding_windows_and_phones_write(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "thong-bao.txt"
    path.write_bytes(raw)
    assert read_notice(path) == (TITLE, BODY)


def test_windows_1258_tone_marks_come_back_precomposed() -> None:
    raw = to_windows_1258(NOTICE)
    assert b"\xf2" in raw  # the dot below of "ộ" travels as a combining mark: the test file is what Windows writes
    text = decode_text(raw, "thong-bao.txt")
    assert text == unicodedata.normalize("NFC", NOTICE).replace("\r\n", "\n")
    assert unicodedata.is_normalized("NFC", text) and "\u0323" not in text


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(bytes(range(256)) * 8, r"x\.txt: not a text file \(binary", id="nul-bytes"),
        pytest.param(noise(7, 4000, lowest=1), r"x\.txt: not a text file \(", id="garbage"),
        pytest.param("Thông báo\x1b[31m".encode(), r"x\.txt: not a text file \(control character U\+001B", id="escape-codes"),
        pytest.param(b"", r"x\.txt: empty text notice", id="empty"),
        pytest.param(codecs.BOM_UTF8 + b" \r\n\t\r\n", r"x\.txt: empty text notice", id="blank"),
        pytest.param("\u200b\u202e\n".encode("utf-16"), r"x\.txt: empty text notice", id="only-invisible"),
    ],
)
def test_what_is_not_a_notice_is_refused_in_one_line(tmp_path: Path, raw: bytes, message: str) -> None:
    path = tmp_path / "x.txt"
    path.write_bytes(raw)
    with pytest.raises(MediaError, match=message) as caught:
        read_notice(path)
    assert "\n" not in str(caught.value)


def test_a_notice_over_the_size_limit_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:
        handle.truncate(MAX_TEXT_BYTES * 100)  # sparse: costs nothing to make
    with pytest.raises(MediaError, match=rf"huge\.txt: text notice of {MAX_TEXT_BYTES * 100} bytes is over the 256 KiB limit"):
        read_notice(path)


# --- Word documents ---------------------------------------------------------------------------


def test_a_word_notice_takes_its_heading_as_title(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("ỦY BAN NHÂN DÂN XÃ AN BÌNH")  # the issuer's line comes before the title in official notices
    document.add_heading(unicodedata.normalize("NFD", "Thông báo tiêm chủng"), level=1)  # as some phone keyboards type it
    paragraph = document.add_paragraph("Thời gian: 7 giờ sáng thứ Bảy.")
    paragraph.add_run().add_break()
    paragraph.add_run("Địa điểm: trạm y tế xã.")
    document.add_paragraph("")
    document.add_paragraph("   ")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Thôn", "Giờ"
    table.cell(1, 0).merge(table.cell(1, 1)).text = "Cả xã"
    document.add_paragraph("Trân trọng thông báo.")
    path = tmp_path / "tiem-chung.docx"
    document.save(path)

    title, body = read_docx(path)
    assert title == "Thông báo tiêm chủng" and unicodedata.is_normalized("NFC", title)
    assert body == "\n\n".join(
        [
            "ỦY BAN NHÂN DÂN XÃ AN BÌNH",
            "Thời gian: 7 giờ sáng thứ Bảy.\nĐịa điểm: trạm y tế xã.",
            "Thôn",
            "Giờ",
            "Cả xã",  # a merged cell once, not once per column it spans
            "Trân trọng thông báo.",
        ]
    )


def test_without_a_heading_the_first_paragraph_is_the_title(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("")
    document.add_paragraph("Lịch cắt điện")
    document.add_paragraph("Thứ Hai, 8 giờ đến 11 giờ.")
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)  # a page break alone in its paragraph: nothing to show
    path = tmp_path / "cat-dien.docx"
    document.save(path)
    assert read_docx(path) == ("Lịch cắt điện", "Thứ Hai, 8 giờ đến 11 giờ.")


def _rezip(source: Path, target: Path, replace: dict[str, bytes]) -> None:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for member in old.infolist():
            new.writestr(member.filename, replace.get(member.filename, old.read(member)))


@pytest.fixture
def good_docx(tmp_path: Path) -> Path:
    document = docx.Document()
    document.add_heading("Thông báo", level=1)
    document.add_paragraph("Nội dung.")
    path = tmp_path / "good.docx"
    document.save(path)
    return path


def test_broken_and_impostor_word_files_are_refused(tmp_path: Path, good_docx: Path) -> None:
    truncated = tmp_path / "truncated.docx"
    truncated.write_bytes(good_docx.read_bytes()[:1500])
    with pytest.raises(MediaError, match=r"truncated\.docx: not a Word document \(not a zip archive"):
        read_docx(truncated)

    broken_xml = tmp_path / "broken.docx"
    _rezip(good_docx, broken_xml, {"word/document.xml": b"<w:document xmlns:w='x'><w:body><w:p>"})
    with pytest.raises(MediaError, match=r"broken\.docx: not a readable Word document \(") as caught:
        read_docx(broken_xml)
    assert "\n" not in str(caught.value)

    spreadsheet = tmp_path / "bang-tinh.docx"
    with zipfile.ZipFile(spreadsheet, "w") as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        package.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(MediaError, match=r"bang-tinh\.docx: not a Word document \(no word/document\.xml in the archive\)"):
        read_docx(spreadsheet)

    photo = tmp_path / "anh.docx"
    Image.new("RGB", (8, 8)).save(photo, "JPEG")
    with pytest.raises(MediaError, match=r"anh\.docx: not a Word document"):
        read_docx(photo)


def test_an_empty_word_document_is_refused(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("  ")
    path = tmp_path / "trong.docx"
    document.save(path)
    with pytest.raises(MediaError, match=r"trong\.docx: empty document"):
        read_docx(path)


def test_word_size_limits_hold_before_python_docx_opens_the_file(tmp_path: Path, good_docx: Path) -> None:
    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(good_docx) as old, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as new:
        for member in old.infolist():
            if member.filename != "word/document.xml":
                new.writestr(member.filename, old.read(member))
        with new.open("word/document.xml", "w") as handle:
            chunk = b" " * (1 << 20)
            for _ in range(MAX_DOCUMENT_XML_BYTES // len(chunk) + 1):
                handle.write(chunk)
    assert bomb.stat().st_size < 200_000  # kilobytes that inflate to over the 4 MB cap
    with pytest.raises(MediaError, match=r"bomb\.docx: word/document\.xml unpacks to \d+ bytes, over the 4 MB limit"):
        read_docx(bomb)

    huge = tmp_path / "huge.docx"
    with huge.open("wb") as handle:
        handle.truncate(MAX_DOCX_BYTES + 1)
    with pytest.raises(MediaError, match=r"huge\.docx: Word document of \d+ bytes is over the 20 MB limit"):
        read_docx(huge)


# --- videos -----------------------------------------------------------------------------------


def _has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except av.codec.codec.UnknownCodecError:
        return False
    return True


H264_ENCODER = "libx264" if _has_encoder("libx264") else "mpeg4"


def encode_video(
    path: Path,
    codec: str,
    size: tuple[int, int] = (320, 240),
    frames: int = 25,
    options: dict[str, str] | None = None,
) -> None:
    """`frames` frames at 25 fps, each showing its number, so a decoded frame can be told apart."""
    container_format = "webm" if path.suffix == ".webm" else "mp4"
    with av.open(str(path), "w", format=container_format) as output:
        stream = output.add_stream(codec, rate=25, options=options or {})
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for number in range(1, frames + 1):
            image = Image.new("RGB", size, (20 + 8 * number, 60, 160))
            ImageDraw.Draw(image).text((size[0] // 2 - 20, size[1] // 2 - 20), str(number), fill="white", font_size=min(40, size[1]))
            output.mux(stream.encode(av.VideoFrame.from_image(image)))
        output.mux(stream.encode(None))


def encode_silence(path: Path, seconds: float = 1.0) -> None:
    """An MP4 holding one AAC audio stream and no video."""
    with av.open(str(path), "w", format="mp4") as output:
        stream = output.add_stream("aac", rate=44100, layout="mono")
        samples_per_frame = 1024
        for index in range(int(seconds * 44100) // samples_per_frame):
            frame = av.AudioFrame(format=stream.format.name, layout="mono", samples=samples_per_frame)
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.sample_rate, frame.pts = 44100, index * samples_per_frame
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))


@pytest.fixture
def h264_mp4(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    encode_video(path, H264_ENCODER, options={"preset": "ultrafast"} if H264_ENCODER == "libx264" else None)
    return path


def test_an_h264_mp4_is_probed_with_its_size_and_duration(h264_mp4: Path) -> None:
    result = probe(h264_mp4, "video/mp4")
    assert result == Probe("video/mp4", 320, 240, pytest.approx(1.0, abs=0.05), None)


@pytest.mark.parametrize("codec", ["libvpx-vp9", "libvpx"])
def test_a_webm_is_probed_with_its_size_and_duration(tmp_path: Path, codec: str) -> None:
    if not _has_encoder(codec):
        pytest.skip(f"this PyAV has no {codec} encoder")
    path = tmp_path / "clip.webm"
    encode_video(path, codec, options={"deadline": "realtime", "cpu-used": "8"})
    result = probe(path, "video/webm")
    assert (result.width, result.height, result.pages) == (320, 240, None)
    assert result.seconds == pytest.approx(1.0, abs=0.05)


def test_an_mp4_whose_frames_are_garbage_has_no_decodable_video(tmp_path: Path, h264_mp4: Path) -> None:
    raw = bytearray(h264_mp4.read_bytes())
    start, end = raw.index(b"mdat") + 4, raw.index(b"moov")  # the muxer writes the index after the data
    raw[start:end] = noise(3, end - start)
    path = tmp_path / "hong.mp4"
    path.write_bytes(raw)
    with pytest.raises(MediaError, match=r"hong\.mp4: no decodable video stream"):
        probe(path, "video/mp4")


def test_a_truncated_mp4_is_refused(tmp_path: Path, h264_mp4: Path) -> None:
    path = tmp_path / "cut.mp4"
    path.write_bytes(h264_mp4.read_bytes()[: h264_mp4.stat().st_size // 2])  # a copy interrupted by unplugging the stick
    with pytest.raises(MediaError, match=r"cut\.mp4: not a readable video \("):
        probe(path, "video/mp4")


def test_an_mp4_with_only_sound_has_no_decodable_video(tmp_path: Path) -> None:
    path = tmp_path / "loa.mp4"
    encode_silence(path)
    with pytest.raises(MediaError, match=r"loa\.mp4: no decodable video stream$"):
        probe(path, "video/mp4")


def test_video_limits(tmp_path: Path) -> None:
    flash = tmp_path / "flash.mp4"
    encode_video(flash, "mpeg4", frames=1)  # 40 ms
    with pytest.raises(MediaError, match=r"flash\.mp4: video of 0\.04 s is outside 0\.1 s to 4 h"):
        probe(flash, "video/mp4")

    wide = tmp_path / "wide.mp4"
    encode_video(wide, "mpeg4", size=(7696, 16), frames=3)
    with pytest.raises(MediaError, match=r"wide\.mp4: video of 7696x16 pixels is over the 7680x4320 limit"):
        probe(wide, "video/mp4")


def test_a_video_is_checked_against_its_declared_type(tmp_path: Path, h264_mp4: Path) -> None:
    with pytest.raises(MediaError, match=r"clip\.mp4: content is video/mp4, not video/webm"):
        probe(h264_mp4, "video/webm")


# --- PDFs -------------------------------------------------------------------------------------


def test_a_pdf_is_probed_with_its_page_count(tmp_path: Path) -> None:
    document = pdfium.PdfDocument.new()
    for width, height in [(595, 842), (842, 595), (595, 842)]:  # A4 portrait, landscape, portrait
        document.new_page(width, height)
    path = tmp_path / "ke-hoach.pdf"
    document.save(path)
    document.close()
    assert probe(path, "application/pdf") == Probe("application/pdf", None, None, None, 3)


# The padding of the PDF Standard security handler (ISO 32000-1, 7.6.3.3).
PDF_PASSWORD_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


def write_pdf(path: Path, user_password: str | None = None, content: bytes | None = None) -> None:
    """A one-page PDF written by hand; with a user password, encrypted (RC4 40-bit, revision 2) as old scanners do.

    An encrypted one has no content stream and no strings, so nothing but the /Encrypt entry changes.
    """
    assert user_password is None or content is None, "streams of an encrypted PDF would need encrypting"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] %s>>" % (b"/Contents 4 0 R " if content else b""),
    ]
    if content:
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    file_id = hashlib.md5(path.name.encode()).digest()
    trailer = f"/Root 1 0 R /ID [<{file_id.hex()}> <{file_id.hex()}>]"
    if user_password is not None:
        padded = (user_password.encode() + PDF_PASSWORD_PAD)[:32]
        owner_key = hashlib.md5(padded).digest()[:5]  # no owner password: the user's stands in
        owner_entry = _rc4(owner_key, padded)
        permissions = -44
        file_key = hashlib.md5(padded + owner_entry + permissions.to_bytes(4, "little", signed=True) + file_id).digest()[:5]
        user_entry = _rc4(file_key, PDF_PASSWORD_PAD)
        objects.append(f"<< /Filter /Standard /V 1 /R 2 /O <{owner_entry.hex()}> /U <{user_entry.hex()}> /P {permissions} >>".encode())
        trailer += f" /Encrypt {len(objects)} 0 R"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} {trailer} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(out)


def test_a_hand_written_pdf_is_probed(tmp_path: Path) -> None:
    path = tmp_path / "tay.pdf"
    write_pdf(path)
    assert probe(path, "application/pdf").pages == 1


def test_a_page_too_slow_to_render_is_abandoned(tmp_path: Path) -> None:
    path = tmp_path / "nang.pdf"
    write_pdf(path, content=b"".join(b"%d %d m %d %d l S\n" % (i % 300, i % 200, i * 7 % 300, i * 13 % 200) for i in range(100_000)))
    assert probe(path, "application/pdf").pages == 1  # it does render, given the usual budget
    with pdfium.PdfDocument(path) as document, pytest.raises(MediaError, match=r"nang\.pdf: page 1 did not render within 0\.01 s"):
        _render_first_page(path, document, budget_seconds=0.01)


def test_a_password_protected_pdf_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mat-khau.pdf"
    write_pdf(path, user_password="secret")
    with pdfium.PdfDocument(path, password="secret") as document:
        assert len(document) == 1  # a genuine encrypted PDF: it opens with its password
    with pytest.raises(MediaError, match=r"mat-khau\.pdf: PDF is protected by a password"):
        probe(path, "application/pdf")


def test_broken_and_oversized_pdfs_are_refused(tmp_path: Path) -> None:
    corrupt = tmp_path / "hong.pdf"
    corrupt.write_bytes(b"%PDF-1.7\n" + noise(5, 3000))
    with pytest.raises(MediaError, match=r"hong\.pdf: not a readable PDF \("):
        probe(corrupt, "application/pdf")

    document = pdfium.PdfDocument.new()
    for _ in range(MAX_PDF_PAGES + 1):
        document.new_page(100, 100)
    long_pdf = tmp_path / "dai.pdf"
    document.save(long_pdf)
    document.close()
    with pytest.raises(MediaError, match=r"dai\.pdf: PDF of 501 pages \(1 to 500 allowed\)"):
        probe(long_pdf, "application/pdf")

    document = pdfium.PdfDocument.new()
    document.new_page(595, 842)
    document.new_page(15000, 842)  # over the 200-inch maximum
    banner = tmp_path / "bang-ron.pdf"
    document.save(banner)
    document.close()
    with pytest.raises(MediaError, match=r"bang-ron\.pdf: page 2 of 15000x842 pt is over the 14400 pt \(200 in\) limit"):
        probe(banner, "application/pdf")


# --- images -----------------------------------------------------------------------------------


def test_a_jpeg_is_probed_with_its_stored_size(tmp_path: Path) -> None:
    path = tmp_path / "anh.jpg"
    Image.new("RGB", (1600, 1200), (200, 40, 40)).save(path, "JPEG", quality=90)
    assert probe(path, "image/jpeg") == Probe("image/jpeg", 1600, 1200, None, None)


def test_bad_images_are_refused(tmp_path: Path) -> None:
    impostor = tmp_path / "anh.jpg"
    Image.new("RGB", (64, 64)).save(impostor, "PNG")
    with pytest.raises(MediaError, match=r"anh\.jpg: not a readable image/jpeg"):
        probe(impostor, "image/jpeg")

    truncated = tmp_path / "cut.jpg"
    Image.effect_noise((400, 300), 80).convert("RGB").save(truncated, "JPEG")  # noise: the data runs to the end
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    with pytest.raises(MediaError, match=r"cut\.jpg: cannot decode image: image file is truncated"):
        probe(truncated, "image/jpeg")

    bomb = tmp_path / "bomb.png"
    Image.new("1", (12000, 12000)).save(bomb)
    with pytest.raises(MediaError, match=r"bomb\.png: image too large \(decompression bomb refused\)"):
        probe(bomb, "image/png")


def test_an_unsupported_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nhac.flac"
    path.write_bytes(b"fLaC\x00\x00\x00\x22")
    with pytest.raises(MediaError, match=r"nhac\.flac: unsupported type 'audio/flac'"):
        probe(path, "audio/flac")
