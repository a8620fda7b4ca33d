"""Playing an audio file through pygame's mixer, decoded by PyAV in a thread, a few half-second chunks ahead."""

from __future__ import annotations

import logging
import threading
import weakref
from pathlib import Path

import av
import av.audio
import av.container
import pygame

log = logging.getLogger(__name__)

MIXER_FREQUENCY = 48000  # what broadcast audio and Opus use: most files need no rate conversion
CHUNK_SECONDS = 0.5
POLL_SECONDS = 0.02  # how often the feeder looks for room in the channel's queue; also how fast stop() is heard
OPEN_TIMEOUT_SECONDS = 10.0
MAX_BAD_PACKETS_IN_A_ROW = 25  # a damaged packet is skipped (decoders resync); this many in a row is a broken file

# The mixer's sample sizes (pygame.mixer.get_init) as PyAV sample formats, packed.
_FORMATS = {-16: "s16", 8: "u8", 32: "flt", -32: "s32"}
_LAYOUTS = {1: "mono", 2: "stereo", 4: "quad", 6: "5.1"}


class _Mixer:
    """Opens pygame's mixer once, on first need; remembers a board without a sound device so it is logged once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refused: str | None = None
        self._playing: weakref.WeakSet[AudioPlayback] = weakref.WeakSet()
        self._hooked = False

    def open(self) -> tuple[int, int, int] | None:
        """The mixer's (frequency, size, channels), opening it if needed; None when there is no sound."""
        with self._lock:
            if self._refused is not None:
                return None
            if pygame.mixer.get_init() is None:
                try:
                    pygame.mixer.init(frequency=MIXER_FREQUENCY, size=-16, channels=2)
                except pygame.error as exc:
                    self._refused = str(exc)
                    log.warning("no sound: the audio device will not open (%s); audio bulletins play silent", exc)
                    return None
            found = pygame.mixer.get_init()
            if found is None or found[1] not in _FORMATS or found[2] not in _LAYOUTS:
                self._refused = f"mixer format {found}"
                log.warning("no sound: the mixer runs in an unusable format %s; audio bulletins play silent", found)
                return None
            return found

    def channel(self) -> pygame.mixer.Channel:
        """A channel of our own: a free one, or one more than the mixer had (never one playing someone else's sound)."""
        with self._lock:
            free = pygame.mixer.find_channel()
            if free is not None:
                return free
            count = pygame.mixer.get_num_channels()
            pygame.mixer.set_num_channels(count + 1)
            return pygame.mixer.Channel(count)

    def enrol(self, playback: AudioPlayback) -> None:
        """Have `playback` stopped by pygame.quit() (also run at exit) before the mixer closes under its thread."""
        with self._lock:
            if not self._hooked:
                pygame.register_quit(self._stop_all)
                self._hooked = True
            self._playing.add(playback)

    def leave(self, playback: AudioPlayback) -> None:
        with self._lock:
            self._playing.discard(playback)

    def _stop_all(self) -> None:
        with self._lock:
            playing = list(self._playing)
            self._hooked = False  # pygame forgets its quit functions once it has called them
        for playback in playing:
            playback.stop()


MIXER = _Mixer()


class AudioPlayback:
    """One play of one file at `volume` (0..1), from `start(clock)` until its end or `stop()`.

    Without a sound device, or at volume 0, nothing is decoded and only the timing runs:
    the card on screen still counts the bulletin through.
    """

    def __init__(self, path: Path, volume: float, *, chunk_seconds: float = CHUNK_SECONDS) -> None:
        self.path = path
        self.volume = max(0.0, min(1.0, volume))
        self.chunk_seconds = chunk_seconds
        self.failed: str | None = None  # one line naming the file, once decoding broke
        self.fed_seconds = 0.0  # sound handed to the mixer so far
        self._started: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._channel: pygame.mixer.Channel | None = None

    @property
    def playing(self) -> bool:
        """Whether sound is still being decoded or heard (False when silent)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, clock: float) -> None:
        """Start at monotonic time `clock`; sound follows once the first chunk is decoded (a few milliseconds)."""
        if self._started is not None:
            return
        self._started = clock
        if self.volume <= 0:
            return  # muted: the mixer is not even opened, so a board set to 0 never touches the sound device
        self._thread = threading.Thread(target=self._run, name=f"audio {self.path.name}", daemon=True)
        MIXER.enrol(self)
        self._thread.start()

    def elapsed(self, clock: float) -> float:
        """Seconds since `start`, by the clock (the sound itself may have ended or never begun)."""
        return 0.0 if self._started is None else max(0.0, clock - self._started)

    def stop(self) -> None:
        """Silence and end the thread; returns once it has ended (within a poll interval or a packet's decode)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        if self._channel is not None:
            if pygame.mixer.get_init() is not None:  # a closed mixer has silenced it already
                self._channel.stop()
            self._channel = None
        MIXER.leave(self)

    # -- the feeding thread -------------------------------------------------------------

    def _run(self) -> None:
        spec = MIXER.open()
        if spec is None or self._stop.is_set():
            return
        frequency, size, channels = spec
        bytes_per_second = frequency * channels * abs(size) // 8
        try:
            container = av.open(str(self.path), metadata_errors="ignore", timeout=OPEN_TIMEOUT_SECONDS)
        except (av.FFmpegError, OSError) as exc:
            self._fail(f"cannot open ({exc.strerror})")
            return
        try:
            if not container.streams.audio:
                self._fail("no audio stream")
                return
            resampler = av.AudioResampler(format=_FORMATS[size], layout=_LAYOUTS[channels], rate=frequency)
            self._channel = MIXER.channel()
            chunk_bytes = round(frequency * self.chunk_seconds) * channels * abs(size) // 8
            self._pump(container, container.streams.audio[0], resampler, chunk_bytes, bytes_per_second)
        except av.FFmpegError as exc:
            self._fail(f"decoding broke ({exc.strerror})")
        except pygame.error as exc:  # the mixer closed under us (the player shutting down) or the device went away
            if not self._stop.is_set():
                self._fail(f"the sound device failed ({exc})")
        finally:
            container.close()

    def _pump(
        self,
        container: av.container.InputContainer,
        stream: av.audio.AudioStream,
        resampler: av.AudioResampler,
        chunk_bytes: int,
        bytes_per_second: int,
    ) -> None:
        pending = bytearray()
        bad_in_a_row = 0
        for packet in container.demux(stream):
            if self._stop.is_set():
                return
            try:
                frames = packet.decode()  # the empty packet demux ends with flushes the decoder
                bad_in_a_row = 0
            except av.FFmpegError as exc:
                bad_in_a_row += 1
                if bad_in_a_row >= MAX_BAD_PACKETS_IN_A_ROW:
                    self._fail(f"decoding broke ({exc.strerror})")
                    return
                continue
            for frame in frames:
                for out in resampler.resample(frame):
                    pending += _samples(out)
            while len(pending) >= chunk_bytes:
                if not self._feed(bytes(pending[:chunk_bytes]), bytes_per_second):
                    return
                del pending[:chunk_bytes]
        for out in resampler.resample(None):  # what the resampler holds back for its filter
            pending += _samples(out)
        if pending and not self._feed(bytes(pending), bytes_per_second):
            return
        # Heard to the end: the thread lives while the sound does, so `playing` means audible.
        while self._channel is not None and (self._channel.get_busy() or _queued(self._channel)):
            if self._stop.wait(POLL_SECONDS):
                return

    def _feed(self, data: bytes, bytes_per_second: int) -> bool:
        """Queue one chunk once the channel has room (one playing, one queued); False when stopped meanwhile."""
        channel = self._channel
        assert channel is not None
        while _queued(channel):
            if self._stop.wait(POLL_SECONDS):
                return False
        sound = pygame.mixer.Sound(buffer=data)
        sound.set_volume(self.volume)  # on the sound, not the channel: any Sound.play() resets its channel's volume to full
        if self._stop.is_set():
            return False
        channel.queue(sound)  # an idle channel plays it at once
        self.fed_seconds += len(data) / bytes_per_second
        return True

    def _fail(self, problem: str) -> None:
        self.failed = f"{self.path}: {problem}"
        log.error("%s", self.failed)


def _queued(channel: pygame.mixer.Channel) -> bool:
    """Whether a sound waits in the channel's queue; pygame.error once the mixer is closed.

    Checked first because pygame-ce 2.5's Channel.get_queue() crashes the process on a closed mixer. The check
    cannot close the race with a mixer closing meanwhile: pygame.quit() stops playbacks first (`_Mixer.enrol`),
    and whoever calls pygame.mixer.quit() alone must stop them before.
    """
    if pygame.mixer.get_init() is None:
        raise pygame.error("mixer not initialized")
    return channel.get_queue() is not None


def _samples(frame: av.AudioFrame) -> bytes:
    """A packed frame's samples, without the plane's alignment padding."""
    plane = frame.planes[0]
    used = frame.samples * len(frame.layout.channels) * frame.format.bytes
    return bytes(plane)[:used]
