"""Video slides: frames in order, on time against the clock, late ones dropped, aspect kept, loops, gapless hand-over."""

from __future__ import annotations

import time
from pathlib import Path

import pygame
import pytest

from signage.errors import MediaError
from signage.media.video import VideoClip, VideoPlayback
from tests.videoclips import frame_index, numbered_clip


def grey(target: pygame.Surface, rect: pygame.Rect) -> int:
    return target.get_at(rect.center).r


def play(playback: VideoPlayback, target: pygame.Surface, fps: float, seconds: float) -> list[tuple[float, int]]:
    """Present at `fps` in real time (the decoder is a real thread); returns (clock, frame index on screen) per frame."""
    playback.begin(0.0)
    seen = []
    clock = 0.0
    while clock < seconds:
        clock += 1 / fps
        time.sleep(1 / fps)
        playback.draw(target, target.get_rect(), clock)
        seen.append((clock, frame_index(grey(target, playback.rect))))
    return seen


@pytest.mark.parametrize("codec", ["h264", "vp9", "mpeg4"])
def test_frames_in_order_and_on_time(display, tmp_path: Path, codec: str) -> None:
    clip = VideoClip(numbered_clip(tmp_path / f"clip.{'webm' if codec == 'vp9' else 'mp4'}", codec=codec), (640, 480))
    assert clip.size == (640, 480) and clip.duration == pytest.approx(2.0, abs=0.05)
    target = pygame.Surface((640, 480))
    playback = VideoPlayback(clip, pygame.Rect(0, 0, 640, 480))
    try:
        seen = play(playback, target, fps=60, seconds=0.95)
    finally:
        playback.stop()
    frames = [index for _, index in seen]
    assert frames == sorted(frames)  # never backwards
    for clock, index in seen[3:]:
        assert index == pytest.approx(clock * 30, abs=1.01)  # the frame due at the clock, within a frame
    assert playback.stats.dropped == 0 and playback.failed is None


def test_a_slow_presenter_drops_late_frames_and_never_drifts(display, tmp_path: Path) -> None:
    clip = VideoClip(numbered_clip(tmp_path / "clip.mp4"), (320, 240))
    target = pygame.Surface((320, 240))
    playback = VideoPlayback(clip, pygame.Rect(0, 0, 320, 240))
    try:
        seen = play(playback, target, fps=10, seconds=0.95)  # a loop three times too slow for 30 fps
    finally:
        playback.stop()
    assert playback.stats.dropped >= 15
    last_clock, last_index = seen[-1]
    assert last_index == pytest.approx(last_clock * 30, abs=1.01)  # still on time: frames dropped, not slowed


def test_aspect_is_kept_in_the_box(display, tmp_path: Path) -> None:
    clip = VideoClip(numbered_clip(tmp_path / "wide.mp4", size=(640, 272), seconds=0.5), (1080, 1280))
    assert clip.size[0] == 1072 and abs(clip.size[0] / clip.size[1] - 640 / 272) < 0.02
    clip.close()


def test_a_clip_loops_when_its_turn_is_longer(display, tmp_path: Path) -> None:
    clip = VideoClip(numbered_clip(tmp_path / "short.mp4", seconds=1.0), (320, 240))
    target = pygame.Surface((320, 240))
    playback = VideoPlayback(clip, pygame.Rect(0, 0, 320, 240), loop_seconds=2.0)
    try:
        seen = play(playback, target, fps=30, seconds=1.9)
    finally:
        playback.stop()
    second_pass = [index for clock, index in seen if clock > 1.2]
    assert second_pass and max(second_pass) < 29 and min(second_pass) >= 4  # counting again from the start


def test_the_next_clip_is_ready_before_its_turn(display, tmp_path: Path) -> None:
    """Opened ahead, a clip's first frame is there the instant it begins: no black between two videos."""
    first = VideoClip(numbered_clip(tmp_path / "a.mp4", seconds=0.5), (320, 240))
    second = VideoClip(numbered_clip(tmp_path / "b.mp4", seconds=0.5), (320, 240))
    target = pygame.Surface((320, 240))
    target.fill((0, 0, 0))
    a = VideoPlayback(first, pygame.Rect(0, 0, 320, 240))
    b = VideoPlayback(second, pygame.Rect(0, 0, 320, 240))
    try:
        play(a, target, fps=30, seconds=0.45)
        a.stop()
        b.begin(1.0)
        assert b.draw(target, target.get_rect(), 1.0) == [b.rect]
        assert frame_index(grey(target, b.rect)) == 0  # the new clip's first frame, at once
    finally:
        b.stop()


def test_unreadable_videos_are_refused(display, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 500)
    with pytest.raises(MediaError, match=r"broken\.mp4"):
        VideoClip(broken, (320, 240))


def test_the_player_hands_one_video_to_the_next_without_a_gap(tmp_path: Path) -> None:
    """Two one-second clips in rotation, played in real time: the picture is always a video frame, never black."""
    import textwrap

    from signage.config import load_config
    from signage.player import Player, SystemClock
    from signage.render.output import HeadlessOutput

    numbered_clip(tmp_path / "a.mp4", seconds=1.0)
    numbered_clip(tmp_path / "b.mp4", seconds=1.0, size=(320, 180))
    (tmp_path / "list.toml").write_text(
        textwrap.dedent(
            """
            [[bulletins]]
            id = "a"
            kind = "video"
            title = "Phim A"
            media = "a.mp4"
            duration_s = 1
            [[bulletins]]
            id = "b"
            kind = "video"
            title = "Phim B"
            media = "b.mp4"
            duration_s = 1
            """
        ),
        encoding="utf-8",
    )
    config_path = tmp_path / "board.toml"
    config_path.write_text(
        '[board]\nid = "tan-quan"\nname = "UBND xã Tân Quan"\ndata_dir = "state"\n[playlists]\npaths = ["list.toml"]\n'
        '[display]\nsize = "640x360"\ntransition_seconds = 0\n[ticker]\nenabled = false\n',
        encoding="utf-8",
    )
    config = load_config(config_path)
    output = HeadlessOutput(config.display)
    player = Player(config, output, SystemClock(config.board.timezone))
    shown: list[str] = []
    darkest = 255
    try:
        player.start()
        began = time.monotonic()
        while time.monotonic() - began < 3.2:
            player.step()
            live = player.frame.live
            if live is not None:
                darkest = min(darkest, player.frame.surface.get_at(live.rect.center).r)
            bulletin = player.slide.playable.bulletin.id if player.slide and player.slide.playable else None
            if not shown or shown[-1] != bulletin:
                shown.append(bulletin)
            time.sleep(1 / 60)
    finally:
        player.close()
        output.close()
    assert shown[:4] == ["a", "b", "a", "b"]
    assert darkest >= 4  # the darkest numbered frame is grey 8: never a black gap between clips
