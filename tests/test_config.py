"""The board's config: read once, every problem a one-line error naming the file and key."""

from __future__ import annotations

import subprocess
import sys
from datetime import time
from pathlib import Path

import pytest

from signage.config import BoardConfig, load_config
from signage.errors import ConfigError

from .conftest import ROOT

KEY = "ed25519:" + "A" * 43 + "="

FULL = f"""
[board]
id = "tan-quan"
name = "UBND xã Tân Quan"
timezone = "Asia/Ho_Chi_Minh"
data_dir = "state"

[feed]
url = "https://district.example/feed/feed.json"
public_keys = ["{KEY}"]
threshold = 1
publisher = "hon-quan"
poll_seconds = 60

[inbox]
path = "inbox"

[playlists]
paths = ["local.toml"]

[display]
on = "06:00"
off = "22:00"
size = "768x384"
offset = "10,20"
rotate = 90
volume = 0.5

[report]
url = "https://district.example/hub"
key = "board.key"
"""


def test_the_board_cli_example_loads(write_config) -> None:
    path = write_config(FULL)
    config = load_config(path)
    assert config.board.id == "tan-quan" and config.board.name == "UBND xã Tân Quan"
    assert config.board.data_dir == path.parent / "state"
    assert config.inbox is not None and config.inbox.path == path.parent / "inbox"
    assert config.playlists == (path.parent / "local.toml",)
    assert config.feed is not None and config.feed.public_keys == (KEY,) and config.feed.publisher == "hon-quan"
    d = config.display
    assert (d.on, d.off, d.size, d.offset, d.rotate, d.volume) == (time(6), time(22), (768, 384), (10, 20), 90, 0.5)
    assert config.report is not None and config.report.key == path.parent / "board.key"


def test_the_bundled_demo_config_loads() -> None:
    config = BoardConfig.demo()
    assert config.board.name == "UBND xã Tân Quan"
    assert config.playlists == (ROOT / "playlists" / "demo.toml",)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("rotate = 90", "rotate = 45", r"display\.rotate: must be 0, 90, 180 or 270, got 45"),
        ("rotate = 90", "rotaet = 90", r"display\.rotaet: unknown key"),
        ('size = "768x384"', 'size = "big"', r"display\.size: expected WIDTHxHEIGHT"),
        ('offset = "10,20"', 'offset = "10;20"', r"display\.offset: expected X,Y"),
        ("volume = 0.5", "volume = 2", r"display\.volume: must be between 0 and 1, got 2"),
        ("volume = 0.5", 'volume = "loud"', r"display\.volume: expected int or float, got str"),
        ('on = "06:00"', 'on = "6h"', r"display\.on: expected a time as HH:MM"),
        ('on = "06:00"\n', "", r"display\.on: screen hours need both on and off"),
        ('timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Asia/Saigon City"', r"board\.timezone: unknown time zone"),
        ('id = "tan-quan"', 'id = "Tân Quan"', r"board\.id: 'Tân Quan' is not a board id"),
        ('name = "UBND xã Tân Quan"\n', "", r"board\.name: missing"),
        ("threshold = 1", "threshold = 2", r"feed\.threshold: must be between 1 and 1, got 2"),
        (f'public_keys = ["{KEY}"]', 'public_keys = ["rsa:abc"]', r"feed\.public_keys: expected ed25519:<base64>"),
        (f'public_keys = ["{KEY}"]', 'public_keys = ["ed25519:AAAA"]', r"feed\.public_keys: an Ed25519 public key has 32 bytes"),
        ('url = "https://district.example/feed/feed.json"', 'url = "ftp://x/feed.json"', r"feed\.url: expected an http"),
        ("poll_seconds = 60", "poll_seconds = 1", r"feed\.poll_seconds: must be between 5 and"),
        ("[inbox]", "[inbxo]", r"inbxo: unknown section"),
    ],
)
def test_bad_values_name_file_and_key(write_config, old: str, new: str, message: str) -> None:
    assert old in FULL
    path = write_config(FULL.replace(old, new, 1))
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert "\n" not in str(caught.value)


def test_not_toml_and_missing_file(write_config, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write_config("[board\nid=1"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_cli_reports_a_typo_in_one_line_without_traceback(write_config) -> None:
    path = write_config(FULL.replace("volume = 0.5", "volum = 0.5"))
    result = subprocess.run(
        [sys.executable, "-m", "signage", "render", "demo-hop-dan-ap-2", "--out", str(path.parent / "x.png"), "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [f"signage: error: {path}: display.volum: unknown key (expected one of: {lines[0].split('one of: ')[1]}"]
    assert "Traceback" not in result.stderr


def test_the_kiosk_example_config_loads() -> None:
    config = load_config(ROOT / "kiosk" / "board.example.toml")
    assert config.board.data_dir == Path("/var/lib/signage") and config.display.on == time(6)
