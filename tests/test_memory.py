"""Memory stays flat over months of play: every cache and log the player keeps has a bound (bench/soak.py measures it)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import wait
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import pytest

from signage.config import BoardConfig, load_config
from signage.content import load_content
from signage.envelope import generate_key
from signage.kiosk.heap import Heap, glibc
from signage.model import Playable
from signage.player import CACHED_PAGES, CACHED_SLIDES, UNREPORTED_PLAYS, Player, slide_key
from signage.render.fonts import MAX_FACES, FontBook
from signage.render.output import HeadlessOutput
from signage.report.plays import PlayLog

from .conftest import ROOT
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


def test_a_rotation_longer_than_the_cache_keeps_only_the_slide_on_screen_and_the_one_before(tmp_path: Path) -> None:
    # Eleven bulletins in turn: a slide kept for its next turn, ten turns away, only held its pages meanwhile.
    clock = StepClock()
    with started(board(tmp_path, paged(11, 1)), clock) as player:
        most = 0
        for _ in range(15):
            run_for(player, clock, 1, fps=5)
            most = max(most, len(player._ready))
            upcoming = player.schedule.peek_next()
            assert player.turn is not None and upcoming is not None
            wanted = {slide_key(player.turn.playable, player.turn.start), slide_key(upcoming, player.turn.start)}
            assert set(player._ready) <= wanted, f"kept for no turn soon: {sorted(set(player._ready) - wanted)}"
    assert most <= 2


def test_a_short_rotation_comes_round_without_composing_again(tmp_path: Path) -> None:
    clock = StepClock()
    with started(board(tmp_path, THREE), clock) as player:
        run_for(player, clock, 6.5)  # a, b, c, and a again
        assert {key[0] for key in player._ready} == {"a", "b", "c"}
        assert player._jobs == {}  # b, next, was kept: nothing to compose


@dataclass
class CountingLibc:
    """glibc's two knobs, counted: which thread trimmed, what was asked of mallopt."""

    trims: list[str] = field(default_factory=list)
    options: list[tuple[int, int]] = field(default_factory=list)

    def mallopt(self, param: int, value: int) -> int:
        self.options.append((param, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.trims.append(threading.current_thread().name)
        return 1


def test_the_player_hands_the_heaps_free_pages_back_once_a_turn_off_the_loop(tmp_path: Path) -> None:
    # Slides, photos and frames freed in the composer's and decoders' arenas stayed with glibc: 389 -> 424 MB in 50 minutes.
    libc = CountingLibc()
    clock = StepClock()
    config = load_config(board(tmp_path, THREE))
    output = HeadlessOutput(config.display)
    player = Player(config, output, clock, heap=Heap(libc))
    try:
        player.start()
        run_for(player, clock, 6.5)  # a, b, c, a
    finally:
        player.close()
        output.close()
    assert 3 <= len(libc.trims) <= 5
    assert all(name.startswith("heap") for name in libc.trims), libc.trims  # never on the main loop


def test_the_heap_without_glibc_is_left_alone() -> None:
    heap = Heap(None)
    assert heap.limit_arenas() is False and heap.trim() is False


FREED_BY_THREADS = """
import json, sys, threading
from signage.kiosk.heap import Heap

def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096

heap = Heap.of_process()
heap.limit_arenas()
kept = []

def compose():  # a slide's pages made and dropped by a worker, small things kept between them
    pages = []
    for _ in range(12):
        pages.append(bytearray(7_000_000))
        kept.append(bytearray(3000))
    del pages[:]

base = rss()
for _ in range(6):
    worker = threading.Thread(target=compose)
    worker.start()
    worker.join()
held = rss()
heap.trim()
print(json.dumps({"base": base, "held": held, "after": rss()}))
"""


@pytest.mark.skipif(glibc() is None, reason="glibc's heap only (musl returns big blocks itself)")
def test_what_worker_threads_freed_goes_back_to_the_system_at_a_trim() -> None:
    result = subprocess.run([sys.executable, "-c", FREED_BY_THREADS], capture_output=True, text=True, timeout=60, cwd=ROOT, check=True)
    sizes = json.loads(result.stdout)
    mb = 1024 * 1024
    assert sizes["held"] - sizes["base"] > 60 * mb  # glibc keeps it: the growth the soak saw
    assert sizes["after"] - sizes["base"] < 30 * mb


def many_page_pdf(path: Path, pages: int) -> None:
    """`pages` A4 pages, each a grey band at its own height (PDF written byte by byte)."""
    kids = b" ".join(b"%d 0 R" % (3 + 2 * index) for index in range(pages))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages)]
    for index in range(pages):
        stream = b"0.5 g 0 %d 595 40 re f" % (20 + index * 25)
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R >>" % (4 + 2 * index))
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))


def resident_bytes() -> int:
    Heap.of_process().trim()
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the process's resident size from /proc")
def test_a_30_page_pdf_at_1080p_is_held_as_its_page_pictures_not_as_30_whole_slides(display: None, tmp_path: Path) -> None:
    # Each page was composed into a whole slide (7 MB at 1080p): 206 MB for the 30 pages a PDF slide may show.
    from signage.model import BulletinInput, Playable, Source, parse_bulletin
    from signage.playlist import describe_media
    from signage.render.composer import compose
    from signage.render.layout import Layout

    pdf = tmp_path / "ke-hoach.pdf"
    many_page_pdf(pdf, 30)
    bulletin = parse_bulletin(
        {"id": "kh", "kind": "pdf", "title": "Kế hoạch", "media": describe_media(pdf)}, BulletinInput("t", Source.INBOX)
    )
    fonts = FontBook()
    before = resident_bytes()
    slide = compose(Playable(bulletin, pdf, page_count=30), Layout.for_size(1920, 1080), fonts)
    held = resident_bytes() - before
    assert len(slide.pages) == 30 and slide.weights == (1,) * 30
    assert held < 90 * 1024 * 1024, f"{held / 1024 / 1024:.0f} MB held for one PDF slide"
    first, last = slide.pages[0], slide.pages[29]
    assert first.get_size() == last.get_size() == Layout.for_size(1920, 1080).slide.size
    assert slide.pages[-1] is last  # the page on screen is kept, not composed again each frame
