"""End to end on loopback: a published feed with a screenshot command, two headless boards, the hub.

Everything is the real thing: `signage publish`, a static web server, `signage play --headless` in
its own process per board, `signage hub` in its own process, an officer's session over HTTP.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from PIL import Image

from signage.district.publish import publish
from signage.envelope import generate_key, public_key_text, public_raw

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
BOARDS = {"tan-quan": "UBND xã Tân Quan", "tan-hung": "UBND xã Tân Hưng"}
PASSWORD = "mật-khẩu-của-huyện"
SIGNAGE = [sys.executable, "-m", "signage"]
ENV = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1"}

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The district's feed: two text bulletins for both boards and a screenshot command; served over HTTP."""
    src = tmp_path / "bulletins"
    src.mkdir()
    now = datetime.now(HCM)
    for name, title in [("tiem-chung", "Lịch tiêm chủng tháng 12"), ("phong-chay", "Phòng cháy chữa cháy mùa khô")]:
        (src / f"{name}.toml").write_text(
            f'kind = "text"\ntitle = "{title}"\nbody = "Đề nghị bà con thực hiện."\nduration_s = 3\npriority = "normal"\n'
            f"valid_from = {(now - timedelta(days=1)).isoformat()}\nvalid_until = {(now + timedelta(days=7)).isoformat()}\n"
            'boards = ["*"]\n',
            encoding="utf-8",
        )
    key = generate_key(tmp_path / "district.key")
    out = tmp_path / "site"
    commands = [("screenshot", list(BOARDS), timedelta(hours=1))]
    publish(src, tmp_path / "district.key", out, publisher="hon-quan", expires_in=timedelta(days=7), now=now, new_commands=commands)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(out)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/feed.json", public_key_text(public_raw(key))
    finally:
        server.shutdown()
        server.server_close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def board_config(folder: Path, board: str, feed: tuple[str, str] | None, report_url: str) -> tuple[Path, str]:
    """A board's folder with its config and its own key; returns the config and the public key the hub pins."""
    folder.mkdir(parents=True)
    key = generate_key(folder / "board.key")
    feed_section = f'[feed]\nurl = "{feed[0]}"\npublic_keys = ["{feed[1]}"]\npoll_seconds = 60\n' if feed else ""
    playlist = ""
    if feed is None:  # a board on a local playlist alone
        (folder / "list.toml").write_text(
            '[[bulletins]]\nid = "lich-hop"\nkind = "text"\ntitle = "Lịch họp"\nbody = "Họp dân thứ Bảy."\nduration_s = 2\n'
            '[[bulletins]]\nid = "ve-sinh"\nkind = "text"\ntitle = "Vệ sinh"\nbody = "Tổng vệ sinh."\nduration_s = 2\n',
            encoding="utf-8",
        )
        playlist = '[playlists]\npaths = ["list.toml"]\n'
    config = folder / "board.toml"
    config.write_text(
        f'[board]\nid = "{board}"\nname = "{BOARDS[board]}"\ndata_dir = "state"\n{feed_section}{playlist}'
        '[display]\nsize = "640x360"\ntransition_seconds = 0.3\n'
        f'[report]\nurl = "{report_url}"\nkey = "board.key"\nheartbeat_seconds = 2\nscreenshot_width = 320\n',
        encoding="utf-8",
    )
    return config, public_key_text(public_raw(key))


class HubProcess:
    """`signage hub` in its own process, with one officer."""

    def __init__(self, folder: Path, boards: dict[str, str], port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        entries = "".join(f'\n[[boards]]\nid = "{b}"\nname = "{BOARDS[b]}"\npublic_key = "{k}"\n' for b, k in boards.items())
        self.config = folder / "hub.toml"
        self.config.write_text(f'[hub]\nlisten = "127.0.0.1:{port}"\ndatabase = "hub.db"\nheartbeat_seconds = 10\n{entries}', "utf-8")
        command = [*SIGNAGE, "hub", "--config", str(self.config)]
        subprocess.run([*command, "--add-user", "can-bo"], input=PASSWORD + "\n", text=True, check=True, capture_output=True, env=ENV)
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ENV)
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            assert self.process.poll() is None and time.monotonic() < deadline, "the hub did not start"
            time.sleep(0.1)

    def officer(self) -> requests.Session:
        session = requests.Session()
        answer = session.post(self.url + "/login", data={"username": "can-bo", "password": PASSWORD}, timeout=10)
        assert answer.status_code == 200 and answer.url == self.url + "/"
        return session

    def plays(self, session: requests.Session) -> list[dict[str, str]]:
        today = datetime.now(HCM).date()
        answer = session.get(f"{self.url}/export.csv?from={today - timedelta(days=1)}&to={today}", timeout=10)
        assert answer.status_code == 200
        return list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))

    def stop(self) -> str:
        self.process.terminate()
        output, _ = self.process.communicate(timeout=20)
        return output.decode("utf-8", "replace")


def play_boards(configs: list[Path], seconds: float) -> None:
    players = [
        subprocess.Popen([*SIGNAGE, "play", "--headless", "--no-screenshots", "--for", str(seconds), "--config", str(c)], env=ENV)
        for c in configs
    ]
    for player in players:
        assert player.wait(timeout=seconds + 60) == 0


def test_two_boards_report_their_plays_and_answer_a_screenshot_command(tmp_path: Path, site: tuple[str, str]) -> None:
    port = free_port()
    report_url = f"http://127.0.0.1:{port}/report"
    boards = {b: board_config(tmp_path / b, b, site, report_url) for b in BOARDS}
    hub = HubProcess(tmp_path, {b: public for b, (_, public) in boards.items()}, port)
    try:
        play_boards([config for config, _ in boards.values()], 12)
        officer = hub.officer()
        page = officer.get(hub.url + "/", timeout=10).text
        for board, name in BOARDS.items():
            assert name in page
            detail = officer.get(f"{hub.url}/boards/{board}", timeout=10)
            assert detail.status_code == 200
            shots = sorted(set(re.findall(rf"/screenshots/{board}/(\d+)\.png", detail.text)))
            assert len(shots) == 1, f"{board}: one screenshot, for the command"
            png = officer.get(f"{hub.url}/screenshots/{board}/{shots[0]}.png", timeout=10)
            image = Image.open(io.BytesIO(png.content))
            assert image.size == (320, 180) and image.text["signage:command"] == "cmd-1-1" and image.text["signage:board"] == board
            assert "cmd-1-1" in detail.text
        assert requests.get(f"{hub.url}/boards/tan-quan", timeout=10, allow_redirects=False).status_code in (303, 401)
        plays = hub.plays(officer)
        for board in BOARDS:
            mine = [p for p in plays if p["board"] == board]
            assert {p["bulletin"] for p in mine} == {"tiem-chung", "phong-chay"}, board
            assert len(mine) >= 3 and sum(p["completed"] == "1" for p in mine) >= 2
    finally:
        hub.stop()


def queued_plays(database: Path) -> list[tuple[str, str]]:
    """(bulletin, started_at) of every play waiting in a board's report queue."""
    with sqlite3.connect(database) as db:
        envelopes = [row[0] for row in db.execute("SELECT envelope FROM report_queue WHERE kind = 'report' ORDER BY seq")]
    plays = []
    for envelope in envelopes:
        report = json.loads(base64.b64decode(json.loads(envelope)["payload"]))
        plays += [(p["bulletin"], p["started_at"]) for p in report["plays"]]
    return plays


def test_hub_down_then_up_every_play_arrives_exactly_once(tmp_path: Path) -> None:
    port = free_port()
    config, public = board_config(tmp_path / "tan-quan", "tan-quan", None, f"http://127.0.0.1:{port}/report")
    play_boards([config], 9)  # nobody listening at the hub's address
    waiting = queued_plays(tmp_path / "tan-quan" / "state" / "board.db")
    assert len(waiting) >= 3
    hub = HubProcess(tmp_path, {"tan-quan": public}, port)
    try:
        play_boards([config], 5)  # back on: the queue goes first
        assert queued_plays(tmp_path / "tan-quan" / "state" / "board.db") == []
        plays = hub.plays(hub.officer())
        at_hub = [(p["bulletin"], p["started_at"]) for p in plays if p["board"] == "tan-quan"]
        for bulletin, started in waiting:
            local = datetime.fromisoformat(started).astimezone(HCM).strftime("%Y-%m-%d %H:%M:%S")
            assert at_hub.count((bulletin, local)) == 1, (bulletin, local)
        assert len(at_hub) == len(set(at_hub))
    finally:
        hub.stop()
