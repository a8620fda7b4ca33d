"""The hub's config: defaults, paths relative to the file, PostgreSQL URLs, and one-line refusals naming file and key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signage.district.hub.config import HubConfig, parse_listen
from signage.envelope import key_id, public_key_text, public_raw
from signage.errors import ConfigError

KEY_A = public_key_text(public_raw(Ed25519PrivateKey.generate()))
KEY_B = public_key_text(public_raw(Ed25519PrivateKey.generate()))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_full_config_and_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        [hub]
        listen = "0.0.0.0:9000"
        database = "data/hub.db"
        title = "Hệ thống thông tin nguồn huyện Hớn Quản"
        heartbeat_seconds = 60
        screenshots_kept = 5

        [[boards]]
        id = "tan-quan"
        name = "UBND xã Tân Quan"
        public_key = "{KEY_A}"

        [[boards]]
        id = "tan-hung"
        public_key = "{KEY_B}"
        """,
    )
    config = HubConfig.load(path)
    assert (config.listen_host, config.listen_port) == ("0.0.0.0", 9000)
    assert config.database_url == f"sqlite:///{tmp_path.resolve() / 'data' / 'hub.db'}"
    assert config.heartbeat_seconds == 60.0 and config.screenshots_kept == 5
    assert config.max_report_bytes == 1024 * 1024 and config.max_screenshot_bytes == 8 * 1024 * 1024
    assert str(config.timezone) == "Asia/Ho_Chi_Minh"
    assert [(b.id, b.name) for b in config.boards] == [("tan-quan", "UBND xã Tân Quan"), ("tan-hung", "tan-hung")]
    assert config.boards[0].keyid == key_id(config.boards[0].public_key)


def test_empty_config_is_a_hub_with_no_boards(tmp_path: Path) -> None:
    config = HubConfig.load(write(tmp_path, ""))
    assert config.boards == () and config.database_url.endswith("/hub.db") and config.listen_port == 8600


def test_postgresql_url_gets_the_psycopg_driver(tmp_path: Path) -> None:
    config = HubConfig.load(write(tmp_path, '[hub]\ndatabase = "postgresql://hub:secret@db.local/hub"\n'))
    assert config.database_url == "postgresql+psycopg://hub:secret@db.local/hub"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[hub]\ncolour = "red"\n', "hub.colour: unknown key"),
        ('[hubs]\nlisten = "x"\n', "hubs: unknown section"),
        ('[hub]\nlisten = "localhost"\n', "hub.listen: expected HOST:PORT"),
        ('[hub]\ntimezone = "Mars/Olympus"\n', "hub.timezone: unknown time zone"),
        ("[hub]\nheartbeat_seconds = 1\n", "hub.heartbeat_seconds: must be between"),
        ("[hub]\nscreenshots_kept = 2.5\n", "hub.screenshots_kept: expected an integer"),
        ('[hub]\ndatabase = "mysql://x/y"\n', "hub.database: expected a file path or a postgresql:// URL"),
        ('[hub]\ntitle = "  "\n', "hub.title: must not be empty"),
        ('[[boards]]\nid = "Tân Quan"\npublic_key = "KEY_A"\n', "boards[0].id: 'Tân Quan' is not a board id"),
        ('[[boards]]\nid = "tan-quan"\n', "boards[0].public_key: missing"),
        ('[[boards]]\nid = "tan-quan"\npublic_key = "ed25519:AAAA"\n', "boards[0].public_key: an Ed25519 public key has 32 bytes"),
        ('[[boards]]\nid = "tan-quan"\npublic_key = "KEY_A"\nsecret = 1\n', "boards[0].secret: unknown key"),
        (
            '[[boards]]\nid = "tan-quan"\npublic_key = "KEY_A"\n[[boards]]\nid = "tan-quan"\npublic_key = "KEY_B"\n',
            "boards[1].id: 'tan-quan' is listed twice",
        ),
        (
            '[[boards]]\nid = "tan-quan"\npublic_key = "KEY_A"\n[[boards]]\nid = "tan-hung"\npublic_key = "KEY_A"\n',
            "boards[1].public_key: the same key as board 'tan-quan'",
        ),
        ("boards = 3\n", "boards: expected [[boards]] tables"),
        ("[hub\n", "not valid TOML"),
    ],
)
def test_refusals_name_the_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text.replace("KEY_A", KEY_A).replace("KEY_B", KEY_B))
    with pytest.raises(ConfigError) as caught:
        HubConfig.load(path)
    message = str(caught.value)
    assert message.startswith(str(path.resolve()) if "TOML" not in expected else str(path))
    assert expected in message and "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"hub\.toml: config file not found"):
        HubConfig.load(tmp_path / "hub.toml")


def test_listen_forms() -> None:
    assert parse_listen("[::1]:8600") == ("::1", 8600)
    assert parse_listen("hub.huyen.local:80") == ("hub.huyen.local", 80)
    with pytest.raises(ValueError):
        parse_listen("127.0.0.1:99999")
