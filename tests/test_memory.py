"""Memory stays flat over months of play: every cache and log the player keeps has a bound (bench/soak.py measures it)."""

from __future__ import annotations

import textwrap
from concurrent.futures import wait
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from signage.config import BoardConfig, load_config
from signage.content import load_content
from signage.envelope import generate_key
from signage.model import Playable
from signage.player import CACHED_PAGES, CACHED_SLIDES, UNREPORTED_PLAYS
from signage.render.fonts import MAX_FACES, FontBook
from signage.report.plays import PlayLog

from .test_player import HCM, THREE, StepClock, board, run_for, started


def config_playables(config: BoardConfig) -> list[Playable]:
    return load_content(config)


def test_a_font_book_asked_for_every_size_a_year_of_bulletins_needs_keeps_a_bounded_number_of_faces(display: None) -> None:
    # Each text is set at the largest size that fits: over months of different bulletins nearly every size
    # between the legible minimum and the maximum (and the titles' 1.3x) is asked for, each a FreeType face.
    book = FontBook()
    for size in range(10, 200):
        for bold in (False, True):
            assert book.get(size, bold=bold).get_height() > 0
    assert len(book) <= MAX_FACES
    recent = book.get(199, bold=True)
    assert book.get(199, bold=True) is recent  # the sizes in use stay cached


def test_a_board_without_a_hub_keeps_only_its_latest_plays_in_memory(tmp_path: Path) -> None:
    # Without [report] nobody ever takes the plays: a log of every turn grew for as long as the board ran.
    quick = THREE.replace("duration_s = 2", "duration_s = 0.1")
    clock = StepClock()
    with started(board(tmp_path, quick), clock) as player:
        run_for(player, clock, 1.5 * UNREPORTED_PLAYS * 0.1, fps=10)
        plays = player.plays.take()
    assert len(plays) == UNREPORTED_PLAYS
    assert plays[-1].started_at > plays[0].started_at  # the latest ones


def test_a_play_log_with_a_limit_keeps_the_latest_plays(tmp_path: Path) -> None:
    config = load_config(board(tmp_path, THREE))
    log = PlayLog(limit=3)
    for index, playable in enumerate(config_playables(config) * 3):
        at = datetime(2026, 11, 23, 9, 0, index, tzinfo=HCM)
        log.begin(playable, at, float(index))
        log.end(at, "stopped", index + 2.0)
    assert [(p.bulletin, p.started_at.second) for p in log.take()] == [("a", 6), ("b", 7), ("c", 8)]


def test_a_board_with_a_hub_still_keeps_its_plays_for_the_report(tmp_path: Path) -> None:
    config = board(tmp_path, THREE, extra='[report]\nurl = "http://127.0.0.1:9/report"\nkey = "board.key"\nheartbeat_seconds = 3600\n')
    generate_key(tmp_path / "board.key")
    clock = StepClock()
    with started(config, clock) as player:
        run_for(player, clock, 9, fps=10)
        assert [play.bulletin for play in player.plays.take()] == ["a", "b", "c", "a"]


REVISED = """
[[bulletins]]
id = "a"
kind = "text"
title = "Một"
body = "Nội dung thứ nhất."
duration_s = 2
[[bulletins]]
id = "b"
kind = "text"
title = "Hai"
body = "Nội dung thứ hai, bản {revision}."
revision = {revision}
duration_s = 2
"""


def test_slides_composed_ahead_for_a_revision_that_never_plays_are_let_go(tmp_path: Path) -> None:
    # A feed that revises a bulletin while its next turn is being composed: the slide made for the old
    # revision is never asked for again. Kept, each holds its pages (8 MB apiece at 1080p) for good.
    clock = StepClock()
    with started(board(tmp_path, REVISED.format(revision=1)), clock) as player:
        config = player.config
        for revision in range(2, 30):
            run_for(player, clock, 0.5, fps=10)
            playables = []
            for playable in player.content:
                if playable.bulletin.id == "b":
                    body = f"Nội dung thứ hai, bản {revision}."
                    playable = replace(playable, bulletin=replace(playable.bulletin, revision=revision, body=body))
                playables.append(playable)
            player.set_content(playables)
            upcoming = player.schedule.peek_next()
            if upcoming is not None:
                player._slide_for(upcoming, player.now()[0])  # composed ahead, as _show does
            wait(list(player._jobs.values()), timeout=10)
        run_for(player, clock, 1, fps=10)
        held = {key for key in [*player._jobs, *player._ready] if key[0]}
        current = {(p.bulletin.id, p.bulletin.revision) for p in player.content}
        assert held <= current, f"slides kept for revisions gone: {sorted(held - current)}"
        assert len(player._jobs) + len(player._ready) <= CACHED_SLIDES + 1
        assert config is player.config


def paged(count: int, pages_each: int) -> str:
    """`count` text bulletins, each long enough for about `pages_each` pages on a 640x360 board."""
    body = "\\n\\n".join(f"Đoạn {n}: bà con mang theo giấy tờ tùy thân khi đến làm thủ tục tại xã." for n in range(pages_each * 3))
    return "".join(
        textwrap.dedent(
            f"""
            [[bulletins]]
            id = "n{index}"
            kind = "text"
            title = "Tin {index}"
            body = "{body}"
            duration_s = 1
            """
        )
        for index in range(count)
    )


def test_the_player_keeps_no_more_composed_pages_than_its_budget(tmp_path: Path) -> None:
    # Four slides were kept whatever their pages: four long notices (or PDFs of up to 30 pages) at 7 MB a page at 1080p.
    clock = StepClock()
    with started(board(tmp_path, paged(6, 4)), clock) as player:
        most = 0
        for _ in range(12):
            run_for(player, clock, 1, fps=5)
            most = max(most, sum(len(slide.pages) for slide in player._ready.values()))
        assert max(len(slide.pages) for slide in player._ready.values()) >= 3  # the notices are paged
    assert most <= CACHED_PAGES
    assert len(player._jobs) <= 1


def test_a_composed_page_already_in_the_frames_format_is_shown_without_a_copy(tmp_path: Path) -> None:
    # convert() of a page already in the display's format copied 7 MB a page at 1080p, doubling each slide for a moment.
    clock = StepClock()
    with started(board(tmp_path, THREE), clock) as player:
        key, job = next(iter(player._jobs.items()))
        composed = job.result(timeout=10)
        run_for(player, clock, 2.2)
        assert player.slide is not None and player.slide.playable is not None
        assert (player.slide.playable.bulletin.id, player.slide.playable.bulletin.revision) == key
        assert player.slide.pages[0] is composed.pages[0]
