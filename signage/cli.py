"""The `signage` command line: argument parsing, logging, and the one place errors become exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from signage import __version__
from signage.errors import BulletinError, FeedRejected, MediaError, SignageError
from signage.model import Action
from signage.vi import problem_vi

if TYPE_CHECKING:
    from signage.config import BoardConfig

log = logging.getLogger("signage")
DISTRICT_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")  # the district tools write times in Vietnam's zone
HEADLESS_SECONDS = 30.0
HEADLESS_SCREENSHOT_DIR = "screenshots"
HEADLESS_SCREENSHOT_EVERY = 5.0


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def _seconds(text: str) -> float:
    """`--for`: seconds, or 0 for until stopped."""
    if text.strip() == "0":
        return 0.0
    return _positive(text)


def _moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date-time: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="signage", description="Commune bulletin-board player and district tools.")
    parser.add_argument("--version", action="version", version=f"signage {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    play = commands.add_parser("play", help="play bulletins on the screen (the bundled demo without --config)")
    play.add_argument("--config", type=Path, help="the board's TOML config")
    mode = play.add_mutually_exclusive_group()
    mode.add_argument("--headless", action="store_true", help="render offscreen, no display needed")
    mode.add_argument("--windowed", action="store_true", help="in a window instead of fullscreen")
    play.add_argument(
        "--for",
        dest="for_seconds",
        type=_seconds,
        metavar="SECONDS",
        help=f"stop cleanly after this long (0: until stopped; --headless alone: {HEADLESS_SECONDS:g})",
    )
    play.add_argument("--screenshot-dir", type=Path, metavar="DIR", help="save frames as PNG here")
    play.add_argument(
        "--screenshot-every",
        type=_positive,
        metavar="SECONDS",
        help=f"how often to save a frame (--headless alone: every {HEADLESS_SCREENSHOT_EVERY:g} s into {HEADLESS_SCREENSHOT_DIR}/)",
    )
    play.add_argument(
        "--no-screenshots", action="store_true", help="save no frame, not even --headless's default (benchmarks measure the player alone)"
    )

    plan = commands.add_parser("plan", help="what the board will show, computed by the player's own engine")
    plan.add_argument("--config", type=Path, help="the board's TOML config (default: the demo board)")
    plan.add_argument("--from", dest="start", type=_moment, metavar="ISO-8601", help="start of the timeline (default now)")
    plan.add_argument("--hours", type=_positive, default=24.0, help="how far ahead (default 24)")
    plan.add_argument("--json", action="store_true", help="one JSON document: the list of {start, end, bulletin}")

    sync = commands.add_parser("sync", help="pull the district feed now: verify, store, download media")
    sync.add_argument("--config", type=Path, required=True, help="the board's TOML config")

    status = commands.add_parser("status", help="what the board holds")
    status.add_argument("--config", type=Path, required=True, help="the board's TOML config")
    status.add_argument("--json", action="store_true", help="one JSON document")

    take = commands.add_parser("import", help="take the files under PATH into the drop folder (a USB stick's BANGTIN/)")
    take.add_argument("path", type=Path, metavar="PATH", help="a folder")
    take.add_argument("--config", type=Path, required=True, help="the board's TOML config")

    doctor = commands.add_parser("doctor", help="one screen of health: clock, disk, cache, feed, display, last errors")
    doctor.add_argument("--config", type=Path, help="the board's TOML config (default: the demo board)")

    keygen = commands.add_parser("keygen", help="a new Ed25519 key (district or board); prints its public key")
    keygen.add_argument("--out", type=Path, required=True, metavar="FILE", help="where to write the private key (mode 0600)")

    join = commands.add_parser("join", help="ask a hub to take this board: its key made if missing, the config's [report] and [feed]")
    join.add_argument("--hub", required=True, metavar="URL", help="the hub's address, e.g. https://hub.example/")
    join.add_argument("--config", type=Path, help="the board's TOML config: its id, name and key; the lines it lacks are added to it")
    join.add_argument("--id", help="the board's id (default: the config's)")
    join.add_argument("--name", help="the board's name, e.g. \"UBND xã Tân Quan\" (default: the config's)")
    join.add_argument(
        "--key",
        type=Path,
        metavar="FILE",
        help="the board's key, made (0600) if missing (default: report.key, else board.key in the data folder)",
    )
    join.add_argument("--print-config", action="store_true", help="write no file: only the lines the config lacks on standard output")

    publish = commands.add_parser("publish", help="build the signed static feed from a folder of <id>.toml bulletins")
    publish.add_argument("src", type=Path, help="folder of <id>.toml bulletins and their media")
    publish.add_argument("--key", type=Path, required=True, help="the district's private key")
    publish.add_argument("--out", type=Path, required=True, metavar="SITE", help="the folder a web server serves")
    publish.add_argument("--publisher", default="hon-quan", help="the publisher id boards may pin (default hon-quan)")
    publish.add_argument("--expires-in", default="7d", metavar="DURATION", help="how long the feed stays fresh: 7d, 36h, 90m (default 7d)")
    publish.add_argument(
        "--command",
        action="append",
        default=[],
        dest="commands",
        choices=[a.value for a in Action],
        metavar="ACTION",
        help="also send a command: " + ", ".join(a.value for a in Action) + " (repeatable)",
    )
    publish.add_argument("--boards", default="*", metavar="ID,ID", help="the boards the commands are for (default: every board, *)")
    publish.add_argument("--command-expires-in", default="1h", metavar="DURATION", help="how long a command may still run (default 1h)")

    verify = commands.add_parser("verify", help="check a published feed as a board would")
    verify.add_argument("site", metavar="SITE-OR-URL", help="the published folder, or its URL")
    verify.add_argument("--public-key", action="append", required=True, dest="public_keys", help="ed25519:… or a file holding it")
    verify.add_argument("--threshold", type=int, default=1, help="distinct keys that must sign (default 1)")

    hub = commands.add_parser("hub", help="the district's report hub and dashboard (a web app)")
    _hub_arguments(hub)

    render = commands.add_parser("render", help="render one full frame to a PNG")
    render.add_argument("source", help="a bulletin id, a bulletin .toml file, or a .txt or image file")
    render.add_argument("--out", type=Path, required=True, metavar="PNG")
    render.add_argument("--size", help="WIDTHxHEIGHT of the frame (default: the config's, else 1920x1080)")
    render.add_argument("--at", type=_moment, metavar="ISO-8601", help="the time the header shows (default now)")
    render.add_argument("--config", type=Path, help="the board's TOML config (default: the demo board)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # The player logs what it does (journald keeps it); a one-shot command says only what went wrong.
    quiet = logging.INFO if args.command == "play" else logging.WARNING
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else quiet,
        format="signage: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # its start and stop lines are noise on a kiosk
    if args.command == "play" and bool(args.screenshot_dir) != bool(args.screenshot_every):
        parser.error("--screenshot-dir and --screenshot-every go together")
    if args.command == "play" and args.no_screenshots and args.screenshot_dir:
        parser.error("--no-screenshots and --screenshot-dir contradict each other")
    try:
        if args.command == "play":
            return _play(args)
        if args.command == "render":
            return _render(args)
        if args.command == "plan":
            return _plan(args)
        handlers = {
            "sync": _sync,
            "status": _status,
            "import": _import,
            "keygen": _keygen,
            "join": _join,
            "publish": _publish,
            "verify": _verify,
            "doctor": _doctor,
            "hub": _hub,
        }
        if args.command in handlers:
            return handlers[args.command](args)
    except SignageError as exc:
        print(f"signage: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {args.command}")
    return 2


def _config(path: Path | None) -> BoardConfig:
    from signage.config import BoardConfig, load_config

    return load_config(path) if path else BoardConfig.demo()


def _board_config(path: Path | None) -> BoardConfig:
    """The config, for a command that opens the board's store; run as root, it acts as the data folder's owner.

    On an installed kiosk the player (user `signage`) owns its data folder. A board.db, -wal, -shm or
    media file made by root (`sudo signage plan`, a technician's `status`) would lock the player out
    of its own store; SQLite makes -wal and -shm even to read. So root takes the owner's identity
    before anything is opened (the effective ids: a one-shot command, not the player).
    """
    config = _config(path)
    if os.geteuid() != 0:
        return config
    try:
        owner = config.board.data_dir.stat()
    except OSError:
        return config  # not made yet: nothing of the player's to protect
    if owner.st_uid != 0:
        os.setgroups([owner.st_gid])
        os.setegid(owner.st_gid)
        os.seteuid(owner.st_uid)
        log.debug("acting as uid %d, gid %d: the owner of %s", owner.st_uid, owner.st_gid, config.board.data_dir)
    return config


def _play(args: argparse.Namespace) -> int:
    from signage.kiosk.heap import Heap
    from signage.kiosk.power import ScreenPower
    from signage.player import Player, SystemClock
    from signage.render.output import DisplayOutput, HeadlessOutput

    config = _config(args.config)
    heap = Heap.of_process()
    heap.limit_arenas()  # before SDL, the composer or any job starts a thread
    if args.headless:
        # Offscreen, a newcomer sees nothing unless frames are saved: by default half a minute, a frame every 5 s.
        if args.for_seconds is None:
            args.for_seconds = HEADLESS_SECONDS
        if args.screenshot_dir is None and not args.no_screenshots:
            args.screenshot_dir, args.screenshot_every = Path(HEADLESS_SCREENSHOT_DIR), HEADLESS_SCREENSHOT_EVERY
        log.info(
            "playing offscreen %s; %s",
            f"for {args.for_seconds:g} s" if args.for_seconds else "until stopped",
            f"a frame every {args.screenshot_every:g} s into {args.screenshot_dir}/" if args.screenshot_dir else "no frame saved",
        )
    output = HeadlessOutput(config.display) if args.headless else DisplayOutput(config.display, windowed=args.windowed)
    try:
        player = Player(
            config,
            output,
            SystemClock(config.board.timezone),
            screenshot_dir=args.screenshot_dir,
            screenshot_every=args.screenshot_every,
            power=None if args.headless else ScreenPower(),
            heap=heap,
        )
        player.install_signal_handlers()
        player.run(args.for_seconds or None)
    finally:
        output.close()
    return 0


def _plan(args: argparse.Namespace) -> int:
    import json

    from signage.content import load_content
    from signage.engine import plan
    from signage.planview import entries_json, table
    from signage.player import rules_of

    if args.hours > 24 * 31:
        raise SignageError(f"--hours: at most {24 * 31} (a month), got {args.hours:g}")
    config = _board_config(args.config)
    zone = config.board.timezone
    start = args.start or datetime.now(zone)
    if start.tzinfo is None:
        start = start.replace(tzinfo=zone)
    entries = plan(rules_of(config), load_content(config), start, args.hours)
    if args.json:
        json.dump(entries_json(entries), sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(table(entries))
    return 0


def _sync(args: argparse.Namespace) -> int:
    from signage.feed.http import Fetcher
    from signage.feed.sync import open_store, sync

    config = _board_config(args.config)
    store, files = open_store(config)
    fetcher = Fetcher()
    try:
        result = sync(config, store, files, fetcher, lambda: datetime.now(config.board.timezone))
    finally:
        fetcher.close()
        store.close()
    for line in result.lines():
        print(line)
    if not result.ok:
        print(f"signage: error: {result.errors[0]}", file=sys.stderr)
        return 1
    return 0


def _status(args: argparse.Namespace) -> int:
    import json

    from signage.status import board_status, status_lines

    config = _board_config(args.config)
    status = board_status(config, datetime.now(config.board.timezone))
    if args.json:
        json.dump(status, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        print("\n".join(status_lines(status)))
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from signage.kiosk.doctor import Level, health

    config = _board_config(args.config)
    checks = health(config, datetime.now(config.board.timezone), environ=os.environ)
    for check in checks:
        print(check.line())
    bad = [check for check in checks if check.level is Level.BAD]
    if bad:
        print(f"signage: error: {bad[0].name}: {bad[0].text}", file=sys.stderr)
        return 1
    return 0


def _import(args: argparse.Namespace) -> int:
    from signage.inbox.importer import import_folder

    for line in import_folder(_board_config(args.config), args.path):
        print(line)
    return 0


def _keygen(args: argparse.Namespace) -> int:
    from signage.envelope import generate_key, public_key_text, public_raw

    key = generate_key(args.out)
    print(public_key_text(public_raw(key)))
    return 0


def _join(args: argparse.Namespace) -> int:
    """`signage join`: what the technician reads is Vietnamese; the config lines are TOML."""
    import requests

    from signage.config import parse_config
    from signage.envelope import key_id, public_key_text, public_raw
    from signage.errors import ConfigError, FetchError
    from signage.feed.http import Fetcher
    from signage.kiosk import join
    from signage.text import printable

    told = sys.stderr if args.print_config else sys.stdout
    config = _board_config(args.config) if args.config else None  # as root: the data folder's owner makes the key
    if config is not None and args.id and args.id != config.board.id:
        raise ConfigError(f"--id {args.id}: khác mã bảng trong {config.path} ({config.board.id})")
    board_id = args.id or (config.board.id if config else "")
    name = (args.name or (config.board.name if config else "")).strip()
    if not board_id or not name:
        raise ConfigError('cần --config, hoặc cả --id và --name (ví dụ --id tan-quan --name "UBND xã Tân Quan")')
    # The id and name checked as a config would check them; without a config, its default data folder holds the key.
    board = config.board if config else parse_config({"board": {"id": board_id, "name": name}}, Path("board.toml").absolute()).board
    key_path = (args.key or (config.report.key if config and config.report else board.data_dir / "board.key")).absolute()
    hub = join.hub_of(args.hub)
    key, made = join.board_key(key_path)
    keyid = key_id(public_raw(key))
    feed_public, feed_problem = None, ""
    session = requests.Session()
    try:
        answer = join.ask(session, hub, join.join_envelope(key, board_id, name, datetime.now().astimezone()))
        fetcher = Fetcher(session=session)
        try:
            fetched = fetcher.get_feed(hub.feed_key_url, etag=None, last_modified=None, max_bytes=join.MAX_KEY_FILE_BYTES, deadline_s=30)
            feed_public = join.feed_key(fetched.body or b"", hub.feed_key_url)
        except FetchError as exc:
            feed_problem = str(exc)
    finally:
        session.close()

    print(f"Bảng {board_id}: {printable(name)}", file=told)
    if made:
        print(f"Đã tạo khóa của bảng: {key_path}", file=told)
    print(f"Dấu vân tay khóa của bảng: {join.fingerprint(keyid)}", file=told)
    if answer.accepted:
        print(f"Hệ thống {hub.base} đã chấp nhận bảng này.", file=told)
    else:
        print(f"Đã gửi yêu cầu tham gia tới {hub.base}.", file=told)
        print("Chờ quản trị viên chấp nhận trên trang của hệ thống (đối chiếu dấu vân tay ở trên).", file=told)
    if feed_public is not None:
        print(f"Khóa nguồn tin của hệ thống: {public_key_text(feed_public)}", file=told)
        print(f"Dấu vân tay khóa nguồn tin: {join.fingerprint(key_id(feed_public))} (đối chiếu với trang của hệ thống)", file=told)
    else:
        print(f"Chưa lấy được khóa nguồn tin của hệ thống ({feed_problem}): chưa có mục [feed]; chạy lại lệnh này sau.", file=told)

    wanted = join.sections(hub, board_id, key_path, feed_public)
    if config is None:
        print("Thêm các dòng sau vào cấu hình của bảng:", file=told)
        print(wanted.text(), end="")
        return 0
    text, added, differing = join.merged(config.path.read_text(encoding="utf-8"), config.path, wanted)
    missing = "\n".join(section for name, section in wanted.items() if name in added)
    if args.print_config:  # what the config lacks, for install.sh to add as root
        print(missing, end="")
    elif added and not join.writable(config.path):
        print(f"Không ghi được vào {config.path} (cần quyền sửa tệp này); thêm các dòng sau:", file=told)
        print(missing, end="")
    elif added:
        join.write_config(config.path, text)
        print(f"Đã ghi vào {config.path}: " + ", ".join(f"[{name}]" for name in added), file=told)
    for name in differing:
        print(f"Mục [{name}] trong {config.path} đã có và khác; không ghi đè. Để dùng hệ thống này, sửa thành:", file=told)
        print(dict(wanted.items())[name], end="", file=told)
    return 0


def _publish(args: argparse.Namespace) -> int:
    from signage.district.publish import parse_duration, publish

    try:
        expires_in = parse_duration(args.expires_in)
    except ValueError as exc:
        raise SignageError(f"--expires-in: {exc}") from None
    try:
        command_expires = parse_duration(args.command_expires_in)
    except ValueError as exc:
        raise SignageError(f"--command-expires-in: {exc}") from None
    boards = [board.strip() for board in args.boards.split(",") if board.strip()]
    try:
        published = publish(
            args.src,
            args.key,
            args.out,
            publisher=args.publisher,
            expires_in=expires_in,
            now=datetime.now(DISTRICT_ZONE),
            new_commands=[(action, boards, command_expires) for action in args.commands],
        )
    except (BulletinError, MediaError, FeedRejected) as exc:
        # The officer who publishes reads it: the file, then what is wrong in Vietnamese (the board's words kept).
        where, _, problem = str(exc).partition(": ")
        raise SignageError(f"{where}: không xuất bản được: {problem_vi(problem or where)}") from None
    commands = f"; lệnh {', '.join(published.commands)}" if published.commands else ""
    print(
        f"{published.feed_path}: đã xuất bản số {published.sequence}: {published.bulletins} bản tin, "
        f"{published.assets_written} tệp mới{commands}"
    )
    return 0


def _hub_arguments(parser: argparse.ArgumentParser) -> None:
    """Declared here, not imported: the hub's web stack loads only when `signage hub` runs."""
    parser.add_argument("--config", type=Path, default=Path("hub.toml"), metavar="FILE", help="the hub's TOML config (default hub.toml)")
    officers = parser.add_mutually_exclusive_group()
    officers.add_argument(
        "--add-user", metavar="NAME", help="add an officer, or set their password and end their sessions (read from standard input)"
    )
    officers.add_argument("--remove-user", metavar="NAME", help="remove an officer and end their sessions")
    parser.add_argument("--full-name", metavar="NAME", help="with --add-user: the officer's full name, shown on the pages (Nguyễn Văn A)")
    parser.add_argument("--listen", metavar="HOST:PORT", help="overrides hub.listen")


def _hub(args: argparse.Namespace) -> int:
    try:
        from signage.district.hub.cli import run
    except ImportError as exc:
        raise SignageError(f"signage hub: the hub's packages are not installed ({exc.name}); pip install 'signage[hub]'") from None
    return run(args)


def _verify(args: argparse.Namespace) -> int:
    from signage.district.verify import verify_site

    keys = []
    for value in args.public_keys:
        path = Path(value)
        keys.append(path.read_text(encoding="utf-8").strip() if not value.startswith("ed25519:") and path.is_file() else value)
    report = verify_site(args.site, keys, threshold=args.threshold, now=datetime.now(DISTRICT_ZONE))
    print("\n".join(report.lines()))
    return 0 if not report.problems else 1


def _render(args: argparse.Namespace) -> int:
    import shutil
    import tempfile

    from signage.config import parse_size
    from signage.media.office import is_office, to_pdf
    from signage.render.single import render_frame

    config = _config(args.config)
    size = config.display.size
    if args.size:
        try:
            size = parse_size(args.size)
        except ValueError as exc:
            raise SignageError(f"--size: {exc}") from None
    at = args.at or datetime.now(config.board.timezone)
    if at.tzinfo is None:
        at = at.replace(tzinfo=config.board.timezone)
    source = Path(args.source)
    if is_office(source.name) and source.is_file():  # shown as the board would: LibreOffice's PDF of it, titled by its name
        with tempfile.TemporaryDirectory(prefix="signage-render-") as work:
            shown = Path(work) / f"{source.stem}.pdf"
            shutil.copyfile(to_pdf(source, Path(work) / "converted"), shown)
            render_frame(config, str(shown), args.out, size=size or (1920, 1080), at=at.astimezone(config.board.timezone))
    else:
        render_frame(config, args.source, args.out, size=size or (1920, 1080), at=at.astimezone(config.board.timezone))
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
