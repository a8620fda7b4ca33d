"""The source system's figures, SQLite and PostgreSQL side by side, for a province of 100 communes and 300 boards:

1. approve → published: from the approver's click (Desk.approve) to every touched unit's signed feed written
   (Publisher.publish), with 5,000 live bulletins in the province (goal: under 1 s): a commune's bulletin
   (one feed) and a province-wide one (every commune's feed);
2. what one board's poll downloads: its commune's feed.json, beside the peer, one feed holding every live bulletin
   of the province (what a single province-wide feed would make every board download; goal: only its own);
3. the pages with 50,000 bulletins in history: the editor's list (/desk) and the approval queue (/queue), over
   real HTTP from a hub under uvicorn on loopback (goal: under 300 ms), as a commune's officer and the province's.

The history is written with bulk INSERTs (as 50,000 bulletins written one by one would take an hour); the timed
steps go through the hub's own code.

Run: `.venv/bin/python bench/source.py [--quick] [--backends sqlite,postgresql]`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from signage.district.hub import create_app  # noqa: E402
from signage.district.hub import schema as t  # noqa: E402
from signage.district.hub.app import hash_password  # noqa: E402
from signage.district.hub.config import HubConfig  # noqa: E402
from signage.district.hub.desk import Actor, Draft, Targets  # noqa: E402
from signage.district.hub.feeds import FeedContents, FeedSite  # noqa: E402
from signage.district.hub.rules import Role  # noqa: E402
from signage.envelope import generate_key  # noqa: E402
from signage.model import Kind  # noqa: E402
from tests.hubserver import serve  # noqa: E402

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
PG_ADMIN = os.environ.get("SIGNAGE_TEST_POSTGRES", "postgresql://signage:signage@127.0.0.1:5432/signage_test")
PASSWORD = "bench-mật-khẩu-2026"
GOAL_PUBLISH_S = 1.0
GOAL_PAGE_MS = 300.0


@contextlib.contextmanager
def database(name: str, folder: Path) -> Iterator[str]:
    if name == "sqlite":
        yield str(folder / "hub.db")
        return
    import psycopg

    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    db_name = f"signage_bench_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{db_name}"')
    try:
        yield f"{PG_ADMIN.rsplit('/', 1)[0]}/{db_name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        admin.close()


def write_config(folder: Path, db: str) -> HubConfig:
    key = folder / "district.key"
    generate_key(key)
    (folder / "hub.toml").write_text(
        "[hub]\n"
        f"database = {json.dumps(db)}\n"
        'title = "Hệ thống thông tin nguồn tỉnh Bình Phước"\n'
        "[source]\n"
        f"key = {json.dumps(str(key))}\n"
        'unit_name = "Tỉnh Bình Phước"\n',
        encoding="utf-8",
    )
    return HubConfig.load(folder / "hub.toml")


def seed(engine: Any, now: datetime, communes: int, boards_per: int, live: int, history: int, waiting: int) -> dict[str, Any]:
    """Units, boards, people and bulletins in bulk: `live` approved (2% of them province-wide), `waiting` submitted,
    the rest of `history` withdrawn, expired, replaced, drafts and rejected ones."""
    ts = now.timestamp()
    units = [{"id": f"xa-{n:03d}", "name": f"Xã số {n}", "parent": t.ROOT_UNIT, "created_at": ts} for n in range(communes)]
    boards = [
        {"id": f"bang-{n:03d}-{b}", "name": f"Bảng tin {b + 1} xã số {n}", "public_key": "ed25519:x", "keyid": f"{n:03d}{b:013d}",
         "unit": f"xa-{n:03d}", "added_at": ts, "from_config": False}
        for n in range(communes) for b in range(boards_per)
    ]  # fmt: skip
    heads, revisions, live_rows = [], [], []
    states = ["withdrawn", "expired", "draft", "rejected"]
    for n in range(history):
        commune = n % communes
        province_wide = n < live and n % 50 == 0
        unit = t.ROOT_UNIT if province_wide else f"xa-{commune:03d}"
        state = "approved" if n < live else "submitted" if n < live + waiting else states[n % len(states)]
        bid = f"b-{n:06d}"
        updated = ts - (history - n) * 60
        heads.append({"id": bid, "unit": unit, "created_by": "bientap", "created_at": updated, "updated_at": updated, "latest": 1,
                      "live": 1 if state == "approved" else None, "title": f"Thông báo số {n} về lịch tiêm chủng và họp dân",
                      "state": state})  # fmt: skip
        targets = {"units": [unit], "boards": [], "groups": []}
        revisions.append(
            {"bulletin": bid, "revision": 1, "state": state, "kind": "text", "title": heads[-1]["title"],
             "body": "Nội dung thông báo gửi bà con trong xã, đọc kỹ và thực hiện đúng thời gian quy định." * 3,
             "priority": "normal", "category": "y-te", "valid_from": ts - 86400, "valid_until": ts + 30 * 86400, "slots": "[]",
             "targets": json.dumps(targets), "author": "bientap", "created_at": updated,
             "submitted_at": updated if state != "draft" else None, "decided_by": "duyet" if state in ("approved", "withdrawn") else None,
             "decided_at": updated if state in ("approved", "withdrawn") else None, "alone": False}
        )  # fmt: skip
        if state == "approved":
            chosen = boards if province_wide else boards[commune * boards_per : (commune + 1) * boards_per]
            live_rows += [{"bulletin": bid, "board": board["id"]} for board in chosen]
    with engine.begin() as conn:
        conn.execute(t.units.insert(), units)
        conn.execute(t.boards.insert(), boards)
        for table, rows in ((t.source_bulletins, heads), (t.revisions, revisions), (t.live_boards, live_rows)):
            for start in range(0, len(rows), 5000):
                conn.execute(table.insert(), rows[start : start + 5000])
    return {"boards": boards}


def approve_once(desk: Any, publisher: Any, unit: str, people: tuple[str, str], title: str, now: datetime) -> float:
    """A bulletin for every board of `unit` written and submitted by one, then timed: approved by the other and published."""
    author, approver = people
    draft = Draft(
        Kind.TEXT, title, Targets(units=(unit,)), body="Họp lúc 19:00.", category="hanh-chinh", valid_until=now + timedelta(days=3)
    )
    bulletin = desk.create(Actor(author, "127.0.0.1", datetime.now(HCM)), unit, draft)
    desk.submit(Actor(author, "127.0.0.1", datetime.now(HCM)), bulletin, 1)
    return timed(lambda: publisher.publish(desk.approve(Actor(approver, "127.0.0.1", datetime.now(HCM)), bulletin, 1)))


def timed(step: Any) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def run_backend(name: str, args: argparse.Namespace) -> dict[str, float]:
    figures: dict[str, float] = {}
    folder = Path(tempfile.mkdtemp(prefix=f"signage-bench-source-{name}-"))
    try:
        with database(name, folder) as db:
            config = write_config(folder, db)
            now = datetime.now(HCM).replace(microsecond=0)
            app = create_app(config, clock=lambda: datetime.now(HCM))

            store = _find_state(app, "store")
            desk, publisher = _find_state(app, "desk"), _find_state(app, "publisher")
            seed(store.engine, now, args.communes, 3, args.live, args.history, args.waiting)
            for officer, unit, roles in (("bientap", "xa-007", [Role.EDITOR]), ("duyet", "xa-007", [Role.APPROVER]),
                                         ("tinh", t.ROOT_UNIT, [Role.APPROVER]), ("tinh2", t.ROOT_UNIT, [Role.APPROVER])):  # fmt: skip
                desk.add_officer(None, officer, officer.title(), hash_password(PASSWORD), unit, roles)
            figures["publish_all_s"] = timed(lambda: publisher.publish(desk.feed_units()))
            publisher.link_boards()

            # 1. approve → published, a commune's bulletin and a province-wide one
            commune_times, province_times = [], []
            for round_ in range(args.rounds):
                commune_times.append(approve_once(desk, publisher, "xa-007", ("bientap", "duyet"), f"Họp dân thôn {round_}", now))
                province_times.append(approve_once(desk, publisher, t.ROOT_UNIT, ("tinh", "tinh2"), f"Phòng chống bão số {round_}", now))
            figures["approve_commune_s"] = statistics.median(commune_times)
            figures["approve_commune_max_s"] = max(commune_times)
            figures["approve_province_s"] = statistics.median(province_times)
            figures["approve_province_max_s"] = max(province_times)

            # 2. one board's poll, beside one feed of the whole province
            site = publisher.site
            figures["board_feed_bytes"] = (site.root / "xa-007" / "feed.json").stat().st_size
            figures["board_feed_bulletins"] = len(desk.feed_items("xa-007"))
            everything = [item for unit in sorted(desk.feed_units()) for item in desk.feed_items(unit)]
            unique = {bulletin.id: (bulletin, media) for bulletin, media in everything}
            peer = FeedSite(folder / "peer-site", config.source_key, config.title, timedelta(days=7))  # type: ignore[arg-type]
            peer.publish("ca-tinh", FeedContents(tuple(unique.values())), datetime.now(HCM))
            figures["province_feed_bytes"] = (folder / "peer-site" / "ca-tinh" / "feed.json").stat().st_size
            figures["province_feed_bulletins"] = len(unique)

            # 3. pages over real HTTP
            with serve(app) as url:
                for officer, label, paths in (("bientap", "commune editor", ("/desk",)), ("duyet", "commune approver", ("/queue",)),
                                              ("tinh", "province approver", ("/desk", "/queue"))):  # fmt: skip
                    session = requests.Session()
                    answer = session.post(url + "/login", data={"username": officer, "password": PASSWORD}, timeout=30)
                    assert answer.status_code == 200, answer.status_code
                    for path in paths:
                        times = []
                        for _ in range(args.page_rounds):
                            started = time.perf_counter()
                            page = session.get(url + path, timeout=60)
                            times.append(time.perf_counter() - started)
                            if page.status_code != 200:
                                raise SystemExit(f"{path} as {officer}: {page.status_code}")
                        figures[f"page {path} ({label}) ms"] = 1000 * statistics.median(times)
                        figures[f"page {path} ({label}) p90 ms"] = 1000 * sorted(times)[int(0.9 * (len(times) - 1))]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return figures


def _find_state(app: Any, name: str) -> Any:
    """The Starlette app's state behind the hub's ASGI wrappers."""
    current = app
    for _ in range(5):
        state = getattr(current, "state", None)
        if state is not None and hasattr(state, name):
            return getattr(state, name)
        current = getattr(current, "app", None)
    raise LookupError(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--quick", action="store_true", help="fewer rounds (the same province)")
    args = parser.parse_args()
    args.communes, args.live, args.history, args.waiting = 100, 5000, 50_000, 300
    args.rounds, args.page_rounds = (3, 5) if args.quick else (10, 20)
    results = {name: run_backend(name, args) for name in args.backends.split(",")}
    names = list(results)
    print(f"\nsource system: {args.communes} communes, {args.communes * 3} boards, {args.live} live bulletins, {args.history} in history")
    print(f"{'figure':48}" + "".join(f"{name:>14}" for name in names) + "   goal")
    goals = {"approve_commune_s": f"< {GOAL_PUBLISH_S} s", "approve_province_s": f"< {GOAL_PUBLISH_S} s"}
    for key in results[names[0]]:
        goal = goals.get(key, f"< {GOAL_PAGE_MS:.0f} ms" if key.startswith("page") and not key.endswith("p90 ms") else "")
        cells = "".join(
            f"{results[name][key]:>14.3f}" if isinstance(results[name][key], float) else f"{results[name][key]:>14}" for name in names
        )
        print(f"{key:48}{cells}   {goal}")
    first = results[names[0]]
    print(
        f"\none board's poll downloads {first['board_feed_bytes']:,} bytes ({first['board_feed_bulletins']} bulletins: its commune's "
        f"and the province's); one feed of the whole province would be {first['province_feed_bytes']:,} bytes "
        f"({first['province_feed_bulletins']})"
    )


if __name__ == "__main__":
    main()
