"""What plays when: validity, slots, targeting, priorities, emergencies, screen hours (no I/O, no clock).

`Schedule` is a deterministic event simulation. Its state changes only at *event times*
(a turn ends; a bulletin's validity or slot opens or closes; the screen's hours begin or
end) and at the times the caller hands it a new set of bulletins. `Schedule.at(now)`
processes every event up to `now` in time order, so asking every frame, every 100 ms or
once an hour gives the same timeline. The player and `signage plan` both run it.

Rotation is stride scheduling: each bulletin has a *pass*; the lowest pass plays next and
then advances by its stride (normal 2, high 1, so high shows twice as often, spread
out). A bulletin that (re)joins starts just ahead of the current pass: it plays at the
next turn and cannot starve or be starved. While any emergency is playable only the
emergencies rotate, and one arriving pre-empts the turn on screen at once.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from signage.model import Bulletin, Kind, Playable, Priority, Slot

TEXT_SECONDS_MIN = 8.0
TEXT_SECONDS_MAX = 120.0
TEXT_CHARS_PER_SECOND = 12.0  # a passer-by reads a public board slower than a page in hand
IMAGE_SECONDS = 10.0
VIDEO_SECONDS_UNKNOWN = 30.0
AUDIO_SECONDS_UNKNOWN = 60.0
PDF_PAGE_SECONDS = 12.0
STRIDE = {Priority.NORMAL: 2, Priority.HIGH: 1, Priority.EMERGENCY: 1}
FOREVER = timedelta(days=3650)


# -- single-bulletin rules ------------------------------------------------------


def in_slot(slot: Slot, local: datetime) -> bool:
    """Whether `local` (in the board's zone) falls in `slot`; a slot past midnight belongs to the day it starts."""
    clock = local.time().replace(tzinfo=None)
    if slot.end is None or slot.start < slot.end:
        return local.weekday() in slot.days and slot.start <= clock and (slot.end is None or clock < slot.end)
    if clock >= slot.start:  # runs past midnight, e.g. 22:00–02:00
        return local.weekday() in slot.days
    yesterday = (local - timedelta(days=1)).weekday()
    return clock < slot.end and yesterday in slot.days


def is_playable(bulletin: Bulletin, board_id: str, now: datetime) -> bool:
    """Valid in `[valid_from, valid_until)`, aimed at this board, and inside one of its slots (if any).

    `now` must be in the board's time zone: slots are wall-clock times there.
    """
    if bulletin.valid_from is not None and now < bulletin.valid_from:
        return False
    if bulletin.valid_until is not None and now >= bulletin.valid_until:
        return False
    if not bulletin.targets(board_id):
        return False
    return not bulletin.slots or any(in_slot(slot, now) for slot in bulletin.slots)


def playable_now(playables: Iterable[Playable], board_id: str, now: datetime) -> list[Playable]:
    """The playables that may show at `now` (an aware datetime in the board's time zone), in order."""
    return [p for p in playables if is_playable(p.bulletin, board_id, now)]


def reading_seconds(text: str) -> float:
    """Time to read `text` on a board, in whole seconds, between a floor and a ceiling."""
    return float(min(TEXT_SECONDS_MAX, max(TEXT_SECONDS_MIN, round(4.0 + len(text) / TEXT_CHARS_PER_SECOND))))


def turn_seconds(playable: Playable) -> float:
    """How long one turn of a bulletin lasts: `duration_s`, else by kind."""
    bulletin = playable.bulletin
    if bulletin.duration_s is not None:
        return bulletin.duration_s
    if bulletin.kind is Kind.TEXT:
        return reading_seconds(bulletin.title + " " + bulletin.body)
    if bulletin.kind is Kind.VIDEO:
        return playable.media_seconds or VIDEO_SECONDS_UNKNOWN
    if bulletin.kind is Kind.AUDIO:
        return playable.media_seconds or AUDIO_SECONDS_UNKNOWN
    if bulletin.kind is Kind.PDF:
        return PDF_PAGE_SECONDS * (playable.page_count or 1)
    return IMAGE_SECONDS


# -- time arithmetic in the board's zone --------------------------------------------


def _local(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, zone)


def _slot_edges(slot: Slot, after: datetime, zone: ZoneInfo) -> datetime:
    """The first start or end of `slot` strictly after `after` (within the next 8 days)."""
    local = after.astimezone(zone)
    best: datetime | None = None
    for offset in range(-1, 9):
        day = local.date() + timedelta(days=offset)
        if day.weekday() not in slot.days:
            continue
        start = _local(day, slot.start, zone)
        if slot.end is None:
            end = _local(day + timedelta(days=1), time(0), zone)
        elif slot.end <= slot.start:
            end = _local(day + timedelta(days=1), slot.end, zone)
        else:
            end = _local(day, slot.end, zone)
        for edge in (start, end):
            if edge > after and (best is None or edge < best):
                best = edge
        if best is not None and start > after:
            break  # later days only hold later edges
    return best if best is not None else after + FOREVER


def next_change(bulletin: Bulletin, after: datetime, zone: ZoneInfo) -> datetime:
    """The first moment after `after` at which the bulletin may become playable or stop being so."""
    candidates = [after + FOREVER]
    if bulletin.valid_from is not None and bulletin.valid_from > after:
        candidates.append(bulletin.valid_from)
    if bulletin.valid_until is not None and bulletin.valid_until > after:
        candidates.append(bulletin.valid_until)
    if bulletin.valid_until is None or bulletin.valid_until > after:
        candidates.extend(_slot_edges(slot, after, zone) for slot in bulletin.slots)
    return min(candidates)


@dataclass(frozen=True, slots=True)
class Rules:
    """What the engine needs of the board's config."""

    board_id: str
    timezone: ZoneInfo
    screen_on: time | None = None  # None for both: always on
    screen_off: time | None = None
    emergency_wakes_screen: bool = True

    def screen_is_on(self, now: datetime) -> bool:
        if self.screen_on is None or self.screen_off is None:
            return True
        clock = now.astimezone(self.timezone).time().replace(tzinfo=None)
        if self.screen_on < self.screen_off:
            return self.screen_on <= clock < self.screen_off
        return clock >= self.screen_on or clock < self.screen_off

    def next_screen_change(self, after: datetime) -> datetime:
        if self.screen_on is None or self.screen_off is None:
            return after + FOREVER
        local = after.astimezone(self.timezone)
        edges = [
            _local(local.date() + timedelta(days=d), clock, self.timezone) for d in (0, 1) for clock in (self.screen_on, self.screen_off)
        ]
        return min(edge for edge in edges if edge > after)


@dataclass(frozen=True, slots=True)
class Decision:
    """What the screen shows from `start` until `until` at the latest (unless new bulletins arrive)."""

    playable: Playable | None  # None: the idle slide, or nothing when the screen is off
    screen_on: bool
    start: datetime
    until: datetime

    @property
    def bulletin_id(self) -> str | None:
        return self.playable.bulletin.id if self.playable is not None and self.screen_on else None


@dataclass
class _Member:
    playable: Playable
    order: int  # position in the snapshot: the stable order of rotation

    @property
    def emergency(self) -> bool:
        return self.playable.bulletin.priority is Priority.EMERGENCY


Pool = list[tuple[float, int, str]]  # (pass, order, id); an entry is stale once its id left or its pass moved


@dataclass
class Schedule:
    """The board's timeline, advanced by the times it is asked about (never backwards)."""

    rules: Rules
    now: datetime
    _members: dict[str, _Member] = field(default_factory=dict)
    _playing: dict[str, bool] = field(default_factory=dict)  # id → emergency, for those inside validity and slots
    _counts: dict[bool, int] = field(default_factory=lambda: {False: 0, True: 0})
    _events: list[tuple[datetime, int, str]] = field(default_factory=list)  # (when, order, id): membership may change
    _passes: dict[str, float] = field(default_factory=dict)
    _vtime: float | None = None  # the highest pass a turn has started at; None before the first
    _joining: set[str] = field(default_factory=set)  # newcomers whose pass is the join's, not yet played
    _pools: dict[bool, Pool] = field(default_factory=lambda: {False: [], True: []})
    _current: Decision | None = None
    _screen_change: datetime | None = None
    _screen_is_on: bool = True
    _screen_override: bool | None = None  # a district display_on/display_off, until the next scheduled change

    @classmethod
    def start(cls, rules: Rules, playables: Sequence[Playable], now: datetime) -> Schedule:
        schedule = cls(rules, now.astimezone(rules.timezone))
        schedule.replace(playables, now)
        return schedule

    # -- inputs ------------------------------------------------------------------

    def replace(self, playables: Sequence[Playable], now: datetime) -> None:
        """A new set of bulletins (a feed accepted, the inbox changed): withdrawn ones leave at once."""
        self._advance(now)
        now = self.now
        was_playing = self._playing
        self._members, self._playing, self._events = {}, {}, []
        self._counts = {False: 0, True: 0}
        self._pools = {False: [], True: []}
        for order, playable in enumerate(playables):
            bid = playable.bulletin.id
            if bid in self._members or not playable.bulletin.targets(self.rules.board_id):
                continue
            self._members[bid] = _Member(playable, order)
            if is_playable(playable.bulletin, self.rules.board_id, now):
                self._add(bid, rejoin=bid not in was_playing)
            self._push_event(bid, now)
        current = self._current
        if current is not None and current.playable is not None:
            member = self._members.get(current.playable.bulletin.id)
            if member is None or member.playable.bulletin.id not in self._playing:
                self._begin(now)  # withdrawn: off the screen now
                return
            if member.playable is not current.playable:
                # A new revision takes over the rest of the turn; nothing else restarts.
                self._current = Decision(member.playable, current.screen_on, current.start, current.until)
        if self._current is None or self._current_should_leave():
            self._begin(now)

    def override_screen(self, on: bool, now: datetime) -> None:
        """A district `display_on`/`display_off`: the screen is on (or off) from `now` until the next scheduled change."""
        self._advance(now)
        if self._screen_change is None or self._screen_change <= self.now:
            self._screen_change = self.rules.next_screen_change(self.now)
            self._screen_is_on = self.rules.screen_is_on(self.now)
        self._screen_override = on
        self._begin(self.now)

    def rebase(self, now: datetime, by: timedelta) -> None:
        """The clock stepped by `by` (back or forward) and reads `now`: re-plan from there, without a freeze or a gap.

        The timeline never runs backwards, so a step is not a time to advance to: the bulletin on screen
        keeps the rest of its turn (its start and end move with the clock), the rotation's order and
        credit carry on, and validity, slots and screen hours are judged afresh at `now` (a bulletin
        that is not playable there leaves at once). The idle slide and the dark screen are decided anew.
        """
        now = now.astimezone(self.rules.timezone)
        current = self._current
        if current is not None and current.playable is not None and current.screen_on:
            self._current = Decision(current.playable, True, current.start + by, current.until + by)
        else:
            self._current = None
        self._events = []  # validity and slot edges, recomputed from `now` by `replace`
        self._screen_change, self._screen_override = None, None  # the hours, re-judged at the next turn
        self.now = now
        members = sorted(self._members.values(), key=lambda member: member.order)
        self.replace([member.playable for member in members], now)

    def at(self, now: datetime) -> Decision:
        """What shows at `now`: processes every event up to `now`; asking more often changes nothing."""
        self._advance(now)
        assert self._current is not None
        return self._with_until(self._current)

    # -- the simulation ----------------------------------------------------------

    def _advance(self, now: datetime) -> None:
        zone = self.rules.timezone
        now = now.astimezone(zone)
        if self._current is None:
            self.now = max(self.now, now)
            return
        while True:
            turn_end = self._current.until
            step = turn_end
            if self._events and self._events[0][0] < step:
                step = self._events[0][0]
            if self._screen_change is not None and self._screen_change < step:
                step = self._screen_change
            if step > now:
                break
            step = step.astimezone(zone)
            self.now = step
            changed = False
            while self._events and self._events[0][0] <= step:
                _, _, bid = heapq.heappop(self._events)
                member = self._members[bid]
                playing = is_playable(member.playable.bulletin, self.rules.board_id, step)
                if playing != (bid in self._playing):
                    changed = True
                    if playing:
                        self._add(bid, rejoin=True)
                    else:
                        self._remove(bid)
                self._push_event(bid, step)
            screen_changed = self._screen_change is not None and self._screen_change <= step
            if step >= turn_end or screen_changed or (changed and self._current_should_leave()):
                self._begin(step)
        self.now = max(self.now, now)

    def _begin(self, when: datetime) -> None:
        """Start the next turn at `when`."""
        if self._screen_change is None or self._screen_change <= when:  # the hours hold until their next change
            self._screen_change = self.rules.next_screen_change(when)
            self._screen_is_on = self.rules.screen_is_on(when)
            self._screen_override = None  # a command lasts until the next scheduled change
        screen_on = self._screen_is_on if self._screen_override is None else self._screen_override
        emergency = self._counts[True] > 0
        if not screen_on and not (emergency and self.rules.emergency_wakes_screen):
            self._current = Decision(None, False, when, self._screen_change)
            return
        last = self._current.playable.bulletin.id if self._current is not None and self._current.playable is not None else None
        chosen = self._pick(emergency, last)
        if chosen is None:
            self._current = Decision(None, True, when, when + FOREVER)
            return
        playable = self._members[chosen].playable
        self._current = Decision(playable, True, when, when + timedelta(seconds=turn_seconds(playable)))

    def _live(self, entry: tuple[float, int, str], emergency: bool) -> bool:
        bid = entry[2]
        return self._playing.get(bid) is emergency and self._passes[bid] == entry[0]

    def _pick(self, emergency: bool, last: str | None) -> str | None:
        """Lowest pass first; never the same bulletin twice in a row while another waits."""
        pool = self._pools[emergency]
        live: list[tuple[float, int, str]] = []
        while pool and len(live) < 2:
            entry = heapq.heappop(pool)
            if self._live(entry, emergency):
                live.append(entry)
                if entry[2] != last:
                    break
        if not live:
            return None
        chosen = live[-1]
        for entry in live[:-1]:
            heapq.heappush(pool, entry)
        bid = chosen[2]
        # A turn advances the chosen pass by its stride. A newcomer's early pass wins it the next turn only:
        # from there it falls in line with the rest. Nothing else moves a pass, so one that was passed over
        # (never twice in a row) keeps its credit and plays next, and the shares hold (high twice each normal).
        base = chosen[0]
        if bid in self._joining:
            self._joining.discard(bid)
            base = base if self._vtime is None else max(base, self._vtime)
        self._passes[bid] = base + STRIDE[self._members[bid].playable.bulletin.priority]
        # The highest pass a turn has started at: newcomers join just ahead of it.
        self._vtime = chosen[0] if self._vtime is None else max(self._vtime, chosen[0])
        heapq.heappush(pool, (self._passes[bid], chosen[1], bid))
        return bid

    def _add(self, bid: str, *, rejoin: bool) -> None:
        member = self._members[bid]
        if rejoin or bid not in self._passes:
            # Just ahead of the current pass: the newcomer plays at the next turn, with no burst
            # of catch-up turns for the time it was away.
            ahead = 0.0 if self._vtime is None else self._vtime - 0.5
            if self._passes.get(bid, -math.inf) < ahead:
                self._passes[bid] = ahead
                self._joining.add(bid)
        self._playing[bid] = member.emergency
        self._counts[member.emergency] += 1
        heapq.heappush(self._pools[member.emergency], (self._passes[bid], member.order, bid))

    def _remove(self, bid: str) -> None:
        self._counts[self._playing.pop(bid)] -= 1  # its pool entry goes stale

    def _push_event(self, bid: str, after: datetime) -> None:
        member = self._members[bid]
        when = next_change(member.playable.bulletin, after, self.rules.timezone)
        if when - after < FOREVER:
            heapq.heappush(self._events, (when, member.order, bid))

    def _current_should_leave(self) -> bool:
        """After the playable set changed: whether the turn on screen ends now."""
        current = self._current
        if current is None:
            return True
        emergency = self._counts[True] > 0
        if current.playable is None:
            if current.screen_on:
                return emergency or self._counts[False] > 0  # idle, and something to show
            return emergency and self.rules.emergency_wakes_screen  # off, and an emergency wakes it
        bid = current.playable.bulletin.id
        if bid not in self._playing:
            return True  # expired, out of its slot, or withdrawn
        return emergency and not self._playing[bid]  # pre-empted by an emergency

    def _with_until(self, decision: Decision) -> Decision:
        """The decision's end, or the next moment the set of playable bulletins may change."""
        horizon = decision.until
        if self._events:
            horizon = min(horizon, self._events[0][0])
        if self._screen_change is not None:
            horizon = min(horizon, self._screen_change)
        return decision if horizon == decision.until else Decision(decision.playable, decision.screen_on, decision.start, horizon)

    def peek_next(self) -> Playable | None:
        """The bulletin the next turn would show if nothing changes (to compose it ahead)."""
        emergency = self._counts[True] > 0
        live = sorted(entry for entry in self._pools[emergency] if self._live(entry, emergency))
        if not live:
            return None
        last = self._current.playable.bulletin.id if self._current is not None and self._current.playable is not None else None
        choice = live[1] if live[0][2] == last and len(live) > 1 else live[0]
        return self._members[choice[2]].playable


@dataclass(frozen=True, slots=True)
class Entry:
    start: datetime
    end: datetime
    bulletin: str | None  # None while the screen is off; "" is never used

    def to_json(self) -> dict[str, str | None]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "bulletin": self.bulletin}


IDLE = "(idle)"


def plan(rules: Rules, playables: Sequence[Playable], start: datetime, hours: float) -> list[Entry]:
    """The timeline from `start` for `hours`: one entry per turn, `None` while the screen is off.

    The idle slide (nothing playable, screen on) shows as the bulletin `"(idle)"`.
    """
    start = start.astimezone(rules.timezone)
    end = start + timedelta(hours=hours)
    schedule = Schedule.start(rules, playables, start)
    entries: list[Entry] = []
    moment = start
    while moment < end:
        decision = schedule.at(moment)
        until = min(decision.until, end)
        bulletin = None if not decision.screen_on else (decision.playable.bulletin.id if decision.playable else IDLE)
        continues = decision.start < moment or bulletin in (None, IDLE)  # the same turn, or one span of off or idle
        if entries and entries[-1].bulletin == bulletin and continues:
            entries[-1] = Entry(entries[-1].start, until, bulletin)
        else:
            entries.append(Entry(moment, until, bulletin))
        moment = until
    return entries
