"""`signage hub`: serve the hub with uvicorn, or add the first administrator, re-password or remove an officer (`--add-user`,
`--remove-user`): everyone else is managed in the browser."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from signage.district.hub.config import HubConfig, parse_listen
from signage.errors import ConfigError, SignageError

log = logging.getLogger("signage.hub")
MIN_PASSWORD_CHARS = 8


def run(args: argparse.Namespace) -> int:
    config = HubConfig.load(args.config)
    if args.add_user:
        return _add_user(config, args.add_user.strip(), " ".join((getattr(args, "full_name", None) or "").split()))
    if args.remove_user:
        return _remove_user(config, args.remove_user.strip())
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
            raise SignageError("hai lần nhập mật khẩu không khớp")
    if len(password) < MIN_PASSWORD_CHARS:
        raise SignageError(f"mật khẩu cần ít nhất {MIN_PASSWORD_CHARS} ký tự")
    return password


def _add_user(config: HubConfig, name: str, full_name: str = "") -> int:
    # Imported here: `signage` loads this module for every command, and the web stack is only the hub's.
    from signage.district.hub.app import hash_password
    from signage.district.hub.store import HubStore

    _check_name(name)
    password = _read_password(name)
    store = HubStore.open(config.database_url, config.timezone)
    try:
        created = store.set_user(name, hash_password(password), datetime.now(UTC), full_name=full_name or None)
    finally:
        store.close()
    if created:
        print(f"{config.path}: đã thêm cán bộ {name}, quản trị “{config.unit_name}”; hãy đăng nhập để thêm các đơn vị và người dùng khác")
    else:
        print(f"{config.path}: đã đổi mật khẩu của cán bộ {name}; các phiên đăng nhập cũ đã kết thúc")
    return 0


def _remove_user(config: HubConfig, name: str) -> int:
    from signage.district.hub.store import HubStore

    _check_name(name)
    store = HubStore.open(config.database_url, config.timezone)
    try:
        removed = store.remove_user(name)
    finally:
        store.close()
    if not removed:
        raise SignageError(f"{config.path}: không có cán bộ {name}")
    print(f"{config.path}: đã xoá cán bộ {name} và kết thúc các phiên đăng nhập của họ")
    return 0


def _check_name(name: str) -> None:
    if not name or len(name) > 100 or any(not ch.isprintable() for ch in name):
        raise SignageError(f"{name[:40]!r} không phải tên đăng nhập (1 đến 100 ký tự in được)")


def proxy_settings(config: HubConfig) -> dict[str, Any]:
    """uvicorn's proxy settings: X-Forwarded-For and -Proto believed from `[hub] trusted_proxies` alone (none: off)."""
    if not config.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": list(config.trusted_proxies)}


def _serve(config: HubConfig, host: str, port: int) -> int:
    import uvicorn

    from signage.district.hub.app import create_app
    from signage.district.hub.server import limits_of, raise_fd_limit, server_settings

    app = create_app(config)
    shown = f"[{host}]" if ":" in host else host
    log.info("hub for %d boards at http://%s:%d/ (config %s)", len(config.boards), shown, port, config.path)
    # Logging is the CLI's: uvicorn keeps to its own loggers and prints no access lines (33 reports a second).
    # Bounded connections (deadlines for headers and bodies, caps per address and in all), within the descriptors
    # this process may open: the unit asks for LimitNOFILE=65536, a shell's soft limit is raised towards it.
    limits = limits_of(config, fd_limit=raise_fd_limit(65536))
    uvicorn.run(
        app, host=host, port=port, log_config=None, access_log=False, server_header=False,
        **proxy_settings(config), **server_settings(limits),
    )  # fmt: skip
    return 0
