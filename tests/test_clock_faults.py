"""A clock that jumps never stops the board (issue 17, items 1, 2 and 9), each fault under the `Clock` seam.

The player is stepped frame by frame with a test clock whose wall reading can step while its monotonic
reading runs on; apscheduler's own jobs and triggers are driven the way its scheduler drives them.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import textwrap
from collections.abc import Iterator
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.job import Job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from signage.config import load_config
from signage.district.publish import publish
from signage.envelope import generate_key, public_key_text, public_raw
from signage.feed.http import Fetcher
from signage.feed.sync import open_store, sync
from signage.jobs import ContentChanged, SteadyJobStore
from signage.kiosk.doctor import Level, health
from signage.model import Playable
from signage.player import Player
from signage.render.output import HeadlessOutput
from tests.feedserver import FeedServer

from .conftest import ROOT
from .test_player import HCM, THREE, board, run_for

STEPS = [timedelta(hours=-1), timedelta(hours=-7), timedelta(days=1)]
STEP_IDS = ["back-1h", "back-7h", "forward-1day"]


@dataclass
class SteppingClock:
    """A wall clock that a test can step (NTP, a hardware clock in local time, a technician), and a monotonic one that only runs."""

    start: datetime = field(default_factory=lambda: datetime(2026, 11, 23, 9, 0, tzinfo=HCM))
    t: float = 0.0
    offset: timedelta = timedelta(0)

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.t) + self.offset

    def monotonic(self) -> float:
        return self.t


@dataclass
class Board:
    player: Player
    clock: SteppingClock


@pytest.fixture
def rotating(tmp_path: Path) -> Iterator[Board]:
    clock = SteppingClock()
    config = load_config(board(tmp_path, THREE))  # a, b, c: two seconds each
    player = Player(config, HeadlessOutput(config.display), clock)
    try:
        player.start()
        yield Board(player, clock)
    finally:
        player.close()
        player.output.close()


def changes(seen: list[tuple[float, str | None, float]]) -> list[tuple[float, str | None]]:
    return [(round(t, 1), b) for i, (t, b, _) in enumerate(seen) if i == 0 or b != seen[i - 1][1]]


# -- item 1: the clock steps mid-turn ------------------------------------------------------------------


@pytest.mark.parametrize("step", STEPS, ids=STEP_IDS)
def test_clock_stepped_mid_turn_keeps_the_rotation_going_at_its_pace(rotating: Board, step: timedelta, caplog) -> None:
    """Stepped back an hour, the rotation froze on one slide for the hour; forward, the turn on screen was cut short."""
    player, clock = rotating.player, rotating.clock
    run_for(player, clock, 3)  # b has been on screen for a second
    clock.offset = step
    with caplog.at_level(logging.WARNING, logger="signage.player"):
        seen = run_for(player, clock, 8.5)
    assert changes(seen)[:5] == [(3.0, "b"), (4.0, "c"), (6.0, "a"), (8.0, "b"), (10.0, "c")]
    stepped = [r.getMessage() for r in caplog.records if "stepped" in r.getMessage()]
    assert len(stepped) == 1, stepped  # logged once, in one line
    way = "back" if step < timedelta(0) else "forward"
    assert f"stepped {way}" in stepped[0] and "\n" not in stepped[0]
    report = player.time.report()
    assert report["clock_jumps"] == 1 and report["last_clock_jump"]["by_s"] == pytest.approx(step.total_seconds(), abs=0.1)


@pytest.mark.parametrize("step", STEPS, ids=STEP_IDS)
def test_clock_stepped_mid_turn_reports_the_seconds_really_shown(rotating: Board, step: timedelta) -> None:
    """The play on screen when the clock went back an hour was reported as `shown_s 0.0`."""
    player, clock = rotating.player, rotating.clock
    run_for(player, clock, 3)
    clock.offset = step
    run_for(player, clock, 5.5)
    plays = player.plays.take()
    assert [p.bulletin for p in plays] == ["a", "b", "c", "a"]
    for play in plays:
        assert play.shown_s == pytest.approx(2.0, abs=0.05) and play.completed, play


def test_clock_stepped_back_on_the_idle_slide_is_seen_within_a_frame_and_the_board_plays_on(tmp_path: Path) -> None:
    """Nothing playable yet: a bulletin valid from 09:00:05 must still come on five seconds later, not an hour later."""
    later = """
    [[bulletins]]
    id = "hop"
    kind = "text"
    title = "Họp dân"
    body = "Họp dân lúc 19 giờ."
    valid_from = 2026-11-23T09:00:05+07:00
    """
    clock = SteppingClock()
    config = load_config(board(tmp_path, later))
    player = Player(config, HeadlessOutput(config.display), clock)
    try:
        player.start()
        run_for(player, clock, 1)
        clock.offset = timedelta(hours=-1)
        run_for(player, clock, 1 / 30)
        assert player.time.report()["clock_jumps"] == 1  # within a frame
        seen = run_for(player, clock, 3)
        assert {b for _, b, _ in seen} == {None}  # 08:00 by the new clock: not yet
        clock.offset = timedelta(0)  # NTP puts it right again
        seen = run_for(player, clock, 2)
        assert seen[-1][1] == "hop" and player.time.report()["clock_jumps"] == 2
    finally:
        player.close()
        player.output.close()


def test_clock_step_is_in_the_next_reports_status_block(tmp_path: Path) -> None:
    """The step was nowhere in the report: the hub could not tell why a board's plays overlapped by an hour."""
    generate_key(tmp_path / "board.key")
    extra = '[report]\nurl = "http://127.0.0.1:9/report"\nkey = "board.key"\n'
    clock = SteppingClock()
    config = load_config(board(tmp_path, THREE, extra=extra))
    player = Player(config, HeadlessOutput(config.display), clock)
    try:
        player.start()
        run_for(player, clock, 1)
        clock.offset = timedelta(hours=-7)
        run_for(player, clock, 1)
        assert player.reporter is not None
        store, _ = player.reporter._open()
        try:
            status = player.reporter.status(store, clock.now())
        finally:
            store.close()
    finally:
        player.close()
        player.output.close()
    assert status["clock_jumps"] == 1 and status["plays_by_signed_time"] is False
    assert status["last_clock_jump"]["by_s"] == pytest.approx(-25200, abs=0.1)
    stepped_at = datetime.fromisoformat(status["last_clock_jump"]["at"])
    assert abs(stepped_at - (clock.start + timedelta(hours=-7, seconds=1))) < timedelta(seconds=0.1)


# -- item 1: heartbeats and polls, as apscheduler runs them ----------------------------------------------


def interval_job(store: MemoryJobStore, job_id: str, seconds: float, first: datetime) -> None:
    trigger = IntervalTrigger(seconds=seconds, start_date=first, timezone=HCM)
    job = Job(
        BackgroundScheduler(timezone=HCM),  # never started: it only lends the job its time zone
        id=job_id,
        func=print,
        trigger=trigger,
        executor="default",
        args=(),
        kwargs={},
        name=job_id,
        misfire_grace_time=30,
        coalesce=True,
        max_instances=1,
        next_run_time=first,
    )
    store.add_job(job)


def drive(store: MemoryJobStore, clock: SteppingClock, seconds: float, steps: dict[float, timedelta]) -> dict[str, list[float]]:
    """Run the jobs of `store` for `seconds` of monotonic time the way apscheduler 3's scheduler does.

    Its loop: ask the store for due jobs at the wall clock's `now`; run each once (coalesced) unless that
    run is more than `misfire_grace_time` late; ask the trigger for the next; sleep (a monotonic wait) until
    the store's next run time by the wall clock. `steps` {monotonic second: offset} step the wall clock,
    which a sleeping scheduler does not notice until it wakes. Returns, per job, the monotonic seconds it ran at.
    """
    ran: dict[str, list[float]] = {}
    pending = sorted(steps.items())
    while clock.t < seconds:
        now = clock.now()
        for job in store.get_due_jobs(now):
            run_times = job._get_run_times(now)[-1:]
            if run_times and now - run_times[-1] <= timedelta(seconds=job.misfire_grace_time):
                ran.setdefault(job.id, []).append(round(clock.t, 3))
            if run_times:
                job._modify(next_run_time=job.trigger.get_next_fire_time(run_times[-1], now))
                store.update_job(job)
        wake = store.get_next_run_time()
        wait = 3600.0 if wake is None else max(0.0, (wake - clock.now()).total_seconds())
        target = min(clock.t + wait, seconds)
        while pending and pending[0][0] <= target:
            at, offset = pending.pop(0)
            clock.t, clock.offset = max(clock.t, at), offset
        clock.t = max(clock.t, target)
    return ran


@pytest.mark.parametrize("step", STEPS, ids=STEP_IDS)
def test_clock_stepped_mid_run_keeps_heartbeats_and_polls_in_their_rhythm(step: timedelta) -> None:
    """apscheduler plans on the wall clock: stepped back an hour, no heartbeat and no poll for an hour."""
    clock = SteppingClock()
    store = SteadyJobStore(wall=clock.now, monotonic=clock.monotonic)
    interval_job(store, "report", 60, clock.now() + timedelta(seconds=5))
    interval_job(store, "feed", 300, clock.now())
    ran = drive(store, clock, 1300, {100.5: step})
    assert ran["report"] == [5 + 60 * k for k in range(22)]
    assert ran["feed"] == [0, 300, 600, 900, 1200]
    assert store.steps == 1


def test_a_drifting_clock_is_not_a_step() -> None:
    """NTP slews a clock by up to 0.5 ms a second: an hour of that must move nothing."""
    clock = SteppingClock()
    store = SteadyJobStore(wall=clock.now, monotonic=clock.monotonic)
    interval_job(store, "report", 60, clock.now())
    for minute in range(60):
        clock.t = minute * 60.0
        clock.offset = timedelta(seconds=minute * 60 * 0.0005)
        store.get_due_jobs(clock.now())
    assert store.steps == 0


# -- item 2: a clock a year early, a year late ---------------------------------------------------------------


GENERATED = datetime(2026, 11, 23, 8, 0, tzinfo=HCM)


@dataclass
class District:
    site: Path
    config: Path


@pytest.fixture
def district(tmp_path: Path) -> Iterator[District]:
    src, site = tmp_path / "src", tmp_path / "site"
    src.mkdir()
    key = generate_key(tmp_path / "district.key")
    (src / "hop-dan.toml").write_text(
        textwrap.dedent(
            """
            kind = "text"
            title = "Họp dân ấp 2"
            body = "Họp dân ấp 2 lúc 19 giờ tại nhà văn hoá."
            valid_from = 2026-11-01T00:00:00+07:00
            valid_until = 2027-12-31T00:00:00+07:00
            boards = ["*"]
            """
        ),
        encoding="utf-8",
    )
    publish(src, tmp_path / "district.key", site, publisher="hon-quan", expires_in=timedelta(days=7), now=GENERATED)
    with FeedServer(site) as server:
        config = tmp_path / "board.toml"
        config.write_text(
            textwrap.dedent(
                f"""
                [board]
                id = "tan-quan"
                name = "UBND xã Tân Quan"
                data_dir = "state"
                [feed]
                url = "{server.url}/feed.json"
                public_keys = ["{public_key_text(public_raw(key))}"]
                publisher = "hon-quan"
                [display]
                size = "640x360"
                """
            ),
            encoding="utf-8",
        )
        yield District(site, config)


def sync_at(config_path: Path, at: datetime):
    config = load_config(config_path)
    store, files = open_store(config)
    try:
        return sync(config, store, files, Fetcher(), lambda: at, sleep=lambda _: None)
    finally:
        store.close()


def test_clock_a_year_early_still_shows_the_districts_current_notices(district: District, tmp_path: Path) -> None:
    """A board whose battery died: the feed was accepted, then only the idle slide showed, the notice 'not yet valid'."""
    early = GENERATED - timedelta(days=365) + timedelta(hours=1)
    assert sync_at(district.config, early).outcome == "accepted"
    clock = SteppingClock(start=early)
    config = load_config(district.config)
    player = Player(config, HeadlessOutput(config.display), clock)
    try:
        player.start()
        seen = run_for(player, clock, 1)
        assert seen[-1][1] == "hop-dan"
        assert player.time.report()["plays_by_signed_time"] is True
        assert "23/11/2026" in player.frame.header.shown  # the header's date is the signed time's, not 2025's
    finally:
        player.close()
        player.output.close()
    checks = health(config, early, ntp=lambda: False, environ={"DISPLAY": ":0"})
    clock_lines = [check.text for check in checks if check.name == "clock" and check.level is Level.BAD]
    assert any("plays by the feed's signed time" in line for line in clock_lines), clock_lines


def test_clock_a_year_late_refuses_the_feed_and_doctor_points_at_the_clock(district: District) -> None:
    """The feed was refused as expired, and doctor said nothing of the clock."""
    late = GENERATED + timedelta(days=365)
    result = sync_at(district.config, late)
    assert result.outcome == "refused"
    assert len(result.errors) == 1 and "the board's clock may be wrong" in result.errors[0] and "\n" not in result.errors[0]
    checks = health(load_config(district.config), late, ntp=lambda: False, environ={"DISPLAY": ":0"})
    clock_lines = [check.line() for check in checks if check.name == "clock" and check.level is Level.BAD]
    assert any("may be wrong" in line and "expired" in line for line in clock_lines), clock_lines


# -- item 9: the reason a republished bulletin's play was cut ---------------------------------------------


REPUBLISHED = """
[[bulletins]]
id = "anh"
kind = "image"
title = "Thu gom rác"
media = "rac.png"
duration_s = 4
valid_until = 2027-12-31T00:00:00+07:00
[[bulletins]]
id = "a"
kind = "text"
title = "Một"
body = "Nội dung thứ nhất."
duration_s = 2
"""


@pytest.fixture
def republishing(tmp_path: Path) -> Iterator[Board]:
    shutil.copy(ROOT / "assets" / "demo" / "thu-gom-rac.png", tmp_path / "rac.png")
    clock = SteppingClock()
    config = load_config(board(tmp_path, REPUBLISHED))
    player = Player(config, HeadlessOutput(config.display), clock)
    try:
        player.start()
        yield Board(player, clock)
    finally:
        player.close()
        player.output.close()


def revised(playable: Playable) -> Playable:
    return dataclasses.replace(playable, bulletin=dataclasses.replace(playable.bulletin, revision=playable.bulletin.revision + 1))


def test_a_republished_image_taking_over_its_turn_is_not_cut_as_expired(republishing: Board) -> None:
    """Revision 2 took the rest of revision 1's turn and was reported cut for `expired` though valid until 2027."""
    player, clock = republishing.player, republishing.clock
    run_for(player, clock, 1)
    image, text = player.content
    player.jobs.events.put(ContentChanged([revised(image), text]))
    run_for(player, clock, 4)
    plays = [(p.bulletin, p.revision, p.completed, p.reason) for p in player.plays.take()]
    assert plays == [("anh", 1, False, "revised"), ("anh", 2, True, None)]


def test_a_republished_image_whose_new_file_is_on_its_way_is_cut_as_revised(republishing: Board) -> None:
    """The feed holds revision 2 before its media: the image leaves the rotation for now, `revised`."""
    player, clock = republishing.player, republishing.clock
    run_for(player, clock, 1)
    _, text = player.content
    player.jobs.events.put(ContentChanged([text], waiting=frozenset({"anh"})))
    run_for(player, clock, 1)
    plays = [(p.bulletin, p.revision, p.reason) for p in player.plays.take()]
    assert plays == [("anh", 1, "revised")]


def test_the_cut_reason_is_judged_when_the_engine_moves_on_not_when_the_next_slide_is_ready(republishing: Board) -> None:
    """Withdrawn while the next slide was still composing, and back by the time it was ready: reported `expired`."""
    player, clock = republishing.player, republishing.clock
    run_for(player, clock, 1)
    image, text = player.content
    key = ("a", 1)
    real = player._jobs.pop(key, None)
    if real is None:  # already composed: put it back in the oven
        real = Future()
        real.set_result(player._ready.pop(key))
    player._jobs[key] = Future()  # still composing
    player.jobs.events.put(ContentChanged([text]))  # withdrawn
    clock.t += 0.1
    player.step()  # the engine moves on to "a"; its slide is not ready, so the image stays on screen
    assert player.slide is not None and player.slide.playable.bulletin.id == "anh"
    player.jobs.events.put(ContentChanged([revised(image), text]))  # published again
    clock.t += 0.1
    player.step()
    player._jobs[key] = real
    wait([real], timeout=10)
    run_for(player, clock, 0.2)
    plays = [(p.bulletin, p.revision, p.reason) for p in player.plays.take()]
    assert plays[0] == ("anh", 1, "withdrawn")


def test_clock_stepped_back_mid_video_keeps_the_picture_moving_and_the_next_clip_on_time(tmp_path: Path) -> None:
    """The video stood still on its last frame while the ticker moved, for the hour the clock had gone back."""
    import time

    from tests.videoclips import frame_index, numbered_clip

    numbered_clip(tmp_path / "a.mp4", seconds=2.0)
    numbered_clip(tmp_path / "b.mp4", seconds=2.0)
    clips = "".join(
        f'[[bulletins]]\nid = "{name}"\nkind = "video"\ntitle = "Phim {name}"\nmedia = "{name}.mp4"\nduration_s = 2\n' for name in "ab"
    )
    clock = SteppingClock()
    config = load_config(board(tmp_path, clips))
    player = Player(config, HeadlessOutput(config.display), clock)
    pictures: list[tuple[float, str | None, int]] = []
    try:
        player.start()
        for frame in range(round(5.5 * 30)):
            clock.t = (frame + 1) / 30
            if abs(clock.t - 1.0) < 1e-9:
                clock.offset = timedelta(hours=-1)
            player.step()
            time.sleep(1 / 120)  # the decoder thread works in real time: let it keep up with the test's clock
            live = player.frame.live
            bulletin = player.slide.playable.bulletin.id if player.slide and player.slide.playable else None
            level = player.frame.surface.get_at(live.rect.center).r if live is not None else -1
            pictures.append((clock.t, bulletin, level))
    finally:
        player.close()
        player.output.close()
    assert changes(pictures)[:3] == [(0.0, "a"), (2.0, "b"), (4.0, "a")]
    after_step = {frame_index(level) for t, bulletin, level in pictures if bulletin == "a" and 1.2 <= t < 1.9}
    assert len(after_step) > 5, after_step  # the clip kept playing through the step
