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

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from signage import __version__
from signage.errors import SignageError

if TYPE_CHECKING:
    from signage.config import BoardConfig

log = logging.getLogger("signage")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


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
    play.add_argument("--for", dest="for_seconds", type=_positive, metavar="SECONDS", help="stop cleanly after this long")
    play.add_argument("--screenshot-dir", type=Path, metavar="DIR", help="save frames as PNG here")
    play.add_argument("--screenshot-every", type=_positive, metavar="SECONDS", help="how often to save a frame")

    plan = commands.add_parser("plan", help="what the board will show, computed by the player's own engine")
    plan.add_argument("--config", type=Path, help="the board's TOML config (default: the demo board)")
    plan.add_argument("--from", dest="start", type=_moment, metavar="ISO-8601", help="start of the timeline (default now)")
    plan.add_argument("--hours", type=_positive, default=24.0, help="how far ahead (default 24)")
    plan.add_argument("--json", action="store_true", help="one JSON document: the list of {start, end, bulletin}")

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
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="signage: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # its start and stop lines are noise on a kiosk
    if args.command == "play" and bool(args.screenshot_dir) != bool(args.screenshot_every):
        parser.error("--screenshot-dir and --screenshot-every go together")
    try:
        if args.command == "play":
            return _play(args)
        if args.command == "render":
            return _render(args)
        if args.command == "plan":
            return _plan(args)
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


def _play(args: argparse.Namespace) -> int:
    from signage.player import Player, SystemClock
    from signage.render.output import DisplayOutput, HeadlessOutput

    config = _config(args.config)
    output = HeadlessOutput(config.display) if args.headless else DisplayOutput(config.display, windowed=args.windowed)
    try:
        player = Player(
            config,
            output,
            SystemClock(config.board.timezone),
            screenshot_dir=args.screenshot_dir,
            screenshot_every=args.screenshot_every,
        )
        player.install_signal_handlers()
        player.run(args.for_seconds)
    finally:
        output.close()
    return 0


def _plan(args: argparse.Namespace) -> int:
    import json

    from signage.engine import plan
    from signage.planview import entries_json, table
    from signage.player import load_content, rules_of

    if args.hours > 24 * 31:
        raise SignageError(f"--hours: at most {24 * 31} (a month), got {args.hours:g}")
    config = _config(args.config)
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


def _render(args: argparse.Namespace) -> int:
    from signage.config import parse_size
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
    render_frame(config, args.source, args.out, size=size or (1920, 1080), at=at.astimezone(config.board.timezone))
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
