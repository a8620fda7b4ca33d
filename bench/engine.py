"""Playback engine figures: the cost of one decision and of a 7-day plan, with 1,000 bulletins.

Goals (issue 4): a decision under 1 ms, so the player can ask every frame; `plan` over 7 days
with 1,000 bulletins under 1 s. Run: `.venv/bin/python bench/engine.py`.
"""

from __future__ import annotations

import random
import statistics
import time as clock
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from signage.engine import Rules, Schedule, plan
from signage.model import Bulletin, Kind, Playable, Priority, Slot

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2026, 11, 23, 0, 0, tzinfo=HCM)


def bulletins(count: int, seed: int = 7) -> list[Playable]:
    """A district's worth: varied validity, a third with weekday slots, a few high, two emergencies."""
    rng = random.Random(seed)
    result = []
    for index in range(count):
        valid_from = START + timedelta(hours=rng.randrange(-48, 96))
        slots: tuple[Slot, ...] = ()
        if rng.random() < 0.33:
            begin = rng.randrange(5, 20)
            slots = (Slot(frozenset(rng.sample(range(7), rng.randrange(1, 8))), time(begin), time(min(23, begin + rng.randrange(1, 6)))),)
        priority = Priority.HIGH if rng.random() < 0.1 else Priority.NORMAL
        lasting = timedelta(hours=rng.randrange(2, 24 * 10))
        if index in (100, 700):
            priority, lasting = Priority.EMERGENCY, timedelta(hours=1)
        result.append(
            Playable(
                Bulletin(
                    id=f"b{index:04d}",
                    revision=1,
                    kind=Kind.TEXT,
                    title=f"Thông báo số {index}",
                    body="Nội dung thông báo của xã.",
                    duration_s=rng.choice([10, 15, 20, 30]),
                    priority=priority,
                    valid_from=valid_from,
                    valid_until=valid_from + lasting,
                    slots=slots,
                    boards=("*",) if rng.random() < 0.8 else ("tan-quan",),
                )
            )
        )
    return result


def per_decision(playables: list[Playable], rules: Rules) -> tuple[float, float, float]:
    """Median and p99 µs of `Schedule.at` asked every 1/60 s for 10 simulated minutes, and the worst."""
    schedule = Schedule.start(rules, playables, START + timedelta(days=1, hours=7))
    moment = START + timedelta(days=1, hours=7)
    costs = []
    for _ in range(36_000):
        moment += timedelta(seconds=1 / 60)
        began = clock.perf_counter()
        schedule.at(moment)
        costs.append(clock.perf_counter() - began)
    costs.sort()
    return statistics.median(costs) * 1e6, costs[int(len(costs) * 0.99)] * 1e6, costs[-1] * 1e6


def main() -> None:
    rules = Rules("tan-quan", HCM, time(6), time(22))
    playables = bulletins(1000)
    median, p99, worst = per_decision(playables, rules)
    print("engine, 1,000 bulletins (a third with slots, 10 % high, 2 emergencies), screen 06:00–22:00")
    print(f"  decision asked every frame (60 fps, 10 min): median {median:.1f} µs, p99 {p99:.1f} µs,", end=" ")
    print(f"worst {worst / 1000:.2f} ms  (goal < 1 ms)")
    times = []
    for _ in range(3):
        began = clock.perf_counter()
        entries = plan(rules, playables, START, hours=24 * 7)
        times.append(clock.perf_counter() - began)
    print(f"  plan over 7 days: {min(times) * 1000:.0f} ms best of 3, {len(entries):,} entries  (goal < 1 s)")
    began = clock.perf_counter()
    Schedule.start(rules, playables, START)
    print(f"  start (load 1,000 bulletins): {(clock.perf_counter() - began) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
