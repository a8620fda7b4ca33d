"""Soak: the memory, descriptors and threads of `signage play` over a day's worth of turns, in under an hour.

What it does:

1. makes a mixed playlist once (cached in the temp dir, signage-bench-soak/): three text bulletins (one high, one
   long enough to page), a 12 MP JPEG (4000x3000, gradients and noise, quality 90), a 2000x1500 PNG with
   transparency, two H.264 clips made with PyAV (1080p30 4 s with an AAC sound track; 720p30 2 s, looped over its
   3 s turn), a 6-page PDF (text and vector drawing, written by hand), an MP3 (44.1 kHz: resampled) and an Ogg Opus
   sound. Every turn is short (3 s; the PDF 6 s, the long text 4 s): about 1,100 turns an hour, a kiosk's day of
   10-second turns every hour. Eleven bulletins and the player's 4 cached slides: every slide is composed afresh
   at each of its turns, so decoders, composer and caches are worked as hard as a board ever works them.
2. runs `signage play --headless --for N --config …` at 1920x1080 (SDL dummy video and audio drivers, so the sound
   path decodes and mixes too) in a subprocess, its data_dir in a temporary folder, reporting every 30 s to a
   stand-in hub on loopback (the report queue and the play log are worked; the hub counts the plays it is told).
3. samples the player every --every seconds (default 5): RSS (VmRSS), PSS and USS (smaps_rollup), open
   descriptors (/proc/PID/fd) and threads; prints a line every 5 minutes, then the figures beside the goals:
   RSS at 10 minutes, at 1 hour (or the end, if sooner) and at the end, the peak; the growth per hour after the
   first 10 minutes and after the first hour (least-squares slopes of RSS); descriptors and threads, first and
   last 10 minutes (most and fewest: a video on screen holds its decoder's threads and its file).

Goals, at 1080p with that playlist: RSS under 250 MB; growth under 1 MB per hour after the first hour; no growth
in descriptors or threads.

--trace runs the player under a probe (tracemalloc, 12 frames; a census of live objects by type; glibc's
mallinfo2, which tells memory in use from memory the heap holds) sampled every --trace-every seconds, and prints
what grew between the end of the warm-up and the end: the biggest Python allocation sites, the types whose live
count grew, and malloc's in-use against its held bytes (RSS growing while in-use stays flat is fragmentation, not a
leak). The probe slows the player: figures of a traced run are for finding, not for the table.
--env KEY=VALUE (repeatable) sets the player's environment, e.g. MALLOC_ARENA_MAX=2 for an experiment.

It stops by itself (the player is started with --for, and stopped by the bench at the end, on an error or on
SIGTERM/SIGINT); it asserts nothing and passes or fails nothing.

    .venv/bin/python bench/soak.py [--minutes 50] [--quick] [--every 5] [--csv FILE] [--trace] [--env K=V] [--keep]
"""

from __future__ import annotations

import argparse
import array
import base64
import contextlib
import json
import math
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(tempfile.gettempdir()) / "signage-bench-soak"
MEDIA_VERSION = 1  # bump when a maker below changes: the cache is keyed on it
FRAME_SIZE = (1920, 1080)
TURN_S = 3
HEARTBEAT_S = 30
SETTLE_S = 60.0  # the first minute (start-up, first compose of everything) is left out of "first" figures
WARMUP_S = 600.0  # growth is judged after this
HOUR_S = 3600.0
WINDOW_S = 600.0  # descriptors and threads: first and last 10 minutes compared
PROGRESS_S = 300.0
GROWTH_WINDOW_S = 300.0  # RSS judged by the median (and floor) of each 5 minutes, as well as sample by sample
MB = 1024 * 1024

# Goals (printed, never asserted).
GOAL_RSS_MB = 250.0
GOAL_GROWTH_MB_H = 1.0


# -- the playlist's media ------------------------------------------------------------


def make_photo(path: Path, size: tuple[int, int] = (4000, 3000)) -> None:
    """A 12 MP photo that compresses like one: gradients, blotches and grain, JPEG quality 90."""
    from PIL import Image

    width, height = size
    red = Image.linear_gradient("L").resize(size)
    green = Image.linear_gradient("L").rotate(90).resize(size)
    blotches = Image.effect_noise((width // 40, height // 40), 90).resize(size, Image.Resampling.BICUBIC)
    grain = Image.effect_noise(size, 24)
    blue = Image.blend(blotches, grain, 0.35)
    Image.merge("RGB", (red, green, blue)).save(path, "JPEG", quality=90)


def make_poster(path: Path, size: tuple[int, int] = (2000, 1500)) -> None:
    """A PNG with transparency (the RGBA path): a gradient with a see-through border and a band."""
    from PIL import Image, ImageDraw

    image = Image.linear_gradient("L").resize(size).convert("RGBA")
    image.putalpha(Image.linear_gradient("L").rotate(90).resize(size).point(lambda v: 96 + v // 2))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, size[1] // 3, size[0], size[1] // 2), fill=(200, 40, 40, 255))
    draw.ellipse((size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4), outline=(255, 255, 255, 255), width=24)
    image.save(path, "PNG")


def _tone(rate: int, start: int, count: int, total: int) -> bytes:
    """Interleaved stereo s16 samples of a rising tone (a sweep: the encoder has something to code)."""
    samples = array.array("h")
    for index in range(start, start + count):
        value = int(7000 * math.sin(2 * math.pi * (220 + 220 * index / total) * index / rate))
        samples.append(value)
        samples.append(value)
    return samples.tobytes()


def _sound_frames(rate: int, seconds: float) -> Iterator[Any]:
    import av

    total = round(rate * seconds)
    for start in range(0, total, 1024):
        count = min(1024, total - start)
        frame = av.AudioFrame(format="s16", layout="stereo", samples=count)
        frame.planes[0].update(_tone(rate, start, count, total))
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        yield frame


def make_sound(path: Path, container_format: str, codec: str, rate: int, seconds: float) -> None:
    """A stereo sweep encoded by PyAV (libmp3lame for MP3, libopus for Ogg)."""
    import av

    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "stereo"
        for frame in _sound_frames(rate, seconds):
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def make_clip(path: Path, size: tuple[int, int], seconds: float, *, sound: bool) -> None:
    """An H.264 clip (30 fps, libx264) with motion: a gradient scrolling sideways, grain, a moving disc; AAC sound if asked."""
    import av
    from PIL import Image, ImageChops, ImageDraw

    width, height = size
    fps = 30
    luma = Image.linear_gradient("L").rotate(90).resize((2 * width, height))
    grains = [Image.effect_noise(size, 12) for _ in range(3)]
    chroma = Image.linear_gradient("L").resize((width // 2, height // 2))
    radius = height // 8
    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        video.bit_rate = 4_000_000 if width >= 1920 else 2_000_000
        video.codec_context.gop_size = fps
        video.options = {"preset": "ultrafast", "x264-params": "cabac=1:deblock=1:bframes=2"}
        audio = container.add_stream("aac", rate=48000) if sound else None
        if audio is not None:
            audio.layout = "stereo"
        frames = round(seconds * fps)
        for index in range(frames):
            x = index * (width // 90) % width
            y_plane = ImageChops.add(luma.crop((x, 0, x + width, height)), grains[index % len(grains)], 1.0, -6)
            cx = width / 2 + width / 3 * math.sin(index / 11)
            cy = height / 2 + height / 3 * math.sin(index / 7)
            ImageDraw.Draw(y_plane).ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=235)
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane, image in zip(frame.planes, (y_plane, chroma, chroma.rotate(180)), strict=True):
                data = image.tobytes()
                if plane.line_size != image.width:  # rows padded: copy row by row
                    pad = b"\0" * (plane.line_size - image.width)
                    data = b"".join(data[row * image.width : (row + 1) * image.width] + pad for row in range(image.height))
                plane.update(data)
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if audio is not None:
            for sound_frame in _sound_frames(48000, seconds):
                for packet in audio.encode(sound_frame):
                    container.mux(packet)
            for packet in audio.encode(None):
                container.mux(packet)


def _pdf_page(number: int, pages: int) -> bytes:
    """One A4 page's drawing: a header band, a title, 30 lines of text, a grid, a curve, filled circles."""
    ops = [
        "0.12 0.32 0.62 rg 36 770 523 48 re f",
        f"BT /F1 22 Tf 1 1 1 rg 50 786 Td (Ke hoach so {number} - Trang {number}/{pages}) Tj ET",
        "BT /F1 10 Tf 0 0 0 rg 12 TL 50 748 Td",
    ]
    for line in range(30):
        words = " ".join(f"muc{(number * 37 + line * 11 + k) % 97}" for k in range(9))
        ops.append(f"({line + 1:02d}. Thong bao ve ke hoach {words}) Tj T*")
    ops.append("ET 0.6 G 0.4 w")
    for k in range(11):
        ops.append(f"60 {60 + 26 * k} m 535 {60 + 26 * k} l S {60 + 47.5 * k:.1f} 60 m {60 + 47.5 * k:.1f} 320 l S")
    points = [(60 + 475 * i / 199, 190 + 110 * math.sin(i / (7 + number))) for i in range(200)]
    curve = " ".join(f"{x:.2f} {y:.2f} l" for x, y in points[1:])
    ops.append(f"0.8 0.1 0.1 RG 1.2 w {points[0][0]:.2f} {points[0][1]:.2f} m {curve} S")
    for k in range(10):
        cx, cy, r = 90 + 45 * k, 380 + 20 * math.sin(k + number), 16
        ops.append(f"{(k * 0.1) % 1:.2f} 0.5 0.7 rg {cx - r} {cy - r} {2 * r} {2 * r} re f")
    return "\n".join(ops).encode("ascii")


def make_pdf(path: Path, pages: int = 6) -> None:
    """A hand-written PDF 1.4: A4 pages of vector content and text in the standard Helvetica (no font embedded)."""
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(f"{4 + 2 * i} 0 R".encode() for i in range(pages)) + f"] /Count {pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for index in range(pages):
        content = _pdf_page(index + 1, pages)
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


MEDIA = {
    "photo-12mp.jpg": lambda p: make_photo(p),
    "poster.png": lambda p: make_poster(p),
    "clip-1080p-sound.mp4": lambda p: make_clip(p, (1920, 1080), 4.0, sound=True),
    "clip-720p.mp4": lambda p: make_clip(p, (1280, 720), 2.0, sound=False),
    "report-6-pages.pdf": lambda p: make_pdf(p),
    "sweep-44k.mp3": lambda p: make_sound(p, "mp3", "libmp3lame", 44100, 4.0),
    "sweep.ogg": lambda p: make_sound(p, "ogg", "libopus", 48000, 3.0),
}


def ensure_media() -> Path:
    """The playlist's media, made once and cached (keyed on MEDIA_VERSION)."""
    folder = CACHE / f"v{MEDIA_VERSION}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in MEDIA.items():
        path = folder / name
        if not (path.exists() and path.stat().st_size > 0):
            print(f"soak: making {name} (once; cached in {folder})", flush=True)
            partial = path.with_name(f".{path.stem}.part{path.suffix}")
            make(partial)
            partial.replace(path)
    return folder


LONG_BODY = "\n\n".join(
    f"Mục {n}. Ủy ban nhân dân xã thông báo kế hoạch ra quân làm đường giao thông nông thôn đợt {n}: mỗi hộ cử một lao động, "
    "mang theo cuốc, xẻng, quang gánh; tập trung tại nhà văn hóa ấp lúc 6 giờ 30. Hộ nào không tham gia được "
    "xin báo trước với trưởng ấp để bố trí ngày khác."
    for n in range(1, 9)
)


def playlist_text(media: Path) -> str:
    """Eleven bulletins with short turns, of every kind the board plays."""

    def bulletin(
        bid: str, kind: str, title: str, *, body: str = "", media_name: str = "", seconds: float = TURN_S, priority: str = ""
    ) -> str:
        lines = ["[[bulletins]]", f'id = "{bid}"', f'kind = "{kind}"', f"title = {json.dumps(title, ensure_ascii=False)}"]
        if body:
            lines.append(f"body = {json.dumps(body, ensure_ascii=False)}")
        if media_name:
            lines.append(f"media = {json.dumps(str(media / media_name))}")
        if priority:
            lines.append(f'priority = "{priority}"')
        lines.append(f"duration_s = {seconds:g}")
        return "\n".join(lines) + "\n"

    return "\n".join(
        [
            "# bench/soak.py: a mixed playlist with short turns (made by the bench)\n",
            bulletin("soak-text", "text", "Lịch tiêm chủng tháng 11", body="Trạm Y tế xã tiêm chủng ngày 25 và 26, từ 7 đến 11 giờ."),
            bulletin("soak-high", "text", "Họp dân ấp 2 lúc 19 giờ", body="Kính mời các hộ dự họp tại Nhà văn hóa ấp 2.", priority="high"),
            bulletin("soak-long", "text", "Kế hoạch làm đường giao thông nông thôn", body=LONG_BODY, seconds=4),
            bulletin("soak-photo", "image", "Ảnh 12 MP", body="Ảnh chụp bằng điện thoại, 4000x3000", media_name="photo-12mp.jpg"),
            bulletin("soak-poster", "image", "Áp phích PNG trong suốt", media_name="poster.png"),
            bulletin("soak-video", "video", "Phóng sự 1080p có tiếng", media_name="clip-1080p-sound.mp4"),
            bulletin("soak-loop", "video", "Đoạn phim 720p lặp lại", media_name="clip-720p.mp4"),
            bulletin("soak-pdf", "pdf", "Văn bản 6 trang", media_name="report-6-pages.pdf", seconds=6),
            bulletin("soak-mp3", "audio", "Tin phát thanh MP3", body="Âm thanh 44,1 kHz", media_name="sweep-44k.mp3"),
            bulletin("soak-ogg", "audio", "Tin phát thanh Ogg", body="Âm thanh Opus", media_name="sweep.ogg"),
            bulletin("soak-text-2", "text", "Khuyến cáo phòng tránh mưa lớn", body="Bà con chủ động gia cố nhà cửa, chằng chống mái tôn."),
        ]
    )


# -- the stand-in hub ------------------------------------------------------------------


class Hub:
    """A loopback hub that takes every report with 200 and counts the plays told (the hub's own costs are bench/hub.py's)."""

    def __init__(self) -> None:
        hub = self
        self.reports = 0
        self.plays = 0
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    payload = json.loads(base64.b64decode(json.loads(body)["payload"]))
                    with hub.lock:
                        hub.reports += 1
                        hub.plays += len(payload.get("plays", []))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/report"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- the probe (--trace): runs inside the player ----------------------------------------

PROBE = r'''
"""bench/soak.py's probe: tracemalloc, a census of live objects and glibc's mallinfo2, every few seconds, then the player."""
import ctypes, gc, json, os, pickle, sys, threading, time, tracemalloc
from collections import Counter

out, every = sys.argv[1], float(sys.argv[2])
args = sys.argv[3:]
tracemalloc.start(12)
started = time.monotonic()


class MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")
    ]


libc = ctypes.CDLL(None)
mallinfo2 = getattr(libc, "mallinfo2", None)
if mallinfo2 is not None:
    mallinfo2.restype = MallInfo2


def sample(index):
    census = Counter(f"{getattr(type(o), '__module__', '?')}.{getattr(type(o), '__qualname__', '?')}" for o in gc.get_objects())
    info = mallinfo2() if mallinfo2 is not None else None
    line = {
        "t": time.monotonic() - started,
        "traced": tracemalloc.get_traced_memory()[0],
        "threads": sorted(t.name for t in threading.enumerate()),
        "census": dict(census.most_common(400)),
    }
    if info is not None:
        line["malloc_in_use"] = info.uordblks + info.hblkhd
        line["malloc_held"] = info.arena + info.hblkhd
        line["malloc_free"] = info.fordblks
    snapshot = tracemalloc.take_snapshot().filter_traces((tracemalloc.Filter(False, tracemalloc.__file__),))
    with open(os.path.join(out, f"snap-{index:04d}.pickle"), "wb") as handle:
        pickle.dump(snapshot, handle)
    with open(os.path.join(out, "probe.jsonl"), "a") as handle:
        handle.write(json.dumps(line) + "\n")


def loop():
    index = 0
    while True:
        time.sleep(every)
        try:
            sample(index)
        except Exception as exc:  # the probe must never stop the player
            print(f"soak probe: {exc!r}", file=sys.stderr)
        index += 1


threading.Thread(target=loop, name="soak-probe", daemon=True).start()
from signage.cli import main

sys.exit(main(args))
'''


# -- sampling ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    t: float  # seconds since the player started
    rss: int
    pss: int
    uss: int
    fds: int
    threads: int
    cpu: float  # seconds of CPU (user + system) the player has used so far


def _cpu_seconds(proc: Path) -> float:
    fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _fields(path: Path) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in path.read_text().splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return values


def sample(pid: int, t: float) -> Sample | None:
    """RSS, PSS, USS, descriptors and threads of `pid`; None once it has gone."""
    proc = Path(f"/proc/{pid}")
    try:
        status = _fields(proc / "status")
        rollup = _fields(proc / "smaps_rollup")
        fds = len(os.listdir(proc / "fd"))
        cpu = _cpu_seconds(proc)
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    uss = rollup.get("Private_Clean", 0) + rollup.get("Private_Dirty", 0)
    return Sample(t, status.get("VmRSS", 0), rollup.get("Pss", 0), uss, fds, status.get("Threads", 0), cpu)


def slope_mb_per_hour(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, bytes) points, in MB per hour."""
    if len(points) < 3 or points[-1][0] - points[0][0] < 60:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    slope = sum((t - mean_t) * (v - mean_v) for t, v in points) / spread  # bytes per second
    return slope * 3600 / MB


def at(samples: Sequence[Sample], t: float) -> Sample:
    """The sample nearest `t` seconds (the last one if the run was shorter)."""
    return min(samples, key=lambda s: abs(s.t - t))


def window(samples: Sequence[Sample], start: float, end: float, field: str) -> tuple[int, int, int]:
    """Fewest, median and most of `field` between `start` and `end` seconds."""
    values = sorted(getattr(s, field) for s in samples if start <= s.t <= end) or [getattr(samples[-1], field)]
    return values[0], values[len(values) // 2], values[-1]


def growth(samples: Sequence[Sample], after: float, field: str = "rss") -> dict[str, float | None]:
    """MB per hour after `after` seconds: least squares of every sample, of 5-minute medians and of 5-minute minima.

    RSS swings by tens of MB within a rotation (a video with its decoder and frames, a PDF being composed,
    then handed back): every sample's slope carries that noise; the medians' and the floors' hardly do.
    """
    kept = [s for s in samples if s.t >= after]
    medians: list[tuple[float, float]] = []
    floors: list[tuple[float, float]] = []
    start = after
    while kept and start + GROWTH_WINDOW_S <= kept[-1].t + 1:
        low, median, _ = window(kept, start, start + GROWTH_WINDOW_S, field)
        medians.append((start + GROWTH_WINDOW_S / 2, median))
        floors.append((start + GROWTH_WINDOW_S / 2, low))
        start += GROWTH_WINDOW_S
    return {
        "all": slope_mb_per_hour([(s.t, getattr(s, field)) for s in kept]),
        "medians": slope_mb_per_hour(medians),
        "floors": slope_mb_per_hour(floors),
    }


def mb(value: float) -> str:
    return f"{value / MB:.1f} MB"


def clock(seconds: float) -> str:
    minutes = seconds / 60
    return f"{minutes / 60:.2f} h" if minutes >= 90 else f"{minutes:.1f} min"


# -- the run -------------------------------------------------------------------------


_children: list[subprocess.Popen[Any]] = []


def stop(proc: subprocess.Popen[Any], timeout: float = 20.0) -> None:
    """SIGTERM (the player stops cleanly and sends its last report), then SIGKILL if it lingers."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout)


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the player


def signage_program() -> str:
    found = shutil.which("signage", path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit("soak: no `signage` beside this Python (run `make` first)")
    return found


def player_env(base: Path, extra: Sequence[str]) -> dict[str, str]:
    dropped = ("SDL_VIDEODRIVER", "SDL_AUDIODRIVER", "WAYLAND_DISPLAY", "DISPLAY", "MALLOC_ARENA_MAX")
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    env |= {
        "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1",
        "XDG_STATE_HOME": str(base / "state"), "XDG_CACHE_HOME": str(base / "cache"), "HOME": str(base),
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONFAULTHANDLER": "1",  # a crash leaves every thread's stack in the log
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }  # fmt: skip
    for item in extra:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"soak: --env {item!r}: expected KEY=VALUE")
        env[key] = value
    return env


def write_board(base: Path, media: Path, hub: Hub, signage: str) -> Path:
    playlist = base / "soak.toml"
    playlist.write_text(playlist_text(media), encoding="utf-8")
    subprocess.run([signage, "keygen", "--out", str(base / "board.key")], check=True, capture_output=True, timeout=60)
    config = base / "board.toml"
    config.write_text(
        "[board]\n"
        'id = "soak"\nname = "UBND xã Tân Quan"\ntimezone = "Asia/Ho_Chi_Minh"\n'
        f"data_dir = {json.dumps(str(base / 'data'))}\n\n"
        f"[playlists]\npaths = [{json.dumps(str(playlist))}]\n\n"
        f'[display]\nsize = "{FRAME_SIZE[0]}x{FRAME_SIZE[1]}"\nvolume = 0.8\n\n'
        '[ticker]\ntext = "Chào mừng quý bà con đến UBND xã Tân Quan · Giờ làm việc: sáng 7:00–11:30, chiều 13:30–17:00"\n\n'
        f"[report]\nurl = {json.dumps(hub.url)}\nkey = {json.dumps(str(base / 'board.key'))}\nheartbeat_seconds = {HEARTBEAT_S}\n",
        encoding="utf-8",
    )
    return config


def run(args: argparse.Namespace) -> int:
    seconds = args.minutes * 60
    signage = signage_program()
    media = ensure_media()
    keep = Path(tempfile.mkdtemp(prefix="signage-soak-"))
    hub = Hub()
    samples: list[Sample] = []
    player: subprocess.Popen[Any] | None = None
    log_path = keep / "player.log"
    try:
        config = write_board(keep, media, hub, signage)
        play = ["play", "--headless", "--config", str(config), "--for", f"{seconds + 5:g}"]
        play += ["--screenshot-dir", str(keep / "shots"), "--screenshot-every", "600"]
        trace_dir = keep / "trace"
        if args.trace:
            trace_dir.mkdir()
            probe = keep / "probe.py"
            probe.write_text(PROBE)
            command = [sys.executable, str(probe), str(trace_dir), f"{args.trace_every:g}", *play]
        else:
            command = [signage, *play]
        env = player_env(keep, args.env)
        print(
            f"soak: {args.minutes:g} min of `signage play --headless` at {FRAME_SIZE[0]}x{FRAME_SIZE[1]}, 11 bulletins, "
            f"{TURN_S} s turns, reports every {HEARTBEAT_S} s{', traced' if args.trace else ''}"
            f"{'; env ' + ' '.join(args.env) if args.env else ''}; work dir {keep}",
            flush=True,
        )
        with log_path.open("wb") as log:
            player = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=keep, stdin=subprocess.DEVNULL)
            _children.append(player)
            started = time.monotonic()
            next_progress = PROGRESS_S
            while player.poll() is None:
                t = time.monotonic() - started
                if t >= seconds:
                    break
                found = sample(player.pid, t)
                if found is not None:
                    samples.append(found)
                    if args.csv is not None:
                        with args.csv.open("a") as out:
                            if len(samples) == 1:
                                out.write("t_s,rss_bytes,pss_bytes,uss_bytes,fds,threads,cpu_s\n")
                            out.write(f"{found.t:.1f},{found.rss},{found.pss},{found.uss},{found.fds},{found.threads},{found.cpu:.2f}\n")
                if t >= next_progress and samples:
                    last = samples[-1]
                    print(
                        f"  {clock(t):>9}  RSS {mb(last.rss)}  PSS {mb(last.pss)}  USS {mb(last.uss)}  fds {last.fds}  "
                        f"threads {last.threads}  plays told {hub.plays}",
                        flush=True,
                    )
                    next_progress += PROGRESS_S
                time.sleep(max(0.0, args.every - (time.monotonic() - started - t)))
            ended_early = player.poll() is not None
            stop(player)
        if ended_early or len(samples) < 3:
            print(f"soak: the player stopped early (exit {player.returncode}); the end of its log:", file=sys.stderr)
            print(log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
            if len(samples) < 3:
                return 1
        report(samples, hub, log_path, args)
        if args.trace:
            trace_report(trace_dir, warmup=min(WARMUP_S, seconds / 5))
        return 0
    finally:
        for proc in reversed(_children):
            with contextlib.suppress(Exception):
                stop(proc)
        hub.close()
        if args.keep:
            print(f"soak: kept {keep} (player.log, data, trace)")
        else:
            shutil.rmtree(keep, ignore_errors=True)


def report(samples: Sequence[Sample], hub: Hub, log_path: Path, args: argparse.Namespace) -> None:
    end = samples[-1]
    length = end.t
    warmup = min(WARMUP_S, length / 5)  # --quick: the first fifth stands for the first 10 minutes
    settle = min(SETTLE_S, length / 10)
    win = min(WINDOW_S, length / 5)
    peak = max(samples, key=lambda s: s.rss)
    hour = at(samples, HOUR_S)
    text = log_path.read_text(errors="replace")
    errors = sum(1 for line in text.splitlines() if ": ERROR: " in line)
    tracebacks = text.count("Traceback (most recent call last)") + text.count("Fatal Python error")
    rate = hub.plays / length * 3600
    print(f"\nsoak: {clock(length)} played; the hub was told {hub.plays} plays in {hub.reports} reports ({rate:.0f} an hour)")
    print(f"  player log: {errors} ERROR lines, {tracebacks} tracebacks")
    start = at(samples, settle)
    if end.t > start.t:
        print(f"  CPU of the player after {clock(settle)}: {(end.cpu - start.cpu) / (end.t - start.t) * 100:.1f} % of one core")
    print(f"  {'':34} {'RSS':>10} {'PSS':>10} {'USS':>10}")
    marks = [(f"at {clock(warmup)}", at(samples, warmup))]
    if length >= HOUR_S:
        marks.append(("at 1 h", hour))
    marks += [(f"at the end ({clock(length)})", end), (f"peak (at {clock(peak.t)})", peak)]
    for label, s in marks:
        print(f"  {label:34} {mb(s.rss):>10} {mb(s.pss):>10} {mb(s.uss):>10}")
    print(f"  goal: RSS under {GOAL_RSS_MB:.0f} MB at 1080p: {'met' if peak.rss < GOAL_RSS_MB * MB else 'NOT met'} (peak {mb(peak.rss)})")
    print(f"  growth, MB/h (least squares of: {'every sample':>14} {'5-min medians':>14} {'5-min floors':>13})")

    def shown(value: float | None) -> str:
        return "–" if value is None else f"{value:+.2f}"

    for label, after in ((f"after {clock(warmup)}", warmup), ("after 1 h", HOUR_S), (f"last half ({clock(length / 2)} on)", length / 2)):
        for field in ("rss", "uss"):
            rates = growth(samples, after, field)
            if rates["all"] is None:
                continue
            print(f"    {field.upper()} {label:29} {shown(rates['all']):>14} {shown(rates['medians']):>14} {shown(rates['floors']):>13}")
    long_enough = length >= HOUR_S + 2 * GROWTH_WINDOW_S
    judged = growth(samples, HOUR_S if long_enough else warmup)["medians"]
    basis = "after the first hour" if long_enough else f"after {clock(warmup)} (the run is too short for the first hour)"
    if judged is not None:
        verdict = "met" if judged < GOAL_GROWTH_MB_H else "NOT met"
        print(f"  goal: growth under {GOAL_GROWTH_MB_H:g} MB/h {basis}, 5-min medians: {verdict} ({judged:+.2f} MB/h)")
    for field in ("fds", "threads"):
        # A video on screen holds its file, its decoder's threads and a sound thread, and the next clip is opened
        # ahead: the most (and the median) follow what happened to be playing; the fewest, with nothing live,
        # are what the board holds for good.
        first = window(samples, settle, settle + win, field)
        last = window(samples, length - win, length, field)
        grew = last[0] > first[0]
        print(
            f"  {field:7} first {clock(win)}: {first[0]}–{first[2]} (median {first[1]})   last {clock(win)}: {last[0]}–{last[2]} "
            f"(median {last[1]})   goal no growth: {'NOT met' if grew else 'met'}"
        )


def trace_report(trace_dir: Path, warmup: float) -> None:
    """What grew in the player between the end of the warm-up and its last probe sample."""
    import tracemalloc

    jsonl = trace_dir / "probe.jsonl"
    lines = [json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()] if jsonl.exists() else []
    snaps = sorted(trace_dir.glob("snap-*.pickle"))
    if len(lines) < 2 or len(snaps) < 2:
        print("soak: trace: too few probe samples")
        return
    first_index = next((i for i, line in enumerate(lines) if line["t"] >= warmup), 0)
    first, last = lines[first_index], lines[-1]
    hours = max(1e-9, (last["t"] - first["t"]) / 3600)
    print(f"\nsoak: trace, from {clock(first['t'])} to {clock(last['t'])}")
    traced = (last["traced"] - first["traced"]) / MB / hours
    print(f"  Python allocations traced: {mb(first['traced'])} -> {mb(last['traced'])} ({traced:+.2f} MB/h)")
    if "malloc_in_use" in first:
        for key in ("malloc_in_use", "malloc_held", "malloc_free"):
            print(f"  {key:18} {mb(first[key])} -> {mb(last[key])} ({(last[key] - first[key]) / MB / hours:+.2f} MB/h)")
    grown = sorted(
        ((last["census"].get(name, 0) - count, name, count) for name, count in first["census"].items()),
        reverse=True,
    )
    new = sorted(((count, name) for name, count in last["census"].items() if name not in first["census"]), reverse=True)
    print("  live objects whose count grew (type: first -> last):")
    for diff, name, count in grown[:15]:
        if diff > 0:
            print(f"    {name}: {count} -> {count + diff}")
    for count, name in new[:5]:
        print(f"    {name}: new, {count}")
    print(f"  threads at the last probe: {', '.join(last['threads'])}")
    with snaps[min(first_index, len(snaps) - 1)].open("rb") as handle:
        before: tracemalloc.Snapshot = pickle.load(handle)
    with snaps[-1].open("rb") as handle:
        after: tracemalloc.Snapshot = pickle.load(handle)
    print("  allocation sites that grew most (tracemalloc, by traceback):")
    for stat in after.compare_to(before, "traceback")[:8]:
        if stat.size_diff <= 0:
            continue
        print(f"    {stat.size_diff / 1024:+.0f} KiB in {stat.count_diff:+d} blocks (now {stat.size / 1024:.0f} KiB):")
        for frame in stat.traceback.format(limit=6, most_recent_first=True):
            print(f"      {frame}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=50.0, help="how long the player plays (default 50)")
    parser.add_argument("--quick", action="store_true", help="5 minutes")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples (default 5)")
    parser.add_argument("--csv", type=Path, help="also write every sample to this CSV file")
    parser.add_argument("--trace", action="store_true", help="run the player under the probe (tracemalloc, census, mallinfo2)")
    parser.add_argument("--trace-every", type=float, default=120.0, help="seconds between probe samples (default 120)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="set in the player's environment")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (player log, data, trace)")
    args = parser.parse_args(argv)
    if args.quick:
        args.minutes = 5.0
        args.trace_every = min(args.trace_every, 30.0)
    if args.minutes <= 0:
        parser.error("--minutes must be positive")
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _terminate)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
