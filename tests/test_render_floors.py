"""The fast paths that bring the board near its floors (bench/render.py, bench/media.py) draw what the slow ones drew."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import av
import pygame
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from signage.render import theme
from signage.render.fonts import FontBook
from signage.render.header import Header
from signage.render.layout import Layout
from signage.render.ticker import Ticker

from .conftest import ROOT

TITLES = ["Lịch tiêm chủng mở rộng tháng 12", "Thông báo họp dân ấp 2", "Phòng, chống bão lũ"]


def composited_strip(ticker: Ticker, width: int) -> pygame.Surface:
    """The strip as the ticker drew it before its tiles: fill, then each title and dot blended on, every frame."""
    height, mid = ticker.rect.height, ticker.rect.height // 2
    dot_r = max(2, height // 10)
    separator = pygame.Surface((dot_r * 8, height), pygame.SRCALPHA)
    pygame.draw.circle(separator, theme.TICKER_DOT, (dot_r * 4, mid), dot_r)
    segments = [ticker.font.render(item, True, theme.TICKER_TEXT) for item in ticker.items]
    strip = pygame.Surface((width, height))
    strip.fill(theme.TICKER_FILL)
    x, index = -round(ticker.offset), 0
    while segments and x < width:
        segment = segments[index % len(segments)]
        strip.blit(segment, segment.get_rect(midleft=(x, mid)))
        x += segment.get_width()
        strip.blit(separator, (x, 0))
        x += separator.get_width()
        index += 1
    return strip


def ticker_pixels(ticker: Ticker, frame: pygame.Surface) -> bytes:
    return pygame.image.tobytes(frame.subsurface(ticker.rect), "RGB")


@pytest.mark.parametrize("items", [TITLES, ["Họp dân"], []], ids=["three titles", "one title shorter than the strip", "nothing"])
def test_the_ticker_drawn_from_tiles_is_the_strip_it_always_drew(display, items: list[str]) -> None:
    frame = pygame.Surface((1920, 1080)).convert()
    frame.fill((1, 2, 3))
    ticker = Ticker(pygame.Rect(0, 1004, 1920, 76), FontBook(), pixels_per_second=167)
    ticker.set_items(items)
    offsets = [0.0, 0.4, 0.6, 17.5, 1919.0, 2500.3] + ([ticker.cycle - 3.0, ticker.cycle - 0.4] if ticker.cycle else [])
    for offset in offsets:
        ticker.offset = offset
        assert ticker.draw(frame) == ticker.rect
        expected = pygame.image.tobytes(composited_strip(ticker, 1920), "RGB")
        assert ticker_pixels(ticker, frame) == expected, f"offset {offset}"
    assert frame.get_at((5, 1003)) == (1, 2, 3)  # nothing drawn outside the strip
    assert frame.get_clip() == frame.get_rect()  # the frame's clip is left as it was


def test_a_headless_run_for_measuring_can_save_no_frames(tmp_path: Path) -> None:
    """Since --headless saves a frame every 5 s by default, bench/render.py's CPU and RSS of the player held PNG encoding."""
    result = subprocess.run(
        [sys.executable, "-m", "signage", "play", "--headless", "--for", "1.5", "--no-screenshots"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "screenshots").exists()
    assert "a frame every" not in result.stderr


def test_no_screenshots_and_a_screenshot_dir_contradict(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "signage",
        "play",
        "--headless",
        "--no-screenshots",
        "--screenshot-dir",
        "x",
        "--screenshot-every",
        "1",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2 and "--no-screenshots and --screenshot-dir contradict each other" in result.stderr


def test_the_clock_formatted_once_a_minute_still_follows_a_clock_stepped_back_an_hour(display) -> None:
    frame = pygame.Surface((1920, 1080))
    header = Header(pygame.Rect(0, 0, 1920, 108), FontBook(), "UBND xã Tân Quan", None)
    at = datetime(2026, 11, 23, 7, 5, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    assert header.update(frame, at) == header.clock_rect
    assert header.update(frame, at + timedelta(seconds=29)) is None  # the same minute: nothing to draw
    assert header.update(frame, at + timedelta(seconds=30)) == header.clock_rect  # 07:06
    assert header.update(frame, at - timedelta(hours=1)) == header.clock_rect  # 06:05: drawn at once
    assert header.shown.endswith("06:05")
    header.draw(frame)  # a full redraw puts the text back even within the minute
    assert header.update(frame, at - timedelta(hours=1)) == header.clock_rect


def colour_clip(path: Path, size: tuple[int, int] = (640, 360), frames: int = 3) -> Path:
    """Red to blue across, a green band and a white disc: chroma that a wrong conversion would shift."""
    picture = Image.merge(
        "RGB",
        [Image.linear_gradient("L").rotate(90).resize(size), Image.new("L", size, 40), Image.linear_gradient("L").rotate(-90).resize(size)],
    )
    ImageDraw.Draw(picture).rectangle((0, size[1] // 3, size[0], size[1] // 2), fill=(30, 200, 60))
    ImageDraw.Draw(picture).ellipse((size[0] // 2, size[1] // 2, size[0] // 2 + 100, size[1] // 2 + 100), fill=(250, 250, 250))
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "12"}
        for index in range(frames):
            frame = av.VideoFrame.from_image(picture).reformat(format="yuv420p")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_a_video_frame_scaled_then_converted_matches_the_one_pass_conversion(tmp_path: Path) -> None:
    """The decoder scales in YUV and converts to BGRA after (swscale's fast path): the picture is the one-pass picture."""
    from signage.media.video import VideoClip

    path = colour_clip(tmp_path / "colour.mp4")
    clip = VideoClip(path, (500, 300))
    width, height = clip.size
    with av.open(str(path)) as container:
        first = next(container.decode(video=0))
        reference = first.reformat(width=width, height=height, format="bgra", interpolation="BILINEAR")
        expected = Image.frombuffer("RGBA", (width, height), bytes(reference.planes[0]), "raw", "BGRA", 0, 1)
    try:
        actual = Image.frombuffer("RGBA", (width, height), bytes(clip.first[1]), "raw", "BGRA", 0, 1)
    finally:
        clip.close()
    difference = ImageChops.difference(actual.convert("RGB"), expected.convert("RGB"))
    per_channel = ImageStat.Stat(difference).mean
    assert max(per_channel) < 2.0, per_channel  # the same picture, give or take chroma rounding at edges
    assert sum(difference.convert("L").point(lambda v: 255 if v > 48 else 0).histogram()[255:]) / (width * height) < 0.002


def test_the_tickers_floor_presents_the_very_strip_the_player_presents(display, monkeypatch: pytest.MonkeyPatch) -> None:
    """bench/render.py's floor is honest only if it shows the same pixels: same face, size, titles, dots and fill."""
    spec = importlib.util.spec_from_file_location("bench_render", ROOT / "bench" / "render.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)  # its dataclasses look their module up there
    spec.loader.exec_module(bench)
    for size in ((1920, 1080), (3840, 2160)):
        rect = Layout.for_size(*size).ticker
        items = [bench.STANDING_TEXT, bench.STATIC_TITLE]
        strip, cycle = bench.floor_strip(rect, items)
        frame = pygame.Surface(size).convert()
        ticker = Ticker(rect, FontBook())
        ticker.set_items(items)
        assert ticker.cycle == cycle
        for offset in (0, 517, cycle - 3):
            ticker.offset = float(offset)
            ticker.draw(frame)
            window = strip.subsurface(pygame.Rect(offset, 0, rect.width, rect.height))
            assert ticker_pixels(ticker, frame) == pygame.image.tobytes(window, "RGB"), (size, offset)
