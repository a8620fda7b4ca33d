"""`signage hub`: serve the hub with uvicorn, or add an officer (`--add-user NAME`)."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from signage.district.hub.config import HubConfig, parse_listen
from signage.errors import ConfigError, SignageError

log = logging.getLogger("signage.hub")
MIN_PASSWORD_CHARS = 8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=Path("hub.toml"), metavar="FILE", help="the hub's TOML config (default hub.toml)")
    parser.add_argument("--add-user", metavar="NAME", help="add an officer, or set their password (read from standard input)")
    parser.add_argument("--listen", metavar="HOST:PORT", help="overrides hub.listen")


def run(args: argparse.Namespace) -> int:
    config = HubConfig.load(args.config)
    if args.add_user:
        return _add_user(config, args.add_user.strip())
    host, port = config.listen_host, config.listen_port
    if args.listen:
        try:
            host, port = parse_listen(args.listen)
        except ValueError as exc:
            raise ConfigError(f"--listen: {exc}") from None
    return _serve(config, host, port)


def _read_password(name: str) -> str:
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"Mật khẩu cho {name}: ")
        if getpass.getpass("Nhập lại mật khẩu: ") != password:
            raise SignageError("the two passwords differ")
    if len(password) < MIN_PASSWORD_CHARS:
        raise SignageError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    return password


def _add_user(config: HubConfig, name: str) -> int:
    # Imported here: `signage` loads this module for every command, and the web stack is only the hub's.
    from signage.district.hub.app import hash_password
    from signage.district.hub.store import HubStore

    if not name or len(name) > 100 or any(not ch.isprintable() for ch in name):
        raise SignageError(f"{name[:40]!r} is not a user name (1 to 100 printable characters)")
    password = _read_password(name)
    store = HubStore.open(config.database_url, config.timezone)
    try:
        created = store.set_user(name, hash_password(password), datetime.now(UTC))
    finally:
        store.close()
    print(f"{config.path}: officer {name} {'added' if created else 'has a new password'}")
    return 0


def _serve(config: HubConfig, host: str, port: int) -> int:
    import uvicorn

    from signage.district.hub.app import create_app

    app = create_app(config)
    shown = f"[{host}]" if ":" in host else host
    log.info("hub for %d boards at http://%s:%d/ (config %s)", len(config.boards), shown, port, config.path)
    # Logging is the CLI's: uvicorn keeps to its own loggers and prints no access lines (33 reports a second).
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, proxy_headers=False, server_header=False)
    return 0
