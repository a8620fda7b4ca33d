"""Video slides: PyAV decodes in a thread into a small bounded queue; frames are shown by their timestamps.

The clip is opened, and its first frame decoded, ahead of its turn (in the composer's worker), so
one video follows another with no black gap. On screen, the frame due at the monotonic clock is
shown; frames that arrive too late are dropped and counted, never played in slow motion.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import av
import av.container
import av.filter
import av.video
import pygame
from av.video.reformatter import VideoReformatter

from signage.errors import MediaError
from signage.media.audio import AudioPlayback
from signage.media.images import fit_size

log = logging.getLogger(__name__)

# Decoded ahead: 133 ms at 30 fps rides out a slow frame. Each is a BGRA frame at the shown size (5.7 MB at
# 1080p, 23 MB at 4K) in a ring of QUEUE_FRAMES + 2; 6 ahead showed no fewer late frames than 4 (bench/media.py)
# and put the soak's peak over its 250 MB (bench/soak.py).
QUEUE_FRAMES = 4


class _Rings:
    """Frame buffers kept for the life of the process and lent to one playback at a time.

    A board plays thousands of clips a day; a fresh ring of 8 MB buffers for each, freed by a
    decoder thread in its own malloc arena, fragments the heap until RSS has doubled.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: dict[int, list[list[bytearray]]] = {}

    def lend(self, frame_bytes: int) -> list[bytearray]:
        with self._lock:
            spare = self._free.get(frame_bytes)
            if spare:
                return spare.pop()
        return [bytearray(frame_bytes) for _ in range(QUEUE_FRAMES + 2)]

    def give_back(self, ring: list[bytearray]) -> None:
        with self._lock:
            if len(self._free) > 2:  # clips of many sizes: keep only the latest few
                self._free.clear()
            self._free.setdefault(len(ring[0]), []).append(ring)


RINGS = _Rings()


@dataclass
class Stats:
    shown: int = 0
    dropped: int = 0  # decoded, but later than the frame after it was due
    last_pts: float = -1.0


def upright_turn(frame: av.VideoFrame, stream: av.video.VideoStream) -> int:
    """Degrees counter-clockwise (0, 90, 180, 270) that stand the stored picture upright.

    A phone records sideways and says how to turn it: a display matrix (the frame's `rotation`, counter-clockwise),
    or in older files a `rotate` tag (clockwise).
    """
    degrees = float(frame.rotation or 0)
    if not degrees:
        try:
            degrees = -float(stream.metadata.get("rotate", 0))
        except ValueError:
            degrees = 0.0
    return round(degrees / 90) % 4 * 90


class Upright:
    """A filter graph that deinterlaces (bwdif, only frames flagged interlaced) and turns the picture upright.

    Built only for a clip that needs it; others keep the direct path. bwdif holds one frame back, given out at `flush`.
    """

    def __init__(self, first: av.VideoFrame, time_base: object, *, turn: int, interlaced: bool) -> None:
        self.turn, self.interlaced = turn, interlaced
        self._template = (first.width, first.height, first.format.name, time_base)
        self._build()

    @staticmethod
    def needed(turn: int, interlaced: bool) -> bool:
        return bool(turn) or interlaced

    def _build(self) -> None:
        width, height, pixel_format, time_base = self._template
        graph = av.filter.Graph()
        nodes = [graph.add_buffer(width=width, height=height, format=pixel_format, time_base=time_base)]
        if self.interlaced:
            # bwdif over yadif: as fast here, and fewer stair steps on text. deint=interlaced: progressive frames pass.
            nodes.append(graph.add("bwdif", "mode=send_frame:parity=auto:deint=interlaced"))
        if self.turn == 90:
            nodes.append(graph.add("transpose", "cclock"))
        elif self.turn == 270:
            nodes.append(graph.add("transpose", "clock"))
        elif self.turn == 180:
            nodes.extend((graph.add("hflip"), graph.add("vflip")))
        nodes.append(graph.add("buffersink"))
        for before, after in itertools.pairwise(nodes):
            before.link_to(after)
        graph.configure()
        self._graph = graph

    def push(self, frame: av.VideoFrame | None) -> list[av.VideoFrame]:
        """What comes out after `frame` goes in (None: the end, everything held back)."""
        self._graph.push(frame)
        out: list[av.VideoFrame] = []
        while True:
            try:
                out.append(self._graph.vpull())
            except (av.BlockingIOError, av.EOFError):
                return out

    def flush(self) -> list[av.VideoFrame]:
        return self.push(None)

    def reset(self) -> None:
        self._build()


def _frame_size(source: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """Fit `source` in `box`, the width a multiple of 16 so each row of BGRA pixels has no padding."""
    width, height = fit_size(source, box)
    return max(16, width - width % 16), max(2, height - height % 2)


class VideoClip:
    """An opened clip with its first frame decoded and scaled; made ahead of its turn."""

    def __init__(self, path: Path, box: tuple[int, int]) -> None:
        self.path = path
        try:
            self.container: av.container.InputContainer = av.open(str(path), metadata_errors="ignore")
        except (av.FFmpegError, OSError) as exc:
            raise MediaError(f"{path}: not a readable video ({exc})") from None
        try:
            streams = [s for s in self.container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
            if not streams:
                raise MediaError(f"{path}: no video stream")
            self.stream: av.video.VideoStream = streams[0]
            self.has_audio = bool(self.container.streams.audio)
            self.stream.thread_type = "AUTO"  # frame and slice threads, as ffmpeg would
            self.duration = self._duration()
            self.start_pts = float(self.stream.start_time * self.stream.time_base) if self.stream.start_time is not None else 0.0
            # Kept for the clip: a scaler set up afresh for each frame is set up 30 times a second.
            self._scaler = VideoReformatter()
            self._converter = VideoReformatter()
            self._packets = self.container.demux(self.stream)
            self._pending: deque[av.VideoFrame] = deque()
            self._upright: Upright | None = None
            self._flushed = False
            raw = self._decoded()
            if raw is None:
                raise MediaError(f"{path}: no decodable video frame")
            self.turn = upright_turn(raw, self.stream)
            self.interlaced = bool(raw.interlaced_frame)
            if Upright.needed(self.turn, self.interlaced):
                self._upright = Upright(raw, self.stream.time_base, turn=self.turn, interlaced=self.interlaced)
                self._pending.extendleft(reversed(self._upright.push(raw)))
            else:
                self._pending.appendleft(raw)
            shown = (raw.height, raw.width) if self.turn in (90, 270) else (raw.width, raw.height)
            self.size = _frame_size(shown, box)  # the player fits the upright picture
            first = self.next_frame()
            if first is None:
                raise MediaError(f"{path}: no decodable video frame")
            self.first = first
        except BaseException:
            self.container.close()
            raise

    def _duration(self) -> float:
        if self.stream.duration is not None and self.stream.time_base is not None:
            return float(self.stream.duration * self.stream.time_base)
        if self.container.duration is not None:
            return self.container.duration / av.time_base
        raise MediaError(f"{self.path}: video of unknown length")

    def _decoded(self) -> av.VideoFrame | None:
        """The next frame out of the decoder (and the upright filter, once it is set up), or None at the end."""
        while not self._pending:
            try:
                packet = next(self._packets)
            except StopIteration:
                if self._upright is None or self._flushed:
                    return None
                self._flushed = True
                self._pending.extend(self._upright.flush())
                continue
            try:
                frames = packet.decode()
            except av.InvalidDataError:
                continue  # one damaged packet: the decoder resyncs at the next keyframe
            for frame in frames:
                self._pending.extend(self._upright.push(frame) if self._upright is not None else (frame,))
        return self._pending.popleft()

    def next_frame(self, into: bytearray | None = None) -> tuple[float, bytes | bytearray] | None:
        """The next decoded frame as (seconds from the clip's start, BGRA pixels at `size`), or None at the end.

        With `into`, the pixels are copied into that buffer (reused frame after frame: no new 8 MB
        allocation per frame, which fragments the heap over a day of video).
        """
        frame = self._decoded()
        if frame is None:
            return None
        # Scaled in its own YUV (4:2:0: a quarter of the chroma to scale), then turned into BGRA at that size
        # by swscale's unscaled SIMD converter. One pass from YUV to scaled BGRA cost 1.5x the CPU (bench/media.py,
        # whose ffmpeg floor runs the same two passes). swscale's slice threads, as ffmpeg's scale filter: the same
        # CPU as one thread, and a 4K frame is through in less time.
        scaled = self._scaler.reformat(frame, width=self.size[0], height=self.size[1], interpolation="BILINEAR")
        converted = self._converter.reformat(scaled, format="bgra")
        pts = (frame.time or 0.0) - self.start_pts
        if into is None:
            return pts, bytes(converted.planes[0])
        memoryview(into)[:] = memoryview(converted.planes[0])  # a plain memcpy (bytearray's own slice assignment is 3x slower)
        return pts, into

    def rewind(self) -> None:
        self.container.seek(0)
        self._packets = self.container.demux(self.stream)
        self._pending.clear()
        self._flushed = False
        if self._upright is not None:
            self._upright.reset()

    def close(self) -> None:
        self.container.close()


class VideoPlayback:
    """The `Live` of a video slide: a decoder thread feeding a bounded queue; `draw` shows the frame that is due."""

    moving = True

    def __init__(self, clip: VideoClip, video_rect: pygame.Rect, *, loop_seconds: float | None = None, volume: float = 0.0) -> None:
        self.clip = clip
        # The clip's sound, from its own decoder, started with the picture (volume 0: the mixer stays closed).
        self.audio = AudioPlayback(clip.path, volume) if volume > 0 and clip.has_audio else None
        self.rect = video_rect  # where the picture goes, in frame coordinates
        self.loop_seconds = loop_seconds  # play (looping) this long; None: once
        self.stats = Stats()
        self.failed: str | None = None
        self._frames: deque[tuple[float, bytes]] = deque()
        self._room = threading.Semaphore(QUEUE_FRAMES)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start = 0.0
        self._ended = False
        self._ring: list[bytearray] | None = None
        self._frames.append(clip.first)
        self._room.acquire()

    def begin(self, clock: float) -> None:
        if self._thread is not None:
            return  # already playing
        self._start = clock
        if self.audio is not None:
            self.audio.start(clock)
        self._thread = threading.Thread(target=self._decode, name=f"video {self.clip.path.name}", daemon=True)
        self._thread.start()

    def _decode(self) -> None:
        offset = 0.0
        # A ring of buffers: at most QUEUE_FRAMES wait in the queue, one is on its way to the screen, one is filled.
        ring = self._ring = RINGS.lend(self.clip.size[0] * self.clip.size[1] * 4)
        turn = 0
        try:
            while not self._stop.is_set():
                item = self.clip.next_frame(ring[turn % len(ring)])
                turn += 1
                if item is None:
                    played = offset + self.clip.duration
                    if self.loop_seconds is None or played >= self.loop_seconds:
                        break
                    self.clip.rewind()
                    offset = played
                    continue
                while not self._room.acquire(timeout=0.1):
                    if self._stop.is_set():
                        return
                self._frames.append((item[0] + offset, item[1]))
        except (av.FFmpegError, MediaError) as exc:
            self.failed = f"{self.clip.path}: video stopped decoding ({exc})"
        finally:
            self._ended = True

    @property
    def finished(self) -> bool:
        return self._ended and not self._frames

    def draw(self, target: pygame.Surface, area: pygame.Rect, clock: float) -> list[pygame.Rect]:
        due = clock - self._start
        chosen = None
        while self._frames and self._frames[0][0] <= due:
            if chosen is not None:
                self.stats.dropped += 1  # overtaken before it was shown
            chosen = self._frames.popleft()
            self._room.release()
        if chosen is None:
            return []
        picture = pygame.image.frombuffer(chosen[1], self.clip.size, "BGRA")
        target.blit(picture, self.rect)
        self.stats.shown += 1
        self.stats.last_pts = chosen[0]
        return [self.rect]

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._room.release()  # wake a decoder waiting for room now, not at its next timeout
        if self.audio is not None:
            self.audio.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        if self._thread is None or not self._thread.is_alive():
            self.clip.close()  # never under a decoder still running
            self._frames.clear()
            if self._ring is not None:
                RINGS.give_back(self._ring)
                self._ring = None
        if self.stats.dropped:
            log.info("%s: %d frame(s) shown, %d dropped as late", self.clip.path.name, self.stats.shown, self.stats.dropped)


def first_frame_surface(clip: VideoClip) -> pygame.Surface:
    return pygame.image.frombuffer(clip.first[1], clip.size, "BGRA").copy()
