"""The board's store under faults done for real: a full disk, a damaged or lost database, a kill between storing and probing.

Each test is named after what happens to the board. Nothing is mocked: real SQLite files are
truncated, flipped or lose their WAL, real processes are killed with SIGKILL, and the full disk
is a tiny tmpfs mounted for the test (skipped, with the reason, where it cannot be mounted).
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from signage.config import load_config
from signage.envelope import REPORT_TYPE, generate_key, public_key_text, public_raw, verify
from signage.feed.sync import feed_playables, open_store
from signage.model import Bulletin, Kind, Playable
from signage.report.plays import Play, PlayLog
from signage.report.queue import ReportQueue
from signage.report.reporter import Reporter
from signage.status import board_status
from signage.store.db import Store
from tests.feedserver import Behaviour, FeedServer
from tests.test_sync import District, board_config, run_sync

ROOT = Path(__file__).resolve().parent.parent
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=HCM)

# -- imports run one way, down ------------------------------------------------------------

# The rooms of docs/architecture.md, top to bottom: a module may import its own layer or any below it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("signage.cli", "signage.__main__"),
    ("signage.district.hub", "signage.kiosk.doctor"),
    ("signage.player", "signage.planview", "signage.status", "signage.district"),
    ("signage.jobs",),
    ("signage.render", "signage.report", "signage.kiosk"),
    ("signage.content",),
    ("signage.feed", "signage.inbox"),
    ("signage.store", "signage.playlist", "signage.media"),
    ("signage.engine", "signage.boardtime", "signage.config", "signage.envelope"),
    ("signage.model", "signage.text", "signage.vi", "signage.errors", "signage.paths", "signage"),
)
# Still to be fixed by the part that owns the file (issue 17, item 12).
KNOWN_UPWARD: set[tuple[str, str]] = set()  # none left; a room above that must be imported goes here with a reason


def _layer(module: str) -> int:
    """The layer of the longest room name `module` falls in."""
    best, found = -1, None
    for index, rooms in enumerate(LAYERS):
        for room in rooms:
            if (module == room or module.startswith(room + ".")) and len(room) > best:
                best, found = len(room), index
    assert found is not None, f"{module}: in no room of LAYERS (add it, and to docs/architecture.md)"
    return found


def _imports(path: Path) -> set[str]:
    """Every signage module `path` imports, at the top or inside a function (a lazy import is still a dependency)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("signage"):
            found.add(node.module)
            for alias in node.names:  # `from signage.report import payload`: the module payload
                if (ROOT / (node.module + "." + alias.name).replace(".", "/")).with_suffix(".py").is_file():
                    found.add(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("signage"))
    return found


def upward_imports() -> set[tuple[str, str]]:
    pairs = set()
    for path in sorted((ROOT / "signage").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for target in _imports(path):
            if target != "signage" and _layer(target) < _layer(module):
                pairs.add((module, target))
    return pairs


def test_no_module_imports_a_room_above_it() -> None:
    assert upward_imports() - KNOWN_UPWARD == set()


# -- a board with a feed, synced ------------------------------------------------------------


@pytest.fixture
def district(tmp_path: Path) -> District:
    src, site = tmp_path / "src", tmp_path / "site"
    src.mkdir()
    site.mkdir()
    key = generate_key(tmp_path / "district.key")
    held = District(tmp_path, src, site, tmp_path / "district.key", public_key_text(public_raw(key)))
    held.bulletin("hop-dan", body="Họp dân ấp 2 lúc 19 giờ")
    held.image("rac")
    for number in range(30):  # enough rows that the bulletins span several pages
        held.bulletin(f"tin-{number}", body="Thông báo của xã về lịch tiêm chủng và thu gom rác. " * 8)
    held.publish()
    return held


@pytest.fixture
def server(district: District) -> Iterator[FeedServer]:
    with FeedServer(district.site) as running:
        yield running


@pytest.fixture
def synced(district: District, server: FeedServer) -> Path:
    """A board config whose feed and media are held, with the database closed cleanly."""
    config = board_config(district, server, extra='[display]\nsize = "640x360"\n')
    result, playables = run_sync(config)
    assert result.outcome == "accepted" and len(playables) == 32
    return config


def data_dir(config: Path) -> Path:
    return load_config(config).board.data_dir


def pages_of(database: Path, table: str) -> list[int]:
    """The b-tree pages that hold `table` (SQLite's dbstat), leaves first."""
    with closing(sqlite3.connect(database)) as connection:
        rows = connection.execute("SELECT pageno, pagetype FROM dbstat WHERE name = ? ORDER BY pagetype = 'internal', pageno", [table])
        return [page for page, _ in rows.fetchall()]


def flip_page(database: Path, page: int) -> None:
    """Overwrite the head of one page (its b-tree header and cell pointers) with 0xFF, as a bad sector would."""
    with database.open("r+b") as handle:
        handle.seek((page - 1) * 4096)
        handle.write(b"\xff" * 64)


def run_cli(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "signage", *map(str, args)], capture_output=True, text=True, timeout=timeout)


def aside_copies(folder: Path) -> list[Path]:
    return sorted(folder.glob("board.damaged-*.db"))


# -- a damaged database --------------------------------------------------------------------


@pytest.mark.parametrize("command", ["status", "doctor", "sync", "plan"])
def test_a_flipped_page_makes_every_command_say_one_line_and_set_the_database_aside(synced: Path, server: FeedServer, command: str) -> None:
    """Before: `status`, `doctor` and `sync` died with a 17-line sqlite3.DatabaseError traceback."""
    folder = data_dir(synced)
    flip_page(folder / "board.db", pages_of(folder / "board.db", "bulletins")[2])
    assets_before = len([r for r in server.requests if r.path.startswith("/assets/")])
    result = run_cli(command, "--config", synced)
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "sqlite3." not in output, output
    assert result.returncode in (0, 1)
    assert len(aside_copies(folder)) == 1, "the damaged file is kept for a post-mortem"
    mentions = [line for line in result.stderr.splitlines() if "damaged" in line]  # the log: one line
    assert len(mentions) == 1 and "board.db" in mentions[0] and "board.damaged-" in mentions[0], output
    after = run_cli("status", "--config", synced, "--json")
    assert after.returncode == 0, after.stderr
    status = json.loads(after.stdout)
    assert any("damaged" in incident["detail"] for incident in status["incidents"])
    if command == "sync":  # rebuilt from the feed; the media on disk re-verified, not downloaded again
        assert sum(entry["ready"] for entry in status["bulletins"]) == 32
        assert len([r for r in server.requests if r.path.startswith("/assets/")]) == assets_before


def test_a_database_unreadable_from_its_header_on_is_rebuilt_and_the_player_shows_the_feed_within_seconds(
    synced: Path, server: FeedServer, tmp_path: Path
) -> None:
    """Before: the player stayed on the idle slide for ever ('file is not a database' at every open)."""
    folder = data_dir(synced)
    database = folder / "board.db"
    database.write_bytes(os.urandom(4096) + database.read_bytes()[4096:])
    shots = tmp_path / "shots"
    result = run_cli(
        "play", "--headless", "--for", "6", "--screenshot-dir", shots, "--screenshot-every", "1", "--config", synced, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr
    assert len(aside_copies(folder)) == 1
    assert [line for line in result.stderr.splitlines() if "damaged" in line and "board.damaged-" in line], result.stderr
    assert "feed: accepted sequence 1" in result.stderr  # the feed taken again at the first poll, seconds after start
    status = json.loads(run_cli("status", "--config", synced, "--json").stdout)
    assert sum(entry["ready"] for entry in status["bulletins"]) == 32
    assert not [r for r in server.requests if r.path.startswith("/assets/")][1:], "media re-verified on disk, not fetched again"


def test_a_damaged_report_queue_keeps_its_readable_reports_and_numbering(tmp_path: Path) -> None:
    """The report queue lives in the same file: what can still be read is carried into the rebuilt one."""
    key = generate_key(tmp_path / "board.key")
    store = Store(tmp_path / "board.db")
    queue = ReportQueue(store, key, "tan-quan", HCM)
    for minute in range(60):
        queue.add_report({"padding": "x" * 1500}, [Play("hop-dan", 1, T0 + timedelta(minutes=minute), 20.0, True, None)], T0)
    opened_epoch = queue.epoch()
    store.close()
    leaves = pages_of(tmp_path / "board.db", "report_queue")
    flip_page(tmp_path / "board.db", leaves[len(leaves) // 2])
    store = Store(tmp_path / "board.db")
    try:
        queue = ReportQueue(store, key, "tan-quan", HCM)
        kept = [entry.seq for entry in queue.pending()]
        assert len(aside_copies(tmp_path)) == 1
        assert 40 <= len(kept) < 60 and kept[0] == 1 and kept[-1] == 60  # only the damaged page's reports are gone
        before = queue.epoch()
        assert queue.add_report({}, [], T0) == 61  # numbering goes on: nothing is sent twice under one seq
        assert [i["kind"] for i in store.incidents()] == ["database_damaged"]
        told = json.loads(verify(queue.pending()[-1].envelope, REPORT_TYPE, [public_raw(key)], 1, "t").payload)
        assert [i["kind"] for i in told["incidents"]] == ["database_damaged"] and "board.damaged-" in told["status"]["last_error"]
        assert before is None and told["epoch"] and told["epoch"] != opened_epoch  # the queue made again has a new epoch
        assert "incidents" not in json.loads(verify(_added(queue), REPORT_TYPE, [public_raw(key)], 1, "t").payload)  # told once
    finally:
        store.close()


def _added(queue: ReportQueue) -> bytes:
    seq = queue.add_report({}, [], T0)
    return next(entry.envelope for entry in queue.pending() if entry.seq == seq)


# -- a power cut between storing and probing -------------------------------------------------

SLOW_PROBE_SYNC = """
import sys, time
from datetime import datetime
from signage.config import load_config
from signage.feed.http import Fetcher
from signage.feed.sync import open_store, sync
from signage.media.probe import probe

def slow_probe(path, media_type):  # the window made wide: the test kills the process here
    print("probing", path.name, flush=True)
    time.sleep(120)
    return probe(path, media_type)

config = load_config(sys.argv[1])
store, files = open_store(config)
sync(config, store, files, Fetcher(), lambda: datetime.now(config.board.timezone), prober=slow_probe)
"""


def test_a_power_cut_between_storing_and_probing_never_lets_an_undecodable_video_play(tmp_path: Path) -> None:
    """Before: media stored in one transaction and probed in the next; killed between, they counted as playable for ever."""
    from tests.videoclips import numbered_clip

    src, site = tmp_path / "src", tmp_path / "site"
    src.mkdir()
    site.mkdir()
    key = generate_key(tmp_path / "district.key")
    district = District(tmp_path, src, site, tmp_path / "district.key", public_key_text(public_raw(key)))
    numbered_clip(src / "clip.mp4", seconds=1.0)
    district.bulletin("phim", kind='"video"', title='"Phim"', media='"clip.mp4"')
    (src / "hong.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00" + os.urandom(4096))
    district.bulletin("hong", kind='"video"', title='"Phim hỏng"', media='"hong.mp4"')
    district.publish()
    script = tmp_path / "slow_sync.py"
    script.write_text(SLOW_PROBE_SYNC, encoding="utf-8")
    with FeedServer(site) as server:
        config = board_config(district, server)
        process = subprocess.Popen(
            [sys.executable, str(script), str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline()  # the media is downloaded and verified; probing has begun
            assert line.startswith("probing"), line + process.stderr.read() if process.stderr else ""
            process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
            process.wait(timeout=30)
        board = load_config(config)
        store, files = open_store(board)
        try:
            assert [p.bulletin.id for p in feed_playables(store, files)] == [], "nothing plays before it was probed"
        finally:
            store.close()
        result, playables = run_sync(config)  # the next sync probes what the cut left unprobed
    assert [p.bulletin.id for p in playables] == ["phim"]
    assert any("hong" in error or "decodable" in error or "readable" in error for error in result.errors), result.errors


def test_status_says_ready_only_for_what_will_play_and_why_not_for_the_rest(tmp_path: Path) -> None:
    """Before: `ready` meant only "the file is on disk": a video whose probe failed, which never plays, was ready."""
    src, site = tmp_path / "src", tmp_path / "site"
    src.mkdir()
    site.mkdir()
    key = generate_key(tmp_path / "district.key")
    district = District(tmp_path, src, site, tmp_path / "district.key", public_key_text(public_raw(key)))
    district.bulletin("hop-dan")
    district.image("rac")
    (src / "hong.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00" + os.urandom(4096))
    district.bulletin("hong", kind='"video"', title='"Phim hỏng"', media='"hong.mp4"')
    district.image("xa", size=(640, 480))
    district.publish()
    far = hashlib.sha256((src / "xa.png").read_bytes()).hexdigest()
    with FeedServer(site) as server:
        server.behaviour = Behaviour(wrong_bytes=b"\x89PNG not this one", paths=frozenset({f"/assets/{far}"}))  # never verifies
        config = board_config(district, server)
        run_sync(config)
        lines = run_cli("status", "--config", config).stdout.splitlines()
        status = json.loads(run_cli("status", "--config", config, "--json").stdout)
    entries = {entry["id"]: entry for entry in status["bulletins"]}
    assert {name: entry["ready"] for name, entry in entries.items()} == {"hop-dan": True, "rac": True, "hong": False, "xa": False}
    assert entries["hong"]["why_not"].startswith("will not play: ") and "hong" not in entries["hong"]["why_not"][:15]
    assert entries["xa"]["why_not"].startswith("waiting for media: ")
    for name in ("hong", "xa"):  # the readable lines say the same
        assert next(line for line in lines if line.strip().startswith(name + " ")).endswith(entries[name]["why_not"])


# -- commands run as root on an installed kiosk ---------------------------------------------

KIOSK_UID = KIOSK_GID = 23456  # the `signage` user of an installed kiosk (no passwd entry needed)


@pytest.fixture
def kiosk_board() -> Iterator[tuple[Path, FeedServer]]:
    """A board whose data folder belongs to the player's user, as kiosk/install.sh leaves it; its feed served."""
    if os.geteuid() != 0:
        pytest.skip("acting as another user needs root")
    base = Path(tempfile.mkdtemp(prefix="signage-kiosk-", dir="/tmp"))  # outside pytest's 0700 folder: the player's user reads it
    base.chmod(0o755)
    try:
        (base / "src").mkdir()
        key = generate_key(base / "district.key")
        district = District(base, base / "src", base / "site", base / "district.key", public_key_text(public_raw(key)))
        district.bulletin("hop-dan")
        district.image("rac")
        district.publish()
        with FeedServer(district.site) as server:
            config = board_config(district, server)
            config.chmod(0o644)
            state = data_dir(config)
            state.mkdir(mode=0o700)
            os.chown(state, KIOSK_UID, KIOSK_GID)
            yield config, server
    finally:
        shutil.rmtree(base)


def python_for_everyone() -> list[str]:
    """A Python another user can run, as on a kiosk (/opt/signage/.venv on the system's Python)."""
    base = Path(sys.base_prefix)
    if all(part.stat().st_mode & 0o005 == 0o005 for part in (base, *base.parents)):
        return [sys.executable]
    system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if not system.exists():
        pytest.skip(f"{base} is private to root and there is no {system} for another user to run")
    return [str(system)]  # with this checkout and the venv's packages on PYTHONPATH


def as_kiosk_cli(*args: str | Path, **options: Any) -> subprocess.CompletedProcess[str]:
    packages = sysconfig.get_paths()["purelib"]
    environment = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{packages}"}
    command = [*python_for_everyone(), "-m", "signage", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=environment, cwd="/", **options)


def owners(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(path.relative_to(folder)): (path.lstat().st_uid, path.lstat().st_gid) for path in folder.rglob("*")}


def test_plan_status_doctor_and_sync_run_as_root_leave_every_board_file_to_the_player(kiosk_board: tuple[Path, FeedServer]) -> None:
    """Before: `signage plan` as root made board.db (and its -wal, -shm) root's; the player then could not open it."""
    config, _ = kiosk_board
    for command in (["plan", "--hours", "1"], ["status"], ["doctor"], ["sync"]):
        result = as_kiosk_cli(*command, "--config", config)
        assert "Traceback" not in result.stderr, result.stderr
        made = owners(data_dir(config))
        assert made and all(owner == (KIOSK_UID, KIOSK_GID) for owner in made.values()), (command, made)
    as_player = as_kiosk_cli("sync", "--config", config, user=KIOSK_UID, group=KIOSK_GID, extra_groups=[])
    assert as_player.returncode == 0, as_player.stderr  # the player's user still opens and writes everything


# -- report numbering after the database is lost ----------------------------------------------


def heartbeats(reporter: Reporter, log: PlayLog, first_minute: int, count: int) -> list[Play]:
    """`count` heartbeats, three plays each (a minute apart, so each play is told apart at the hub)."""
    played = []
    for minute in range(first_minute, first_minute + count):
        for turn in range(3):
            start = T0 + timedelta(minutes=minute, seconds=turn * 20)
            log.begin(Playable(Bulletin(id="abc"[turn], revision=1, kind=Kind.TEXT, title="T", body="B", duration_s=20)), start)
            ended = log.end(start + timedelta(seconds=20), "expired")
            assert ended is not None
            played.append(ended)
        reporter.heartbeat()
    return played


@pytest.mark.parametrize("loss", ["emptied", "wal_deleted"])
def test_reports_after_the_database_is_lost_are_never_taken_for_duplicates_by_todays_hub(tmp_path: Path, loss: str) -> None:
    """Before: the rebuilt queue numbered from 1 again; the hub answered "duplicate", the board deleted them: plays lost."""
    from signage.district.hub import HubConfig, create_app
    from tests.hubserver import serve, write_hub_config
    from tests.test_player import THREE, board

    key = generate_key(tmp_path / "board.key")
    (tmp_path / "hub").mkdir()
    hub = HubConfig.load(write_hub_config(tmp_path / "hub", {"tan-quan": key}))
    with serve(create_app(hub)) as base:
        config = board(tmp_path, THREE, extra=f'[report]\nurl = "{base}/report"\nkey = "board.key"\nheartbeat_seconds = 300\n')
        log = PlayLog()
        reporter = Reporter(load_config(config), log, lambda: (log.now_playing, True), now=lambda: T0)
        database = data_dir(config) / "board.db"
        played = heartbeats(reporter, log, 0, 4)
        holder = sqlite3.connect(database)  # another connection open, as the player's would be: the WAL is not folded in
        holder.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        snapshot = database.read_bytes()  # the main file as the disk holds it; what follows lives in the WAL
        played += heartbeats(reporter, log, 4, 6)
        holder.close()
        if loss == "emptied":
            database.write_bytes(b"")
        else:  # a power cut, and the WAL lost with it: the file goes back to the snapshot
            database.write_bytes(snapshot)
            for side in ("-wal", "-shm"):
                database.with_name(database.name + side).unlink(missing_ok=True)
        played += heartbeats(reporter, log, 10, 8)  # numbering starts again where the file says
        for _ in range(5):
            reporter.send()
        queued = Store(database)
        try:
            assert queued.db.execute("SELECT count(*) FROM report_queue").fetchone()[0] == 0
        finally:
            queued.close()
    with closing(sqlite3.connect(tmp_path / "hub" / "hub.db")) as held:
        at_hub = held.execute("SELECT bulletin, started_at FROM plays WHERE board = 'tan-quan'").fetchall()
    assert len(at_hub) == len(played) == 54, f"{len(played) - len(at_hub)} plays lost"
    assert len(set(at_hub)) == len(at_hub), "no play counted twice"


class EpochHub:
    """The hub as docs/reports.md asks it to become: reports keyed by (board, epoch, seq), a duplicate told apart by its bytes."""

    def __init__(self, public_key: bytes) -> None:
        self.public_key = public_key
        self.held: dict[tuple[str, int], bytes] = {}
        self.plays: list[tuple[str, str]] = []
        self.answers: list[str] = []
        self.drop_next_answer = False

    def take(self, body: bytes) -> tuple[int, dict[str, Any]]:
        payload = verify(body, REPORT_TYPE, [self.public_key], 1, "hub").payload
        report = json.loads(payload)
        key = (report.get("epoch", ""), report["seq"])
        if key in self.held:
            same = self.held[key] == payload
            self.answers.append("duplicate" if same else "collision")
            if not same:
                return 409, {"ok": False, "collision": True, "error": f"seq {report['seq']}: held with other bytes"}
            return 200, {"ok": True, "seq": report["seq"], "duplicate": True, "same": True}
        self.held[key] = payload
        self.plays += [(play["bulletin"], play["started_at"]) for play in report["plays"]]
        self.answers.append("stored")
        return 200, {"ok": True, "seq": report["seq"], "duplicate": False}


@contextmanager
def serving(hub: EpochHub) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            status, answer = hub.take(self.rfile.read(int(self.headers["Content-Length"])))
            if hub.drop_next_answer:  # stored, and the answer lost on the way back
                hub.drop_next_answer = False
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/report"
    finally:
        server.shutdown()
        server.server_close()


def test_a_hub_keyed_by_epoch_gets_every_report_once_after_the_wal_is_lost_and_an_answer_is_lost(tmp_path: Path) -> None:
    """The board's half of the epoch: a true duplicate (a lost answer) is delivered; a collision is renumbered, never dropped."""
    from tests.test_player import THREE, board

    key = generate_key(tmp_path / "board.key")
    hub = EpochHub(public_raw(key))
    with serving(hub) as url:
        config = board(tmp_path, THREE, extra=f'[report]\nurl = "{url}"\nkey = "board.key"\nheartbeat_seconds = 300\n')
        log = PlayLog()
        reporter = Reporter(load_config(config), log, lambda: (log.now_playing, True), now=lambda: T0)
        database = data_dir(config) / "board.db"
        played = heartbeats(reporter, log, 0, 3)
        holder = sqlite3.connect(database)
        holder.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        snapshot = database.read_bytes()
        played += heartbeats(reporter, log, 3, 4)
        holder.close()
        database.write_bytes(snapshot)  # the WAL lost in a power cut: same epoch, seqs 4.. handed out again
        for side in ("-wal", "-shm"):
            database.with_name(database.name + side).unlink(missing_ok=True)
        played += heartbeats(reporter, log, 7, 5)
        hub.drop_next_answer = True  # the next report is stored, its answer lost: sent again, a true duplicate
        played += heartbeats(reporter, log, 12, 2)
        reporter.send()
    assert "collision" in hub.answers and "duplicate" in hub.answers
    assert sorted(hub.plays) == sorted((p.bulletin, p.started_at.isoformat()) for p in played)
    assert len({epoch for epoch, _ in hub.held}) == 2  # the renumbered ones went in a new epoch


# -- a full disk -----------------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs mounted for the test: the board's data folder goes on it, and the test fills it to the brim."""
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m,mode=0755", "tmpfs", str(mountpoint)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def fill(disk: Path) -> Path:
    """Fill `disk` to the last byte; returns the filler to remove when room should come back."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (1 << 16, 1):  # big writes, then the last crumbs
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


@pytest.mark.parametrize("other_connection", [True, False], ids=["database-held-open", "database-closed"])
def test_a_full_disk_loses_no_play_logs_one_line_and_tells_the_next_report(
    tiny_disk: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, other_connection: bool
) -> None:
    """Before: each heartbeat on a full disk raised sqlite3.OperationalError: its plays were dropped, a traceback each time.

    With another connection open (the player's other jobs), the database opens and its write fails
    (SQLITE_FULL); with none, it cannot even make its -shm (an I/O error): both are a full disk.
    """
    from tests.reportsink import Sink, serve
    from tests.test_player import THREE, board

    key = generate_key(tmp_path / "board.key")
    sink = Sink(public_raw(key))
    with serve(sink) as url:
        config = board(tmp_path, THREE, extra=f'[report]\nurl = "{url}"\nkey = "board.key"\nheartbeat_seconds = 300\n')
        config.write_text(config.read_text().replace('data_dir = "state"', f'data_dir = "{tiny_disk / "state"}"'))
        log = PlayLog()
        reporter = Reporter(load_config(config), log, lambda: (log.now_playing, True), now=lambda: T0)
        played = heartbeats(reporter, log, 0, 2)
        holder = sqlite3.connect(data_dir(config) / "board.db") if other_connection else None
        if holder is not None:
            holder.execute("SELECT count(*) FROM report_queue").fetchone()  # its WAL index mapped, as a job's would be
        filler = fill(tiny_disk)
        caplog.clear()
        with caplog.at_level(logging.INFO):
            played += heartbeats(reporter, log, 2, 12)  # an hour of a full disk, at 5-minute heartbeats
            during = [r for r in caplog.records if r.levelno >= logging.WARNING]
            status = board_status(load_config(config), T0)
            filler.unlink()
            if holder is not None:
                holder.close()
            caplog.clear()
            played += heartbeats(reporter, log, 14, 1)  # room again: the next report carries all of it
            after = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(during) == 1 and "disk is full" in during[0].getMessage(), [r.getMessage() for r in during]
    assert not any(r.exc_info for r in caplog.records)
    assert "disk is full" in (status["last_error"] or ""), status["last_error"]
    assert sorted(map(str, sink.plays())) == sorted(str(p.as_json()) for p in played), "every play arrived, once"
    told = [incident for report in sink.reports.values() for incident in report.get("incidents", [])]
    assert [incident["kind"] for incident in told] == ["disk_full"] and "12 heartbeat(s)" in told[0]["detail"]
    assert any("room again" in line for line in after) and any("written again" in line for line in after), after


def test_the_player_on_a_full_disk_plays_on_and_logs_each_condition_once(tiny_disk: Path, district: District, server: FeedServer) -> None:
    """Before: 43 full tracebacks in 190 s (every heartbeat, poll and tick), and nothing in `status`."""
    from tests.reportsink import Sink, serve

    key = generate_key(district.root / "board.key")
    sink = Sink(public_raw(key))
    with serve(sink) as url:
        config = board_config(
            district,
            server,
            extra=(
                f'[display]\nsize = "320x180"\n[report]\nurl = "{url}"\nkey = "board.key"\nheartbeat_seconds = 2\n'
                f'[inbox]\npath = "{district.root / "inbox"}"\n'
            ),
        )
        config.write_text(config.read_text().replace('data_dir = "state-board.toml"', f'data_dir = "{tiny_disk / "state"}"'))
        config.write_text(config.read_text().replace("[feed]\n", "[feed]\npoll_seconds = 5\n"))
        first = run_cli("sync", "--config", config)
        assert first.returncode == 0, first.stderr
        filler = fill(tiny_disk)
        (district.root / "inbox").mkdir(exist_ok=True)
        (district.root / "inbox" / "thong-bao.txt").write_text("Thông báo\nHọp dân lúc 19 giờ.", encoding="utf-8")
        shots = district.root / "shots"
        played = run_cli(
            "play", "--headless", "--for", "14", "--screenshot-dir", shots, "--screenshot-every", "5", "--config", config, timeout=90
        )
        status = json.loads(run_cli("status", "--config", config, "--json").stdout)
        filler.unlink()
    assert played.returncode == 0, played.stderr[-3000:]
    assert "Traceback" not in played.stderr, played.stderr[-3000:]
    trouble = [line for line in played.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    full = [line for line in trouble if "disk is full" in line]
    assert len(full) == 1 and len(trouble) <= 2, "\n".join(trouble)  # one per condition, not one per heartbeat, poll or tick
    assert "disk is full" in (status["last_error"] or "") and status["disk_full"]
