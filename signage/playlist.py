"""Local playlists: bulletins written by hand in TOML, media as paths beside the file."""

from __future__ import annotations

import hashlib
import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signage.errors import BulletinError, MediaError
from signage.limits import parse_problem
from signage.media.sniff import EXTENSION_TYPES, sniff_file
from signage.model import BulletinInput, Kind, Playable, Source, parse_bulletin

log = logging.getLogger(__name__)


@dataclass
class Loaded:
    playables: list[Playable] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one line each, already logged


def describe_media(path: Path) -> dict[str, Any]:
    """The feed-v1 `media` object of a local file: its SHA-256, size and sniffed type."""
    try:
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        raise MediaError(f"{path}: media file not found") from None
    except OSError as exc:
        raise MediaError(f"{path}: cannot read media: {exc.strerror}") from None
    if size == 0:
        raise MediaError(f"{path}: media file is empty")
    sniffed = sniff_file(path)
    by_name = EXTENSION_TYPES.get(path.suffix.lower())
    if sniffed is None:
        raise MediaError(f"{path}: not a supported media file (JPEG, PNG, WebP, MP4, WebM, PDF)")
    if by_name is not None and by_name != sniffed:
        raise MediaError(f"{path}: named {path.suffix} but the bytes are {sniffed}")
    return {"sha256": digest.hexdigest(), "bytes": size, "type": sniffed}


def load_playlist(path: Path) -> Loaded:
    """Every valid bulletin of one playlist file; each bad one is logged in one line and skipped."""
    loaded = Loaded()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        _fail(loaded, f"{path}: playlist not found")
        return loaded
    except (OSError, UnicodeDecodeError) as exc:
        _fail(loaded, f"{path}: cannot read playlist: {exc}")
        return loaded
    except ValueError as exc:  # TOMLDecodeError, or a number of thousands of digits
        _fail(loaded, f"{path}: cannot read playlist: {parse_problem(exc)}")
        return loaded
    unknown = sorted(set(data) - {"bulletins"})
    if unknown:
        _fail(loaded, f"{path}: {unknown[0]}: unknown key (a playlist holds [[bulletins]] tables)")
    entries = data.get("bulletins", [])
    if not isinstance(entries, list):
        _fail(loaded, f"{path}: bulletins: expected [[bulletins]] tables")
        return loaded
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        try:
            playable = playable_from_table(path, index, entry)
        except (BulletinError, MediaError) as exc:
            _fail(loaded, str(exc))
            continue
        if playable.bulletin.id in seen:
            _fail(loaded, f"{path}: bulletin {playable.bulletin.id!r}: id used twice; the second is skipped")
            continue
        seen.add(playable.bulletin.id)
        loaded.playables.append(playable)
    return loaded


def playable_from_table(path: Path, index: int, entry: Any) -> Playable:
    """One hand-written bulletin (a TOML table, `media` a path beside `path`), its media described and probed."""
    if not isinstance(entry, dict):
        raise BulletinError(f"{path}: bulletins[{index}]: expected a table")
    data = dict(entry)
    media_path = None
    if "media" in data:
        if not isinstance(data["media"], str):
            raise BulletinError(f"{path}: bulletin {data.get('id')!r}: media: expected a path to a file")
        media_path = (path.parent / data["media"]).resolve()
        data["media"] = describe_media(media_path)
    spec = BulletinInput(origin=str(path), source=Source.PLAYLIST, strict=True)
    bulletin = parse_bulletin(data, spec)
    if bulletin.media is None or media_path is None or bulletin.kind is Kind.IMAGE:
        return Playable(bulletin, media_path)  # an image is decoded when its slide is composed
    from signage.media.probe import probe  # PyAV and PDFium load only for playlists that need them

    found = probe(media_path, bulletin.media.type)  # its length or pages set the turn; a broken file never plays
    return Playable(bulletin, media_path, found.seconds, found.pages)


def load_playlists(paths: tuple[Path, ...]) -> Loaded:
    merged = Loaded()
    ids: set[str] = set()
    for path in paths:
        loaded = load_playlist(path)
        merged.errors += loaded.errors
        for playable in loaded.playables:
            if playable.bulletin.id in ids:
                _fail(merged, f"{path}: bulletin {playable.bulletin.id!r}: id already used by another playlist; skipped")
                continue
            ids.add(playable.bulletin.id)
            merged.playables.append(playable)
    return merged


def _fail(loaded: Loaded, message: str) -> None:
    log.error("%s", message)
    loaded.errors.append(message)
