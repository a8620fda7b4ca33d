"""Render benchmark: what slides, frames and a playing board cost on this machine, at 1920x1080 and 3840x2160.

What it measures, per resolution:

1. compose: the demo text bulletin `demo-hop-dan-ap-2` and an image slide from a 4000x3000 (12 MP) JPEG that the
   bench generates (gradients plus noise, quality 90), through `signage.render.composer.compose`, median of 7 runs
   in a process with a dummy 1x1 display; beside it, the `convert()` the player then does on its main loop.
2. frame: the per-frame cost of the ticker and the clock, `Frame.update(now, 1/60)` then `Output.present(dirty)`,
   600 frames with `now` advancing 1/60 s a frame (the clock text changes once, at a simulated minute), median and
   p99; with the dummy driver (`HeadlessOutput`) and on a real X server (Xvfb at the same size, `DisplayOutput`
   fullscreen, in a subprocess because SDL picks its driver at init); for comparison under X11 the same frames
   presented whole with `pygame.display.flip`, and a crossfade frame.
3. CPU: `signage play` on a static text slide (one bulletin, duration_s = 3600) (a) with the ticker at 60 fps and
   (b) with the ticker disabled (clock only): % of one core from psutil cpu_times of the player between t=5 s and
   t=25 s after start, the Xvfb server's own CPU over the same window, and the frame rate reached (the player's
   `played N frames` line). (a) and (b) run side by side (b sleeps nearly all the time; X11: one Xvfb each).
4. start-up: `signage play` started (Popen) to its `first frame on screen` log line, median of 5 starts.
5. memory: peak RSS (VmHWM, polled every 50 ms; not os.wait4's ru_maxrss, which on Linux also holds the parent's
   RSS) of `signage play` on the bundled demo for 15 s, so image slides are composed too. Dummy and X11 run side
   by side. Without --config the headless player draws 1920x1080, so the dummy 4K run uses a copy of the demo
   board config with [display] size = "3840x2160".

Beside two figures, their floor, measured in the same run (absolute times move from machine to machine; the
ratio holds): the image slide's compose beside Pillow alone decoding the same photo in draft mode and resizing it
to the same size with the same filter (`photo_floor`, 7 runs taken in turn with compose); the 60 fps ticker's CPU
beside a bare pygame process presenting the same strip at 60 fps (`worker_ticker_floor`, run side by side with
the players; CPU of both from each thread's /proc schedstat, in ns; the ratio per quarter of the window).

Goals, at 1080p: a static slide with the clock < 1 % of one core; with a 60 fps ticker < 5 %, no dropped ticker
frames; an image slide from a 12 MP JPEG composed in < 100 ms (off the main loop); first frame < 1.5 s;
peak RSS < 150 MB at 1080p and < 450 MB at 4K. At any size: compose within 1.15x its floor, the ticker's CPU
within 1.5x its floor.

Headless players run with --no-screenshots (--headless alone saves a PNG every 5 s, which is not the player's cost).

It prints figures next to the goals; it asserts nothing and passes or fails nothing. Every player, worker and
Xvfb it starts is stopped on the way out, error or not. A full run takes about 3 minutes on 2 cores.

    .venv/bin/python bench/render.py [--quick] [--only dummy|x11] [--phases compose,frames,start,cpu,rss]
                                     [--sizes 1920x1080,3840x2160] [--rounds N]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
RESOLUTIONS: tuple[tuple[int, int], ...] = ((1920, 1080), (3840, 2160))
DRIVERS = ("dummy", "x11")
TEXT_BULLETIN = "demo-hop-dan-ap-2"
PHOTO_SIZE = (4000, 3000)
COMPOSE_RUNS = 7
FRAMES = 600
WARMUP_FRAMES = 60
FPS = 60
CPU_SKIP = 5.0  # start-up excluded from the CPU window
STARTS = 5
DEFAULT_HEADLESS = (1920, 1080)  # what `signage play --headless` draws without a [display] size
DEMO_PLAYLIST = ROOT / "playlists" / "demo.toml"
DROP_TOLERANCE = 59.0  # fps below this counts as dropped ticker frames (the player's average includes its start)
PLAYED = re.compile(r"played (\d+) frames in ([\d.]+) s \(([\d.]+) fps\)")
STANDING_TEXT = "Chào mừng quý bà con đến UBND xã Tân Quan · Giờ làm việc: sáng 7:00–11:30, chiều 13:30–17:00, thứ Hai đến thứ Sáu"
STATIC_TITLE = "Thông báo họp dân ấp 2"  # the static bulletin's title: the ticker shows it after the standing text
# Goals against the floors measured in the same run (printed, never asserted).
COMPOSE_FLOOR_GOAL = 1.15  # image slide compose / Pillow's draft decode + resize of the same photo
TICKER_FLOOR_GOAL = 1.5  # the player's CPU with a 60 fps ticker / a bare pygame loop presenting the same strip
PHASES = ("compose", "frames", "start", "cpu", "rss")


class BenchError(Exception):
    """A measurement that could not be taken; shown in its table cell."""


# -- child processes -------------------------------------------------------------

_children: list[subprocess.Popen[Any]] = []


def spawn(command: Sequence[str], env: dict[str, str], **kwargs: Any) -> subprocess.Popen[Any]:
    """Start a child and remember it, so that `stop_all` ends it whatever happens."""
    proc: subprocess.Popen[Any] = subprocess.Popen(list(command), env=env, **kwargs)
    _children.append(proc)
    return proc


def stop(proc: subprocess.Popen[Any], timeout: float = 5.0) -> None:
    """SIGTERM (the player stops cleanly on it), then SIGKILL if it lingers."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout)


def stop_all() -> None:
    for proc in reversed(_children):  # players before the X servers they draw on
        with contextlib.suppress(Exception):
            stop(proc)


def child_env(state_dir: Path, display: str | None) -> dict[str, str]:
    """The environment of a player or worker: this tree's `signage`, dummy or X11 chosen here, not inherited."""
    dropped = ("SDL_VIDEODRIVER", "WAYLAND_DISPLAY", "DISPLAY", "SDL_FRAMEBUFFER_ACCELERATION")
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env["PYGAME_HIDE_SUPPORT_PROMPT"] = "1"
    env["XDG_STATE_HOME"] = str(state_dir)  # the demo board's data_dir lands in the temp dir
    if display is not None:
        env["DISPLAY"] = display
    return env


def signage_command() -> list[str]:
    script = Path(sys.executable).with_name("signage")
    return [str(script)] if script.exists() else [sys.executable, "-m", "signage"]


@dataclass
class PlayerRun:
    """A `signage play` child with its log lines, read as they come (the first-frame line is timed on arrival)."""

    proc: subprocess.Popen[str]
    started: float
    lines: list[str] = field(default_factory=list)
    first_frame: float | None = None  # seconds from Popen to the `first frame on screen` line
    ready: threading.Event = field(default_factory=threading.Event)

    def read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            arrived = time.perf_counter()
            self.lines.append(line.rstrip("\n"))
            if self.first_frame is None and "first frame on screen" in line:
                self.first_frame = arrived - self.started
                self.ready.set()
        self.ready.set()  # the log ended: the player is gone

    def played(self) -> tuple[int, float, float]:
        for line in self.lines:
            if match := PLAYED.search(line):
                return int(match[1]), float(match[2]), float(match[3])
        raise BenchError(f"no `played` line ({self.last_words()})")

    def last_words(self) -> str:
        errors = [line for line in self.lines if "ERROR" in line or "error" in line]
        return (errors or self.lines or [f"exit {self.proc.returncode}"])[-1][:160]


def start_player(arguments: Sequence[str], env: dict[str, str], cwd: Path) -> PlayerRun:
    started = time.perf_counter()
    streams = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
    proc = spawn([*signage_command(), "play", *arguments], env, cwd=cwd, text=True, encoding="utf-8", errors="replace", **streams)
    run = PlayerRun(proc, started)
    threading.Thread(target=run.read, daemon=True).start()
    return run


def finish(run: PlayerRun, timeout: float) -> None:
    """Wait for a player that stops by itself (--for); stop it if it does not."""
    try:
        run.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        stop(run.proc)
        raise BenchError(f"the player did not stop within {timeout:.0f} s") from None
    run.ready.wait(5)
    time.sleep(0.05)  # let the reader take the last lines


@dataclass(frozen=True)
class XServer:
    display: str
    proc: subprocess.Popen[bytes]


@contextlib.contextmanager
def xvfb(size: tuple[int, int]) -> Iterator[XServer]:
    """An Xvfb of `size` on a free display number (-displayfd), stopped on exit."""
    read, write = os.pipe()
    command = ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{size[0]}x{size[1]}x24", "-nolisten", "tcp", "-noreset"]
    with tempfile.TemporaryFile() as log:
        try:
            try:
                proc = spawn(command, dict(os.environ), pass_fds=(write,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
            finally:
                os.close(write)
            try:
                number = b""
                deadline = time.monotonic() + 20
                while not number.endswith(b"\n"):
                    ready, _, _ = select.select([read], [], [], max(0.0, deadline - time.monotonic()))
                    chunk = os.read(read, 32) if ready else b""
                    if not chunk:
                        log.seek(0)
                        tail = log.read().decode(errors="replace").strip().splitlines()[-1:]
                        raise BenchError(f"Xvfb did not start: {tail}")
                    number += chunk
                yield XServer(f":{number.decode().strip()}", proc)
            finally:
                stop(proc)
        finally:
            os.close(read)


def run_worker(kind: str, size: tuple[int, int], env: dict[str, str], cwd: Path, *extra: str) -> dict[str, Any]:
    """Run this script's `--worker KIND` in a fresh process; its last stdout line is JSON."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--size", f"{size[0]}x{size[1]}", *extra]
    proc = spawn(command, env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        stop(proc)
        raise BenchError(f"worker {kind} timed out") from None
    if proc.returncode != 0 or not out.strip():
        raise BenchError(f"worker {kind} failed: {(err.strip().splitlines() or ['exit ' + str(proc.returncode)])[-1][:160]}")
    return json.loads(out.strip().splitlines()[-1])


def sleep_until(moment: float) -> None:
    while (left := moment - time.perf_counter()) > 0:
        time.sleep(min(left, 0.5))


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


# -- workers (run in their own process) ----------------------------------------------


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def photo_floor(path: Path, room: tuple[int, int]) -> tuple[int, int]:
    """The image slide's floor: Pillow alone decodes the photo in draft mode and resizes it into `room`.

    The same calls, filter and sizes as `signage.media.images.decode_image` (draft to the smallest DCT scale
    above the box, then BILINEAR with reducing_gap 3.0); no EXIF, no pixels handed on, nothing drawn.
    """
    from PIL import Image

    from signage.media.images import fit_size

    with Image.open(path) as image:
        image.draft("RGB", fit_size(image.size, room))
        image.load()
        return image.resize(fit_size(image.size, room), Image.Resampling.BILINEAR, reducing_gap=3.0).size


def worker_compose(size: tuple[int, int], photo_playlist: Path) -> dict[str, Any]:
    """Compose the demo text slide and the 12 MP photo slide 7 times each, as the composer's worker does.

    The photo's floor runs in turn with its compose (floor first on even runs, compose first on odd ones),
    so the machine's noise falls on both alike.
    """
    sys.path.insert(0, str(ROOT))
    os.environ["SDL_VIDEODRIVER"] = "dummy"
    import pygame

    from signage.paths import DEMO_PLAYLIST
    from signage.playlist import load_playlists
    from signage.render.composer import compose
    from signage.render.fonts import FontBook
    from signage.render.layout import Layout
    from signage.render.slides import caption_strip

    pygame.display.init()
    pygame.display.set_mode((1, 1))
    layout = Layout.for_size(*size)
    fonts = FontBook()
    text = next(p for p in load_playlists((DEMO_PLAYLIST,)).playables if p.bulletin.id == TEXT_BULLETIN)
    photo = load_playlists((photo_playlist,)).playables[0]
    assert photo.media_path is not None
    # Where the picture goes: the slide area less the strip of its title and caption (as image_slide lays it out).
    strip = caption_strip(photo.bulletin, layout, fonts)
    room = (layout.slide.width, layout.slide.height - (strip.get_height() if strip else 0))
    result: dict[str, Any] = {}
    floors: list[float] = []
    floor_size: tuple[int, int] = (0, 0)
    for name, playable in (("text", text), ("image", photo)):
        composed: list[float] = []
        converted: list[float] = []
        pages = 0
        for run in range(COMPOSE_RUNS):
            floor_first = name == "image" and run % 2 == 0
            if floor_first:
                t0 = time.perf_counter()
                floor_size = photo_floor(photo.media_path, room)
                floors.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            slide = compose(playable, layout, fonts)
            t1 = time.perf_counter()
            for page in slide.pages:  # what Player._take_pending does on the main thread
                page.convert()
            t2 = time.perf_counter()
            composed.append((t1 - t0) * 1000)
            converted.append((t2 - t1) * 1000)
            pages = len(slide.pages)
            if name == "image" and not floor_first:
                t0 = time.perf_counter()
                floor_size = photo_floor(photo.media_path, room)
                floors.append((time.perf_counter() - t0) * 1000)
        result[name] = {
            "median": statistics.median(composed),
            "first": composed[0],
            "convert": statistics.median(converted),
            "pages": pages,
            "slide": list(layout.slide.size),
        }
    result["floor"] = {"median": statistics.median(floors), "first": floors[0], "size": list(floor_size), "room": list(room)}
    return result


def floor_strip(rect: Any, items: Sequence[str]) -> tuple[Any, int]:
    """The ticker's strip as the floor presents it: drawn once, a cycle and a screen wide; and the cycle's width.

    With pygame alone: the bundled bold face at the ticker's size, each title then a dot, on the ticker's fill
    (tests/test_render_floors.py holds it to the player's own strip, pixel for pixel).
    """
    import pygame

    from signage.paths import FONT_BOLD
    from signage.render import theme

    pygame.font.init()
    font = pygame.font.Font(FONT_BOLD, max(9, round(rect.height * 0.52)))
    dot = max(2, rect.height // 10)
    segments = [font.render(item, True, theme.TICKER_TEXT) for item in items]
    cycle = sum(segment.get_width() + dot * 8 for segment in segments)
    strip = pygame.Surface((cycle + rect.width, rect.height)).convert()
    strip.fill(theme.TICKER_FILL)
    x = 0
    while x < strip.get_width():
        for segment in segments:
            strip.blit(segment, segment.get_rect(midleft=(x, rect.height // 2)))
            x += segment.get_width()
            pygame.draw.circle(strip, theme.TICKER_DOT, (x + dot * 4, rect.height // 2), dot)
            x += dot * 8
    return strip, cycle


def worker_ticker_floor(size: tuple[int, int], driver: str, seconds: float, items: list[str]) -> dict[str, Any]:
    """The 60 fps ticker's floor: a bare pygame loop presenting the same strip, and nothing else.

    The strip as the player shows it (the bundled bold face at the ticker's size, the same titles and
    dots, the ticker's height and speed) is drawn once, a cycle and a screen wide; each frame pumps the
    events, copies the strip's window into the frame and presents that rectangle, paced by deadlines.
    Dummy driver: an offscreen frame in the display's format, as HeadlessOutput; X11: a fullscreen window
    on SDL's software framebuffer (XShm), as DisplayOutput, `display.update` of the strip only.
    """
    sys.path.insert(0, str(ROOT))
    os.environ["SDL_VIDEODRIVER"] = driver
    os.environ["SDL_FRAMEBUFFER_ACCELERATION"] = "0"
    import pygame

    from signage.render.layout import Layout

    pygame.display.init()
    if driver == "dummy":
        pygame.display.set_mode((1, 1))
        frame = pygame.Surface(size).convert()

        def present(rect: pygame.Rect) -> None:
            pass

    else:
        frame = pygame.display.set_mode(pygame.display.get_desktop_sizes()[0], pygame.FULLSCREEN)
        size = frame.get_size()

        def present(rect: pygame.Rect) -> None:
            pygame.display.update(rect)

    rect = Layout.for_size(*size).ticker
    strip, cycle = floor_strip(rect, items)
    speed = rect.height * 2.2
    period = 1 / FPS
    frames = 0
    offset = 0.0
    start = deadline = time.monotonic()
    while (now := time.monotonic()) - start < seconds:
        pygame.event.get()
        offset = (offset + speed * period) % cycle
        frame.blit(strip, rect, pygame.Rect(round(offset), 0, rect.width, rect.height))
        present(rect)
        frames += 1
        deadline = max(deadline + period, now - period)
        time.sleep(max(0.0, deadline - time.monotonic()))
    elapsed = time.monotonic() - start
    pygame.display.quit()
    return {"frames": frames, "seconds": elapsed, "fps": frames / elapsed, "strip": [rect.width, rect.height]}


def worker_frames(size: tuple[int, int], driver: str) -> dict[str, Any]:
    """Ticker + clock frames as the player draws them, on the dummy driver or on X11 (DISPLAY set by the caller)."""
    sys.path.insert(0, str(ROOT))
    import pygame

    from signage.config import BoardConfig, DisplaySection
    from signage.content import load_content
    from signage.model import Kind
    from signage.paths import LOGO
    from signage.render.composer import compose
    from signage.render.fonts import FontBook
    from signage.render.frame import Frame
    from signage.render.header import load_logo
    from signage.render.layout import Layout
    from signage.render.output import DisplayOutput, HeadlessOutput, Output
    from signage.render.ticker import ticker_items

    config = BoardConfig.demo()
    output: Output = HeadlessOutput(DisplaySection(size=size)) if driver == "dummy" else DisplayOutput(DisplaySection())
    width, height = output.frame.get_size()
    layout = Layout.for_size(width, height, ticker=True)
    fonts = FontBook()
    frame = Frame(
        layout,
        fonts,
        config.board.name,
        load_logo(config.display.logo or LOGO),
        ticker_speed=config.ticker.pixels_per_second,
        transition_seconds=config.display.transition_seconds,
        surface=output.frame,
    )
    content = load_content(config)
    text = next(p for p in content if p.bulletin.id == TEXT_BULLETIN)
    other = next(p for p in content if p.bulletin.id != TEXT_BULLETIN and p.bulletin.kind is Kind.TEXT)
    frame.show(compose(text, layout, fonts).pages[0].convert(), fade=False)
    frame.set_ticker(ticker_items(config, content))
    minute = datetime(2026, 11, 27, 7, 5, tzinfo=config.board.timezone)
    expose = {pygame.WINDOWEXPOSED, pygame.VIDEOEXPOSE, pygame.WINDOWRESTORED}

    def run(count: int, start: datetime, present: Callable[[list[pygame.Rect] | None], None]) -> dict[str, Any]:
        totals: list[float] = []
        presents: list[float] = []
        clock_frames: list[float] = []
        full = 0
        now = start
        for _ in range(count):
            for event in pygame.event.get():  # as Player._handle_events, outside the timing
                if event.type in expose:
                    frame.invalidate()
            t0 = time.perf_counter()
            dirty = frame.update(now, 1 / FPS)
            t1 = time.perf_counter()
            present(dirty)
            t2 = time.perf_counter()
            totals.append((t2 - t0) * 1000)
            presents.append((t2 - t1) * 1000)
            if dirty is None:
                full += 1
            elif frame.header.clock_rect in dirty:
                clock_frames.append(totals[-1])
            now += timedelta(seconds=1 / FPS)
        return {
            "median": statistics.median(totals),
            "p99": _percentile(totals, 99),
            "max": max(totals),
            "present": statistics.median(presents),
            "clock": clock_frames,
            "full": full,
        }

    run(WARMUP_FRAMES, minute - timedelta(seconds=30), output.present)
    # Starting 5 s before a minute: the clock text changes at frame 300 of 600.
    result: dict[str, Any] = {"driver": pygame.display.get_driver(), "frame": [width, height]}
    result["dirty"] = run(FRAMES, minute - timedelta(seconds=5), output.present)
    if driver == "x11":
        result["flip"] = run(FRAMES, minute + timedelta(seconds=10), lambda _dirty: pygame.display.flip())
    frame.show(compose(other, layout, fonts).pages[0].convert(), fade=True)
    result["fade"] = run(math.ceil(config.display.transition_seconds * FPS), minute + timedelta(seconds=25), output.present)
    output.close()
    return result


# -- inputs: the photo and the board configs -----------------------------------------------


def make_photo(path: Path) -> None:
    """A 4000x3000 JPEG, quality 90, that compresses like a photo: smooth gradients, blotches and grain."""
    from PIL import Image

    channels = []
    gradients = (Image.linear_gradient("L").rotate(90), Image.linear_gradient("L"), Image.radial_gradient("L"))
    for base in gradients:
        smooth = base.resize(PHOTO_SIZE, Image.Resampling.BICUBIC)
        blotches = Image.effect_noise((PHOTO_SIZE[0] // 8, PHOTO_SIZE[1] // 8), 60).resize(PHOTO_SIZE, Image.Resampling.BICUBIC)
        grain = Image.effect_noise(PHOTO_SIZE, 40)
        channels.append(Image.blend(Image.blend(smooth, blotches, 0.35), grain, 0.2))
    Image.merge("RGB", channels).save(path, "JPEG", quality=90)


def toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def write_board(directory: Path, playlist: Path, *, size: tuple[int, int] | None, ticker: bool, text: str = STANDING_TEXT) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        "[board]",
        'id = "bench"',
        f"name = {toml_string('UBND xã Tân Quan')}",
        f"data_dir = {toml_string(str(directory / 'state'))}",
        "",
        "[playlists]",
        f"paths = [{toml_string(str(playlist))}]",
        "",
        "[display]",
    ]
    if size is not None:
        lines.append(f'size = "{size[0]}x{size[1]}"')
    lines += ["", "[ticker]", f"enabled = {'true' if ticker else 'false'}", f"text = {toml_string(text)}", ""]
    path = directory / "board.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_inputs(tmp: Path) -> dict[str, Path]:
    photo = tmp / "photo.jpg"
    run_worker("photo", PHOTO_SIZE, dict(os.environ), tmp, "--out", str(photo))  # a lean parent: its RSS would show in children
    photo_playlist = tmp / "photo.toml"
    photo_playlist.write_text(
        "[[bulletins]]\n"
        'id = "bench-photo"\n'
        'kind = "image"\n'
        f"title = {toml_string('Ảnh chụp 12 megapixel')}\n"
        'media = "photo.jpg"\n'
        f"body = {toml_string('Ngày hội Đại đoàn kết toàn dân tộc tại Nhà văn hóa ấp Sóc Ruộng')}\n",
        encoding="utf-8",
    )
    static = tmp / "static.toml"
    static.write_text(
        "[[bulletins]]\n"
        'id = "bench-static"\n'
        'kind = "text"\n'
        "duration_s = 3600\n"
        f"title = {toml_string(STATIC_TITLE)}\n"
        "body = "
        + toml_string(
            "Ban Nhân dân ấp 2 kính mời đại diện các hộ gia đình dự cuộc họp dân lúc 19 giờ 00, thứ Sáu ngày 27/11/2026, "
            "tại Nhà văn hóa ấp 2. Rất mong bà con đến dự đông đủ, đúng giờ."
        )
        + "\n",
        encoding="utf-8",
    )
    return {"photo": photo, "photo_playlist": photo_playlist, "static": static}


# -- the measurements -------------------------------------------------------------------------


Cells = dict[str, dict[str, str]]  # row key -> driver -> text


def ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def ratio_text(value: float, goal: float) -> str:
    return f"{value:.2f}x" + (" [met]" if value <= goal else " [MISSED]")


def spread(values: Sequence[float]) -> str:
    """How far the rounds went apart: nothing for one round."""
    return f"; {len(values)} rounds {min(values):.2f}–{max(values):.2f}x" if len(values) > 1 else ""


def measure_compose(size: tuple[int, int], inputs: dict[str, Path], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    return run_worker("compose", size, env, cwd, "--photo-playlist", str(inputs["photo_playlist"]))


def compose_cells(cells: Cells, rounds: list[dict[str, Any]]) -> None:
    """The medians over rounds; the ratio is each round's own (compose and floor measured in turn), then their median."""

    def median(kind: str, key: str) -> float:
        return statistics.median(r[kind][key] for r in rounds)

    text, floor = rounds[0]["text"], rounds[0]["floor"]
    cells["compose_text"]["dummy"] = f"{ms(median('text', 'median'))} (1st {ms(median('text', 'first'))}, {text['pages']} page)"
    cells["compose_image"]["dummy"] = f"{ms(median('image', 'median'))} (1st {ms(median('image', 'first'))})"
    cells["convert"]["dummy"] = f"{ms(median('text', 'convert'))} / {ms(median('image', 'convert'))}"
    ratios = [r["image"]["median"] / r["floor"]["median"] for r in rounds]
    cells["compose_floor"]["dummy"] = (
        f"{ms(median('floor', 'median'))} to {floor['size'][0]}x{floor['size'][1]}; "
        f"compose / floor {ratio_text(statistics.median(ratios), COMPOSE_FLOOR_GOAL)}{spread(ratios)}"
    )


def measure_frames(cells: Cells, size: tuple[int, int], driver: str, env: dict[str, str], cwd: Path) -> None:
    result = run_worker("frames", size, env, cwd, "--driver", driver)
    dirty = result["dirty"]
    full = f", {dirty['full']} full" if dirty["full"] else ""
    cells["frame"][driver] = f"{ms(dirty['median'])} / {ms(dirty['p99'])} (present {ms(dirty['present'])}{full})"
    clock = dirty["clock"]
    cells["clock_frame"][driver] = (
        f"{ms(max(clock))} (max of all {ms(dirty['max'])})" if clock else f"no clock change (max {ms(dirty['max'])})"
    )
    if "flip" in result:
        flip = result["flip"]
        cells["flip"][driver] = f"{ms(flip['median'])} / {ms(flip['p99'])} (present {ms(flip['present'])})"
    fade = result["fade"]
    cells["fade"][driver] = f"{ms(fade['median'])} / max {ms(fade['max'])}"
    if result["frame"] != list(size) or (driver == "x11" and result["driver"] != "x11"):
        cells["frame"][driver] += f" [{result['driver']} {result['frame'][0]}x{result['frame'][1]}!]"


def measure_starts(cells: Cells, arguments: list[str], driver: str, env: dict[str, str], cwd: Path, starts: int) -> None:
    times = []
    for _ in range(starts):
        run = start_player([*arguments, "--for", "30"], env, cwd)
        try:
            if not run.ready.wait(30) or run.first_frame is None:
                raise BenchError(f"no first frame ({run.last_words()})")
            times.append(run.first_frame)
        finally:
            stop(run.proc)
    cells["start"][driver] = f"{statistics.median(times):.2f} s ({min(times):.2f}–{max(times):.2f})"


@dataclass(frozen=True)
class CpuCase:
    name: str  # "ticker", "clock" or "floor"
    config: Path | None  # None: the floor, a bare pygame loop (worker_ticker_floor)


def process_cpu_seconds(pid: int) -> float:
    """CPU time of a process from the scheduler's nanosecond account of each of its threads.

    psutil's cpu_times count 10 ms ticks: over a 5 s window that is 0.2 % of a core, a fifth of the
    floor's whole figure. /proc/PID/task/*/schedstat is exact (threads that end meanwhile are lost: the
    player's are long-lived). Without schedstat, psutil's ticks.
    """
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        raise psutil.NoSuchProcess(pid) from None
    total, found = 0, False
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat", encoding="ascii") as stat:
                total += int(stat.read().split()[0])
                found = True
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended between the listing and the read
    return total / 1e9 if found else cpu_seconds(pid)


def start_floor(driver: str, size: tuple[int, int], env: dict[str, str], cwd: Path, seconds: float) -> subprocess.Popen[str]:
    items = json.dumps([STANDING_TEXT, STATIC_TITLE])
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", "ticker-floor", "--size", f"{size[0]}x{size[1]}"]
    command += ["--driver", driver, "--seconds", f"{seconds:g}", "--items", items]
    return spawn(command, env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def measure_cpu(
    cases: list[CpuCase],
    driver: str,
    size: tuple[int, int],
    base_env: Callable[[str | None], dict[str, str]],
    cwd: Path,
    window: float,
) -> dict[str, dict[str, Any]]:
    """Each case in its own process (and Xvfb), side by side; CPU between t=5 s and t=5 s + window.

    The floor runs beside the players, so whatever else the machine does falls on it and them alike;
    the window is also cut in quarters, each with its own ticker / floor ratio.
    """
    quarters = 4
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(xvfb(size)) if driver == "x11" else None for _ in cases]
        procs: list[subprocess.Popen[Any]] = []
        runs: dict[str, PlayerRun] = {}
        for case, server in zip(cases, servers, strict=True):
            env = base_env(server.display if server else None)
            if case.config is None:
                procs.append(start_floor(driver, size, env, cwd, CPU_SKIP + window + 1))
                continue
            arguments = ["--config", str(case.config), "--for", f"{CPU_SKIP + window + 1:g}"]
            if driver == "dummy":
                arguments[:0] = ["--headless", "--no-screenshots"]
            runs[case.name] = start_player(arguments, env, cwd)
            procs.append(runs[case.name].proc)
        start = time.perf_counter()
        sleep_until(start + CPU_SKIP)

        def sample() -> list[tuple[float, float, float]]:
            return [
                (process_cpu_seconds(proc.pid), cpu_seconds(server.proc.pid) if server else 0.0, time.perf_counter())
                for proc, server in zip(procs, servers, strict=True)
            ]

        try:
            samples = [sample()]
            for quarter in range(1, quarters + 1):
                sleep_until(start + CPU_SKIP + window * quarter / quarters)
                samples.append(sample())
        except psutil.NoSuchProcess:
            raise BenchError(f"a player or the floor exited early ({'; '.join(run.last_words() for run in runs.values())})") from None
        floor_out = ""
        for case, proc in zip(cases, procs, strict=True):
            if case.config is None:
                try:
                    floor_out, floor_err = proc.communicate(timeout=30)
                except subprocess.TimeoutExpired:
                    stop(proc)
                    raise BenchError("the floor did not stop") from None
                if proc.returncode != 0 or not floor_out.strip():
                    raise BenchError(f"the floor failed: {(floor_err.strip().splitlines() or ['exit ' + str(proc.returncode)])[-1][:120]}")
            else:
                finish(runs[case.name], 30)
    result: dict[str, dict[str, Any]] = {}
    for index, case in enumerate(cases):
        first, last = samples[0][index], samples[-1][index]
        wall = last[2] - first[2]
        figures: dict[str, Any] = {
            "cpu": (last[0] - first[0]) / wall * 100,
            "server": (last[1] - first[1]) / wall * 100,
            "quarters": [(b[index][0] - a[index][0]) / (b[index][2] - a[index][2]) * 100 for a, b in itertools.pairwise(samples)],
        }
        if case.config is None:
            figures["fps"] = json.loads(floor_out.strip().splitlines()[-1])["fps"]
        else:
            try:
                figures["fps"] = runs[case.name].played()[2]
            except BenchError as exc:
                figures["error"] = str(exc)
        result[case.name] = figures
    return result


def cpu_cells(cells: Cells, driver: str, rounds: list[dict[str, dict[str, Any]]]) -> None:
    """Medians over rounds; the ticker / floor ratio is the median of every quarter of every round.

    A round where a player failed (its CPU is then that of a process that stopped) counts for nothing.
    """
    good = [r for r in rounds if not any("error" in figures for figures in r.values())]
    for name in ("ticker", "clock", "floor"):
        errors = [r[name]["error"] for r in rounds if "error" in r.get(name, {})]
        figures = [r[name] for r in good if name in r]
        if not figures:
            cells[f"cpu_{name}"][driver] = f"error: {errors[0]}" if errors else "error: every round had a player fail"
            continue
        player = statistics.median(f["cpu"] for f in figures)
        fps = statistics.median(f["fps"] for f in figures)
        server = statistics.median(f["server"] for f in figures)
        text = f"{player:.2f} %" + (f" + Xvfb {server:.2f} %" if driver == "x11" else "") + f" ({fps:.1f} fps"
        if name == "ticker":
            text += ", none dropped)" if fps >= DROP_TOLERANCE else f", {(1 - fps / FPS) * 100:.1f} % of frames dropped)"
        else:
            text += ")"
        if name == "floor" and all("ticker" in r for r in good):
            quarters = [t / f for r in good for t, f in zip(r["ticker"]["quarters"], r["floor"]["quarters"], strict=True) if f > 0]
            overall = [r["ticker"]["cpu"] / r["floor"]["cpu"] for r in good]
            text += f"; ticker / floor {ratio_text(statistics.median(quarters), TICKER_FLOOR_GOAL)}"
            text += f" (whole windows {'/'.join(f'{x:.2f}' for x in overall)}; quarters {min(quarters):.2f}–{max(quarters):.2f}x)"
        if errors:
            text += f"; {len(errors)} of {len(rounds)} rounds left out: {errors[0]}"
        cells[f"cpu_{name}"][driver] = text


def high_water_rss(pid: int) -> int | None:
    """VmHWM: the peak RSS of the process's own address space, in bytes (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def measure_rss(cells: Cells, jobs: list[tuple[str, list[str], dict[str, str]]], cwd: Path, seconds: float) -> None:
    """The players side by side, their peak RSS polled every 50 ms until they stop by themselves.

    Not os.wait4's ru_maxrss: Linux records the pre-exec address space's high-water mark into it, and
    subprocess forks with vfork, so a child's ru_maxrss is at least the parent's RSS (the bench's).
    """
    runs = [(driver, start_player([*arguments, "--for", f"{seconds:g}"], env, cwd)) for driver, arguments, env in jobs]
    peaks = dict.fromkeys((driver for driver, _ in runs), 0)
    deadline = time.perf_counter() + seconds + 40
    while any(run.proc.poll() is None for _, run in runs) and time.perf_counter() < deadline:
        for driver, run in runs:
            peaks[driver] = max(peaks[driver], high_water_rss(run.proc.pid) or 0)
        time.sleep(0.05)
    for driver, run in runs:
        try:
            finish(run, 1)
        except BenchError as exc:
            cells["rss"][driver] = f"error: {exc}"
            continue
        if run.proc.returncode != 0 or not peaks[driver]:
            cells["rss"][driver] = f"error: {run.last_words()}"
            continue
        rss = peaks[driver]
        cells["rss"][driver] = f"{rss / 1e6:.0f} MB ({rss / 2**20:.0f} MiB)"


# -- the report ---------------------------------------------------------------------------------

ROWS: list[tuple[str, str, str, str]] = [
    # key, label, goal at 1080p, goal at 4K
    ("compose_text", f"compose text slide {TEXT_BULLETIN}, median of {COMPOSE_RUNS}", "–", "–"),
    ("compose_image", f"compose image slide, 12 MP JPEG, median of {COMPOSE_RUNS}", "< 100 ms (off the main loop)", "–"),
    ("compose_floor", "  its floor: Pillow's draft decode + resize of the photo, in turn with it", "≤ 1.15x floor", "≤ 1.15x floor"),
    ("convert", "  then convert() on the main loop, text / image", "–", "–"),
    ("frame", f"frame, ticker + clock, dirty rects: median / p99 of {FRAMES}", "–", "–"),
    ("clock_frame", "  the frame where the clock text changed", "–", "–"),
    ("flip", f"frame, full present (display.flip): median / p99 of {FRAMES}", "–", "–"),
    ("fade", "crossfade frame (dirty rects): median / max", "–", "–"),
    ("cpu_ticker", "CPU, static slide + 60 fps ticker, % of one core", "< 5 %, no dropped ticker frames", "–"),
    ("cpu_floor", "  its floor: a bare pygame loop presenting the same strip", "ticker ≤ 1.5x floor", "ticker ≤ 1.5x floor"),
    ("cpu_clock", "CPU, static slide, clock only, % of one core", "< 1 %", "–"),
    ("start", "first frame after start, median of {starts} (min–max)", "< 1.5 s", "–"),
    ("rss", "peak RSS, bundled demo", "< 150 MB", "< 450 MB"),
]


def print_table(size: tuple[int, int], cells: Cells, drivers: Sequence[str], notes: Sequence[str], starts: int) -> None:
    headers = ["measure", *(("dummy driver" if d == "dummy" else "X11 (Xvfb)") for d in drivers), "goal"]
    goal_column = 2 if size == RESOLUTIONS[0] else 3
    rows = [[row[1].format(starts=starts), *(cells[row[0]].get(d, "–") for d in drivers), row[goal_column]] for row in ROWS]
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    print(f"\n== {size[0]}x{size[1]} ==")
    for row in [headers, ["-" * w for w in widths], *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    for note in notes:
        print(f"  {note}")


def attempt(cells: Cells, keys: Sequence[str], drivers: Sequence[str], action: Callable[[], None]) -> None:
    """Run one measurement; a failure fills its empty cells with the reason and the bench goes on."""
    try:
        action()
    except (BenchError, OSError, subprocess.SubprocessError, psutil.Error, ValueError, KeyError, StopIteration) as exc:
        for key in keys:
            for driver in drivers:
                cells[key].setdefault(driver, f"error: {exc}"[:120])


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    """Tell stderr how long each phase took (the tables come at the end)."""
    t0 = time.perf_counter()
    print(f"  {name} ...", end="", file=sys.stderr, flush=True)
    try:
        yield
    finally:
        print(f" {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Context:
    tmp: Path
    cwd: Path
    inputs: dict[str, Path]
    drivers: list[str]
    window: float
    rss_seconds: float
    starts: int
    rounds: int
    phases: frozenset[str]

    def env(self, display: str | None = None) -> dict[str, str]:
        return child_env(self.tmp / "state", display)


def x11_frames_and_starts(cells: Cells, size: tuple[int, int], ctx: Context) -> None:
    """One Xvfb for the frame worker and the start-ups (they run one after the other)."""
    with xvfb(size) as server:
        env = ctx.env(server.display)
        attempt(cells, ["frame", "clock_frame", "flip", "fade"], ["x11"], partial(measure_frames, cells, size, "x11", env, ctx.cwd))
        attempt(cells, ["start"], ["x11"], partial(measure_starts, cells, [], "x11", env, ctx.cwd, ctx.starts))


def rss_side_by_side(cells: Cells, size: tuple[int, int], demo_args: list[str], ctx: Context) -> None:
    with contextlib.ExitStack() as stack:
        jobs: list[tuple[str, list[str], dict[str, str]]] = []
        if "dummy" in ctx.drivers:
            jobs.append(("dummy", ["--headless", "--no-screenshots", *demo_args], ctx.env()))
        if "x11" in ctx.drivers:
            server = stack.enter_context(xvfb(size))
            jobs.append(("x11", [], ctx.env(server.display)))
        measure_rss(cells, jobs, ctx.cwd, ctx.rss_seconds)


def bench_size(size: tuple[int, int], ctx: Context) -> Cells:
    """Every measurement at one resolution, in an order that keeps the CPU windows undisturbed."""
    cells: Cells = {key: {} for key, *_ in ROWS}
    label = f"{size[0]}x{size[1]}"
    static = ctx.inputs["static"]
    # Without --config the headless player draws 1920x1080: at 4K the demo board gets a [display] size.
    demo_args = (
        [] if size == DEFAULT_HEADLESS else ["--config", str(write_board(ctx.tmp / f"demo-{label}", DEMO_PLAYLIST, size=size, ticker=True))]
    )
    headless = ["--headless", "--no-screenshots"]  # --headless alone saves a PNG every 5 s: not the player's own cost
    if "dummy" in ctx.drivers:
        env = ctx.env()
        if "compose" in ctx.phases:
            with phase(f"{label} compose and its floor, {ctx.rounds} round(s)"):

                def compose_rounds() -> None:
                    compose_cells(cells, [measure_compose(size, ctx.inputs, env, ctx.cwd) for _ in range(ctx.rounds)])

                attempt(cells, ["compose_text", "compose_image", "compose_floor", "convert"], ["dummy"], compose_rounds)
        if "frames" in ctx.phases:
            with phase(f"{label} frames, dummy"):
                attempt(cells, ["frame", "clock_frame", "fade"], ["dummy"], partial(measure_frames, cells, size, "dummy", env, ctx.cwd))
        if "start" in ctx.phases:
            with phase(f"{label} start-up, dummy"):
                attempt(
                    cells, ["start"], ["dummy"], partial(measure_starts, cells, [*headless, *demo_args], "dummy", env, ctx.cwd, ctx.starts)
                )
    if "x11" in ctx.drivers and {"frames", "start"} & ctx.phases:
        with phase(f"{label} frames and start-up, X11"):
            attempt(cells, ["frame", "clock_frame", "flip", "fade", "start"], ["x11"], partial(x11_frames_and_starts, cells, size, ctx))
    for driver in ctx.drivers if "cpu" in ctx.phases else ():
        board_size = size if driver == "dummy" else None  # X11: fullscreen on the Xvfb of this size
        cases = [
            CpuCase("ticker", write_board(ctx.tmp / f"ticker-{driver}-{label}", static, size=board_size, ticker=True)),
            CpuCase("clock", write_board(ctx.tmp / f"clock-{driver}-{label}", static, size=board_size, ticker=False)),
            CpuCase("floor", None),
        ]
        with phase(f"{label} CPU and the ticker's floor, {driver}, {ctx.rounds} round(s)"):

            def cpu_rounds(driver: str = driver, cases: list[CpuCase] = cases) -> None:
                rounds = [measure_cpu(cases, driver, size, ctx.env, ctx.cwd, ctx.window) for _ in range(ctx.rounds)]
                cpu_cells(cells, driver, rounds)

            attempt(cells, ["cpu_ticker", "cpu_floor", "cpu_clock"], [driver], cpu_rounds)
    if "rss" in ctx.phases:
        with phase(f"{label} RSS"):
            attempt(cells, ["rss"], ctx.drivers, partial(rss_side_by_side, cells, size, demo_args, ctx))
    return cells


def tree_version() -> str:
    """The commit measured, and whether signage/ had uncommitted changes (others edit the tree meanwhile)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "signage"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "not a git tree"
    return f"commit {commit or '?'}" + (" + uncommitted changes in signage/" if dirty else "")


def bench(args: argparse.Namespace) -> None:
    began = time.perf_counter()
    drivers = [args.only] if args.only else list(DRIVERS)
    if "x11" in drivers and shutil.which("Xvfb") is None:
        print("Xvfb not found: the X11 measurements are skipped (Debian package xvfb)")
        drivers.remove("x11")
    window = 5.0 if args.quick else 20.0
    rss_seconds = 8.0 if args.quick else 15.0
    print(
        f"signage render bench ({tree_version()}): {psutil.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"CPU window t={CPU_SKIP:g}–{CPU_SKIP + window:g} s{' (--quick)' if args.quick else ''}",
        flush=True,
    )
    results: dict[tuple[int, int], Cells] = {}
    with tempfile.TemporaryDirectory(prefix="signage-bench-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "cwd").mkdir()
        t0 = time.perf_counter()
        inputs = write_inputs(tmp)
        made = time.perf_counter() - t0
        megabytes = inputs["photo"].stat().st_size / 1e6
        photo_note = (
            f"photo: {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEG q90, {megabytes:.1f} MB (made in {made:.1f} s); "
            "compose runs in a process with a dummy 1x1 display; the player does the convert() on its main loop"
        )
        phases = frozenset(args.phases)
        ctx = Context(tmp, tmp / "cwd", inputs, drivers, window, rss_seconds, 3 if args.quick else STARTS, args.rounds, phases)
        for size in args.sizes or RESOLUTIONS:
            results[size] = bench_size(size, ctx)
    for index, (size, cells) in enumerate(results.items()):
        if index == 0:
            notes = [
                photo_note,
                "frames: 600 back to back, now += 1/60 s a frame; crossfade: the demo's 0.6 s fade to another text slide; "
                "X11: DisplayOutput's XShm path (SDL_FRAMEBUFFER_ACCELERATION=0)",
                "CPU: `signage play` on one text bulletin (duration_s = 3600); the ticker and the clock-only player and the floor run "
                f"side by side; dropped = fps reached < {DROP_TOLERANCE:g} (the player's own average, its start included); "
                "CPU from each thread's schedstat (ns), Xvfb's from psutil (10 ms ticks)",
                "floors, measured in the same run: compose's is Pillow alone, `draft('RGB', fit)` + `resize(fit, BILINEAR, "
                "reducing_gap=3.0)` (decode_image's calls, same photo and size), 7 runs taken in turn with compose; the ticker's "
                "is a bare pygame process pumping events and copying the same strip (face, size, titles, dots, height, speed) "
                "from a prerendered cycle into the frame at 60 fps, presented like the player's output; ratio: the median of "
                "the window's quarters" + (f" over {args.rounds} rounds" if args.rounds > 1 else ""),
                f"RSS: the bundled demo for {rss_seconds:g} s (headless: no --config), dummy and X11 side by side; "
                "X11 players run fullscreen",
            ]
        else:
            notes = []
        if size != DEFAULT_HEADLESS:
            notes.append(
                f'dummy start-up and RSS at {size[0]}x{size[1]}: a copy of the demo board with [display] size = "{size[0]}x{size[1]}"'
            )
        print_table(size, cells, drivers, notes, 3 if args.quick else STARTS)
    print(f"\ntotal run time {time.perf_counter() - began:.0f} s ({tree_version()} at the end)")


def parse_size(text: str) -> tuple[int, int]:
    width, height = text.lower().split("x")
    return int(width), int(height)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="5 s CPU windows instead of 20 (also 8 s RSS runs, 3 starts): a smoke run")
    parser.add_argument("--only", choices=DRIVERS, help="measure one driver only")
    parser.add_argument(
        "--phases",
        type=lambda text: [p.strip() for p in text.split(",") if p.strip()],
        default=list(PHASES),
        help=f"the measurements to take, a comma list of {', '.join(PHASES)} (default all)",
    )
    parser.add_argument(
        "--sizes",
        type=lambda text: [parse_size(t) for t in text.split(",")],
        help="frame sizes, e.g. 1920x1080 (default 1920x1080,3840x2160)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="repeat the compose and CPU phases, medians reported (default 1)")
    parser.add_argument("--worker", choices=("compose", "frames", "photo", "ticker-floor"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=parse_size, help=argparse.SUPPRESS)
    parser.add_argument("--driver", choices=DRIVERS, help=argparse.SUPPRESS)
    parser.add_argument("--photo-playlist", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--items", type=json.loads, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if unknown := set(args.phases) - set(PHASES):
        parser.error(f"unknown phase(s) {', '.join(sorted(unknown))}: choose from {', '.join(PHASES)}")
    if args.rounds < 1:
        parser.error("--rounds must be 1 or more")
    if args.worker == "ticker-floor":
        print(json.dumps(worker_ticker_floor(args.size, args.driver, args.seconds, args.items)))
        return 0
    if args.worker == "compose":
        print(json.dumps(worker_compose(args.size, args.photo_playlist)))
        return 0
    if args.worker == "photo":
        make_photo(args.out)
        print(json.dumps({"bytes": args.out.stat().st_size}))
        return 0
    if args.worker == "frames":
        print(json.dumps(worker_frames(args.size, args.driver)))
        return 0

    def terminated(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)
    try:
        bench(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
