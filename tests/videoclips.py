"""Clips made in the tests with PyAV: numbered frames, so order and timing can be read back from the pixels."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

CODECS = {"h264": ("mp4", "libx264"), "mpeg4": ("mp4", "mpeg4"), "vp9": ("webm", "libvpx-vp9")}


def numbered_clip(path: Path, *, seconds: float = 2.0, fps: int = 30, size: tuple[int, int] = (320, 240), codec: str = "h264") -> Path:
    """Frame i is a flat grey of level 8 * (i % 30) + 8: the level tells which frame is on screen."""
    container_format, encoder = CODECS[codec]
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(encoder, rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        if encoder == "libx264":
            stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
        for index in range(round(seconds * fps)):
            level = 8 * (index % 30) + 8
            frame = av.VideoFrame(size[0], size[1], "gray")
            frame.planes[0].update(bytes([level]) * (frame.planes[0].line_size * size[1]))
            frame = frame.reformat(format="yuv420p")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def frame_index(level: int) -> int:
    """The frame number (within its second) a grey level stands for."""
    return round((level - 8) / 8)
