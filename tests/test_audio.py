"""Audio bulletins: sniffed, probed and refused; parsed and timed; their card counted on; their sound played through the mixer."""

from __future__ import annotations

import array
import math
import random
import textwrap
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import av
import pygame
import pytest

from signage.config import load_config
from signage.content import load_content
from signage.engine import turn_seconds
from signage.errors import BulletinError, MediaError
from signage.inbox.ingest import Inbox
from signage.inbox.rules import REASONS, kind_of
from signage.media.audio import AudioPlayback
from signage.media.probe import probe
from signage.media.sniff import EXTENSION_TYPES, sniff, sniff_file
from signage.model import Bulletin, BulletinInput, Kind, Media, Playable, parse_bulletin
from signage.render.audiocard import AudioCard, audio_card, clock_text
from signage.render.composer import compose
from signage.render.fonts import FontBook
from signage.render.layout import Layout
from signage.store.db import Store
from signage.store.files import ContentStore

RATE = 48000
SECONDS = 2.0


def write_sine(path: Path, codec: str, seconds: float = SECONDS, rate: int = RATE) -> Path:
    """A 440 Hz sine, encoded by PyAV into the container the name says."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate, layout="stereo")
        total = int(rate * seconds)
        for start in range(0, total, 4096):
            count = min(4096, total - start)
            samples = array.array("h")
            for index in range(start, start + count):
                value = round(math.sin(2 * math.pi * 440 * index / rate) * 0.3 * 32767)
                samples.extend((value, value))
            frame = av.AudioFrame(format="s16", layout="stereo", samples=count)
            frame.planes[0].update(samples.tobytes())
            frame.sample_rate, frame.pts = rate, start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def _encoder(*names: str) -> str | None:
    for name in names:
        try:
            av.Codec(name, "w")
            return name
        except ValueError:  # av's UnknownCodecError: not in this FFmpeg build
            continue
    return None


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sounds")
    made = {"audio/mpeg": write_sine(folder / "sine.mp3", "libmp3lame"), "audio/mp4": write_sine(folder / "sine.m4a", "aac")}
    # Vorbis is the usual OGG; Opus in OGG is the same container and type, for FFmpeg builds without libvorbis.
    ogg = _encoder("libvorbis", "libopus")
    if ogg is not None:
        made["audio/ogg"] = write_sine(folder / "sine.ogg", ogg)
    return made


@pytest.fixture
def no_mixer() -> Iterator[None]:
    """Each playback test starts and ends with the mixer closed, so one cannot hide another's state."""
    pygame.mixer.quit()
    yield
    pygame.mixer.quit()


def sound(sounds: dict[str, Path], media_type: str) -> Path:
    if media_type not in sounds:
        pytest.skip(f"this FFmpeg build has no encoder for {media_type}")
    return sounds[media_type]


def audio_bulletin(title: str = "Chương trình phát thanh huyện", body: str = "Lịch tiêm phòng cho đàn gia súc.") -> Bulletin:
    return Bulletin(id="phat-thanh", revision=1, kind=Kind.AUDIO, title=title, body=body, media=Media("0" * 64, 1, "audio/mpeg"))


# -- what a file is, and whether it plays -------------------------------------------


@pytest.mark.parametrize("media_type", ["audio/mpeg", "audio/ogg", "audio/mp4"])
def test_generated_audio_is_sniffed_and_probed(sounds: dict[str, Path], media_type: str) -> None:
    path = sound(sounds, media_type)
    assert sniff_file(path) == media_type
    assert EXTENSION_TYPES[path.suffix] == media_type
    found = probe(path, media_type)
    assert found.media_type == media_type and found.width is None and found.pages is None
    assert found.seconds == pytest.approx(SECONDS, abs=0.1)


def test_sniffing_tells_audio_from_its_neighbours() -> None:
    assert sniff(b"\xff\xfb\x90\x64" + bytes(60)) == "audio/mpeg"  # MPEG-1 layer III frame, no ID3 tag
    assert sniff(b"ID3\x04\x00" + bytes(59)) == "audio/mpeg"
    assert sniff(b"\xff\xf1\x50\x80" + bytes(60)) is None  # ADTS AAC: the same sync, layer 0
    assert sniff(b"\xff\xd8\xff\xe0" + bytes(60)) == "image/jpeg"
    assert sniff(b"OggS\x00\x02" + bytes(58)) == "audio/ogg"
    assert sniff(b"\x00\x00\x00\x1cftypM4A \x00\x00\x02\x00" + bytes(48)) == "audio/mp4"
    assert sniff(b"\x00\x00\x00\x1cftypheic\x00\x00\x02\x00" + bytes(48)) is None
    assert sniff(b"\x00\x00\x00\x1cftypisom\x00\x00\x02\x00" + bytes(48)) == "video/mp4"


def _refusal(path: Path, media_type: str) -> str:
    with pytest.raises(MediaError) as caught:
        probe(path, media_type)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path)), message
    return message


def test_a_corrupt_mp3_is_refused(tmp_path: Path, sounds: dict[str, Path]) -> None:
    noise = random.Random(7)
    tagged = tmp_path / "hong.mp3"
    tagged.write_bytes(sounds["audio/mpeg"].read_bytes()[:45] + bytes(noise.getrandbits(8) for _ in range(20000)))
    assert "not a readable audio file" in _refusal(tagged, "audio/mpeg")
    short = write_sine(tmp_path / "ngan.mp3", "libmp3lame", seconds=0.2)
    assert "outside 0.5 s to 4 h" in _refusal(short, "audio/mpeg")
    assert "content is audio/mpeg, not audio/ogg" in _refusal(sounds["audio/mpeg"], "audio/ogg")


def test_a_file_without_an_audio_stream_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hinh.m4a"
    with av.open(str(path), "w") as out:  # FFmpeg's iPod muxer: MP4 boxes, brand M4V for a picture
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(10):
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts = index
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    data = path.read_bytes()
    assert data[8:12] == b"M4V "
    path.write_bytes(data[:8] + b"M4A " + data[12:])  # claims to be sound, holds only a picture
    assert "no decodable audio stream" in _refusal(path, "audio/mp4")


# -- the vocabulary: feed, inbox, config, engine ------------------------------------------


def test_a_feed_bulletin_of_kind_audio() -> None:
    data = {
        "id": "dai-huyen-0142",
        "revision": 1,
        "kind": "audio",
        "title": "Bản tin phát thanh huyện",
        "media": {"sha256": "ab" * 32, "bytes": 48213, "type": "audio/mpeg"},
        "valid_from": "2026-11-23T00:00:00+07:00",
        "valid_until": "2026-12-02T23:59:59+07:00",
        "boards": ["*"],
    }
    origin = BulletinInput(origin="https://district.example/feed.json")
    bulletin = parse_bulletin(data, origin)
    assert bulletin.kind is Kind.AUDIO and bulletin.media is not None and bulletin.media.kind is Kind.AUDIO
    for media_type in ("audio/ogg", "audio/mp4"):
        assert parse_bulletin({**data, "media": {**data["media"], "type": media_type}}, origin).kind is Kind.AUDIO
    with pytest.raises(BulletinError, match="does not fit kind 'audio'"):
        parse_bulletin({**data, "media": {**data["media"], "type": "video/mp4"}}, origin)
    assert turn_seconds(Playable(bulletin, Path("x.mp3"), 754.2)) == 754.2  # the probed length
    assert turn_seconds(Playable(bulletin, Path("x.mp3"))) == 60.0  # not probed (yet)


def test_the_drop_folder_takes_audio_and_sets_aside_a_broken_file(tmp_path: Path, sounds: dict[str, Path]) -> None:
    assert kind_of("Ban tin.MP3") == (Kind.AUDIO, "audio/mpeg")
    assert kind_of("a.ogg") == (Kind.AUDIO, "audio/ogg") and kind_of("a.m4a") == (Kind.AUDIO, "audio/mp4")
    config_path = tmp_path / "board.toml"
    config_path.write_text(
        textwrap.dedent(
            """
            [board]
            id = "tan-quan"
            name = "UBND xã Tân Quan"
            data_dir = "state"
            [inbox]
            path = "bangtin"
            [display]
            audio = false
            """
        ),
        encoding="utf-8",
    )
    config = load_config(config_path)
    assert config.display.audio is False
    assert config.inbox is not None
    inbox = Inbox(config, ContentStore(config.board.data_dir / "media"), lambda: datetime.now(config.board.timezone))
    (config.inbox.path / "phat_thanh.mp3").write_bytes(sounds["audio/mpeg"].read_bytes())
    (config.inbox.path / "hong.mp3").write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 40)
    store = Store(config.board.data_dir / "board.db")
    try:
        inbox.poll(store, time.monotonic(), settle=0, patience=0)
    finally:
        store.close()
    [taken] = load_content(config)
    assert taken.bulletin.kind is Kind.AUDIO and taken.bulletin.title == "phat thanh"
    assert turn_seconds(taken) == pytest.approx(SECONDS, abs=0.1)
    reason = (config.inbox.quarantine / "hong.mp3.reason.txt").read_text(encoding="utf-8")
    assert reason.startswith(f"hong.mp3: {REASONS['audio'][0]} / {REASONS['audio'][1]}"), reason


def test_audio_is_on_by_default(write_config) -> None:
    config = load_config(write_config('[board]\nid = "tan-quan"\nname = "UBND xã Tân Quan"\n'))
    assert config.display.audio is True


# -- the card -----------------------------------------------------------------------


def test_the_card_shows_its_title(display: None) -> None:
    layout = Layout.for_size(960, 540)
    fonts = FontBook()
    titled, _ = audio_card(audio_bulletin(), layout, fonts, 130)
    empty, _ = audio_card(audio_bulletin(title="", body=""), layout, fonts, 130)
    width, height = layout.slide.size
    text_area = pygame.Rect(width * 3 // 10, 0, width * 7 // 10, height // 2)  # right of the icon, upper half
    differing = sum(
        1
        for x in range(text_area.left, text_area.right, 2)
        for y in range(text_area.top, text_area.bottom, 2)
        if titled.get_at((x, y)) != empty.get_at((x, y))
    )
    assert differing > 500
    assert clock_text(130) == "02:10" and clock_text(3725) == "1:02:05"


def test_the_card_counts_once_a_second(display: None, tmp_path: Path) -> None:
    layout = Layout.for_size(960, 540)
    playable = Playable(audio_bulletin(), tmp_path / "x.mp3", 2.0)
    playable.media_path.write_bytes(b"")  # the card is drawn muted below: the file is never read
    slide = compose(playable, layout, FontBook(), volume=0.0)
    assert len(slide.pages) == 1 and slide.live is not None
    card = slide.live()
    assert isinstance(card, AudioCard) and card.seconds == 2.0 and not card.moving and card.playback is None
    target = pygame.Surface((layout.width, layout.height))
    target.blit(slide.pages[0], layout.slide)
    strip = card.strip.rect.move(layout.slide.topleft)
    bar_row = strip.top + card.strip.bar_height // 2

    def filled() -> int:
        return sum(1 for x in range(strip.left, strip.right) if target.get_at((x, bar_row))[:3] == card.strip.fill)

    card.begin(100.0)
    assert card.draw(target, layout.slide, 100.0) == [] and filled() == 0
    assert card.draw(target, layout.slide, 100.95) == []
    assert card.draw(target, layout.slide, 101.0) == [strip]
    half = filled()
    assert card.draw(target, layout.slide, 101.5) == []
    assert card.draw(target, layout.slide, 102.0) == [strip]
    assert 0 < half < filled() == strip.width
    assert card.draw(target, layout.slide, 140.0) == []  # past the end: it stays full
    assert card.failed is None
    card.stop()
    card.stop()


# -- sound ---------------------------------------------------------------------------


def test_a_file_plays_to_its_end(no_mixer: None, sounds: dict[str, Path]) -> None:
    playback = AudioPlayback(sounds["audio/mpeg"], 0.5)
    began = time.monotonic()
    playback.start(began)
    assert playback.playing
    while playback.playing and time.monotonic() - began < 6:
        time.sleep(0.05)
    took = time.monotonic() - began
    assert not playback.playing and playback.failed is None
    assert pygame.mixer.get_init() == (48000, -16, 2)
    assert playback.fed_seconds == pytest.approx(SECONDS, abs=0.1)
    assert SECONDS - 0.3 < took < SECONDS + 1.5  # heard in real time, not dumped
    assert playback.elapsed(began + 1.25) == 1.25
    playback.stop()


def test_stop_midway_ends_the_thread_quickly(no_mixer: None, sounds: dict[str, Path]) -> None:
    playback = AudioPlayback(sound(sounds, "audio/ogg"), 1.0)
    playback.start(time.monotonic())
    time.sleep(0.3)
    assert playback.playing and 0 < playback.fed_seconds < SECONDS
    before = time.monotonic()
    playback.stop()
    assert time.monotonic() - before < 0.3
    assert not playback.playing and playback.failed is None
    playback.stop()  # again: nothing happens


def test_pygame_quit_stops_playback_before_the_mixer_closes(no_mixer: None, sounds: dict[str, Path]) -> None:
    playback = AudioPlayback(sounds["audio/mpeg"], 0.5)
    playback.start(time.monotonic())
    time.sleep(0.2)
    assert playback.playing
    pygame.quit()  # at exit pygame does this too; a thread polling a closed mixer's channel would crash the process
    assert not playback.playing and playback.failed is None


def test_a_muted_board_never_opens_the_mixer(no_mixer: None, sounds: dict[str, Path]) -> None:
    playback = AudioPlayback(sounds["audio/mp4"], 0.0)
    playback.start(50.0)
    assert not playback.playing and playback.elapsed(52.5) == 2.5
    playback.stop()
    assert pygame.mixer.get_init() is None


def test_a_file_that_will_not_play_is_reported_in_one_line(no_mixer: None, tmp_path: Path) -> None:
    path = tmp_path / "mat.mp3"
    path.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(5000))
    playback = AudioPlayback(path, 0.8)
    playback.start(time.monotonic())
    deadline = time.monotonic() + 3
    while playback.playing and time.monotonic() < deadline:
        time.sleep(0.02)
    assert playback.failed is not None and playback.failed.startswith(str(path)) and "\n" not in playback.failed
    playback.stop()
