"""The settings file beside a notice (`<name>.toml`, or Notepad's `<name>.toml.txt`): its names, its text, its fields (pure).

A clerk writes it in Notepad, which saves UTF-8 with or without a BOM, UTF-16 with a BOM ("Unicode"), or
the ANSI code page (Windows-1258 on a Vietnamese Windows), and often adds `.txt`. Dates are written
without a time and date-times without a zone: both are read in the board's zone.
"""

from __future__ import annotations

import codecs
import re
import tomllib
from collections.abc import Mapping
from datetime import date, datetime, time, tzinfo
from typing import Any

from signage.errors import BulletinError
from signage.limits import parse_problem
from signage.text import clean_text

SIDECAR_KEYS = frozenset({"title", "body", "priority", "valid_from", "valid_until", "slots", "duration_s"})
SIDECAR_MAX_BYTES = 64 * 1024  # a settings file is a few lines
SETTINGS_SUFFIXES = (".toml", ".toml.txt")  # Notepad adds `.txt` unless told "All files"
START_OF_DAY = time(0, 0, 0)
END_OF_DAY = time(23, 59, 59)
MOMENT_KEYS = {"valid_from": START_OF_DAY, "valid_until": END_OF_DAY}  # a date alone means its whole day

# Bytes no settings file holds: their presence means the file is not text in the encoding tried.
_STRAY_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
UNDECODABLE = "không đọc được chữ (không phải UTF-8, UTF-16 hay Windows-1258) / not UTF-8, UTF-16 or Windows-1258 text"


def is_settings_name(name: str) -> bool:
    """Whether `name` is a settings file (never a notice itself)."""
    return name.lower().endswith(SETTINGS_SUFFIXES)


def settings_names(name: str) -> tuple[str, ...]:
    """The names the settings of `name` may have, in the order they are looked for: `.toml` first, then Notepad's `.toml.txt`."""
    stem = name.rsplit(".", 1)[0]
    return tuple(f"{base}{suffix}" for suffix in SETTINGS_SUFFIXES for base in (name, stem))


def decode_settings(raw: bytes, origin: str) -> str:
    """The text of a settings file, NFC, invisible format characters dropped; `origin` names it in errors.

    A BOM decides (UTF-8 or UTF-16); without one UTF-8 is tried, then Windows-1258, whose tone marks
    arrive as combining characters that NFC folds into the letters.
    """
    if raw.startswith(codecs.BOM_UTF8):
        candidates = [("utf-8", raw[len(codecs.BOM_UTF8) :])]
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = [("utf-16", raw)]  # the codec reads the BOM for the byte order and drops it
    else:
        candidates = [("utf-8", raw), ("cp1258", raw)]
    for encoding, data in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _STRAY_CONTROL.search(text):
            break  # binary: another single-byte reading would only hide it
        return clean_text(text)[0]
    raise BulletinError(f"{origin}: {UNDECODABLE}")


def _moment(key: str, value: Any, zone: tzinfo, origin: str) -> Any:
    """A `valid_from`/`valid_until` as an ISO date-time with its offset; what is not a date is left for the bulletin parser."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
        except ValueError:
            return value  # refused by the bulletin parser, naming the key
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=zone)).isoformat()
    if isinstance(value, date):
        return datetime.combine(value, MOMENT_KEYS[key], tzinfo=zone).isoformat()
    if isinstance(value, time):
        raise BulletinError(f"{origin}: {key}: a time without a date ({value.isoformat()}): write a date, e.g. 2026-12-05")
    return value


def parse_settings(text: str, origin: str, zone: tzinfo) -> dict[str, Any]:
    """The bulletin fields a settings file sets; dates and zone-less date-times in `zone`. Raises BulletinError."""
    try:
        fields = tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError, or a number of thousands of digits
        raise BulletinError(f"{origin}: {parse_problem(exc)}") from None
    unknown = sorted(set(fields) - SIDECAR_KEYS)
    if unknown:
        raise BulletinError(f"{origin}: {unknown[0]}: unknown key (expected {', '.join(sorted(SIDECAR_KEYS))})")
    return {
        key: _moment(key, value, zone, origin) if key in MOMENT_KEYS else value.isoformat() if isinstance(value, datetime) else value
        for key, value in fields.items()
    }


def _shown(moment: datetime, zone: tzinfo | None) -> str:
    return moment.astimezone(zone).strftime("%d/%m/%Y %H:%M")


def expiry_problem(fields: Mapping[str, Any], now: datetime) -> str | None:
    """Why a notice with these settings would never play because its end is past (None if it is not), naming its dates."""
    try:
        until = datetime.fromisoformat(fields["valid_until"])
    except (KeyError, TypeError, ValueError):
        return None
    if until.tzinfo is None or until >= now:
        return None
    try:
        since = datetime.fromisoformat(fields["valid_from"])
    except (KeyError, TypeError, ValueError):
        since = None
    end = _shown(until, now.tzinfo)
    if since is not None and since.tzinfo is not None:
        start = _shown(since, now.tzinfo)
        return f"đã hết hạn: hiệu lực từ {start} đến {end} / expired: valid from {start} until {end}"
    return f"đã hết hạn: hiệu lực đến {end} / expired: valid until {end}"
