"""Generate the commune emblem and the bundled demo pictures with Pillow."""

from __future__ import annotations

import itertools
import math
import random
import unicodedata
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parents[2]
FONT_DIR = ROOT / "assets" / "fonts"
DEMO_DIR = ROOT / "assets" / "demo"

Colour = str | int | tuple[int, ...]
Point = tuple[float, float]
Box = tuple[float, float, float, float]
Stops = Sequence[tuple[float, str]]

RED = "#C8102E"
GOLD = "#FFD200"
MAX_BYTES = 450 * 1024


# --------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------


def nfc(text: str) -> str:
    """Return `text` in Unicode NFC, the form the board expects."""
    return unicodedata.normalize("NFC", text)


@cache
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """Load a bundled Noto Sans face at a pixel size."""
    name = "NotoSans-Bold.ttf" if bold else "NotoSans-Regular.ttf"
    return ImageFont.truetype(str(FONT_DIR / name), max(1, size))


def measure(text: str, size: float, bold: bool = False, tracking: float = 0.0) -> float:
    """Advance width of `text` in output pixels."""
    text = nfc(text)
    face = font(round(size * 4), bold)
    if tracking:
        return sum(face.getlength(ch) for ch in text) / 4 + tracking * (len(text) - 1)
    return face.getlength(text) / 4


def fit(text: str, size: float, max_width: float, bold: bool = False, tracking: float = 0.0) -> float:
    """Largest size not above `size` at which `text` fits in `max_width`."""
    while size > 8 and measure(text, size, bold, tracking) > max_width:
        size -= 0.5
    return size


def wrap(text: str, size: float, max_width: float, bold: bool = False) -> list[str]:
    """Greedy word wrap of `text` into lines no wider than `max_width`."""
    lines: list[str] = []
    line = ""
    for word in nfc(text).split():
        trial = f"{line} {word}".strip()
        if line and measure(trial, size, bold) > max_width:
            lines.append(line)
            line = word
        else:
            line = trial
    if line:
        lines.append(line)
    return lines


# --------------------------------------------------------------------------
# Geometry and colour helpers
# --------------------------------------------------------------------------


def hex_rgb(colour: str) -> tuple[int, int, int]:
    """`#RRGGBB` to an RGB tuple."""
    h = colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def mix(a: str, b: str, t: float) -> tuple[int, int, int]:
    """Linear blend of two hex colours."""
    ca, cb = hex_rgb(a), hex_rgb(b)
    return tuple(round(x + (y - x) * t) for x, y in zip(ca, cb, strict=True))  # type: ignore[return-value]


def ramp(stops: Stops, t: float) -> tuple[int, int, int]:
    """Colour at position `t` (0..1) of a multi-stop gradient."""
    if t <= stops[0][0]:
        return hex_rgb(stops[0][1])
    for (p0, c0), (p1, c1) in itertools.pairwise(stops):
        if t <= p1:
            return mix(c0, c1, (t - p0) / (p1 - p0) if p1 > p0 else 1.0)
    return hex_rgb(stops[-1][1])


def gradient_image(size: tuple[int, int], stops: Stops, horizontal: bool = False) -> Image.Image:
    """An RGB image filled with a linear gradient."""
    w, h = size
    n = w if horizontal else h
    strip = Image.new("RGB", (n, 1) if horizontal else (1, n))
    strip.putdata([ramp(stops, i / max(1, n - 1)) for i in range(n)])
    return strip.resize((w, h), Image.Resampling.NEAREST)


def star(cx: float, cy: float, radius: float, rotation: float = -90.0, ratio: float = 0.381966) -> list[Point]:
    """Vertices of a regular five-pointed star."""
    pts = []
    for i in range(10):
        r = radius if i % 2 == 0 else radius * ratio
        a = math.radians(rotation + i * 36)
        pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return pts


def rotate(pts: Sequence[Point], degrees: float, origin: Point) -> list[Point]:
    """Rotate points about `origin` (positive is clockwise on screen)."""
    a = math.radians(degrees)
    ox, oy = origin
    ca, sa = math.cos(a), math.sin(a)
    return [(ox + (x - ox) * ca - (y - oy) * sa, oy + (x - ox) * sa + (y - oy) * ca) for x, y in pts]


def quad(p0: Point, p1: Point, p2: Point, steps: int = 24) -> list[Point]:
    """Points along a quadratic Bézier curve."""
    out = []
    for i in range(steps + 1):
        t = i / steps
        u = 1 - t
        out.append((u * u * p0[0] + 2 * u * t * p1[0] + t * t * p2[0], u * u * p0[1] + 2 * u * t * p1[1] + t * t * p2[1]))
    return out


def grain(img: Image.Image, amount: float, seed: int) -> Image.Image:
    """Add reproducible monochrome film grain of +-`amount` levels."""
    rng = random.Random(seed)
    noise = Image.frombytes("L", img.size, rng.randbytes(img.width * img.height))
    noise = noise.filter(ImageFilter.GaussianBlur(0.45))
    noise = noise.point(lambda v: max(0, min(255, round(128 + (v - 128) * amount / 40))))
    return ImageChops.add(img, Image.merge("RGB", [noise] * 3), 1.0, -128)


# --------------------------------------------------------------------------
# Drawing surfaces
# --------------------------------------------------------------------------


class Pen:
    """ImageDraw wrapper that takes output-pixel coordinates and scales them."""

    def __init__(self, draw: ImageDraw.ImageDraw, k: float) -> None:
        self.d = draw
        self.k = k

    def _pts(self, pts: Sequence[Point]) -> list[Point]:
        return [(x * self.k, y * self.k) for x, y in pts]

    def _box(self, box: Box) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = box
        return (x0 * self.k, y0 * self.k, x1 * self.k, y1 * self.k)

    def rect(self, box: Box, fill: Colour | None = None, radius: float = 0.0, outline: Colour | None = None, width: float = 0.0) -> None:
        self.d.rounded_rectangle(self._box(box), radius=radius * self.k, fill=fill, outline=outline, width=round(width * self.k))

    def ellipse(self, box: Box, fill: Colour | None = None, outline: Colour | None = None, width: float = 0.0) -> None:
        self.d.ellipse(self._box(box), fill=fill, outline=outline, width=round(width * self.k))

    def circle(self, cx: float, cy: float, r: float, fill: Colour | None = None, outline: Colour | None = None, width: float = 0.0) -> None:
        self.ellipse((cx - r, cy - r, cx + r, cy + r), fill, outline, width)

    def polygon(self, pts: Sequence[Point], fill: Colour) -> None:
        self.d.polygon(self._pts(pts), fill=fill)

    def outline(self, pts: Sequence[Point], colour: Colour, width: float) -> None:
        self.d.polygon(self._pts(pts), outline=colour, width=max(1, round(width * self.k)))

    def line(self, pts: Sequence[Point], fill: Colour, width: float, round_caps: bool = False) -> None:
        self.d.line(self._pts(pts), fill=fill, width=max(1, round(width * self.k)), joint="curve")
        if round_caps:
            for x, y in (pts[0], pts[-1]):
                self.circle(x, y, width / 2, fill=fill)

    def pieslice(self, box: Box, start: float, end: float, fill: Colour) -> None:
        self.d.pieslice(self._box(box), start, end, fill=fill)

    def arc(self, box: Box, start: float, end: float, fill: Colour, width: float) -> None:
        self.d.arc(self._box(box), start, end, fill=fill, width=round(width * self.k))

    def text(self, xy: Point, text: str, size: float, fill: Colour, bold: bool = False, anchor: str = "la", tracking: float = 0.0) -> None:
        """Draw one line of text; `tracking` adds letter spacing in pixels."""
        text = nfc(text)
        face = font(round(size * self.k), bold)
        x, y = xy
        if not tracking:
            self.d.text((x * self.k, y * self.k), text, font=face, fill=fill, anchor=anchor)
            return
        width = measure(text, size, bold, tracking)
        x -= {"l": 0.0, "m": width / 2, "r": width}[anchor[0]]
        # Place every letter on one common baseline, found from the whole line.
        top_v = self.d.textbbox((0, 0), text, font=face, anchor="l" + anchor[1])[1]
        top_s = self.d.textbbox((0, 0), text, font=face, anchor="ls")[1]
        base = y * self.k + (top_v - top_s)
        for ch in text:
            self.d.text((x * self.k, base), ch, font=face, fill=fill, anchor="ls")
            x += face.getlength(ch) / self.k + tracking


class Canvas:
    """An RGB picture drawn supersampled and reduced at the end."""

    def __init__(self, width: int, height: int, background: Colour = "#FFFFFF", supersample: int = 2) -> None:
        self.w, self.h, self.ss = width, height, supersample
        self.img = Image.new("RGB", (width * supersample, height * supersample), background)
        self.pen = Pen(ImageDraw.Draw(self.img, "RGBA"), supersample)

    def mask(self) -> tuple[Image.Image, Pen]:
        """A blank full-size mask and a pen to paint on it."""
        m = Image.new("L", self.img.size, 0)
        return m, Pen(ImageDraw.Draw(m), self.ss)

    def apply(self, mask: Image.Image, source: Colour | Image.Image, blur: float = 0.0, opacity: float = 1.0) -> None:
        """Paint a colour (or a full-size image) through a mask."""
        if blur:
            mask = mask.filter(ImageFilter.GaussianBlur(blur * self.ss))
        if opacity < 1.0:
            mask = mask.point(lambda v: round(v * opacity))
        if not isinstance(source, Image.Image):
            source = Image.new("RGB", self.img.size, source)
        self.img.paste(source, (0, 0), mask)

    def soft(self, paint: Callable[[Pen], None], colour: Colour, blur: float = 0.0, opacity: float = 1.0) -> None:
        """Paint shapes into a mask, soften it and fill it with `colour`."""
        m, p = self.mask()
        paint(p)
        self.apply(m, colour, blur, opacity)

    def gradient(self, box: Box, stops: Stops, radius: float = 0.0, horizontal: bool = False) -> None:
        """Fill a (rounded) rectangle with a linear gradient."""
        x0, y0, x1, y1 = (round(v * self.ss) for v in box)
        g = gradient_image((x1 - x0, y1 - y0), stops, horizontal)
        m = Image.new("L", g.size, 0)
        ImageDraw.Draw(m).rounded_rectangle((0, 0, g.width - 1, g.height - 1), radius=radius * self.ss, fill=255)
        self.img.paste(g, (x0, y0), m)

    def shape_gradient(self, paint: Callable[[Pen], None], box: Box, stops: Stops, horizontal: bool = False) -> None:
        """Fill arbitrary shapes with a gradient laid over `box`."""
        m, p = self.mask()
        paint(p)
        x0, y0, x1, y1 = (round(v * self.ss) for v in box)
        g = gradient_image((x1 - x0, y1 - y0), stops, horizontal)
        self.img.paste(g, (x0, y0), m.crop((x0, y0, x1, y1)))

    def shadow(
        self,
        box: Box,
        radius: float = 0.0,
        blur: float = 12.0,
        offset: Point = (0.0, 8.0),
        opacity: float = 0.25,
        colour: Colour = "#000000",
    ) -> None:
        """Soft drop shadow under a rounded rectangle."""
        pad = blur * 3
        x0, y0 = box[0] + offset[0] - pad, box[1] + offset[1] - pad
        w, h = box[2] - box[0] + 2 * pad, box[3] - box[1] + 2 * pad
        k = self.ss
        m = Image.new("L", (round(w * k), round(h * k)), 0)
        ImageDraw.Draw(m).rounded_rectangle((pad * k, pad * k, (w - pad) * k, (h - pad) * k), radius=radius * k, fill=round(255 * opacity))
        m = m.filter(ImageFilter.GaussianBlur(blur * k))
        self.img.paste(Image.new("RGB", m.size, colour), (round(x0 * k), round(y0 * k)), m)

    def paste(self, picture: Image.Image, xy: Point) -> None:
        """Paste an RGBA picture rendered at supersampled size."""
        self.img.paste(picture, (round(xy[0] * self.ss), round(xy[1] * self.ss)), picture)

    def finish(self) -> Image.Image:
        """The picture at its output size."""
        return self.img.resize((self.w, self.h), Image.Resampling.LANCZOS)


# --------------------------------------------------------------------------
# Emblem
# --------------------------------------------------------------------------


def emblem(px: int) -> Image.Image:
    """The round emblem of UBND xã Tân Quan as an RGBA image `px` wide."""
    big = px * 4
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = Pen(ImageDraw.Draw(img), big / 512)
    k = big / 512
    c = 256.0
    pen.circle(c, c, 255, fill="#7E0A1E")
    pen.circle(c, c, 250, fill=GOLD)
    pen.circle(c, c, 228, fill="#D9A400")
    # Red field with a gentle radial light from the upper centre.
    r = 225.0
    size = round(2 * r * k)
    light = Image.radial_gradient("L").resize((round(size * 1.5), round(size * 1.5)))
    off = round(size * 0.25)
    light = light.crop((off, round(off * 0.55), off + size, round(off * 0.55) + size))
    field = Image.composite(Image.new("RGBA", (size, size), "#A00B24"), Image.new("RGBA", (size, size), "#DA1A35"), light)
    disc = Image.new("L", (size, size), 0)
    ImageDraw.Draw(disc).ellipse((0, 0, size - 1, size - 1), fill=255)
    img.paste(field, (round((c - r) * k), round((c - r) * k)), disc)
    pen.circle(c, c, 204, outline=GOLD, width=6)
    pen.polygon(star(c, 226, 134), fill=GOLD)
    label = "TÂN QUAN"
    size_pt = fit(label, 50, 262, bold=True, tracking=5)
    pen.text((c, 408), label, size_pt, GOLD, bold=True, anchor="ms", tracking=5)
    return img.resize((px, px), Image.Resampling.LANCZOS)


# --------------------------------------------------------------------------
# Icons (drawn with shapes)
# --------------------------------------------------------------------------


def truck(pen: Pen, x: float, y: float, f: float, body: str, rib: str, cab: str, glass: str, tyre: str, hub: str) -> None:
    """A side-view refuse truck facing right; about 300 x 150 units at f = 1."""

    def P(px: float, py: float) -> Point:
        return (x + px * f, y + py * f)

    def B(x0: float, y0: float, x1: float, y1: float) -> Box:
        return (x + x0 * f, y + y0 * f, x + x1 * f, y + y1 * f)

    pen.rect(B(-16, 22, 2, 100), fill=rib, radius=4 * f)
    pen.rect(B(0, 0, 186, 108), fill=body, radius=12 * f)
    for rx in (38, 74, 110, 146):
        pen.line([P(rx, 18), P(rx, 90)], fill=rib, width=7 * f, round_caps=True)
    pen.polygon([P(192, 30), P(246, 30), P(280, 70), P(294, 78), P(294, 118), P(192, 118)], fill=cab)
    pen.polygon([P(204, 42), P(240, 42), P(266, 72), P(204, 72)], fill=glass)
    pen.rect(B(286, 90, 297, 102), fill="#FFFFFF", radius=2 * f)
    pen.line([P(212, 86), P(230, 86)], fill=glass, width=4 * f)
    pen.rect(B(-8, 108, 298, 124), fill=tyre, radius=5 * f)
    for wx in (46, 100, 236):
        pen.circle(x + wx * f, y + 128 * f, 25 * f, fill=tyre)
        pen.circle(x + wx * f, y + 128 * f, 10 * f, fill=hub)


def wheelie_bin(pen: Pen, x: float, y: float, f: float, body: str, lid: str, rib: str, tyre: str) -> None:
    """A wheeled rubbish bin; about 100 x 150 units at f = 1."""

    def P(px: float, py: float) -> Point:
        return (x + px * f, y + py * f)

    pen.rect((x + 36 * f, y, x + 64 * f, y + 14 * f), fill=lid, radius=5 * f)
    pen.polygon([P(8, 32), P(92, 32), P(84, 130), P(16, 130)], fill=body)
    pen.rect((x, y + 10 * f, x + 100 * f, y + 32 * f), fill=lid, radius=7 * f)
    for rx in (34, 50, 66):
        pen.line([P(rx, 48), P(rx, 114)], fill=rib, width=6 * f, round_caps=True)
    pen.circle(x + 22 * f, y + 134 * f, 14 * f, fill=tyre)
    pen.circle(x + 22 * f, y + 134 * f, 5 * f, fill=lid)


def megaphone(pen: Pen, cx: float, cy: float, s: float, ink: str) -> None:
    """A hand loudspeaker with sound waves, fitting a 2s square."""

    def P(u: float, v: float) -> Point:
        return (cx + u * s, cy + v * s)

    pen.rect((cx - 0.95 * s, cy - 0.2 * s, cx - 0.55 * s, cy + 0.2 * s), fill=ink, radius=0.08 * s)
    pen.polygon([P(-0.6, -0.22), P(0.25, -0.62), P(0.25, 0.62), P(-0.6, 0.22)], fill=ink)
    pen.ellipse((cx + 0.14 * s, cy - 0.64 * s, cx + 0.36 * s, cy + 0.64 * s), fill=ink)
    pen.polygon([P(-0.45, 0.18), P(-0.25, 0.18), P(-0.32, 0.62), P(-0.5, 0.62)], fill=ink)
    for r in (0.3, 0.55):
        box = (cx + 0.25 * s - r * s, cy - r * s, cx + 0.25 * s + r * s, cy + r * s)
        pen.arc(box, -40, 40, ink, 0.09 * s)


def people(pen: Pen, cx: float, cy: float, s: float, ink: str, gap: str) -> None:
    """Three standing figures (a team), fitting a 2s square."""

    def person(px: float, py: float, scale: float, fill: str) -> None:
        head = 0.22 * scale
        pen.circle(cx + px * s, cy + (py - 0.34 * scale) * s, head * s, fill=fill)
        body = (cx + (px - 0.4 * scale) * s, cy + py * s, cx + (px + 0.4 * scale) * s, cy + (py + 1.2 * scale) * s)
        pen.pieslice(body, 180, 360, fill=fill)

    person(-0.52, 0.0, 0.8, ink)
    person(0.52, 0.0, 0.8, ink)
    person(0.0, 0.12, 1.0 + 0.12, gap)
    person(0.0, 0.12, 1.0, ink)


def life_buoy(pen: Pen, cx: float, cy: float, s: float, hole: str) -> None:
    """A red and white ring buoy."""
    box = (cx - s, cy - s, cx + s, cy + s)
    pen.circle(cx, cy, s * 1.02, fill="#0B1E3A")
    pen.ellipse(box, fill="#E53935")
    for a in (45, 135, 225, 315):
        pen.pieslice(box, a - 14, a + 14, fill="#FFFFFF")
    pen.circle(cx, cy, s * 0.52, fill="#0B1E3A")
    pen.circle(cx, cy, s * 0.48, fill=hole)
    pen.arc((cx - s * 0.76, cy - s * 0.76, cx + s * 0.76, cy + s * 0.76), 0, 360, "#00000030", s * 0.04)


def rice_bowl(pen: Pen, cx: float, cy: float, s: float, ink: str, rice: str) -> None:
    """A bowl of rice with chopsticks and a wisp of steam."""
    for sx in (-0.38, 0.0):
        wisp = quad((cx + sx * s, cy - 0.62 * s), (cx + (sx + 0.2) * s, cy - 0.82 * s), (cx + sx * s, cy - 1.02 * s), 10)
        pen.line(wisp, fill=ink, width=0.07 * s, round_caps=True)
    pen.pieslice((cx - 0.74 * s, cy - 0.58 * s, cx + 0.74 * s, cy + 0.42 * s), 180, 360, fill=rice)
    pen.line([(cx + 0.2 * s, cy - 0.2 * s), (cx + 0.98 * s, cy - 0.86 * s)], fill=ink, width=0.08 * s, round_caps=True)
    pen.line([(cx + 0.34 * s, cy - 0.14 * s), (cx + 1.06 * s, cy - 0.66 * s)], fill=ink, width=0.08 * s, round_caps=True)
    pen.pieslice((cx - 0.96 * s, cy - 0.78 * s, cx + 0.96 * s, cy + 0.66 * s), 0, 180, fill=ink)
    pen.rect((cx - 1.0 * s, cy - 0.14 * s, cx + 1.0 * s, cy - 0.02 * s), fill=ink, radius=0.06 * s)
    pen.rect((cx - 0.34 * s, cy + 0.56 * s, cx + 0.34 * s, cy + 0.72 * s), fill=ink, radius=0.05 * s)


def calendar(pen: Pen, cx: float, cy: float, s: float, paper: str, band: str, ink: str, day: str) -> None:
    """A desk calendar page showing a day number."""
    pen.rect((cx - 0.78 * s, cy - 0.66 * s, cx + 0.78 * s, cy + 0.8 * s), fill=paper, radius=0.16 * s)
    pen.rect((cx - 0.78 * s, cy - 0.66 * s, cx + 0.78 * s, cy - 0.22 * s), fill=band, radius=0.16 * s)
    pen.rect((cx - 0.78 * s, cy - 0.36 * s, cx + 0.78 * s, cy - 0.22 * s), fill=band)
    for rx in (-0.4, 0.4):
        pen.rect((cx + (rx - 0.07) * s, cy - 0.84 * s, cx + (rx + 0.07) * s, cy - 0.5 * s), fill=paper, radius=0.07 * s)
    pen.text((cx, cy + 0.32 * s), day, 0.72 * s, ink, bold=True, anchor="mm")


def family(pen: Pen, cx: float, cy: float, s: float, ink: str) -> None:
    """A mother and a small child."""
    pen.circle(cx - 0.28 * s, cy - 0.5 * s, 0.26 * s, fill=ink)
    pen.pieslice((cx - 0.78 * s, cy - 0.14 * s, cx + 0.22 * s, cy + 1.7 * s), 180, 360, fill=ink)
    pen.rect((cx - 0.78 * s, cy + 0.6 * s, cx + 0.22 * s, cy + 0.78 * s), fill=ink, radius=0.05 * s)
    pen.circle(cx + 0.5 * s, cy + 0.04 * s, 0.19 * s, fill=ink)
    pen.pieslice((cx + 0.18 * s, cy + 0.3 * s, cx + 0.82 * s, cy + 1.26 * s), 180, 360, fill=ink)
    pen.rect((cx + 0.18 * s, cy + 0.66 * s, cx + 0.82 * s, cy + 0.78 * s), fill=ink, radius=0.04 * s)


def sparkle(pen: Pen, x: float, y: float, r: float, fill: Colour) -> None:
    """A four-pointed twinkle."""
    q = r * 0.25
    pen.polygon([(x, y - r), (x + q, y - q), (x + r, y), (x + q, y + q), (x, y + r), (x - q, y + q), (x - r, y), (x - q, y - q)], fill=fill)


def check_badge(pen: Pen, cx: float, cy: float, r: float, fill: str, ink: str) -> None:
    """A filled circle with a tick."""
    pen.circle(cx, cy, r, fill=fill)
    pen.line([(cx - 0.45 * r, cy + 0.02 * r), (cx - 0.12 * r, cy + 0.36 * r), (cx + 0.5 * r, cy - 0.34 * r)], fill=ink, width=0.22 * r)


def phone(pen: Pen, cx: float, cy: float, s: float, ink: str, screen: str) -> None:
    """A mobile phone seen from the front."""
    pen.rect((cx - 0.5 * s, cy - 0.86 * s, cx + 0.5 * s, cy + 0.86 * s), fill=ink, radius=0.16 * s)
    pen.rect((cx - 0.38 * s, cy - 0.62 * s, cx + 0.38 * s, cy + 0.5 * s), fill=screen, radius=0.04 * s)
    pen.circle(cx, cy + 0.68 * s, 0.08 * s, fill=screen)


# --------------------------------------------------------------------------
# 1. Logo
# --------------------------------------------------------------------------


def make_logo(path: Path) -> None:
    """512 x 512 transparent emblem."""
    emblem(512).save(path, optimize=True)


# --------------------------------------------------------------------------
# 2. Refuse collection timetable
# --------------------------------------------------------------------------


def make_refuse(path: Path) -> None:
    """Weekly refuse collection timetable, green theme, 1600 x 1000."""
    cv = Canvas(1600, 1000, "#F2F7F0")
    pen = cv.pen
    dark, green, mid = "#1B5E20", "#2E7D32", "#43A047"

    cv.gradient((0, 0, 1600, 1000), [(0, "#F4F9F2"), (1, "#E3EFDF")])
    # Header band.
    cv.gradient((0, 0, 1600, 232), [(0, "#17521C"), (0.6, "#2B7A30"), (1, "#3A8E3F")], horizontal=True)
    pen.circle(1460, -60, 260, fill="#FFFFFF0F")
    pen.circle(1210, 250, 150, fill="#FFFFFF0A")
    pen.rect((0, 228, 1600, 236), fill="#FFD54F")
    cv.paste(emblem(128 * cv.ss), (70, 52))
    pen.text((226, 70), "UBND XÃ TÂN QUAN", 24, "#C8E6C9", anchor="lt", tracking=3)
    title = "LỊCH THU GOM RÁC THẢI SINH HOẠT"
    pen.text((224, 100), title, fit(title, 56, 950, bold=True), "#FFFFFF", bold=True, anchor="lt")
    pen.text((226, 176), "Thời gian thu gom: 6:00 – 8:00 sáng", 28, "#FFE082", anchor="lt")
    # Truck on a little road.
    for i, ln in enumerate((34, 22, 28)):
        yy = 104 + i * 26
        pen.line([(1236 - ln, yy), (1230, yy)], fill="#FFFFFF55", width=5, round_caps=True)
    pen.line([(1230, 206), (1545, 206)], fill="#FFFFFF40", width=3)
    truck(pen, 1252, 58, 0.93, body="#E8F5E9", rib="#A5D6A7", cab="#FFC928", glass="#1B5E20", tyre="#0E2E12", hub="#E8F5E9")

    # Timetable card.
    x0, x1, y0 = 70.0, 1530.0, 268.0
    head_h, row_h = 68.0, 90.0
    first = 272.0
    col_w = (x1 - x0 - first) / 7
    rows = [("Ấp 1", 0), ("Ấp 2", 0), ("Ấp 3", 1), ("Ấp 4", 1), ("Ấp Sóc Ruộng", 2)]
    days = ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật"]
    plan = {0: (0, 3), 1: (1, 4), 2: (2, 5)}
    y1 = y0 + head_h + row_h * len(rows)
    cv.shadow((x0, y0, x1, y1), radius=20, blur=14, offset=(0, 10), opacity=0.22, colour="#1B3A1E")
    pen.rect((x0, y0, x1, y1), fill="#FFFFFF", radius=20)
    cv.gradient((x0, y0, x1, y0 + head_h + 20), [(0, green), (1, "#276C2B")], radius=20)
    pen.rect((x0, y0 + head_h, x1, y0 + head_h + 22), fill="#FFFFFF")
    tints = {0: "#FFFFFF", 1: "#F1F8EC", 2: "#FFFFFF"}
    for i, (_, group) in enumerate(rows):
        ry = y0 + head_h + i * row_h
        last = i == len(rows) - 1
        pen.rect((x0, ry, x1, ry + row_h), fill=tints[group], radius=20 if last else 0)
        if last:
            pen.rect((x0, ry, x1, ry + 30), fill=tints[group])
    sunday = (x0 + first + 6 * col_w, y0 + head_h, x1, y1)
    pen.rect(sunday, fill="#EEF1EE", radius=20)
    pen.rect((sunday[0], sunday[1], sunday[2], sunday[3] - 30), fill="#EEF1EE")
    pen.rect((sunday[0], sunday[1], sunday[2] - 30, sunday[3]), fill="#EEF1EE")
    pen.text((x0 + 36, y0 + head_h / 2), "Khu vực", 28, "#FFFFFF", bold=True, anchor="lm")
    for j, day in enumerate(days):
        cx = x0 + first + (j + 0.5) * col_w
        pen.text((cx, y0 + head_h / 2), day, 27, "#C8E6C9" if j == 6 else "#FFFFFF", bold=True, anchor="mm")
        if j:
            gx = x0 + first + j * col_w
            pen.line([(gx, y0 + head_h + 14), (gx, y1 - 14)], fill="#DCE8DA", width=2)
    pen.line([(x0 + first, y0 + head_h + 14), (x0 + first, y1 - 14)], fill="#DCE8DA", width=2)
    group_colours = {0: "#43A047", 1: "#2E7D32", 2: "#F9A825"}
    for i, (name, group) in enumerate(rows):
        ry = y0 + head_h + i * row_h
        cy = ry + row_h / 2
        if i:
            strong = rows[i - 1][1] != group
            pen.line([(x0 + 20, ry), (x1 - 20, ry)], fill="#9CCC9C" if strong else "#E3ECE1", width=3 if strong else 2)
        pen.rect((x0 + 30, cy - 22, x0 + 38, cy + 22), fill=group_colours[group], radius=4)
        pen.text((x0 + 56, cy), name, fit(name, 32, first - 70, bold=True), "#1E3B22", bold=True, anchor="lm")
        for j in range(7):
            cx = x0 + first + (j + 0.5) * col_w
            if j in plan[group]:
                pen.rect((cx - 74, cy - 25, cx + 74, cy + 25), fill=mid, radius=25)
                pen.text((cx, cy + 1), "6:00–8:00", 24, "#FFFFFF", bold=True, anchor="mm")
            else:
                pen.line([(cx - 12, cy), (cx + 12, cy)], fill="#C9D5C8", width=4, round_caps=True)

    # Notes.
    notes = ["Để rác trước cổng nhà trước giờ thu gom", "Buộc kín miệng túi rác", "Phân loại rác tại nguồn"]
    widths = [measure(n, 26) + 52 for n in notes]
    gap = (x1 - x0 - sum(widths)) / (len(notes) - 1)
    nx = x0
    for note, w in zip(notes, widths, strict=True):
        check_badge(pen, nx + 17, 856, 17, mid, "#FFFFFF")
        pen.text((nx + 46, 856), note, 26, "#28452B", anchor="lm")
        nx += w + gap

    # Footer.
    cv.gradient((0, 900, 1600, 1000), [(0, dark), (1, green)], horizontal=True)
    slogan = "Bỏ rác đúng giờ, đúng nơi quy định"
    tw = measure(slogan, 44, bold=True)
    left = (1600 - tw - 90) / 2
    wheelie_bin(pen, left, 912, 0.5, body="#66BB6A", lid="#A5D6A7", rib="#2E7D32", tyre="#0E2E12")
    pen.text((left + 90, 950), slogan, 44, "#FFFFFF", bold=True, anchor="lm")
    cv.finish().save(path, optimize=True)


# --------------------------------------------------------------------------
# 3. Storm preparedness infographic
# --------------------------------------------------------------------------


def make_storm(path: Path) -> None:
    """'4 tại chỗ' storm and flood preparedness infographic, 1920 x 1080."""
    cv = Canvas(1920, 1080)
    pen = cv.pen
    rng = random.Random(20)
    cv.gradient((0, 0, 1920, 1080), [(0, "#0A1A33"), (0.45, "#12345C"), (0.8, "#0F2B4D"), (1, "#0A1F3A")])

    def clouds(p: Pen) -> None:
        for _ in range(26):
            cx, cy = rng.uniform(-100, 2020), rng.uniform(-80, 170)
            rx, ry = rng.uniform(120, 300), rng.uniform(50, 110)
            p.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255)

    cv.soft(clouds, "#223F66", blur=30, opacity=0.9)
    cv.soft(
        lambda p: [p.ellipse((x - 200, y - 60, x + 200, y + 60), fill=255) for x, y in ((300, 40), (900, 10), (1500, 60), (1800, 20))],
        "#3A5F8C",
        blur=40,
        opacity=0.5,
    )

    def rain(p: Pen) -> None:
        for _ in range(520):
            x, y = rng.uniform(-100, 1980), rng.uniform(-40, 1080)
            ln = rng.uniform(24, 60)
            p.line([(x, y), (x - ln * 0.28, y + ln)], fill=rng.randint(90, 255), width=1.6)

    cv.soft(rain, "#A8C8F0", opacity=0.22)
    bolt = [(1742, 34), (1694, 134), (1732, 134), (1686, 236), (1786, 112), (1744, 112), (1786, 34)]
    cv.soft(lambda p: p.polygon(bolt, fill=255), "#FFE27A", blur=36, opacity=0.55)
    pen.polygon(bolt, fill="#FFE680")

    # Title block.
    cv.paste(emblem(112 * cv.ss), (80, 66))
    pen.text((216, 82), "UBND XÃ TÂN QUAN  ·  BAN CHỈ HUY PHÒNG THỦ DÂN SỰ XÃ", 24, "#9FC3EC", anchor="lt", tracking=2.5)
    part_a, part_b = "PHÒNG, CHỐNG BÃO LŨ – ", "4 TẠI CHỖ"
    size = 74.0
    pen.text((212, 116), part_a, size, "#FFFFFF", bold=True, anchor="lt")
    pen.text((212 + measure(part_a, size, True), 116), part_b, size, GOLD, bold=True, anchor="lt")
    pen.text((216, 222), "Chủ động ứng phó, bảo vệ tính mạng và tài sản của Nhân dân", 32, "#D3E3F7", anchor="lt")

    panels = [
        ("Chỉ huy tại chỗ", "#FFD200", "Ban chỉ huy xã và các ấp trực 24/24, điều hành kịp thời khi có bão lũ."),
        ("Lực lượng tại chỗ", "#FF9A4D", "Dân quân, công an, thanh niên sẵn sàng cứu hộ, sơ tán người dân."),
        ("Vật tư, phương tiện tại chỗ", "#5CC8F5", "Chuẩn bị xuồng, áo phao, bao cát, đèn pin, máy phát điện."),
        ("Hậu cần tại chỗ", "#72C474", "Dự trữ lương thực, nước uống, thuốc men đủ dùng ít nhất 7 ngày."),
    ]
    margin, gap = 80.0, 36.0
    card_w = (1920 - 2 * margin - 3 * gap) / 4
    top, bottom = 300.0, 868.0
    for i, (title, accent, desc) in enumerate(panels):
        x0 = margin + i * (card_w + gap)
        x1 = x0 + card_w
        cx = (x0 + x1) / 2
        cv.shadow((x0, top, x1, bottom), radius=26, blur=18, offset=(0, 14), opacity=0.45, colour="#020914")
        cv.gradient((x0, top, x1, bottom), [(0, "#1F4675"), (1, "#16355C")], radius=26)
        pen.rect((x0, top, x1, bottom), outline="#FFFFFF26", width=2, radius=26)
        pen.rect((x0 + 40, top, x1 - 40, top + 6), fill=accent, radius=3)
        icy = top + 150
        pen.circle(cx, icy, 98, fill=accent + "33")
        pen.circle(cx, icy, 82, fill=accent)
        ink = "#0B1E3A"
        if i == 0:
            megaphone(pen, cx + 4, icy, 50, ink)
        elif i == 1:
            people(pen, cx, icy - 4, 52, ink, accent)
        elif i == 2:
            life_buoy(pen, cx, icy, 50, accent)
        else:
            rice_bowl(pen, cx - 6, icy + 10, 50, ink, "#FFFFFF")
        pen.circle(x0 + 44, top + 44, 22, fill="#0B1E3A", outline=accent, width=3)
        pen.text((x0 + 44, top + 45), str(i + 1), 24, accent, bold=True, anchor="mm")
        lines = wrap(title, 38, card_w - 60, bold=True)
        ty = top + 300 - (len(lines) - 1) * 24
        for ln in lines:
            pen.text((cx, ty), ln, 38, "#FFFFFF", bold=True, anchor="mm")
            ty += 48
        pen.rect((cx - 30, top + 360, cx + 30, top + 364), fill=accent, radius=2)
        dy = top + 400
        for ln in wrap(desc, 29, card_w - 56):
            pen.text((cx, dy), ln, 29, "#D3E1F2", anchor="mm")
            dy += 44

    # Hotline.
    label, number = "Đường dây nóng: ", "0271 3 645 115"
    lw, nw = measure(label, 40), measure(number, 54, True)
    pill_w = 120 + lw + nw + 60
    px0 = (1920 - pill_w) / 2
    cv.shadow((px0, 924, px0 + pill_w, 1024), radius=50, blur=16, opacity=0.5, colour="#000000")
    cv.gradient((px0, 924, px0 + pill_w, 1024), [(0, "#E53935"), (1, "#B71C1C")], radius=50, horizontal=True)
    pen.circle(px0 + 62, 974, 36, fill="#FFFFFF")
    phone(pen, px0 + 62, 974, 24, "#C62828", "#FFFFFF")
    pen.text((px0 + 120, 976), label, 40, "#FFFFFF", anchor="lm")
    pen.text((px0 + 120 + lw, 974), number, 54, GOLD, bold=True, anchor="lm")
    img = cv.finish()
    img.save(path, quality=88, optimize=True, progressive=True, subsampling=0)


# --------------------------------------------------------------------------
# 4. Immunisation poster
# --------------------------------------------------------------------------


def shield_points(cx: float, cy: float, w: float, h: float) -> list[Point]:
    """Outline of a heraldic shield centred on (cx, cy)."""
    sx, sy = w / 2, h / 2

    def S(pts: list[Point]) -> list[Point]:
        return [(cx + u * sx, cy + v * sy) for u, v in pts]

    left = (
        quad((0, -1), (-0.45, -0.8), (-1, -0.8))
        + quad((-1, -0.8), (-1, -0.2), (-1, 0.02))[1:]
        + quad((-1, 0.02), (-0.92, 0.72), (0, 1))[1:]
    )
    right = [(-u, v) for u, v in reversed(left)][1:-1]
    return S(left + right)


def syringe(pen: Pen, cx: float, cy: float, half: float, angle: float, outline: str, liquid: str) -> None:
    """A syringe centred on (cx, cy), `half` long each way, turned by `angle`."""

    def R(x0: float, y0: float, x1: float, y1: float) -> list[Point]:
        pts = [
            (cx + x0 * half, cy + y0 * half),
            (cx + x1 * half, cy + y0 * half),
            (cx + x1 * half, cy + y1 * half),
            (cx + x0 * half, cy + y1 * half),
        ]
        return rotate(pts, angle, (cx, cy))

    e = 0.024
    parts: list[tuple[list[Point], list[Point], str]] = [
        (R(-1.0 - e, -0.24 - e, -0.92 + e, 0.24 + e), R(-1.0, -0.24, -0.92, 0.24), "#FFFFFF"),
        (R(-0.93, -0.06 - e, -0.6, 0.06 + e), R(-0.93, -0.06, -0.6, 0.06), "#FFFFFF"),
        (R(-0.64 - e, -0.3 - e, -0.56 + e, 0.3 + e), R(-0.64, -0.3, -0.56, 0.3), "#FFFFFF"),
        (R(-0.57 - e, -0.16 - e, 0.45 + e, 0.16 + e), R(-0.57, -0.16, 0.45, 0.16), "#FFFFFF"),
    ]
    for out, inner, fill in parts:
        pen.polygon(out, fill=outline)
        pen.polygon(inner, fill=fill)
    pen.polygon(R(-0.16, -0.16, 0.45, 0.16), fill=liquid)
    pen.polygon(R(-0.2, -0.16, -0.14, 0.16), fill=outline)
    for t in (-0.4, -0.26, -0.02, 0.12, 0.26):
        pen.polygon(R(t - 0.012, -0.16, t + 0.012, -0.02), fill=outline)
    hub = [(0.44, -0.12 - e), (0.6, -0.06 - e), (0.6, 0.06 + e), (0.44, 0.12 + e)]
    pen.polygon(rotate([(cx + u * half, cy + v * half) for u, v in hub], angle, (cx, cy)), fill=outline)
    pen.polygon(R(0.58, -0.018, 1.0, 0.018), fill=outline)


def make_vaccination(path: Path) -> None:
    """Expanded Programme on Immunisation poster, light teal, 1200 x 1600."""
    cv = Canvas(1200, 1600)
    pen = cv.pen
    deep, teal, coral = "#004D40", "#00897B", "#FF7A59"
    cv.gradient((0, 0, 1200, 1600), [(0, "#EFFAF8"), (0.55, "#D8F2EE"), (1, "#BFE8E2")])
    pen.circle(1120, 80, 330, fill="#00897B12")
    pen.circle(60, 1000, 260, fill="#00897B0E")
    rng = random.Random(4)
    for _ in range(16):
        x, y = rng.uniform(60, 1140), rng.uniform(200, 820)
        if math.hypot(x - 600, y - 520) < 360:
            continue
        r = rng.uniform(8, 16)
        colour = rng.choice(["#00897B40", "#FF7A5955"])
        pen.rect((x - r, y - r * 0.3, x + r, y + r * 0.3), fill=colour, radius=r * 0.3)
        pen.rect((x - r * 0.3, y - r, x + r * 0.3, y + r), fill=colour, radius=r * 0.3)

    # Header.
    cv.paste(emblem(96 * cv.ss), (80, 54))
    pen.text((196, 74), "UBND XÃ TÂN QUAN", 22, teal, anchor="lt", tracking=3)
    pen.text((194, 104), "Trạm Y tế xã Tân Quan", 38, deep, bold=True, anchor="lt")

    # Hero: shield with a syringe on a white disc.
    hx, hy = 600.0, 520.0
    cv.soft(lambda p: p.circle(hx, hy + 18, 292, fill=255), "#00695C", blur=26, opacity=0.22)
    pen.circle(hx, hy, 292, fill="#FFFFFF")
    pen.circle(hx, hy, 262, fill="#E6F6F3")
    shield = shield_points(hx, hy + 6, 300, 360)
    cv.shape_gradient(lambda p: p.polygon(shield, fill=255), (hx - 150, hy - 180, hx + 150, hy + 190), [(0, "#26B3A3"), (1, "#00796B")])
    inner = shield_points(hx, hy + 6, 250, 306)
    pen.outline(inner, "#FFFFFF80", 5)
    # Cross on the shield.
    pen.rect((hx - 24, hy - 86, hx + 24, hy + 30), fill="#FFFFFF", radius=8)
    pen.rect((hx - 82, hy - 52, hx + 82, hy - 4), fill="#FFFFFF", radius=8)
    syringe(pen, hx + 18, hy + 56, 205, -38, deep, coral)
    for sx, sy, sr in ((350, 300, 16), (860, 320, 12), (880, 720, 18), (330, 690, 10)):
        sparkle(pen, sx, sy, sr, coral)

    # Title.
    title = "TIÊM CHỦNG MỞ RỘNG"
    size = fit(title, 100, 1040, bold=True)
    pen.text((600, 900), title, size, deep, bold=True, anchor="ms")
    pen.rect((540, 930, 660, 938), fill=coral, radius=4)
    pen.text((600, 992), "Miễn phí  ·  Đầy đủ  ·  Đúng lịch", 36, teal, anchor="ms")

    # Information cards.
    cards = [
        ("THỜI GIAN", "Ngày 25 và 26 hằng tháng", "calendar"),
        ("ĐỐI TƯỢNG", "Trẻ em dưới 5 tuổi và phụ nữ có thai", "family"),
    ]
    for i, (label, text, icon) in enumerate(cards):
        y0 = 1060 + i * 190
        box = (80.0, y0, 1120.0, y0 + 160)
        cv.shadow(box, radius=28, blur=16, offset=(0, 10), opacity=0.16, colour="#00463C")
        pen.rect(box, fill="#FFFFFF", radius=28)
        cv.gradient((112, y0 + 24, 224, y0 + 136), [(0, "#26A69A"), (1, "#00796B")], radius=56)
        if icon == "calendar":
            calendar(pen, 168, y0 + 84, 40, "#FFFFFF", coral, deep, "25")
        else:
            family(pen, 168, y0 + 70, 44, "#FFFFFF")
        pen.text((256, y0 + 52), label, 22, teal, bold=True, anchor="lm", tracking=3)
        pen.text((254, y0 + 104), text, fit(text, 44, 840, bold=True), "#123B36", bold=True, anchor="lm")

    # Footer.
    cv.gradient((0, 1490, 1200, 1600), [(0, "#00695C"), (1, "#00897B")], horizontal=True)
    note = "Nhớ mang theo sổ tiêm chủng khi đưa trẻ đi tiêm"
    pen.text((600, 1546), note, fit(note, 34, 1040), "#FFFFFF", anchor="mm")
    cv.finish().save(path, quality=88, optimize=True, progressive=True)


# --------------------------------------------------------------------------
# 5. Great National Unity festival scene
# --------------------------------------------------------------------------


def ridge(base: float, waves: Sequence[tuple[float, float, float]], width: float = 1600, bottom: float = 900) -> list[Point]:
    """A hill silhouette polygon made of summed sine waves."""
    pts: list[Point] = [(0, bottom)]
    x = 0.0
    while x <= width:
        y = base + sum(a * math.sin(x * f + ph) for a, f, ph in waves)
        pts.append((x, y))
        x += 6
    pts.append((width, bottom))
    return pts


def waving_flag(pen: Pen, x: float, y: float, w: float, h: float, phase: float, star_colour: str = GOLD) -> None:
    """A Vietnamese flag fluttering to the right of a pole top at (x, y)."""
    steps = 24
    top: list[Point] = []
    bot: list[Point] = []
    for i in range(steps + 1):
        t = i / steps
        dy = math.sin(t * 5.2 + phase) * h * 0.09 * t
        dx = -abs(math.sin(t * 5.2 + phase)) * w * 0.02 * t
        top.append((x + t * w + dx, y + dy))
        bot.append((x + t * w + dx, y + h + dy * 0.9))
    pen.polygon(top + bot[::-1], fill="#D52B1E")
    for i in range(steps):
        t = i / steps
        shade = math.cos(t * 5.2 + phase)
        if shade < 0:
            alpha = round(-shade * 70)
            pen.polygon([top[i], top[i + 1], bot[i + 1], bot[i]], fill=(80, 0, 0, alpha))
    mid = steps // 2
    cy = (top[mid][1] + bot[mid][1]) / 2
    pen.polygon(star(top[mid][0], cy, h * 0.3), fill=star_colour)


def bunting(
    pen: Pen, p0: Point, p1: Point, sag: float, count: int, size: float, colours: Sequence[Colour], string: Colour = "#5A3A2A"
) -> None:
    """A string of triangular pennants hanging between two points."""

    def at(t: float) -> Point:
        return (p0[0] + (p1[0] - p0[0]) * t, p0[1] + (p1[1] - p0[1]) * t + sag * 4 * t * (1 - t))

    pen.line([at(i / 40) for i in range(41)], fill=string, width=max(1.0, size * 0.06))
    for i in range(count):
        t = (i + 0.5) / count
        half = 0.5 / count * 0.8
        a, b = at(t - half), at(t + half)
        mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
        dx, dy = b[0] - a[0], b[1] - a[1]
        n = math.hypot(dx, dy) or 1.0
        tip = (mx - dy / n * size * 0.1 + 0, my + size)
        pen.polygon([a, b, tip], fill=colours[i % len(colours)])


def tree(pen: Pen, x: float, y: float, r: float, dark: str, mid: str, light: str, rng: random.Random) -> None:
    """A rounded broadleaf tree whose trunk foot is at (x, y)."""
    pen.polygon([(x - r * 0.08, y), (x + r * 0.08, y), (x + r * 0.05, y - r * 1.2), (x - r * 0.05, y - r * 1.2)], fill="#5B4030")
    blobs = [(rng.uniform(-0.7, 0.7) * r, -r * 1.45 + rng.uniform(-0.5, 0.5) * r, rng.uniform(0.45, 0.7) * r) for _ in range(9)]
    for bx, by, br in blobs:
        pen.circle(x + bx, y + by, br, fill=dark)
    for bx, by, br in blobs:
        pen.circle(x + bx + br * 0.12, y + by - br * 0.1, br * 0.8, fill=mid)
    for bx, by, br in blobs[:5]:
        pen.circle(x + bx + br * 0.3, y + by - br * 0.32, br * 0.42, fill=light)


def palm(pen: Pen, x: float, y: float, height: float, lean: float, trunk: str, leaf: str) -> None:
    """An areca palm with its foot at (x, y)."""
    top = (x + lean, y - height)
    pen.line(quad((x, y), (x + lean * 0.2, y - height * 0.5), top, 12), fill=trunk, width=height * 0.025)
    for k in range(9):
        ang = math.radians(-170 + k * 20)
        length = height * 0.32
        side_l: list[Point] = []
        side_r: list[Point] = []
        for i in range(13):
            t = i / 12
            px = top[0] + math.cos(ang) * length * t
            py = top[1] + math.sin(ang) * length * t + length * 0.55 * t * t
            wdt = length * 0.07 * math.sin(math.pi * t)
            nx, ny = -math.sin(ang), math.cos(ang)
            side_l.append((px + nx * wdt, py + ny * wdt))
            side_r.append((px - nx * wdt, py - ny * wdt))
        pen.polygon(side_l + side_r[::-1], fill=leaf)


def person(pen: Pen, x: float, y: float, h: float, shirt: str, trousers: str, hair: str = "#2A1E18") -> None:
    """A small standing figure with its feet at (x, y) and height `h`."""
    pen.ellipse((x - h * 0.16, y - h * 0.04, x + h * 0.16, y + h * 0.03), fill=(30, 40, 20, 60))
    pen.rect((x - h * 0.1, y - h * 0.48, x + h * 0.1, y), fill=trousers, radius=h * 0.04)
    pen.rect((x - h * 0.14, y - h * 0.8, x + h * 0.14, y - h * 0.42), fill=shirt, radius=h * 0.08)
    pen.circle(x, y - h * 0.9, h * 0.1, fill="#D9A77E")
    pen.pieslice((x - h * 0.105, y - h * 1.005, x + h * 0.105, y - h * 0.8), 180, 360, fill=hair)


def make_festival(path: Path) -> None:
    """Photo-like festive scene at the commune hall, 1600 x 900."""
    cv = Canvas(1600, 900)
    pen = cv.pen
    rng = random.Random(1118)
    sun = (1290.0, 150.0)
    cv.gradient((0, 0, 1600, 900), [(0, "#3F86CF"), (0.3, "#7DB6E6"), (0.56, "#EFD9B4"), (0.64, "#F7DDB0"), (1, "#F7DDB0")])
    cv.soft(lambda p: p.circle(*sun, 420, fill=255), "#FFF3D6", blur=160, opacity=0.6)
    cv.soft(lambda p: p.circle(*sun, 150, fill=255), "#FFF7DF", blur=50, opacity=0.8)
    cv.soft(lambda p: p.circle(*sun, 44, fill=255), "#FFFDF3", blur=2)

    def clouds(p: Pen) -> None:
        for cx, cy, s in ((230, 120, 1.2), (620, 70, 0.8), (880, 190, 1.0), (120, 300, 0.7)):
            for _ in range(9):
                dx, dy = rng.uniform(-140, 140) * s, rng.uniform(-20, 25) * s
                r = rng.uniform(40, 75) * s
                p.ellipse((cx + dx - r * 1.3, cy + dy - r, cx + dx + r * 1.3, cy + dy + r), fill=255)

    cv.soft(clouds, "#FFFFFF", blur=14, opacity=0.75)

    # Hills, far to near.
    far = ridge(455, [(28, 0.004, 0.5), (14, 0.011, 2.0), (6, 0.03, 1.0)])
    cv.soft(lambda p: p.polygon(far, fill=255), "#9DB9B4", blur=2.5)
    midr = ridge(515, [(22, 0.005, 3.0), (10, 0.016, 0.2), (4, 0.05, 1.5)])
    cv.soft(lambda p: p.polygon(midr, fill=255), "#7EA68A", blur=1.2)
    cv.soft(lambda p: p.rect((0, 470, 1600, 560), fill=255), "#FFF4DC", blur=30, opacity=0.35)
    near = ridge(585, [(10, 0.006, 1.0), (5, 0.02, 2.2)])
    cv.shape_gradient(lambda p: p.polygon(near, fill=255), (0, 560, 1600, 900), [(0, "#6FA55A"), (0.4, "#5E984B"), (1, "#3F7A34")])

    # Trees behind the hall.
    for px_, lean in ((250, -14), (330, 10), (1250, 8), (1390, -12)):
        palm(pen, px_, 640, 300, lean, "#6B5A48", "#3C6E34")
    trees = ((140, 640, 90), (300, 620, 70), (1320, 625, 80), (1480, 645, 95), (1180, 610, 55), (420, 612, 50))
    for tx, ty, tr in sorted(trees, key=lambda t: t[1]):
        tree(pen, tx, ty, tr, "#2F5E2C", "#457D3A", "#6C9F4F", rng)

    # Courtyard.
    cv.shape_gradient(
        lambda p: p.polygon([(560, 722), (1040, 722), (1320, 900), (280, 900)], fill=255),
        (280, 722, 1320, 900),
        [(0, "#D9CCB3"), (1, "#C4B497")],
    )
    for i in range(1, 6):
        t = i / 6
        yy = 722 + (900 - 722) * t * t
        xl = 560 - (560 - 280) * t * t
        pen.line([(xl, yy), (1600 - xl, yy)], fill=(140, 120, 90, 50), width=1.2)
    # Building shadow on the ground (sun is to the upper right).
    cv.soft(lambda p: p.polygon([(330, 722), (1270, 722), (1150, 760), (250, 760)], fill=255), "#2B2A1F", blur=10, opacity=0.35)

    # Platform and steps.
    cv.gradient((326, 688, 1274, 724), [(0, "#E2D6C0"), (1, "#B9AA8E")])
    pen.rect((326, 686, 1274, 692), fill="#F0E7D6")
    for i in range(3):
        w = 110 + i * 14
        pen.rect((800 - w, 724 + i * 10, 800 + w, 734 + i * 10), fill=mix("#E6DCC8", "#BFB095", i / 3))

    # Walls and veranda.
    cv.gradient((370, 500, 1230, 688), [(0, "#B98A35"), (0.25, "#E7BC55"), (1, "#F0CB6A")])
    doors = [480.0, 640.0, 800.0, 960.0, 1120.0]
    for dx in doors:
        cv.gradient((dx - 46, 606, dx + 46, 688), [(0, "#5A2E16"), (1, "#7A4424")])
        for k in (-23, 0, 23):
            pen.line([(dx + k, 612), (dx + k, 684)], fill="#00000030", width=2)
        pen.rect((dx - 50, 602, dx + 50, 608), fill="#8C6A3C")
    for cx in (400.0, 560.0, 720.0, 880.0, 1040.0, 1200.0):
        cv.gradient((cx - 11, 505, cx + 11, 688), [(0, "#6E1612"), (1, "#8F2A1E")], horizontal=True)
        pen.rect((cx - 16, 676, cx + 16, 690), fill="#CFC0A2", radius=3)

    # Roof with upturned eaves.
    def eave_y(x: float) -> float:
        d = abs(x - 800)
        return 512 - 46 * max(0.0, (d - 360) / 140) ** 2

    bottom_edge = [(x, eave_y(x)) for x in range(300, 1301, 10)]
    cv.soft(lambda p: p.rect((360, 500, 1240, 560), fill=255), "#3A2006", blur=12, opacity=0.45)
    cv.shape_gradient(
        lambda p: p.polygon([*bottom_edge, (1078, 366), (522, 366)], fill=255),
        (290, 360, 1310, 520),
        [(0, "#C7422F"), (0.55, "#A8301F"), (1, "#872316")],
    )
    roof_mask, rp = cv.mask()
    rp.polygon([*bottom_edge, (1078, 366), (522, 366)], fill=255)
    tiles, tp = cv.mask()
    for i in range(1, 12):
        yy = 366 + i * 13
        tp.line([(250, yy), (1350, yy)], fill=255, width=1.6)
    for i in range(-40, 41):
        xt = 800 + i * 13.5
        xb = 800 + i * 21
        tp.line([(xt, 366), (xb, 520)], fill=200, width=1.4)
    cv.apply(ImageChops.multiply(tiles, roof_mask), "#5E140C", opacity=0.45)
    # Sunlit right slope.
    cv.apply(
        ImageChops.multiply(
            gradient_image(cv.img.size, [(0, "#000000"), (0.62, "#000000"), (0.8, "#FFFFFF"), (1, "#FFFFFF")], horizontal=True).convert(
                "L"
            ),
            roof_mask,
        ),
        "#FFB38A",
        opacity=0.18,
    )
    pen.line(bottom_edge, fill="#5A150D", width=6)
    # Ridge with curling ends and a sun ornament.
    pen.rect((506, 352, 1094, 370), fill="#8E2418", radius=6)
    pen.rect((506, 352, 1094, 357), fill="#C65A3E", radius=3)
    for side in (-1, 1):
        ex = 800 + side * 300
        pen.polygon(
            [
                (ex - side * 20, 370),
                (ex + side * 4, 352),
                (ex + side * 18, 318),
                (ex + side * 26, 322),
                (ex + side * 16, 358),
                (ex + side * 8, 370),
            ],
            fill="#8E2418",
        )
        tip = (300 if side < 0 else 1300, eave_y(300))
        pen.polygon(
            [
                (tip[0] + side * 30, tip[1] + 10),
                (tip[0] + side * 6, tip[1] - 4),
                (tip[0] - side * 6, tip[1] - 34),
                (tip[0] - side * 2, tip[1] - 36),
                (tip[0] - side * 28, tip[1] + 2),
            ],
            fill="#8E2418",
        )
    cv.soft(lambda p: p.circle(800, 334, 34, fill=255), "#FFE27A", blur=10, opacity=0.6)
    pen.circle(800, 334, 17, fill="#F2B51C")
    for k in range(12):
        a = math.radians(k * 30)
        pen.polygon(
            [
                (800 + 20 * math.cos(a - 0.12), 334 + 20 * math.sin(a - 0.12)),
                (800 + 30 * math.cos(a), 334 + 30 * math.sin(a)),
                (800 + 20 * math.cos(a + 0.12), 334 + 20 * math.sin(a + 0.12)),
            ],
            fill="#F2B51C",
        )

    # Banner across the veranda.
    bx0, bx1, by0, by1 = 392.0, 1208.0, 528.0, 590.0
    cv.shadow((bx0, by0, bx1, by1), blur=5, offset=(0, 5), opacity=0.35)
    cv.gradient((bx0, by0, bx1, by1), [(0, "#D7192F"), (1, "#B30F25")])
    pen.rect((bx0 + 6, by0 + 5, bx1 - 6, by1 - 5), outline="#F6C744", width=2)
    text = "NGÀY HỘI ĐẠI ĐOÀN KẾT TOÀN DÂN TỘC"
    size = fit(text, 40, bx1 - bx0 - 120, bold=True)
    pen.text((801, 561), text, size, "#7A0712", bold=True, anchor="mm")
    pen.text((800, 559), text, size, GOLD, bold=True, anchor="mm")
    for sx in (bx0 + 26, bx1 - 26):
        pen.polygon(star(sx, 559, 13), fill=GOLD)

    # Flag poles and flags.
    for fx, phase in ((210.0, 0.4), (1390.0, 2.1)):
        cv.soft(lambda p, fx=fx: p.ellipse((fx - 70, 742, fx + 10, 752), fill=255), "#203018", blur=4, opacity=0.4)
        pen.rect((fx - 5, 300, fx + 5, 748), fill="#B7BDC4")
        pen.rect((fx - 5, 300, fx - 1, 748), fill="#E6EAEE")
        pen.circle(fx, 296, 8, fill=GOLD)
        waving_flag(pen, fx + 5, 308, 170, 112, phase)
    # Pennant strings: pole tops to the ridge, and eaves to the poles.
    colours = ["#D52B1E", GOLD]
    bunting(pen, (210, 446), (508, 358), 14, 12, 20, colours)
    bunting(pen, (1390, 446), (1092, 358), 14, 12, 20, colours)
    bunting(pen, (522, 366), (1078, 366), 46, 26, 20, colours)

    # People in the courtyard.
    folk = [
        (470, 770, 44, "#F4F4F0", "#2B3440"),
        (520, 790, 50, "#1E5BA8", "#2B2B2B"),
        (700, 820, 62, "#D52B1E", "#D52B1E"),
        (735, 826, 56, "#FFFFFF", "#24344D"),
        (930, 800, 54, "#F2C230", "#F2C230"),
        (975, 805, 52, "#FFFFFF", "#303030"),
        (1120, 775, 46, "#3E8E41", "#2B2B2B"),
        (1160, 784, 40, "#F4F4F0", "#444444"),
        (610, 760, 38, "#7A3FA0", "#7A3FA0"),
        (1040, 762, 38, "#FFFFFF", "#1F3A5F"),
    ]
    for x, y, h, shirt, trousers in sorted(folk, key=lambda f: f[1]):
        person(pen, x, y, h, shirt, trousers)

    # Foreground bunting, large and slightly out of focus.
    fg, fp = cv.mask()
    red_m, rp2 = cv.mask()
    bunting(fp, (-40, 10), (1640, 40), 120, 24, 70, [255, 0], string=255)
    bunting(rp2, (-40, 10), (1640, 40), 120, 24, 70, [0, 255], string=0)
    cv.apply(fg, "#D52B1E", blur=2.2)
    cv.apply(red_m, "#F9C80E", blur=2.2)

    img = cv.finish()
    # Warm light, gentle bloom and vignette.
    blurred = img.filter(ImageFilter.GaussianBlur(18))
    img = Image.blend(img, ImageChops.screen(img, blurred), 0.22)
    vignette = Image.radial_gradient("L").resize((2000, 2000)).crop((200, 500, 1800, 1400))
    vignette = vignette.point(lambda v: max(0, min(255, round((v - 130) * 0.55))))
    img = Image.composite(Image.new("RGB", img.size, "#1E140A"), img, vignette)
    img = img.filter(ImageFilter.GaussianBlur(0.5))
    img = grain(img, 3.5, seed=9)
    img.save(path, quality=88, optimize=True, progressive=True)


def main() -> None:
    """Render every picture and report its size."""
    jobs: list[tuple[Path, Callable[[Path], None]]] = [
        (ROOT / "assets" / "logo.png", make_logo),
        (DEMO_DIR / "thu-gom-rac.png", make_refuse),
        (DEMO_DIR / "phong-chong-bao.jpg", make_storm),
        (DEMO_DIR / "tiem-chung.jpg", make_vaccination),
        (DEMO_DIR / "ngay-hoi-dai-doan-ket.jpg", make_festival),
    ]
    for path, job in jobs:
        job(path)
        size = path.stat().st_size
        print(f"{path.relative_to(ROOT)}: {size / 1024:.0f} KB")
        if size > MAX_BYTES:
            raise SystemExit(f"{path.name} is larger than {MAX_BYTES // 1024} KB")


if __name__ == "__main__":
    main()
