"""The hub's preview: the board's own frame for a bulletin under review (in a worker process), and when it plays."""

from __future__ import annotations

import io
import multiprocessing
import os
import shutil
import signal
import subprocess
import textwrap
import time
import unicodedata
from collections.abc import Iterator
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import pygame
import pytest
from PIL import Image, ImageChops

from signage.config import load_config
from signage.district.hub.preview import PREVIEW_SIZES, Previewer, describe_plays, plays_when
from signage.errors import MediaError, OverLimit
from signage.model import Bulletin, Kind, Media, Priority, Slot
from signage.player import Player
from signage.playlist import describe_media
from signage.render import theme
from signage.render.layout import Layout
from signage.render.output import HeadlessOutput
from signage.render.still import FrameRequest, Painter, draw_frame, serve

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 23, 7, 5, 30, tzinfo=HCM)  # a Monday
HEADER = "UBND xã Tân Quan"
LOOK_AT = Path("/tmp/signage-preview")  # the frames drawn here, for a person to open

TITLE = "Thông báo tiêm chủng cho trẻ em"
BODY = "Trạm y tế xã tổ chức tiêm chủng mở rộng vào sáng thứ Bảy, ngày 28/11/2026, tại hội trường ấp 3."


def text_bulletin(bid: str = "tiem-chung", **changes: object) -> Bulletin:
    fields: dict[str, object] = {"id": bid, "revision": 1, "kind": Kind.TEXT, "title": TITLE, "body": BODY}
    fields.update(changes)
    return Bulletin(**fields)  # type: ignore[arg-type]


def media_bulletin(path: Path, kind: Kind, title: str, **changes: object) -> Bulletin:
    described = describe_media(path)
    media = Media(described["sha256"], described["bytes"], described["type"])
    return Bulletin(id=f"tep-{kind.value}", revision=1, kind=kind, title=title, media=media, **changes)  # type: ignore[arg-type]


def image_of(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def keep(name: str, png: bytes) -> None:
    LOOK_AT.mkdir(exist_ok=True)
    (LOOK_AT / name).write_bytes(png)


@pytest.fixture(scope="module")
def previewer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Previewer]:
    with Previewer(tmp_path_factory.mktemp("preview-cache")) as previewer:
        yield previewer


# -- the frame -------------------------------------------------------------------------


def ocr_words(png: bytes, box: tuple[int, int, int, int], tmp_path: Path) -> set[str]:
    path = tmp_path / "ocr.png"
    image_of(png).crop(box).save(path)
    out = subprocess.run(["tesseract", str(path), "-", "-l", "vie", "--psm", "6"], capture_output=True, text=True, timeout=120, check=True)
    text = unicodedata.normalize("NFC", out.stdout)
    return set(text.replace(",", " ").replace(".", " ").split())


def has_vietnamese_ocr() -> bool:
    if shutil.which("tesseract") is None:
        return False
    listed = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30)
    return "vie" in listed.stdout.split()


@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920)], ids=["landscape", "portrait"])
def test_a_text_bulletin_is_drawn_at_its_size_with_its_title(previewer: Previewer, size: tuple[int, int], tmp_path: Path) -> None:
    png = previewer.frame_png(text_bulletin(), None, size, NOW, HEADER)
    keep(f"text-{size[0]}x{size[1]}.png", png)
    image = image_of(png)
    assert image.size == size
    layout = Layout.for_size(*size)
    assert image.getpixel((size[0] // 2, layout.ticker.centery))[:2] != (0, 0)  # the ticker is drawn
    if not has_vietnamese_ocr():
        return  # the size is checked; the reading needs tesseract-ocr-vie
    slide = ocr_words(png, (layout.slide.left, layout.slide.top, layout.slide.right, layout.slide.bottom), tmp_path)
    missing = [word for word in TITLE.split() if word not in slide]
    assert len(missing) <= 1, f"OCR missed {missing} of the title in {sorted(slide)}"
    header = ocr_words(png, (size[0] // 2, 0, size[0], layout.header.bottom), tmp_path)
    assert "07:05" in header, header  # the header's clock is the minute asked for
    if size[0] > size[1]:  # a portrait frame has no room for the date beside the name
        assert {"Thứ", "Hai", "23/11/2026"} <= header, header


def test_the_led_wall_frame_is_drawn_whole(previewer: Previewer) -> None:
    assert (384, 192) in PREVIEW_SIZES
    png = previewer.frame_png(text_bulletin(), None, (384, 192), NOW, HEADER)
    keep("text-384x192.png", png)
    image = image_of(png)
    assert image.size == (384, 192)
    layout = Layout.for_size(384, 192)
    strip = image.crop((0, layout.ticker.top, 384, 192))
    colours = strip.getcolors(strip.width * strip.height) or []
    filled = next((count for count, colour in colours if colour == theme.TICKER_FILL), 0)
    assert filled > strip.width * strip.height // 2  # the ticker's yellow, with its text over it


def test_an_image_bulletin_shows_its_colours_where_the_board_puts_them(previewer: Previewer, tmp_path: Path) -> None:
    picture = Image.new("RGB", (1600, 900), (220, 30, 30))  # red on the left, blue on the right
    picture.paste((30, 60, 220), (800, 0, 1600, 900))
    path = tmp_path / "poster.png"
    picture.save(path)
    png = previewer.frame_png(media_bulletin(path, Kind.IMAGE, "Áp phích phòng chống sốt xuất huyết"), path, (1920, 1080), NOW, HEADER)
    keep("image-1920x1080.png", png)
    image = image_of(png)
    slide = Layout.for_size(1920, 1080).slide
    left = image.getpixel((slide.centerx - 200, slide.centery))
    right = image.getpixel((slide.centerx + 200, slide.centery))
    assert left[0] > 180 and left[2] < 80, left
    assert right[2] > 180 and right[0] < 80, right
    header = image.getpixel((1920 // 2, 4))
    assert abs(header[0] - (theme.HEADER_LEFT[0] + theme.HEADER_RIGHT[0]) // 2) < 20, header  # the header's red


def test_an_emergency_is_the_very_frame_the_player_shows(previewer: Previewer, tmp_path: Path) -> None:
    (tmp_path / "list.toml").write_text(
        textwrap.dedent(
            """
            [[bulletins]]
            id = "bao-so-9"
            kind = "text"
            priority = "emergency"
            title = "Khẩn cấp: bão số 9 đổ bộ"
            body = "Người dân ven sông di dời đến nơi an toàn trước 17 giờ hôm nay. Không ra khơi."
            """
        ),
        encoding="utf-8",
    )
    config_path = tmp_path / "board.toml"
    config_path.write_text(
        textwrap.dedent(
            f"""
            [board]
            id = "tan-quan"
            name = "{HEADER}"
            data_dir = "state"
            [playlists]
            paths = ["list.toml"]
            [display]
            size = "1920x1080"
            """
        ),
        encoding="utf-8",
    )
    config = load_config(config_path)

    class Still:
        def now(self) -> datetime:
            return NOW

        def monotonic(self) -> float:
            return 1.0

    player = Player(config, HeadlessOutput(config.display), Still())
    try:
        player.start()
        player.step()
        bulletin = player.content[0].bulletin
        seen = Image.frombytes("RGB", (1920, 1080), pygame.image.tobytes(player.frame.surface, "RGB"))
    finally:
        player.close()
        player.output.close()
    png = previewer.frame_png(bulletin, None, (1920, 1080), NOW, HEADER)
    keep("emergency-1920x1080.png", png)
    drawn = image_of(png)
    worst = ImageChops.difference(seen, drawn).convert("L")  # the largest channel's difference, near enough
    differing = sum(worst.histogram()[9:])
    assert differing <= 1920 * 1080 // 1000, f"{differing} pixels differ from the player's frame"
    slide = Layout.for_size(1920, 1080).slide
    corner = drawn.getpixel((slide.right - 5, slide.top + 5))
    assert corner[0] > 100 and corner[1] < 30, corner  # the emergency's red, not the normal navy


def test_video_pdf_and_audio_bulletins_are_drawn(previewer: Previewer, tmp_path: Path) -> None:
    from tests.test_audio import write_sine
    from tests.test_pdf_slides import hand_made_pdf
    from tests.videoclips import numbered_clip

    clip = numbered_clip(tmp_path / "clip.mp4", seconds=1.0, size=(320, 180))
    video = previewer.frame_png(media_bulletin(clip, Kind.VIDEO, "Phim hướng dẫn rửa tay"), clip, (1920, 1080), NOW, HEADER)
    keep("video-1920x1080.png", video)
    slide = Layout.for_size(1920, 1080).slide
    grey = image_of(video).getpixel(slide.center)
    assert max(grey) - min(grey) <= 4 and abs(grey[0] - 8) <= 6, grey  # the clip's first frame: level 8

    pdf = tmp_path / "quyet-dinh.pdf"
    hand_made_pdf(pdf)
    page = previewer.frame_png(media_bulletin(pdf, Kind.PDF, "Quyết định về lịch tiếp dân"), pdf, (1080, 1920), NOW, HEADER)
    keep("pdf-1080x1920.png", page)
    portrait = Layout.for_size(1080, 1920).slide
    assert image_of(page).getpixel(portrait.center)[:3] == (0, 0, 0)  # page 1's black square, in the middle of the page

    sound = write_sine(tmp_path / "loa.mp3", "libmp3lame") if _has_encoder("libmp3lame") else write_sine(tmp_path / "loa.ogg", "libvorbis")
    card = previewer.frame_png(media_bulletin(sound, Kind.AUDIO, "Chương trình phát thanh xã"), sound, (1920, 1080), NOW, HEADER)
    keep("audio-1920x1080.png", card)
    assert image_of(card).size == (1920, 1080)


def _has_encoder(name: str) -> bool:
    import av

    try:
        av.Codec(name, "w")
    except ValueError:
        return False
    return True


def test_a_page_of_three_sizes_reloaded_draws_nothing_again(tmp_path: Path) -> None:
    with Previewer(tmp_path / "cache") as previewer:
        first = [previewer.frame_png(text_bulletin(), None, size, NOW, HEADER) for size in PREVIEW_SIZES]
        started, cached = previewer.started, sorted(os.listdir(tmp_path / "cache"))
        previewer.close()  # a reload that needed the worker would have to start one again
        again = [previewer.frame_png(text_bulletin(), None, size, NOW + timedelta(seconds=20), HEADER) for size in PREVIEW_SIZES]
        assert again == first and previewer.started == started and len(cached) == 3
        previewer.frame_png(text_bulletin(), None, (384, 192), NOW + timedelta(minutes=1), HEADER)  # the clock moved on
        assert previewer.started == started + 1 and len(os.listdir(tmp_path / "cache")) == 4
        previewer.frame_png(text_bulletin(title="Thông báo đã sửa"), None, (384, 192), NOW, HEADER)  # an edit is a new frame
        assert len(os.listdir(tmp_path / "cache")) == 5


def test_a_broken_image_is_refused_in_vietnamese(previewer: Previewer, tmp_path: Path) -> None:
    path = tmp_path / "hong.png"
    good = io.BytesIO()
    Image.new("RGB", (400, 300), (0, 128, 0)).save(good, "PNG")
    path.write_bytes(good.getvalue()[:200])  # the header, and then nothing
    bulletin = Bulletin("anh-hong", 1, Kind.IMAGE, "Ảnh bị hỏng", media=Media("0" * 64, 200, "image/png"))
    with pytest.raises(MediaError, match="hỏng hoặc không đúng định dạng") as refused:
        previewer.frame_png(bulletin, path, (1920, 1080), NOW, HEADER)
    assert "\n" not in str(refused.value) and "Ảnh bị hỏng" in str(refused.value)
    assert previewer.frame_png(text_bulletin(), None, (384, 192), NOW, HEADER)  # the worker goes on


# -- an upload that attacks the renderer ----------------------------------------------------------


def hostile_draw(painter: Painter, request: FrameRequest) -> bytes:
    """The renderer meeting a file that hangs its decoder (TREO) or crashes it (SẬP); any other draws for real."""
    if request.bulletin.title.startswith("TREO"):
        time.sleep(3600)
    if request.bulletin.title.startswith("SẬP"):
        os._exit(139)  # as a segfault in a decoder would end it
    return draw_frame(painter, request)


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[Previewer]:
    with Previewer(tmp_path / "cache", time_limit_s=4.0, draw=hostile_draw) as previewer:
        yield previewer


def test_an_upload_that_hangs_the_decoder_is_killed_at_the_time_limit_and_the_next_preview_works(hostile: Previewer) -> None:
    hostile.frame_png(text_bulletin(), None, (384, 192), NOW, HEADER)
    stuck = hostile._worker
    assert stuck is not None
    started = time.monotonic()
    with pytest.raises(OverLimit, match="quá 4 giây") as refused:
        hostile.frame_png(text_bulletin("treo", title="TREO mãi"), None, (384, 192), NOW, HEADER)
    assert time.monotonic() - started >= 4.0
    assert not stuck.process.is_alive()  # killed, not left spinning beside the hub
    assert "TREO mãi" in str(refused.value) and "\n" not in str(refused.value)
    png = hostile.frame_png(text_bulletin(), None, (1920, 1080), NOW, HEADER)
    assert image_of(png).size == (1920, 1080) and hostile.started == 2


def test_an_editor_reloading_a_hanging_upload_cannot_hold_the_worker_again(hostile: Previewer) -> None:
    hanging = text_bulletin("treo", title="TREO mãi")
    with pytest.raises(OverLimit):
        hostile.frame_png(hanging, None, (384, 192), NOW, HEADER)
    started = time.monotonic()
    with pytest.raises(OverLimit):
        hostile.frame_png(hanging, None, (384, 192), NOW + timedelta(minutes=1), HEADER)  # the page reloaded
    assert time.monotonic() - started < hostile.time_limit_s  # told at once, from what the last try learnt
    assert hostile.started == 1  # no worker started, or killed, for it


def test_an_upload_that_crashes_the_decoder_costs_one_worker_not_the_hub(hostile: Previewer) -> None:
    with pytest.raises(MediaError, match="dừng đột ngột"):
        hostile.frame_png(text_bulletin("sap", title="SẬP ngay"), None, (384, 192), NOW, HEADER)
    png = hostile.frame_png(text_bulletin(), None, (384, 192), NOW, HEADER)
    assert image_of(png).size == (384, 192) and hostile.started == 2


def test_a_worker_hung_on_an_upload_ends_itself_when_the_hub_is_gone() -> None:
    """The hub kills a worker at its time limit; a hub killed itself (SIGKILL, OOM) cannot, and the worker must not linger."""
    context = multiprocessing.get_context("spawn")
    hub_end, worker_end = context.Pipe(duplex=True)
    worker = context.Process(target=serve, args=(worker_end, hostile_draw, 2.0), daemon=True)
    worker.start()
    worker_end.close()
    try:
        assert hub_end.poll(60) and hub_end.recv() == ("ready",)
        hub_end.send(FrameRequest(text_bulletin("treo", title="TREO mãi"), None, (384, 192), NOW, HEADER))
        hub_end.close()  # the hub is gone; nobody will kill the worker
        worker.join(60)
        assert worker.exitcode == -signal.SIGALRM
    finally:
        if worker.is_alive():
            worker.kill()
            worker.join()


def test_a_media_bulletin_without_its_file_is_told_without_drawing(previewer: Previewer) -> None:
    bulletin = Bulletin("anh", 1, Kind.IMAGE, "Ảnh chưa tải lên", media=Media("a" * 64, 10, "image/png"))
    with pytest.raises(MediaError, match="chưa có tệp ảnh"):
        previewer.frame_png(bulletin, None, (1920, 1080), NOW, HEADER)


# -- when it plays --------------------------------------------------------------------------


def at(hour: int, minute: int = 0, day: int = 23) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=HCM)


MORNING = (Slot(start=clock_time(7, 0), end=clock_time(9, 0)),)
MIDNIGHT = at(0)


def test_a_slot_from_seven_to_nine_plays_from_seven_to_nine() -> None:
    spans = plays_when(text_bulletin(slots=MORNING), [], "tan-quan", MIDNIGHT)
    assert spans == [(at(7), at(9))]
    assert describe_plays(text_bulletin(slots=MORNING), [], "tan-quan", MIDNIGHT, spans) == "Hôm nay 07:00–09:00"


def test_in_a_rotation_the_turns_merge_into_the_slot() -> None:
    others = [text_bulletin("hop-dan", title="Họp dân ấp 2"), text_bulletin("rac", title="Thu gom rác", duration_s=30.0)]
    spans = plays_when(text_bulletin(slots=MORNING), others, "tan-quan", MIDNIGHT)
    assert spans == [(at(7), at(9))]  # the slot's edges, not those of its first and last turns


def test_a_slot_every_day_plays_today_and_tomorrow() -> None:
    spans = plays_when(text_bulletin(slots=MORNING), [], "tan-quan", at(8), hours=24)
    assert spans == [(at(8), at(9)), (at(7, day=24), at(8, day=24))]
    assert (
        describe_plays(text_bulletin(slots=MORNING), [], "tan-quan", at(8), spans)
        == "Hôm nay 08:00–09:00; Ngày mai 07:00–08:00 (và sau đó)"
    )


def test_a_bulletin_playing_the_whole_window_is_not_told_as_stopping_at_its_end() -> None:
    spans = plays_when(text_bulletin(), [], "tan-quan", at(12), hours=24)
    assert spans == [(at(12), at(12, day=24))]
    assert describe_plays(text_bulletin(), [], "tan-quan", at(12), spans) == "Phát suốt 24 giờ tới (theo lượt cùng các bản tin khác)"


def test_an_expired_bulletin_plays_never() -> None:
    expired = text_bulletin(valid_until=at(6))
    assert plays_when(expired, [], "tan-quan", at(8)) == []
    assert describe_plays(expired, [], "tan-quan", at(8), []) == "Không phát trong 24 giờ tới: đã hết hạn"


def test_a_slot_outside_the_next_hours_is_told_as_such() -> None:
    sunday = text_bulletin(slots=(Slot(days=frozenset({6}), start=clock_time(7, 0), end=clock_time(9, 0)),))
    assert plays_when(sunday, [], "tan-quan", at(10)) == []
    assert describe_plays(sunday, [], "tan-quan", at(10), []) == "Không phát trong 24 giờ tới: ngoài khung giờ"


def test_an_emergency_of_another_takes_the_screen() -> None:
    storm = text_bulletin("bao", title="Bão số 9", priority=Priority.EMERGENCY, valid_from=at(8), valid_until=at(10))
    spans = plays_when(text_bulletin(slots=MORNING), [storm], "tan-quan", MIDNIGHT)
    assert spans == [(at(7), at(8))]
    during = text_bulletin(slots=(Slot(start=clock_time(8, 15), end=clock_time(9, 0)),))
    assert plays_when(during, [storm], "tan-quan", MIDNIGHT) == []
    assert describe_plays(during, [storm], "tan-quan", MIDNIGHT, []).endswith("thông báo khẩn cấp khác chiếm màn hình")


def test_an_emergency_under_review_takes_the_screen_from_the_rest() -> None:
    others = [text_bulletin("hop-dan", title="Họp dân ấp 2"), text_bulletin("rac", title="Thu gom rác")]
    storm = text_bulletin("bao", title="Bão số 9", priority=Priority.EMERGENCY, valid_until=at(12))
    assert plays_when(storm, others, "tan-quan", at(8)) == [(at(8), at(12))]  # every turn its own until it ends


def test_after_an_emergency_the_bulletin_comes_back_to_the_rotation() -> None:
    storm = text_bulletin("bao", title="Bão số 9", priority=Priority.EMERGENCY, valid_from=at(9), valid_until=at(10))
    others = [text_bulletin("hop-dan", title="Họp dân ấp 2"), storm]
    office_hours = (Slot(start=clock_time(7, 0), end=clock_time(11, 30)), Slot(start=clock_time(13, 30), end=clock_time(17, 0)))
    mine = text_bulletin(slots=office_hours)
    spans = plays_when(mine, others, "tan-quan", MIDNIGHT, hours=18)
    assert spans == [(at(7), at(9)), (at(10), at(11, 30)), (at(13, 30), at(17))]
    assert describe_plays(mine, others, "tan-quan", MIDNIGHT, spans, 18) == "Hôm nay 07:00–09:00, 10:00–11:30, 13:30–17:00"


def test_screen_hours_and_the_board_are_respected() -> None:
    evening = text_bulletin(slots=(Slot(start=clock_time(20, 0), end=clock_time(23, 0)),))
    dark = plays_when(evening, [], "tan-quan", MIDNIGHT, screen_hours=(clock_time(6, 0), clock_time(21, 0)))
    assert dark == [(at(20), at(21))]
    assert plays_when(text_bulletin(boards=("tan-loi",)), [], "tan-quan", MIDNIGHT) == []
    assert describe_plays(text_bulletin(boards=("tan-loi",)), [], "tan-quan", MIDNIGHT, []).endswith("không gửi tới bảng này")


def test_a_new_revision_takes_the_place_of_the_one_the_board_holds() -> None:
    held = text_bulletin()  # always on, revision 1
    revised = text_bulletin(revision=2, slots=MORNING)
    assert plays_when(revised, [held], "tan-quan", MIDNIGHT) == [(at(7), at(9))]
