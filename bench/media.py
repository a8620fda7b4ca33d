"""Media benchmark: what video slides and PDF pages cost the player on this machine, at a 1920x1080 frame.

What it measures:

1. real-time playback: a 60 s 1080p30 H.264 clip (~5 Mb/s) and a 60 s 2160p30 H.264 clip (~12 Mb/s) played the way
   the player plays a video slide: a headless `Frame` at 1920x1080 (`HeadlessOutput`, dummy SDL driver, a moving ticker
   and the clock), the slide still from `video_page`, then `frame.play(VideoPlayback(...), clock)` and
   `frame.update(now, dt, clock)` + `output.present(dirty)` paced at 60 fps by a monotonic deadline loop, for the
   clip's length (10 s with --quick). Reported: frames shown per second, frames dropped as late
   (`VideoPlayback.stats.dropped`) and their share, the CPU of the whole process (decode threads included, psutil,
   % of one core), how far the picture on screen lagged behind the clock (p99 / max), the main loop's own work per
   frame, and the CPU other processes used meanwhile (a busy machine explains missed goals).
2. the native peer: `ffmpeg -benchmark -threads 0 -i CLIP -f null -` (Debian's ffmpeg) decoding the same clip, fps from
   its frame count and `rtime`, CPU per frame from `utime` + `stime`; and PyAV decode alone (demux + decode as fast
   as it goes, thread_type AUTO, nothing converted or shown), fps and CPU per frame; CPU per frame is the steadier
   figure when other processes share the 2 cores (their CPU is shown too). Then the player's own decode path beside its
   floor, in turn, 3 rounds (--rounds): `VideoClip` + `next_frame` into a lent ring until the clip ends (decode, scale
   into the slide area, BGRA, copy: what the decoder thread does), and ffmpeg making the same frames (`-vf scale=W:H:
   flags=bilinear,format=yuv420p,scale,format=bgra -f null`: the same two passes, size and filter); the ratio of CPU a
   frame, each round's own, then the median (time a frame beside it).
3. time to the first frame of a video slide (1080p clip): `VideoClip(path, slide size)` (open + first frame decoded and
   scaled) + `video_page` + `convert()`, then `frame.play` and `frame.update` until the playback's first draw returned
   its rectangle; median of 10 in one process (the first, cold, shown apart). Each run then plays on for 0.5 s in real
   time and is cut (`frame.play(None)`, what the player does on its main loop when a turn ends before the clip): how
   long that stop held the loop.
4. PDF page render at 1080p: a 10-page A4 PDF written by the bench (text in Helvetica, a filled header band, a grid,
   a 400-point line chart and filled Bézier circles on every page), `render_pages(path, (1880, 896))` of the whole
   document, time per page (median of 5 runs); and one page including opening the document.
5. RSS after 200 consecutive video slides, in a fresh process: `VideoClip` of a 2 s 1080p clip, `video_page`,
   `VideoPlayback`, `begin`, draw for 0.3 s of clock time (the clock steps 1/30 s per frame shown, real time
   sped up: it waits for the decoder, not for the wall clock), `stop`; RSS after slide 10 and after slide 200
   (and between), threads and open files.

Goals: 1080p30 plays in real time with no late frame using at most 60 % of one core; 2160p30 H.264 shown at 1080p
drops under 1 % of its frames as late; PyAV decodes within 10 % of ffmpeg's throughput; the player's decode path
within 1.10x the CPU a frame of ffmpeg making the same frames; a video slide's first frame
is on screen < 300 ms after the clip is opened; a PDF page renders in < 100 ms; 200 video slides grow RSS by no more
than 10 % over what it was after 10.

The clips are made by the bench with PyAV (libx264, preset ultrafast for encoding speed, with CABAC, deblocking and
2 B-frames switched back on so that decoding costs about what a veryfast encode does; a scrolling gradient with
blotches, cycling grain and a moving disc, so the encoder has real motion to code) and cached in the temp dir
(signage-bench-media/): the first run spends about 2 extra minutes making them. Each measurement runs in its own
worker process. It prints figures next to the goals; it asserts nothing and passes or fails nothing. A run with the
clips cached takes about 4 minutes on 2 cores.

    .venv/bin/python bench/media.py [--quick] [--phases play,decode,first,pdf,slides] [--rounds N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
FRAME_SIZE = (1920, 1080)
FPS = 60  # the player's frame loop
CLIP_FPS = 30
CLIP_SECONDS = 60.0
QUICK_SECONDS = 10.0
CACHE = Path(tempfile.gettempdir()) / "signage-bench-media"
CLIP_VERSION = 1  # bump when make_clip changes: the cache is keyed on it


@dataclass(frozen=True)
class ClipSpec:
    label: str
    size: tuple[int, int]
    bitrate: int  # bits per second, x264 average bitrate

    def path(self, seconds: float) -> Path:
        width, height = self.size
        return CACHE / f"h264-{width}x{height}-{CLIP_FPS}p-{seconds:g}s-{self.bitrate // 1000}k-v{CLIP_VERSION}.mp4"


CLIPS = (ClipSpec("1080p30 H.264", (1920, 1080), 5_000_000), ClipSpec("2160p30 H.264 → 1080p", (3840, 2160), 12_000_000))
SHORT_SECONDS = 2.0  # the clip of the 200-slide run
X264 = {"preset": "ultrafast", "x264-params": "cabac=1:deblock=1:bframes=2"}
FIRST_FRAME_RUNS = 10
MID_CLIP = 0.5  # seconds each first-frame run plays on before the slide is cut (stop() timed)
PDF_PAGES = 10
PDF_BOX = (1880, 896)  # the 1080p slide area less pdf_pages' margin
PDF_RUNS = 5
SLIDES = 200
QUICK_SLIDES = 50
SLIDE_CLOCK = 0.3  # seconds of clock time each slide plays
RSS_SAMPLES = (1, 10, 50, 100, 150, 200)
TICKER_TEXT = "Chào mừng quý bà con đến UBND xã Tân Quan · Giờ làm việc: sáng 7:00–11:30, chiều 13:30–17:00, thứ Hai đến thứ Sáu"
FFMPEG_BENCH = re.compile(r"bench: utime=([\d.]+)s(?: stime=([\d.]+)s)? rtime=([\d.]+)s")
FFMPEG_FRAMES = re.compile(r"frame=\s*(\d+)")

# Goals (printed, never asserted).
GOAL_CPU_1080 = 60.0  # % of one core
GOAL_LATE_2160 = 1.0  # % of frames
GOAL_DECODE_GAP = 10.0  # % below ffmpeg's fps
GOAL_PATH_RATIO = 1.10  # the player's decode path / ffmpeg making the same frames, CPU a frame
PATH_ROUNDS = 3  # the decode path and its ffmpeg floor, in turn
PHASES = ("play", "decode", "first", "pdf", "slides")
GOAL_FIRST_MS = 300.0
GOAL_PDF_MS = 100.0
GOAL_RSS_GROWTH = 10.0  # %


class BenchError(Exception):
    """A measurement that could not be taken; shown in its table cell."""


# -- child processes -------------------------------------------------------------

_children: list[subprocess.Popen[Any]] = []


def stop(proc: subprocess.Popen[Any], timeout: float = 5.0) -> None:
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
    for proc in reversed(_children):
        with contextlib.suppress(Exception):
            stop(proc)


def child_env() -> dict[str, str]:
    """A worker's environment: this tree's `signage`, the dummy SDL driver, nothing display-related inherited."""
    dropped = ("SDL_VIDEODRIVER", "WAYLAND_DISPLAY", "DISPLAY", "SDL_FRAMEBUFFER_ACCELERATION")
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env["PYGAME_HIDE_SUPPORT_PROMPT"] = "1"
    env["SDL_VIDEODRIVER"] = "dummy"
    env["SDL_AUDIODRIVER"] = "dummy"
    return env


def run_worker(kind: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run this script's `--worker KIND` in a fresh process; its last stdout line is JSON."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--params", json.dumps(params)]
    proc: subprocess.Popen[str] = subprocess.Popen(
        command,
        env=child_env(),
        cwd=tempfile.gettempdir(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _children.append(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        raise BenchError(f"worker {kind} timed out after {timeout:.0f} s") from None
    if proc.returncode != 0 or not out.strip():
        raise BenchError(f"worker {kind} failed: {(err.strip().splitlines() or ['exit ' + str(proc.returncode)])[-1][:160]}")
    return json.loads(out.strip().splitlines()[-1])


def own_cpu() -> float:
    times = psutil.Process().cpu_times()
    return times.user + times.system


def machine_busy() -> float:
    """CPU seconds used by everything on the machine so far (all cores)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _headless() -> tuple[Any, Any, Any]:
    """A headless 1920x1080 output, its layout and a frame with a moving ticker, as the player sets them up."""
    sys.path.insert(0, str(ROOT))
    from signage.config import DisplaySection
    from signage.render.fonts import FontBook
    from signage.render.frame import Frame
    from signage.render.layout import Layout
    from signage.render.output import HeadlessOutput

    output = HeadlessOutput(DisplaySection(size=FRAME_SIZE))
    layout = Layout.for_size(*FRAME_SIZE)
    frame = Frame(layout, FontBook(), "UBND xã Tân Quan", None, surface=output.frame)
    frame.set_ticker([TICKER_TEXT])
    return output, layout, frame


# -- inputs: clips and the PDF ------------------------------------------------------


def make_clip(path: Path, size: tuple[int, int], seconds: float, bitrate: int) -> dict[str, Any]:
    """An H.264 clip with real motion: a gradient with blotches scrolling sideways, cycling grain, a disc moving about."""
    import av
    from PIL import Image, ImageChops, ImageDraw

    width, height = size

    def layer(layer_size: tuple[int, int], angle: int) -> Image.Image:
        smooth = Image.linear_gradient("L").rotate(angle).resize(layer_size, Image.Resampling.BICUBIC)
        blotches = Image.effect_noise((layer_size[0] // 16, layer_size[1] // 16), 70).resize(layer_size, Image.Resampling.BICUBIC)
        return Image.blend(smooth, blotches, 0.45)

    luma = layer((2 * width, height), 90)  # twice as wide: a window scrolls across it
    chroma = (layer((width, height // 2), 0), layer((width, height // 2), 45))
    grains = [Image.effect_noise(size, 10) for _ in range(5)]
    step = max(1, width // 240)  # one screen width every 8 s
    radius = height // 10
    partial = path.with_suffix(".part")
    frames = round(seconds * CLIP_FPS)
    with av.open(str(partial), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=CLIP_FPS)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = bitrate
        stream.codec_context.gop_size = 2 * CLIP_FPS
        stream.options = dict(X264)
        for index in range(frames):
            x = index * step % width
            y_plane = ImageChops.add(luma.crop((x, 0, x + width, height)), grains[index % len(grains)], 1.0, -128)
            cx = width / 2 + width / 3 * math.sin(index / 23)
            cy = height / 2 + height / 3 * math.sin(index / 17)
            ImageDraw.Draw(y_plane).ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=235)
            planes = [y_plane, *(c.crop((x // 2, 0, x // 2 + width // 2, height // 2)) for c in chroma)]
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane, image in zip(frame.planes, planes, strict=True):
                data = image.tobytes()
                if plane.line_size != image.width:  # rows padded: copy row by row
                    pad = b"\0" * (plane.line_size - image.width)
                    data = b"".join(data[row * image.width : (row + 1) * image.width] + pad for row in range(image.height))
                plane.update(data)
            frame.pts = index
            frame.time_base = Fraction(1, CLIP_FPS)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    partial.replace(path)
    return {"frames": frames, "bytes": path.stat().st_size}


def ensure_clip(spec: ClipSpec, seconds: float) -> tuple[Path, bool]:
    """The cached clip, made first if missing; and whether it was made now."""
    path = spec.path(seconds)
    if path.exists() and path.stat().st_size > 0:
        return path, False
    CACHE.mkdir(parents=True, exist_ok=True)
    run_worker("clip", {"out": str(path), "size": list(spec.size), "seconds": seconds, "bitrate": spec.bitrate}, timeout=900)
    return path, True


def _pdf_content(number: int) -> bytes:
    """One page's drawing: a header band, a title, 30 lines of text, a grid, a 400-point chart, 12 filled circles."""
    ops = [
        "0.12 0.32 0.62 rg 36 770 523 48 re f",
        f"BT /F1 22 Tf 1 1 1 rg 50 786 Td (Bao cao so {number} - Trang {number}/{PDF_PAGES}) Tj ET",
    ]
    ops.append("BT /F1 10 Tf 0 0 0 rg 12 TL 50 748 Td")
    for line in range(30):
        words = " ".join(f"muc{(number * 37 + line * 11 + k) % 97}" for k in range(9))
        ops.append(f"({line + 1:02d}. Thong bao ve ke hoach {words}) Tj T*")
    ops.append("ET")
    ops.append("0.6 G 0.4 w")
    for k in range(11):
        ops.append(f"60 {60 + 26 * k} m 535 {60 + 26 * k} l S")
        ops.append(f"{60 + 47.5 * k:.1f} 60 m {60 + 47.5 * k:.1f} 320 l S")
    points = [(60 + 475 * i / 399, 190 + 110 * math.sin(i / (9 + number)) * math.cos(i / 53)) for i in range(400)]
    ops.append(
        "0.8 0.1 0.1 RG 1.2 w " + f"{points[0][0]:.2f} {points[0][1]:.2f} m " + " ".join(f"{x:.2f} {y:.2f} l" for x, y in points[1:]) + " S"
    )
    kappa = 0.5523
    for k in range(12):
        cx, cy, r = 90 + 40 * k, 360 + 20 * math.sin(k + number), 14 + k % 4 * 3
        c = r * kappa
        ops.append(
            f"{(k * 0.08) % 1:.2f} {0.4 + (k * 0.05) % 0.5:.2f} {0.8 - (k * 0.06) % 0.6:.2f} rg "
            f"{cx + r:.2f} {cy:.2f} m "
            f"{cx + r:.2f} {cy + c:.2f} {cx + c:.2f} {cy + r:.2f} {cx:.2f} {cy + r:.2f} c "
            f"{cx - c:.2f} {cy + r:.2f} {cx - r:.2f} {cy + c:.2f} {cx - r:.2f} {cy:.2f} c "
            f"{cx - r:.2f} {cy - c:.2f} {cx - c:.2f} {cy - r:.2f} {cx:.2f} {cy - r:.2f} c "
            f"{cx + c:.2f} {cy - r:.2f} {cx + r:.2f} {cy - c:.2f} {cx + r:.2f} {cy:.2f} c f"
        )
    return "\n".join(ops).encode("ascii")


def make_pdf(path: Path, pages: int = PDF_PAGES) -> None:
    """A hand-written PDF 1.4: A4 pages of vector content and text in the standard Helvetica (no font embedded)."""
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(f"{4 + 2 * i} 0 R".encode() for i in range(pages)) + f"] /Count {pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for index in range(pages):
        content = _pdf_content(index + 1)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
            + f"/Contents {5 + 2 * index} 0 R >>".encode()
        )
        objects.append(f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))


# -- workers (each in its own process) -----------------------------------------------------


def worker_play(clip_path: str, seconds: float) -> dict[str, Any]:
    """The clip played through Frame + HeadlessOutput at 60 fps in real time, as the player's main loop does."""
    output, layout, frame = _headless()
    from signage.media.video import VideoClip, VideoPlayback
    from signage.render.slides import video_page

    clip = VideoClip(Path(clip_path), layout.slide.size)
    page, rect = video_page(clip, layout)
    frame.show(page.convert(), fade=False)
    playback = VideoPlayback(clip, rect)
    period = 1 / FPS
    lags: list[float] = []
    work: list[float] = []
    missed = 0
    cpu0, busy0 = own_cpu(), machine_busy()
    start = last = time.monotonic()
    frame.play(playback, start)
    tick = 0
    clock = start
    while clock - start < seconds and not playback.finished and playback.failed is None:
        tick += 1
        deadline = start + tick * period
        now = time.monotonic()
        if now < deadline:
            time.sleep(deadline - now)
        elif now - deadline >= period:  # a whole tick lost: skip to the next one due, as a paced loop does
            skipped = int((now - deadline) / period)
            missed += skipped
            tick += skipped
        clock = time.monotonic()
        t0 = time.perf_counter()
        output.present(frame.update(datetime.now(), clock - last, clock))
        work.append(time.perf_counter() - t0)
        last = clock
        if playback.stats.shown:
            lags.append(clock - start - playback.stats.last_pts)
    elapsed = clock - start
    cpu, busy = own_cpu() - cpu0, machine_busy() - busy0
    stats, failed = playback.stats, playback.failed
    frame.play(None, clock)  # stops the playback
    output.close()
    return {
        "seconds": elapsed,
        "shown": stats.shown,
        "dropped": stats.dropped,
        "cpu": cpu / elapsed * 100,
        "others": max(0.0, busy - cpu) / elapsed * 100,
        "lag_p99": _percentile(lags, 99) if lags else None,
        "lag_max": max(lags) if lags else None,
        "work_median": statistics.median(work),
        "work_p99": _percentile(work, 99),
        "missed": missed,
        "ticks": len(work),
        "failed": failed,
        "video": list(clip.size),
    }


def worker_decode(clip_path: str) -> dict[str, Any]:
    """PyAV demux + decode alone, as fast as it goes, frame and slice threads (AUTO); no conversion, nothing shown."""
    import av

    with av.open(clip_path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        cpu0, busy0, t0 = own_cpu(), machine_busy(), time.perf_counter()
        frames = sum(1 for _ in container.decode(stream))
        elapsed, cpu, busy = time.perf_counter() - t0, own_cpu() - cpu0, machine_busy() - busy0
    return {
        "frames": frames,
        "seconds": elapsed,
        "cpu": cpu,
        "others": max(0.0, busy - cpu) / elapsed * 100,
        "libavcodec": ".".join(map(str, av.library_versions["libavcodec"])),
    }


def worker_decode_path(clip_path: str) -> dict[str, Any]:
    """The player's decode path alone, as fast as it goes: `VideoClip` (open + first frame) and then `next_frame`
    into a lent ring of buffers, as the decoder thread does (decode, scale into the slide area, BGRA, copy)."""
    sys.path.insert(0, str(ROOT))
    from signage.media.video import RINGS, VideoClip
    from signage.render.layout import Layout

    box = Layout.for_size(*FRAME_SIZE).slide.size
    cpu0, busy0, t0 = own_cpu(), machine_busy(), time.perf_counter()
    clip = VideoClip(Path(clip_path), box)
    ring = RINGS.lend(clip.size[0] * clip.size[1] * 4)
    frames = 1
    while clip.next_frame(ring[frames % len(ring)]) is not None:
        frames += 1
    elapsed, cpu, busy = time.perf_counter() - t0, own_cpu() - cpu0, machine_busy() - busy0
    clip.close()
    return {"frames": frames, "seconds": elapsed, "cpu": cpu, "others": max(0.0, busy - cpu) / elapsed * 100, "size": list(clip.size)}


def worker_first(clip_path: str, runs: int) -> dict[str, Any]:
    """From VideoClip(...) to the playback's first draw on the frame, `runs` times in one process."""
    output, layout, frame = _headless()
    from signage.media.video import VideoClip, VideoPlayback
    from signage.render.slides import video_page

    totals: list[float] = []
    parts: list[tuple[float, float, float]] = []
    stops: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        clip = VideoClip(Path(clip_path), layout.slide.size)
        t1 = time.perf_counter()
        page, rect = video_page(clip, layout)
        page = page.convert()
        t2 = time.perf_counter()
        frame.show(page, fade=False)
        playback = VideoPlayback(clip, rect)
        frame.play(playback, time.monotonic())
        give_up = time.monotonic() + 5
        while playback.stats.shown == 0 and time.monotonic() < give_up:
            output.present(frame.update(datetime.now(), 1 / FPS, time.monotonic()))
        t3 = time.perf_counter()
        if playback.stats.shown == 0:
            raise BenchError("no frame drawn within 5 s")
        started = time.monotonic()
        tick = 0
        while (now := time.monotonic()) - started < MID_CLIP:  # the slide plays on, paced at 60 fps, the decoder ahead
            tick += 1
            time.sleep(max(0.0, started + tick / FPS - now))
            output.present(frame.update(datetime.now(), 1 / FPS, time.monotonic()))
        time.sleep(max(0.0, started + (tick + 1) / FPS - time.monotonic()))  # the next tick: the player switches slides
        t4 = time.perf_counter()
        frame.play(None, time.monotonic())  # the turn ends before the clip does: the player's main loop waits for this
        stops.append((time.perf_counter() - t4) * 1000)
        totals.append((t3 - t0) * 1000)
        parts.append(((t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t2) * 1000))
    output.close()
    return {"totals": totals, "parts": parts, "stops": stops}


def worker_pdf(pdf_path: str, runs: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from signage.media.pdf import render_pages

    path = Path(pdf_path)
    t0 = time.perf_counter()
    pictures = render_pages(path, PDF_BOX)
    cold = (time.perf_counter() - t0) * 1000
    whole: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        render_pages(path, PDF_BOX)
        whole.append((time.perf_counter() - t0) * 1000)
    single: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        render_pages(path, PDF_BOX, max_pages=1)
        single.append((time.perf_counter() - t0) * 1000)
    return {"pages": len(pictures), "size": list(pictures[0].size), "cold": cold, "whole": whole, "single": single}


def worker_slides(clip_path: str, count: int) -> dict[str, Any]:
    """`count` video slides one after another; RSS, threads and open files sampled along the way."""
    os.environ["SDL_VIDEODRIVER"] = "dummy"
    sys.path.insert(0, str(ROOT))
    import threading

    import pygame

    from signage.media.video import VideoClip, VideoPlayback
    from signage.render.layout import Layout
    from signage.render.slides import video_page

    pygame.display.init()
    pygame.display.set_mode((1, 1))
    layout = Layout.for_size(*FRAME_SIZE)
    target = pygame.Surface(FRAME_SIZE).convert()
    process = psutil.Process()
    samples: dict[int, dict[str, float]] = {}
    shown = dropped = stalled = 0
    t0 = time.perf_counter()
    for number in range(1, count + 1):
        clip = VideoClip(Path(clip_path), layout.slide.size)
        page, rect = video_page(clip, layout)
        target.blit(page, layout.slide)
        playback = VideoPlayback(clip, rect)
        playback.begin(0.0)
        step = 0  # the clock stands mid-frame, (step + 0.5) / 30: frame `step` is due there, the next is not
        give_up = time.monotonic() + 5
        while step < SLIDE_CLOCK * CLIP_FPS:
            if playback.draw(target, layout.slide, (step + 0.5) / CLIP_FPS):
                step += 1
            elif playback.finished or playback.failed or time.monotonic() > give_up:
                stalled += 1
                break
            else:
                time.sleep(0.001)  # waiting for the decoder
        playback.stop()
        shown += playback.stats.shown
        dropped += playback.stats.dropped
        if number in RSS_SAMPLES or number == count:
            samples[number] = {"rss": process.memory_info().rss, "threads": threading.active_count(), "fds": process.num_fds()}
    return {"samples": samples, "seconds": time.perf_counter() - t0, "shown": shown, "dropped": dropped, "stalled": stalled}


# -- measurements (in the parent) ------------------------------------------------------


def ffmpeg_decode(ffmpeg: str, clip: Path, size: tuple[int, int] | None = None) -> dict[str, float]:
    """ffmpeg decoding `clip` to nothing; with `size`, into the frames the player shows: scaled to `size` in YUV
    (bilinear) and then turned into BGRA, the two passes of `signage.media.video.VideoClip.next_frame`."""
    scale = ["-vf", f"scale={size[0]}:{size[1]}:flags=bilinear,format=yuv420p,scale=flags=bilinear,format=bgra"] if size else []
    command = [ffmpeg, "-hide_banner", "-nostdin", "-benchmark", "-threads", "0", "-i", str(clip), *scale, "-f", "null", "-"]
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _children.append(proc)
    busy0 = machine_busy()
    try:
        _, err = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        stop(proc)
        raise BenchError("ffmpeg timed out") from None
    bench = FFMPEG_BENCH.search(err)
    frames = FFMPEG_FRAMES.findall(err)
    if proc.returncode != 0 or bench is None or not frames:
        raise BenchError(f"ffmpeg failed: {(err.strip().splitlines() or ['exit ' + str(proc.returncode)])[-1][:120]}")
    cpu, seconds = float(bench[1]) + float(bench[2] or 0.0), float(bench[3])
    return {"frames": int(frames[-1]), "cpu": cpu, "seconds": seconds, "others": max(0.0, machine_busy() - busy0 - cpu) / seconds * 100}


def tool_version(command: Sequence[str]) -> str:
    try:
        out = subprocess.run(list(command), capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    return (out.strip().splitlines() or ["?"])[0]


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


# -- the report ------------------------------------------------------------------------------

Row = list[str]  # measure, cells..., goal


def verdict(ok: bool) -> str:
    return " [met]" if ok else " [MISSED]"


def ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def print_table(title: str, headers: Sequence[str], rows: Sequence[Row], notes: Sequence[str] = ()) -> None:
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    print(f"\n== {title} ==")
    for row in [list(headers), ["-" * w for w in widths], *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    for note in notes:
        print(f"  {note}")


def attempt(cells: dict[str, str], keys: Sequence[str], action: Callable[[], None]) -> None:
    """Run one measurement; a failure fills its empty cells with the reason and the bench goes on."""
    try:
        action()
    except (BenchError, OSError, subprocess.SubprocessError, psutil.Error, ValueError, KeyError, json.JSONDecodeError) as exc:
        for key in keys:
            cells.setdefault(key, f"error: {exc}"[:120])


@contextlib.contextmanager
def phase(name: str, active: bool = True) -> Iterator[None]:
    """Tell stderr how long each phase took (the tables come at the end); an inactive one says nothing."""
    if not active:
        yield
        return
    t0 = time.perf_counter()
    print(f"  {name} ...", end="", file=sys.stderr, flush=True)
    try:
        yield
    finally:
        print(f" {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)


def play_cells(cells: dict[str, str], first: bool, clip: Path, seconds: float) -> None:
    r = run_worker("play", {"clip": str(clip), "seconds": seconds}, timeout=seconds + 120)
    shown, dropped, elapsed = r["shown"], r["dropped"], r["seconds"]
    late = dropped / max(1, shown + dropped) * 100
    rate = shown / elapsed
    realtime = rate >= CLIP_FPS * 0.99
    cells["shown"] = f"{rate:.2f} ({shown} in {elapsed:.1f} s)" + (verdict(realtime) if first else "")
    cells["late"] = f"{dropped} ({late:.2f} %)" + (verdict(dropped == 0) if first else verdict(late < GOAL_LATE_2160))
    cells["cpu"] = f"{r['cpu']:.1f} %" + (verdict(r["cpu"] <= GOAL_CPU_1080) if first else "")
    if r["lag_p99"] is not None:
        cells["lag"] = f"{r['lag_p99'] * 1000:.0f} / {r['lag_max'] * 1000:.0f} ms"
    cells["work"] = f"{ms(r['work_median'] * 1000)} / {ms(r['work_p99'] * 1000)}, {r['missed']} of {r['ticks'] + r['missed']} ticks missed"
    cells["others"] = f"{r['others']:.0f} %"
    if r["failed"]:
        cells["shown"] += f" (failed: {r['failed'][:80]})"


def decode_cells(cells: dict[str, str], ffmpeg: str | None, clip: Path) -> None:
    native: dict[str, float] | None = None
    if ffmpeg is None:
        cells["ffmpeg"] = "ffmpeg not found (Debian package ffmpeg)"
    else:
        native = ffmpeg_decode(ffmpeg, clip)
        cells["ffmpeg"] = (
            f"{native['frames'] / native['seconds']:.0f} fps ({native['cpu'] / native['frames'] * 1000:.1f} ms CPU a frame; "
            f"others {native['others']:.0f} %)"
        )
    pyav = run_worker("decode", {"clip": str(clip)}, timeout=600)
    fps = pyav["frames"] / pyav["seconds"]
    cells["pyav"] = f"{fps:.0f} fps ({pyav['cpu'] / pyav['frames'] * 1000:.1f} ms CPU a frame; others {pyav['others']:.0f} %)"
    if native is not None:
        if native["frames"] != pyav["frames"]:
            cells["pyav"] += f", {pyav['frames']} frames vs ffmpeg's {native['frames']}"
        gap = (fps / (native["frames"] / native["seconds"]) - 1) * 100
        cpu_gap = (pyav["cpu"] / pyav["frames"] / (native["cpu"] / native["frames"]) - 1) * 100
        cells["ratio"] = f"{gap:+.1f} % fps" + verdict(gap >= -GOAL_DECODE_GAP) + f" ({cpu_gap:+.1f} % CPU a frame)"
    cells["_libavcodec"] = pyav["libavcodec"]


def path_cells(cells: dict[str, str], ffmpeg: str | None, clip: Path, rounds: int) -> None:
    """The player's decode path and ffmpeg making the same frames, taken in turn; each round's ratio, then the median."""
    if ffmpeg is None:
        raise BenchError("ffmpeg not found (Debian package ffmpeg)")
    paths: list[dict[str, Any]] = []
    natives: list[dict[str, float]] = []
    for round_number in range(rounds):
        # The first round runs the path first: it tells ffmpeg the size the frames are scaled to.
        for kind in ("path", "ffmpeg") if round_number % 2 == 0 else ("ffmpeg", "path"):
            if kind == "path":
                paths.append(run_worker("path", {"clip": str(clip)}, timeout=600))
            else:
                size = paths[0]["size"]
                natives.append(ffmpeg_decode(ffmpeg, clip, (size[0], size[1])))
    if any(p["frames"] != n["frames"] for p, n in zip(paths, natives, strict=True)):
        cells["path_ratio_note"] = f", {paths[0]['frames']} frames vs ffmpeg's {natives[0]['frames']}"
    time_ratios = [(p["seconds"] / p["frames"]) / (n["seconds"] / n["frames"]) for p, n in zip(paths, natives, strict=True)]
    cpu_ratios = [(p["cpu"] / p["frames"]) / (n["cpu"] / n["frames"]) for p, n in zip(paths, natives, strict=True)]

    def rate(results: Sequence[dict[str, Any]]) -> str:
        fps = statistics.median(r["frames"] / r["seconds"] for r in results)
        cpu = statistics.median(r["cpu"] / r["frames"] * 1000 for r in results)
        others = statistics.median(r["others"] for r in results)
        return f"{fps:.0f} fps ({cpu:.1f} ms CPU a frame; others {others:.0f} %)"

    width, height = paths[0]["size"]
    cells["path"] = rate(paths) + f" → {width}x{height} BGRA"
    cells["path_floor"] = rate(natives)
    time_ratio, cpu_ratio = statistics.median(time_ratios), statistics.median(cpu_ratios)
    # CPU a frame decides: on 2 shared cores the wall time of two multi-threaded decoders is the scheduler's to give.
    cells["path_ratio"] = (
        f"{cpu_ratio:.2f}x CPU a frame" + verdict(cpu_ratio <= GOAL_PATH_RATIO) + f" ({len(cpu_ratios)} rounds "
        f"{min(cpu_ratios):.2f}–{max(cpu_ratios):.2f}x), {time_ratio:.2f}x time a frame ({min(time_ratios):.2f}–{max(time_ratios):.2f}x)"
        + cells.pop("path_ratio_note", "")
    )


def bench(args: argparse.Namespace) -> None:
    began = time.perf_counter()
    seconds = QUICK_SECONDS if args.quick else CLIP_SECONDS
    slides = QUICK_SLIDES if args.quick else SLIDES
    ffmpeg = shutil.which("ffmpeg")
    print(
        f"signage media bench ({tree_version()}): {psutil.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"load average {' '.join(f'{x:.2f}' for x in psutil.getloadavg())}{' (--quick)' if args.quick else ''}",
        flush=True,
    )
    print(f"native peer: {tool_version([ffmpeg, '-version']) if ffmpeg else 'ffmpeg not found (apt-get install ffmpeg)'}", flush=True)

    # Inputs: the clips (cached) and the PDF.
    clip_notes: list[str] = []
    clip_paths: dict[str, Path] = {}
    made = 0.0
    with phase("clips"):
        for spec, length in [*((s, seconds) for s in CLIPS), (CLIPS[0], SHORT_SECONDS)]:
            t0 = time.perf_counter()
            try:
                path, fresh = ensure_clip(spec, length)
            except BenchError as exc:
                clip_notes.append(f"{spec.label} {length:g} s: {exc}")
                continue
            if fresh:
                made += time.perf_counter() - t0
            clip_paths[f"{spec.label}/{length:g}"] = path
            rate = path.stat().st_size * 8 / length / 1e6
            clip_notes.append(f"{path.name}: {rate:.1f} Mb/s{' (made now)' if fresh else ' (cached)'}")
    columns: list[dict[str, str]] = [{} for _ in CLIPS]
    for spec, cells in zip(CLIPS, columns, strict=True) if "play" in args.phases else ():
        path = clip_paths.get(f"{spec.label}/{seconds:g}")
        if path is None:
            cells["shown"] = "no clip"
            continue
        with phase(f"{spec.label} real time, {seconds:g} s"):
            attempt(cells, ["shown", "late", "cpu"], lambda c=cells, p=path, first=spec is CLIPS[0]: play_cells(c, first, p, seconds))
    for spec, cells in zip(CLIPS, columns, strict=True) if "decode" in args.phases else ():
        path = clip_paths.get(f"{spec.label}/{seconds:g}")
        if path is None:
            continue
        with phase(f"{spec.label} decode, ffmpeg and PyAV"):
            attempt(cells, ["ffmpeg", "pyav", "ratio"], lambda c=cells, p=path: decode_cells(c, ffmpeg, p))
        with phase(f"{spec.label} the player's decode path and its ffmpeg floor, {args.rounds} rounds"):
            attempt(cells, ["path", "path_floor", "path_ratio"], lambda c=cells, p=path: path_cells(c, ffmpeg, p, args.rounds))

    single: dict[str, str] = {}
    clip_1080 = clip_paths.get(f"{CLIPS[0].label}/{seconds:g}")
    with phase("first frame", "first" in args.phases):

        def first() -> None:
            if clip_1080 is None:
                raise BenchError("no 1080p clip")
            r = run_worker("first", {"clip": str(clip_1080), "runs": FIRST_FRAME_RUNS}, timeout=120)
            median = statistics.median(r["totals"])
            parts = [statistics.median(p[i] for p in r["parts"]) for i in range(3)]
            single["first"] = (
                f"{ms(median)} (cold {ms(r['totals'][0])}; max {ms(max(r['totals']))}; "
                f"open + 1st frame {ms(parts[0])}, video_page {ms(parts[1])}, to the draw {ms(parts[2])})" + verdict(median < GOAL_FIRST_MS)
            )
            single["stop"] = f"{ms(statistics.median(r['stops']))} / {ms(max(r['stops']))}"

        if "first" in args.phases:
            attempt(single, ["first", "stop"], first)

    with phase("PDF", "pdf" in args.phases), tempfile.TemporaryDirectory(prefix="signage-bench-pdf-") as tmp:

        def pdf() -> None:
            path = Path(tmp) / "a4.pdf"
            make_pdf(path)
            r = run_worker("pdf", {"pdf": str(path), "runs": PDF_RUNS}, timeout=300)
            per_page = statistics.median(r["whole"]) / r["pages"]
            single["pdf"] = (
                f"{ms(per_page)} a page ({r['pages']} pages to {r['size'][0]}x{r['size'][1]}, cold {ms(r['cold'] / r['pages'])} a page)"
                + verdict(per_page < GOAL_PDF_MS)
            )
            single["pdf1"] = f"{ms(statistics.median(r['single']))}" + verdict(statistics.median(r["single"]) < GOAL_PDF_MS)

        if "pdf" in args.phases:
            attempt(single, ["pdf", "pdf1"], pdf)

    with phase(f"{slides} video slides", "slides" in args.phases):

        def rss() -> None:
            short = clip_paths.get(f"{CLIPS[0].label}/{SHORT_SECONDS:g}")
            if short is None:
                raise BenchError("no short clip")
            r = run_worker("slides", {"clip": str(short), "count": slides}, timeout=600)
            samples = {int(k): v for k, v in r["samples"].items()}
            base, last = samples[10]["rss"], samples[slides]["rss"]
            growth = (last / base - 1) * 100
            single["rss"] = f"{base / 2**20:.0f} MiB → {last / 2**20:.0f} MiB ({growth:+.1f} %)" + verdict(growth <= GOAL_RSS_GROWTH)
            single["rss_trend"] = ", ".join(f"{n}: {s['rss'] / 2**20:.0f}" for n, s in sorted(samples.items())) + " MiB"
            single["leaks"] = (
                f"threads {samples[10]['threads']:.0f} → {samples[slides]['threads']:.0f}, "
                f"open files {samples[10]['fds']:.0f} → {samples[slides]['fds']:.0f}; "
                f"{r['shown']} frames shown, {r['dropped']} dropped, {r['stalled']} slides stalled; {r['seconds']:.1f} s"
            )

        if "slides" in args.phases:
            attempt(single, ["rss", "rss_trend", "leaks"], rss)

    # The tables.
    libavcodec = next((c["_libavcodec"] for c in columns if "_libavcodec" in c), "?")
    headers = ["measure", *(spec.label for spec in CLIPS), "goal"]
    rows: list[Row] = [
        [
            "frames shown per second (clip 30 fps)",
            *(c.get("shown", "–") for c in columns),
            "1080p: real time (30/s)",
        ],
        ["frames dropped as late (share)", *(c.get("late", "–") for c in columns), f"1080p: 0; 2160p: < {GOAL_LATE_2160:g} %"],
        ["CPU of the process, % of one core", *(c.get("cpu", "–") for c in columns), f"1080p: ≤ {GOAL_CPU_1080:g} %"],
        ["picture behind the clock, p99 / max", *(c.get("lag", "–") for c in columns), "– (a clip frame is 33 ms)"],
        ["main loop update+present, median / p99", *(c.get("work", "–") for c in columns), "– (a tick is 16.7 ms)"],
        ["other processes' CPU meanwhile", *(c.get("others", "–") for c in columns), "– (0 % on a quiet machine)"],
        ["ffmpeg -threads 0 decode → null", *(c.get("ffmpeg", "–") for c in columns), "–"],
        ["PyAV decode, thread_type AUTO", *(c.get("pyav", "–") for c in columns), "–"],
        ["PyAV vs ffmpeg", *(c.get("ratio", "–") for c in columns), f"within {GOAL_DECODE_GAP:g} % of ffmpeg"],
        ["the player's decode path (VideoClip.next_frame)", *(c.get("path", "–") for c in columns), "–"],
        ["  its floor: ffmpeg making the same frames", *(c.get("path_floor", "–") for c in columns), "–"],
        ["  path / floor", *(c.get("path_ratio", "–") for c in columns), f"≤ {GOAL_PATH_RATIO:.2f}x ffmpeg, CPU a frame"],
    ]
    print_table(
        f"video at a {FRAME_SIZE[0]}x{FRAME_SIZE[1]} frame, {FPS} fps loop, {seconds:g} s",
        headers,
        rows,
        [
            "clips: " + "; ".join(clip_notes),
            f"x264 {X264['preset']} + {X264['x264-params']}, GOP {2 * CLIP_FPS}; the video is scaled into the slide area "
            "(1584x896) in the decode thread",
            f"decoders: PyAV's own libavcodec {libavcodec} vs Debian's ffmpeg (different FFmpeg versions and builds); "
            "fps = frames / wall time; CPU a frame = user + system time / frames (steadier than fps when others use the CPU)",
            "dropped = decoded but overtaken by the next frame before it was shown (VideoPlayback.stats.dropped); "
            "picture behind = clock - pts of the frame on screen",
            "decode path: VideoClip(clip, slide area) then next_frame into a lent ring until the end, in a fresh process, as the "
            "decoder thread does (frame threads AUTO; scaled in YUV, bilinear, then BGRA unscaled, slice threads; copied into the ring); "
            "floor: ffmpeg -threads 0 -vf scale=W:H:flags=bilinear,format=yuv420p,scale,format=bgra -f null, the same two passes "
            "to the same frames; taken in turn, ratio per round, median",
        ],
    )
    print_table(
        "slides",
        ["measure", "result", "goal"],
        [
            ["video slide: VideoClip(...) to its first draw, median of 10", single.get("first", "–"), f"< {GOAL_FIRST_MS:g} ms"],
            [
                f"PDF page render at 1080p, box {PDF_BOX[0]}x{PDF_BOX[1]}, median of {PDF_RUNS}",
                single.get("pdf", "–"),
                f"< {GOAL_PDF_MS:g} ms",
            ],
            ["  one page, opening the PDF included", single.get("pdf1", "–"), f"< {GOAL_PDF_MS:g} ms"],
            [f"RSS after slide 10 → after slide {slides}", single.get("rss", "–"), f"growth ≤ {GOAL_RSS_GROWTH:g} %"],
            ["  RSS by slide", single.get("rss_trend", "–"), "–"],
            ["  threads, open files, frames", single.get("leaks", "–"), "no growth"],
            [
                f"slide cut mid-clip: frame.play(None) after {MID_CLIP:g} s of play, median / max of {FIRST_FRAME_RUNS}",
                single.get("stop", "–"),
                "– (a 60 fps tick is 16.7 ms)",
            ],
        ],
        [
            f"video slides: 1080p clip into the {FRAME_SIZE[0]}x{FRAME_SIZE[1]} layout's slide area; "
            f"{slides} slides of a {SHORT_SECONDS:g} s 1080p clip, {SLIDE_CLOCK:g} s of clock each, in a fresh process",
            f"PDF: {PDF_PAGES} A4 pages, text in standard Helvetica, vector header band, grid, 400-point chart, Bézier circles",
        ],
    )
    total = time.perf_counter() - began
    made_note = f"; {made:.0f} s of it making clips (cached in {CACHE} for the next run)" if made else ""
    print(f"\ntotal run time {total:.0f} s{made_note} ({tree_version()} at the end, load average {psutil.getloadavg()[0]:.2f})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SECONDS:g} s clips and {QUICK_SLIDES} slides: a smoke run")
    parser.add_argument(
        "--phases",
        type=lambda text: [p.strip() for p in text.split(",") if p.strip()],
        default=list(PHASES),
        help=f"the measurements to take, a comma list of {', '.join(PHASES)} (default all)",
    )
    parser.add_argument("--rounds", type=int, default=PATH_ROUNDS, help=f"rounds of the decode path and its floor (default {PATH_ROUNDS})")
    parser.add_argument("--worker", choices=("clip", "play", "decode", "path", "first", "pdf", "slides"), help=argparse.SUPPRESS)
    parser.add_argument("--params", type=json.loads, default={}, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if unknown := set(args.phases) - set(PHASES):
        parser.error(f"unknown phase(s) {', '.join(sorted(unknown))}: choose from {', '.join(PHASES)}")
    if args.rounds < 1:
        parser.error("--rounds must be 1 or more")
    p: dict[str, Any] = args.params
    workers: dict[str, Callable[[], dict[str, Any]]] = {
        "clip": lambda: make_clip(Path(p["out"]), (p["size"][0], p["size"][1]), p["seconds"], p["bitrate"]),
        "play": lambda: worker_play(p["clip"], p["seconds"]),
        "decode": lambda: worker_decode(p["clip"]),
        "path": lambda: worker_decode_path(p["clip"]),
        "first": lambda: worker_first(p["clip"], p["runs"]),
        "pdf": lambda: worker_pdf(p["pdf"], p["runs"]),
        "slides": lambda: worker_slides(p["clip"], p["count"]),
    }
    if args.worker:
        print(json.dumps(workers[args.worker]()))
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
