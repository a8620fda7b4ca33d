"""The files a commune office really has, made here with real tools and dropped into a real watched drop folder (issue 16)."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from signage.config import BoardConfig, load_config
from signage.content import load_content
from signage.inbox.rules import KINDS, REASONS
from signage.inbox.watch import InboxWatch
from signage.model import Kind, Playable, Priority
from tests.test_decoding import to_windows_1258
from tests.test_docx_official import HEADER, SIGNATURE, p, table, word_file
from tests.test_legacy_text import to_tcvn3
from tests.test_office import PAGE, SLIDES, _soffice

FFMPEG = shutil.which("ffmpeg")
SOFFICE = shutil.which("soffice")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="the ffmpeg CLI makes the clips")
needs_libreoffice = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed: make system-test-deps")


def ffmpeg(*arguments: str) -> None:
    subprocess.run([FFMPEG or "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *arguments], check=True, timeout=120)


TONE = "sine=f=440:d=1.5"
PICTURE = "testsrc2=s=320x176:r=25:d=1"


@pytest.fixture
def config(tmp_path: Path) -> BoardConfig:
    path = tmp_path / "board.toml"
    path.write_text(
        textwrap.dedent(
            """
            [board]
            id = "an-binh"
            name = "UBND xã An Bình"
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
    watcher = InboxWatch(config, lambda _changes: None)
    watcher.start()
    yield watcher
    watcher.stop()


def held(config: BoardConfig) -> dict[str, Playable]:
    return {playable.bulletin.title: playable for playable in load_content(config)}


def until(condition: Callable[[], bool], watcher: InboxWatch, seconds: float = 120.0) -> None:
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        watcher.tick()
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not met in {seconds:g} s; held: {sorted(held(watcher.config))}")


def reason_of(config: BoardConfig, name: str) -> str:
    return (config.inbox.quarantine / f"{name}.reason.txt").read_text(encoding="utf-8")


# -- video and sound judged by their streams ------------------------------------------------


@needs_ffmpeg
def test_an_android_voice_recording_in_an_mp4_box_is_taken_as_audio_titled_by_its_tag(config: BoardConfig, watch: InboxWatch) -> None:
    # Android's recorder writes AAC in an MP4 box of brand isom: the bytes alone say video/mp4.
    made = config.board.data_dir.parent / "Recording_20261125_081530.m4a"
    ffmpeg("-f", "lavfi", "-i", TONE, "-c:a", "aac", "-brand", "isom", "-metadata", "title=Thông báo họp dân tổ 3", str(made))
    shutil.move(made, config.inbox.path / made.name)
    until(lambda: "Thông báo họp dân tổ 3" in held(config), watch, 30)
    playable = held(config)["Thông báo họp dân tổ 3"]
    assert playable.bulletin.kind is Kind.AUDIO and playable.bulletin.media is not None
    assert playable.bulletin.media.type == "audio/mp4"
    assert not config.inbox.quarantine.exists() or not any(config.inbox.quarantine.iterdir())


@needs_ffmpeg
def test_an_iphone_mov_and_a_wav_are_taken_as_video_and_audio(config: BoardConfig, watch: InboxWatch) -> None:
    outside = config.board.data_dir.parent
    ffmpeg("-f", "lavfi", "-i", PICTURE, "-c:v", "libx264", "-f", "mov", str(outside / "IMG_0412.MOV"))
    ffmpeg("-f", "lavfi", "-i", TONE, str(outside / "loa phuong.wav"))
    for name in ("IMG_0412.MOV", "loa phuong.wav"):
        shutil.move(outside / name, config.inbox.path / name)
    until(lambda: {"Video", "loa phuong"} <= set(held(config)), watch, 30)
    assert held(config)["Video"].bulletin.kind is Kind.VIDEO
    assert held(config)["loa phuong"].bulletin.kind is Kind.AUDIO


@needs_ffmpeg
def test_a_sound_file_that_will_not_decode_is_set_aside_with_the_audio_reason(config: BoardConfig, watch: InboxWatch) -> None:
    (config.inbox.path / "hong.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 400)
    until(lambda: (config.inbox.quarantine / "hong.wav.reason.txt").exists(), watch, 30)
    assert reason_of(config, "hong.wav").startswith(f"hong.wav: {REASONS['audio'][0]}")


# -- the clerk is told every type that is taken ---------------------------------------------


def test_the_unsupported_reason_names_every_extension_that_is_taken() -> None:
    line = REASONS["unsupported"][0]
    assert all(suffix in line for suffix in KINDS), line
    guide = (Path(__file__).parent.parent / "docs" / "huong-dan-can-bo.md").read_text(encoding="utf-8").lower()
    assert all(suffix in guide for suffix in KINDS), [suffix for suffix in KINDS if suffix not in guide]


# -- the corpus -----------------------------------------------------------------------------


def make_corpus(outside: Path, inbox: Path) -> None:
    """Every file a commune office has, made outside the folder and then moved in at once, as a copy finishing."""
    work = outside / "making"
    work.mkdir()
    # A Word 97 notice and a slide deck, saved by LibreOffice from Vietnamese text.
    (work / "notice.html").write_text(PAGE, encoding="utf-8")
    (work / "slides.fodp").write_text(SLIDES, encoding="utf-8")
    shutil.copy(_soffice(work / "notice.html", "doc:MS Word 97", work), inbox / "Thong bao tiem chung.doc")
    shutil.copy(_soffice(work / "slides.fodp", "pptx:Impress MS PowerPoint 2007 XML", work), inbox / "Tram y te.pptx")
    # An official notice whose body is a ruled table: shown as its pages.
    word_file(
        inbox / "Lich truc lu bao.docx",
        HEADER,
        p("KẾ HOẠCH"),
        p("Trực phòng chống lụt bão"),
        table([["Ngày", "Người trực"], ["Thứ Hai", "Ông Nam"]], ruled=True),
        SIGNATURE,
    )
    # A plain official notice: read as text, titled by its type and subject.
    word_file(
        inbox / "KHẨN_tb45.docx",
        HEADER,
        p("THÔNG BÁO"),
        p("Về việc tổ chức tiêm chủng cho trẻ em"),
        p("Trạm Y tế xã tổ chức tiêm chủng vào sáng thứ Bảy tại Nhà văn hóa."),
        SIGNATURE,
    )
    # An iPhone HEIC and a Canva export: a transparent PNG with black text saved as .jpg.
    import pillow_heif

    pillow_heif.register_heif_opener()
    Image.new("RGB", (640, 480), (30, 140, 60)).save(inbox / "IMG_20261125_081530.heic", format="HEIF")
    canva = Image.new("RGBA", (800, 450), (0, 0, 0, 0))
    ImageDraw.Draw(canva).rectangle((100, 150, 700, 300), fill=(0, 0, 0, 255))
    canva.save(inbox / "poster ngay hoi.jpg", format="PNG")
    # A portrait phone video in a QuickTime box, and an Android voice recording with its title tag.
    ffmpeg(
        "-f", "lavfi", "-i", PICTURE, "-c:v", "libx264", "-metadata:s:v", "rotate=90", "-f", "mov", str(work / "VID_20261125_090000.mov")
    )  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", TONE, "-c:a", "aac", "-brand", "isom", "-metadata", "title=Loa truyền thanh tổ 5", str(work / "rec.m4a"))
    shutil.move(work / "VID_20261125_090000.mov", inbox / "VID_20261125_090000.mov")
    shutil.move(work / "rec.m4a", inbox / "Recording_20261125_100000.m4a")
    # A notice typed with the .VnTime fonts, its settings saved by Notepad in Windows-1258.
    (inbox / "cat dien.txt").write_bytes(to_tcvn3("Thông báo cắt điện\nĐiện lực tạm ngừng cấp điện ngày 28/11."))
    (inbox / "cat dien.toml").write_bytes(to_windows_1258('title = "Lịch cắt điện tháng Mười Một"\n'))
    # A subfolder, and a broken file.
    (inbox / "Thang 11").mkdir()
    Image.new("RGB", (800, 600), (200, 30, 30)).save(inbox / "Thang 11" / "hop dan.png")
    (inbox / "bien ban.pdf").write_bytes(b"%PDF-1.7\n%%a PDF that was never finished" * 10)


@pytest.mark.slow
@needs_ffmpeg
@needs_libreoffice
def test_a_commune_office_corpus_dropped_in_becomes_bulletins_of_the_right_kind_and_title(
    config: BoardConfig, watch: InboxWatch, tmp_path: Path
) -> None:
    make_corpus(tmp_path, config.inbox.path)
    expected = {
        # The Word 97 notice, read through its .docx by the board's own reader.
        "THÔNG BÁO TIÊM CHỦNG": Kind.TEXT,  # a type line with its own subject is the whole title
        "Tram y te": Kind.PDF,
        "Kế hoạch trực phòng chống lụt bão": Kind.PDF,  # the notice's own title, though shown as its pages
        "Thông báo về việc tổ chức tiêm chủng cho trẻ em": Kind.TEXT,
        "Hình ảnh 25/11/2026 08:15": Kind.IMAGE,
        "poster ngay hoi": Kind.IMAGE,
        "Video 25/11/2026 09:00": Kind.VIDEO,
        "Loa truyền thanh tổ 5": Kind.AUDIO,
        "Lịch cắt điện tháng Mười Một": Kind.TEXT,
        "Thang 11 - hop dan": Kind.IMAGE,
    }
    until(lambda: set(expected) <= set(held(config)) and (config.inbox.quarantine / "bien ban.pdf.reason.txt").exists(), watch, 240)
    shown = held(config)
    assert {title: shown[title].bulletin.kind for title in expected} == expected
    assert set(shown) == set(expected)
    assert shown["Thông báo về việc tổ chức tiêm chủng cho trẻ em"].bulletin.priority is Priority.EMERGENCY
    assert shown["Lịch cắt điện tháng Mười Một"].bulletin.body == "Điện lực tạm ngừng cấp điện ngày 28/11."
    assert shown["Kế hoạch trực phòng chống lụt bão"].page_count is not None and shown["Kế hoạch trực phòng chống lụt bão"].page_count >= 1
    assert config.inbox.quarantine == config.inbox.path / "_KHONG_HIEN_THI"
    assert sorted(path.name for path in config.inbox.quarantine.iterdir()) == ["bien ban.pdf", "bien ban.pdf.reason.txt"]
    assert reason_of(config, "bien ban.pdf").startswith(f"bien ban.pdf: {REASONS['pdf'][0]}")


# -- signage render shows them as the drop folder would -------------------------------------


def _rendered(config: BoardConfig, source: Path, out: Path) -> Image.Image:
    from datetime import datetime

    from signage.render.single import render_frame

    render_frame(config, str(source), out, size=(640, 360), at=datetime(2026, 11, 25, 9, 0, tzinfo=config.board.timezone))
    return Image.open(out).convert("RGB")


def _has_colour(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    raw = image.tobytes()
    pixels = (raw[i : i + 3] for i in range(0, len(raw), 3))
    return any(all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True)) for pixel in pixels)


def test_signage_render_shows_a_heic_a_gif_and_a_bmp_as_the_drop_folder_would(config: BoardConfig, tmp_path: Path) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    pictures = {"IMG_0001.heic": "HEIF", "chuc mung.gif": "GIF", "so do.bmp": "BMP", "ban do.tif": "TIFF"}
    for name, form in pictures.items():
        Image.new("RGB", (640, 480), (30, 140, 200)).save(tmp_path / name, format=form)
        original = (tmp_path / name).read_bytes()
        frame = _rendered(config, tmp_path / name, tmp_path / f"{name}.png")
        assert _has_colour(frame, (30, 140, 200)), name
        assert (tmp_path / name).read_bytes() == original  # converted on a copy, never in place


@needs_ffmpeg
def test_signage_render_shows_an_iphone_mov_and_a_wav(config: BoardConfig, tmp_path: Path) -> None:
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "color=c=red:s=320x176:r=25:d=1",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-f",
        "mov",
        str(tmp_path / "IMG_0412.MOV"),
    )
    ffmpeg("-f", "lavfi", "-i", TONE, str(tmp_path / "loa.wav"))
    assert _has_colour(_rendered(config, tmp_path / "IMG_0412.MOV", tmp_path / "mov.png"), (255, 0, 0), 60)
    _rendered(config, tmp_path / "loa.wav", tmp_path / "wav.png")
    assert (tmp_path / "wav.png").stat().st_size > 0


@needs_libreoffice
def test_signage_render_shows_an_official_docx_as_text_and_one_with_a_ruled_table_as_its_pages(config: BoardConfig, tmp_path: Path) -> None:
    from signage.render.single import resolve_source

    notice = word_file(
        tmp_path / "tb45.docx", HEADER, p("THÔNG BÁO"), p("Về việc tổ chức tiêm chủng cho trẻ em"), p("Sáng thứ Bảy."), SIGNATURE
    )
    ruled = word_file(
        tmp_path / "Lich truc.docx",
        HEADER,
        p("KẾ HOẠCH"),
        p("Trực phòng chống lụt bão"),
        table([["Ngày", "Người trực"]], ruled=True),
        SIGNATURE,
    )
    text = resolve_source(config, str(notice), tmp_path)
    assert text.bulletin.kind is Kind.TEXT and text.bulletin.title == "Thông báo về việc tổ chức tiêm chủng cho trẻ em"
    pages = resolve_source(config, str(ruled), tmp_path)
    assert pages.bulletin.kind is Kind.PDF and pages.media_path is not None and pages.media_path.read_bytes()[:5] == b"%PDF-"
    frame = _rendered(config, ruled, tmp_path / "ruled.png")
    assert frame.size == (640, 360)
